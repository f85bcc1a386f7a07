/**
 * Closed-loop delivery, the pure part: one evaluation step during an event. Given the target,
 * the current instructions and the delivered power per resource from telemetry, it computes
 * the shortfall, marks resources that do not respond, and re-dispatches the missing power to
 * resources with headroom (standby first, then the rest in merit order) within the same
 * constraints as the first allocation. The caller runs it at least once per reporting interval
 * (e.g. every minute for TELEMETRY_USAGE) and sends the changed instructions.
 *
 * Rules (our design, documented):
 * - A resource FOLLOWS when its latest fresh reading (≤ `telemetryMaxAgeMs` old) shows
 *   delivered ≥ instructed × (1 − toleranceFraction) − toleranceW. No fresh reading = a miss.
 * - After `missesToMark` consecutive misses (counted only after `graceMs` from the event start,
 *   to let devices ramp) it is NON-RESPONDING for the rest of the event: its instructions are
 *   withdrawn and its power is re-dispatched.
 * - A resource whose gateway opted out of its instruction (`optedOut`) is treated as
 *   non-responding at once: a refusal needs no telemetry to be known.
 * - Expected delivery of a resource for the rest of the event: its instruction if it follows or
 *   has not reported yet, instruction × delivered/instructed if it under-delivers but is not yet
 *   marked, 0 once non-responding. gap_j = max(0, target_j − Σ expected_ij) is re-dispatched.
 * - Energy for re-dispatch comes from each resource's CURRENT state (SoC now) minus the energy its
 *   remaining instructions already commit; the current interval counts only from `now`.
 * Deterministic: the same inputs give the same output, whatever the order of the readings.
 */
import { InvalidInputError } from '../../../core/errors.js';
import type { EpochMillis, Watts } from '../../../core/units.js';
import { buildResult } from '../allocation/allocate.js';
import { EPSILON_W, fill } from '../allocation/fill.js';
import { preparePool } from '../allocation/prepare.js';
import type { AllocatableResource, AllocationInterval, AllocationRequest, AllocationResult } from '../allocation/types.js';

/** Delivered power of one resource at one instant, as a magnitude in the event's direction (W). */
export interface DeliveryReading {
  readonly resourceId: string;
  readonly at: EpochMillis;
  readonly deliveredW: Watts;
}

/** Carried from one step to the next. */
export interface ResponseTracking {
  /** Consecutive misses per resource. */
  readonly misses: ReadonlyMap<string, number>;
  /** Resources marked non-responding for this event. */
  readonly nonResponding: ReadonlySet<string>;
}

export interface ClosedLoopConfig {
  /** Relative tolerance for "follows" (default 0.1 = 10 %). */
  readonly toleranceFraction: number;
  /** Absolute tolerance for "follows" in W (default 50 W, metering noise of small devices). */
  readonly toleranceW: number;
  /** Consecutive misses that mark a resource non-responding (default 3). */
  readonly missesToMark: number;
  /** A reading older than this is no reading (default 2 min). */
  readonly telemetryMaxAgeMs: number;
  /** No misses are counted this long after the event start (default 60 s). */
  readonly graceMs: number;
}

export const DEFAULT_CLOSED_LOOP: ClosedLoopConfig = {
  toleranceFraction: 0.1,
  toleranceW: 50,
  missesToMark: 3,
  telemetryMaxAgeMs: 120_000,
  graceMs: 60_000,
};

export interface ClosedLoopInput {
  readonly request: AllocationRequest;
  /** The instructions in force (from allocate() or the previous step). */
  readonly allocation: AllocationResult;
  /** Current state of the pool (SoC now, availability, limits). */
  readonly resources: readonly AllocatableResource[];
  readonly readings: readonly DeliveryReading[];
  readonly now: EpochMillis;
  readonly tracking?: ResponseTracking;
  /**
   * Resources whose gateway declined their instruction (OpenADR optOut, whole event or per
   * resource): withdrawn and re-dispatched at once like non-responding ones, without waiting
   * for misses — also before the event starts (then the whole event is re-planned).
   */
  readonly optedOut?: ReadonlySet<string>;
  readonly config?: Partial<ClosedLoopConfig>;
}

