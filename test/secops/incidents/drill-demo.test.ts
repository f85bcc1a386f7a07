/**
 * `erab drill run` against the demo's work folder: the folder is laid out by the demo's own
 * setup code (certificates from its PKI, its configuration files), AGG-A runs from its written
 * configuration, and the gateways' configurations name where it listens — which is how the drill
 * finds its target in a live demo. rogue-peer and revoked-gateway (a DRILL gateway certificate
 * issued and revoked in the demo's own PKI) both pass and are recorded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import type { AggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { aggregatorSecops } from '../../../src/cli/role-secops.js';

/** The aggregator as `erab aggregator run` composes it: detection and the secops tables attached. */
const startComposed = (cfg: AggregatorConfig): Promise<RunningAggregator> => startAggregator(cfg, { ...aggregatorSecops(cfg).deps });
import { openStore } from '../../../src/store/store.js';
import { IDS, planDemo } from '../../../src/roles/demo/layout.js';
import { issueCertificates, prepareWorkFolder, writeAggregatorConfig, writeGatewayConfig, writeVtnConfig } from '../../../src/roles/demo/setup.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { runErab } from './run-erab.js';
import { demoIncidentDesk } from '../../../src/cli/commands/demo-incidents.js';
import { readRecords } from '../../../src/security/audit/export.js';

let scratch: PkiWorld;
let dir: string;
let agg: RunningAggregator;

before(async () => {
  scratch = await pkiWorld({}, { prefix: 'erab-drill-demo-' });
  dir = join(scratch.dir, 'erab-demo');
  const layout = planDemo({ dir, sites: 2, speed: 1, net: 93, tsoPort: 0, sitesPerHost: 250 });
  prepareWorkFolder(layout);
  const certs = await issueCertificates(layout);
  writeVtnConfig(layout, certs, 'tso');
  // The TSO and retailer are not started: AGG-A keeps retrying them, its R4 listener serves anyway.
  const file = writeAggregatorConfig(layout, certs, IDS.aggregators[0], { tso: 'https://127.0.0.1:9', retailer: 'https://127.0.0.1:9' });
  agg = await startComposed(loadAggregatorConfig(file, {}));
  for (const site of layout.sites) writeGatewayConfig(layout, certs, site, `https://127.0.0.1:${agg.downstreamPort}`);
});

after(async () => {
  await agg?.stop();
  await scratch?.close();
});

test('erab drill run rogue-peer and revoked-gateway against the demo folder find AGG-A and pass', async () => {
  const desk = ['--db', join(scratch.dir, 'incidents.db'), '--audit-dir', join(scratch.dir, 'incidents-audit')];
  const rogue = await runErab(['drill', 'run', 'rogue-peer', '--target', dir, '--operator', 'op-alice', '--out', join(scratch.dir, 'rogue.json'), ...desk]);
  assert.equal(rogue.code, 0, `${rogue.stdout}\n${rogue.stderr}`);
  assert.match(rogue.stdout, /rogue-peer against aggregator:AGG-A: PASSED/);
  const record = JSON.parse(readFileSync(join(scratch.dir, 'rogue.json'), 'utf8')) as { target: { url: string }; incidentId: number };
  assert.equal(record.target.url, `https://127.0.0.1:${agg.downstreamPort}`);

  const revoked = await runErab(['drill', 'run', 'revoked-gateway', '--target', dir, '--out', join(scratch.dir, 'revoked.json'), ...desk]);
  assert.equal(revoked.code, 0, `${revoked.stdout}\n${revoked.stderr}`);
  assert.match(revoked.stdout, /ok {3}detection rule fired: alert #\d+ refused-peer-retries/);
  const list = await runErab(['drill', 'list', ...desk]);
  assert.match(list.stdout, /#2 .* revoked-gateway → aggregator:AGG-A: passed\n#1 .* rogue-peer → aggregator:AGG-A: passed/);

  // The TSO is not running in this folder: the drill says so and creates nothing there.
  const tso = await runErab(['drill', 'run', 'rogue-peer', '--target', dir, '--participant', 'tso', '--wait', '1', '--out', join(scratch.dir, 'tso.json'), ...desk]);
  assert.notEqual(tso.code, 0);
  assert.match(tso.stderr, /the participant's store .*tso\.db does not exist \(is it running/);
  // A store without detection's tables: the drill says so and does not create them there.
  const tsoDb = join(dir, 'tso', 'tso.db');
  await (await openStore({ url: tsoDb, migrations: [] })).close();
  const noDetection = await runErab(['drill', 'run', 'rogue-peer', '--target', dir, '--participant', 'tso', '--wait', '1', '--out', join(scratch.dir, 'tso.json'), ...desk]);
  assert.notEqual(noDetection.code, 0);
  assert.match(noDetection.stderr, /tso\.db holds no alerts table .* does the participant run detection\?/);
  const after = await openStore({ url: tsoDb, migrations: [] });
  try {
    const tables = await after.db.introspection.getTables();
    assert.ok(!tables.some((t) => t.name.startsWith('erab_detect')), tables.map((t) => t.name).join(','));
  } finally {
    await after.close();
  }
});

test('erab demo\'s incident desk: an incident from a stored alert, the rogue aggregator revoked as its first step, a second alert added', async () => {
  // An alert in AGG-A's store, raised by a real attack (the rogue-peer drill).
  const desk = ['--db', join(scratch.dir, 'desk2.db'), '--audit-dir', join(scratch.dir, 'desk2-audit')];
  const out = join(scratch.dir, 'rogue2.json');
  const r = await runErab(['drill', 'run', 'rogue-peer', '--target', dir, '--out', out, ...desk]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const alert = (JSON.parse(readFileSync(out, 'utf8')) as { alert: { id: number; ruleId: string; key: string; severity: string; summary: string; count: number } }).alert;
  const demoAlert = { participant: IDS.aggregators[0], id: alert.id, ruleId: alert.ruleId, key: alert.key, severity: alert.severity, summary: alert.summary, count: alert.count };
  const alertsDb = join(dir, IDS.aggregators[0], 'aggregator.db');
  const incidents = demoIncidentDesk(dir);
  const inc = await incidents.open({ alert: demoAlert, alertsDb, title: 'rogue peer at AGG-A', contain: { role: 'aggregator', id: IDS.rogue } });
  assert.equal(inc.status, 'open');
  assert.deepEqual(inc.alerts, [`alert #${alert.id} ${alert.ruleId} (${alert.key})`]);
  assert.equal(inc.steps.length, 1);
  assert.match(inc.steps[0]!, new RegExp(`^revoke: revoked aggregator:${IDS.rogue} \\([0-9A-F]+, keyCompromise\\); CRL rewritten`));
  // The step acted on the demo's PKI.
  const listed = await runErab(['pki', 'list', '--dir', join(dir, 'pki'), '--json']);
  const rogue = (JSON.parse(listed.stdout) as { role: string; id: string; status: string }[]).filter((c) => c.role === 'aggregator' && c.id === IDS.rogue);
  assert.deepEqual(rogue.map((c) => c.status), ['revoked']);
  const more = await incidents.addAlert(inc.id, demoAlert, alertsDb);
  assert.equal(more.alerts.length, 2);
  // The desk's audit log in the work folder records the incident, its step and the added alert.
  const actions = [...readRecords(join(dir, 'incidents-audit'))].map((l) => l.record?.action);
  assert.deepEqual(actions, ['incident.open', 'incident.action', 'incident.alert']);
  await assert.rejects(incidents.open({ alert: { ...demoAlert, id: 99_999 }, alertsDb, title: 'x' }), /alert #99999 of AGG-A is not in/);
});
