/**
 * `erab drill run aggregator-outage` across real processes: a TSO composed as `erab tso run`
 * composes it (detection attached, the silence limit tuned to 1.5 s through the configuration's
 * overrides), and `erab aggregator run` as a child process registered at the TSO's R1 and
 * reporting TELEMETRY_USAGE every 500 ms. The drill (a third process) pauses the aggregator with
 * SIGSTOP, the TSO's detection must raise gateway-silent for VEN AGG1 and deliver it, the
 * aggregator is resumed and must report again; the record holds the timeline.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsoConfigSchema } from '../../../src/roles/tso/config.js';
import { startTso, type RunningTso } from '../../../src/roles/tso/tso.js';
import { vtnSecops } from '../../../src/cli/role-secops.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { lastReport } from '../../../src/secops/incidents/drill-outage.js';
import { pkiWorld, spawnErab, waitFor, type ErabProcess, type PkiWorld } from '../../kit/index.js';
import { runErab } from './run-erab.js';

let world: PkiWorld<'tso' | 'agg'>;
let tso: RunningTso;
let agg: ErabProcess;
let alertsDb: string;

const procState = (pid: number): string => /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? '?';

before(async () => {
  world = await pkiWorld({ tso: 'tso:TSO1', agg: 'aggregator:AGG1' }, { prefix: 'erab-drill-outage-' });
  alertsDb = join(world.dir, 'tso.db');
  const cfg = tsoConfigSchema.parse({
    id: 'TSO1', tls: world.tlsFiles('tso'), listen: { port: 0 }, store: { url: alertsDb }, audit: { dir: join(world.dir, 'tso-audit') },
    contractedAggregators: [{ id: 'AGG1' }], pollIntervalMs: 200, reportIntervalMs: 500,
    detection: { pollMs: 50, overrides: { 'gateway-silent': { params: { silenceMs: 1500 } } } },
  });
  tso = await startTso(cfg, vtnSecops(cfg.detection).deps);
  const config = join(world.dir, 'aggregator.json');
  writeFileSync(config, JSON.stringify({
    id: 'AGG1', tls: world.tlsFiles('agg'), store: { url: join(world.dir, 'agg.db') }, audit: { dir: join(world.dir, 'agg-audit') },
    downstream: { host: '127.0.0.1', port: 0, allowList: { participants: ['gateway:GW1'] } },
    upstream: [{ name: 'tso', kind: 'tso', vtnUrl: tso.vtn.url, expect: { role: 'tso', id: 'TSO1' }, pollIntervalMs: 200, reportMinPeriodMs: 500 }],
  }));
  agg = spawnErab(['aggregator', 'run', '--config', config], { ...process.env, ERAB_NODE_TUNING: 'off' });
  await waitFor(() => tso.vtn.vtn.reportRequests('AGG1').some((r) => r.state === 'active'), { what: 'AGG1 registered at the TSO and asked for telemetry', timeoutMs: 30_000 })
    .catch((e: Error) => { throw new Error(`${e.message}\n${agg.out.slice(-2000)}\n${agg.err.slice(-2000)}`); });
  // The drill first checks that the aggregator was reporting: wait for its first stored report
  // (asked for is not yet sent; on a loaded machine the first report came after the drill began).
  await waitFor(async () => (await lastReport(alertsDb, 'AGG1')) !== undefined, { what: 'a report from AGG1 stored at the TSO', timeoutMs: 30_000 });
});

after(async () => {
  if (agg && agg.exitCode === null) {
    agg.kill('SIGCONT');
    agg.kill('SIGTERM');
    await new Promise((r) => agg.once('close', r));
  }
  await tso?.stop();
  await world?.close();
});

test('aggregator-outage: the paused aggregator is detected silent at the TSO, the alert delivered, the aggregator resumed and reporting again, the drill recorded', { timeout: 120_000 }, async () => {
  const desk = ['--db', join(world.dir, 'incidents.db'), '--audit-dir', join(world.dir, 'incidents-audit')];
  const out = join(world.dir, 'outage.json');
  const r = await runErab(['drill', 'run', 'aggregator-outage', '--target', world.dir, '--participant', 'tso:TSO1', '--alerts-db', alertsDb,
    '--pid', String(agg.pid), '--outage-s', '4', '--wait', '20', '--operator', 'op-sato', '--out', out, ...desk]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /ok {3}aggregator paused: process \d+ state T/);
  assert.match(r.stdout, /ok {3}detection rule fired: alert #\d+ gateway-silent \(AGG1\)/);
  assert.match(r.stdout, /ok {3}aggregator recovered: report #\d+ from VEN AGG1/);
  assert.match(r.stdout, /aggregator-outage against tso:TSO1: PASSED/);
  assert.notEqual(procState(agg.pid!), 'T', 'the aggregator runs again after the drill');
  const record = JSON.parse(readFileSync(out, 'utf8')) as {
    drill: boolean; passed: boolean; checks: { name: string; ok: boolean }[]; incidentId: number;
    alert: { ruleId: string; key: string; deliveries: { channel: string; ok: boolean }[]; evidence: { source: string; type: string; seq: number }[] };
    timeline: { at: string; what: string }[];
  };
  assert.equal(record.drill, true);
  assert.deepEqual(record.checks.map((c) => [c.name, c.ok]), [
    ['aggregator reporting before the outage', true], ['aggregator paused', true], ['detection rule fired', true], ['alert arrived', true], ['aggregator recovered', true], ['playbook ran', true],
  ]);
  assert.equal(record.alert.key, 'AGG1');
  assert.ok(record.alert.deliveries.some((d) => d.channel === 'in-process' && d.ok), JSON.stringify(record.alert.deliveries));
  // The evidence is the last report the TSO had from AGG1 before it went silent (its row, older than the recovery's).
  const ev = record.alert.evidence[0]!;
  assert.deepEqual([ev.source, ev.type], ['telemetry', 'telemetry.report']);
  const recoveredRow = Number(/report #(\d+) from VEN AGG1/.exec(r.stdout)![1]);
  assert.ok(ev.seq < recoveredRow, `evidence row ${ev.seq}, recovery row ${recoveredRow}`);
  // The timeline, in order: paused, the alert, resumed after the 4 s outage, reporting again.
  const at = (re: RegExp): number => {
    const e = record.timeline.find((x) => re.test(x.what));
    assert.ok(e, `${re} in ${record.timeline.map((x) => x.what).join(' / ')}`);
    return Date.parse(e.at);
  };
  const paused = at(/aggregator paused \(SIGSTOP\)/);
  const resumed = at(/aggregator resumed \(SIGCONT\)/);
  assert.ok(resumed - paused >= 3900, `paused for ${resumed - paused} ms`);
  assert.ok(at(/aggregator reported again/) >= resumed);
  at(/alert #\d+ gateway-silent raised/);
  const inc = JSON.parse((await runErab(['incident', 'show', String(record.incidentId), '--json', ...desk])).stdout) as { drill: boolean };
  assert.equal(inc.drill, true);
  assert.ok([...readRecords(join(world.dir, 'incidents-audit'))].some((l) => l.record?.action === 'drill.run' && l.record.outcome === 'success'));
});

test('aggregator-outage refuses to pause a process that is not an aggregator, and needs --pid', async () => {
  const desk = ['--db', join(world.dir, 'incidents2.db'), '--audit-dir', join(world.dir, 'incidents2-audit')];
  const common = ['--target', world.dir, '--participant', 'tso:TSO1', '--alerts-db', alertsDb, '--out', join(world.dir, 'x.json'), ...desk];
  const notAgg = await runErab(['drill', 'run', 'aggregator-outage', '--pid', String(process.pid), ...common]);
  assert.notEqual(notAgg.code, 0);
  assert.match(notAgg.stderr, new RegExp(`process ${process.pid} is not "erab aggregator run"`));
  assert.notEqual(procState(process.pid), 'T');
  const noPid = await runErab(['drill', 'run', 'aggregator-outage', ...common]);
  assert.notEqual(noPid.code, 0);
  assert.match(noPid.stderr, /aggregator-outage: give --pid/);
});

test('an interrupted aggregator-outage drill resumes the aggregator', { timeout: 60_000 }, async () => {
  const drill = spawnErab(['drill', 'run', 'aggregator-outage', '--target', world.dir, '--participant', 'tso:TSO1', '--alerts-db', alertsDb,
    '--pid', String(agg.pid), '--outage-s', '60', '--out', join(world.dir, 'int.json'), '--db', join(world.dir, 'incidents3.db'), '--audit-dir', join(world.dir, 'incidents3-audit')]);
  await waitFor(() => procState(agg.pid!) === 'T', { what: 'the aggregator paused by the drill', timeoutMs: 20_000 });
  drill.kill('SIGINT');
  await new Promise((r) => drill.once('close', r));
  await waitFor(() => procState(agg.pid!) !== 'T', { what: 'the aggregator resumed after the drill was interrupted', timeoutMs: 5000 });
  // Resumed, it reports to the TSO again.
  const last = (await lastReport(alertsDb, 'AGG1'))!.id;
  await waitFor(async () => ((await lastReport(alertsDb, 'AGG1'))?.id ?? 0) > last, { what: 'a report from AGG1 after the interrupted drill', timeoutMs: 10_000 });
});
