/**
 * Detection inside the running aggregator (on by default) and the operator's `erab alerts`
 * commands: a rogue device knocking on the aggregator's downstream VTN over real mutual TLS is
 * an alert in the aggregator; `erab alerts list` shows it from the store, and `erab alerts ack`
 * (while the aggregator holds its audit log) is audited by the aggregator's detection.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import type { AggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { aggregatorSecops } from '../../../src/cli/role-secops.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { request } from '../../security/tls-helpers.js';
import { pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';

const mainJs = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const runner = `import(${JSON.stringify(mainJs)}).then((m) => m.main(['node', 'erab', ...process.argv.slice(1)])).then((c) => { process.exitCode = c; });`;
function erab(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', runner, '--', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Starts the aggregator with detection attached the way `erab aggregator run` attaches it. */
async function startWithDetection(cfg: AggregatorConfig) {
  const secops = aggregatorSecops(cfg);
  const agg = await startAggregator(cfg, secops.deps);
  return { agg, detection: secops.detection };
}

let world: PkiWorld<'agg'>;
let rogueWorld: PkiWorld<'rogue'>;
before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1' }, { prefix: 'erab-detect-agg-', flatFiles: true });
  rogueWorld = await pkiWorld({ rogue: 'gateway:GW1' }, { prefix: 'erab-detect-agg-rogue-', ca: { commonName: 'rogue CA' } });
});
after(async () => {
  await world?.close();
  await rogueWorld?.close();
});

const config = (name: string, detection?: { enabled: boolean }) => parseAggregatorConfig({
  id: 'AGG1',
  tls: { certFile: join(world.dir, 'agg.pem'), keyFile: join(world.dir, 'agg.key'), caFile: join(world.dir, 'ca.pem') },
  store: { url: join(world.dir, `${name}.db`) },
  audit: { dir: join(world.dir, `${name}-audit`) },
  downstream: { port: 0, allowList: { participants: ['gateway:GW1'] } },
  ...(detection ? { detection } : {}),
});

it('the aggregator raises an alert for a rogue device at its downstream VTN; erab alerts list shows it and ack is audited by the aggregator', async () => {
  const cfg = config('on');
  const { agg, detection } = await startWithDetection(cfg);
  try {
    assert.ok(detection.running, 'detection runs by default');
    const rogue = rogueWorld.certs.rogue;
    for (let i = 0; i < 10; i++) await request(agg.downstreamPort, { cert: rogue.certPem, key: rogue.keyPem, ca: world.caPem, checkServerIdentity: () => undefined });
    const a = await waitFor(() => detection.inbox.received.find((x) => x.ruleId === 'mtls-refusals-from-source'), { what: 'the alert in the aggregator' });
    assert.equal(a.key, '127.0.0.1');

    const list = await erab(['alerts', 'list', '--db', cfg.store.url, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { id: number; ruleId: string }[];
    assert.ok(listed.some((x) => x.id === a.id && x.ruleId === 'mtls-refusals-from-source'), list.stdout);

    const ack = await erab(['alerts', 'ack', String(a.id), '--operator', 'op-sato', '--note', 'lab scanner', '--db', cfg.store.url, '--audit-dir', cfg.audit.dir]);
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(ack.stdout, /to be audited by the running role/);
    await waitFor(() => [...readRecords(cfg.audit.dir)].find((l) => l.record?.action === 'detect.alert.acknowledge' && l.record.actor.id === 'op-sato'), { what: 'the ack audited by the aggregator' });
    const open = await erab(['alerts', 'list', '--db', cfg.store.url]);
    assert.doesNotMatch(open.stdout, /mtls-refusals-from-source/, 'acknowledged: no longer open');
    const bad = await erab(['alerts', 'ack', '999', '--operator', 'op-sato', '--db', cfg.store.url]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /alert 999: no such alert/);
  } finally {
    await agg.stop();
  }
});

it('detection can be switched off in the configuration', async () => {
  const { agg, detection } = await startWithDetection(config('off', { enabled: false }));
  try {
    assert.equal(detection.running, undefined);
  } finally {
    await agg.stop();
  }
});

it('an override that breaks a rule stops start-up naming the rule', async () => {
  const cfg = parseAggregatorConfig({ ...config('bad'), detection: { overrides: { 'command-flood': { params: { count: -1 } } } } } as never);
  await assert.rejects(startWithDetection(cfg), /command-flood[^]*count/);
});
