/**
 * The TSO simple dispatch system (送配電事業者 簡易指令システム) — and, with kind 'retailer', the
 * retailer's DR system: an OpenADR 2.0b VTN on mutual TLS that admits only contracted
 * aggregators (ERAB §3.3.1), issues dispatches for balancing products as LOAD_DISPATCH delta
 * events in 30-minute blocks, receives the aggregators' TELEMETRY_USAGE reports and keeps a
 * requested-vs-delivered view per dispatch.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { InvalidInputError } from '../../core/errors.js';
import { directionSign } from '../../core/domain/direction.js';
import { epochMillis, millis } from '../../core/units.js';
import type { OadrReport } from '../../protocols/openadr/report.js';
import { powerRealItem } from '../../protocols/openadr/units.js';
import { AuditLog } from '../../security/audit/log.js';
import type { AuditRecordInput, AuditSink } from '../../security/audit/types.js';
import { loadTlsMaterial } from '../../security/tls.js';
import { composeMigrations, type Migration } from '../../store/migrations.js';
import { openStore, type Store } from '../../store/store.js';
import { openadrStoreMigrations } from '../../endpoints/openadr/store.js';
import { startVtnEndpoint, type RunningVtn } from '../../endpoints/openadr/vtn-endpoint.js';
import { logFnOf, type Logger } from '../../core/logger.js';
import { attachAll, type Attach, type Attached } from '../common/composition.js';
import type { RoleHealth } from '../common/health.js';
import { observeRole, storeReadiness, watchVtnQueue } from '../common/observability.js';
import { openRoleWitness, witnessRoutes } from '../common/witnessing.js';
import { startTsoApi, type RunningApi } from './api.js';
import { OperatorRoleTable } from '../common/operator-roles.js';
import type { TsoConfig } from './config.js';
import { loadSchedule } from './schedule.js';
import { DeliveryLedger, tsoMigrations, type DispatchView, type IssuedDispatch, type TsoTables } from './delivery.js';
import { KOMA_MS, PRODUCTS_OF, planDispatch, type DispatchRequest, type ProductId } from './products.js';

export interface DispatchInput extends Omit<DispatchRequest, 'issuedAt'> {
  /** Aggregators to dispatch (participant ids); default: every contracted aggregator that is registered. */
  to?: string[];
  eventId?: string;
}

export interface TsoStatus {
  id: string;
  kind: 'tso' | 'retailer';
  url: string;
  apiUrl?: string;
  registered: string[];
  dispatches: (DispatchView & { deliveredNowW: number | null; requestedNowW: number })[];
  refusals: { time: number; who: string; action: string; reason: string }[];
}

export interface RunningTso {
  config: TsoConfig;
  vtn: RunningVtn;
  ledger: DeliveryLedger;
  clock: Clock;
  dispatch(input: DispatchInput): Promise<IssuedDispatch>;
  cancel(eventId: string): Promise<void>;
  view(eventId: string): DispatchView | undefined;
  status(): TsoStatus;
  /** Metrics and readiness, served on the operator API (/healthz, /readyz, /metrics). */
  health: RoleHealth;
  stop(): Promise<void>;
}

/** The market context (program URI) of a product at this VTN, e.g. urn:erab:tso:TSO1:tertiary2. */
export const marketContextOf = (kind: string, id: string, product: string): string => `urn:erab:${kind}:${id}:${product}`;

/** Keeps the last refusals in memory for the live view while forwarding everything to the audit log. */
class RefusalTap implements AuditSink {
  readonly refusals: TsoStatus['refusals'] = [];
  constructor(private readonly inner: AuditSink, private readonly clock: Clock) {}
  append(r: AuditRecordInput): void {
    this.inner.append(r);
    if (r.outcome === 'refused') {
      this.refusals.push({ time: this.clock.now(), who: r.actor.id || r.actor.fingerprint || r.actor.address || '?', action: r.action, reason: r.reason ?? '' });
      if (this.refusals.length > 100) this.refusals.shift();
    }
  }
}

/** The TSO's own metrics and readiness checks (see src/roles/common/health.ts). */
function watchTso(health: RoleHealth, vtn: RunningVtn, ledger: DeliveryLedger, store: Store<TsoTables>, clock: Clock): void {
  health.gauge('erab_registered_participants', 'Contracted aggregators registered with this VTN', () => vtn.vtn.registrations().length);
  health.gauge('erab_event_delivery_ratio', 'Delivered over requested power of each dispatch in its current コマ', () => {
    const now = clock.now();
    return ledger.list().flatMap((d) => {
      const current = d.plan.periods.find((p) => now >= p.start && now < p.start + KOMA_MS);
      const delivered = current && current.quantityW > 0 ? ledger.deliveredAt(d.eventId, now) : null;
      return delivered === null || !current ? [] : [{ labels: { event: d.eventId }, value: delivered / current.quantityW }];
    });
  }, ['event']);
  watchVtnQueue(health, vtn.vtnStore);
  health.ready('store', storeReadiness(store));
  health.ready('openadr_listener', () => vtn.server.listening || 'the OpenADR listener is not listening');
}

