/**
 * The running aggregator (`erab aggregator run`): composes the downstream VTN (gateways and
 * sub-aggregators), one upstream VEN per party, the dispatch engine with its closed loop, the
 * portfolio (resource ratings and owner constraints from the store) and the two-person rule for
 * operator commands, and exposes status and the target-vs-delivered series.
 *
 * With `downstream.workers` ≠ 1 (PostgreSQL) the downstream VTN is served by worker processes
 * (r4-workers.ts) and this process keeps a non-listening engine that creates the gateways'
 * events; what the gateways send reaches the hooks below through the store (r4-relay.ts).
 *
 * @example
 *   const agg = await startAggregator(loadAggregatorConfig('aggregator.json'));
 *   agg.status().events[0]?.deliveredW;
 *   agg.eventSeries('tso/E1');
 *   await agg.stop();
 */
import { SOFTWARE_REPORT_PATH } from '../../common/software-report.js';
import { gatewaySoftwareRoute } from '../portfolio/software.js';
import type { ExtraRoute } from '../../../protocols/openadr/http.js';
import { systemClock, type Clock, type TimerHandle } from '../../../core/clock.js';
import { describeError } from '../../../core/errors.js';
import { AuditLog } from '../../../security/audit/log.js';
import type { AuditSink } from '../../../security/audit/types.js';
import type { LogFn, Logger } from '../../../core/logger.js';
import type { RoleHealth } from '../../common/health.js';
import { observeRole, outboxDepths, storeReadiness, watchVtnQueue } from '../../common/observability.js';
import { openRoleWitness, witnessRoutes } from '../../common/witnessing.js';
import { UpdateOffers } from '../../../endpoints/openadr/update-offers.js';
import { TlsMaterial, type RefusalPage } from '../../../security/tls.js';
import type { Kysely } from 'kysely';
import { composeMigrations, type Migration } from '../../../store/migrations.js';
import { openStore, type Store } from '../../../store/store.js';
import { vaultFromEnvironment } from '../../../store/vault.js';
import type { WorkerPool } from '../../common/workers.js';
import { Portfolio } from '../portfolio/portfolio.js';
import { applyRetention, scheduleRetention } from '../portfolio/retention.js';
import type { PortfolioTables } from '../portfolio/tables.js';
import type { ImportFormat, ImportSummary } from '../portfolio/import.js';
import { readPortfolioSpecs, specFromPortfolio } from './portfolio-source.js';
import { startConsole } from './console.js';
import { OperatorRoleTable } from '../../common/operator-roles.js';
import { ApprovalBook, type CommandRecord, type ManualCommand, type OperatorIdentity } from './approvals.js';
import type { AggregatorConfig } from './config.js';
import { DownstreamVtn, r4VtnId } from './downstream.js';
import { RelayConsumer } from './r4-relay.js';
import { aggregatorMigrations, r4Options, startR4Pool } from './r4-workers.js';
import { DispatchEngine, type RefusalNote } from './engine.js';
import { EventBook } from './event-book.js';
import { Fleet, type ResourceSpec } from './fleet.js';
import { decideAdmission, type AdmissionDecision, type AdmissionSent } from './device-admission.js';
import { ADMISSION_STATES, type AdmissionStateName } from '../../common/admission-signal.js';
import type { SeriesSample } from './series.js';
import { UpstreamParty, type UpstreamStatus } from './upstream.js';
import { attachAll, DeliveryFeed, type Attach } from '../../common/composition.js';

/** Things a caller may inject (tests, the demo): time, the audit sink, a log function, portfolio specs. */
export interface AggregatorDeps {
  clock?: Clock;
  audit?: AuditSink;
  log?: LogFn;
  /** Resource specs to use instead of reading the portfolio from the store (tests). */
  portfolio?: readonly ResourceSpec[];
  /** The operator console page served at `/` of the operator endpoint (src/web/console-page.ts). */
  consolePage?: { html: string; csp: string; refused?: RefusalPage };
  /**
   * More POST routes on the downstream (R4) listener, behind its mutual TLS and allow-list, e.g.
   * the gateway notice board of src/secops/notify (a layer above roles, wired by the caller).
   */
  routes?: ReadonlyMap<string, ExtraRoute>;
  /** Where refusals (warn) and failures (error) from the audit log are logged. */
  logger?: Logger;
  /**
   * Migrations of modules above the role that keep their tables in its store (secops: the
   * vulnerability inventory and findings), composed in by the CLI so that a store `erab vuln`
   * has written to still opens.
   */
  extraMigrations?: readonly Migration[];
  /**
   * Modules above the role (secops: detection, vulnerability re-evaluation) attach here once the
   * store is open, and are stopped with the role (src/roles/common/composition.ts).
   */
  attach?: readonly Attach[];
}

