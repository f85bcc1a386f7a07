/**
 * The aggregator-outage drill's fault: a running `erab aggregator run` process is paused with
 * SIGSTOP for a bounded time and resumed with SIGCONT. A paused process keeps its sockets, store
 * and state (nothing is killed or restarted): to its upstream TSO/retailer it simply goes silent,
 * which is the fault the upstream's `gateway-silent` rule (a VEN's telemetry stopped) must see.
 * The process is resumed whatever happens: when the outage ends, when the drill fails, and when
 * the drill itself is interrupted (SIGINT/SIGTERM/SIGHUP) or exits.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { becauseOf, explain, InvalidInputError } from '../../core/errors.js';
import { openStore } from '../../store/store.js';

/** The process's command line, or undefined when there is no such process (Linux /proc). */
function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((x) => x.length > 0);
  } catch {
    return undefined;
  }
}

/**
 * Checks that `pid` is an `erab aggregator run` process (a drill pauses nothing else) and returns
 * the aggregator's id from its `--config` file when it can be read (its VEN id upstream).
 */
export function aggregatorProcess(pid: number): { id?: string | undefined; args: string } {
  if (!Number.isSafeInteger(pid) || pid < 2) throw new InvalidInputError(explain('drill.outage.badPid', { value: pid }));
  const argv = commandLine(pid);
  if (!argv) throw new InvalidInputError(explain('drill.outage.noProcess', { pid }));
  const at = argv.indexOf('aggregator');
  if (at < 0 || argv[at + 1] !== 'run') throw new InvalidInputError(explain('drill.outage.notAggregator', { pid, args: argv.join(' ').slice(0, 160) }));
  const c = argv.indexOf('--config');
  const file = c >= 0 ? argv[c + 1] : undefined;
  let id: string | undefined;
  if (file) {
    try {
      const path = isAbsolute(file) ? file : join(`/proc/${pid}/cwd`, file);
      const v = (JSON.parse(readFileSync(path, 'utf8')) as { id?: unknown }).id;
      id = typeof v === 'string' ? v : undefined;
    } catch {
      id = undefined; // the config may be unreadable to us: --ven then names the aggregator
    }
  }
  return { id, args: argv.join(' ').slice(0, 200) };
}

/** The cause of a store's refusal, cut short for one line, in both languages. */
export function shortCause(e: unknown): { why: string; whyJa: string } {
  const { why, whyJa } = becauseOf(e);
  return { why: why.slice(0, 120), whyJa: whyJa.slice(0, 120) };
}

/** Processes paused by this drill process, resumed at exit or interruption whatever happened. */
const paused = new Set<number>();
const resumeAll = (): void => {
  for (const pid of paused) {
    try { process.kill(pid, 'SIGCONT'); } catch { /* already gone */ }
  }
  paused.clear();
};
let guarded = false;
function guardExit(): void {
  if (guarded) return;
  guarded = true;
  process.on('exit', resumeAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      resumeAll();
      process.kill(process.pid, sig); // then end as the signal asked (the handler is gone now)
    });
  }
}

/** Sends SIGSTOP to `pid`; the returned function sends SIGCONT (once). */
export function pauseProcess(pid: number): () => void {
  guardExit();
  paused.add(pid);
  try {
    process.kill(pid, 'SIGSTOP');
  } catch (e) {
    paused.delete(pid);
    throw new InvalidInputError(explain('drill.outage.cannotPause', { pid, ...becauseOf(e) }));
  }
  return () => {
    if (!paused.delete(pid)) return;
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // Gone while paused (killed by someone else): nothing to resume; the recovery check fails.
    }
  };
}

/** The process's state letter from /proc (T: stopped), for the record. */
export function processState(pid: number): string {
  try {
    return /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? '?';
  } catch {
    return 'gone';
  }
}

/**
 * The newest telemetry report the upstream holds from `ven` (table openadr_vtn_report of its
 * VTN store), read without migrating the store.
 */
export async function lastReport(db: string, ven: string): Promise<{ id: number; receivedAt: number } | undefined> {
  const store = await openStore({ url: db, migrations: [], ignoreUnknownMigrations: true });
  try {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const row = await (store.db as any).selectFrom('openadr_vtn_report').select(['id', 'received_at']).where('ven_id', '=', ven)
      .orderBy('id', 'desc').limit(1).executeTakeFirst() as { id: unknown; received_at: unknown } | undefined;
    return row ? { id: Number(row.id), receivedAt: Number(row.received_at) } : undefined;
  } catch (e) {
    throw new InvalidInputError(explain('drill.outage.noReports', { db, ...shortCause(e) }));
  } finally {
    await store.close();
  }
}
