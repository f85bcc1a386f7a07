/**
 * The allocation core: a merit-order greedy fill over flat typed arrays, shared by the first
 * allocation and by closed-loop re-dispatch.
 *
 * Complexity: the caller sorts once (O(n log n)); each pass is O(n·K) at worst and usually stops
 * as soon as an interval's goal is met, so 100 000 resources × a few intervals take milliseconds.
 *
 * Feasibility is never traded for the target:
 * - pass 1 caps every resource at its SUSTAINABLE power, min(power headroom, energy budget /
 *   hours it is available in this request). Whatever pass 1 assigns in any interval, the sum
 *   over all intervals stays within the energy budget, so a battery asked for 3 kW for 2 h has
 *   been checked for 6 kWh above its reserve before it is chosen.
 * - pass 2 only runs for intervals still short and spends the energy pass 1 left unused (a
 *   profile with a peak), with exact per-resource energy bookkeeping.
 * For a single interval (a level event) this is exact: it meets the goal iff Σ usable caps ≥ goal.
 * For a multi-interval profile the greedy result is always feasible; if it leaves a shortfall,
 * an augmenting-path repair (repair.ts) moves energy between intervals until the flow is
 * maximal, which makes the shortfall exact for continuous resources on problems up to
 * MAX_REPAIR_CELLS. `exact` tells the caller whether the reported shortfall is proven minimal.
 *
 * Minimum powers (on/off loads): a resource is given 0 or at least its minimum. When the
 * remaining goal is smaller than a resource's minimum it is skipped; if the goal is still open
 * at the end, the cheapest skipped one is given its minimum (a bounded overshoot) rather than
 * leaving a shortfall.
 */

import { InternalError } from '../../../core/errors.js';
import { EPSILON_W } from './epsilon.js';
import { repairShortfall } from './repair.js';

export { EPSILON_W };

/**
 * A fill problem in flat arrays. Per-resource arrays are indexed by resource i; per-cell arrays
 * (`avail`) by i*K + k; `base` and the result are in MERIT-ORDER, interval-major layout: the
 * resource at position j of `order` in interval k → cell k*m + j (m = order.length), so that
 * every pass walks memory sequentially.
 */
export interface FillProblem {
  readonly n: number;
  readonly K: number;
  /** Resource indexes in merit order (cheapest first). May be a subset of 0..n-1. */
  readonly order: ArrayLike<number>;
  /** Duration of each interval in hours (K). */
  readonly durH: Float64Array;
  /** Goal per interval in W (K). */
  readonly goalW: Float64Array;
  /** Power limit per resource in W (n), the same for every interval. */
  readonly capW: Float64Array;
  /** Minimum non-zero power per resource in W (n). */
  readonly minW: Float64Array;
  /** Energy budget per resource in Wh for this fill (n), Infinity when unlimited, NET of `base`. */
  readonly energyWh: Float64Array;
  /** 1 where resource i may be used in interval k (n*K). */
  readonly avail: Uint8Array;
  /** Power already committed per cell (m*K, merit-order layout): occupies the cap; the minimum no longer applies. */
  readonly base: Float64Array | null;
}

/** Output of {@link fill}. */
export interface FillResult {
  /** Power added per cell (m*K, merit-order layout k*m + j). */
  readonly addedW: Float64Array;
  /** Power added per interval (K). */
  readonly filledW: Float64Array;
  /** True when the goal was met or the remaining shortfall is proven unavoidable. */
  readonly exact: boolean;
}

