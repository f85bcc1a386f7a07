/**
 * Continuous detection for a running role: tails the role's audit log and the telemetry its
 * store keeps, evaluates every enabled rule, and raises alerts. A new alert is committed at the end
 * of the pass that raised it (then delivered); the rule state, both cursors and the merges into
 * open alerts are committed together in one transaction every `stateEveryMs` and at stop, so a
 * restart resumes exactly where the last commit left off. After a crash the records since that
 * commit are evaluated again and what they fire is recognised by its evidence (AlertBook.record):
 * no alert is raised or counted twice. An alert committed but not yet delivered is delivered at
 * the next start.
 *
 * @example
 * const detection = await startDetection({ store, auditLog, rules: loadRules(), channels: [new ConsoleChannel()] });
 * await detection.alerts.list({ status: 'open' });
 * await detection.stop();
 */
import { systemClock, type Clock } from '../../core/clock.js';
import type { AuditSink } from '../../core/audit-port.js';
import { describeError } from '../../core/errors.js';
import { runMigrations } from '../../store/migrations.js';
import type { Store } from '../../store/store.js';
import { AlertBook, detectMigrations, type Alert, type DetectTables } from './alerts.js';
import { deliverToChannels, type AlertChannel } from './channels.js';
import { DetectionEngine } from './engine.js';
import type { Firing } from './kinds.js';
import type { Observation } from './observation.js';
import type { Rule } from './rules.js';
import { AuditTail, TelemetrySource } from './sources.js';
import type { Kysely } from 'kysely';

export interface DetectionOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  store: Store<any>;
  /** The role's audit log (an AuditLog, whose directory is tailed and which records acknowledgements), or its directory. */
  auditLog: { dir: string } | string;
  rules: readonly Rule[];
  channels: readonly AlertChannel[];
  /** Where acknowledgements made elsewhere (the CLI) are audited; default `auditLog` when it is a sink. */
  audit?: AuditSink;
  /** Read the gateway telemetry the store keeps (default true). */
  telemetry?: boolean;
  /** How often new records are looked for, real ms (default 200). */
  pollMs?: number;
  /**
   * Evaluation between two commits, at most: records (default 10,000) and real ms (default 50).
   * What fired is committed and delivered after each such slice, so a backlog (a restart, a
   * flood) delays an alert by one slice, not by the whole backlog.
   */
  sliceRecords?: number;
  sliceMs?: number;
  /**
   * How often the rule state, the cursors and the merges into open alerts are committed, real ms
   * (default 2000; always at stop; new alerts are committed at once).
   * After a crash the records since are evaluated again; what they fire is recognised by its
   * evidence and not counted twice (see AlertBook.record).
   */
  stateEveryMs?: number;
  /** The clock silence is measured on (default the system clock). */
  clock?: Clock;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface DetectionStats {
  auditCursor: number;
  telemetryCursor: number;
  evaluated: number;
  firings: number;
  alertsRaised: number;
  passes: number;
}

export interface RunningDetection {
  readonly engine: DetectionEngine;
  readonly alerts: AlertBook;
  /** Hands the engine an observation that is not in the audit log or the store (e.g. the closed loop's delivered vs instructed power). */
  observe(o: Omit<Observation, 'source' | 'seq'>): void;
  /** Runs one pass now (reads everything new, evaluates, commits, delivers); resolves when done. */
  runOnce(): Promise<void>;
  /** Resolves when every delivery started so far has finished. */
  settled(): Promise<void>;
  stats(): DetectionStats;
  stop(): Promise<void>;
}

const CURSOR_AUDIT = 'audit';
const CURSOR_TELEMETRY = 'telemetry';
/** Audit log bytes read at a time (about 800 records) between checks of the slice's budget. */
const AUDIT_SLICE_BYTES = 256 * 1024;
/** Open alerts whose merges one state step writes (each step a short transaction). */
const MERGES_PER_COMMIT = 200;

