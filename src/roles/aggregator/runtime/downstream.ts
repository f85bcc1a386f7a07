/**
 * The aggregator's downstream VTN (R4 to gateways, R3 to resource aggregators below it):
 * registers allow-listed VENs (venID = the participant id in their certificate), learns their
 * resources from the METADATA reports they register (resourceID per data point; the class from
 * the erab asset URN in reportDataSource/endDeviceAsset, see src/roles/gateway/inventory.ts),
 * asks for TELEMETRY_USAGE / TELEMETRY_STATUS at our reporting interval, keeps the latest value
 * per resource in the Fleet, and queues the engine's per-gateway instructions for the gateways'
 * polls as oadrEvents (built by oadr-adapter.ts) — signed with our aggregator certificate (OpenADR XML signature) for every VEN that
 * registered with oadrXmlSignature, which erab gateways require.
 *
 * Data points understood (rIDs as the erab gateway names them, any others ignored):
 *   <id>/power   usage, powerReal W (× siScaleCode), consumption-positive
 *   <id>/soc     storedEnergy, % state of charge
 *   <id>/stored  storedEnergy, energyReal Wh
 *   <id>/status  x-resourceStatus: online, manual override, loadControlState.setPoint min/max
 *                (−rated discharge / +rated charge, used when the portfolio has no rating)
 */
import type { Clock } from '../../../core/clock.js';
import { epochMillis, millis } from '../../../core/units.js';
import type { LogFn } from '../../../core/logger.js';
import type { ExtraRoute, OadrServiceHandler } from '../../../protocols/openadr/http.js';
import type { OadrReport, ReportRequest, ResourceStatus } from '../../../protocols/openadr/report.js';
import type { NewEvent, Vtn, VtnHooks } from '../../../protocols/openadr/vtn.js';
import { PolicyRefusedError } from '../../../core/errors.js';
import type { VtnStore } from '../../../protocols/openadr/vtn-store.js';
import type { AllowListConfig } from '../../../security/allow-list.js';
import type { AuditSink } from '../../../security/audit/types.js';
import { deviceClass, ECHONET_DEVICE_KINDS } from '../../../core/domain/device-classes.js';
import type { TlsMaterial } from '../../../security/tls.js';
import type { Store } from '../../../store/store.js';
import { buildVtn, startVtnEndpoint, type RunningVtn, type VtnEndpointOptions, type VtnEngine } from '../../../endpoints/openadr/vtn-endpoint.js';
import type { ResourceClass } from '../allocation/types.js';
import type { GatewayInstruction } from './dispatch-types.js';
import { gatewayCopyId, type DownstreamSink } from './engine.js';
import { oadrEventOf } from './oadr-adapter.js';
import type { Fleet, ResourceSpec } from './fleet.js';

/** What the R4 endpoint is built from, in the aggregator's process or in one of its workers. */
export interface R4EndpointOptions {
  aggregatorId: string;
  /** Our certificate and key (TLS listener, and the XML signature of every event), CA and CRL. */
  material: TlsMaterial;
  host: string;
  port: number;
  allowList: AllowListConfig;
  pollIntervalMs: number;
  reportIntervalMs: number;
  /** Accepted skew of signed payloads' ReplayProtect timestamps, ms (default 5 minutes). */
  signatureWindowMs?: number;
  clock: Clock;
  audit: AuditSink;
  /** The aggregator's store (migrations include `openadrStoreMigrations`): the VTN's state and replay cache live there. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  store: Store<any>;
  /** Wraps the VTN's request handler (the role's request metrics, src/roles/common/health.ts). */
  instrument?: (handler: OadrServiceHandler) => OadrServiceHandler;
  /** Resource aggregators below us (R3) with their contracted capacity. */
  subAggregators?: readonly { id: string; reduceW: number; increaseW: number; costPerKWh: number }[];
  /** Extra POST endpoints on the listener (the audit witness the gateways hand their checkpoints to). */
  routes?: ReadonlyMap<string, ExtraRoute>;
  log?: LogFn;
}

