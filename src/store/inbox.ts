/**
 * The receiving half of exactly-once delivery. An outbox delivers at least once (a lost ack
 * means a resend); the receiver makes the *effect* happen once by recording what it has
 * applied in the same transaction as the effect itself:
 * - `acceptInOrder(source, topic, seq, effect)`: for senders that deliver one topic in
 *   sequence order (our Outbox with one sender per topic): a sequence at or below the last
 *   applied one is a duplicate. Gaps (dropped telemetry) are allowed.
 * - `acceptOnce(source, key, effect)`: for messages with an idempotency key (an OpenADR
 *   report's reportRequestID + createdDateTime, an event's id + modification number...).
 * If `effect` throws, nothing is recorded and the message will be accepted when it comes again.
 */
import type { Generated, Kysely, Transaction } from 'kysely';
import { systemClock, type Clock } from '../core/clock.js';
import { InvalidInputError } from '../core/errors.js';
import type { Migration } from './migrations.js';
import { columnType, toNumber } from './schema.js';
import type { Store } from './store.js';

export const inboxMigrations: readonly Migration[] = [
  {
    name: '0001_store_inbox',
    async up(db) {
      await db.schema
        .createTable('erab_inbox_cursor')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('topic', 'text', (c) => c.notNull())
        .addColumn('last_seq', columnType.bigint, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .addPrimaryKeyConstraint('erab_inbox_cursor_pk', ['source', 'topic'])
        .execute();
      await db.schema
        .createTable('erab_inbox_key')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('seen_at', columnType.epochMillis, (c) => c.notNull())
        .addPrimaryKeyConstraint('erab_inbox_key_pk', ['source', 'key'])
        .execute();
      await db.schema.createIndex('erab_inbox_key_seen').on('erab_inbox_key').column('seen_at').execute();
    },
    async down(db) {
      await db.schema.dropTable('erab_inbox_key').execute();
      await db.schema.dropTable('erab_inbox_cursor').execute();
    },
  },
];

export type InboxTables = {
  erab_inbox_cursor: { source: string; topic: string; last_seq: number; updated_at: number };
  erab_inbox_key: { source: string; key: string; seen_at: number };
};

type Db = Kysely<InboxTables>;

export type Accepted<R> = { applied: true; result: R } | { applied: false };

/**
 * Receiver-side deduplication over a Store (either engine).
 * @example
 * const r = await inbox.acceptInOrder(gatewayId, 'telemetry', entry.seq, (trx) => saveReading(trx, entry.payload));
 * if (!r.applied) log.debug('duplicate delivery ignored');
 */
export class Inbox {
  private readonly db: Db;
  private readonly dialect: Store['dialect'];
  private readonly clock: Clock;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, options: { clock?: Clock } = {}) {
    this.db = store.db as Db;
    this.dialect = store.dialect;
    this.clock = options.clock ?? systemClock;
  }

  /** Applies `effect` (in the same transaction) only if `seq` is above the last one applied for (source, topic). */
  async acceptInOrder<R>(source: string, topic: string, seq: number, effect: (trx: Transaction<unknown>) => Promise<R>): Promise<Accepted<R>> {
    checkName('source', source);
    checkName('topic', topic);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new InvalidInputError(`inbox: sequence must be a positive integer, got ${seq}`);
    const now = this.clock.now();
    return this.db.transaction().execute(async (trx) => {
      // Create the cursor row first so PostgreSQL can lock it: two deliveries of the same
      // message then run one after the other, and the second sees the first's sequence.
      await trx
        .insertInto('erab_inbox_cursor')
        .values({ source, topic, last_seq: 0, updated_at: now })
        .onConflict((oc) => oc.columns(['source', 'topic']).doNothing())
        .execute();
      let q = trx.selectFrom('erab_inbox_cursor').select('last_seq').where('source', '=', source).where('topic', '=', topic);
      if (this.dialect === 'postgres') q = q.forUpdate();
      const cur = await q.executeTakeFirstOrThrow();
      if (seq <= toNumber(cur.last_seq, 'inbox last_seq')) return { applied: false } as const;
      const result = await effect(trx as unknown as Transaction<unknown>);
      await trx.updateTable('erab_inbox_cursor').set({ last_seq: seq, updated_at: now }).where('source', '=', source).where('topic', '=', topic).execute();
      return { applied: true, result } as const;
    });
  }

  /** Applies `effect` (in the same transaction) only the first time `key` is seen from `source`. */
  async acceptOnce<R>(source: string, key: string, effect: (trx: Transaction<unknown>) => Promise<R>): Promise<Accepted<R>> {
    checkName('source', source);
    if (typeof key !== 'string' || key.length === 0 || key.length > 500) throw new InvalidInputError('inbox: key must be 1..500 characters');
    const now = this.clock.now();
    return this.db.transaction().execute(async (trx) => {
      // On PostgreSQL a concurrent duplicate waits here for the first to commit, then does nothing.
      const inserted = await trx
        .insertInto('erab_inbox_key')
        .values({ source, key, seen_at: now })
        .onConflict((oc) => oc.columns(['source', 'key']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return { applied: false } as const;
      const result = await effect(trx as unknown as Transaction<unknown>);
      return { applied: true, result } as const;
    });
  }

  /**
   * Batch form of {@link acceptOnce}: records the keys not seen before from `source` and runs
   * `effect` in the same transaction; resolves to the keys that were new (the caller applies
   * those). Duplicates within `keys` count once.
   */
  async acceptMany(source: string, keys: readonly string[], effect: (trx: Transaction<unknown>) => Promise<void>): Promise<Set<string>> {
    checkName('source', source);
    const unique = [...new Set(keys)];
    for (const key of unique) {
      if (typeof key !== 'string' || key.length === 0 || key.length > 500) throw new InvalidInputError('inbox: key must be 1..500 characters');
    }
    const now = this.clock.now();
    return this.db.transaction().execute(async (trx) => {
      const fresh = new Set<string>();
      // Bounded statements (3 values per row).
      for (let i = 0; i < unique.length; i += 500) {
        const rows = await trx
          .insertInto('erab_inbox_key')
          .values(unique.slice(i, i + 500).map((key) => ({ source, key, seen_at: now })))
          .onConflict((oc) => oc.columns(['source', 'key']).doNothing())
          .returning('key')
          .execute();
        for (const r of rows) fresh.add(r.key);
      }
      await effect(trx as unknown as Transaction<unknown>);
      return fresh;
    });
  }

  /** The last sequence applied for (source, topic); 0 when none. */
  async lastSeq(source: string, topic: string): Promise<number> {
    const r = await this.db.selectFrom('erab_inbox_cursor').select('last_seq').where('source', '=', source).where('topic', '=', topic).executeTakeFirst();
    return r ? toNumber(r.last_seq, 'inbox last_seq') : 0;
  }

  /** Forgets idempotency keys seen before `before` (of one source, or all): they can no longer be recognised as duplicates. */
  async pruneKeys(before: number, source?: string): Promise<number> {
    let q = this.db.deleteFrom('erab_inbox_key').where('seen_at', '<', before);
    if (source !== undefined) q = q.where('source', '=', source);
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

function checkName(what: string, v: string): void {
  if (typeof v !== 'string' || v.length === 0 || v.length > 200) throw new InvalidInputError(`inbox: ${what} must be 1..200 characters`);
}