/** One event in the status object. */
export interface EventStatusView {
  key: string;
  party: string;
  eventId: string;
  modificationNumber: number;
  state: string;
  direction: 'reduce' | 'increase';
  start: number;
  end: number;
  targetW: number;
  instructedW: number;
  deliveredW: number | null;
  nonResponding: string[];
  uncoveredW: number;
  resources: number;
  gateways: number;
}

/** Everything the operator's live view and the demo need, JSON-serialisable. */
export interface AggregatorStatus {
  id: string;
  time: number;
  downstreamPort: number;
  /** The R4 worker processes, when `downstream.workers` ≠ 1. */
  downstreamWorkers?: { pids: number[]; restarts: number };
  gateways: { venId: string; resources: number; lastReportAt: number | undefined; reports: number; signed: boolean }[];
  resources: { total: number; online: number };
  upstream: UpstreamStatus[];
  events: EventStatusView[];
  refusals: RefusalNote[];
  pendingApprovals: number;
}

export interface RunningAggregator {
  readonly id: string;
  readonly downstreamPort: number;
  /** Port of the operator endpoint (console.ts), when configured. */
  readonly consolePort: number | undefined;
  readonly engine: DispatchEngine;
  readonly fleet: Fleet;
  readonly downstream: DownstreamVtn;
  readonly upstream: readonly UpstreamParty[];
  readonly approvals: ApprovalBook;
  /** Metrics and readiness, served on the operator endpoint (/healthz, /readyz, /metrics). */
  readonly health: RoleHealth;
  status(): AggregatorStatus;
  /** Target vs delivered samples of one event (`<party>/<eventID>`). */
  eventSeries(key: string): SeriesSample[];
  /** Runs one closed-loop pass now (tests and the demo's accelerated time). */
  tick(): Promise<void>;
  /**
   * Submits an operator command: small ones run at once; large or fleet-wide ones are held
   * for a second operator (see approvals.ts).
   */
  submitCommand(op: OperatorIdentity, command: ManualCommand): Promise<{ record: CommandRecord; result?: { key: string; allocatedW: number; shortfallW: number } }>;
  /** A second operator approves a held command; it runs at once. */
  approveCommand(id: string, op: OperatorIdentity): Promise<{ record: CommandRecord; result: { key: string; allocatedW: number; shortfallW: number } }>;
  rejectCommand(id: string, op: OperatorIdentity, reason: string): CommandRecord;
  commands(): CommandRecord[];
  /**
   * Imports a portfolio file (CSV or JSON, all or nothing) while running: its resources are
   * dispatchable at once and every gateway's last declared inventory is accepted again.
   */
  importPortfolio(text: string, format: ImportFormat, source: string, op: OperatorIdentity): Promise<{ summary: ImportSummary; gateways: { venId: string; accepted: boolean; reason?: string }[]; fleet: number }>;
  /** A page of the portfolio's sites (id, TSO area, pool; no name or address: personal data stays out of the console). */
  sites(q: { pool?: string | undefined; q?: string | undefined; limit: number; cursor?: string | undefined }): Promise<{ items: { id: string; tsoArea: string; poolId: string | null }[]; nextCursor: string | null; total: number }>;
  /**
   * An operator admits (at the revision seen) or rejects a device, a security officer quarantines or
   * releases one (at the revision seen): checked against the portfolio,
   * sent to its gateway as a signed admission event, audited (device-admission.ts).
   */
  decideAdmission(op: OperatorIdentity, deviceId: string, decision: AdmissionDecision): Promise<AdmissionSent>;
  /**
   * Versions for one console page: each gateway's erab and Node.js versions (its software report)
   * and each device's firmware version (the portfolio), for the ids asked only.
   */
  versions(q: { gateways: readonly string[]; devices: readonly string[] }): Promise<{ gateways: Record<string, { erab: string; node: string }>; devices: Record<string, string> }>;
  stop(): Promise<void>;
}

