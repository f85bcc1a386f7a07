/**
 * The `erab` launcher on one CPU: it relaunches Node with the one-CPU GC flags, mirrors the
 * child's outcome, and a stop signal that reaches both processes (Ctrl-C to the process group)
 * stops the command cleanly instead of killing it with the forwarded copy. Real processes pinned
 * with taskset; the long-running command is a simulated ECHONET Lite home on loopback UDP.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ONE_CPU_V8_FLAGS, StopForwarding, relaunchFlags } from '../../src/cli/launch.js';
import { DUPLICATE_WINDOW_MS, LAUNCHER_PID_ENV, onStopSignal, startedByLauncher } from '../../src/core/stop-signals.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERAB_BIN, REPO_ROOT } from '../repo.js';
import { sleep } from '../kit/index.js';

const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

interface Run { child: ChildProcess; out: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }

/** Starts `erab device site` on `address`, pinned to CPU 0 unless `pinned` is false; resolves once it printed its site line. */
async function startSite(address: string, opts: { pinned?: boolean; env?: NodeJS.ProcessEnv; ownGroup?: boolean } = {}): Promise<Run> {
  const args = [ERAB_BIN, 'device', 'site', '--address', address, '--port', '0', '--battery'];
  const child = opts.pinned === false
    ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, detached: opts.ownGroup ?? false })
    : spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, detached: opts.ownGroup ?? false });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no site line within 20 s: ${out}`)), 20_000);
    const check = (): void => {
      if (out.includes('"productionNumber"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    void exited.then(({ code }) => reject(new Error(`exited early (${code}): ${out}`)));
  });
  return { child, out: () => out, exited };
}

/** The direct children of `pid` (Linux /proc). taskset execs node in place, so the launcher is `pid` itself. */
function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text ? text.split(/\s+/).map(Number) : [];
}
const cmdline = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

describe('relaunchFlags', () => {
  const base = { cpus: 1, execArgv: [] as string[], tuning: undefined, hasIpc: false };
  it('adds the one-CPU GC flags only when the process has exactly one CPU', () => {
    assert.deepEqual(relaunchFlags(base), [...ONE_CPU_V8_FLAGS]);
    assert.deepEqual(relaunchFlags({ ...base, cpus: 2 }), []);
    assert.deepEqual(relaunchFlags({ ...base, cpus: 64 }), []);
  });
  it('keeps flags the user gave, and adds only what is missing', () => {
    assert.deepEqual(relaunchFlags({ ...base, execArgv: ['--max-semi-space-size=64'] }), ['--single-threaded-gc']);
    assert.deepEqual(relaunchFlags({ ...base, execArgv: [...ONE_CPU_V8_FLAGS] }), []);
  });
  it('never relaunches with ERAB_NODE_TUNING=off or when forked with an IPC channel', () => {
    assert.deepEqual(relaunchFlags({ ...base, tuning: 'off' }), []);
    assert.deepEqual(relaunchFlags({ ...base, hasIpc: true }), []);
  });
});

describe('onStopSignal', () => {
  // A signal sent to this process is handled on a later turn of its event loop; on a loaded
  // machine a timer of the same turn can run first, so the tests wait for the delivery itself.
  const delivered = (signal: NodeJS.Signals): Promise<void> => new Promise((resolve) => { process.once(signal, () => resolve()); });
  const within = (what: string, p: Promise<void>): Promise<void> => Promise.race([p, sleep(10_000).then(() => { throw new Error(`${what} not delivered within 10 s`); })]);

  it('calls the handler once for a signal delivered twice, then stops listening after the window', async () => {
    const before = process.listenerCount('SIGINT');
    const seen: string[] = [];
    const dispose = onStopSignal((s) => seen.push(s));
    const both = Promise.all([delivered('SIGINT'), delivered('SIGTERM')]).then(() => {});
    process.kill(process.pid, 'SIGINT');
    process.kill(process.pid, 'SIGTERM');
    await within('SIGINT and SIGTERM', both);
    assert.equal(seen.length, 1, `one call for both: ${seen.join(', ')}`);
    dispose();
    assert.equal(process.listenerCount('SIGINT'), before + 1, 'still absorbing duplicates inside the window');
    await sleep(DUPLICATE_WINDOW_MS + 100);
    assert.equal(process.listenerCount('SIGINT'), before);
    assert.equal(process.listenerCount('SIGTERM'), before);
  });
  it('under the launcher, a late copy of the stop signal is absorbed too (the launcher decides when a person asks again)', async () => {
    // Found under load: the launcher's forwarded SIGINT reached the child after the window and
    // killed it half way through stopping.
    const before = process.listenerCount('SIGINT');
    const seen: string[] = [];
    const dispose = onStopSignal((s) => seen.push(s), { underLauncher: true });
    const first = delivered('SIGINT');
    process.kill(process.pid, 'SIGINT');
    await within('the first SIGINT', first);
    await sleep(DUPLICATE_WINDOW_MS + 200);
    assert.equal(process.listenerCount('SIGINT'), before + 1, 'still listening after the window');
    const late = delivered('SIGINT');
    process.kill(process.pid, 'SIGINT');
    await within('the late SIGINT', late);
    assert.deepEqual(seen, ['SIGINT']);
    dispose();
  });
  it('a copy of the stop signal arriving while the stopped process ends does not kill it (it ends with its own exit code)', { timeout: 30_000 }, async () => {
    // Found in CI: Node restores the default action of a signal as it tears down after its event
    // loop ran dry, so the launcher's forwarded copy, late on a loaded machine, killed a child that
    // had already stopped cleanly, and the launcher mirrored that as death by SIGINT. A stopped
    // process now ends explicitly, with the signal handlers still in place.
    const stopSignals = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'core', 'stop-signals.js')).href;
    for (const underLauncher of [true, false]) {
      const script = `import { onStopSignal } from ${JSON.stringify(stopSignals)};
        onStopSignal(() => { process.exitCode = 3; }, { underLauncher: ${underLauncher} });
        setTimeout(() => {}, 200); process.stdout.write('ready\\n');`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); }));
      // Copies of SIGINT, one per turn of this event loop, until the child has ended: some reach it during its teardown.
      let ended = false;
      const keepSending = (): void => {
        if (ended) return;
        try { process.kill(child.pid as number, 'SIGINT'); } catch { return; }
        setImmediate(keepSending);
      };
      keepSending();
      const outcome = await exited;
      ended = true;
      assert.deepEqual(outcome, { code: 3, signal: null }, `underLauncher ${underLauncher}`);
    }
  });
  it('knows it was started by the launcher only when the launcher is its parent', () => {
    assert.equal(startedByLauncher({ [LAUNCHER_PID_ENV]: '4242' }, 4242), true);
    assert.equal(startedByLauncher({ [LAUNCHER_PID_ENV]: '4242' }, 4343), false, 'a grandchild inherits the variable but not the launcher');
    assert.equal(startedByLauncher({}, 4242), false);
  });
  it('stops listening at once when disposed before any signal', () => {
    const before = process.listenerCount('SIGTERM');
    onStopSignal(() => assert.fail('no signal was sent'))();
    assert.equal(process.listenerCount('SIGTERM'), before);
  });
});

describe('StopForwarding (the launcher)', () => {
  it('forwards the first stop signal, drops copies within the window, ends the child on a later one', () => {
    const f = new StopForwarding();
    assert.equal(f.decide('SIGHUP', 0), 'forward');
    assert.equal(f.decide('SIGINT', 1000), 'forward');
    assert.equal(f.decide('SIGINT', 1000 + DUPLICATE_WINDOW_MS - 1), 'drop');
    assert.equal(f.decide('SIGTERM', 1000 + DUPLICATE_WINDOW_MS - 1), 'drop');
    assert.equal(f.decide('SIGINT', 1000 + DUPLICATE_WINDOW_MS), 'end');
    assert.equal(f.decide('SIGHUP', 5000), 'forward', 'a reload is always passed on');
  });
});

describe('erab launcher on one CPU', { skip: !HAS_TASKSET && 'taskset (util-linux) is not installed' }, () => {
  it('relaunches Node with the one-CPU GC flags and forwards SIGTERM; exit code 0, nothing left running', { timeout: 60_000 }, async () => {
    const run = await startSite('127.0.0.81');
    const launcher = run.child.pid as number;
    const [relaunched] = childrenOf(launcher);
    assert.ok(relaunched, 'the launcher has a child');
    const argv = cmdline(relaunched);
    for (const f of ONE_CPU_V8_FLAGS) assert.ok(argv.includes(f), `${f} in ${argv.join(' ')}`);
    assert.ok(argv.includes('device') && argv.includes('127.0.0.81'), 'the same command');
    run.child.kill('SIGTERM');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.out());
    assert.equal(alive(relaunched), false);
  });

  it('Ctrl-C to the whole process group stops the command cleanly (the forwarded copy is absorbed)', { timeout: 60_000 }, async () => {
    const run = await startSite('127.0.0.82', { ownGroup: true });
    const [relaunched] = childrenOf(run.child.pid as number);
    assert.ok(relaunched);
    process.kill(-(run.child.pid as number), 'SIGINT');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.out());
    assert.equal(alive(relaunched), false);
  });

  it('mirrors the child being killed: the launcher ends with the same signal', { timeout: 60_000 }, async () => {
    const run = await startSite('127.0.0.83');
    const [relaunched] = childrenOf(run.child.pid as number);
    assert.ok(relaunched);
    process.kill(relaunched, 'SIGKILL');
    assert.deepEqual(await run.exited, { code: null, signal: 'SIGKILL' });
  });

  it('runs in place with ERAB_NODE_TUNING=off', { timeout: 60_000 }, async () => {
    const run = await startSite('127.0.0.84', { env: { ERAB_NODE_TUNING: 'off' } });
    assert.deepEqual(childrenOf(run.child.pid as number), []);
    run.child.kill('SIGTERM');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.out());
  });
});

describe('erab launcher with several CPUs', { skip: availableParallelism() < 2 && 'this machine has one CPU' }, () => {
  it('runs in place', { timeout: 60_000 }, async () => {
    const run = await startSite('127.0.0.85', { pinned: false });
    assert.deepEqual(childrenOf(run.child.pid as number), []);
    run.child.kill('SIGTERM');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.out());
  });
});
