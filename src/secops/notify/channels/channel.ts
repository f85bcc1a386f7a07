/** What every notification channel implements: send one rendered notice to one contact. */
import type { ChannelKind, Contact, Notice, RenderedNotice } from '../types.js';

/** One message to deliver: the notice (shared id and timestamp), its text for the contact, the contact. */
export interface NoticeMessage {
  readonly notice: Notice;
  readonly rendered: RenderedNotice;
  readonly contact: Contact;
  /** Stable across retries of this delivery, so a receiver can drop a duplicate. */
  readonly deliveryId: string;
  /** The delivery's row id in the store. */
  readonly delivery: number;
}

/**
 * What `send` resolves to: nothing when the peer has the message; 'awaiting' when it was handed
 * to a queue the recipient fetches from (a gateway), whose acknowledgement completes the delivery.
 */
export type SendOutcome = void | 'awaiting';

/**
 * A way to reach contacts. `send` resolves when the peer accepted the message and throws (an
 * error whose message names the peer and what failed, never a secret) when it did not.
 */
export interface NoticeChannel {
  readonly kind: ChannelKind;
  /** The contact's address on this channel (recorded with the delivery), or undefined. */
  address(contact: Contact): string | undefined;
  send(message: NoticeMessage): Promise<SendOutcome>;
  close?(): Promise<void> | void;
}
