/**
 * OpenADR state on the data layer (SQLite or PostgreSQL through Kysely): the VTN's VtnStore and
 * the VEN's registration state and durable outbox. Objects are kept as JSON documents keyed by
 * their protocol ids; one database can hold several VTNs (column vtn_id) and several VENs.
 */
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import type { EpochMillis } from '../../core/units.js';
import type { OadrCreateOpt } from '../../protocols/openadr/opt.js';
import type { OadrReport, ReportRequest } from '../../protocols/openadr/report.js';
import type { VenOutbox, VenOutboxItem, VenPersistedState, VenStateStore } from '../../protocols/openadr/ven.js';
import { type ClaimedEntry, type EventOpt, type PendingEntry, type QueueLease, type StoredEvent, type StoredReportRequest, type VenRegistration, type VtnStore, mergeDistribute } from '../../protocols/openadr/vtn-store.js';
import { Outbox } from '../../store/outbox.js';
import { outboxMigrations } from '../../store/outbox.js';
import { composeMigrations, type Migration } from '../../store/migrations.js';
import { addIdColumn, columnType, fromJsonText, toJsonText, toNumber } from '../../store/schema.js';
import type { Store } from '../../store/store.js';
import { nonceMigrations } from './nonce-store.js';

/** Migrations of the OpenADR tables. */
export const openadrMigrations: readonly Migration[] = [
  {
    name: '0001_openadr_vtn',
    async up(db, ctx) {
      const doc = (name: string, keys: string[]) =>
        keys.reduce((t, k) => t.addColumn(k, 'text', (c) => c.notNull()), db.schema.createTable(name).addColumn('vtn_id', 'text', (c) => c.notNull()))
          .addColumn('data', columnType.json, (c) => c.notNull())
          .addPrimaryKeyConstraint(`${name}_pk`, ['vtn_id', ...keys] as never);
      await doc('openadr_vtn_registration', ['ven_id']).addColumn('fingerprint', 'text', (c) => c.notNull()).execute();
      await db.schema.createIndex('openadr_vtn_registration_fp').on('openadr_vtn_registration').columns(['vtn_id', 'fingerprint']).unique().execute();
      await doc('openadr_vtn_event', ['event_id']).execute();
      await doc('openadr_vtn_event_opt', ['event_id', 'ven_id']).execute();
      await doc('openadr_vtn_report_registration', ['ven_id']).execute();
      await doc('openadr_vtn_report_request', ['ven_id', 'report_request_id']).execute();
      await doc('openadr_vtn_opt', ['ven_id', 'opt_id']).execute();
      await db.schema.createTable('openadr_vtn_report')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('vtn_id', 'text', (c) => c.notNull())
        .addColumn('ven_id', 'text', (c) => c.notNull())
        .addColumn('report_request_id', 'text', (c) => c.notNull())
        .addColumn('received_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('data', columnType.json, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('openadr_vtn_report_ven').on('openadr_vtn_report').columns(['vtn_id', 'ven_id', 'report_request_id']).execute();
      await db.schema.createTable('openadr_vtn_pending')
        .$call((t) => addIdColumn(t, 'seq', ctx.dialect))
        .addColumn('vtn_id', 'text', (c) => c.notNull())
        .addColumn('ven_id', 'text', (c) => c.notNull())
        .addColumn('data', columnType.json, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('openadr_vtn_pending_ven').on('openadr_vtn_pending').columns(['vtn_id', 'ven_id', 'seq']).execute();
    },
  },
  {
    name: '0002_openadr_ven',
    async up(db) {
      await db.schema.createTable('openadr_ven_state')
        .addColumn('ven_key', 'text', (c) => c.primaryKey())
        .addColumn('data', columnType.json, (c) => c.notNull())
        .execute();
    },
  },
  {
    // Several VTN workers share one queue (docs/scale.md): a poll leases the head entry to its
    // worker and deletes it once the answer has gone out, so no entry is delivered by two
    // workers, and one a dead worker held comes back when its lease ends. `kind` marks
    // distribute markers ('d'), which one answer satisfies together.
    name: '0004_openadr_vtn_lease',
    async up(db) {
      await db.schema.alterTable('openadr_vtn_pending').addColumn('kind', 'text').execute();
      await db.schema.alterTable('openadr_vtn_pending').addColumn('lease_owner', 'text').execute();
      await db.schema.alterTable('openadr_vtn_pending').addColumn('lease_until', columnType.epochMillis).execute();
      await db.updateTable('openadr_vtn_pending').set({ kind: 'd' }).where('data', 'like', '%"kind":"distributeEvent"%').execute();
    },
  },
  {
    // A report is stored once per (VEN, eiReportID): a VEN resends what it got no answer for.
    name: '0005_openadr_vtn_report_once',
    async up(db) {
      await db.schema.alterTable('openadr_vtn_report').addColumn('ei_report_id', 'text').execute();
      await db.schema.createIndex('openadr_vtn_report_once').on('openadr_vtn_report').columns(['vtn_id', 'ven_id', 'ei_report_id']).unique().execute();
    },
  },
];

/** Everything an OpenADR role needs in its database (OpenADR tables, replay nonces, the store's outbox). */
export const openadrStoreMigrations: Migration[] = composeMigrations(outboxMigrations, openadrMigrations, nonceMigrations);

// The documents are our own serializations; the schema check guards against foreign or tampered rows.
const docSchema = z.record(z.string(), z.unknown());
const read = <T>(text: unknown, what: string): T => fromJsonText(text, docSchema, what) as unknown as T;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/** VtnStore on SQLite or PostgreSQL. */
export class StoreVtnStore implements VtnStore {
  private readonly db: AnyDb;
  private readonly dialect: Store['dialect'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, private readonly vtnID: string) {
    this.db = store.db as AnyDb;
    this.dialect = store.dialect;
  }

  private async upsert(table: string, keys: Record<string, string>, data: unknown, extra: Record<string, string> = {}): Promise<void> {
    const row = { vtn_id: this.vtnID, ...keys, ...extra, data: toJsonText(data) };
    await this.db.insertInto(table).values(row)
      .onConflict((oc) => oc.columns(['vtn_id', ...Object.keys(keys)] as never).doUpdateSet({ data: row.data, ...extra } as never))
      .execute();
  }

  private async docs<T>(table: string, where: Record<string, string> = {}): Promise<T[]> {
    let q = this.db.selectFrom(table).select('data').where('vtn_id', '=', this.vtnID);
    for (const [k, v] of Object.entries(where)) q = q.where(k, '=', v);
    const rows = await q.execute();
    return rows.map((r) => read<T>((r as { data: unknown }).data, table));
  }

  listRegistrations(): Promise<VenRegistration[]> { return this.docs('openadr_vtn_registration'); }
  async registrationByFingerprint(fingerprint: string): Promise<VenRegistration | undefined> {
    return (await this.docs<VenRegistration>('openadr_vtn_registration', { fingerprint }))[0];
  }
  async getRegistration(venID: string): Promise<VenRegistration | undefined> {
    return (await this.docs<VenRegistration>('openadr_vtn_registration', { ven_id: venID }))[0];
  }
  async listVenIDs(): Promise<string[]> {
    const rows = await this.db.selectFrom('openadr_vtn_registration').select('ven_id').where('vtn_id', '=', this.vtnID).execute();
    return rows.map((r) => (r as { ven_id: string }).ven_id);
  }
  async putRegistration(r: VenRegistration): Promise<void> {
    await this.upsert('openadr_vtn_registration', { ven_id: r.venID }, r, { fingerprint: r.fingerprint });
  }
  async deleteRegistration(venID: string): Promise<void> {
    await this.db.deleteFrom('openadr_vtn_registration').where('vtn_id', '=', this.vtnID).where('ven_id', '=', venID).execute();
  }
  listEvents(): Promise<StoredEvent[]> { return this.docs('openadr_vtn_event'); }
  async putEvent(e: StoredEvent): Promise<void> { await this.upsert('openadr_vtn_event', { event_id: e.event.descriptor.eventID }, e); }
  async getEvent(eventID: string): Promise<StoredEvent | undefined> {
    return (await this.docs<StoredEvent>('openadr_vtn_event', { event_id: eventID }))[0];
  }
  async putEventOpt(o: EventOpt): Promise<void> { await this.upsert('openadr_vtn_event_opt', { event_id: o.eventID, ven_id: o.venID }, o); }
  listEventOpts(eventID: string): Promise<EventOpt[]> { return this.docs('openadr_vtn_event_opt', { event_id: eventID }); }
  async putReportRegistration(venID: string, reports: OadrReport[]): Promise<void> {
    await this.upsert('openadr_vtn_report_registration', { ven_id: venID }, { reports });
  }
  async listReportRegistrations(venID: string): Promise<OadrReport[]> {
    return (await this.docs<{ reports: OadrReport[] }>('openadr_vtn_report_registration', { ven_id: venID }))[0]?.reports ?? [];
  }
  async putReportRequest(r: StoredReportRequest): Promise<void> {
    await this.upsert('openadr_vtn_report_request', { ven_id: r.venID, report_request_id: r.request.reportRequestID }, r);
  }
  listReportRequests(venID?: string): Promise<StoredReportRequest[]> {
    return this.docs('openadr_vtn_report_request', venID === undefined ? {} : { ven_id: venID });
  }
  async deleteReportRequests(venID: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.db.deleteFrom('openadr_vtn_report_request').where('vtn_id', '=', this.vtnID).where('ven_id', '=', venID).where('report_request_id', 'in', ids).execute();
  }
  /**
   * Group commit: reports that arrive in the same turn of the event loop are inserted by one
   * statement (one transaction, one sync to disk), and each caller resolves once its row is
   * committed, so the VEN's oadrUpdatedReport still means "stored". At a few hundred reports a
   * second one sync per report was a third of an aggregator's CPU.
   */
  appendReport(venID: string, report: OadrReport, receivedAt: EpochMillis): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.reportBatch.push({ row: { vtn_id: this.vtnID, ven_id: venID, report_request_id: report.reportRequestID, ei_report_id: report.eiReportID ?? null, received_at: receivedAt, data: toJsonText(report) }, resolve, reject });
      if (this.reportBatch.length === 1) setImmediate(() => void this.flushReports());
    });
  }

  private reportBatch: { row: Record<string, unknown>; resolve: (inserted: boolean) => void; reject: (e: unknown) => void }[] = [];

  private async flushReports(): Promise<void> {
    const batch = this.reportBatch;
    this.reportBatch = [];
    // Bounded statements: 6 bound values per row, well under SQLite's and PostgreSQL's limits.
    for (let i = 0; i < batch.length; i += 500) {
      const part = batch.slice(i, i + 500);
      try {
        // A report already stored (same VEN and eiReportID) is skipped, not an error.
        const rows = await this.db.insertInto('openadr_vtn_report').values(part.map((p) => p.row))
          .onConflict((oc) => oc.columns(['vtn_id', 'ven_id', 'ei_report_id'] as never).doNothing())
          .returning(['ven_id', 'ei_report_id']).execute() as { ven_id: string; ei_report_id: string | null }[];
        const inserted = new Set(rows.map((r) => `${r.ven_id}\u0000${r.ei_report_id ?? ''}`));
        const seen = new Set<string>();
        for (const p of part) {
          const id = p.row.ei_report_id as string | null;
          const key = `${p.row.ven_id as string}\u0000${id ?? ''}`;
          // Without an id every row is new; with one, the first of the batch counts.
          p.resolve(id === null || (inserted.has(key) && !seen.has(key)));
          if (id !== null) seen.add(key);
        }
      } catch (err) {
        for (const p of part) p.reject(err);
      }
    }
  }
  async listReports(venID: string, reportRequestID?: string): Promise<OadrReport[]> {
    let q = this.db.selectFrom('openadr_vtn_report').select('data').where('vtn_id', '=', this.vtnID).where('ven_id', '=', venID);
    if (reportRequestID !== undefined) q = q.where('report_request_id', '=', reportRequestID);
    const rows = await q.orderBy('id').execute();
    return rows.map((r) => read<OadrReport>((r as { data: unknown }).data, 'openadr_vtn_report'));
  }
  async putOpt(opt: OadrCreateOpt): Promise<void> { await this.upsert('openadr_vtn_opt', { ven_id: opt.venID, opt_id: opt.optID }, opt); }
  async deleteOpt(venID: string, optID: string): Promise<boolean> {
    const r = await this.db.deleteFrom('openadr_vtn_opt').where('vtn_id', '=', this.vtnID).where('ven_id', '=', venID).where('opt_id', '=', optID).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  listOpts(venID: string): Promise<OadrCreateOpt[]> { return this.docs('openadr_vtn_opt', { ven_id: venID }); }
  async enqueue(venID: string, entry: PendingEntry): Promise<number> {
    const r = await this.db.insertInto('openadr_vtn_pending').values(this.pendingRow(venID, entry)).returning('seq').executeTakeFirstOrThrow();
    return toNumber((r as { seq: unknown }).seq, 'openadr_vtn_pending.seq');
  }
  private pendingRow(venID: string, entry: PendingEntry, data = toJsonText(entry)): Record<string, unknown> {
    return { vtn_id: this.vtnID, ven_id: venID, kind: entry.kind === 'distributeEvent' ? 'd' : 'm', data };
  }
  /**
   * PostgreSQL: one INSERT ... SELECT unnest($venIDs) — a fan-out to 100,000 VENs is one
   * statement. SQLite: rows of 1000 (4 bound values each, under its parameter limit) in one
   * transaction, so one sync to disk.
   */
  async enqueueMany(venIDs: readonly string[], entry: PendingEntry): Promise<void> {
    if (venIDs.length === 0) return;
    const data = toJsonText(entry);
    const kind = entry.kind === 'distributeEvent' ? 'd' : 'm';
    if (this.dialect === 'postgres') {
      await sql`insert into openadr_vtn_pending (vtn_id, ven_id, kind, data)
        select ${this.vtnID}, v, ${kind}, ${data} from unnest(${[...venIDs]}::text[]) as v`.execute(this.db);
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < venIDs.length; i += 1000) {
        await trx.insertInto('openadr_vtn_pending').values(venIDs.slice(i, i + 1000).map((v) => this.pendingRow(v, entry, data))).execute();
      }
    });
  }
  /**
   * One UPDATE ... RETURNING takes the head — and, when the head is a distribute marker, every
   * other free distribute marker of the VEN (one answer satisfies them all). On PostgreSQL both
   * selections lock what they pick (FOR UPDATE SKIP LOCKED): a concurrent poll of the same VEN
   * skips those rows and takes the next free entry (or nothing), never the same one. SQLite has
   * a single writer. One statement, one commit.
   */
  async claim(venID: string, lease: QueueLease): Promise<ClaimedEntry | undefined> {
    const lock = this.dialect === 'postgres' ? sql`for update skip locked` : sql``;
    const lockC = this.dialect === 'postgres' ? sql`for update of c skip locked` : sql``;
    const free = (a: string) => sql`(${sql.ref(`${a}.lease_until`)} is null or ${sql.ref(`${a}.lease_until`)} < ${lease.now})`;
    const result = await sql<{ seq: unknown; kind: string | null; data: unknown }>`
      with head as (
        select h.seq, h.kind from openadr_vtn_pending h
        where h.vtn_id = ${this.vtnID} and h.ven_id = ${venID} and ${free('h')}
        order by h.seq limit 1 ${lock}
      ), pick as (
        select c.seq from openadr_vtn_pending c, head
        where c.vtn_id = ${this.vtnID} and c.ven_id = ${venID} and ${free('c')}
          and (c.seq = head.seq or (head.kind = 'd' and c.kind = 'd'))
        ${lockC}
      )
      update openadr_vtn_pending set lease_owner = ${lease.owner}, lease_until = ${lease.until}
      where seq in (select seq from pick)
      returning seq, kind, data`.execute(this.db);
    const rows = result.rows;
    if (rows.length === 0) return undefined;
    const taken = rows.map((r) => ({ seq: toNumber(r.seq, 'openadr_vtn_pending.seq'), entry: read<PendingEntry>(r.data, 'openadr_vtn_pending') })).sort((a, b) => a.seq - b.seq);
    const head = taken[0] as (typeof taken)[number];
    if (head.entry.kind !== 'distributeEvent') return { seqs: [head.seq], entry: head.entry };
    const markers = taken.filter((t) => t.entry.kind === 'distributeEvent');
    return { seqs: markers.map((t) => t.seq), entry: mergeDistribute(markers.map((t) => t.entry)) };
  }
  /**
   * Group commit, as for reports: confirmations that arrive in the same turn of the event loop
   * are one DELETE (one commit); under a fan-out that is most of them. Sequence numbers are
   * unique in the table, so the VEN is not needed to find them.
   */
  confirm(_venID: string, seqs: readonly number[], owner: string): Promise<void> {
    if (!seqs.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.confirmBatch.push({ seqs, owner, resolve, reject });
      if (this.confirmBatch.length === 1) setImmediate(() => void this.flushConfirms());
    });
  }
  private confirmBatch: { seqs: readonly number[]; owner: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private async flushConfirms(): Promise<void> {
    const batch = this.confirmBatch;
    this.confirmBatch = [];
    const owners = new Map<string, typeof batch>();
    for (const b of batch) owners.set(b.owner, [...(owners.get(b.owner) ?? []), b]);
    for (const [owner, group] of owners) {
      for (let i = 0; i < group.length; i += 500) {
        const part = group.slice(i, i + 500);
        try {
          await this.db.deleteFrom('openadr_vtn_pending').where('vtn_id', '=', this.vtnID)
            .where('seq', 'in', part.flatMap((p) => [...p.seqs])).where('lease_owner', '=', owner).execute();
          for (const p of part) p.resolve();
        } catch (err) {
          for (const p of part) p.reject(err);
        }
      }
    }
  }
  async release(venID: string, seqs: readonly number[], owner: string): Promise<void> {
    if (!seqs.length) return;
    await this.db.updateTable('openadr_vtn_pending').set({ lease_owner: null, lease_until: null })
      .where('vtn_id', '=', this.vtnID).where('ven_id', '=', venID).where('seq', 'in', [...seqs]).where('lease_owner', '=', owner).execute();
  }
  async ack(venID: string, seqs?: number[]): Promise<void> {
    if (seqs && !seqs.length) return;
    let q = this.db.deleteFrom('openadr_vtn_pending').where('vtn_id', '=', this.vtnID).where('ven_id', '=', venID);
    if (seqs) q = q.where('seq', 'in', seqs);
    await q.execute();
  }
  async countPending(venID: string): Promise<number> {
    const r = await this.db.selectFrom('openadr_vtn_pending').select((eb) => eb.fn.countAll().as('n'))
      .where('vtn_id', '=', this.vtnID).where('ven_id', '=', venID).executeTakeFirst();
    return toNumber((r as { n: unknown } | undefined)?.n ?? 0, 'count');
  }
  async pendingVens(now: number): Promise<string[]> {
    const rows = await this.db.selectFrom('openadr_vtn_pending').select('ven_id').distinct()
      .where('vtn_id', '=', this.vtnID).where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)])).execute();
    return rows.map((r) => (r as { ven_id: string }).ven_id);
  }
  async listPending(): Promise<{ venID: string; seq: number; entry: PendingEntry }[]> {
    const rows = await this.db.selectFrom('openadr_vtn_pending').select(['ven_id', 'seq', 'data']).where('vtn_id', '=', this.vtnID).orderBy('seq').execute();
    return rows.map((r) => {
      const row = r as { ven_id: string; seq: unknown; data: unknown };
      return { venID: row.ven_id, seq: toNumber(row.seq, 'seq'), entry: read<PendingEntry>(row.data, 'openadr_vtn_pending') };
    });
  }
}

