/**
 * Dispatch allocation: an upstream event (reduce or increase by N W, or a set-point profile)
 * becomes per-resource instructions in W per interval, within every constraint (power limits,
 * minimum power, energy over the whole event down to the owner reserve, availability, ramp
 * within the product's response time), in merit order of expected cost per delivered kWh,
 * with headroom for resources that fail to respond. Deterministic: ties break by reliability,
 * then resource id (code-unit order, independent of locale).
 *
 * The result always states the shortfall per interval. The caller answers the upstream party
 * per OpenADR 2.0b (opt in, opt out with a reason, or a partial opt schedule); allocation never
 * presents a partial allocation as full.
 */
import { InvalidInputError } from '../../../core/errors.js';
import type { EpochMillis, Watts } from '../../../core/units.js';
import { EPSILON_W, fill } from './fill.js';
import { preparePool } from './prepare.js';
import type {
  AllocatableResource,
  AllocationInterval,
  AllocationOptions,
  AllocationRequest,
  AllocationResult,
  DispatchDirection,
  HeadroomPolicy,
  ResourceInstruction,
} from './types.js';

/** Default headroom: 10 % of the target reserved as standby. */
export const DEFAULT_HEADROOM: HeadroomPolicy = { mode: 'standby', fraction: 0.1 };

/**
 * Build the request for a level event: hold `targetW` in `direction` from `start` to `end`.
 *
 * @example
 * const req = levelRequest('evt-1', 'reduce', kilowatts(500), epochMillis(t1), epochMillis(t2));
 */
export function levelRequest(
  eventId: string,
  direction: DispatchDirection,
  targetW: Watts,
  start: EpochMillis,
  end: EpochMillis,
): AllocationRequest {
  return { eventId, direction, intervals: [{ start, end, targetW }] };
}

function validateHeadroom(h: HeadroomPolicy): void {
  if (h.mode !== 'standby' && h.mode !== 'overallocate') {
    throw new InvalidInputError(`allocation options: headroom.mode must be "standby" or "overallocate"`);
  }
  if (!Number.isFinite(h.fraction) || h.fraction < 0 || h.fraction > 1) {
    throw new InvalidInputError('allocation options: headroom.fraction must be within 0..1');
  }
}

/**
 * Allocate an event across the pool.
 *
 * @example
 * const result = allocate(levelRequest('e1', 'reduce', watts(3000), t1, t2), resources);
 * if (!result.meetsTarget) optOutOrPartial(result.shortfallW);
 */
export function allocate(
  request: AllocationRequest,
  resources: readonly AllocatableResource[],
  options: AllocationOptions = {},
): AllocationResult {
  if (request.direction !== 'reduce' && request.direction !== 'increase') {
    throw new InvalidInputError('allocation request: direction must be "reduce" or "increase"');
  }
  const headroom = options.headroom ?? DEFAULT_HEADROOM;
  validateHeadroom(headroom);
  const pool = preparePool(resources, request.intervals, request.direction, {
    ...(request.responseTimeMs !== undefined ? { responseTimeMs: request.responseTimeMs } : {}),
    ...(options.minReliability !== undefined ? { minReliability: options.minReliability } : {}),
  });
  const { n, K, durH } = pool;
  const target = Float64Array.from(request.intervals, (iv) => iv.targetW);
  const withMargin = target.map((t) => t * (1 + headroom.fraction));

  // Layer 1: the instructed allocation.
  const activeGoal = headroom.mode === 'overallocate' ? withMargin : target;
  const active = fill({
    n,
    K,
    order: pool.order,
    durH,
    goalW: activeGoal,
    capW: pool.capW,
    minW: pool.minW,
    energyWh: pool.energyWh,
    avail: pool.avail,
    base: null,
  });

  // Layer 2 (standby mode): reserve the margin on the next resources, net of layer 1's energy.
  let standby: Float64Array | null = null;
  if (headroom.mode === 'standby' && headroom.fraction > 0) {
    const m = pool.order.length;
    const energyLeft = Float64Array.from(pool.energyWh);
    for (let j = 0; j < m; j++) {
      const i = pool.order[j]!;
      let used = 0;
      for (let k = 0; k < K; k++) used += active.addedW[k * m + j]! * durH[k]!;
      const e = energyLeft[i]!;
      energyLeft[i] = e === Infinity ? Infinity : Math.max(0, e - used);
    }
    const goal = new Float64Array(K);
    for (let k = 0; k < K; k++) goal[k] = Math.max(0, withMargin[k]! - Math.max(active.filledW[k]!, target[k]!));
    const res = fill({
      n,
      K,
      order: pool.order,
      durH,
      goalW: goal,
      capW: pool.capW,
      minW: pool.minW,
      energyWh: energyLeft,
      avail: pool.avail,
      base: active.addedW,
    });
    standby = res.addedW;
  }

  return buildResult(request, pool.ids, pool.order, pool.costPerKWh, durH, active.addedW, standby, target, withMargin, pool.unusableCount, active.exact);
}

