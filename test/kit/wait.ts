/**
 * The one way tests wait for something to become true: {@link waitFor} polls a predicate (sync
 * or async) in real time until it yields a truthy value, and on timeout throws an error that
 * names what was awaited and the last value seen, so a red test says where it stuck.
 *
 * Waiting is real time on purpose: a test waits for sockets, processes and timers of a running
 * system, not for a simulated clock (use ManualClock.advance for that, see ./clock.ts).
 */
import { inspect } from 'node:util';

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** What is awaited, in words ("the gateway registered"); starts the timeout message. */
  what: string;
  /** Real milliseconds before giving up; default 30 000. Generous: the test machine is shared. */
  timeoutMs?: number;
  /** Real milliseconds between two checks; default 25. */
  intervalMs?: number;
  /**
   * Extra text for the timeout message, computed when it happens (e.g. the tail of a child
   * process's output).
   */
  context?: () => string;
  /**
   * Checked before each poll: a non-empty string gives up at once with that reason (e.g. the
   * process being waited on has exited, so the condition can never hold).
   */
  failIf?: () => string | false | undefined;
}

/** The values waitFor accepts as "done": anything but undefined, null, false, 0, '' and NaN. */
export type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>;

/** What waitFor throws on timeout or on {@link WaitOptions.failIf}. */
export class WaitTimeoutError extends Error {
  constructor(message: string, readonly what: string, readonly lastValue: unknown) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

const DEFAULTS = { timeoutMs: 30_000, intervalMs: 25 } as const;

/** A short rendering of the last value for the message (objects shown two levels deep). */
function show(v: unknown): string {
  const s = inspect(v, { depth: 2, breakLength: Infinity });
  return s.length > 500 ? `${s.slice(0, 500)}…` : s;
}

async function poll<T>(predicate: () => T | Promise<T>, o: WaitOptions): Promise<Truthy<T>> {
  const timeoutMs = o.timeoutMs ?? DEFAULTS.timeoutMs;
  const intervalMs = o.intervalMs ?? DEFAULTS.intervalMs;
  const deadline = Date.now() + timeoutMs;
  let last: unknown = '(not evaluated)';
  const fail = (why: string): never => {
    const extra = o.context ? `\n${o.context()}` : '';
    throw new WaitTimeoutError(`${why} waiting for ${o.what}; last value: ${show(last)}${extra}`, o.what, last);
  };
  for (;;) {
    const stop = o.failIf?.();
    if (stop) fail(`gave up (${stop})`);
    last = await predicate();
    if (last) return last as Truthy<T>;
    if (Date.now() >= deadline) fail(`timed out after ${timeoutMs} ms`);
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

/**
 * Resolves with the first truthy value `predicate` returns, polling every `intervalMs`; rejects
 * with a {@link WaitTimeoutError} naming `what` and the last value after `timeoutMs`. An error
 * thrown by the predicate rejects at once (it is a failure, not a "not yet").
 *
 * Two call forms, the same function: options last, or the description first (reads like a
 * sentence at the call site, and is the form older tests use).
 * @example
 * const reg = await waitFor(() => vtn.registration('AGG1'), { what: 'AGG1 registered', timeoutMs: 20_000 });
 * await waitFor('two reports stored', async () => (await store.reports()).length >= 2);
 * // on timeout: "timed out after 20000 ms waiting for AGG1 registered; last value: undefined"
 */
export function waitFor<T>(predicate: () => T | Promise<T>, opts: WaitOptions): Promise<Truthy<T>>;
export function waitFor<T>(what: string, predicate: () => T | Promise<T>, timeoutMsOrOpts?: number | Omit<WaitOptions, 'what'>): Promise<Truthy<T>>;
export function waitFor<T>(
  a: string | (() => T | Promise<T>),
  b: WaitOptions | (() => T | Promise<T>),
  c?: number | Omit<WaitOptions, 'what'>,
): Promise<Truthy<T>> {
  if (typeof a === 'function') return poll(a, b as WaitOptions);
  const rest = typeof c === 'number' ? { timeoutMs: c } : (c ?? {});
  return poll(b as () => T | Promise<T>, { ...rest, what: a });
}

/** A {@link waitFor} with other defaults (`timeoutMs`, `intervalMs`, `context`, `failIf`). */
export type Waiter = typeof waitFor;

/**
 * The same {@link waitFor} with other defaults, for a file whose waits all share a budget or a
 * context (e.g. the output of the processes under test).
 * @example
 * const until = waiter({ timeoutMs: 120_000, intervalMs: 100, context: () => vtn.out.slice(-3000) });
 * await until('VTN listening', () => vtn.out.includes('listening'));
 */
export function waiter(defaults: Omit<WaitOptions, 'what'>): Waiter {
  return (<T>(a: string | (() => T | Promise<T>), b: WaitOptions | (() => T | Promise<T>), c?: number | Omit<WaitOptions, 'what'>): Promise<Truthy<T>> => {
    if (typeof a === 'function') return poll(a, { ...defaults, ...(b as WaitOptions) });
    const rest = typeof c === 'number' ? { timeoutMs: c } : (c ?? {});
    return poll(b as () => T | Promise<T>, { ...defaults, ...rest, what: a });
  }) as Waiter;
}

/**
 * Waits `ms` of real time. Only for pacing ("let two more polls happen"), never to wait for a
 * condition: use {@link waitFor} for that.
 * @example await sleep(250);
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