export interface DownstreamOptions extends R4EndpointOptions {
  fleet: Fleet;
  /** Resource specs from the portfolio win over what telemetry suggests. */
  portfolioSpec?: (resourceId: string) => ResourceSpec | undefined;
  /**
   * Called when a VEN opts out of its copy of an event: as a whole (oadrCreatedEvent optOut,
   * `resourceIds` undefined) or for some of its resources (oadrCreateOpt with the event's
   * qualifiedEventID and eiTarget/resourceID). The dispatch engine re-dispatches their share.
   */
  onOptOut?: (venId: string, eventId: string, resourceIds: string[] | undefined, reason: string) => void;
  /** Called when a VEN declares resources (e.g. to upsert the portfolio inventory). */
  onResources?: (venId: string, resources: DeclaredResource[]) => void;
}

/** A resource a gateway declared in its METADATA reports. */
export interface DeclaredResource {
  resourceId: string;
  resourceClass: ResourceClass;
  /** Asset URN (power:endDeviceAsset mrid), when given. */
  asset?: string | undefined;
}

type PointKind = 'power' | 'soc' | 'stored' | 'status' | 'delta';
interface Point {
  resourceId: string;
  kind: PointKind;
  factor: number;
}

const SCALE_EXP: Record<string, number> = { p: -12, n: -9, micro: -6, m: -3, c: -2, d: -1, none: 0, k: 3, M: 6, G: 9, T: 12 };
/** Bound on data points per VEN (a hostile METADATA report cannot exhaust memory). */
const MAX_POINTS_PER_VEN = 50_000;

const CLASS_OF_ASSET: Record<string, ResourceClass> = Object.fromEntries(ECHONET_DEVICE_KINDS.map((k) => [k, deviceClass(k).allocationClass]));

/** The class named in an erab asset URN (`urn:erab:asset:<EOJ>;class=battery;...`). */
export function classFromAsset(urn: string | undefined): ResourceClass | undefined {
  if (!urn || !urn.startsWith('urn:erab:asset:') || urn.length > 2000) return undefined;
  for (const part of urn.split(';')) {
    if (part.startsWith('class=')) return CLASS_OF_ASSET[part.slice(6)];
  }
  return undefined;
}

/** The kind of data point from its rID suffix and report type. */
function kindOf(rID: string, reportType: string): PointKind | undefined {
  if (rID.endsWith('/power') && reportType === 'usage') return 'power';
  if (rID.endsWith('/soc')) return 'soc';
  if (rID.endsWith('/stored')) return 'stored';
  if (rID.endsWith('/status') || reportType === 'x-resourceStatus') return 'status';
  return undefined;
}

/**
 * @example
 *   const down = new DownstreamVtn({ aggregatorId: 'AGG1', material, store, host: '127.0.0.1', port: 0, allowList: { roles: ['gateway'] }, ... });
 *   await down.start();            // down.port
 *   engine = new DispatchEngine({ ..., downstream: down });
 */
export class DownstreamVtn implements DownstreamSink {
  private endpoint: VtnEngine | undefined;
  private listening: RunningVtn | undefined;
  private readonly points = new Map<string, Map<string, Point>>();
  private readonly lastSeen = new Map<string, number>();
  /** Telemetry reports taken per gateway since start (each once: resends are not counted). */
  private readonly reportCount = new Map<string, number>();

  constructor(private readonly o: DownstreamOptions) {}

  /** The VTN engine (after start). */
  get vtn(): Vtn {
    if (!this.endpoint) throw new Error(`downstream VTN of ${this.o.aggregatorId} is not started`);
    return this.endpoint.vtn;
  }

  /** The VTN's state in the store (its poll queues, for metrics). */
  get vtnStore(): RunningVtn['vtnStore'] | undefined {
    return this.endpoint?.vtnStore;
  }

  /**
   * Whether the gateways are served (readiness): this process's listener, or, with R4 workers,
   * the engine over the store (the worker pool reports its own deaths).
   */
  isServing(): boolean {
    return this.listening ? this.listening.server.listening : this.endpoint !== undefined;
  }

  /** Starts the VTN endpoint (src/endpoints/openadr) and resolves to its port. */
  async start(): Promise<number> {
    this.listening = await startVtnEndpoint(r4EndpointOptions(this.o, this.hooks(), (venId, reports) => this.reportRequests(venId, reports)));
    this.endpoint = this.listening;
    await this.relearn();
    return this.listening.port;
  }

