/**
 * One action tells every recipient at once (ERAB guideline §3.2 勧告): `notifyAll` issues a
 * notice with ONE timestamp, writes one delivery per (recipient, channel) in the same
 * transaction, then sends them all concurrently. Every attempt is recorded in the delivery
 * table and the audit log; a failed delivery is retried with exponential backoff by
 * `retryDue` (or the loop of `start`) — from the table, so a restart loses nothing — and stays
 * pending (`deliveries({ pending: true })`) until it is delivered.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import type { AuditActor, AuditSink } from '../../core/audit-port.js';
import { nullAudit } from '../../core/audit-port.js';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { describeError, InvalidInputError } from '../../core/errors.js';
import type { EpochMillis } from '../../core/units.js';
import type { Store } from '../../store/store.js';
import { fromJsonText, toEpochMillis, toNumber } from '../../store/schema.js';
import type { NoticeChannel } from './channels/channel.js';
import { isSealed, type PersonalDataVault, vaultFromEnvironment } from '../../store/vault.js';
import { contactSubject, ContactRegistry } from './contacts.js';
import type { NotifyTables } from './tables.js';
import { checkNoticeData, noticeFor, renderNotice } from './templates.js';
import type { ChannelKind, Contact, Delivery, DeliveryStatus, Notice, NoticeInput } from './types.js';

/** Retry schedule: attempt n (1-based) failed → next one after min(maxMs, baseMs·2^(n−1)). */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export interface NotifierOptions {
  /** The channels this participant has configured; a contact's other channels stay pending. */
  channels: readonly NoticeChannel[];
  audit?: AuditSink;
  clock?: Clock;
  /** Default 30 s doubling up to 1 h. */
  backoff?: Backoff;
  /** How long an attempt holds its delivery against a second sender; default 2 min. */
  leaseMs?: number;
  /** Period of the retry loop (`start`); default 5 s. */
  pollMs?: number;
  /**
   * Deliveries in flight at once; default 64. Every delivery carries the notice's one timestamp
   * whatever its turn; the limit only keeps thousands of recipients from opening thousands of
   * SMTP and HTTPS connections in the same millisecond.
   */
  concurrency?: number;
  /**
   * Seals the delivery addresses (and the contacts read back) under each contact's subject key;
   * default the vault of ERAB_PRIVACY_KEK_FILE, `null` for none (clear).
   */
  vault?: PersonalDataVault | null;
}

/** What `notifyAll` did. */
export interface NotifyResult {
  readonly notice: Notice;
  /** Every delivery after its first attempt. */
  readonly deliveries: readonly Delivery[];
}

const SYSTEM: AuditActor = { kind: 'system', id: 'notify' };
const dataSchema = z.record(z.string(), z.unknown());

type DeliveryRow = Selectable<NotifyTables['notify_delivery']>;

/**
 * @example
 * const notifier = new Notifier(store, { channels: [new SmtpChannel(smtp), new WebhookChannel({ caPem })], audit });
 * const recipients = await new ContactRegistry(store).list({ siteId: 'S1' });
 * const { notice, deliveries } = await notifier.notifyAll({ template: 'vulnerability', data }, recipients, operatorActor);
 * notifier.start(); // retries failed deliveries until they are delivered
 */