/** A VEN's registration (venID, registrationID, VTN, poll frequency) in the store. */
export class StoreVenState implements VenStateStore {
  private readonly db: AnyDb;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, private readonly key: string) {
    this.db = store.db as AnyDb;
  }
  async load(): Promise<VenPersistedState | undefined> {
    const row = await this.db.selectFrom('openadr_ven_state').select('data').where('ven_key', '=', this.key).executeTakeFirst();
    return row ? read<VenPersistedState>((row as { data: unknown }).data, 'openadr_ven_state') : undefined;
  }
  async save(s: VenPersistedState): Promise<void> {
    const data = toJsonText(s);
    await this.db.insertInto('openadr_ven_state').values({ ven_key: this.key, data }).onConflict((oc) => oc.column('ven_key').doUpdateSet({ data })).execute();
  }
  async clear(): Promise<void> {
    await this.db.deleteFrom('openadr_ven_state').where('ven_key', 'in', [this.key, this.reportsKey]).execute();
  }
  /** The report requests sit beside the registration, under `<key>#report-requests`. */
  private get reportsKey(): string {
    return `${this.key}#report-requests`;
  }
  async loadReportRequests(): Promise<ReportRequest[]> {
    const row = await this.db.selectFrom('openadr_ven_state').select('data').where('ven_key', '=', this.reportsKey).executeTakeFirst();
    if (!row) return [];
    const doc = fromJsonText((row as { data: unknown }).data, reportRequestsSchema, 'openadr_ven_state report requests');
    return doc.requests as unknown as ReportRequest[];
  }
  async saveReportRequests(requests: ReportRequest[]): Promise<void> {
    const data = toJsonText({ requests });
    await this.db.insertInto('openadr_ven_state').values({ ven_key: this.reportsKey, data }).onConflict((oc) => oc.column('ven_key').doUpdateSet({ data })).execute();
  }
}