  /**
   * Starts the engine over the store without listening: R4 worker processes serve the gateways
   * (r4-workers.ts) and relay what they receive to {@link hooks}; this engine creates, modifies
   * and cancels the gateways' events in the same store.
   */
  async startEngine(): Promise<void> {
    const { allowList: _a, host: _h, port: _p, listener: _l, routes: _r, ...engineOnly } = r4EndpointOptions(this.o, {}, (venId, reports) => this.reportRequests(venId, reports));
    const engine = await buildVtn(engineOnly);
    try {
      await engine.vtn.start();
    } catch (e) {
      await engine.close();
      throw e;
    }
    this.endpoint = engine;
    await this.relearn();
  }

  /**
   * What the aggregator does with the gateways' messages: learn their resources, keep their
   * telemetry, re-dispatch their opt-outs. Called by the VTN engine in this process, or with the
   * messages R4 workers relayed (r4-relay.ts).
   */
  hooks(): Partial<VtnHooks> {
    const o = this.o;
    return {
      onRegistered: (reg) => {
        this.lastSeen.set(reg.venID, o.clock.now());
        o.log?.('gateway registered', { venId: reg.venID, signed: reg.xmlSignature });
      },
      onReportRegistered: (venId, reports) => this.learn(venId, reports),
      onReport: (venId, report) => {
        this.reportCount.set(venId, (this.reportCount.get(venId) ?? 0) + 1);
        this.ingest(venId, report);
      },
      onEventOpt: (opt) => {
        if (opt.optType === 'optOut') {
          o.audit.append({ actor: { kind: 'peer', id: opt.venID }, action: 'aggregator.gateway.opt_out', target: opt.eventID, outcome: 'refused', reason: 'gateway opted out' });
          o.log?.('gateway opted out', { venId: opt.venID, eventId: opt.eventID });
          o.onOptOut?.(opt.venID, opt.eventID, undefined, 'gateway opted out of the event');
        }
      },
      // Opts of single resources (a gateway accepted the event but its policy refuses one
      // device); whole-event opts arrive through onEventOpt above.
      onOpt: (opt) => {
        const ids = opt.target.resourceID ?? [];
        if (opt.optType !== 'optOut' || !opt.qualifiedEventID || ids.length === 0) return;
        o.audit.append({
          actor: { kind: 'peer', id: opt.venID }, action: 'aggregator.gateway.opt_out', target: opt.qualifiedEventID.eventID, outcome: 'refused',
          reason: `gateway opted out for ${ids.join(', ').slice(0, 200)}: ${opt.optReason}`, details: { resources: ids.slice(0, 50), optReason: opt.optReason },
        });
        o.log?.('gateway opted resources out', { venId: opt.venID, eventId: opt.qualifiedEventID.eventID, resources: ids.length, optReason: opt.optReason });
        o.onOptOut?.(opt.venID, opt.qualifiedEventID.eventID, ids, `gateway opted out: ${opt.optReason}`);
      },
    };
  }

  /**
   * After a restart the gateways do not register their reports again: relearn their data
   * points from the store, or their telemetry would be ignored until they re-register.
   */
  private async relearn(): Promise<void> {
    const e = this.endpoint!;
    for (const reg of e.vtn.registrations()) {
      const reports = await e.vtnStore.listReportRegistrations(reg.venID);
      if (reports.length > 0) this.learn(reg.venID, reports);
    }
  }

  /** The listening port (undefined when R4 workers serve the gateways). */
  get port(): number | undefined {
    return this.listening?.port;
  }

  async stop(): Promise<void> {
    await this.endpoint?.close();
    this.endpoint = undefined;
    this.listening = undefined;
  }

  /** Re-reads TLS files (certificate rotation, new CRL). */
  async reload(): Promise<void> {
    await this.listening?.reload();
  }

  /** Registered gateways with their declared resource count and last report time. */
  gateways(): { venId: string; resources: number; lastReportAt: number | undefined; reports: number; signed: boolean }[] {
    return this.vtn.registrations().map((r) => ({
      venId: r.venID,
      resources: new Set([...(this.points.get(r.venID)?.values() ?? [])].map((p) => p.resourceId)).size,
      lastReportAt: this.lastSeen.get(r.venID),
      reports: this.reportCount.get(r.venID) ?? 0,
      signed: r.xmlSignature,
    }));
  }