export class Notifier {
  private readonly db: Kysely<NotifyTables>;
  private readonly channels: Map<ChannelKind, NoticeChannel>;
  private readonly audit: AuditSink;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly contacts: ContactRegistry;
  private readonly vault: PersonalDataVault | undefined;
  private timer: TimerHandle | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, options: NotifierOptions) {
    this.db = store.db as Kysely<NotifyTables>;
    this.channels = new Map(options.channels.map((c) => [c.kind, c]));
    this.audit = options.audit ?? nullAudit;
    this.clock = options.clock ?? systemClock;
    this.backoff = options.backoff ?? { baseMs: 30_000, maxMs: 3_600_000 };
    this.leaseMs = options.leaseMs ?? 120_000;
    this.pollMs = options.pollMs ?? 5_000;
    this.concurrency = options.concurrency ?? 64;
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1) throw new InvalidInputError(`notifier concurrency must be a positive integer, got ${this.concurrency}`);
    this.vault = options.vault === undefined ? vaultFromEnvironment() : options.vault ?? undefined;
    this.contacts = new ContactRegistry(store, { clock: this.clock, vault: this.vault ?? null });
  }

  /**
   * Issues `input` to every recipient at the same moment, on each of their channels.
   * @throws InvalidInputError when the data does not fit the template or there is no recipient
   */
  async notifyAll(input: NoticeInput, recipients: readonly Contact[], actor: AuditActor = SYSTEM): Promise<NotifyResult> {
    checkNoticeData(input.template, input.data);
    const unique = [...new Map(recipients.map((r) => [r.id, r])).values()];
    if (unique.length === 0) throw new InvalidInputError(`notice "${input.template}": no recipients`);
    const notice: Notice = { ...input, id: `N-${randomUUID()}`, issuedAt: this.clock.now() };
    for (const r of unique) renderNotice(noticeFor(notice, r), r.language); // refuse before anything is written
    const planned = unique.flatMap((c) => deliveryChannels(c).map((kind) => ({ contact: c, kind, address: this.channels.get(kind)?.address(c) ?? addressOf(c, kind) })));
    const vault = this.vault;
    const rows = await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notify_notice')
        .values({ id: notice.id, template: notice.template, subject: notice.subject ?? null, data: JSON.stringify(notice.data), issued_at: notice.issuedAt })
        .execute();
      const stored = vault
        ? (await vault.sealMany(trx, planned.map((p) => ({ subject: contactSubject(p.contact.id), fields: { address: p.address } })))).map((f) => f.address!)
        : planned.map((p) => p.address);
      const values = planned.map((p, i) => ({
        notice_id: notice.id,
        contact_id: p.contact.id,
        channel: p.kind,
        address: stored[i]!,
        status: 'pending',
        last_attempt_at: null,
        // The issuer sends these itself, right after this transaction: not due for another
        // process's retry round (the running aggregator's, on the same store) until the issuer's
        // lease would have run out, i.e. only if the issuer died before sending them.
        next_attempt_at: notice.issuedAt + this.leaseMs,
        lease_until: null,
        delivered_at: null,
        last_error: null,
      }));
      return trx.insertInto('notify_delivery').values(values).returningAll().execute();
    });
    this.audit.append({
      actor, action: 'notify.notice', target: notice.id, outcome: 'success',
      details: { template: notice.template, subject: notice.subject ?? null, issuedAt: new Date(notice.issuedAt).toISOString(), recipients: unique.length, deliveries: rows.length },
    });
    const byId = new Map(unique.map((c) => [c.id, c]));
    // Fan out: every delivery starts now, none waits for another.
    // Each row with its address in clear, by (contact, channel) — unique per notice — not by row order.
    const clear = new Map(planned.map((p) => [`${p.contact.id}\0${p.kind}`, p.address]));
    const done = await inParallel(rows, this.concurrency, (r) => this.attempt({ ...r, address: clear.get(`${toNumber(r.contact_id)}\0${r.channel}`)! }, notice, byId.get(toNumber(r.contact_id))!));
    return { notice, deliveries: done };
  }

  /**
   * Attempts every pending delivery whose retry time has come (also those a crashed process
   * left leased); resolves to how many were delivered.
   */
  async retryDue(limit = 200): Promise<number> {
    const now = this.clock.now();
    const due = await this.db
      .selectFrom('notify_delivery')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    const notices = new Map<string, Notice | undefined>();
    for (const r of due) if (!notices.has(r.notice_id)) notices.set(r.notice_id, await this.notice(r.notice_id));
    const open = await openAddresses(this.db, due, this.vault);
    const results = await inParallel(open, this.concurrency, async (r) => this.attempt(r, notices.get(r.notice_id), await this.contacts.get(toNumber(r.contact_id))));
    return results.filter((d) => d.status === 'delivered').length;
  }

  /** Retries due deliveries every `pollMs` until `stop`. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.retryDue()
        .catch((err: unknown) => this.audit.append({ actor: SYSTEM, action: 'notify.retry', outcome: 'failure', reason: describeError(err) }))
        .finally(() => {
          if (!this.stopped) this.timer = this.clock.setTimeout(tick, this.pollMs);
        });
    };
    tick();
  }

  /** Stops the retry loop and waits for a running round. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  /** Closes the channels (SMTP connections). */
  async close(): Promise<void> {
    await this.stop();
    for (const c of this.channels.values()) await c.close?.();
  }

  /** A notice as issued. */
  async notice(id: string): Promise<Notice | undefined> {
    const r = await this.db.selectFrom('notify_notice').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) return undefined;
    return {
      id: r.id, template: r.template, subject: r.subject ?? undefined,
      data: fromJsonText(r.data, dataSchema, `notify_notice ${r.id} data`),
      issuedAt: toEpochMillis(r.issued_at, `notify_notice ${r.id}`),
    };
  }

  /** Deliveries, newest notice first; `pending` only those not yet delivered. */
  async deliveries(filter: { pending?: boolean; noticeId?: string } = {}): Promise<Delivery[]> {
    return listDeliveries(this.db, filter, this.vault);
  }

  /** `row` with its address opened (the caller's). */
  private async attempt(row: DeliveryRow, notice: Notice | undefined, contact: Contact | undefined): Promise<Delivery> {
    const id = toNumber(row.id, 'notify_delivery id');
    const now = this.clock.now();
    // Claim it: a second process (or a retry round overlapping a slow first attempt) skips it.
    const claimed = await this.db
      .updateTable('notify_delivery')
      .set({ lease_until: now + this.leaseMs })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) return toDelivery(row);
    const kind = row.channel as ChannelKind;
    const attempts = toNumber(row.attempts) + 1;
    let error: string | undefined;
    let cancel = false;
    let awaiting = false;
    try {
      if (!notice) throw new Error(`notice ${row.notice_id} is missing from the store`);
      if (!contact) {
        cancel = true;
        throw new Error(`contact ${row.contact_id} was removed`);
      }
      const channel = this.channels.get(kind);
      if (!channel) throw new Error(`no ${kind} channel is configured`);
      // Each recipient is sent only what concerns it (its own sites), under the one id and timestamp.
      const own = noticeFor(notice, contact);
      const outcome = await channel.send({ notice: own, contact, rendered: renderNotice(own, contact.language), deliveryId: `${notice.id}.${id}`, delivery: id });
      awaiting = outcome === 'awaiting';
    } catch (err) {
      // The record and the audit log refer to the contact; a channel's error may quote its address.
      error = withoutAddress(describeError(err), row.address).slice(0, 1000);
    }
    const at = this.clock.now();
    const status: DeliveryStatus = error === undefined && !awaiting ? 'delivered' : cancel ? 'cancelled' : 'pending';
    const next = status === 'pending' ? at + Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (attempts - 1)) : null;
    if (awaiting) error = undefined;
    const note = awaiting ? 'queued; waiting for the recipient to fetch it' : error;
    // `status = 'pending'`: the recipient's acknowledgement (gateway board) may have completed it meanwhile.
    await this.db
      .updateTable('notify_delivery')
      .set({
        status, attempts, last_attempt_at: at, next_attempt_at: next, lease_until: null,
        delivered_at: status === 'delivered' ? at : null, last_error: note ?? null,
      })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .execute();
    this.audit.append({
      actor: SYSTEM,
      action: 'notify.deliver',
      target: `contact:${row.contact_id}`,
      outcome: error === undefined ? 'success' : 'failure',
      ...(error !== undefined ? { reason: error } : {}),
      details: {
        noticeId: row.notice_id, delivery: id, channel: kind, attempt: attempts, ...(awaiting ? { state: 'queued' } : {}),
        issuedAt: notice ? new Date(notice.issuedAt).toISOString() : null,
        ...(next !== null ? { nextAttemptAt: new Date(next).toISOString() } : {}),
      },
    });
    return {
      ...toDelivery(row), status, attempts, lastAttemptAt: at as EpochMillis, nextAttemptAt: next as EpochMillis | null,
      deliveredAt: status === 'delivered' ? (at as EpochMillis) : null, lastError: note ?? null,
    };
  }
}

