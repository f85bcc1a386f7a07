/**
 * `erab demo` end to end, as CI runs it: the compiled CLI (bin/erab.js → dist/) started as a child
 * process with `--headless --sites 20 --speed 60 --json <file>`; every assertion is read from the
 * JSON summary it writes. Plus bad input: a port in use, a work folder that is a file, and a
 * participant that fails to start — each with a clear message, and no participant process left.
 *
 * Every child is killed on timeout; the tests never wait for more than their stated bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DemoSummary } from '../../../src/roles/demo/summary.js';
import type { DemoCompliance } from '../../../src/compliance/demo-status.js';
import { ERAB_BIN, REPO_ROOT } from '../../repo.js';
import { waitFor } from '../../kit/index.js';

const DIST_READY = existsSync(join(REPO_ROOT, 'dist', 'src', 'cli', 'commands', 'demo.js'));

interface Run { code: number | null; stdout: string; stderr: string; timedOut: boolean }

/** Runs `erab <args>`; on timeout asks it to stop (SIGTERM: it stops its participants), then kills it. */
function erab(args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}, cwd = REPO_ROOT): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ERAB_BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const term = setTimeout(() => { timedOut = true; child.kill('SIGTERM'); }, timeoutMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 30_000);
    child.on('exit', (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** Processes whose command line mentions `marker` (the run's work folder), other than ourselves. */
function processesMentioning(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker)) found.push(`${pid}: ${cmd.slice(0, 160)}`);
    } catch { /* exited meanwhile */ }
  }
  return found;
}

/** Waits up to `ms` for every process mentioning `marker` to be gone; returns those still there. */
const noneLeft = (marker: string, ms = 20_000): Promise<string[]> =>
  waitFor(() => processesMentioning(marker).length === 0, { what: `no process mentioning ${marker}`, timeoutMs: ms, intervalMs: 250 })
    .then(() => [], () => processesMentioning(marker));

/** A 127.<net>.x.y block nobody else on this machine is likely to use right now. */
const randomNet = () => 100 + Math.floor(Math.random() * 150);

