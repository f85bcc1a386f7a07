/**
 * A leader lease in the database: of several processes that could run one role over one store
 * (an active aggregator and its standby, ERAB §3.5 事業継続), exactly one holds the lease and
 * does the work; the others wait and take over when the holder stops renewing.
 *
 * - One statement decides: an upsert that takes the row when it is free, expired, or already
 *   ours, so two contenders can never both win (the row lock / SQLite's write lock orders them).
 * - Time is the database's on PostgreSQL (hosts' clocks may differ; the expiry is judged by one
 *   clock), the process clock on SQLite (one host by construction).
 * - Each change of holder increments `epoch`, a fencing token: work stamped with an older epoch
 *   came from a holder that lost the lease.
 * - A holder that cannot renew (database unreachable) gives the lease up on its own once the
 *   lease would have expired, since another process may have taken it by then.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql, type Kysely } from 'kysely';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { InvalidInputError } from '../core/errors.js';
import type { Migration } from './migrations.js';
import { columnType, toNumber } from './schema.js';
import type { Store } from './store.js';

export const LEASE_TABLE = 'erab_lease';

export const leaseMigrations: readonly Migration[] = [
  {
    name: '0001_store_lease',
    async up(db) {
      await db.schema
        .createTable(LEASE_TABLE)
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('epoch', columnType.bigint, (c) => c.notNull())
        .addColumn('acquired_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('expires_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
    },
    async down(db) {
      await db.schema.dropTable(LEASE_TABLE).execute();
    },
  },
];

export type LeaseTables = {
  erab_lease: { name: string; holder: string; epoch: number; acquired_at: number; expires_at: number };
};

/** Who holds a lease now, as the database says. */
export interface LeaseHolder {
  name: string;
  holder: string;
  epoch: number;
  acquiredAt: number;
  expiresAt: number;
}

export interface LeaderLeaseOptions {
  /** The lease's name: one per role instance group, e.g. `aggregator:AGG1`. */
  name: string;
  /** This process's identity; default `<host>:<pid>:<random>` so a restarted process is a new holder. */
  holder?: string;
  /** How long a lease lasts without renewal, ms (default 10 s). */
  ttlMs?: number;
  /** How often the holder renews and a standby tries, ms (default ttl / 3). */
  renewMs?: number;
  clock?: Clock;
  /** Called once when this process becomes the holder, with the new fencing epoch. */
  onAcquired?: (epoch: number) => void;
  /** Called once when this process stops being the holder (taken over, or unable to renew). */
  onLost?: (reason: string) => void;
  /** Called when a try fails for a reason other than contention (database unreachable...). */
  onError?: (err: unknown) => void;
}

const NAME_RULE = /^[A-Za-z0-9:._-]{1,200}$/;

export class LeaderLease {
  readonly name: string;
  readonly holder: string;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly clock: Clock;
  private readonly db: Kysely<LeaseTables>;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private held: { epoch: number; renewedAt: number } | undefined;

  constructor(private readonly store: Store, private readonly opts: LeaderLeaseOptions) {
    if (!NAME_RULE.test(opts.name)) throw new InvalidInputError(`lease name ${JSON.stringify(opts.name)}: use 1–200 letters, digits and : . _ -`);
    this.name = opts.name;
    this.holder = opts.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.renewMs = opts.renewMs ?? Math.max(50, Math.floor(this.ttlMs / 3));
    if (!(this.renewMs < this.ttlMs)) throw new InvalidInputError(`lease ${opts.name}: renewMs ${this.renewMs} must be shorter than ttlMs ${this.ttlMs}`);
    this.clock = opts.clock ?? systemClock;
    this.db = store.db as unknown as Kysely<LeaseTables>;
  }

  /** The fencing epoch while this process holds the lease, else undefined. */
  get epoch(): number | undefined {
    return this.held?.epoch;
  }

  get isHolder(): boolean {
    return this.held !== undefined;
  }

  /** Tries now and then every renewMs until stopped. */
  start(): void {
    this.stopped = false;
    void this.round();
  }

  /** Stops trying; a holder gives the lease up at once so a standby need not wait for the expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    if (!this.held) return;
    this.held = undefined;
    await this.db.deleteFrom('erab_lease').where('name', '=', this.name).where('holder', '=', this.holder).execute().catch(() => {});
  }

  /** One attempt: takes or renews the lease if it is free, expired or ours. True when held after it. */
  async tryAcquire(): Promise<boolean> {
    const now = await this.now();
    const expires = now + this.ttlMs;
    const row = await this.db
      .insertInto('erab_lease')
      .values({ name: this.name, holder: this.holder, epoch: 1, acquired_at: now, expires_at: expires })
      .onConflict((oc) =>
        oc.column('name')
          .doUpdateSet({
            holder: this.holder,
            epoch: sql<number>`case when ${sql.ref('erab_lease.holder')} = ${this.holder} then ${sql.ref('erab_lease.epoch')} else ${sql.ref('erab_lease.epoch')} + 1 end`,
            acquired_at: sql<number>`case when ${sql.ref('erab_lease.holder')} = ${this.holder} then ${sql.ref('erab_lease.acquired_at')} else ${now} end`,
            expires_at: expires,
          })
          .where((eb) => eb.or([eb('erab_lease.holder', '=', this.holder), eb('erab_lease.expires_at', '<', now)])),
      )
      .returning(['epoch'])
      .executeTakeFirst();
    if (!row) return false;
    const epoch = toNumber(row.epoch, 'lease epoch');
    const was = this.held;
    this.held = { epoch, renewedAt: this.clock.now() };
    if (!was) this.opts.onAcquired?.(epoch);
    return true;
  }

  /** The current holder as stored (possibly expired), for status pages and tests. */
  async current(): Promise<LeaseHolder | undefined> {
    const r = await this.db.selectFrom('erab_lease').selectAll().where('name', '=', this.name).executeTakeFirst();
    if (!r) return undefined;
    return {
      name: r.name, holder: r.holder, epoch: toNumber(r.epoch, 'lease epoch'),
      acquiredAt: toNumber(r.acquired_at, 'lease acquired_at'), expiresAt: toNumber(r.expires_at, 'lease expires_at'),
    };
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    try {
      const got = await this.tryAcquire();
      if (!got && this.held) this.lose(`lease ${this.name} was taken over by another process`);
    } catch (err) {
      this.opts.onError?.(err);
      // Unable to renew: past the expiry another process may hold it, so stop acting as holder.
      if (this.held && this.clock.now() - this.held.renewedAt >= this.ttlMs) {
        this.lose(`lease ${this.name} could not be renewed for ${this.ttlMs} ms: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.round(), this.renewMs);
  }

  private lose(reason: string): void {
    this.held = undefined;
    this.opts.onLost?.(reason);
  }

  /** Epoch ms by the database's clock on PostgreSQL, by this process's on SQLite. */
  private async now(): Promise<number> {
    if (this.store.dialect === 'sqlite') return this.clock.now();
    const r = await sql<{ now: string | number }>`select (extract(epoch from clock_timestamp()) * 1000)::bigint as now`.execute(this.store.db);
    return toNumber(r.rows[0]?.now, 'database clock');
  }
}
