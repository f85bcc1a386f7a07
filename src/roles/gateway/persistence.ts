/**
 * The gateway's durable state in its own database (SQLite by default, one file per gateway):
 * the admission registry, the replay state of the command guard, and the telemetry outbox
 * (src/store/outbox.ts). Migrations compose with the outbox's.
 *
 * Admission and replay are read on every command, so they live in memory and are written
 * through to the database in order (`flush()` awaits the writes). The gateway flushes the
 * replay state before it acts on an accepted event, so a replayed command is recognised even
 * after a restart.
 */
import { z } from 'zod';
import type { Kysely } from 'kysely';
import type { EpochMillis } from '../../core/units.js';
import type { Migration } from '../../store/migrations.js';
import { columnType, fromJsonText, toEpochMillis, toNumber } from '../../store/schema.js';
import { composeMigrations } from '../../store/migrations.js';
import { outboxMigrations } from '../../store/outbox.js';
import type { Store } from '../../store/store.js';
import type { AdmissionStore, DeviceRecord } from './admission.js';
import type { ReplayStore } from './command-guard.js';
import { DEVICE_CLASSES } from './types.js';

export const gatewayMigrations: readonly Migration[] = [
  {
    name: '0001_gateway_admission',
    async up(db) {
      await db.schema
        .createTable('gateway_device')
        .addColumn('device_id', 'text', (c) => c.primaryKey())
        .addColumn('record', columnType.json, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('gateway_device').execute();
    },
  },
  {
    name: '0002_gateway_replay',
    async up(db) {
      await db.schema
        .createTable('gateway_event_seen')
        .addColumn('event_id', 'text', (c) => c.primaryKey())
        .addColumn('modification_number', columnType.bigint, (c) => c.notNull())
        .addColumn('keep_until', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('gateway_nonce_seen')
        .addColumn('nonce', 'text', (c) => c.primaryKey())
        .addColumn('keep_until', columnType.epochMillis, (c) => c.notNull())
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('gateway_nonce_seen').execute();
      await db.schema.dropTable('gateway_event_seen').execute();
    },
  },
  {
    // The owner's safe mode an operator put the site in (incident response): it outlives a restart.
    name: '0004_gateway_safe_mode',
    async up(db) {
      await db.schema
        .createTable('gateway_safe_mode')
        .addColumn('site', 'text', (c) => c.primaryKey())
        .addColumn('decided_by', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('since', columnType.epochMillis, (c) => c.notNull())
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('gateway_safe_mode').execute();
    },
  },
];

/** Every migration a gateway database needs. */
export const GATEWAY_DB_MIGRATIONS: readonly Migration[] = composeMigrations(outboxMigrations, gatewayMigrations);

interface Tables {
  gateway_device: { device_id: string; record: string; updated_at: number };
  gateway_event_seen: { event_id: string; modification_number: number; keep_until: number };
  gateway_nonce_seen: { nonce: string; keep_until: number };
  gateway_safe_mode: { site: string; decided_by: string; reason: string; since: number };
}

export interface SafeModeState { by: string; reason: string; since: number }

/** Writes (or, with undefined, clears) the site's safe mode. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function saveSafeMode(store: Store<any>, state: SafeModeState | undefined): Promise<void> {
  const db = store.db as Kysely<Tables>;
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('gateway_safe_mode').where('site', '=', 'site').execute();
    if (state) await trx.insertInto('gateway_safe_mode').values({ site: 'site', decided_by: state.by, reason: state.reason, since: state.since }).execute();
  });
}

/** The safe mode in force when the gateway last stopped, if any. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function loadSafeMode(store: Store<any>): Promise<SafeModeState | undefined> {
  const row = await (store.db as Kysely<Tables>).selectFrom('gateway_safe_mode').selectAll().where('site', '=', 'site').executeTakeFirst();
  return row ? { by: row.decided_by, reason: row.reason, since: toNumber(row.since, 'gateway_safe_mode.since') } : undefined;
}

const identitySchema = z.object({
  identificationNumber: z.string().optional(),
  makerCode: z.string(),
  productCode: z.string().optional(),
  serialNumber: z.string().optional(),
});
const recordSchema = z.object({
  deviceId: z.string(),
  class: z.enum(DEVICE_CLASSES),
  eoj: z.string(),
  address: z.string(),
  identity: identitySchema,
  observedIdentity: identitySchema.optional(),
  state: z.enum(['admitted', 'pending', 'quarantined', 'rejected']),
  revision: z.number().int(),
  firstSeen: z.number(),
  lastSeen: z.number(),
  reason: z.string().optional(),
  decidedBy: z.string().optional(),
});

/** Ordered write-behind: each write starts after the previous one finished. */
class WriteQueue {
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;
  push(write: () => Promise<unknown>): void {
    this.tail = this.tail.then(() => write().then(() => undefined)).catch((err: unknown) => {
      this.failure ??= err;
    });
  }
  /** Awaits every queued write; rethrows the first failure (a lost write must not go unnoticed). */
  async flush(): Promise<void> {
    await this.tail;
    if (this.failure) {
      const f = this.failure;
      this.failure = undefined;
      throw f;
    }
  }
}

/** AdmissionStore over the gateway database. */
export class SqlAdmissionStore implements AdmissionStore {
  private readonly queue = new WriteQueue();
  private constructor(private readonly db: Kysely<Tables>, private readonly cache: DeviceRecord[], private readonly clock: () => number) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  static async open(store: Store<any>, clock: () => number = Date.now): Promise<SqlAdmissionStore> {
    const db = store.db as Kysely<Tables>;
    const rows = await db.selectFrom('gateway_device').selectAll().orderBy('device_id').execute();
    const records = rows.map((r) => fromJsonText(r.record, recordSchema, `gateway_device ${r.device_id}`) as DeviceRecord);
    return new SqlAdmissionStore(db, records, clock);
  }

  load(): DeviceRecord[] {
    return structuredClone(this.cache);
  }

  save(record: DeviceRecord): void {
    const text = JSON.stringify(record);
    const at = this.clock();
    this.queue.push(() => this.db
      .insertInto('gateway_device')
      .values({ device_id: record.deviceId, record: text, updated_at: at })
      .onConflict((oc) => oc.column('device_id').doUpdateSet({ record: text, updated_at: at }))
      .execute());
  }

  flush(): Promise<void> {
    return this.queue.flush();
  }
}

/** ReplayStore over the gateway database: memory for the checks, the database for restarts. */
export class SqlReplayStore implements ReplayStore {
  private readonly queue = new WriteQueue();
  private constructor(
    private readonly db: Kysely<Tables>,
    private readonly mods: Map<string, { mod: number; until: number }>,
    private readonly nonces: Map<string, number>,
  ) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  static async open(store: Store<any>, now: number): Promise<SqlReplayStore> {
    const db = store.db as Kysely<Tables>;
    await db.deleteFrom('gateway_event_seen').where('keep_until', '<', now).execute();
    await db.deleteFrom('gateway_nonce_seen').where('keep_until', '<', now).execute();
    const mods = new Map<string, { mod: number; until: number }>();
    for (const r of await db.selectFrom('gateway_event_seen').selectAll().execute()) {
      mods.set(r.event_id, { mod: toNumber(r.modification_number, 'modification_number'), until: toEpochMillis(r.keep_until) });
    }
    const nonces = new Map<string, number>();
    for (const r of await db.selectFrom('gateway_nonce_seen').selectAll().execute()) nonces.set(r.nonce, toEpochMillis(r.keep_until));
    return new SqlReplayStore(db, mods, nonces);
  }

  lastModification(eventId: string): number | undefined {
    return this.mods.get(eventId)?.mod;
  }

  recordModification(eventId: string, modificationNumber: number, keepUntil: EpochMillis): void {
    this.mods.set(eventId, { mod: modificationNumber, until: keepUntil });
    this.queue.push(() => this.db
      .insertInto('gateway_event_seen')
      .values({ event_id: eventId, modification_number: modificationNumber, keep_until: keepUntil })
      .onConflict((oc) => oc.column('event_id').doUpdateSet({ modification_number: modificationNumber, keep_until: keepUntil }))
      .execute());
  }

  claimNonce(nonce: string, keepUntil: EpochMillis): boolean {
    if (this.nonces.has(nonce)) return false;
    this.nonces.set(nonce, keepUntil);
    this.queue.push(() => this.db.insertInto('gateway_nonce_seen').values({ nonce, keep_until: keepUntil }).onConflict((oc) => oc.column('nonce').doNothing()).execute());
    return true;
  }

  prune(now: EpochMillis): void {
    let any = false;
    for (const [k, v] of this.mods) if (v.until < now) { this.mods.delete(k); any = true; }
    for (const [k, v] of this.nonces) if (v < now) { this.nonces.delete(k); any = true; }
    if (any) {
      this.queue.push(async () => {
        await this.db.deleteFrom('gateway_event_seen').where('keep_until', '<', now).execute();
        await this.db.deleteFrom('gateway_nonce_seen').where('keep_until', '<', now).execute();
      });
    }
  }

  flush(): Promise<void> {
    return this.queue.flush();
  }
}
