/**
 * The aggregator's live view of its resources: what each one is (class, rated powers,
 * capacity, owner reserve — from the portfolio or, failing that, from what its gateway reports)
 * and its latest telemetry (net power, state of charge, online, manual override), kept per
 * resource as gateways report it (R4, OpenADR TELEMETRY_USAGE / TELEMETRY_STATUS).
 *
 * Sign convention of this file: `powerW` is the device's NET power as OpenADR usage reports
 * it, consumption-positive (+ draw from the site, − feed into it: battery discharge, PV).
 * `toAllocatable` turns that into the allocation module's non-negative magnitudes relative to
 * the device's own baseline.
 */
import type { EpochMillis } from '../../../core/units.js';
import { wattHours, watts } from '../../../core/units.js';
import type { AllocatableResource, DispatchDirection, ResourceClass } from '../allocation/types.js';
import { deviceClass, kindsWhere } from '../../../core/domain/device-classes.js';
import { delivered, targetFrom } from '../../../core/domain/direction.js';
import type { AdmissionStateName } from '../../common/admission-signal.js';

/** What a resource is: from the portfolio, or derived from telemetry metadata. */
export interface ResourceSpec {
  id: string;
  /** The venID of the gateway (or sub-aggregator) the resource sits behind. */
  venId: string;
  resourceClass: ResourceClass;
  /** Rated discharge (battery, EV with V2H) or sheddable consumption (load), W ≥ 0. */
  ratedReduceW: number;
  /** Rated charge or absorbable consumption, W ≥ 0. */
  ratedIncreaseW: number;
  /** Usable storage capacity, Wh (battery, EV). */
  capacityWh?: number | undefined;
  /** Owner reserve, % of capacity (backup reserve, EV departure charge). */
  reservePercent?: number | undefined;
  /** Merit-order cost per kWh (wear, owner impact). */
  costPerKWh: number;
  /** Pool / TSO area this resource belongs to (upstream party's pool). */
  pool?: string | undefined;
  /**
   * A resource aggregator below us (R3): one resource with contracted capacity, instructed by a
   * LOAD_DISPATCH delta; its "power" is the delivered delta it reports (0 outside events).
   */
  aggregate?: boolean | undefined;
}

/** Latest telemetry of one resource. */
export interface ResourceLive {
  /** Net power, consumption-positive, W. */
  powerW?: number | undefined;
  powerAt?: EpochMillis | undefined;
  socPercent?: number | undefined;
  storedWh?: number | undefined;
  online: boolean;
  manualOverride: boolean;
  statusAt?: EpochMillis | undefined;
  /**
   * The device's admission at its gateway with the record's revision, from the portfolio after
   * each inventory upload; undefined when no inventory of its gateway was accepted.
   */
  admission?: { state: AdmissionStateName; revision: number } | undefined;
}

/** Classes the aggregator can steer with a net-power set point (LOAD_DISPATCH/setpoint at the gateway). */
export const SETPOINT_CLASSES: ReadonlySet<ResourceClass> = new Set(kindsWhere((c) => c.setpoint).map((k) => deviceClass(k).allocationClass));

/**
 * The fleet: specs and live state per resource, and which resources each gateway (venID)
 * reported. Bounded by what gateways declare; unknown rIDs are ignored by the caller.
 */
export class Fleet {
  private readonly specs = new Map<string, ResourceSpec>();
  private readonly live = new Map<string, ResourceLive>();
  /** The specs sorted by id, kept until the membership changes (100,000 resources sort in tens of ms). */
  private sortedCache: readonly ResourceSpec[] | undefined;
  /** Resources per pool, kept until the membership changes. */
  private poolCache: ReadonlyMap<string, number> | undefined;

  /** Adds or replaces a resource's spec (portfolio import or gateway inventory). */
  upsert(spec: ResourceSpec): void {
    this.sortedCache = undefined;
    this.poolCache = undefined;
    this.specs.set(spec.id, { ...spec });
    if (!this.live.has(spec.id)) this.live.set(spec.id, { online: false, manualOverride: false });
  }

  remove(id: string): void {
    this.sortedCache = undefined;
    this.poolCache = undefined;
    this.specs.delete(id);
    this.live.delete(id);
  }

