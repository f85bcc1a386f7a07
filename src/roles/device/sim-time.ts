/**
 * Simulated time for the device simulators: simulated instants run `speed` times faster than
 * the underlying clock (the demo runs, e.g., `--speed 60`: one simulated minute per second).
 * Tests use a ManualClock underneath, so physics is deterministic.
 */
import type { Clock } from '../../core/clock.js';
import type { EpochMillis } from '../../core/units.js';

export class SimulationTime {
  private readonly realStart: number;
  constructor(
    private readonly base: Clock,
    /** Simulated instant at start (default: the base clock's now). */
    readonly simStart: number = base.now(),
    /** Simulated ms per real ms (1 = real time). */
    readonly speed = 1,
  ) {
    if (!(speed > 0) || speed > 100_000) throw new RangeError(`speed ${speed} is outside (0, 100000]`);
    this.realStart = base.now();
  }
  /** The simulated instant now. */
  now(): EpochMillis {
    return (this.simStart + (this.base.now() - this.realStart) * this.speed) as EpochMillis;
  }
}

/** Hours since local midnight in Japan (JST, UTC+9, no daylight saving). */
export function jstHour(t: number): number {
  const ms = (t + 9 * 3_600_000) % 86_400_000;
  return (ms < 0 ? ms + 86_400_000 : ms) / 3_600_000;
}

/** Day of year 1–366 in JST. */
export function jstDayOfYear(t: number): number {
  const d = new Date(t + 9 * 3_600_000);
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  return Math.floor((d.getTime() - start) / 86_400_000) + 1;
}

/** A small seeded PRNG (mulberry32) so noisy simulations are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
