/**
 * Validation of allocation input and its translation into the flat arrays of the fill core.
 * Every rejection names the resource or interval and the rule, as an InvalidInputError.
 */
import { InvalidInputError } from '../../../core/errors.js';
import type {
  AllocatableResource,
  AllocationInterval,
  DispatchDirection,
} from './types.js';

/** Upper bound on resources × intervals in one request, so a hostile event cannot exhaust memory. */
export const MAX_CELLS = 10_000_000;
/** Upper bound on intervals in one request (a day of 1-minute intervals). */
export const MAX_INTERVALS = 1440;
const MS_PER_HOUR = 3_600_000;

/** Resources in the flat form the fill core consumes. */
export interface PreparedPool {
  readonly n: number;
  readonly K: number;
  readonly ids: readonly string[];
  readonly capW: Float64Array;
  readonly minW: Float64Array;
  /** Energy budget over the request in Wh at the AC side (Infinity = none). */
  readonly energyWh: Float64Array;
  readonly avail: Uint8Array;
  readonly costPerKWh: Float64Array;
  /** Merit order of the usable resources. */
  readonly order: Uint32Array;
  readonly unusableCount: number;
  readonly durH: Float64Array;
}

/** Check intervals: finite, ascending, contiguous, non-negative targets. */
export function validateIntervals(intervals: readonly AllocationInterval[]): void {
  if (intervals.length === 0) throw new InvalidInputError('allocation request: intervals must not be empty');
  if (intervals.length > MAX_INTERVALS) {
    throw new InvalidInputError(`allocation request: ${intervals.length} intervals exceed the limit of ${MAX_INTERVALS}`);
  }
  for (let k = 0; k < intervals.length; k++) {
    const iv = intervals[k]!;
    if (!Number.isFinite(iv.start) || !Number.isFinite(iv.end) || iv.end <= iv.start) {
      throw new InvalidInputError(`allocation request: interval ${k} must have finite start < end`);
    }
    if (!Number.isFinite(iv.targetW) || iv.targetW < 0) {
      throw new InvalidInputError(
        `allocation request: interval ${k} targetW must be a finite number ≥ 0 (a profile that changes direction is split into separate requests)`,
      );
    }
    if (k > 0 && intervals[k - 1]!.end !== iv.start) {
      throw new InvalidInputError(`allocation request: interval ${k} must start where interval ${k - 1} ends`);
    }
  }
}

function bad(id: string, field: string, rule: string): never {
  throw new InvalidInputError(`resource ${JSON.stringify(id)}: ${field} ${rule}`);
}

function nonNeg(r: AllocatableResource, field: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(r.id, field, 'must be a finite number ≥ 0');
  return v;
}

function ratio(r: AllocatableResource, field: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) bad(r.id, field, 'must be within 0..1');
  return v;
}

/**
 * Energy (Wh at the AC side) a resource can move in `direction` before hitting its reserve or
 * capacity, also limited by any explicit energy limit. Infinity when nothing limits it.
 */
export function energyBudgetWh(r: AllocatableResource, direction: DispatchDirection): number {
  let budget = Infinity;
  const s = r.storage;
  if (s !== undefined) {
    const soc = nonNeg(r, 'storage.socWh', s.socWh);
    const cap = nonNeg(r, 'storage.capacityWh', s.capacityWh);
    if (soc > cap) bad(r.id, 'storage.socWh', 'must not exceed storage.capacityWh');
    const pct = s.reservePercent === undefined ? 0 : s.reservePercent;
    if (!Number.isFinite(pct) || pct < 0 || pct > 100) bad(r.id, 'storage.reservePercent', 'must be within 0..100');
    const reserve = Math.max(nonNeg(r, 'storage.reserveWh', s.reserveWh), (cap * pct) / 100);
    if (reserve > cap) bad(r.id, 'storage.reserveWh', 'must not exceed storage.capacityWh');
    const etaC = ratio(r, 'storage.chargeEfficiency', s.chargeEfficiency, 1);
    const etaD = ratio(r, 'storage.dischargeEfficiency', s.dischargeEfficiency, 1);
    if (direction === 'reduce') {
      // Discharging P for h hours takes P·h/ηd from the cells; they may go down to the reserve.
      budget = Math.max(0, soc - reserve) * etaD;
    } else {
      // Charging P for h hours stores P·h·ηc; the cells may fill up to capacity.
      budget = etaC === 0 ? 0 : Math.max(0, cap - soc) / etaC;
    }
  }
  const explicit = direction === 'reduce' ? r.reduceEnergyLimitWh : r.increaseEnergyLimitWh;
  if (explicit !== undefined) budget = Math.min(budget, nonNeg(r, direction === 'reduce' ? 'reduceEnergyLimitWh' : 'increaseEnergyLimitWh', explicit));
  return budget;
}

/** Power limit in the direction, after the ramp/response-time cap. */
function powerCap(r: AllocatableResource, direction: DispatchDirection, responseTimeMs: number | undefined): number {
  let cap = direction === 'reduce' ? nonNeg(r, 'maxReduceW', r.maxReduceW) : nonNeg(r, 'maxIncreaseW', r.maxIncreaseW);
  if (r.rampWPerS !== undefined) {
    const ramp = nonNeg(r, 'rampWPerS', r.rampWPerS);
    // Only the power reachable within the product's response time counts as delivered on time.
    if (responseTimeMs !== undefined) cap = Math.min(cap, (ramp * responseTimeMs) / 1000);
  }
  return cap;
}

