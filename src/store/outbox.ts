/**
 * A durable outbox: messages written to the store before they are sent, so a restart, a crash
 * or an unreachable peer loses none of them. Used by the OpenADR VEN (reports that must reach
 * the VTN) and by the gateway (telemetry buffered while the aggregator is unreachable).
 *
 * Semantics
 * - `enqueue(topic, payload, { dedupKey })` gives each message a sequence number that only ever
 *   grows (across restarts, and after everything was acknowledged). Within a topic, sequence
 *   order is commit order: enqueues of one topic are serialised (SQLite's write lock; on
 *   PostgreSQL a per-topic advisory lock), so a consumer's high-water mark never skips a late
 *   commit. A dedupKey already pending (or delivered and retained) is not enqueued twice.
 * - `lease(topic, n)` hands out the oldest available messages in sequence order and hides them
 *   for `leaseMs`; a sender that dies without `ack` sees them again when the lease expires
 *   (at-least-once). One sender per topic gives strict order.
 * - `ack(topic, seqs)` removes them (`onAck: 'delete'`) or marks them delivered and keeps
 *   their dedupKey for `deliveredRetentionMs` (`onAck: 'mark'`).
 * - Exactly-once *effect* comes from the receiving side: it records the sequence or dedupKey
 *   in the same transaction as its own effect (see ./inbox.ts).
 * - Bounded: at most `capacity` pending messages per topic; beyond that `overflow: 'reject'`
 *   throws OutboxFullError, `overflow: 'drop-oldest'` deletes the oldest (telemetry, where
 *   the newest values matter most) and reports how many were dropped.
 */
