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
  /** Records evaluated per pass at most: alerts are committed and delivered after each pass (default 10,000). */
  maxRecordsPerPass?: number;
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
  let carried: { firings: Firing[]; dirty: Record<string, unknown> } = { firings: [], dirty: {} };

  const deliver = (a: Alert): void => {
    const p = deliverToChannels(a, o.channels, () => clock.now())
      .then((results) => alerts.setDelivery(a.id, results.length === 0 || results.some((r) => r.ok) ? 'sent' : 'failed', results))
      .catch((e: unknown) => o.log?.('alert delivery not recorded', { alert: a.id, error: describeError(e) }))
      .finally(() => deliveries.delete(p));
    deliveries.add(p);
  };

  let stateSavedAt = 0;
  let backlog = false;
  const pass = async (final = false): Promise<void> => {
    stats.passes++;
    backlog = false;
    const firings: Firing[] = [];
    const observe = (obs: Observation): void => { engine.observe(obs, firings); };
    let audited = 0;
    // Read until caught up; commit after every few MiB so a long backlog is not one transaction.
    for (;;) {
      const n = tail.read((a) => engine.wants(a), observe);
      audited += n;
      if (n === 0) break;
      if (audited >= (o.maxRecordsPerPass ?? 10_000)) {
        backlog = true; // more is waiting: the next pass starts at once
        break;
      }
    }
    const rows = telemetry ? await telemetry.read(observe) : 0;
    const fed = feed.splice(0);
    for (const f of fed) observe(f);
    firings.push(...engine.tick(clock.now()));
    // What a failed commit left behind is committed with this pass.
    firings.unshift(...carried.firings);
    // Rule state is large (evidence per key): it and the cursors are committed together, at most every stateEveryMs.
    const saveState = final || performance.now() - stateSavedAt >= (o.stateEveryMs ?? 2000);
    const dirty = saveState ? { ...carried.dirty, ...engine.takeDirty() } : carried.dirty;
    carried = { firings: [], dirty: saveState ? {} : carried.dirty };
    stats.evaluated += audited + rows + fed.length;
    stats.firings += firings.length;
    if (firings.length === 0 && !saveState) return; // nothing to commit yet: state and cursors go with the next state commit
    if (audited === 0 && rows === 0 && fed.length === 0 && firings.length === 0 && Object.keys(dirty).length === 0) return;
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
    const raised = await db.transaction().execute(async (trx) => {
      const out: Alert[] = [];
      for (const { f, n, evidence } of byKey.values()) {
        // A new alert gets one firing; the rest of the pass merges into it (its count).
        const r = await alerts.record(trx, { ...f, evidence: n === 1 ? f.evidence : evidence }, now, n);
        if (r.isNew && r.alert.delivery === 'pending') out.push(r.alert);
        if (r.isNew) stats.alertsRaised++;
      }
      if (!saveState) return out;
      stateSavedAt = performance.now();
      await alerts.flushMerges(trx);
      for (const [rule_id, state] of Object.entries(dirty)) {
        const row = { rule_id, state: JSON.stringify(state ?? null), updated_at: now };
        await trx.insertInto('erab_detect_rule_state').values(row).onConflict((oc) => oc.column('rule_id').doUpdateSet({ state: row.state, updated_at: now })).execute();
      }
      for (const [source, position] of [[CURSOR_AUDIT, tail.cursor], [CURSOR_TELEMETRY, telemetry?.cursor ?? 0]] as const) {
        await trx.insertInto('erab_detect_cursor').values({ source, position, updated_at: now })
          .onConflict((oc) => oc.column('source').doUpdateSet({ position, updated_at: now })).execute();
      }
      return out;
    }).catch((err: unknown) => {
      alerts.forget();
      carried = { firings, dirty };
      throw err;
    });
    for (const a of raised) deliver(a);
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
      if (!stopped) timer = setTimeout(loop, backlog ? 0 : o.pollMs ?? 200);
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