/** The aggregator's own metrics and readiness checks (see src/roles/common/health.ts). */
function watchAggregator(health: RoleHealth, a: {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  store: Store<any>; downstream: DownstreamVtn; upstream: readonly UpstreamParty[];
  status: () => AggregatorStatus; telemetryMaxAgeMs: number;
}): void {
  health.gauge('erab_gateways_registered', 'Gateways (and resource aggregators) registered with the downstream VTN', () => a.downstream.gateways().length);
  health.gauge('erab_gateways_online', 'Registered gateways that reported within telemetryMaxAgeMs', () => {
    const now = Date.now();
    return a.downstream.gateways().filter((g) => g.lastReportAt !== undefined && now - g.lastReportAt <= a.telemetryMaxAgeMs).length;
  });
  health.gauge('erab_resources', 'Resources in the fleet, by state', () => {
    const r = a.status().resources;
    return [{ labels: { state: 'online' }, value: r.online }, { labels: { state: 'offline' }, value: r.total - r.online }];
  }, ['state']);
  health.gauge('erab_event_delivery_ratio', 'Delivered over target power of each active event', () => a.status().events.flatMap((e) => (
    e.state === 'active' && e.deliveredW !== null && e.targetW !== 0 ? [{ labels: { event: e.key.slice(0, 100) }, value: e.deliveredW / e.targetW }] : []
  )), ['event']);
  health.gauge('erab_outbox_depth', 'Messages waiting in each outbox topic (upstream reports)', outboxDepths(a.store), ['topic']);
  if (a.downstream.vtnStore) watchVtnQueue(health, a.downstream.vtnStore);
  health.ready('store', storeReadiness(a.store));
  health.ready('downstream_listener', () => a.downstream.isServing() || 'the downstream VTN is not serving');
  for (const u of a.upstream) {
    health.ready(`upstream_${u.status().name}`, () => u.status().registered || `not registered with ${u.status().name}`);
  }
}

/**
 * Starts every part of the aggregator and resolves once the downstream VTN listens and the
 * upstream VENs have started (registration continues in the background with back-off).
 */