  spec(id: string): ResourceSpec | undefined {
    return this.specs.get(id);
  }

  state(id: string): ResourceLive | undefined {
    return this.live.get(id);
  }

  get size(): number {
    return this.specs.size;
  }

  /** Every spec, sorted by id (deterministic iteration for allocation). */
  all(): ResourceSpec[] {
    return [...this.sorted()];
  }

  /** Every spec, sorted by id, without copying the list (the operator API's fleet pages). */
  sorted(): readonly ResourceSpec[] {
    this.sortedCache ??= [...this.specs.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return this.sortedCache;
  }

  /** The pools the fleet's resources belong to, with how many resources each has, by pool id. */
  pools(): ReadonlyMap<string, number> {
    if (!this.poolCache) {
      const m = new Map<string, number>();
      for (const s of this.sorted()) if (s.pool !== undefined) m.set(s.pool, (m.get(s.pool) ?? 0) + 1);
      this.poolCache = new Map([...m].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    }
    return this.poolCache;
  }

  /** How many resources of the fleet are in `pool` (0: no such pool). */
  poolSize(pool: string): number {
    return this.pools().get(pool) ?? 0;
  }

  /** Resources behind one gateway. */
  ofVen(venId: string): ResourceSpec[] {
    return this.all().filter((s) => s.venId === venId);
  }

  /** Records a net power reading (consumption-positive W). */
  recordPower(id: string, powerW: number, at: EpochMillis): void {
    const l = this.live.get(id);
    if (!l || !Number.isFinite(powerW)) return;
    if (l.powerAt !== undefined && at < l.powerAt) return; // late, out-of-order report
    l.powerW = powerW;
    l.powerAt = at;
    l.online = true;
  }

  /** Records a status reading (online, manual override, state of charge). */
  recordStatus(id: string, s: { online?: boolean; manualOverride?: boolean; socPercent?: number; storedWh?: number }, at: EpochMillis): void {
    const l = this.live.get(id);
    if (!l) return;
    if (s.online !== undefined) l.online = s.online;
    if (s.manualOverride !== undefined) l.manualOverride = s.manualOverride;
    if (s.socPercent !== undefined && Number.isFinite(s.socPercent) && s.socPercent >= 0 && s.socPercent <= 100) l.socPercent = s.socPercent;
    if (s.storedWh !== undefined && Number.isFinite(s.storedWh) && s.storedWh >= 0) l.storedWh = s.storedWh;
    l.statusAt = at;
  }

  /** Records the device's admission state and revision at its gateway (from an accepted inventory). */
  recordAdmission(id: string, state: AdmissionStateName, revision: number): void {
    const l = this.live.get(id);
    if (l) l.admission = { state, revision };
  }

  /** Latest power when it is no older than `maxAgeMs` at `now`; else undefined. */
  freshPower(id: string, now: number, maxAgeMs: number): number | undefined {
    const l = this.live.get(id);
    if (!l || l.powerW === undefined || l.powerAt === undefined) return undefined;
    return now - l.powerAt <= maxAgeMs ? l.powerW : undefined;
  }
}

/**
 * Maps one resource to allocation's input for an event in `direction`, relative to
 * `baselineW` (its pre-event net power). Returns undefined when it cannot take part: offline,
 * under manual override, no fresh baseline, a class the aggregator cannot steer by set point, no
 * rated power known yet, or a storage resource without a state of charge.
 *
 * Set point limits: the gateway holds the device's net power at `baseline − instructed`
 * (reduce) or `baseline + instructed` (increase), within −ratedReduce..+ratedIncrease, so the
 * largest instruction is `baseline + ratedReduce` (a charging battery can first stop charging)
 * or `ratedIncrease − baseline`.
 *
 * @example
 *   toAllocatable({ id: 'b1', venId: 'gw1', resourceClass: 'battery', ratedReduceW: 3000, ratedIncreaseW: 3000, capacityWh: 10000, costPerKWh: 10 },
 *     { online: true, manualOverride: false, socPercent: 80 }, 0, 'reduce')
 *   // { id: 'b1', maxReduceW: 3000, storage: { socWh: 8000, capacityWh: 10000, ... }, ... }
 */
export function toAllocatable(
  spec: ResourceSpec,
  live: ResourceLive | undefined,
  baselineW: number | undefined,
  direction: DispatchDirection,
  extra: { reliability?: number | undefined; alreadyCommittedW?: number | undefined } = {},
): AllocatableResource | undefined {
  if (!live || !live.online || live.manualOverride || baselineW === undefined) return undefined;
  // The gateway refuses to control a device it has not admitted (451): do not plan on it.
  if (live.admission && live.admission.state !== 'admitted') return undefined;
  const committed = Math.max(0, extra.alreadyCommittedW ?? 0);
  if (spec.aggregate) {
    return {
      id: spec.id,
      resourceClass: 'other',
      maxReduceW: watts(Math.max(0, spec.ratedReduceW - (direction === 'reduce' ? committed : 0))),
      maxIncreaseW: watts(Math.max(0, spec.ratedIncreaseW - (direction === 'increase' ? committed : 0))),
      costPerKWh: spec.costPerKWh,
      ...(extra.reliability !== undefined ? { reliability: extra.reliability } : {}),
    };
  }
  if (!SETPOINT_CLASSES.has(spec.resourceClass)) return undefined;
  // A resource learned from its gateway's reports has no rated power until its first status gives
  // its set-point limits: nothing to plan on yet (not "usable with no room").
  if (!(spec.ratedReduceW > 0) && !(spec.ratedIncreaseW > 0)) return undefined;
  const maxReduce = Math.max(0, Math.min(spec.ratedReduceW + spec.ratedIncreaseW, baselineW + spec.ratedReduceW) - (direction === 'reduce' ? committed : 0));
  const maxIncrease = Math.max(0, Math.min(spec.ratedReduceW + spec.ratedIncreaseW, spec.ratedIncreaseW - baselineW) - (direction === 'increase' ? committed : 0));
  const r: { -readonly [K in keyof AllocatableResource]: AllocatableResource[K] } = {
    id: spec.id,
    resourceClass: spec.resourceClass,
    maxReduceW: watts(maxReduce),
    maxIncreaseW: watts(maxIncrease),
    costPerKWh: spec.costPerKWh,
  };
  if (extra.reliability !== undefined) r.reliability = extra.reliability;
  if (spec.capacityWh !== undefined && spec.capacityWh > 0) {
    const soc = live.storedWh ?? (live.socPercent !== undefined ? (live.socPercent / 100) * spec.capacityWh : undefined);
    // Without a state of charge a storage resource cannot be trusted with an energy budget.
    if (soc === undefined) return undefined;
    r.storage = {
      socWh: wattHours(Math.min(spec.capacityWh, Math.max(0, soc))),
      capacityWh: wattHours(spec.capacityWh),
      ...(spec.reservePercent !== undefined ? { reservePercent: spec.reservePercent } : {}),
    };
  }
  return r;
}

/**
 * Why `toAllocatable` leaves a resource out, in a few words for the operator (undefined when it
 * would take part). Same rules, in the same order.
 */
export function whyNotUsable(spec: ResourceSpec, live: ResourceLive | undefined, baselineW: number | undefined): string | undefined {
  if (!live || !live.online) return 'offline';
  if (live.manualOverride) return 'under manual override';
  if (live.admission && live.admission.state !== 'admitted') return `${live.admission.state} at its gateway`;
  if (baselineW === undefined) return 'no fresh telemetry';
  if (spec.aggregate) return undefined;
  if (!SETPOINT_CLASSES.has(spec.resourceClass)) return `${spec.resourceClass} not steerable by set point`;
  if (!(spec.ratedReduceW > 0) && !(spec.ratedIncreaseW > 0)) return 'power limits not known yet';
  if (spec.capacityWh !== undefined && spec.capacityWh > 0 && live.storedWh === undefined && live.socPercent === undefined) return 'state of charge unknown';
  return undefined;
}

/** The device set point (net W, consumption-positive) that delivers `instructedW` in `direction` from `baselineW`. */
export function setpointFor(direction: DispatchDirection, baselineW: number, instructedW: number): number {
  return Math.round(targetFrom(direction, baselineW, instructedW));
}

/** What a resource delivers in `direction`: baseline − actual (reduce) or actual − baseline (increase). */
export function deliveredBy(direction: DispatchDirection, baselineW: number, actualW: number): number {
  return delivered(direction, baselineW, actualW);
}
