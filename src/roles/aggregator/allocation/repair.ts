/**
 * Exactness repair for multi-interval profiles: maximum flow (Dinic) on the transportation
 * network the greedy passes leave behind.
 *
 * Network (energies in Wh): source → resource j (residual = energy left), resource j → interval
 * k (residual = (cap − base − added)·hours; the reverse, added·hours, can be taken back),
 * interval k → sink (residual = still-missing power · hours). A path source → j0 → k1 ← j1 → k2
 * … → sink moves energy so that a resource whose energy was spent in one interval serves a
 * short interval while another resource with spare power takes over the first one (e.g. a
 * battery available all day gives its early energy to a late peak while a resource available
 * only early covers the early interval). When no path is left the flow is maximum (max-flow =
 * min-cut), so the remaining shortfall is proven unavoidable for continuous resources.
 *
 * Cost: a shortest augmenting path alternates resource/interval without repeating an interval,
 * so Dinic needs at most K + 1 phases, each O(m·K) with current-arc pointers. A work budget
 * bounds the total; when it runs out the greedy result stands and `exact` is reported false.
 *
 * Resources with a minimum power are left as they are (neither raised nor lowered), because a
 * flow change could leave them between 0 and their minimum. Cheaper resources (lower merit
 * position) are tried first; cost is not re-optimised (feasibility first).
 */
import { EPSILON_W } from './epsilon.js';

/** Largest problem (resources × intervals) the repair is attempted on. */
export const MAX_REPAIR_CELLS = 2_000_000;
/** Edge visits allowed per repair (bounds the time even on adversarial input). */
export const REPAIR_WORK_BUDGET = 40_000_000;
/** Energy below this (Wh) is treated as zero. */
const EPSILON_WH = 1e-9;

/** Arrays in merit-order, interval-major layout (cell k*m + j), mutated in place. */
export interface RepairState {
  readonly m: number;
  readonly K: number;
  readonly durH: Float64Array;
  readonly cap: Float64Array;
  readonly mn: Float64Array;
  readonly av: Uint8Array;
  readonly base: Float64Array | null;
  readonly added: Float64Array;
  /** Energy left per resource (Wh). */
  readonly eLeft: Float64Array;
  /** Still-missing power per interval (W). */
  readonly remaining: Float64Array;
}

/**
 * Push energy along augmenting paths until no interval is short or no path is left.
 * Returns true when it finished (the flow is then maximum), false when a limit stopped it.
 */
export function repairShortfall(st: RepairState): boolean {
  const { m, K, durH, cap, mn, av, base, added, eLeft, remaining } = st;
  if (m * K > MAX_REPAIR_CELLS) return false;
  const movable = new Uint8Array(m);
  for (let j = 0; j < m; j++) movable[j] = mn[j]! <= EPSILON_W ? 1 : 0;
  const fwdW = (j: number, k: number): number => {
    const cell = k * m + j;
    if (av[cell] !== 1) return 0;
    return cap[j]! - (base === null ? 0 : base[cell]!) - added[cell]!;
  };

  // Levels: resources 0..m-1, intervals m..m+K-1; -1 = unreached.
  const level = new Int32Array(m + K);
  const ptrRes = new Int32Array(m);
  const ptrInt = new Int32Array(K);
  const queue = new Int32Array(m + K);
  let work = 0;
  let levelSink = -1;

  const bfs = (): boolean => {
    level.fill(-1);
    levelSink = -1;
    let head = 0;
    let tail = 0;
    for (let j = 0; j < m; j++) {
      if (movable[j] === 1 && eLeft[j]! > EPSILON_WH) {
        level[j] = 1;
        queue[tail++] = j;
      }
    }
    while (head < tail) {
      const u = queue[head++]!;
      const lu = level[u]!;
      if (levelSink >= 0 && lu + 1 >= levelSink) break; // deeper nodes are on no shortest path
      if (u < m) {
        work += K;
        for (let k = 0; k < K; k++) {
          const v = m + k;
          if (level[v] !== -1 || fwdW(u, k) <= EPSILON_W) continue;
          level[v] = lu + 1;
          if (remaining[k]! > EPSILON_W) levelSink = lu + 2;
          queue[tail++] = v;
        }
      } else {
        const k = u - m;
        if (remaining[k]! > EPSILON_W) continue; // its edge to the sink ends the path
        const off = k * m;
        work += m;
        for (let j = 0; j < m; j++) {
          if (level[j] !== -1 || movable[j] !== 1 || added[off + j]! <= EPSILON_W) continue;
          level[j] = lu + 1;
          queue[tail++] = j;
        }
      }
    }
    return levelSink >= 0;
  };

  // One augmenting path from node u with at most f Wh; returns the Wh pushed.
  const dfs = (u: number, f: number): number => {
    if (u >= m) {
      const k = u - m;
      const h = durH[k]!;
      if (level[u]! + 1 === levelSink) {
        if (remaining[k]! <= EPSILON_W) return 0;
        const d = Math.min(f, remaining[k]! * h);
        remaining[k] = remaining[k]! - d / h;
        return d;
      }
      const off = k * m;
      for (; ptrInt[k]! < m; ptrInt[k] = ptrInt[k]! + 1) {
        work++;
        const j = ptrInt[k]!;
        if (level[j] !== level[u]! + 1 || movable[j] !== 1) continue;
        const back = added[off + j]! * h;
        if (back <= EPSILON_WH) continue;
        const d = dfs(j, Math.min(f, back));
        if (d > 0) {
          added[off + j] = Math.max(0, added[off + j]! - d / h);
          return d;
        }
      }
      return 0;
    }
    const j = u;
    for (; ptrRes[j]! < K; ptrRes[j] = ptrRes[j]! + 1) {
      work++;
      const k = ptrRes[j]!;
      if (level[m + k] !== level[j]! + 1) continue;
      const h = durH[k]!;
      const fw = fwdW(j, k) * h;
      if (fw <= EPSILON_WH) continue;
      const d = dfs(m + k, Math.min(f, fw));
      if (d > 0) {
        added[k * m + j] = added[k * m + j]! + d / h;
        return d;
      }
    }
    return 0;
  };

  for (let phase = 0; phase <= 2 * K + 4; phase++) {
    let anyShort = false;
    for (let k = 0; k < K; k++) if (remaining[k]! > EPSILON_W) anyShort = true;
    if (!anyShort) return true;
    if (!bfs()) return true; // no augmenting path: maximum flow reached
    ptrRes.fill(0);
    ptrInt.fill(0);
    for (let j = 0; j < m; j++) {
      if (level[j] !== 1) continue;
      while (eLeft[j]! > EPSILON_WH) {
        const d = dfs(j, eLeft[j]!);
        if (!(d > 0)) break;
        eLeft[j] = eLeft[j]! - d;
      }
      if (work > REPAIR_WORK_BUDGET) return false;
    }
    if (work > REPAIR_WORK_BUDGET) return false;
  }
  return false;
}
