/**
 * The vocabulary of notification (ERAB guideline §3.2 勧告: every participant tells its users
 * about vulnerability countermeasures, all of them at once). A recipient is a person or system
 * of a participant or a site; a notice is rendered per recipient (language) and delivered on
 * each of the recipient's channels; every delivery is recorded and retried until it succeeds.
 */
import type { EpochMillis } from '../../core/units.js';

/** Who the recipient is to the notifying participant. */
export const RECIPIENT_ROLES = ['owner', 'operator', 'downstream-aggregator', 'security'] as const;
export type RecipientRole = (typeof RECIPIENT_ROLES)[number];

export const LANGUAGES = ['ja', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Channels a notice can travel on. */
export const CHANNEL_KINDS = ['email', 'webhook', 'gateway'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** A webhook endpoint and the shared secret its signature is made with (Standard Webhooks `whsec_...`). */
export interface WebhookAddress {
  readonly url: string;
  /** Secret: never logged, never shown in full by the CLI. */
  readonly secret: string;
}

/** How to reach one recipient; at least one channel. */
export interface ContactChannels {
  readonly email?: string | undefined;
  readonly webhook?: WebhookAddress | undefined;
  /** The venID of the site's gateway, for a notice its EMS shows (OpenADR side). */
  readonly gatewayVenId?: string | undefined;
}

/** What a contact is registered with. Participant id, site id, or both (a site of a participant). */
export interface ContactInput {
  readonly participantId: string;
  readonly siteId?: string | undefined;
  readonly name: string;
  readonly role: RecipientRole;
  readonly language: Language;
  readonly channels: ContactChannels;
}

/** A registered contact (a recipient). */
export interface Contact extends ContactInput {
  readonly id: number;
  readonly createdAt: EpochMillis;
}

/** What a notice says: a template name and its data; rendered per language at delivery. */
export interface NoticeInput {
  /** Template id, e.g. "vulnerability" (see ./templates.ts). */
  readonly template: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Stable key of what is notified (e.g. "JVNDB-2026-000123"); two notices of one key are two notices. */
  readonly subject?: string | undefined;
}

/** A notice as issued: one id and ONE timestamp shared by every delivery. */
export interface Notice extends NoticeInput {
  readonly id: string;
  readonly issuedAt: EpochMillis;
}

/** A rendered message for one recipient. */
export interface RenderedNotice {
  readonly language: Language;
  readonly subject: string;
  readonly text: string;
}

/** pending until delivered; cancelled when its contact was removed before it could be delivered. */
export type DeliveryStatus = 'pending' | 'delivered' | 'cancelled';

/** One (recipient, channel) delivery of one notice. */
export interface Delivery {
  readonly id: number;
  readonly noticeId: string;
  readonly contactId: number;
  readonly channel: ChannelKind;
  /** The address used (e-mail, webhook URL, venID); never a secret. */
  readonly address: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly lastAttemptAt: EpochMillis | null;
  readonly nextAttemptAt: EpochMillis | null;
  readonly deliveredAt: EpochMillis | null;
  readonly lastError: string | null;
}