/** Merit-order comparison: expected cost per delivered kWh, then reliability, then id. */
function compareMerit(
  a: number,
  b: number,
  key: Float64Array,
  rel: Float64Array,
  ids: readonly string[],
): number {
  const ka = key[a]!;
  const kb = key[b]!;
  if (ka !== kb) return ka < kb ? -1 : 1;
  const ra = rel[a]!;
  const rb = rel[b]!;
  if (ra !== rb) return ra > rb ? -1 : 1;
  const ia = ids[a]!;
  const ib = ids[b]!;
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

/**
 * Validate resources and build the flat pool for `direction` over `intervals`.
 * `priority` (optional, per resource index) sorts lower values first, before cost: the closed
 * loop uses it to put standby resources ahead of the rest.
 */
export function preparePool(
  resources: readonly AllocatableResource[],
  intervals: readonly AllocationInterval[],
  direction: DispatchDirection,
  opts: { responseTimeMs?: number; minReliability?: number; priority?: Uint8Array } = {},
): PreparedPool {
  validateIntervals(intervals);
  const n = resources.length;
  const K = intervals.length;
  if (n * K > MAX_CELLS) {
    throw new InvalidInputError(`allocation request: ${n} resources × ${K} intervals exceed the limit of ${MAX_CELLS} cells`);
  }
  if (opts.responseTimeMs !== undefined && (!Number.isFinite(opts.responseTimeMs) || opts.responseTimeMs <= 0)) {
    throw new InvalidInputError('allocation request: responseTimeMs must be a finite number > 0');
  }
  const minRel = opts.minReliability ?? 0;
  const durH = new Float64Array(K);
  const intervalStart = new Float64Array(K);
  const intervalEnd = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    intervalStart[k] = intervals[k]!.start;
    intervalEnd[k] = intervals[k]!.end;
    durH[k] = (intervals[k]!.end - intervals[k]!.start) / MS_PER_HOUR;
  }

  const ids: string[] = new Array(n);
  const seen = new Set<string>();
  const capW = new Float64Array(n);
  const minW = new Float64Array(n);
  const energyWh = new Float64Array(n);
  const costPerKWh = new Float64Array(n);
  const key = new Float64Array(n);
  const rel = new Float64Array(n);
  const avail = new Uint8Array(n * K);
  const usable: number[] = [];

  for (let i = 0; i < n; i++) {
    const r = resources[i]!;
    if (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 256) {
      throw new InvalidInputError(`resource at index ${i}: id must be a non-empty string of at most 256 characters`);
    }
    if (seen.has(r.id)) bad(r.id, 'id', 'must be unique in the pool');
    seen.add(r.id);
    ids[i] = r.id;
    const cap = powerCap(r, direction, opts.responseTimeMs);
    const mn = nonNeg(r, direction === 'reduce' ? 'minReduceW' : 'minIncreaseW', direction === 'reduce' ? r.minReduceW : r.minIncreaseW);
    const fullCap = direction === 'reduce' ? r.maxReduceW : r.maxIncreaseW;
    if (mn > fullCap) bad(r.id, direction === 'reduce' ? 'minReduceW' : 'minIncreaseW', 'must not exceed the maximum');
    if (typeof r.costPerKWh !== 'number' || !Number.isFinite(r.costPerKWh)) bad(r.id, 'costPerKWh', 'must be a finite number');
    const reliability = ratio(r, 'reliability', r.reliability, 1);
    capW[i] = cap;
    minW[i] = mn;
    energyWh[i] = energyBudgetWh(r, direction);
    costPerKWh[i] = r.costPerKWh;
    rel[i] = reliability;
    // Expected cost per kWh actually delivered: an unreliable cheap resource is not cheap.
    key[i] = reliability > 0 ? r.costPerKWh / reliability : Infinity;

    let any = false;
    const windows = r.availability;
    const row = i * K;
    if (windows === undefined) {
      avail.fill(1, row, row + K);
      any = K > 0;
    } else {
      if (!Array.isArray(windows)) bad(r.id, 'availability', 'must be an array');
      for (const w of windows) {
        if (!Number.isFinite(w.from) || !Number.isFinite(w.to) || w.to < w.from) {
          bad(r.id, 'availability', 'windows must have finite from ≤ to');
        }
        // Intervals are contiguous and ascending: binary-search the first one starting at or
        // after the window start, then mark while the window still covers the interval's end.
        let lo = 0;
        let hi = K;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (intervalStart[mid]! < w.from) lo = mid + 1;
          else hi = mid;
        }
        for (let k = lo; k < K && intervalEnd[k]! <= w.to; k++) {
          avail[row + k] = 1;
          any = true;
        }
      }
    }
    const isUsable = any && cap > 0 && energyWh[i]! > 0 && reliability >= minRel && reliability > 0 && cap >= mn;
    if (isUsable) usable.push(i);
  }

  const prio = opts.priority;
  usable.sort((a, b) => {
    if (prio !== undefined && prio[a] !== prio[b]) return prio[a]! - prio[b]!;
    return compareMerit(a, b, key, rel, ids);
  });
  return {
    n,
    K,
    ids,
    capW,
    minW,
    energyWh,
    avail,
    costPerKWh,
    order: Uint32Array.from(usable),
    unusableCount: n - usable.length,
    durH,
  };
}
