/**
 * Quarantine and release from the aggregator, end to end over real boundaries: an aggregator with
 * its operator console (mutual TLS, operator certificates, roles), a real Gateway over R4, and a
 * simulated home (DeviceSite over loopback UDP) with a storage battery on the gateway's allow-list.
 *
 * - A security officer quarantines the discharging battery (POST /api/fleet/devices/<id>/quarantine):
 *   a signed admission event (value -1) reaches the gateway, which returns the battery to its
 *   owner's mode (it leaves discharging) and quarantines it; its next inventory shows it
 *   quarantined at the aggregator, and a fleet command no longer allocates it.
 * - Release (POST /api/fleet/devices/<id>/release {revision, reason}) admits it again at the
 *   revision the officer saw: admitted at the gateway and the aggregator, allocatable again.
 * - Refusals: a viewer and an operator are 403, the wrong state is 409 (quarantine twice, release
 *   an admitted device, admit a quarantined one, a stale revision), an unknown device 404; audited.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore } from '../../../src/store/store.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { aggregatorMigrations } from '../../../src/roles/aggregator/runtime/r4-workers.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/storage-battery.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { pkiWorld, waiter, type PkiWorld } from '../../kit/index.js';
import { runErab } from '../../secops/incidents/run-erab.js';
import { operatorCall } from '../common/operator-client.js';

const until = waiter({ timeoutMs: 45_000, intervalMs: 100 });
const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;

type Name = 'agg' | 'gw1' | 'alice' | 'carol' | 'dave';
let pki: PkiWorld<Name>;
let agg: RunningAggregator;
let gw: Gateway;
let site: DeviceSite;
const audit = new MemoryAuditSink();
const gwAudit = new MemoryAuditSink();

interface DeviceItem { id: string; gateway: string; resourceClass: string; online: boolean; admission: string | null; admissionRevision: number | null }

const console_ = () => ({ port: agg.consolePort!, caPem: pki.caPem, server: { role: 'aggregator', id: 'AGG1' } });
const battery = async (): Promise<DeviceItem | undefined> => {
  const r = await operatorCall(console_(), pki.certs.dave, 'GET', '/api/fleet/devices');
  assert.equal(r.status, 200, r.text);
  return (r.json.items as DeviceItem[]).find((d) => d.resourceClass === 'battery');
};
const batteryIn = (state: string) => until(`the battery ${state} in the aggregator's device list`, async () => {
  const b = await battery();
  return b?.admission === state ? b : undefined;
});
const mode = () => site.battery!.object.get(StorageBattery.props.operationMode);
const conn = (n: Name) => ['--url', `https://127.0.0.1:${agg.consolePort}`, '--cert', pki.get(n).files.certFile, '--key', pki.get(n).files.keyFile, '--ca', pki.caFile, '--aggregator', 'AGG1'];

before(async () => {
  pki = await pkiWorld({ agg: 'aggregator:AGG1', gw1: 'gateway:GW1', alice: 'operator:alice', carol: 'operator:carol', dave: 'operator:dave' }, { prefix: 'erab-quarantine-' });
  const dbFile = join(pki.dir, 'aggregator.db');
  const pstore = await openStore({ url: dbFile, migrations: aggregatorMigrations });
  await new Portfolio(pstore).importText(JSON.stringify({
    format: 'erab-portfolio/1',
    pools: [{ id: 'tokyo-t2', tsoArea: 'tokyo', product: 'tertiary2', program: 'TSO1' }],
    sites: [{ id: 'site-1', name: 'Home 1', tsoArea: 'tokyo', poolId: 'tokyo-t2' }],
    gateways: [{ id: 'GW1', siteId: 'site-1', venId: 'GW1' }],
  }), 'json', 'portfolio.json', { kind: 'operator', id: 'setup' });
  await pstore.close();
  // dave is a viewer (the default role), alice an operator, carol the security officer.
  const roles = { default: 'viewer', operators: { alice: 'operator', carol: 'security officer' } } as const;
  agg = await startAggregator(parseAggregatorConfig({
    id: 'AGG1', tls: pki.tlsFiles('agg'), store: { url: dbFile },
    downstream: { host: '127.0.0.1', port: 0, allowList: { participants: ['gateway:GW1'] }, pollIntervalMs: 200, reportIntervalMs: 1000 },
    console: { port: 0, roles },
    approvals: { maxSingleOperatorFleetPercent: 100 },
    closedLoop: { intervalMs: 500, telemetryMaxAgeMs: 5000 },
    statusIntervalMs: 200,
  }), { audit, clock: systemClock });
  const node = `${NET}.2`;
  site = await DeviceSite.start({
    address: node, speed: 1, tickMs: 100, serialPrefix: 'QRN0',
    battery: { capacityWh: 10_000, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 80 },
  });
  gw = await Gateway.start(gatewayConfigSchema.parse({
    gatewayId: 'GW1', database: join(pki.dir, 'gw1.db'), tls: pki.tlsFiles('gw1'),
    aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${agg.downstreamPort}`, certificateFile: pki.get('agg').files.certFile },
    echonet: { address: `${NET}.1`, devices: [node], pollMs: 500, timeoutMs: 2000, retries: 1 },
    telemetry: { minPeriodMs: 1000 }, engine: { tickMs: 200 },
    admission: { allowList: [{ serialNumber: 'QRN0', eoj: '027D01' }] },
  }), { clock: systemClock, audit: gwAudit });
});

after(async () => {
  await gw?.close().catch(() => {});
  await site?.close().catch(() => {});
  await agg?.stop();
  pki?.close();
});

test('a security officer quarantines a discharging battery from the aggregator: it leaves discharging, shows quarantined, and a fleet command no longer allocates it; released, it is admitted and allocatable again', { timeout: 150_000 }, async () => {
  const { alice, carol, dave } = pki.certs;
  const b = await batteryIn('admitted');
  await until('the battery online at the aggregator', () => agg.engine.freshPower(b.id) !== undefined || undefined);
  const cmd = await operatorCall(console_(), alice, 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [b.id], durationMs: 300_000, reason: 'before the quarantine' });
  assert.equal(cmd.status, 200, cmd.text);
  assert.equal(cmd.json.record.state, 'executed', cmd.text);
  await until('the battery discharging for the command', () => mode() === 'discharging' || undefined);

  // Refused before anything is sent: a viewer, an operator (not a security officer), an unknown device, a release of an admitted device.
  const path = `/api/fleet/devices/${b.id}/quarantine`;
  const viewer = await operatorCall(console_(), dave, 'POST', path, { reason: 'suspected' });
  assert.equal(viewer.status, 403, viewer.text);
  const operator = await operatorCall(console_(), alice, 'POST', path, { reason: 'suspected' });
  assert.equal(operator.status, 403, operator.text);
  assert.match(operator.json.error, /needs the role security officer; operator alice is operator/);
  assert.equal((await operatorCall(console_(), carol, 'POST', '/api/fleet/devices/027D01-0000000000/quarantine', { reason: 'x' })).status, 404);
  assert.equal((await operatorCall(console_(), carol, 'POST', path, {})).status, 400, 'a reason is required');
  const notQuarantined = await operatorCall(console_(), carol, 'POST', `/api/fleet/devices/${b.id}/release`, { revision: b.admissionRevision, reason: 'x' });
  assert.equal(notQuarantined.status, 409, notQuarantined.text);
  assert.match(notQuarantined.json.error, /admitted, not quarantined: nothing to release/);
  assert.equal(gw.admission.get(b.id)?.state, 'admitted', 'nothing reached the gateway');
  assert.equal(mode(), 'discharging');

  const q = await operatorCall(console_(), carol, 'POST', path, { reason: 'suspected of compromise' });
  assert.equal(q.status, 202, q.text);
  assert.deepEqual([q.json.deviceId, q.json.gateway, q.json.decision, q.json.revision], [b.id, 'GW1', 'quarantine', b.admissionRevision]);
  assert.ok(audit.records.some((r) => r.action === 'aggregator.device.quarantine' && r.actor.id === 'carol' && r.target === b.id && r.reason === 'suspected of compromise' && r.details?.eventId === q.json.eventId));
  assert.deepEqual(audit.records.filter((r) => r.action === 'console.api.device.quarantine').map((r) => [r.actor.id, r.outcome]).slice(0, 2), [['dave', 'refused'], ['alice', 'refused']]);

  // The gateway returns the battery to its owner's mode, then quarantines it.
  await until('the battery no longer discharging', () => mode() !== 'discharging' || undefined);
  await until('the battery quarantined at the gateway', () => gw.admission.get(b.id)?.state === 'quarantined' || undefined);
  assert.equal(gw.admission.isControllable(b.id), false);
  assert.ok(gwAudit.records.some((r) => r.action === 'gateway.device.quarantined' && r.target === b.id && r.actor.id === 'aggregator:AGG1'));
  const quarantined = await batteryIn('quarantined');
  assert.equal(quarantined.admissionRevision, gw.admission.get(b.id)?.revision);
  assert.equal(quarantined.admissionRevision, b.admissionRevision! + 1);

  // Not allocated: a fleet command finds no resource for its power; a second quarantine, an admit are 409.
  const none = await operatorCall(console_(), alice, 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [b.id], durationMs: 60_000, reason: 'while quarantined' });
  assert.equal(none.status, 200, none.text);
  assert.deepEqual([none.json.record.state, none.json.record.allocatedW, none.json.record.shortfallW], ['short', 0, 1000], none.text);
  await new Promise((r) => setTimeout(r, 1500));
  assert.notEqual(mode(), 'discharging', 'the quarantined battery is not commanded');
  const twice = await operatorCall(console_(), carol, 'POST', path, { reason: 'again' });
  assert.equal(twice.status, 409);
  assert.match(twice.json.error, /already quarantined/);
  const admit = await operatorCall(console_(), alice, 'POST', `/api/fleet/devices/${b.id}/admit`, { revision: quarantined.admissionRevision });
  assert.equal(admit.status, 409);
  assert.match(admit.json.error, /quarantined; a security officer releases it/);

  for (const c of [cmd, none]) await agg.engine.cancel(`operator/${c.json.record.id}`, 'quarantine drill over');

  // Release at the revision seen (a stale one is 409; an operator is 403).
  const releasePath = `/api/fleet/devices/${b.id}/release`;
  assert.equal((await operatorCall(console_(), alice, 'POST', releasePath, { revision: quarantined.admissionRevision, reason: 'cleared' })).status, 403);
  const stale = await operatorCall(console_(), carol, 'POST', releasePath, { revision: quarantined.admissionRevision! - 1, reason: 'cleared' });
  assert.equal(stale.status, 409);
  assert.match(stale.json.error, /is stale, the device is quarantined at revision/);
  const released = await operatorCall(console_(), carol, 'POST', releasePath, { revision: quarantined.admissionRevision, reason: 'cleared by forensics' });
  assert.equal(released.status, 202, released.text);
  assert.deepEqual([released.json.decision, released.json.revision], ['release', quarantined.admissionRevision]);
  assert.ok(audit.records.some((r) => r.action === 'aggregator.device.release' && r.actor.id === 'carol' && r.reason === 'cleared by forensics'));
  await until('the battery admitted at the gateway', () => gw.admission.get(b.id)?.state === 'admitted' || undefined);
  const again = await batteryIn('admitted');
  assert.equal(again.admissionRevision, quarantined.admissionRevision! + 1);

  // Allocatable again: a fleet command reaches it and it discharges.
  await until('the battery online again', () => agg.engine.freshPower(b.id) !== undefined || undefined);
  const after_ = await operatorCall(console_(), alice, 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [b.id], durationMs: 120_000, reason: 'after the release' });
  assert.equal(after_.status, 200, after_.text);
  assert.equal(after_.json.record.state, 'executed', after_.text);
  await until('the battery discharging again', () => mode() === 'discharging' || undefined);
  await agg.engine.cancel(`operator/${after_.json.record.id}`, 'test over');
});

test('erab aggregator quarantine and release: a security officer quarantines and releases (the revision shown now when --revision is left out); an operator exits 1 with 403; release of an admitted device exits 1 with 409; in Japanese too', { timeout: 120_000 }, async () => {
  const b = await batteryIn('admitted');
  const byOperator = await runErab(['aggregator', 'quarantine', b.id, '--reason', 'suspected', ...conn('alice')]);
  assert.equal(byOperator.code, 1, byOperator.stdout);
  assert.match(byOperator.stderr, /403.*needs the role security officer/);
  const notQuarantined = await runErab(['aggregator', 'release', b.id, '--reason', 'x', ...conn('carol')]);
  assert.equal(notQuarantined.code, 1, notQuarantined.stdout);
  assert.match(notQuarantined.stderr, /409.*not quarantined/);

  const q = await runErab(['aggregator', 'quarantine', b.id, '--reason', 'suspected of compromise', '--json', ...conn('carol')]);
  assert.equal(q.code, 0, q.stderr);
  const sent = JSON.parse(q.stdout);
  assert.deepEqual([sent.deviceId, sent.decision, sent.revision, sent.gateway], [b.id, 'quarantine', b.admissionRevision, 'GW1']);
  await until('the battery quarantined at the gateway', () => gw.admission.get(b.id)?.state === 'quarantined' || undefined);
  const quarantined = await batteryIn('quarantined');

  const stale = await runErab(['aggregator', 'release', b.id, '--revision', String(quarantined.admissionRevision! + 5), '--reason', 'cleared', ...conn('carol')]);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /409.*is stale/);
  const released = await runErab(['aggregator', 'release', b.id, '--reason', 'cleared', ...conn('carol')], { ...process.env, LC_ALL: 'en_US.UTF-8' });
  assert.equal(released.code, 0, released.stderr);
  assert.match(released.stdout, new RegExp(`release of device ${b.id} \\(revision ${quarantined.admissionRevision}\\) sent to gateway GW1 as event admission-`));
  await until('the battery admitted at the gateway', () => gw.admission.get(b.id)?.state === 'admitted' || undefined);
  assert.equal((await batteryIn('admitted')).admissionRevision, quarantined.admissionRevision! + 1);
  // In Japanese: 隔離 (quarantine) and 隔離解除 (release).
  const ja = { ...process.env, LC_ALL: 'ja_JP.UTF-8' };
  const jq = await runErab(['aggregator', 'quarantine', b.id, '--reason', '再確認', ...conn('carol')], ja);
  assert.equal(jq.code, 0, jq.stderr);
  assert.match(jq.stdout, new RegExp(`機器 ${b.id}（リビジョン ${quarantined.admissionRevision! + 1}）の隔離をイベント admission-`));
  const again = await batteryIn('quarantined');
  const jr = await runErab(['aggregator', 'release', b.id, '--reason', '確認済み', ...conn('carol')], ja);
  assert.equal(jr.code, 0, jr.stderr);
  assert.match(jr.stdout, new RegExp(`（リビジョン ${again.admissionRevision}）の隔離解除を`));
  await batteryIn('admitted');
  const empty = await runErab(['aggregator', 'quarantine', b.id, '--reason', '  ', ...conn('carol')]);
  assert.notEqual(empty.code, 0);
  assert.match(empty.stderr, /--reason must not be empty/);
});