  /** DownstreamSink: creates, modifies or cancels the gateway's copy of an event. */
  async publish(venId: string, instruction: GatewayInstruction): Promise<void> {
    const event = oadrEventOf(instruction);
    const id = gatewayCopyId(event.descriptor.eventID, venId);
    const cancelled = instruction.cancelled;
    // The VTN's store (persistent) knows whether this gateway already has a copy.
    const current = this.vtn.event(id);
    if (!current) {
      if (cancelled) return;
      if (!this.vtn.registration(venId)) {
        this.o.log?.('instruction for an unregistered gateway dropped', { venId, eventId: event.descriptor.eventID });
        return;
      }
      await this.vtn.createEvent({
        eventID: id,
        marketContext: event.descriptor.marketContext,
        ...(event.descriptor.priority !== undefined ? { priority: event.descriptor.priority } : {}),
        activePeriod: event.activePeriod,
        signals: event.signals,
        target: event.target,
        venIDs: [venId],
        responseRequired: event.responseRequired,
        ...(event.descriptor.testEvent !== undefined ? { testEvent: event.descriptor.testEvent } : {}),
      });
      return;
    }
    if (current.cancelled) return;
    if (cancelled) await this.vtn.cancelEvent(id, 'released by the aggregator');
    else await this.vtn.modifyEvent(id, { activePeriod: event.activePeriod, signals: event.signals, modificationReason: 'closed-loop re-dispatch' });
  }

  /**
   * Queues one admission decision event (built by oadr-adapter.ts) for a registered gateway; it is
   * signed like every event we send.
   * @throws PolicyRefusedError the gateway has not registered with this VTN
   */
  async sendAdmission(event: NewEvent & { eventID: string; venIDs: string[] }): Promise<void> {
    for (const venId of event.venIDs) {
      if (!this.vtn.registration(venId)) throw new PolicyRefusedError(`gateway ${venId} has not registered with the downstream VTN: an admission decision cannot reach it yet`);
    }
    await this.vtn.createEvent(event);
  }

  /** Our report requests for the data points learned from these reports. */
  private reportRequests(venId: string, reports: OadrReport[]): ReportRequest[] {
    return reportRequestsOf(venId, reports, this.points.get(venId), this.o.reportIntervalMs);
  }

  /** Learns a VEN's resources and data points from its METADATA reports. */
  private learn(venId: string, reports: OadrReport[]): void {
    const sub = this.o.subAggregators?.find((a) => a.id === venId);
    if (sub) {
      this.learnAggregator(venId, sub, reports);
      return;
    }
    const pts = pointsOf(venId, reports);
    const declared = new Map<string, DeclaredResource>();
    for (const rep of reports) {
      for (const d of rep.descriptions ?? []) {
        const pt = pts.get(d.rID);
        if (!pt) continue;
        const asset = d.reportDataSource?.endDeviceAsset?.[0];
        const prev = declared.get(pt.resourceId);
        const cls = classFromAsset(asset) ?? prev?.resourceClass ?? (pt.kind === 'soc' || pt.kind === 'stored' ? 'battery' : 'other');
        declared.set(pt.resourceId, { resourceId: pt.resourceId, resourceClass: cls, asset: asset ?? prev?.asset });
      }
    }
    this.points.set(venId, pts);
    for (const r of declared.values()) {
      const fromPortfolio = this.o.portfolioSpec?.(r.resourceId);
      const existing = this.o.fleet.spec(r.resourceId);
      if (fromPortfolio) this.o.fleet.upsert({ ...fromPortfolio, venId });
      else if (!existing || existing.venId !== venId) {
        this.o.fleet.upsert({ id: r.resourceId, venId, resourceClass: r.resourceClass, ratedReduceW: 0, ratedIncreaseW: 0, costPerKWh: defaultCost(r.resourceClass) });
      }
    }
    this.o.onResources?.(venId, [...declared.values()]);
    this.o.log?.('gateway resources learned', { venId, resources: declared.size, points: pts.size });
  }