/**
 * Assemble the public result from flat arrays. `active` and `standby` are in merit-order,
 * interval-major layout (cell k*m + j for the resource at position j of `order`).
 * Exported for the closed loop.
 */
export function buildResult(
  request: { eventId: string; direction: DispatchDirection; intervals: readonly AllocationInterval[] },
  ids: readonly string[],
  order: ArrayLike<number>,
  costPerKWh: Float64Array,
  durH: Float64Array,
  active: Float64Array,
  standby: Float64Array | null,
  target: Float64Array,
  withMargin: Float64Array,
  unusableCount: number,
  shortfallExact = true,
): AllocationResult {
  const K = durH.length;
  const instructions: ResourceInstruction[] = [];
  const allocatedW = new Array<number>(K).fill(0);
  const standbyW = new Array<number>(K).fill(0);
  let totalCost = 0;
  const m = order.length;
  for (let j = 0; j < m; j++) {
    const i = order[j]!;
    let nonZero = false;
    for (let k = 0; k < K; k++) {
      if (active[k * m + j]! > EPSILON_W || (standby !== null && standby[k * m + j]! > EPSILON_W)) {
        nonZero = true;
        break;
      }
    }
    if (!nonZero) continue;
    const powerW = new Array<number>(K);
    const sb = new Array<number>(K);
    for (let k = 0; k < K; k++) {
      const a = active[k * m + j]!;
      const s = standby === null ? 0 : standby[k * m + j]!;
      powerW[k] = a;
      sb[k] = s;
      allocatedW[k] = allocatedW[k]! + a;
      standbyW[k] = standbyW[k]! + s;
      totalCost += (a * durH[k]! * costPerKWh[i]!) / 1000;
    }
    instructions.push({ resourceId: ids[i]!, powerW, standbyW: sb });
  }
  const shortfallW = new Array<number>(K);
  const headroomShortfallW = new Array<number>(K);
  let meets = true;
  for (let k = 0; k < K; k++) {
    const s = target[k]! - allocatedW[k]!;
    shortfallW[k] = s > EPSILON_W ? s : 0;
    if (shortfallW[k]! > 0) meets = false;
    const covered = allocatedW[k]! + standbyW[k]!;
    const h = withMargin[k]! - Math.max(covered, target[k]!);
    headroomShortfallW[k] = shortfallW[k]! > 0 ? withMargin[k]! - target[k]! : h > EPSILON_W ? h : 0;
  }
  return {
    eventId: request.eventId,
    direction: request.direction,
    intervals: request.intervals,
    instructions,
    allocatedW,
    standbyW,
    shortfallW,
    headroomShortfallW,
    meetsTarget: meets,
    shortfallExact: meets || shortfallExact,
    totalCost,
    unusableCount,
  };
}