// Our own serialisation of ReportRequests; checked for shape so a damaged row fails here, by name.
const reportRequestsSchema = z.object({
  requests: z.array(z.object({
    reportRequestID: z.string(),
    reportSpecifier: z.object({ reportSpecifierID: z.string(), granularity: z.number(), reportBackDuration: z.number(), specifierPayloads: z.array(z.object({ rID: z.string() }).passthrough()) }).passthrough(),
  })),
});

/** The VEN outbox on the store's durable Outbox (one topic per VEN): reports survive restarts. */
export class StoreVenOutbox implements VenOutbox {
  private readonly outbox: Outbox<VenOutboxItem>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, private readonly topic: string, capacity = 100_000) {
    this.outbox = new Outbox<VenOutboxItem>(store, { capacity, overflow: 'drop-oldest' });
  }
  async add(item: VenOutboxItem): Promise<void> {
    await this.outbox.enqueue(this.topic, item);
  }
  async peek(limit: number): Promise<{ seq: number; item: VenOutboxItem }[]> {
    return (await this.outbox.peek(this.topic, limit)).map((e) => ({ seq: e.seq, item: e.payload }));
  }
  async ack(seqs: number[]): Promise<void> {
    await this.outbox.ack(this.topic, seqs);
  }
  size(): Promise<number> {
    return this.outbox.size(this.topic);
  }
}