  /**
   * A resource aggregator below us: one resource (its participant id) with the contracted
   * capacity; its TELEMETRY_USAGE "delivered" (deltaUsage, signed like the delta we send) is
   * recorded as the resource's power, so baseline 0 and delivered = −power for a reduction.
   */
  private learnAggregator(venId: string, sub: { reduceW: number; increaseW: number; costPerKWh: number }, reports: OadrReport[]): void {
    const pts = pointsOf(venId, reports, true);
    this.points.set(venId, pts);
    this.o.fleet.upsert({ id: venId, venId, resourceClass: 'other', aggregate: true, ratedReduceW: sub.reduceW, ratedIncreaseW: sub.increaseW, costPerKWh: sub.costPerKWh });
    this.o.log?.('sub-aggregator learned', { venId, reduceW: sub.reduceW, increaseW: sub.increaseW, reports: pts.size });
  }

  /** Stores the values of one oadrUpdateReport in the fleet. */
  private ingest(venId: string, report: OadrReport): void {
    const pts = this.points.get(venId);
    if (!pts) return;
    const now = this.o.clock.now();
    this.lastSeen.set(venId, now);
    for (const iv of report.intervals ?? []) {
      // A sample time in the future (clock skew) is clamped to now, so it cannot shadow later readings.
      const t = epochMillis(Math.min(now, iv.dtstart ?? report.dtstart ?? now));
      for (const p of iv.payloads) {
        const pt = pts.get(p.rID);
        if (!pt) continue;
        const spec = this.o.fleet.spec(pt.resourceId);
        if (!spec || spec.venId !== venId) continue; // a VEN reports only its own resources
        if (pt.kind === 'status') {
          if (typeof p.value === 'number') continue;
          this.status(pt.resourceId, p.value, t);
          continue;
        }
        if (typeof p.value !== 'number' || !Number.isFinite(p.value)) continue;
        const v = p.value * pt.factor;
        if (pt.kind === 'power' || pt.kind === 'delta') this.o.fleet.recordPower(pt.resourceId, v, t);
        else if (pt.kind === 'soc') this.o.fleet.recordStatus(pt.resourceId, { socPercent: v }, t);
        else {
          this.o.fleet.recordStatus(pt.resourceId, { storedWh: v }, t);
          this.deriveCapacity(pt.resourceId);
        }
      }
    }
  }

  private status(resourceId: string, s: ResourceStatus, t: ReturnType<typeof epochMillis>): void {
    this.o.fleet.recordStatus(resourceId, { online: s.online, manualOverride: s.manualOverride }, t);
    const sp = s.loadControlState?.setPoint;
    if (!sp || this.o.portfolioSpec?.(resourceId)) return;
    const spec = this.o.fleet.spec(resourceId)!;
    const reduce = sp.min !== undefined && sp.min < 0 ? -sp.min : spec.ratedReduceW;
    const increase = sp.max !== undefined && sp.max > 0 ? sp.max : spec.ratedIncreaseW;
    if (reduce !== spec.ratedReduceW || increase !== spec.ratedIncreaseW) this.o.fleet.upsert({ ...spec, ratedReduceW: reduce, ratedIncreaseW: increase });
  }

  /** Capacity = stored energy / state of charge, when the portfolio does not give it. */
  private deriveCapacity(resourceId: string): void {
    if (this.o.portfolioSpec?.(resourceId)) return;
    const spec = this.o.fleet.spec(resourceId);
    const live = this.o.fleet.state(resourceId);
    if (!spec || !live || live.storedWh === undefined || !live.socPercent) return;
    const cap = Math.round(live.storedWh / (live.socPercent / 100));
    if (Number.isFinite(cap) && cap > 0 && cap !== spec.capacityWh) this.o.fleet.upsert({ ...spec, capacityWh: cap });
  }
}

/**
 * The data points of a VEN's METADATA reports that we read (by rID). A resource aggregator below
 * us (`subAggregator`) is one resource, its participant id, reporting "delivered" (deltaUsage).
 */
