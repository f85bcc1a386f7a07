/**
 * Plain typed inputs and outputs of dispatch allocation. No storage, no sockets: the
 * integration maps portfolio rows (sites, gateways, devices) onto {@link AllocatableResource}
 * and an upstream OpenADR event onto {@link AllocationRequest}.
 *
 * Sign convention: every power in this module is a non-negative MAGNITUDE in the event's
 * direction. For a `reduce` event (下げDR) 3000 W means "net grid consumption 3 kW lower than the
 * resource's own baseline" (battery discharging 3 kW, a load switched down by 3 kW). For an
 * `increase` event (上げDR) it means 3 kW more consumption (battery charging, water heater on,
 * PV curtailed). Turning a magnitude into a device set-point (charge/discharge W, ECHONET Lite
 * property) is the dispatcher's job, not allocation's.
 */
import type { EpochMillis, Millis, WattHours, Watts } from '../../../core/units.js';
import type { AllocationClass } from '../../../core/domain/device-classes.js';
import type { DispatchDirection } from '../../../core/domain/direction.js';

/** 下げDR (reduce net consumption) or 上げDR (increase net consumption), from the domain core. */
export type { DispatchDirection };

/**
 * What kind of thing a resource is, as allocation groups them (the registry's allocation class of
 * each device kind). Used for reporting; limits come from the numeric fields.
 */
export type ResourceClass = AllocationClass;

/** A half-open time window [from, to) in which the owner lets the aggregator use the resource. */
export interface AvailabilityWindow {
  readonly from: EpochMillis;
  readonly to: EpochMillis;
}

/** Energy state of a storage resource (stationary battery, EV behind a V2H unit). */
export interface StorageState {
  /** Energy stored now, at the cells. */
  readonly socWh: WattHours;
  /** Usable capacity at the cells. */
  readonly capacityWh: WattHours;
  /**
   * Owner reserve that must remain after the event (backup reserve for outages, an EV's
   * departure charge). The effective reserve is the larger of this and `reservePercent`.
   */
  readonly reserveWh?: WattHours;
  /** Owner reserve as 0..100 % of capacity. */
  readonly reservePercent?: number;
  /** AC→cells efficiency while charging, 0..1 (default 1). */
  readonly chargeEfficiency?: number;
  /** Cells→AC efficiency while discharging, 0..1 (default 1). */
  readonly dischargeEfficiency?: number;
}

/**
 * One controllable resource as allocation sees it. The portfolio derives these numbers from
 * device data (rated power, measured state) and owner constraints (comfort band, reserve).
 */
export interface AllocatableResource {
  readonly id: string;
  readonly resourceClass: ResourceClass;
  /** Largest reduction of net consumption this resource can hold (W, ≥ 0). */
  readonly maxReduceW: Watts;
  /** If instructed to reduce at all, at least this much (W, default 0): on/off devices, inverter minimums. */
  readonly minReduceW?: Watts;
  /** Largest increase of net consumption this resource can hold (W, ≥ 0). */
  readonly maxIncreaseW: Watts;
  /** If instructed to increase at all, at least this much (W, default 0). */
  readonly minIncreaseW?: Watts;
  /** Storage state: limits the energy over the WHOLE event. */
  readonly storage?: StorageState;
  /** Extra energy limit on reduction over the event (e.g. a comfort budget for an air conditioner). */
  readonly reduceEnergyLimitWh?: WattHours;
  /** Extra energy limit on increase over the event (e.g. hot-water tank headroom of an EcoCute). */
  readonly increaseEnergyLimitWh?: WattHours;
  /** When the owner allows use. Absent = always. An interval is usable only if one window covers it entirely. */
  readonly availability?: readonly AvailabilityWindow[];
  /** Ramp rate in W per second. With a request's `responseTimeMs`, caps power at ramp × response time. */
  readonly rampWPerS?: number;
  /**
   * Merit-order cost per kWh delivered, in any one currency-like unit used for the whole pool:
   * battery wear, owner impact for loads and EVs, lost curtailment value for PV.
   */
  readonly costPerKWh: number;
  /** Share of past instructions this resource actually followed, 0..1 (default 1). */
  readonly reliability?: number;
}

/** One interval of the requested profile: hold `targetW` from `start` to `end`. */
export interface AllocationInterval {
  readonly start: EpochMillis;
  readonly end: EpochMillis;
  readonly targetW: Watts;
}

/**
 * How allocation keeps headroom for resources that fail to respond.
 * - `standby` (default): instruct exactly the target and additionally RESERVE `fraction` × target
 *   of capacity and energy on the next resources in merit order, listed as standby and not
 *   instructed. The closed loop re-dispatches to standby first. Chosen as default because
 *   over-delivery is itself a deviation in balancing-market assessments, and standby energy is
 *   held back so a re-dispatch cannot fail for lack of it.
 * - `overallocate`: instruct target × (1 + fraction) up front (over-delivers when everybody responds).
 */
export interface HeadroomPolicy {
  readonly mode: 'standby' | 'overallocate';
  /** e.g. 0.1 for 10 %. 0 disables headroom. */
  readonly fraction: number;
}

/** An upstream event turned into a request for allocation. */
export interface AllocationRequest {
  readonly eventId: string;
  readonly direction: DispatchDirection;
  /** Contiguous, ascending intervals (a level event is one interval; a profile has several). */
  readonly intervals: readonly AllocationInterval[];
  /** The product's response time (e.g. 三次① 15 min): caps each resource at rampWPerS × this. */
  readonly responseTimeMs?: Millis;
}

/** Tunables of allocation. */
export interface AllocationOptions {
  readonly headroom?: HeadroomPolicy;
  /** Resources with reliability below this are not used (default 0: all are used). */
  readonly minReliability?: number;
}

/** What one resource is asked to do, per interval of the request. */
export interface ResourceInstruction {
  readonly resourceId: string;
  /** Instructed power per interval (W, magnitude in the event direction; 0 = not used then). */
  readonly powerW: readonly number[];
  /** Reserved standby power per interval (W, not instructed; for re-dispatch). */
  readonly standbyW: readonly number[];
}

/** Result of {@link allocate}. A shortfall is always reported, never hidden. */
export interface AllocationResult {
  readonly eventId: string;
  readonly direction: DispatchDirection;
  readonly intervals: readonly AllocationInterval[];
  /** Resources with a non-zero instruction or standby, in merit order. */
  readonly instructions: readonly ResourceInstruction[];
  /** Instructed total per interval (W). */
  readonly allocatedW: readonly number[];
  /** Reserved standby per interval (W). */
  readonly standbyW: readonly number[];
  /** target − instructed per interval when positive, else 0 (W). */
  readonly shortfallW: readonly number[];
  /** Missing headroom per interval (W): the pool met the target but not the margin. */
  readonly headroomShortfallW: readonly number[];
  /** True when every interval's target is met (shortfall 0 everywhere). */
  readonly meetsTarget: boolean;
  /**
   * True when the shortfall is proven unavoidable (or there is none): always for a level event;
   * for a profile after the max-flow repair, when no resource has a minimum power and the
   * problem is within the repair's size limit. False = the pool might do better than reported.
   */
  readonly shortfallExact: boolean;
  /** Σ instructed energy × costPerKWh. */
  readonly totalCost: number;
  /** Number of resources that could not take part at all (zero power, unavailable, unreliable). */
  readonly unusableCount: number;
}