import { sql, type Generated, type Kysely, type Transaction } from 'kysely';
import type { z } from 'zod';
import { ErabError, IntegrityError, InvalidInputError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { EpochMillis } from '../core/units.js';
import type { Migration } from './migrations.js';
import { addIdColumn, columnType, fromJsonText, toEpochMillis, toNumber } from './schema.js';
import type { Store } from './store.js';
import type { StoreWake } from './wake.js';

export const OUTBOX_TABLE = 'erab_outbox';

/** Migrations of the outbox; compose them into any role that uses an Outbox. */
export const outboxMigrations: readonly Migration[] = [
  {
    name: '0001_store_outbox',
    async up(db, ctx) {
      await db.schema
        .createTable(OUTBOX_TABLE)
        .$call((t) => addIdColumn(t, 'seq', ctx.dialect))
        .addColumn('topic', 'text', (c) => c.notNull())
        .addColumn('dedup_key', 'text')
        .addColumn('payload', columnType.json) // null once delivered (mark mode)
        .addColumn('enqueued_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', columnType.epochMillis)
        .addColumn('delivered_at', columnType.epochMillis)
        .execute();
      // Pending messages of a topic in order: the lease and the capacity count use it.
      await db.schema.createIndex('erab_outbox_topic_seq').on(OUTBOX_TABLE).columns(['topic', 'delivered_at', 'seq']).execute();
      // NULL dedup keys never collide on either engine.
      await db.schema.createIndex('erab_outbox_dedup').on(OUTBOX_TABLE).columns(['topic', 'dedup_key']).unique().execute();
    },
    async down(db) {
      await db.schema.dropTable(OUTBOX_TABLE).execute();
    },
  },
];

interface OutboxRow {
  seq: number;
  topic: string;
  dedup_key: string | null;
  payload: string | null;
  enqueued_at: number;
  attempts: number;
  lease_owner: string | null;
  lease_until: number | null;
  delivered_at: number | null;
}
export type OutboxTables = {
  erab_outbox: Omit<OutboxRow, 'seq' | 'attempts'> & { seq: Generated<number>; attempts: Generated<number> };
};

/** One message handed to a sender. */
export interface OutboxEntry<T> {
  readonly seq: number;
  readonly topic: string;
  readonly dedupKey: string | null;
  readonly payload: T;
  readonly enqueuedAt: EpochMillis;
  /** How many times it was leased, this lease included. */
  readonly attempts: number;
}

export interface EnqueueResult {
  readonly seq: number;
  /** True when the dedupKey was already there: nothing new was written, `seq` is the existing one. */
  readonly duplicate: boolean;
  /** Messages dropped to make room (drop-oldest policy). */
  readonly dropped: number;
}

export interface OutboxOptions<T> {
  /** Validates payloads read back (a tampered or foreign row is an IntegrityError). */
  payloadSchema?: z.ZodType<T>;
  /** Pending messages allowed per topic. Default 100 000. */
  capacity?: number;
  /** What to do when a topic is full. Default 'reject'. */
  overflow?: 'reject' | 'drop-oldest';
  /** How long a leased message stays hidden from other leases. Default 30 s. */
  leaseMs?: number;
  /** 'delete' (default) removes acknowledged messages; 'mark' keeps them as delivered. */
  onAck?: 'delete' | 'mark';
  /** In 'mark' mode, delivered messages older than this are purged on ack. Default 7 days. */
  deliveredRetentionMs?: number;
  /** Largest payload accepted, bytes of JSON. Default 1 MiB. */
  maxPayloadBytes?: number;
  clock?: Clock;
}

/** The topic holds `capacity` pending messages and the policy is 'reject'. */
export class OutboxFullError extends ErabError {
  constructor(readonly topic: string, readonly capacity: number) {
    super('outbox_full', `outbox topic "${topic}" is full (${capacity} pending messages); message not queued`);
  }
}

type Db = Kysely<OutboxTables>;

const TOPIC_RULE = /^[\x21-\x7e]{1,200}$/;

/**
 * A durable, bounded, ordered outbox over a Store (either engine).
 * @example
 * const outbox = new Outbox(store, { capacity: 10_000, overflow: 'drop-oldest' });
 * await outbox.enqueue('telemetry', { w: 1200 });
 * for (const e of await outbox.lease('telemetry', 100)) { await send(e.payload); }
 * await outbox.ack('telemetry', entries.map((e) => e.seq));
 */
export class Outbox<T = unknown> {
  private readonly db: Db;
  private readonly dialect: Store['dialect'];
  private readonly capacity: number;
  private readonly overflow: 'reject' | 'drop-oldest';
  private readonly leaseMs: number;
  private readonly onAck: 'delete' | 'mark';
  private readonly retentionMs: number;
  private readonly maxPayloadBytes: number;
  private readonly clock: Clock;
  private readonly schema: z.ZodType<T> | undefined;
  private readonly wake: StoreWake | undefined;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, options: OutboxOptions<T> = {}) {
    this.db = store.db as Db;
    this.dialect = store.dialect;
    this.capacity = options.capacity ?? 100_000;
    if (!Number.isSafeInteger(this.capacity) || this.capacity < 1) throw new InvalidInputError(`outbox capacity must be a positive integer, got ${this.capacity}`);
    this.overflow = options.overflow ?? 'reject';
    this.leaseMs = options.leaseMs ?? 30_000;
    this.onAck = options.onAck ?? 'delete';
    this.retentionMs = options.deliveredRetentionMs ?? 7 * 24 * 3600_000;
    this.maxPayloadBytes = options.maxPayloadBytes ?? 1024 * 1024;
    this.clock = options.clock ?? systemClock;
    this.schema = options.payloadSchema;
    this.wake = (store as Partial<Store>).wake;
  }

  /**
   * Stores a message durably. Pass `trx` to enqueue atomically with the caller's own writes.
   * @throws OutboxFullError when the topic is full and the policy is 'reject'
   * @throws InvalidInputError for a bad topic, an unserialisable or oversized payload
   */
  async enqueue(topic: string, payload: T, options: { dedupKey?: string; trx?: Transaction<unknown> } = {}): Promise<EnqueueResult> {
    checkTopic(topic);
    if (this.schema) {
      const r = this.schema.safeParse(payload);
      if (!r.success) throw new InvalidInputError(`outbox topic "${topic}": payload does not match its schema: ${r.error.issues[0]?.message ?? ''}`);
    }
    let text: string | undefined;
    try {
      text = JSON.stringify(payload);
    } catch (err) {
      throw new InvalidInputError(`outbox topic "${topic}": payload is not JSON-serialisable`, { cause: err });
    }
    if (text === undefined) throw new InvalidInputError(`outbox topic "${topic}": payload is not JSON-serialisable`);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxPayloadBytes) {
      throw new InvalidInputError(`outbox topic "${topic}": payload is ${bytes} bytes, more than the ${this.maxPayloadBytes} allowed`);
    }
    const dedupKey = options.dedupKey ?? null;
    if (dedupKey !== null && (dedupKey.length === 0 || dedupKey.length > 500)) {
      throw new InvalidInputError(`outbox topic "${topic}": dedupKey must be 1..500 characters`);
    }
    const result = await this.inTransaction(options.trx, async (trx) => {
      await this.lockTopic(trx, topic);
      if (dedupKey !== null) {
        const existing = await trx.selectFrom('erab_outbox').select('seq').where('topic', '=', topic).where('dedup_key', '=', dedupKey).executeTakeFirst();
        if (existing) return { seq: toNumber(existing.seq, 'outbox seq'), duplicate: true, dropped: 0 };
      }
      let dropped = 0;
      const pending = await this.pendingCount(trx, topic);
      if (pending >= this.capacity) {
        if (this.overflow === 'reject') throw new OutboxFullError(topic, this.capacity);
        const excess = pending - this.capacity + 1;
        const oldest = await trx
          .selectFrom('erab_outbox')
          .select('seq')
          .where('topic', '=', topic)
          .where('delivered_at', 'is', null)
          .orderBy('seq')
          .limit(excess)
          .execute();
        const seqs = oldest.map((r) => r.seq);
        if (seqs.length > 0) await trx.deleteFrom('erab_outbox').where('seq', 'in', seqs).execute();
        dropped = seqs.length;
      }
      const row = await trx
        .insertInto('erab_outbox')
        .values({
          topic,
          dedup_key: dedupKey,
          payload: text,
          enqueued_at: this.clock.now(),
          lease_owner: null,
          lease_until: null,
          delivered_at: null,
        })
        .returning('seq')
        .executeTakeFirstOrThrow();
      const r: EnqueueResult = { seq: toNumber(row.seq, 'outbox seq'), duplicate: false, dropped };
      // In the caller's transaction, PostgreSQL delivers the hint at its commit.
      if (options.trx) await this.wake?.notify(wakeChannel(topic), '', trx);
      return r;
    });
    if (!options.trx && !result.duplicate) await this.wake?.notify(wakeChannel(topic)).catch(() => {});
    return result;
  }

  /**
   * Waits until `topic` has a message to lease, at most `timeoutMs`: true when there is one
   * (or a producer signalled one), false on timeout or abort. Wakes at once on an enqueue in
   * another process on PostgreSQL (LISTEN/NOTIFY) and in this process on either engine;
   * otherwise it is a bounded wait, so a sender loop stays correct without the hint.
   * @example while (running) { if (await outbox.waitForMessages('reports', 30_000)) await flush(); }
   */
  async waitForMessages(topic: string, timeoutMs: number, abort?: AbortSignal): Promise<boolean> {
    checkTopic(topic);
    if (!this.wake) return (await this.availableCount(topic)) > 0;
    // Subscribe first, then look: an enqueue between the two still wakes us.
    const w = await this.wake.waiter(wakeChannel(topic), timeoutMs, abort);
    try {
      if ((await this.availableCount(topic)) > 0) return true;
      return await w.wait;
    } finally {
      await w.cancel();
    }
  }

  /** Pending messages of `topic` not under a lease now. */
  private async availableCount(topic: string): Promise<number> {
    const now = this.clock.now();
    const r = await this.db
      .selectFrom('erab_outbox')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('topic', '=', topic)
      .where('delivered_at', 'is', null)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .executeTakeFirstOrThrow();
    return toNumber(r.n, 'outbox count');
  }

  /**
   * Leases up to `limit` of the oldest available messages of `topic`, in sequence order.
   * They are hidden from other leases for `leaseMs`, then come back unless acknowledged.
   */
  async lease(topic: string, limit: number, owner = 'default'): Promise<OutboxEntry<T>[]> {
    checkTopic(topic);
    checkLimit(limit);
    const now = this.clock.now();
    return this.inTransaction(undefined, async (trx) => {
      let q = trx
        .selectFrom('erab_outbox')
        .select('seq')
        .where('topic', '=', topic)
        .where('delivered_at', 'is', null)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
        .orderBy('seq')
        .limit(limit);
      // PostgreSQL: concurrent senders skip each other's rows instead of waiting.
      if (this.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const seqs = (await q.execute()).map((r) => r.seq);
      if (seqs.length === 0) return [];
      await trx
        .updateTable('erab_outbox')
        .set((eb) => ({ lease_owner: owner, lease_until: now + this.leaseMs, attempts: eb('attempts', '+', 1) }))
        .where('seq', 'in', seqs)
        .execute();
      const rows = await trx.selectFrom('erab_outbox').selectAll().where('seq', 'in', seqs).orderBy('seq').execute();
      return rows.map((r) => this.toEntry(r as OutboxRow));
    });
  }

  /** The oldest pending messages of `topic` (leased or not), without leasing them. */
  async peek(topic: string, limit: number): Promise<OutboxEntry<T>[]> {
    checkTopic(topic);
    checkLimit(limit);
    const rows = await this.db
      .selectFrom('erab_outbox')
      .selectAll()
      .where('topic', '=', topic)
      .where('delivered_at', 'is', null)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => this.toEntry(r as OutboxRow));
  }

  /**
   * Acknowledges delivered messages; returns how many were pending. Acknowledging twice, or a
   * message that was dropped meanwhile, is harmless (counts 0).
   */
  async ack(topic: string, seqs: readonly number[], options: { trx?: Transaction<unknown> } = {}): Promise<number> {
    checkTopic(topic);
    if (seqs.length === 0) return 0;
    const now = this.clock.now();
    return this.inTransaction(options.trx, async (trx) => {
      let n = 0;
      for (const chunk of chunks(seqs, 500)) {
        if (this.onAck === 'delete') {
          const r = await trx.deleteFrom('erab_outbox').where('topic', '=', topic).where('seq', 'in', chunk).where('delivered_at', 'is', null).executeTakeFirst();
          n += Number(r.numDeletedRows);
        } else {
          const r = await trx
            .updateTable('erab_outbox')
            .set({ delivered_at: now, payload: null, lease_owner: null, lease_until: null })
            .where('topic', '=', topic)
            .where('seq', 'in', chunk)
            .where('delivered_at', 'is', null)
            .executeTakeFirst();
          n += Number(r.numUpdatedRows);
        }
      }
      if (this.onAck === 'mark') {
        await trx.deleteFrom('erab_outbox').where('topic', '=', topic).where('delivered_at', '<', now - this.retentionMs).execute();
      }
      return n;
    });
  }

  /** Gives leased messages back at once (the send failed; retry them first). */
  async release(topic: string, seqs: readonly number[]): Promise<void> {
    checkTopic(topic);
    for (const chunk of chunks(seqs, 500)) {
      await this.db
        .updateTable('erab_outbox')
        .set({ lease_owner: null, lease_until: null })
        .where('topic', '=', topic)
        .where('seq', 'in', chunk)
        .where('delivered_at', 'is', null)
        .execute();
    }
  }

  /** Pending (not yet acknowledged) messages of `topic`. */
  async size(topic: string): Promise<number> {
    checkTopic(topic);
    return this.pendingCount(this.db, topic);
  }

  private async pendingCount(db: Db, topic: string): Promise<number> {
    const r = await db
      .selectFrom('erab_outbox')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('topic', '=', topic)
      .where('delivered_at', 'is', null)
      .executeTakeFirstOrThrow();
    return toNumber(r.n, 'outbox count');
  }

  /**
   * Serialises enqueues of one topic so sequence order is commit order. SQLite: every write
   * transaction already holds the database lock (BEGIN IMMEDIATE). PostgreSQL: an advisory
   * lock for the transaction, keyed by the topic (a hash collision only serialises two topics).
   */
  private async lockTopic(trx: Db, topic: string): Promise<void> {
    if (this.dialect !== 'postgres') return;
    await sql`select pg_advisory_xact_lock(hashtextextended(${`erab_outbox:${topic}`}, 0))`.execute(trx);
  }

  private async inTransaction<R>(trx: Transaction<unknown> | undefined, fn: (trx: Db) => Promise<R>): Promise<R> {
    if (trx) return fn(trx as unknown as Db);
    return this.db.transaction().execute((t) => fn(t));
  }

  private toEntry(r: OutboxRow): OutboxEntry<T> {
    const what = `${OUTBOX_TABLE} seq ${r.seq}`;
    let payload: T;
    if (this.schema) payload = fromJsonText(r.payload, this.schema, what);
    else {
      try {
        payload = JSON.parse(String(r.payload)) as T;
      } catch (err) {
        throw new IntegrityError(`${what}: stored payload does not parse as JSON`, { cause: err });
      }
    }
    return {
      seq: toNumber(r.seq, what),
      topic: r.topic,
      dedupKey: r.dedup_key,
      payload,
      enqueuedAt: toEpochMillis(r.enqueued_at, what),
      attempts: toNumber(r.attempts, what),
    };
  }
}

const wakeChannel = (topic: string): string => `outbox:${topic}`;

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || !TOPIC_RULE.test(topic)) {
    throw new InvalidInputError(`outbox topic ${JSON.stringify(topic)} is invalid: 1..200 printable ASCII characters without spaces`);
  }
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw new InvalidInputError(`outbox limit must be 1..10000, got ${limit}`);
}

function* chunks<X>(xs: readonly X[], size: number): Generator<X[]> {
  for (let i = 0; i < xs.length; i += size) yield xs.slice(i, i + size);
}