test('erab demo --headless --sites 20 --speed 60: delivered within tolerance, refusals, pending device, audit logs verify', { skip: !DIST_READY && 'needs dist/ (npm run build)', timeout: 15 * 60_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'erab-demo-test-'));
  const dir = join(tmp, 'work');
  const json = join(tmp, 'summary.json');
  try {
    // A relative --dir, run from its parent folder, as a user runs the default ./erab-demo.
    const run = await erab(['demo', '--headless', '--sites', '20', '--speed', '60', '--json', json, '--dir', 'work', '--net', String(randomNet()), '--timeout', '780'], 13 * 60_000, {}, tmp);
    assert.equal(run.timedOut, false, `the demo did not finish in time:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
    assert.ok(existsSync(json), `no JSON summary written (exit ${run.code}):\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
    const s = JSON.parse(readFileSync(json, 'utf8')) as DemoSummary;
    const why = `\n${run.stdout.slice(-4000)}`;
    assert.equal(s.sites, 20);
    assert.equal(s.speed, 60);
    assert.deepEqual(s.events.map((e) => e.id), ['TSO-E1', 'RET-E1']);
    for (const e of s.events) {
      assert.ok(e.requestedKw > 0 && e.samples > 0, `${e.id} has requested power and delivery samples`);
      assert.ok(e.withinTolerance, `${e.id}: delivered ${e.deliveredKw} kW of ${e.requestedKw} kW (${e.percent} %)${why}`);
      assert.ok(e.percent !== null && e.percent >= 90, `${e.id}: ${e.percent} %`);
      assert.ok(e.gatewaysBeforeStart > 0, `${e.id} reached gateways before its start`);
    }
    assert.ok(s.tsoEventToLastGatewayMs !== null && s.tsoEventToLastGatewayMs > 0, 'time from the TSO event to the last gateway is measured');
    assert.equal(s.security.rogueAggregatorRefused, true, `rogue aggregator refused${why}`);
    assert.match(s.security.rogueRefusal ?? '', /ROGUE-AGG/);
    assert.equal(s.security.forgedCommandRefused, true, `forged command refused${why}`);
    assert.match(s.security.forgedRefusal ?? '', /gw-0001: .*signature/);
    assert.equal(s.security.unknownDevicePending, true, `unknown device pending${why}`);
    // Detection in the TSO and the gateways (attached by the CLI): the rogue aggregator and the forged command are alerts.
    assert.match(s.security.rogueAggregatorAlert ?? '', /^tso #\d+ HIGH refused-peer-retries/, `rogue aggregator alert${why}`);
    assert.match(s.security.forgedCommandAlert ?? '', /^gw-0001 #\d+ HIGH command-refused-by-policy/, `forged command alert${why}`);
    assert.ok(s.alerts.some((a) => a.participant === 'tso' && a.ruleId === 'refused-peer-retries' && /ROGUE-AGG/.test(a.evidence ?? '')), JSON.stringify(s.alerts).slice(0, 2000));
    assert.ok(s.alerts.some((a) => a.participant === 'gw-0001' && a.ruleId === 'command-refused-by-policy'), JSON.stringify(s.alerts).slice(0, 2000));
    assert.match(run.stdout, /rogue aggregator raised as an alert: tso #/);
    // Incident response: an incident opened from the rogue aggregator's alert, its certificate revoked
    // as the first playbook step, and the forged command's alert added (the desk in the work folder).
    assert.equal(s.incidents.length, 1, `one incident${why}`);
    const inc = s.incidents[0]!;
    assert.match(inc.alerts[0] ?? '', /^alert #\d+ refused-peer-retries/);
    assert.ok(inc.alerts.some((a) => /command-refused-by-policy/.test(a)), JSON.stringify(inc.alerts));
    assert.deepEqual(inc.steps.length, 1);
    assert.match(inc.steps[0]!, /^revoke: revoked aggregator:ROGUE-AGG \([0-9A-F]+, keyCompromise\); CRL rewritten/);
    assert.match(s.security.incident ?? '', /^incident #1 \(open\) "rogue aggregator ROGUE-AGG at the TSO"/);
    assert.match(run.stdout, /✓ incident opened from the alerts: incident #1/);
    const v = s.vulnerability;
    assert.ok(v, `the vulnerability scene completed${why}`);
    assert.equal(v.sitesAffected, 20, 'every site\'s battery is affected');
    assert.equal(v.findings, 20);
    assert.deepEqual(v.notices.map((n) => n.recipients), [10, 10], 'each aggregator tells all its sites in one notice');
    assert.ok(v.notices.every((n) => n.delivered === n.deliveries && /^\d{4}-\d{2}-\d{2}T/.test(n.issuedAt)));
    assert.equal(v.patched, 20, 'the signed update patched every finding');
    assert.equal(v.patchedSites, 20);
    assert.equal(s.audit.ok, true, `audit logs verify: ${JSON.stringify(s.audit.failures).slice(0, 1000)}`);
    assert.equal(s.audit.participants, 6 + 20, 'TSO, retailer, coordinator, AGG-A, AGG-B, the rogue aggregator and 20 gateways');
    assert.ok(s.audit.byParticipant.every((a) => a.records > 0));
    // AGG-A's compliance status, read after the participants stopped (src/compliance/demo-status.ts).
    const c = (s as DemoSummary & { compliance?: DemoCompliance }).compliance;
    assert.ok(c, `the summary includes compliance${why}`);
    assert.equal(c.error, undefined, `compliance assessed: ${c.error}`);
    assert.equal(c.participant, 'AGG-A');
    assert.ok((c.counts?.['勧告']?.['total'] ?? 0) > 0 && (c.counts?.['推奨']?.['total'] ?? 0) > 0, JSON.stringify(c.counts));
    for (const f of c.failingKankoku ?? []) {
      assert.ok(f.status === 'needs-decision' || (f.status === 'not-satisfied' && f.failingChecks.length > 0), `a failing 勧告 item says why: ${JSON.stringify(f)}`);
    }
    assert.ok(c.failingKankoku!.some((f) => f.id === 'erab-3.5-i' && f.status === 'needs-decision'), 'organisational 勧告 items wait for a decision');
    assert.match(run.stdout, /compliance \(AGG-A, erab compliance status --demo <dir>\):\n {2}勧告: \d+ items — /);
    assert.equal(s.ok, true);
    assert.equal(run.code, 0);
    assert.ok(s.machine.cpus > 0);
    assert.deepEqual(await noneLeft(dir), [], 'no participant process left running');
    assert.equal(existsSync(dir), false, 'the work folder is removed without --keep');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('bad input: a port in use is named with its participant; nothing is left running', { skip: !DIST_READY && 'needs dist/', timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'erab-demo-bad-'));
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const port = (busy.address() as AddressInfo).port;
  try {
    const dir = join(tmp, 'work');
    const run = await erab(['demo', '--headless', '--sites', '2', '--dir', dir, '--tso-port', String(port), '--net', String(randomNet())], 90_000);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`TCP port ${port} on 127\\.0\\.0\\.1 \\(TSO VTN, --tso-port\\) is already in use`));
    assert.deepEqual(await noneLeft(dir), []);
  } finally {
    await new Promise<void>((r) => busy.close(() => r()));
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('bad input: a work folder that is a file, or a non-empty folder not made by the demo, is refused', { skip: !DIST_READY && 'needs dist/', timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'erab-demo-bad-'));
  try {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'not a folder');
    const run = await erab(['demo', '--headless', '--sites', '2', '--dir', file], 60_000);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /work folder .*a-file exists and is not a folder/);
    const under = await erab(['demo', '--headless', '--sites', '2', '--dir', join(file, 'sub')], 60_000);
    assert.equal(under.code, 1);
    assert.match(under.stderr, /work folder .*a-file\/sub cannot be created: (ENOTDIR|EEXIST)/);
    const other = join(tmp, 'someone-elses');
    writeFileSync(join(tmp, 'keep.txt'), 'x');
    const run2 = await erab(['demo', '--headless', '--sites', '2', '--dir', tmp], 60_000);
    assert.equal(run2.code, 1);
    assert.match(run2.stderr, /is not empty and was not made by erab demo/);
    assert.equal(readFileSync(join(tmp, 'keep.txt'), 'utf8'), 'x', 'nothing of it was deleted');
    assert.equal(existsSync(other), false);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('bad input: a participant that fails to start is named with its cause; every started process is stopped', { skip: !DIST_READY && 'needs dist/', timeout: 240_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'erab-demo-bad-'));
  const dir = join(tmp, 'work');
  try {
    // Every participant's store (ERAB_STORE__URL overrides their configuration files) points at a
    // PostgreSQL port where nothing listens: none can start, and whichever fails first is named.
    const run = await erab(['demo', '--headless', '--sites', '2', '--dir', dir, '--net', String(randomNet())], 200_000, { ERAB_STORE__URL: 'postgres://postgres@127.0.0.1:1/none' });
    assert.equal(run.timedOut, false);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /participant (tso|retailer|COORD|AGG-A|AGG-B|ROGUE-AGG) failed to start/);
    assert.match(run.stderr, /ECONNREFUSED|127\.0\.0\.1:1|connect/);
    assert.deepEqual(await noneLeft(dir), [], 'every started participant was stopped');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
