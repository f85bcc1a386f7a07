/**
 * How `erab` starts Node when it has a single CPU (pinned with `taskset -c 0`, or a container
 * limited to one CPU by its cpuset).
 *
 * V8 runs its young-generation scavenges in parallel and its old-generation marking and
 * array-buffer sweeping concurrently, on helper threads. With one CPU those threads do not run
 * beside the event loop: they take turns with it, and the requests in flight wait for them.
 * `--single-threaded-gc` keeps all GC work on the main thread, where it is shortest; a small
 * semi-space (4 MB) then keeps each scavenge short, because its cost here is freeing the dead
 * network buffers (`sweep_array_buffers` in `--trace-gc-nvp`: 4.5 ms at 16 MB, 1.3 ms at 4 MB).
 * Measured with `npm run bench -- vtn` (2000 VENs, VTN and load generator each on one core),
 * alternating runs on one machine: default flags 36–39k polls/s, p99 7.2–8.4 ms, 14 KB per idle
 * VEN; these flags 41–43k polls/s, p99 3.9–4.2 ms, 6–8 KB.
 *
 * These flags only take effect at start-up (setting them from a running process crashes V8),
 * so the launcher (bin/erab.js) relaunches itself with them. It does not when the flags are
 * already there, when `ERAB_NODE_TUNING=off`, or when it was forked with an IPC channel (a
 * supervisor such as `erab demo` chose its children's flags: fork passes its own execArgv on).
 */
import { spawn } from 'node:child_process';
import { DUPLICATE_WINDOW_MS, LAUNCHER_PID_ENV, STOP_SIGNALS } from '../core/stop-signals.js';

/** V8 flags for a process that has exactly one CPU. */
export const ONE_CPU_V8_FLAGS: readonly string[] = ['--single-threaded-gc', '--max-semi-space-size=4'];

export interface LaunchContext {
  /** CPUs this process may run on (`os.availableParallelism()`, which honours the affinity mask). */
  cpus: number;
  /** Flags Node was started with (`process.execArgv`). */
  execArgv: readonly string[];
  /** `process.env.ERAB_NODE_TUNING`: `off` disables the relaunch. */
  tuning: string | undefined;
  /** Whether a parent forked this process with an IPC channel. */
  hasIpc: boolean;
}

const flagName = (flag: string): string => flag.split('=')[0] as string;

/** The flags to relaunch with; empty when this process should run as it is. */
export function relaunchFlags(ctx: LaunchContext): string[] {
  if (ctx.tuning === 'off' || ctx.hasIpc || ctx.cpus !== 1) return [];
  const present = new Set(ctx.execArgv.map(flagName));
  return ONE_CPU_V8_FLAGS.filter((f) => !present.has(flagName(f)));
}

/**
 * What the launcher does with a stop signal it receives: the first is forwarded to the child
 * (which ignores any copy that reached it directly as well); a repeat within the duplicate
 * window is the same request (the group's copy and a service manager's, say) and is dropped; a
 * repeat after it is a person asking again, and the child is ended at once, as Node's default
 * action would end a process on a second Ctrl-C. SIGHUP (reload) is always forwarded.
 */
export class StopForwarding {
  private firstAt: number | undefined;
  decide(signal: NodeJS.Signals, now: number): 'forward' | 'drop' | 'end' {
    if (!(STOP_SIGNALS as readonly string[]).includes(signal)) return 'forward';
    if (this.firstAt === undefined) {
      this.firstAt = now;
      return 'forward';
    }
    return now - this.firstAt < DUPLICATE_WINDOW_MS ? 'drop' : 'end';
  }
}

/**
 * Runs this same command again in a child Node with `flags` added, and mirrors its outcome:
 * the child's exit code, or the signal that killed it. Stop signals reach the child once
 * (StopForwarding): whether they were sent to the launcher alone (`kill <pid>`, a container
 * runtime signalling PID 1) or to the whole process group (Ctrl-C), where the child ignores its
 * own copies because the launcher named itself in its environment (core/stop-signals.ts).
 */
export function relaunch(flags: readonly string[]): void {
  const child = spawn(process.execPath, [...flags, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [LAUNCHER_PID_ENV]: String(process.pid) },
  });
  const stops = new StopForwarding();
  let endedBy: NodeJS.Signals | undefined;
  const forward = (signal: NodeJS.Signals): void => {
    const what = stops.decide(signal, Date.now());
    if (what === 'forward') child.kill(signal);
    if (what === 'end') {
      endedBy = signal;
      child.kill('SIGKILL');
    }
  };
  const forwarded: NodeJS.Signals[] = [...STOP_SIGNALS, 'SIGHUP'];
  for (const s of forwarded) process.on(s, forward);
  child.once('error', (err) => {
    process.stderr.write(`erab: cannot relaunch Node with ${flags.join(' ')}: ${err.message} (set ERAB_NODE_TUNING=off to run without)\n`);
    process.exitCode = 1;
  });
  child.once('exit', (code, signal) => {
    const mirrored = endedBy ?? signal;
    if (mirrored) {
      // Ended on a person's repeated request, or killed: the launcher ends by that signal, as
      // Node would, so its own default action must be back in place.
      for (const s of forwarded) process.off(s, forward);
      process.kill(process.pid, mirrored);
    } else {
      // Explicitly, with the forwarding still listening: Node's teardown after a dry event loop
      // restores the default actions, and a late copy of the stop signal would kill the launcher.
      process.exit(code ?? 1);
    }
  });
}