function pointsOf(venId: string, reports: readonly OadrReport[], subAggregator = false): Map<string, Point> {
  const pts = new Map<string, Point>();
  for (const rep of reports) {
    for (const d of rep.descriptions ?? []) {
      if (pts.size >= MAX_POINTS_PER_VEN) return pts;
      const factor = 10 ** (SCALE_EXP[d.itemBase?.siScaleCode ?? 'none'] ?? 0);
      if (subAggregator) {
        if (d.rID === 'delivered' && d.reportType === 'deltaUsage') pts.set(d.rID, { resourceId: venId, kind: 'delta', factor });
        continue;
      }
      const resourceId = d.reportDataSource?.resourceID?.[0] ?? d.rID.split('/')[0];
      const kind = kindOf(d.rID, d.reportType);
      if (resourceId && kind) pts.set(d.rID, { resourceId, kind, factor });
    }
  }
  return pts;
}

/** Our report requests: every TELEMETRY report at the configured interval (granularity = report back). */
function reportRequestsOf(venId: string, reports: OadrReport[], points: ReadonlyMap<string, Point> | undefined, reportIntervalMs: number): ReportRequest[] {
  const out: ReportRequest[] = [];
  for (const rep of reports) {
    if (rep.reportName !== 'METADATA_TELEMETRY_USAGE' && rep.reportName !== 'METADATA_TELEMETRY_STATUS') continue;
    const descs = (rep.descriptions ?? []).filter((d) => points?.has(d.rID));
    if (descs.length === 0) continue;
    // Never faster than the gateway offers (METADATA samplingRate minPeriod, OpenADR 2.0b §8.3).
    const interval = Math.max(reportIntervalMs, ...descs.map((d) => d.samplingRate?.minPeriod ?? 0));
    out.push({
      reportRequestID: `${venId}.${rep.reportSpecifierID}`.slice(0, 200),
      reportSpecifier: {
        reportSpecifierID: rep.reportSpecifierID,
        granularity: millis(interval),
        reportBackDuration: millis(interval),
        specifierPayloads: descs.map((d) => ({ rID: d.rID, readingType: d.readingType, ...(d.itemBase ? { itemBase: d.itemBase } : {}) })),
      },
    });
  }
  return out;
}

/**
 * The R4 endpoint's options, one way for the aggregator's own process and its workers: profile,
 * roles, poll interval, report requests, hooks.
 */
export function r4EndpointOptions(
  o: R4EndpointOptions,
  hooks: Partial<VtnHooks>,
  reportRequestsFor: (venId: string, reports: OadrReport[]) => ReportRequest[],
  vtnStore?: VtnStore,
): VtnEndpointOptions {
  return {
    vtnID: r4VtnId(o.aggregatorId), material: o.material, profile: 'R4', allowList: o.allowList, audit: o.audit,
    store: o.store, clock: o.clock, host: o.host, port: o.port, listener: `aggregator:${o.aggregatorId}:R4`,
    ...(vtnStore ? { vtnStore } : {}),
    // Only gateways and resource aggregators, each under its certificate's participant id (ERAB §3.3).
    roles: ['gateway', 'aggregator'],
    ...(o.routes ? { routes: o.routes } : {}),
    ...(o.instrument ? { instrument: o.instrument } : {}),
    vtn: {
      pollFreqMs: o.pollIntervalMs,
      ...(o.signatureWindowMs !== undefined ? { signatureWindowMs: o.signatureWindowMs } : {}),
      reportRequestsFor,
      hooks,
    },
  };
}

/** The vtnID of an aggregator's downstream VTN (it keys the store rows and the hint channel). */
export const r4VtnId = (aggregatorId: string): string => `${aggregatorId}-vtn`;

/**
 * The report requests an R4 worker answers a METADATA registration with, from the reports alone
 * (the worker has no fleet; the primary learns the resources from the relayed registration).
 */
export function workerReportRequests(o: Pick<R4EndpointOptions, 'subAggregators' | 'reportIntervalMs'>, venId: string, reports: OadrReport[]): ReportRequest[] {
  const sub = o.subAggregators?.some((a) => a.id === venId) ?? false;
  return reportRequestsOf(venId, reports, pointsOf(venId, reports, sub), o.reportIntervalMs);
}

/** Default merit-order cost when the portfolio gives none: batteries before EVs (owner impact). */
function defaultCost(c: ResourceClass): number {
  return c === 'battery' ? 10 : c === 'ev' ? 20 : 50;
}
