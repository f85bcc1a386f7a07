/**
 * One place where a long-running command learns that it should stop (SIGINT, SIGTERM).
 *
 * The same request can arrive twice: when `erab` relaunched itself with V8 flags for one CPU
 * (cli/launch.ts), the terminal's Ctrl-C or a service manager's SIGTERM reaches the whole
 * process group or cgroup, and the launcher forwards it as well.
 * - In a process the launcher started (it names itself in {@link LAUNCHER_PID_ENV}), every
 *   repeat is ignored: a forwarded copy can arrive late on a loaded machine, and a person
 *   asking again reaches the launcher too, which then ends this process (cli/launch.ts).
 * - Otherwise a repeat within {@link DUPLICATE_WINDOW_MS} of the first signal is the same
 *   request and is ignored; a signal after that window is a person asking again: Node's
 *   default action applies and the process ends at once, as it always did on a second Ctrl-C.
 *
 * Start listening before announcing readiness (a ready line, a message to a supervisor): whoever
 * waits for that announcement may stop the process the moment it sees it, and a signal that
 * finds no listener ends the process at once, without closing what it opened.
 *
 * A process that saw a stop signal ends explicitly once its work is done (at 'beforeExit'), not
 * by Node's teardown, during which a late copy of the signal would still kill it.
 *
 * While listening, SIGHUP is held too (core/reload-signal.ts): it asks for a reload, and a
 * long-running command must never die of it.
 */
import { holdReloadSignal } from './reload-signal.js';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** How long after the first stop signal a repeat counts as the same request. */
export const DUPLICATE_WINDOW_MS = 1000;

/** Set by the launcher in its child's environment: the launcher's pid. */
export const LAUNCHER_PID_ENV = 'ERAB_LAUNCHER_PID';

/** Whether this process was started by the launcher, which handles a person's repeated request. */
export function startedByLauncher(env: NodeJS.ProcessEnv = process.env, ppid: number = process.ppid): boolean {
  return env[LAUNCHER_PID_ENV] !== undefined && env[LAUNCHER_PID_ENV] === String(ppid);
}

/** Ends the process with its exit code as it stands. */
function endNow(): void {
  process.exit();
}

/**
 * Calls `onStop` once, at the first SIGINT or SIGTERM. Returns a function that stops listening;
 * after a signal was seen, listening continues until the duplicate window has passed (for the
 * rest of the process's life when the launcher started it), so a forwarded copy arriving during
 * shutdown cannot kill the process half way.
 */
export function onStopSignal(onStop: (signal: StopSignal) => void, o: { underLauncher?: boolean } = {}): () => void {
  const underLauncher = o.underLauncher ?? startedByLauncher();
  let seen = false;
  const releaseReload = holdReloadSignal();
  const remove = (): void => {
    for (const s of STOP_SIGNALS) process.off(s, listener);
    releaseReload();
  };
  function listener(signal: StopSignal): void {
    if (seen) return;
    seen = true;
    // When the event loop runs dry, Node tears down with the signals' default actions back in
    // place, and a copy arriving then (the launcher's, late on a loaded machine) would kill a
    // process that had stopped cleanly. Ending explicitly keeps the handlers to the last moment.
    process.once('beforeExit', endNow);
    // unref: waiting out the window must not keep an otherwise finished process alive.
    // Signal listeners do not keep it alive either, so under the launcher they simply stay.
    if (!underLauncher) setTimeout(remove, DUPLICATE_WINDOW_MS).unref();
    onStop(signal);
  }
  for (const s of STOP_SIGNALS) process.on(s, listener);
  // process.off is a no-op for a listener already removed, so disposing twice is harmless.
  return () => {
    if (!seen) remove();
  };
}