export interface ClosedLoopStep {
  /** Interval containing `now`, or -1 before the event / after its end (nothing else is computed). */
  readonly intervalIndex: number;
  readonly targetW: number;
  /** Σ instructed power in the current interval before this step. */
  readonly instructedW: number;
  /** Σ fresh delivered power of the instructed resources. */
  readonly deliveredW: number;
  /** max(0, target − delivered) now. */
  readonly shortfallW: number;
  readonly newlyNonResponding: readonly string[];
  readonly nonResponding: readonly string[];
  /** Power added by re-dispatch per interval (index = interval of the request; earlier ones 0). */
  readonly redispatchedW: readonly number[];
  /** Gap that re-dispatch could not cover per interval (W): the caller reports it upstream. */
  readonly uncoveredW: readonly number[];
  /** Resources whose instruction changed in this step (to send to gateways). */
  readonly changed: readonly string[];
  /** The instructions now in force. */
  readonly allocation: AllocationResult;
  readonly tracking: ResponseTracking;
}

function checkConfig(c: ClosedLoopConfig): void {
  const bad = (f: string, rule: string): never => {
    throw new InvalidInputError(`closed-loop config: ${f} ${rule}`);
  };
  if (!(c.toleranceFraction >= 0 && c.toleranceFraction < 1)) bad('toleranceFraction', 'must be within 0..1');
  if (!(c.toleranceW >= 0 && Number.isFinite(c.toleranceW))) bad('toleranceW', 'must be a finite number ≥ 0');
  if (!(Number.isInteger(c.missesToMark) && c.missesToMark >= 1)) bad('missesToMark', 'must be an integer ≥ 1');
  if (!(c.telemetryMaxAgeMs > 0 && Number.isFinite(c.telemetryMaxAgeMs))) bad('telemetryMaxAgeMs', 'must be a finite number > 0');
  if (!(c.graceMs >= 0 && Number.isFinite(c.graceMs))) bad('graceMs', 'must be a finite number ≥ 0');
}

/**
 * Evaluate delivery now and re-dispatch any shortfall.
 *
 * @example
 * let step = closedLoopStep({ request, allocation, resources, readings, now: clock.now() });
 * send(step.changed); tracking = step.tracking; allocation = step.allocation;
 */
