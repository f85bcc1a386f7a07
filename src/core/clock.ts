/**
 * Time is injected so that polling, retries, event lifecycles and dispatch can be tested
 * deterministically without sleeping.
 */
import type { EpochMillis } from './units.js';

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): EpochMillis;
  /** Run `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Simulated ms per real ms on a sped-up clock (`erab demo --speed`); absent means 1. */
  readonly speed?: number;
}

/**
 * The duration on `clock` that lasts `ms` of real time. Waiting for a peer on the network (a
 * response timeout, pacing requests) is real time even when the simulated world runs faster:
 * a device does not answer 60 times sooner because the demo plays at ×60.
 */
export function realMs(clock: Clock, ms: number): number {
  return ms * (clock.speed ?? 1);
}

/** The real clock. Timers are unref'd so they never keep a finished process alive by themselves. */
export const systemClock: Clock = {
  now: () => Date.now() as EpochMillis,
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock driven by the test: `advance(ms)` fires due timers in order. */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }
  now(): EpochMillis {
    return this.current as EpochMillis;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => { t.cancelled = true; } };
  }
  /** Move time forward, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.cancelled = true;
      this.current = due.at;
      due.fn();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.current = target;
  }
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}

/**
 * Simulated time that runs `speed` times faster than real time, anchored so that every process
 * given the same `realAnchor`, `simAnchor` and `speed` agrees on "now" (used by `erab demo
 * --speed 60` so a 30-minute event plays in 30 seconds across all participants).
 */
export function scaledClock(opts: { speed: number; realAnchor: number; simAnchor: number }): Clock {
  const { speed, realAnchor, simAnchor } = opts;
  if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number, got ${speed}`);
  if (speed === 1 && realAnchor === simAnchor) return systemClock;
  return {
    speed,
    now: () => Math.round(simAnchor + (Date.now() - realAnchor) * speed) as EpochMillis,
    setTimeout(fn, ms) {
      const t = setTimeout(fn, Math.max(0, ms) / speed);
      t.unref?.();
      return { cancel: () => clearTimeout(t) };
    },
  };
}

/**
 * The clock a role process runs on: the system clock, or the shared simulated time that a
 * supervisor (`erab demo --speed X`) hands every participant through the environment:
 * ERAB_SIM_SPEED, ERAB_SIM_REAL_ANCHOR and ERAB_SIM_ANCHOR (epoch ms).
 */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const speed = env.ERAB_SIM_SPEED;
  if (speed === undefined || speed === '') return systemClock;
  const n = (k: string): number => {
    const v = Number(env[k]);
    if (!Number.isFinite(v)) throw new RangeError(`${k} must be epoch milliseconds when ERAB_SIM_SPEED is set, got "${env[k] ?? ''}"`);
    return v;
  };
  return scaledClock({ speed: Number(speed), realAnchor: n('ERAB_SIM_REAL_ANCHOR'), simAnchor: n('ERAB_SIM_ANCHOR') });
}
