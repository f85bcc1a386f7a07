/** What every notification channel implements: send one rendered notice to one contact. */
import type { ChannelKind, Contact, Notice, RenderedNotice } from '../types.js';

/** One message to deliver: the notice (shared id and timestamp), its text for the contact, the contact. */
export interface NoticeMessage {
  readonly notice: Notice;
  readonly rendered: RenderedNotice;
  readonly contact: Contact;
  /** Stable across retries of this delivery, so a receiver can drop a duplicate. */
  readonly deliveryId: string;
}

/**
 * A way to reach contacts. `send` resolves when the peer accepted the message and throws (an
 * error whose message names the peer and what failed, never a secret) when it did not.
 */
export interface NoticeChannel {
  readonly kind: ChannelKind;
  /** The contact's address on this channel (recorded with the delivery), or undefined. */
  address(contact: Contact): string | undefined;
  send(message: NoticeMessage): Promise<void>;
  close?(): Promise<void> | void;
}