/** Run the two-pass merit-order fill. Pure; never mutates its input. */
export function fill(p: FillProblem): FillResult {
  const { K, order, durH, goalW, capW, minW, energyWh, avail, base } = p;
  const m = order.length;
  if (base !== null && base.length !== m * K) throw new InternalError(`fill: base has ${base.length} cells, expected ${m * K}`);
  const cap = new Float64Array(m);
  const mn = new Float64Array(m);
  const energy = new Float64Array(m);
  const sustainable = new Float64Array(m);
  const av = new Uint8Array(m * K);
  const added = new Float64Array(m * K);

  // Copy into merit order; sustainable power = the constant extra power resource j can hold in
  // every interval it is available in, without exceeding its energy budget over the request.
  for (let j = 0; j < m; j++) {
    const i = order[j]!;
    cap[j] = capW[i]!;
    mn[j] = minW[i]!;
    const e = energyWh[i]!;
    energy[j] = e;
    let hours = 0;
    const row = i * K;
    for (let k = 0; k < K; k++) {
      if (avail[row + k] === 1) {
        av[k * m + j] = 1;
        hours += durH[k]!;
      }
    }
    const byEnergy = hours <= 0 ? 0 : e === Infinity ? Infinity : e / hours;
    sustainable[j] = Math.max(0, Math.min(cap[j]!, byEnergy));
  }

  const remaining = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let rem = goalW[k]!;
    let fallback = -1;
    const off = k * m;
    for (let j = 0; j < m && rem > EPSILON_W; j++) {
      const cell = off + j;
      if (av[cell] !== 1) continue;
      const b = base === null ? 0 : base[cell]!;
      const c = Math.min(sustainable[j]!, cap[j]! - b);
      if (c <= EPSILON_W) continue;
      const least = b > EPSILON_W ? 0 : mn[j]!;
      if (c < least) continue; // can never run at its minimum here
      if (rem < least) {
        if (fallback < 0) fallback = j;
        continue;
      }
      const pw = Math.min(c, rem);
      added[cell] = pw;
      rem -= pw;
    }
    if (rem > EPSILON_W && fallback >= 0) {
      // rem < min ≤ c (it was skipped for that reason), so the minimum covers the rest.
      const pw = mn[fallback]!;
      added[off + fallback] = pw;
      rem -= pw;
    }
    remaining[k] = rem;
  }

  // Pass 2: only for intervals still short, spend energy that pass 1 left unused.
  let short = false;
  let exact = true;
  for (let k = 0; k < K; k++) if (remaining[k]! > EPSILON_W) short = true;
  if (short) {
    const eLeft = Float64Array.from(energy);
    for (let k = 0; k < K; k++) {
      const h = durH[k]!;
      const off = k * m;
      for (let j = 0; j < m; j++) {
        const a = added[off + j]!;
        if (a !== 0) eLeft[j] = eLeft[j]! - a * h;
      }
    }
    for (let k = 0; k < K; k++) {
      let rem = remaining[k]!;
      if (rem <= EPSILON_W) continue;
      let fallback = -1;
      let fallbackPower = 0;
      const h = durH[k]!;
      const off = k * m;
      for (let j = 0; j < m && rem > EPSILON_W; j++) {
        const cell = off + j;
        if (av[cell] !== 1) continue;
        const already = (base === null ? 0 : base[cell]!) + added[cell]!;
        const e = eLeft[j]!;
        const c = Math.min(cap[j]! - already, e === Infinity ? Infinity : e / h);
        if (c <= EPSILON_W) continue;
        const least = already > EPSILON_W ? 0 : mn[j]!;
        if (c < least) continue;
        if (rem < least) {
          if (fallback < 0) {
            fallback = j;
            fallbackPower = least;
          }
          continue;
        }
        const pw = Math.min(c, rem);
        added[cell] = added[cell]! + pw;
        eLeft[j] = e - pw * h;
        rem -= pw;
      }
      if (rem > EPSILON_W && fallback >= 0) {
        const cell = off + fallback;
        added[cell] = added[cell]! + fallbackPower;
        eLeft[fallback] = eLeft[fallback]! - fallbackPower * h;
        rem -= fallbackPower;
      }
      remaining[k] = rem;
    }
    let stillShort = false;
    for (let k = 0; k < K; k++) if (remaining[k]! > EPSILON_W) stillShort = true;
    if (stillShort && K > 1) {
      // Greedy left a gap in a profile: move energy between intervals along augmenting paths.
      const finished = repairShortfall({ m, K, durH, cap, mn, av, base, added, eLeft, remaining });
      let hasMin = false;
      for (let j = 0; j < m; j++) if (mn[j]! > EPSILON_W) hasMin = true;
      let left = false;
      for (let k = 0; k < K; k++) if (remaining[k]! > EPSILON_W) left = true;
      exact = !left || (finished && !hasMin);
    }
  }

  const filled = new Float64Array(K);
  for (let k = 0; k < K; k++) filled[k] = goalW[k]! - remaining[k]!;
  return { addedW: added, filledW: filled, exact };
}
