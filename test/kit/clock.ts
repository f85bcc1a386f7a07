/**
 * Clocks for tests, built on src/core/clock.ts (no second implementation here):
 *
 * - {@link manualClock}: time moves only when the test calls `advance(ms)` (ManualClock);
 *   for unit tests of engines, lifecycles and retries, deterministic and without sleeping.
 * - {@link acceleratedClock}: simulated time running `speed` times faster than real time
 *   (scaledClock, what `erab demo --speed` uses); for end-to-end tests over real sockets where
 *   a simulated minute must pass in a second while every component sees consistent instants.
 */
import { ManualClock, scaledClock, type Clock } from '../../src/core/clock.js';

export { ManualClock, systemClock, realMs, type Clock, type TimerHandle } from '../../src/core/clock.js';

/** 2026-01-01T00:00:00Z, ManualClock's default start. */
export const T0 = Date.UTC(2026, 0, 1);

/**
 * A clock the test drives: `advance(ms)` fires due timers in order.
 * @example
 * const clock = manualClock(Date.UTC(2026, 0, 15, 8, 0));
 * clock.setTimeout(() => fired.push('poll'), 10_000);
 * clock.advance(10_000); // fired = ['poll']
 */
export function manualClock(start: number = T0): ManualClock {
  return new ManualClock(start);
}

/**
 * Simulated time `speed` times faster than real time, starting now at `start` (default: the
 * real now). Timers are scaled down and unref'd, so a component waiting 60 simulated seconds
 * on a ×60 clock fires after one real second. `speed` is exposed so realMs() converts network
 * timeouts back to real time.
 * @example
 * const clock = acceleratedClock(60);             // one simulated minute per real second
 * const engine = new Engine({ clock, tickMs: 5000 }); // ticks every 83 real ms
 */
export function acceleratedClock(speed: number, start: number = Date.now()): Clock {
  return scaledClock({ speed, realAnchor: Date.now(), simAnchor: start });
}