export function closedLoopStep(input: ClosedLoopInput): ClosedLoopStep {
  const cfg: ClosedLoopConfig = { ...DEFAULT_CLOSED_LOOP, ...input.config };
  checkConfig(cfg);
  const { request, allocation, now } = input;
  const intervals = request.intervals;
  const K = intervals.length;
  if (allocation.intervals.length !== K || allocation.intervals.some((iv, k) => iv.start !== intervals[k]!.start || iv.end !== intervals[k]!.end)) {
    throw new InvalidInputError('closed loop: the allocation does not belong to this request (intervals differ)');
  }
  if (!Number.isFinite(now)) throw new InvalidInputError('closed loop: now must be a finite time');
  const prevMisses = input.tracking?.misses ?? new Map<string, number>();
  const prevNon = input.tracking?.nonResponding ?? new Set<string>();
  const zeros = new Array<number>(K).fill(0);

  const optedOut = input.optedOut ?? new Set<string>();
  let k0 = -1;
  for (let k = 0; k < K; k++) if (intervals[k]!.start <= now && now < intervals[k]!.end) k0 = k;
  // Before the event, only an opt out has anything to re-dispatch: from the first interval on.
  if (k0 < 0 && K > 0 && now < intervals[0]!.start && allocation.instructions.some((i) => optedOut.has(i.resourceId) && !prevNon.has(i.resourceId))) k0 = 0;
  if (k0 < 0) {
    return {
      intervalIndex: -1, targetW: 0, instructedW: 0, deliveredW: 0, shortfallW: 0,
      newlyNonResponding: [], nonResponding: [...prevNon].sort(), redispatchedW: zeros, uncoveredW: zeros, changed: [],
      allocation, tracking: { misses: prevMisses, nonResponding: prevNon },
    };
  }

  // Latest fresh reading per resource (ties on time: the larger value, so order never matters).
  const latest = new Map<string, DeliveryReading>();
  for (const r of input.readings) {
    if (typeof r.resourceId !== 'string' || !Number.isFinite(r.at) || !Number.isFinite(r.deliveredW)) {
      throw new InvalidInputError('closed loop: every reading needs a resourceId, a finite time and a finite deliveredW');
    }
    if (r.at > now || now - r.at > cfg.telemetryMaxAgeMs) continue;
    const cur = latest.get(r.resourceId);
    if (cur === undefined || r.at > cur.at || (r.at === cur.at && r.deliveredW > cur.deliveredW)) latest.set(r.resourceId, r);
  }

  const inGrace = now < intervals[0]!.start + cfg.graceMs;
  const misses = new Map<string, number>();
  // A declined instruction is known not to come: no misses needed (not reported as newly non-responding).
  const nonResponding = new Set([...prevNon, ...optedOut]);
  const newly: string[] = [];
  const ratio = new Map<string, number>(); // expected share of the instruction that arrives
  let instructedNow = 0;
  let deliveredNow = 0;
  for (const ins of allocation.instructions) {
    const id = ins.resourceId;
    const p = ins.powerW[k0]!;
    const reading = latest.get(id);
    if (p > EPSILON_W) instructedNow += p;
    if (reading !== undefined && (p > EPSILON_W || ins.powerW.some((x) => x > EPSILON_W))) deliveredNow += reading.deliveredW;
    if (nonResponding.has(id)) {
      ratio.set(id, 0);
      continue;
    }
    if (p <= EPSILON_W) {
      ratio.set(id, 1);
      if (prevMisses.has(id)) misses.set(id, prevMisses.get(id)!);
      continue;
    }
    const follows = reading !== undefined && reading.deliveredW >= p * (1 - cfg.toleranceFraction) - cfg.toleranceW;
    if (follows || inGrace) {
      misses.set(id, follows ? 0 : prevMisses.get(id) ?? 0);
      ratio.set(id, 1);
      continue;
    }
    const m = (prevMisses.get(id) ?? 0) + 1;
    if (m >= cfg.missesToMark) {
      nonResponding.add(id);
      newly.push(id);
      ratio.set(id, 0);
    } else {
      misses.set(id, m);
      ratio.set(id, reading === undefined ? 1 : Math.max(0, Math.min(1, reading.deliveredW / p)));
    }
  }

  // Gap per remaining interval.
  const gap = new Float64Array(K);
  for (let j = k0; j < K; j++) {
    let expected = 0;
    for (const ins of allocation.instructions) expected += ins.powerW[j]! * (ratio.get(ins.resourceId) ?? 1);
    const g = intervals[j]!.targetW - expected;
    gap[j] = g > EPSILON_W ? g : 0;
  }

  // Re-dispatch over [now, end of the event), current interval trimmed to start at now.
  const sub: AllocationInterval[] = [];
  for (let j = k0; j < K; j++) sub.push({ start: (j === k0 ? Math.max(now, intervals[j]!.start) : intervals[j]!.start) as EpochMillis, end: intervals[j]!.end, targetW: gap[j]! as Watts });
  const Ks = sub.length;
  const byId = new Map(allocation.instructions.map((ins) => [ins.resourceId, ins]));
  const n = input.resources.length;
  const priority = new Uint8Array(n);
  const eligible: AllocatableResource[] = [];
  const eligibleIdx: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = input.resources[i]!;
    if (nonResponding.has(r.id)) continue;
    eligible.push(r);
    eligibleIdx.push(i);
  }
  for (let e = 0; e < eligible.length; e++) {
    const ins = byId.get(eligible[e]!.id);
    let hasStandby = false;
    if (ins !== undefined) for (let j = k0; j < K; j++) if (ins.standbyW[j]! > EPSILON_W) hasStandby = true;
    priority[e] = hasStandby ? 0 : 1;
  }
  const pool = preparePool(eligible, sub, request.direction, {
    ...(request.responseTimeMs !== undefined ? { responseTimeMs: request.responseTimeMs } : {}),
    priority,
  });
  // Committed power of each resource for the rest of the event, in the fill's merit-order layout.
  const mo = pool.order.length;
  const base = new Float64Array(mo * Ks);
  const energy = Float64Array.from(pool.energyWh);
  for (let j = 0; j < mo; j++) {
    const i = pool.order[j]!;
    const ins = byId.get(pool.ids[i]!);
    if (ins === undefined) continue;
    let committed = 0;
    for (let s = 0; s < Ks; s++) {
      const p = ins.powerW[k0 + s]!;
      base[s * mo + j] = p;
      committed += p * pool.durH[s]!;
    }
    const e = energy[i]!;
    energy[i] = e === Infinity ? Infinity : Math.max(0, e - committed);
  }
  const res = fill({ n: pool.n, K: Ks, order: pool.order, durH: pool.durH, goalW: Float64Array.from(sub, (iv) => iv.targetW), capW: pool.capW, minW: pool.minW, energyWh: energy, avail: pool.avail, base });

  // New instruction set: history kept; non-responding withdrawn; additions applied; standby used up.
  const ids: string[] = [];
  const idIndex = new Map<string, number>();
  for (const ins of allocation.instructions) {
    idIndex.set(ins.resourceId, ids.length);
    ids.push(ins.resourceId);
  }
  // Position of each usable resource in the fill's merit order (its cells are s*mo + position).
  const poolIndex = new Map<string, number>();
  for (let o = 0; o < mo; o++) poolIndex.set(pool.ids[pool.order[o]!]!, o);
  for (let o = 0; o < mo; o++) {
    const i = pool.order[o]!;
    let any = false;
    for (let s = 0; s < Ks; s++) if (res.addedW[s * mo + o]! > EPSILON_W) any = true;
    if (any && !idIndex.has(pool.ids[i]!)) {
      idIndex.set(pool.ids[i]!, ids.length);
      ids.push(pool.ids[i]!);
    }
  }
  const N = ids.length;
  const active = new Float64Array(N * K);
  const standby = new Float64Array(N * K);
  const cost = new Float64Array(N);
  const costById = new Map(input.resources.map((r) => [r.id, r.costPerKWh]));
  const changed: string[] = [];
  const redispatched = new Array<number>(K).fill(0);
  for (let x = 0; x < N; x++) {
    const id = ids[x]!;
    cost[x] = costById.get(id) ?? 0;
    const ins = byId.get(id);
    const pi = poolIndex.get(id);
    let didChange = false;
    for (let j = 0; j < K; j++) {
      let a = ins === undefined ? 0 : ins.powerW[j]!;
      let s = ins === undefined ? 0 : ins.standbyW[j]!;
      if (j >= k0) {
        if (nonResponding.has(id)) {
          if (a > EPSILON_W) didChange = true;
          a = 0;
          s = 0;
        } else if (pi !== undefined) {
          const add = res.addedW[(j - k0) * mo + pi]!;
          if (add > EPSILON_W) {
            a += add;
            s = Math.max(0, s - add);
            didChange = true;
            redispatched[j] = redispatched[j]! + add;
          }
        }
      }
      // Identity order below: cell j*N + x.
      active[j * N + x] = a;
      standby[j * N + x] = s;
    }
    if (didChange) changed.push(id);
  }
  const order = Array.from({ length: N }, (_, x) => x);
  const durH = Float64Array.from(intervals, (iv) => (iv.end - iv.start) / 3_600_000);
  const target = Float64Array.from(intervals, (iv) => iv.targetW);
  const margin = Float64Array.from(intervals, (iv, k) => Math.max(iv.targetW, allocation.allocatedW[k]! + allocation.standbyW[k]!));
  const next = buildResult(request, ids, order, cost, durH, active, standby, target, margin, allocation.unusableCount, res.exact);

  const uncovered = new Array<number>(K).fill(0);
  for (let j = k0; j < K; j++) {
    const u = gap[j]! - redispatched[j]!;
    uncovered[j] = u > EPSILON_W ? u : 0;
  }
  for (const id of newly) misses.delete(id);
  const targetNow = intervals[k0]!.targetW;
  const short = targetNow - deliveredNow;
  return {
    intervalIndex: k0,
    targetW: targetNow,
    instructedW: instructedNow,
    deliveredW: deliveredNow,
    shortfallW: short > EPSILON_W ? short : 0,
    newlyNonResponding: newly.sort(),
    nonResponding: [...nonResponding].sort(),
    redispatchedW: redispatched,
    uncoveredW: uncovered,
    changed: changed.sort(),
    allocation: next,
    tracking: { misses, nonResponding },
  };
}