/** What a caller may inject: time, the audit sink, the logger, and modules above the role. */
export interface TsoDeps {
  clock?: Clock;
  audit?: AuditSink;
  logger?: Logger;
  /** Migrations of modules above the role that keep tables in its store (secops: detection, notify). */
  extraMigrations?: readonly Migration[];
  /** Modules above the role (secops detection) attach once the store is open (src/roles/common/composition.ts). */
  attach?: readonly Attach[];
}

/**
 * Starts the TSO (or retailer) VTN.
 * @example const tso = await startTso(loadTsoConfig('tso.json')); await tso.dispatch({ product: 'tertiary2', direction: 'reduce', quantityKw: 60, start, periods: 1, to: ['AGG1'] });
 */
export async function startTso(config: TsoConfig, opts: TsoDeps = {}): Promise<RunningTso> {
  const clock = opts.clock ?? systemClock;
  const material = await loadTlsMaterial(config.tls);
  const ownLog = opts.audit ? undefined : AuditLog.open({ dir: config.audit.dir, origin: `erab/${config.kind}/${config.id}/audit`, clock });
  const audit = new RefusalTap(opts.audit ?? ownLog!, clock);
  const obs = observeRole({ role: config.kind, id: config.id, audit: opts.audit ?? ownLog!, material, logger: opts.logger, syslog: config.syslog, served: true });
  let store: Store<TsoTables> | undefined;
  let vtn: RunningVtn | undefined;
  let attached: Attached | undefined;
  try {
    store = await openStore<TsoTables>({ url: config.store.url, migrations: composeMigrations(openadrStoreMigrations, tsoMigrations, opts.extraMigrations ?? []) });
    const ledger = new DeliveryLedger(store.db, config.id);
    await ledger.load();
    const contracted = new Set(config.contractedAggregators.map((a) => a.id));
    // The contracted aggregators hand us their audit checkpoints to witness (src/roles/common/witnessing.ts).
    const auditLog = ownLog ?? (opts.audit instanceof AuditLog ? opts.audit : undefined);
    const witness = auditLog ? openRoleWitness(auditLog, audit, clock) : undefined;
    attached = await attachAll(opts.attach ?? [], {
      role: config.kind, id: config.id, store, audit, auditLog, clock,
      log: opts.logger ? logFnOf(opts.logger) : undefined,
      onDeliverySample: () => () => {}, // no closed loop here: the ledger keeps what aggregators report
    });
    const running = await startVtnEndpoint({
      vtnID: config.id,
      material,
      profile: config.kind === 'tso' ? 'R1' : 'R2',
      allowList: {
        participants: config.contractedAggregators.filter((a) => !a.fingerprint).map((a) => `aggregator:${a.id}`),
        fingerprints: config.contractedAggregators.flatMap((a) => (a.fingerprint ? [a.fingerprint] : [])),
        roles: ['aggregator'],
      },
      audit,
      store,
      host: config.listen.host,
      port: config.listen.port,
      clock,
      ...(witness ? { routes: witnessRoutes(witness) } : {}),
      instrument: (h) => obs.health.instrument(config.kind === 'tso' ? 'R1' : 'R2', h),
      vtn: {
        pollFreqMs: config.pollIntervalMs,
        reportBackMs: config.reportIntervalMs,
        signatureWindowMs: config.signatureWindowMs,
        admit: (peer) => (peer.id && contracted.has(peer.id)
          ? { allowed: true }
          : { allowed: false, reason: `${peer.id ?? peer.fingerprint} is not a contracted aggregator of ${config.id}` }),
        hooks: {
          onReport: (venID: string, report: OadrReport) => {
            for (const interval of report.intervals ?? []) {
              const t = interval.dtstart ?? report.dtstart ?? report.createdDateTime;
              for (const p of interval.payloads) {
                if (p.rID === 'delivered' && typeof p.value === 'number') void ledger.recordDelivered(venID, t, p.value);
              }
            }
          },
          onEventOpt: (opt) => { void ledger.recordOpt(opt.eventID, opt.venID, opt.optType); },
        },
      },
    });
    vtn = running;
    watchTso(obs.health, running, ledger, store, clock);
    const dispatch = async (input: DispatchInput): Promise<IssuedDispatch> => {
      if (!PRODUCTS_OF[config.kind].includes(input.product as ProductId)) {
        throw new InvalidInputError(`product: ${input.product} is not offered by a ${config.kind} (offered: ${PRODUCTS_OF[config.kind].join(', ')})`);
      }
      const plan = planDispatch({ ...input, issuedAt: clock.now() });
      const registered = new Set(running.vtn.registrations().map((r) => r.venID));
      const to = input.to ?? [...contracted].filter((id) => registered.has(id));
      if (to.length === 0) throw new InvalidInputError('to: no contracted aggregator is registered to receive the dispatch');
      for (const id of to) {
        if (!contracted.has(id)) throw new InvalidInputError(`to: ${id} is not a contracted aggregator`);
        if (!registered.has(id)) throw new InvalidInputError(`to: ${id} has not registered with ${config.id}`);
      }
      const sign = directionSign(plan.direction);
      const first = plan.periods[0]!.start;
      const duration = plan.periods.length * KOMA_MS;
      const marketContext = marketContextOf(config.kind, config.id, plan.product.id);
      const event = await running.vtn.createEvent({
        eventID: input.eventId ?? `${config.id}-${randomUUID().slice(0, 8)}`,
        marketContext,
        venIDs: to,
        responseRequired: 'always',
        activePeriod: { dtstart: epochMillis(first), duration: millis(duration) },
        signals: [{
          signalName: 'LOAD_DISPATCH', signalType: 'delta', signalID: 'S0',
          itemBase: powerRealItem('k'),
          intervals: plan.periods.map((p, i) => ({ duration: KOMA_MS, uid: String(i), value: (sign * p.quantityW) / 1000 })),
        }],
      });
      const issued: IssuedDispatch = { eventId: event.descriptor.eventID, plan, venIDs: to, marketContext, issuedAt: clock.now(), state: 'issued', opts: {} };
      await ledger.recordDispatch(issued);
      audit.append({ actor: { kind: 'system', id: config.id, role: config.kind }, action: `${config.kind}.dispatch`, target: issued.eventId, outcome: 'success',
        details: { product: plan.product.id, direction: plan.direction, to, periods: plan.periods.map((p) => ({ start: new Date(p.start).toISOString(), kW: p.quantityW / 1000 })) } });
      return issued;
    };
    let api: RunningApi | undefined;
    const timers: TimerHandle[] = [];
    const tso: RunningTso = {
      config,
      vtn: running,
      health: obs.health,
      ledger,
      clock,
      dispatch,
      async cancel(eventId) {
        await running.vtn.cancelEvent(eventId, 'cancelled by operator');
        await ledger.markCancelled(eventId);
      },
      view: (eventId) => ledger.view(eventId),
      status() {
        const now = clock.now();
        return {
          id: config.id,
          kind: config.kind,
          url: running.url,
          ...(api ? { apiUrl: api.url } : {}),
          registered: running.vtn.registrations().map((r) => r.venID),
          dispatches: ledger.list().map((d) => {
            const v = ledger.view(d.eventId)!;
            const current = d.plan.periods.find((p) => now >= p.start && now < p.start + KOMA_MS);
            return { ...v, deliveredNowW: current ? ledger.deliveredAt(d.eventId, now) : null, requestedNowW: current?.quantityW ?? 0 };
          }),
          refusals: [...audit.refusals],
        };
      },
      async stop() {
        for (const t of timers) t.cancel();
        await api?.close();
        await running.close();
        await attached?.stop();
        await store!.close();
        await obs.close();
        ownLog?.close();
      },
    };
    api = await startTsoApi(tso, {
      material, audit, host: config.api.host, port: config.api.port, operators: config.api.operators, health: obs.health,
      roles: config.api.roles ? new OperatorRoleTable(config.api.roles) : undefined, ...(attached ? { routes: attached.routes } : {}),
    });
    if (config.scheduleFile) {
      for (const entry of loadSchedule(config.scheduleFile, clock.now())) {
        timers.push(clock.setTimeout(() => {
          tso.dispatch(entry.input).catch((err: unknown) => {
            audit.append({ actor: { kind: 'system', id: config.id }, action: `${config.kind}.schedule`, outcome: 'failure', reason: (err as Error).message });
          });
        }, entry.issueAt - clock.now()));
      }
    }
    return tso;
  } catch (err) {
    await vtn?.close();
    await attached?.stop().catch(() => {});
    await store?.close();
    await obs.close();
    ownLog?.close();
    throw err;
  }
}
