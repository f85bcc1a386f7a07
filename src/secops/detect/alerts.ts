/**
 * Alerts: what a rule firing becomes. Stored (table erab_detect_alert, SQLite or PostgreSQL), one
 * alert per rule and key within the rule's de-duplication window (later firings raise its count
 * and add evidence), at most `maxAlertsPerHour` new ones per rule delivered (the rest are stored
 * as `suppressed`), and acknowledged by a named operator, which is audited.
 */
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import type { AuditSink } from '../../core/audit-port.js';
import { InvalidInputError } from '../../core/errors.js';
import type { Migration } from '../../store/migrations.js';
import { addIdColumn, columnType, fromJsonText, toJsonText, toNumber } from '../../store/schema.js';
import type { Store } from '../../store/store.js';
import type { Firing } from './kinds.js';
import { evidenceOf, type Evidence, type Observation } from './observation.js';

export const detectMigrations: readonly Migration[] = [
  {
    name: '0001_detect',
    async up(db, ctx) {
      await db.schema.createTable('erab_detect_cursor')
        .addColumn('source', 'text', (c) => c.primaryKey())
        .addColumn('position', columnType.bigint, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema.createTable('erab_detect_rule_state')
        .addColumn('rule_id', 'text', (c) => c.primaryKey())
        .addColumn('state', columnType.json, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema.createTable('erab_detect_alert')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('rule_id', 'text', (c) => c.notNull())
        .addColumn('alert_key', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('description', columnType.json, (c) => c.notNull())
        .addColumn('guideline', columnType.json, (c) => c.notNull())
        .addColumn('first_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('last_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('raised_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('count', columnType.integer, (c) => c.notNull())
        .addColumn('evidence', columnType.json, (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('delivery', 'text', (c) => c.notNull())
        .addColumn('deliveries', columnType.json, (c) => c.notNull())
        .addColumn('acked_by', 'text')
        .addColumn('acked_at', columnType.epochMillis)
        .addColumn('ack_note', 'text')
        .addColumn('ack_audited', columnType.bool, (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('erab_detect_alert_rule_key').on('erab_detect_alert').columns(['rule_id', 'alert_key', 'last_at']).execute();
      await db.schema.createIndex('erab_detect_alert_status').on('erab_detect_alert').columns(['status', 'id']).execute();
    },
  },
];

export type AlertStatus = 'open' | 'acknowledged';
/** pending: not yet handed to channels; sent; failed (every channel failed); suppressed (rate limit). */
export type AlertDelivery = 'pending' | 'sent' | 'failed' | 'suppressed';

export interface Alert {
  id: number;
  ruleId: string;
  key: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  summary: string;
  description: { ja: string; en: string };
  guideline: string[];
  /** Time of the first and the latest firing event, epoch ms. */
  firstAt: number;
  lastAt: number;
  /** When the alert was raised (the engine's clock), epoch ms. */
  raisedAt: number;
  /** Firings merged into this alert. */
  count: number;
  evidence: Evidence[];
  status: AlertStatus;
  delivery: AlertDelivery;
  deliveries: { channel: string; ok: boolean; error?: string | undefined; at: number }[];
  ackedBy?: string | undefined;
  ackedAt?: number | undefined;
  ackNote?: string | undefined;
}

export interface AlertRow {
  id: unknown; rule_id: string; alert_key: string; severity: string; summary: string; description: string; guideline: string;
  first_at: unknown; last_at: unknown; raised_at: unknown; count: unknown; evidence: string; status: string; delivery: string; deliveries: string;
  acked_by: string | null; acked_at: unknown; ack_note: string | null; ack_audited: unknown;
}

export type DetectTables = {
  erab_detect_cursor: { source: string; position: number; updated_at: number };
  erab_detect_rule_state: { rule_id: string; state: string; updated_at: number };
  erab_detect_alert: AlertRow;
};

/** Evidence records kept per alert (the first ones and the latest). */
export const MAX_ALERT_EVIDENCE = 20;

const evidenceSchema = z.array(z.object({ source: z.string(), seq: z.number(), time: z.string(), type: z.string() }).passthrough());
const textSchema = z.object({ ja: z.string(), en: z.string() });
const deliveriesSchema = z.array(z.object({ channel: z.string(), ok: z.boolean(), error: z.string().optional(), at: z.number() }));

export function alertFromRow(r: AlertRow): Alert {
  return {
    id: toNumber(r.id, 'erab_detect_alert.id'),
    ruleId: r.rule_id,
    key: r.alert_key,
    severity: r.severity as Alert['severity'],
    summary: r.summary,
    description: fromJsonText(r.description, textSchema, 'erab_detect_alert.description'),
    guideline: fromJsonText(r.guideline, z.array(z.string()), 'erab_detect_alert.guideline'),
    firstAt: toNumber(r.first_at), lastAt: toNumber(r.last_at), raisedAt: toNumber(r.raised_at),
    count: toNumber(r.count),
    evidence: fromJsonText(r.evidence, evidenceSchema, 'erab_detect_alert.evidence') as Evidence[],
    status: r.status as AlertStatus,
    delivery: r.delivery as AlertDelivery,
    deliveries: fromJsonText(r.deliveries, deliveriesSchema, 'erab_detect_alert.deliveries'),
    ...(r.acked_by !== null ? { ackedBy: r.acked_by } : {}),
    ...(r.acked_at !== null && r.acked_at !== undefined ? { ackedAt: toNumber(r.acked_at) } : {}),
    ...(r.ack_note !== null ? { ackNote: r.ack_note } : {}),
  };
}

type Db = Kysely<DetectTables>;

interface OpenAlert {
  alert: Alert;
  /** Observations of firings merged since the alert was last written (the latest). */
  pending: Observation[];
  /** Highest evidence position per source already counted. */
  seen: Record<string, number>;
  dirty: boolean;
}

/** The alert with its pending evidence merged in: the first evidence (how it started) and the latest. */
function withPending(e: OpenAlert): Alert {
  if (e.pending.length === 0) return { ...e.alert };
  const all = [...e.alert.evidence, ...e.pending.map(evidenceOf)];
  const evidence = all.length <= MAX_ALERT_EVIDENCE ? all : [...all.slice(0, MAX_ALERT_EVIDENCE / 2), ...all.slice(-MAX_ALERT_EVIDENCE / 2)];
  return { ...e.alert, evidence };
}
type DbOrTrx = Kysely<DetectTables>;

/**
 * The alert table. Works inside the caller's transaction (the service commits alerts together
 * with the rule state and cursors, so a restart never raises an alert twice).
 * @example
 * const book = new AlertBook(store);
 * (await book.list({ status: 'open' }))[0]?.summary;
 * await book.acknowledge(7, 'op-sato', 'known scan from the test lab', audit);
 */
export class AlertBook {
  readonly db: Db;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>) {
    this.db = store.db as unknown as Db;
  }

  /**
   * Open alerts by rule and key, with the firings merged into them since they were last written
   * (count, latest time, the observations of the latest firings): a flood of firings is counted
   * in memory and written once per state commit ({@link flushMerges}), not once per firing.
   */
  private readonly open = new Map<string, OpenAlert>();
  /** Per rule: when its recent alerts (not suppressed) were raised, for the hourly limit; loaded once per rule. */
  private readonly raised = new Map<string, number[]>();

  /**
   * Records a firing (or `count` firings of one rule and key coalesced by the caller): merged
   * into the open alert of the same rule and key when its last firing is within the rule's
   * de-duplication window, else a new alert (delivery `pending`, or `suppressed` past the rule's
   * hourly limit). A firing whose evidence the alert already holds (records evaluated again
   * after a crash) is not counted again. Returns the alert and whether it is new.
   */
  async record(trx: DbOrTrx, f: Firing, now: number, count = 1): Promise<{ alert: Alert; isNew: boolean }> {
    const cacheKey = `${f.rule.id}\u0000${f.key}`;
    let entry = this.cachedOpen(cacheKey, f);
    if (!entry) {
      const row = await trx.selectFrom('erab_detect_alert').selectAll()
        .where('rule_id', '=', f.rule.id).where('alert_key', '=', f.key).where('status', '=', 'open')
        .where('last_at', '>=', f.time - f.rule.dedupWindowMs)
        .orderBy('id', 'desc').limit(1).executeTakeFirst();
      if (row) entry = this.remember(cacheKey, alertFromRow(row));
    }
    if (entry) return { alert: this.merge(entry, f, count), isNew: false };
    return this.insertNew(trx, cacheKey, f, now, count);
  }

  /**
   * Merges a firing into its open alert when that alert is in memory (no store access: counted,
   * written by the next {@link flushMerges}); false when the firing needs {@link record}.
   */
  mergeCached(f: Firing, count = 1): boolean {
    const entry = this.cachedOpen(`${f.rule.id}\u0000${f.key}`, f);
    if (!entry) return false;
    this.merge(entry, f, count);
    return true;
  }

  private cachedOpen(cacheKey: string, f: Firing): OpenAlert | undefined {
    const entry = this.open.get(cacheKey);
    return entry && entry.alert.lastAt >= f.time - f.rule.dedupWindowMs ? entry : undefined;
  }

  private merge(entry: OpenAlert, f: Firing, count: number): Alert {
    const trigger = f.evidence[f.evidence.length - 1];
    if (trigger && trigger.source !== 'feed' && (entry.seen[trigger.source] ?? -1) >= trigger.seq) return { ...entry.alert };
    const a = entry.alert;
    a.count += count;
    a.lastAt = Math.max(a.lastAt, f.time);
    a.summary = f.summary;
    for (const o of f.evidence) {
      entry.pending.push(o);
      if (o.source !== 'feed') entry.seen[o.source] = Math.max(entry.seen[o.source] ?? -1, o.seq);
    }
    if (entry.pending.length > MAX_ALERT_EVIDENCE) entry.pending.splice(0, entry.pending.length - MAX_ALERT_EVIDENCE);
    entry.dirty = true;
    return { ...a };
  }

  private async insertNew(trx: DbOrTrx, cacheKey: string, f: Firing, now: number, count: number): Promise<{ alert: Alert; isNew: boolean }> {
    let times = this.raised.get(f.rule.id);
    if (!times) {
      const rows = await trx.selectFrom('erab_detect_alert').select('raised_at')
        .where('rule_id', '=', f.rule.id).where('raised_at', '>=', now - 3_600_000).where('delivery', '!=', 'suppressed').execute();
      times = rows.map((x) => toNumber(x.raised_at)).sort((a, b) => a - b);
      this.raised.set(f.rule.id, times);
    }
    while (times.length > 0 && times[0]! < now - 3_600_000) times.shift();
    const delivery: AlertDelivery = times.length >= f.rule.maxAlertsPerHour ? 'suppressed' : 'pending';
    if (delivery === 'pending') times.push(now);
    const evidence = f.evidence.slice(-MAX_ALERT_EVIDENCE).map(evidenceOf);
    const row = {
      rule_id: f.rule.id, alert_key: f.key, severity: f.rule.severity, summary: f.summary,
      description: toJsonText(f.rule.description), guideline: toJsonText(f.rule.guideline),
      first_at: f.time, last_at: f.time, raised_at: now, count, evidence: toJsonText(evidence),
      status: 'open', delivery, deliveries: '[]', acked_by: null, acked_at: null, ack_note: null, ack_audited: 0,
    };
    const ins = await trx.insertInto('erab_detect_alert').values(row as never).returning('id').executeTakeFirstOrThrow();
    const id = toNumber((ins as { id: unknown }).id, 'erab_detect_alert.id');
    const alert = alertFromRow({ ...row, id } as AlertRow);
    this.remember(cacheKey, alert);
    return { alert, isNew: true };
  }

  /**
   * Writes the merges {@link record} kept in memory (count, latest time, evidence). One that finds
   * its alert no longer open (acknowledged by another process meanwhile) is dropped, and the
   * next firing of that rule and key raises a new alert. `limit` bounds the alerts written in
   * this call (a commit that must stay short); returns how many merges are still to be written.
   */
  async flushMerges(trx: DbOrTrx, limit = Infinity): Promise<number> {
    const all = [...this.open].filter(([, e]) => e.dirty);
    const dirty = all.length > limit ? all.slice(0, limit) : all;
    for (let i = 0; i < dirty.length; i += 200) {
      const part = dirty.slice(i, i + 200);
      const ids = part.map(([, e]) => e.alert.id);
      // Acknowledged meanwhile (by another process): dropped; the next firing raises a new alert.
      const closed = new Set((await trx.selectFrom('erab_detect_alert').select('id').where('id', 'in', ids).where('status', '!=', 'open').execute()).map((r) => toNumber(r.id)));
      const rows = part.filter(([key, e]) => {
        if (!closed.has(e.alert.id)) return true;
        this.open.delete(key);
        return false;
      }).map(([, e]) => {
        e.alert = withPending(e);
        e.pending = [];
        e.dirty = false;
        return e.alert;
      });
      if (rows.length === 0) continue;
      // One statement per 200 alerts (CASE over the id): a flood touching thousands of keys is a few writes a second.
      const cases = (col: (a: Alert) => unknown, type: string) => sql.join(rows.map((a) => sql`when ${a.id} then cast(${col(a)} as ${sql.raw(type)})`), sql` `);
      await sql`update erab_detect_alert set
          count = case id ${cases((a) => a.count, 'integer')} end,
          last_at = case id ${cases((a) => a.lastAt, 'bigint')} end,
          summary = case id ${cases((a) => a.summary, 'text')} end,
          evidence = case id ${cases((a) => toJsonText(a.evidence), 'text')} end
        where id in (${sql.join(rows.map((a) => a.id))}) and status = 'open'`.execute(trx);
    }
    return all.length - dirty.length;
  }

  /** Merges recorded in memory and not yet written. */
  get unflushed(): number {
    let n = 0;
    for (const e of this.open.values()) if (e.dirty) n++;
    return n;
  }

  private remember(key: string, a: Alert): OpenAlert {
    const seen: Record<string, number> = {};
    for (const e of a.evidence) if (e.source !== 'feed') seen[e.source] = Math.max(seen[e.source] ?? -1, e.seq);
    const entry: OpenAlert = { alert: { ...a }, pending: [], seen, dirty: false };
    this.open.delete(key);
    if (this.open.size >= 10_000) {
      // Evict a clean entry (a dirty one still has merges to write).
      for (const [k, e] of this.open) if (!e.dirty) { this.open.delete(k); break; }
    }
    this.open.set(key, entry);
    return entry;
  }

  /**
   * Forgets what was cached (call after a transaction that used {@link record} rolled back, so
   * the cache does not hold alerts that were never stored).
   */
  forget(): void {
    this.open.clear();
    this.raised.clear();
  }

  async setDelivery(id: number, delivery: AlertDelivery, deliveries: Alert['deliveries']): Promise<void> {
    await this.setDeliveries([{ id, delivery, deliveries }]);
  }

  /** Several delivery outcomes in one transaction (one commit, not one per alert). */
  async setDeliveries(items: readonly { id: number; delivery: AlertDelivery; deliveries: Alert['deliveries'] }[]): Promise<void> {
    if (items.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const { id, delivery, deliveries } of items) {
        await trx.updateTable('erab_detect_alert').set({ delivery, deliveries: toJsonText(deliveries) }).where('id', '=', id).execute();
      }
    });
  }

  async get(id: number): Promise<Alert | undefined> {
    const r = await this.db.selectFrom('erab_detect_alert').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.current(r) : undefined;
  }

  /** Alerts, newest first; `beforeId` pages on (the operator API). */
  async list(opts: { status?: AlertStatus; ruleId?: string; limit?: number; beforeId?: number } = {}): Promise<Alert[]> {
    let q = this.db.selectFrom('erab_detect_alert').selectAll();
    if (opts.status) q = q.where('status', '=', opts.status);
    if (opts.beforeId !== undefined) q = q.where('id', '<', opts.beforeId);
    if (opts.ruleId) q = q.where('rule_id', '=', opts.ruleId);
    const rows = await q.orderBy('id', 'desc').limit(Math.min(opts.limit ?? 100, 10_000)).execute();
    return rows.map((r) => this.current(r));
  }

  /** A stored row with the merges not yet written applied. */
  private current(r: AlertRow): Alert {
    const a = alertFromRow(r);
    if (a.status !== 'open') return a;
    for (const e of this.open.values()) if (e.alert.id === a.id && e.dirty) return { ...withPending(e), delivery: a.delivery, deliveries: a.deliveries };
    return a;
  }

  /**
   * An operator acknowledges an alert. With `audit`, the acknowledgement is audited here; without
   * one (the CLI while the role's process holds its audit log) it is marked for the running
   * detection service to audit (see {@link auditPendingAcks}).
   */
  async acknowledge(id: number, operator: string, note: string | undefined, audit?: AuditSink, now = Date.now()): Promise<Alert> {
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(operator)) throw new InvalidInputError(`operator "${operator.slice(0, 80)}": must be 1-64 letters, digits, . _ @ -`);
    if (note !== undefined && note.length > 1000) throw new InvalidInputError('acknowledgement note: at most 1000 characters');
    const a = await this.get(id);
    if (!a) throw new InvalidInputError(`alert ${id}: no such alert`);
    if (a.status === 'acknowledged') throw new InvalidInputError(`alert ${id}: already acknowledged by ${a.ackedBy ?? '?'} at ${new Date(a.ackedAt ?? 0).toISOString()}`);
    await this.db.updateTable('erab_detect_alert')
      .set({ status: 'acknowledged', acked_by: operator, acked_at: now, ack_note: note ?? null, ack_audited: audit ? 1 : 0 })
      .where('id', '=', id).where('status', '=', 'open').execute();
    for (const [k, c] of this.open) if (c.alert.id === id) this.open.delete(k);
    const acked = { ...a, status: 'acknowledged' as const, ackedBy: operator, ackedAt: now, ...(note !== undefined ? { ackNote: note } : {}) };
    if (audit) audit.append(ackRecord(acked));
    return acked;
  }

  /** Audits acknowledgements recorded without an audit sink; returns how many. */
  async auditPendingAcks(audit: AuditSink): Promise<number> {
    const rows = await this.db.selectFrom('erab_detect_alert').selectAll().where('status', '=', 'acknowledged').where('ack_audited', '=', 0).limit(1000).execute();
    for (const r of rows) {
      audit.append(ackRecord(alertFromRow(r)));
      await this.db.updateTable('erab_detect_alert').set({ ack_audited: 1 }).where('id', '=', r.id as number).execute();
    }
    return rows.length;
  }
}

function ackRecord(a: Alert) {
  return {
    actor: { kind: 'operator' as const, id: a.ackedBy ?? 'unknown' },
    action: 'detect.alert.acknowledge',
    target: `alert:${a.id}`,
    outcome: 'success' as const,
    details: { ruleId: a.ruleId, key: a.key, severity: a.severity, count: a.count, ackedAt: a.ackedAt, ...(a.ackNote !== undefined ? { note: a.ackNote } : {}) },
  };
}