export async function startAggregator(cfg: AggregatorConfig, deps: AggregatorDeps = {}): Promise<RunningAggregator> {
  const clock = deps.clock ?? systemClock;
  const ownLog = deps.audit ? undefined : AuditLog.open({ dir: cfg.audit.dir, origin: cfg.audit.origin ?? `erab/aggregator-${cfg.id}/audit`, clock });
  const audit: AuditSink = deps.audit ?? ownLog!;
  // Witnessing needs a real tamper-evident log (ours, or one the caller opened for us).
  const auditLog = ownLog ?? (deps.audit instanceof AuditLog ? deps.audit : undefined);
  const log = deps.log;
  const closers: (() => Promise<void> | void)[] = [];
  try {
    const material = await TlsMaterial.fromFiles({ certFile: cfg.tls.certFile, keyFile: cfg.tls.keyFile, caFile: cfg.tls.caFile, ...(cfg.tls.crlFile ? { crlFile: cfg.tls.crlFile } : {}) });
    // One store for everything that must survive a restart: the downstream VTN's registrations,
    // events and poll queues, each upstream VEN's registration and report outbox, the portfolio.
    // With downstream.workers ≠ 1 the R4 VTN is served by worker processes (r4-workers.ts) and
    // this process keeps the engine that creates the gateways' events; config.ts has checked
    // that the store is PostgreSQL.
    const pooled = cfg.downstream.workers !== 1;
    const obs = observeRole({ role: 'aggregator', id: cfg.id, audit, material, logger: deps.logger, syslog: cfg.syslog, served: cfg.console !== undefined });
    closers.push(() => obs.close());
    const store = await openStore({ url: cfg.store.url, migrations: composeMigrations(aggregatorMigrations, deps.extraMigrations ?? []) });
    closers.push(() => store.close());
    // What the closed loop saw (delivered vs instructed), for attached modules (detection's deviation rule).
    const deliveries = new DeliveryFeed();
    const attached = await attachAll(deps.attach ?? [], {
      role: 'aggregator', id: cfg.id, store, audit, auditLog, clock, log, onDeliverySample: (fn) => deliveries.subscribe(fn),
    });
    closers.push(() => attached.stop());
    // The role's key-encryption key (ERAB_PRIVACY_KEK_FILE): the scheduled retention erases sites
    // sealed together with others, which re-seals the others (src/store/vault.ts, shred).
    const vault = vaultFromEnvironment();
    const portfolioDb = new Portfolio(store, { clock, audit, ...(vault ? { vault } : {}) });
    // The gateways below us hand us their audit checkpoints to witness (src/roles/common/witnessing.ts).
    const witness = auditLog ? openRoleWitness(auditLog, audit, clock) : undefined;
    const fleet = new Fleet();
    const specs = deps.portfolio ?? await readPortfolioSpecs(store.db as Kysely<PortfolioTables>);
    const portfolio = new Map(specs.map((s) => [s.id, s]));
    for (const s of portfolio.values()) fleet.upsert(s);
    // The VTN's state and accepted signature nonces live in the store: a payload replayed after a restart is refused.
    const routes = witness ? witnessRoutes(witness) : undefined;
    // The last inventory each gateway declared: a portfolio imported while running accepts them
    // again at once, so a gateway the portfolio did not list yet needs no restart.
    const declaredBy = new Map<string, readonly { resourceId: string; asset?: string | undefined }[]>();
    const acceptInventory = async (venId: string, declared: readonly { resourceId: string; asset?: string | undefined }[]): Promise<void> => {
      const accepted = await portfolioDb.acceptDeclaredAssets({ gatewayId: venId }, declared);
      if (!accepted.unchanged) attached.inventoryChanged(venId);
      for (const d of declared) {
        const r = await portfolioDb.getResource(d.resourceId);
        // The gateway's admission state and revision: the device list shows them, allocation skips
        // devices their gateway would refuse, and an admission decision names the revision.
        if (r?.admission && r.admissionRevision !== null && (ADMISSION_STATES as readonly string[]).includes(r.admission)) {
          fleet.recordAdmission(r.id, r.admission as AdmissionStateName, r.admissionRevision);
        }
        const spec = r ? specFromPortfolio(r, venId) : undefined;
        if (spec) {
          portfolio.set(spec.id, spec);
          fleet.upsert(spec);
        } else if (r) {
          // Learned from the gateway's reports (no portfolio limits yet): it still belongs to its
          // site's pool, so a command on that pool addresses it.
          const known = fleet.spec(r.id);
          const pool = r.poolId ?? undefined;
          if (known && known.pool !== pool) {
            const { pool: _old, ...rest } = known;
            fleet.upsert(pool === undefined ? rest : { ...rest, pool });
          }
        }
      }
    };
    const downstream = new DownstreamVtn({
      ...r4Options(cfg, material, clock, audit, store),
      instrument: (h) => obs.health.instrument('R4', h),
      fleet, portfolioSpec: (id) => portfolio.get(id),
      // Audit witness, update offers and notices share the R4 listener's mutual TLS and allow-list
      // (R4 worker processes serve the witness only: docs/scale.md).
      routes: new Map([
        ...(routes ?? []),
        ...(cfg.updates ? new UpdateOffers({ dir: cfg.updates.dir, audit, aggregatorId: cfg.id }).routes() : []),
        // Each gateway's own software (erab, Node.js, npm packages) for the vulnerability inventory.
        [SOFTWARE_REPORT_PATH, gatewaySoftwareRoute(portfolioDb, (gw) => attached.inventoryChanged(gw))],
        ...(deps.routes ?? []),
      ]),
      // A gateway's declared devices go into the portfolio inventory (自家用GL 8-2); the
      // portfolio's ratings then apply to them. A gateway the portfolio does not list is refused
      // there (and audited) but its telemetry still counts for live delivery.
      onResources: (venId, declared) => {
        declaredBy.set(venId, declared);
        void acceptInventory(venId, declared).catch((e: unknown) => log?.('inventory not accepted into the portfolio', { venId, error: describeError(e) }, 'warn'));
      },
      // A gateway's opt out (whole copy or per resource) is a shortfall: re-dispatched at once.
      onOptOut: (venId, eventId, resourceIds, reason) => {
        void engine.declined(venId, eventId, resourceIds, reason)
          .catch((e: unknown) => log?.('re-dispatch after an opt out failed', { venId, eventId, error: describeError(e) }, 'error'));
      },
      ...(log ? { log } : {}),
    });
    const parties = new Map(cfg.upstream.map((p) => [p.name, p]));
    // Operator commands may use every resource; a party only its pools and classes.
    const eligible = (party: string, spec: ResourceSpec): boolean => {
      const p = parties.get(party);
      if (!p) return true;
      if (p.pools.length > 0 && (spec.pool === undefined || !p.pools.includes(spec.pool))) return false;
      return p.resourceClasses.length === 0 || (p.resourceClasses as readonly string[]).includes(spec.resourceClass);
    };
    // Running events live in the store too: a restarted or standby process resumes them (docs/failover.md).
    const book = new EventBook(store, cfg.id, log);
    const engine = new DispatchEngine({
      aggregatorId: cfg.id, fleet, clock, audit, downstream, closedLoop: cfg.closedLoop, headroom: cfg.headroom,
      eligible, book, ...(log ? { log } : {}),
    });
    engine.restore(await book.load());
    closers.push(() => book.flush());
    let port: number;
    let pool: WorkerPool | undefined;
    if (pooled) {
      await downstream.startEngine();
      closers.push(() => downstream.stop());
      // Relayed messages first, then the workers: nothing they relay waits for a consumer.
      const relay = await RelayConsumer.start({ store, vtnID: r4VtnId(cfg.id), hooks: downstream.hooks(), clock, ...(log ? { log } : {}) });
      closers.push(() => relay.stop());
      const workers = await startR4Pool(cfg, audit, routes, log);
      closers.push(() => workers.stop());
      pool = workers;
      port = workers.port;
    } else {
      port = await downstream.start();
      closers.push(() => downstream.stop());
    }

    const upstream: UpstreamParty[] = [];
    for (const party of cfg.upstream) {
      const partyMaterial = party.tls
        ? await TlsMaterial.fromFiles({ certFile: party.tls.certFile, keyFile: party.tls.keyFile, caFile: cfg.tls.caFile, ...(cfg.tls.crlFile ? { crlFile: cfg.tls.crlFile } : {}) })
        : material;
      // Registration, outbox and the party's accepted nonces in the store, under `<id>:<party>`.
      const up = new UpstreamParty({
        party, aggregatorId: cfg.id, material: partyMaterial, engine, clock, audit, reportMinPeriodMs: party.reportMinPeriodMs, store,
        auditLog, witnessIntervalMs: cfg.audit.witnessIntervalMs,
        ...(log ? { log } : {}),
      });
      upstream.push(up);
      closers.push(() => up.stop());
    }
    for (const up of upstream) await up.start();

    const feedDelivery = (): void => {
      if (!deliveries.wanted) return;
      for (const ev of engine.list()) {
        const s = ev.state === 'active' ? engine.series.latest(ev.plan.key) : undefined;
        if (s && s.deliveredW !== null) deliveries.publish({ key: ev.plan.key, t: s.t, deliveredW: s.deliveredW, instructedW: s.instructedW });
      }
    };
    // The closed loop: at least once per interval, never overlapping itself.
    let timer: TimerHandle | undefined;
    let stopped = false;
    let running: Promise<void> = Promise.resolve();
    const loop = (): void => {
      if (stopped) return;
      running = engine.tick().then(() => feedDelivery()).catch((e: unknown) => log?.('closed loop failed', { error: describeError(e) }, 'error')).finally(() => {
        if (!stopped) timer = clock.setTimeout(loop, cfg.closedLoop.intervalMs);
      });
    };
    timer = clock.setTimeout(loop, cfg.closedLoop.intervalMs);
    closers.push(async () => {
      stopped = true;
      timer?.cancel();
      await running;
    });
    const retention = cfg.privacy?.retention;
    if (retention && [retention.personalDays, retention.confidentialDays, retention.operationalDays].some((d) => d !== undefined)) {
      closers.push(scheduleRetention(retention, clock, (now) => applyRetention(portfolioDb, store, retention, now, audit), log));
    }

    const approvals = new ApprovalBook(cfg.approvals, clock, audit, () => fleet.size, (id) => fleet.spec(id) !== undefined, (pool) => fleet.poolSize(pool));
    audit.append({ actor: { kind: 'system', id: cfg.id }, action: 'aggregator.start', outcome: 'success', details: { downstreamPort: port, upstream: cfg.upstream.map((p) => p.name) } });

    const status = (): AggregatorStatus => {
      const now = clock.now();
      let online = 0;
      for (const s of fleet.all()) if (fleet.freshPower(s.id, now, cfg.closedLoop.telemetryMaxAgeMs) !== undefined) online++;
      return {
        id: cfg.id,
        time: now,
        downstreamPort: port,
        ...(pool ? { downstreamWorkers: { pids: pool.pids(), restarts: pool.restarts() } } : {}),
        gateways: downstream.gateways(),
        resources: { total: fleet.size, online },
        upstream: upstream.map((u) => u.status()),
        events: engine.list().map((ev) => {
          const last = engine.series.latest(ev.plan.key);
          const k = ev.plan.intervals.findIndex((iv) => iv.start <= now && now < iv.end);
          return {
            key: ev.plan.key,
            party: ev.plan.party,
            eventId: ev.plan.eventId,
            modificationNumber: ev.plan.modificationNumber,
            state: ev.state,
            direction: ev.plan.direction,
            start: ev.plan.start,
            end: ev.plan.end,
            targetW: DispatchEngine.targetAt(ev, now),
            instructedW: k >= 0 ? ev.allocation.allocatedW[k]! : 0,
            deliveredW: ev.state === 'active' ? engine.deliveredNow(ev, now) : (last?.deliveredW ?? null),
            nonResponding: [...ev.nonResponding],
            uncoveredW: ev.uncoveredW,
            resources: ev.participants.size,
            gateways: ev.vens.size,
          };
        }),
        refusals: engine.recentRefusals().slice(-20),
        pendingApprovals: approvals.list().filter((c) => c.state === 'held').length,
      };
    };

    watchAggregator(obs.health, { store, downstream, upstream, status, telemetryMaxAgeMs: cfg.closedLoop.telemetryMaxAgeMs });

    const run = async (rec: CommandRecord) => {
      // A modification: the event it replaces stops as the new one starts (not before: a held
      // modification leaves the running event alone until a second operator approves it).
      if (rec.command.replaces) await engine.cancel(rec.command.replaces, `modified by operator ${rec.submittedBy.id}: replaced by ${rec.id}`);
      let result: Awaited<ReturnType<typeof engine.executeManual>>;
      try {
        result = await engine.executeManual(rec);
      } catch (err) {
        // Approved, but nothing of it runs: the record says so (never left "approved"), and the audit log why.
        const reason = (err as Error).message;
        approvals.markFailed(rec.id, reason);
        audit.append({
          actor: { kind: 'operator', id: rec.submittedBy.id, fingerprint: rec.submittedBy.fingerprint }, action: 'operator.command.execute', target: rec.id,
          outcome: 'failure', reason: reason.slice(0, 500), details: { approvedBy: rec.approvedBy?.id },
        });
        throw err;
      }
      approvals.markExecuted(rec.id, result);
      const short = result.shortfallW > 0;
      audit.append({
        actor: { kind: 'operator', id: rec.submittedBy.id, fingerprint: rec.submittedBy.fingerprint }, action: 'operator.command.execute', target: rec.id,
        outcome: short ? 'failure' : 'success', ...(short ? { reason: `short by ${(result.shortfallW / 1000).toFixed(1)} kW: the addressed resources cannot take ${(rec.command.powerW / 1000).toFixed(1)} kW${result.leftOut ? ` (left out: ${result.leftOut})` : ''}` } : {}),
        details: { ...result, approvedBy: rec.approvedBy?.id },
      });
      return result;
    };

    const agg: RunningAggregator = {
      id: cfg.id,
      downstreamPort: port,
      get consolePort() { return consolePort; },
      engine,
      fleet,
      downstream,
      upstream,
      approvals,
      health: obs.health,
      status,
      eventSeries: (key) => engine.series.get(key),
      tick: () => engine.tick(),
      async submitCommand(op, command) {
        const out = approvals.submit(op, command);
        if (out.state === 'held') return { record: out.record };
        return { record: out.record, result: await run(out.record) };
      },
      async approveCommand(id, op) {
        const record = approvals.approve(id, op);
        return { record, result: await run(record) };
      },
      rejectCommand: (id, op, reason) => approvals.reject(id, op, reason),
      async sites(q) {
        const page = await portfolioDb.listSites({ limit: q.limit, ...(q.pool ? { poolId: q.pool } : {}), ...(q.q ? { search: q.q } : {}), ...(q.cursor ? { cursor: q.cursor } : {}) });
        return { items: page.items.map((s) => ({ id: s.id, tsoArea: s.tsoArea, poolId: s.poolId })), nextCursor: page.nextCursor ?? null, total: page.total };
      },
      async versions(q) {
        const db = store.db.withTables<PortfolioTables>();
        const gateways: Record<string, { erab: string; node: string }> = {};
        const devices: Record<string, string> = {};
        if (q.gateways.length) {
          for (const r of await db.selectFrom('portfolio_gateway_software').select(['gateway_id', 'erab_version', 'node_version']).where('gateway_id', 'in', [...q.gateways]).execute()) {
            gateways[r.gateway_id] = { erab: r.erab_version, node: r.node_version };
          }
        }
        if (q.devices.length) {
          for (const r of await db.selectFrom('portfolio_resource').select(['id', 'firmware_version']).where('id', 'in', [...q.devices]).execute()) {
            if (r.firmware_version) devices[r.id] = r.firmware_version;
          }
        }
        return { gateways, devices };
      },
      async importPortfolio(text, format, source, op) {
        const summary = await portfolioDb.importText(text, format, source, { kind: 'operator', id: op.id, role: op.role, fingerprint: op.fingerprint });
        if (!deps.portfolio) {
          for (const spec of await readPortfolioSpecs(store.db as Kysely<PortfolioTables>)) {
            portfolio.set(spec.id, spec);
            fleet.upsert(spec);
          }
        }
        const gateways: { venId: string; accepted: boolean; reason?: string }[] = [];
        for (const [venId, declared] of declaredBy) {
          try {
            await acceptInventory(venId, declared);
            gateways.push({ venId, accepted: true });
          } catch (e) {
            gateways.push({ venId, accepted: false, reason: describeError(e) });
          }
        }
        return { summary, gateways, fleet: fleet.size };
      },
      commands: () => approvals.list(),
      decideAdmission: (op, deviceId, decision) => decideAdmission({
        aggregatorId: cfg.id, getResource: (id) => portfolioDb.getResource(id), fleet, downstream, audit, clock,
      }, op, deviceId, decision),
      async stop() {
        for (const c of closers.reverse()) await c();
        closers.length = 0;
        audit.append({ actor: { kind: 'system', id: cfg.id }, action: 'aggregator.stop', outcome: 'success' });
        ownLog?.close();
      },
    };
    let consolePort: number | undefined;
    if (cfg.console) {
      const c = await startConsole(agg, {
        material, allowList: cfg.console.allowList, audit, host: cfg.console.host, port: cfg.console.port, health: obs.health, routes: attached.routes,
        roles: cfg.console.roles ? new OperatorRoleTable(cfg.console.roles) : undefined, liveIntervalMs: cfg.statusIntervalMs,
        online: (id) => fleet.freshPower(id, clock.now(), cfg.closedLoop.telemetryMaxAgeMs) !== undefined,
        ...(deps.consolePage ? { page: deps.consolePage } : {}),
      });
      consolePort = c.port;
      closers.push(() => c.close());
    }
    return agg;
  } catch (err) {
    for (const c of closers.reverse()) await Promise.resolve().then(c).catch(() => {});
    ownLog?.close();
    throw err;
  }
}