/** Starts continuous detection; resolves after state is loaded and the first pass has run. */
export async function startDetection(o: DetectionOptions): Promise<RunningDetection> {
  const clock = o.clock ?? systemClock;
  const dir = typeof o.auditLog === 'string' ? o.auditLog : o.auditLog.dir;
  const audit = o.audit ?? (typeof o.auditLog !== 'string' && 'append' in o.auditLog ? (o.auditLog as unknown as AuditSink) : undefined);
  await runMigrations(o.store.db, o.store.dialect, detectMigrations, { ignoreUnknownApplied: true, ...(o.store.schema ? { schema: o.store.schema } : {}) });
  const db = o.store.db as Kysely<DetectTables>;
  const engine = new DetectionEngine(o.rules);
  const alerts = new AlertBook(o.store);

  const cursors = new Map((await db.selectFrom('erab_detect_cursor').selectAll().execute()).map((r) => [r.source, Number(r.position)]));
  const states = await db.selectFrom('erab_detect_rule_state').selectAll().execute();
  engine.loadState(Object.fromEntries(states.map((s) => [s.rule_id, JSON.parse(s.state) as unknown])));
  const tail = new AuditTail(dir, cursors.get(CURSOR_AUDIT) ?? -1);
  const telemetry = o.telemetry === false ? undefined : new TelemetrySource(db, cursors.get(CURSOR_TELEMETRY) ?? 0);
  const feed: Observation[] = [];
  let feedSeq = 0;
  const stats = { evaluated: 0, firings: 0, alertsRaised: 0, passes: 0 };
  const deliveries = new Set<Promise<void>>();
  let carried: Firing[] = [];

  // Delivery outcomes that finish in the same turn of the event loop are written in one transaction.
  type Outcome = Parameters<AlertBook['setDeliveries']>[0][number];
  let batch: { items: Outcome[]; written: Promise<void> } | undefined;
  const recordDelivery = (item: Outcome): Promise<void> => {
    if (!batch) {
      const b: { items: Outcome[]; written: Promise<void> } = { items: [], written: Promise.resolve() };
      b.written = new Promise<void>((r) => setImmediate(r)).then(() => {
        batch = undefined;
        return alerts.setDeliveries(b.items);
      });
      batch = b;
    }
    batch.items.push(item);
    return batch.written;
  };
  const deliver = (a: Alert): void => {
    const p = deliverToChannels(a, o.channels, () => clock.now())
      .then((results) => recordDelivery({ id: a.id, delivery: results.length === 0 || results.some((r) => r.ok) ? 'sent' : 'failed', deliveries: results }))
      .catch((e: unknown) => o.log?.('alert delivery not recorded', { alert: a.id, error: describeError(e) }))
      .finally(() => deliveries.delete(p));
    deliveries.add(p);
  };

  const sliceRecords = o.sliceRecords ?? 10_000;
  const sliceMs = o.sliceMs ?? 50;
  const stateEveryMs = o.stateEveryMs ?? 2000;
  let stateSavedAt = 0;
  let savedCursors = '';
  let backlog = false;
  let carriedDirty: Record<string, unknown> = {};

  /**
   * Commits the alerts these firings raise or merge into (merges are counted in memory, written
   * by the state commit) in one short transaction, then hands the new ones to the channels.
   */
  const commitFirings = async (firings: Firing[]): Promise<void> => {
    if (firings.length === 0) return;
    const now = clock.now();
    // Firings of one rule and key in this pass are one merge: a flood costs one row write per key.
    const byKey = new Map<string, { f: Firing; n: number; evidence: Observation[] }>();
    for (const f of firings) {
      const k = `${f.rule.id}\u0000${f.key}`;
      const c = byKey.get(k);
      if (!c) byKey.set(k, { f, n: 1, evidence: [...f.evidence] });
      else {
        c.n++;
        c.f = f;
        if (c.evidence.length < 10) c.evidence.push(...f.evidence);
        else c.evidence.splice(5, c.evidence.length - 5, ...f.evidence.slice(-5));
      }
    }
    // Firings into open alerts held in memory are counted there (written by the state commit):
    // only new alerts (and alerts not in memory) cost a transaction, and its fsync.
    const rest = [...byKey.values()].filter(({ f, n, evidence }) => !alerts.mergeCached({ ...f, evidence: n === 1 ? f.evidence : evidence }, n));
    if (rest.length === 0) return;
    const raised = await db.transaction().execute(async (trx) => {
      const out: Alert[] = [];
      for (const { f, n, evidence } of rest) {
        // A new alert gets one firing; the rest of the pass merges into it (its count).
        const r = await alerts.record(trx, { ...f, evidence: n === 1 ? f.evidence : evidence }, now, n);
        if (r.isNew && r.alert.delivery === 'pending') out.push(r.alert);
        if (r.isNew) stats.alertsRaised++;
      }
      return out;
    }).catch((err: unknown) => {
      alerts.forget();
      carried = firings; // committed with the next pass
      throw err;
    });
    for (const a of raised) deliver(a);
  };

  /**
   * The state commit: merges into open alerts, rule state and both cursors. The merges go first,
   * at most MERGES_PER_COMMIT alerts per transaction with evaluation in between, so a flood that
   * touched thousands of alerts never holds the loop (and the next alert) for long; rule state
   * and cursors are then written together with what merges remain, in one transaction.
   */
  const commitState = async (final: boolean): Promise<void> => {
    const overdue = performance.now() - stateSavedAt >= 2 * stateEveryMs;
    if (!final && !overdue && alerts.unflushed > MERGES_PER_COMMIT) {
      await db.transaction().execute((trx) => alerts.flushMerges(trx, MERGES_PER_COMMIT)).catch((err: unknown) => {
        alerts.forget();
        throw err;
      });
      backlog = true; // the rest after the next evaluation slice
      return;
    }
    const dirty = { ...carriedDirty, ...engine.takeDirty() };
    carriedDirty = {};
    const cursors = `${tail.cursor}/${telemetry?.cursor ?? 0}`;
    if (Object.keys(dirty).length === 0 && alerts.unflushed === 0 && cursors === savedCursors) {
      stateSavedAt = performance.now(); // nothing changed: no write
      return;
    }
    const now = clock.now();
    await db.transaction().execute(async (trx) => {
      await alerts.flushMerges(trx);
      for (const [rule_id, state] of Object.entries(dirty)) {
        const row = { rule_id, state: JSON.stringify(state ?? null), updated_at: now };
        await trx.insertInto('erab_detect_rule_state').values(row).onConflict((oc) => oc.column('rule_id').doUpdateSet({ state: row.state, updated_at: now })).execute();
      }
      for (const [source, position] of [[CURSOR_AUDIT, tail.cursor], [CURSOR_TELEMETRY, telemetry?.cursor ?? 0]] as const) {
        await trx.insertInto('erab_detect_cursor').values({ source, position, updated_at: now })
          .onConflict((oc) => oc.column('source').doUpdateSet({ position, updated_at: now })).execute();
      }
    }).catch((err: unknown) => {
      alerts.forget();
      carriedDirty = dirty;
      throw err;
    });
    savedCursors = cursors;
    stateSavedAt = performance.now();
  };

  /**
   * One pass: evaluate what is new, at most one slice (`sliceRecords` records or `sliceMs`, read
   * AUDIT_SLICE_BYTES at a time), commit and deliver what it fired, then (every stateEveryMs) one
   * step of the state commit. An alert is delivered after at most one slice of evaluation, one
   * short transaction and one bounded state step — not after a whole backlog or a whole state
   * commit. A pass that stopped early has the next one start at once.
   */
  const pass = async (final = false): Promise<void> => {
    stats.passes++;
    backlog = false;
    // What a failed commit left behind is committed with this pass.
    const firings: Firing[] = carried;
    carried = [];
    const observe = (obs: Observation): void => { engine.observe(obs, firings); };
    let audited = 0;
    const sliceEnd = performance.now() + sliceMs;
    for (;;) {
      const n = tail.read((a) => engine.wants(a), observe, AUDIT_SLICE_BYTES);
      audited += n;
      if (n === 0) break;
      if (audited >= sliceRecords || performance.now() >= sliceEnd) {
        backlog = true; // more may be waiting: the next pass starts at once
        break;
      }
    }
    const rows = telemetry ? await telemetry.read(observe) : 0;
    const fed = feed.splice(0);
    for (const f of fed) observe(f);
    firings.push(...engine.tick(clock.now()));
    stats.evaluated += audited + rows + fed.length;
    stats.firings += firings.length;
    await commitFirings(firings);
    if (final || performance.now() - stateSavedAt >= stateEveryMs) await commitState(final);
  };

  // Alerts a crash left between commit and delivery.
  for (const a of (await alerts.list({ limit: 1000 })).filter((x) => x.delivery === 'pending')) deliver(a);

  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const runOnce = (): Promise<void> => {
    running = running.catch(() => {}).then(() => pass()).then(async () => {
      if (audit) await alerts.auditPendingAcks(audit);
    });
    return running;
  };
  const loop = (): void => {
    if (stopped) return;
    runOnce().catch((e: unknown) => o.log?.('detection pass failed', { error: describeError(e) })).finally(() => {
      if (stopped) return;
      // More is waiting (a slice stopped early, merges left to write): go on at once.
      if (backlog) setImmediate(loop);
      else timer = setTimeout(loop, o.pollMs ?? 200);
    });
  };
  await runOnce();
  timer = setTimeout(loop, o.pollMs ?? 200);

  return {
    engine,
    alerts,
    observe(obs) {
      feed.push({ ...obs, source: 'feed', seq: ++feedSeq } as Observation);
    },
    runOnce,
    async settled() {
      while (deliveries.size > 0) await Promise.all([...deliveries]);
    },
    stats: () => ({ ...stats, evaluated: stats.evaluated, auditCursor: tail.cursor, telemetryCursor: telemetry?.cursor ?? 0 }),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running.catch(() => {});
      // The last state and cursors, so a restart resumes exactly here.
      running = pass(true).catch((e: unknown) => o.log?.('detection: final state not saved', { error: describeError(e) }));
      await running;
      while (deliveries.size > 0) await Promise.all([...deliveries]);
    },
  };
}