/** Deliveries in a store (the CLI reads them without channels). */
export async function listDeliveries(db: Kysely<NotifyTables>, filter: { pending?: boolean; noticeId?: string } = {}, vault?: PersonalDataVault): Promise<Delivery[]> {
  let q = db.selectFrom('notify_delivery').selectAll();
  if (filter.pending) q = q.where('status', '=', 'pending');
  if (filter.noticeId !== undefined) q = q.where('notice_id', '=', filter.noticeId);
  return (await openAddresses(db, await q.orderBy('id', 'desc').execute(), vault)).map(toDelivery);
}

/**
 * Delivery rows with their sealed addresses opened: "(erased)" once the contact was removed (its
 * key shredded), "(sealed)" without the key-encryption key — the rest of the record stays readable.
 */
async function openAddresses(db: Kysely<NotifyTables>, rows: DeliveryRow[], vault: PersonalDataVault | undefined): Promise<DeliveryRow[]> {
  if (!rows.some((r) => isSealed(r.address))) return rows;
  if (!vault) return rows.map((r) => (isSealed(r.address) ? { ...r, address: '(sealed)' } : r));
  const opened = await vault.openMany(db, rows.map((r) => ({ subject: contactSubject(r.contact_id), fields: { address: r.address } })));
  return rows.map((r, i) => ({ ...r, address: opened[i]!.address ?? '(erased)' }));
}

/** `text` with every occurrence of `address` replaced by a reference to it. */
function withoutAddress(text: string, address: string): string {
  return address.length >= 3 ? text.split(address).join('<address>') : text;
}

/** Maps `items` with at most `limit` calls of `fn` running at once; results in input order. */
async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The channels a contact is reached on, in a fixed order. */
function deliveryChannels(c: Contact): ChannelKind[] {
  const out: ChannelKind[] = [];
  if (c.channels.email) out.push('email');
  if (c.channels.webhook) out.push('webhook');
  if (c.channels.gatewayVenId) out.push('gateway');
  return out;
}

function addressOf(c: Contact, kind: ChannelKind): string {
  if (kind === 'email') return c.channels.email ?? '';
  if (kind === 'gateway') return c.channels.gatewayVenId ?? '';
  const u = new URL(c.channels.webhook?.url ?? 'https://invalid/');
  return `${u.origin}${u.pathname}`;
}

const optMillis = (v: number | null, what: string): EpochMillis | null => (v === null ? null : toEpochMillis(v, what));

function toDelivery(r: DeliveryRow): Delivery {
  const what = `notify_delivery ${r.id}`;
  return {
    id: toNumber(r.id, what),
    noticeId: r.notice_id,
    contactId: toNumber(r.contact_id, what),
    channel: r.channel as ChannelKind,
    address: r.address,
    status: r.status as DeliveryStatus,
    attempts: toNumber(r.attempts, what),
    lastAttemptAt: optMillis(r.last_attempt_at, what),
    nextAttemptAt: optMillis(r.next_attempt_at, what),
    deliveredAt: optMillis(r.delivered_at, what),
    lastError: r.last_error,
  };
}
