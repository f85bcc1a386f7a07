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
import { homeVpp, waiter, type HomeVpp } from '../../kit/index.js';
import { runErab } from '../../secops/incidents/run-erab.js';
import { operatorCall } from '../common/operator-client.js';

const until = waiter({ timeoutMs: 45_000, intervalMs: 100 });

type Name = 'alice' | 'carol' | 'dave';
let vpp: HomeVpp<Name>;

interface DeviceItem { id: string; gateway: string; resourceClass: string; online: boolean; admission: string | null; admissionRevision: number | null }

const console_ = () => vpp.console();
const battery = async (): Promise<DeviceItem | undefined> => {
  const r = await operatorCall(console_(), vpp.pki.certs.dave, 'GET', '/api/fleet/devices');
  assert.equal(r.status, 200, r.text);
  return (r.json.items as DeviceItem[]).find((d) => d.resourceClass === 'battery');
};
const batteryIn = (state: string) => until(`the battery ${state} in the aggregator's device list`, async () => {
  const b = await battery();
  return b?.admission === state ? b : undefined;
});
const mode = () => vpp.batteryMode();
const conn = (n: Name) => ['--url', `https://127.0.0.1:${vpp.agg.consolePort}`, '--cert', vpp.pki.get(n).files.certFile, '--key', vpp.pki.get(n).files.keyFile, '--ca', vpp.pki.caFile, '--aggregator', 'AGG1'];

before(async () => {
  // dave is a viewer, alice an operator, carol the security officer; the battery is on the allow-list.
  vpp = await homeVpp({ prefix: 'erab-quarantine-', operators: { alice: 'operator', carol: 'security officer', dave: 'viewer' }, serialPrefix: 'QRN0', allowList: [{ serialNumber: 'QRN0', eoj: '027D01' }] });
});

after(() => vpp?.close());

test('a security officer quarantines a discharging battery from the aggregator: it leaves discharging, shows quarantined, and a fleet command no longer allocates it; released, it is admitted and allocatable again', { timeout: 150_000 }, async () => {
  const { alice, carol, dave } = vpp.pki.certs;
  const b = await batteryIn('admitted');
  await until('the battery online at the aggregator', () => vpp.agg.engine.freshPower(b.id) !== undefined || undefined);
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
  assert.equal(vpp.gw.admission.get(b.id)?.state, 'admitted', 'nothing reached the gateway');
  assert.equal(mode(), 'discharging');

  const q = await operatorCall(console_(), carol, 'POST', path, { reason: 'suspected of compromise' });
  assert.equal(q.status, 202, q.text);
  assert.deepEqual([q.json.deviceId, q.json.gateway, q.json.decision, q.json.revision], [b.id, 'GW1', 'quarantine', b.admissionRevision]);
  assert.ok(vpp.audit.records.some((r) => r.action === 'aggregator.device.quarantine' && r.actor.id === 'carol' && r.target === b.id && r.reason === 'suspected of compromise' && r.details?.eventId === q.json.eventId));
  assert.deepEqual(vpp.audit.records.filter((r) => r.action === 'console.api.device.quarantine').map((r) => [r.actor.id, r.outcome]).slice(0, 2), [['dave', 'refused'], ['alice', 'refused']]);

  // The gateway returns the battery to its owner's mode, then quarantines it.
  await until('the battery no longer discharging', () => mode() !== 'discharging' || undefined);
  await until('the battery quarantined at the gateway', () => vpp.gw.admission.get(b.id)?.state === 'quarantined' || undefined);
  assert.equal(vpp.gw.admission.isControllable(b.id), false);
  assert.ok(vpp.gwAudit.records.some((r) => r.action === 'gateway.device.quarantined' && r.target === b.id && r.actor.id === 'aggregator:AGG1'));
  const quarantined = await batteryIn('quarantined');
  assert.equal(quarantined.admissionRevision, vpp.gw.admission.get(b.id)?.revision);
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

  for (const c of [cmd, none]) await vpp.agg.engine.cancel(`operator/${c.json.record.id}`, 'quarantine drill over');

  // Release at the revision seen (a stale one is 409; an operator is 403).
  const releasePath = `/api/fleet/devices/${b.id}/release`;
  assert.equal((await operatorCall(console_(), alice, 'POST', releasePath, { revision: quarantined.admissionRevision, reason: 'cleared' })).status, 403);
  const stale = await operatorCall(console_(), carol, 'POST', releasePath, { revision: quarantined.admissionRevision! - 1, reason: 'cleared' });
  assert.equal(stale.status, 409);
  assert.match(stale.json.error, /is stale, the device is quarantined at revision/);
  const released = await operatorCall(console_(), carol, 'POST', releasePath, { revision: quarantined.admissionRevision, reason: 'cleared by forensics' });
  assert.equal(released.status, 202, released.text);
  assert.deepEqual([released.json.decision, released.json.revision], ['release', quarantined.admissionRevision]);
  assert.ok(vpp.audit.records.some((r) => r.action === 'aggregator.device.release' && r.actor.id === 'carol' && r.reason === 'cleared by forensics'));
  await until('the battery admitted at the gateway', () => vpp.gw.admission.get(b.id)?.state === 'admitted' || undefined);
  const again = await batteryIn('admitted');
  assert.equal(again.admissionRevision, quarantined.admissionRevision! + 1);

  // Allocatable again: a fleet command reaches it and it discharges.
  await until('the battery online again', () => vpp.agg.engine.freshPower(b.id) !== undefined || undefined);
  const after_ = await operatorCall(console_(), alice, 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [b.id], durationMs: 120_000, reason: 'after the release' });
  assert.equal(after_.status, 200, after_.text);
  assert.equal(after_.json.record.state, 'executed', after_.text);
  await until('the battery discharging again', () => mode() === 'discharging' || undefined);
  await vpp.agg.engine.cancel(`operator/${after_.json.record.id}`, 'test over');
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
  await until('the battery quarantined at the gateway', () => vpp.gw.admission.get(b.id)?.state === 'quarantined' || undefined);
  const quarantined = await batteryIn('quarantined');

  const stale = await runErab(['aggregator', 'release', b.id, '--revision', String(quarantined.admissionRevision! + 5), '--reason', 'cleared', ...conn('carol')]);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /409.*is stale/);
  const released = await runErab(['aggregator', 'release', b.id, '--reason', 'cleared', ...conn('carol')], { ...process.env, LC_ALL: 'en_US.UTF-8' });
  assert.equal(released.code, 0, released.stderr);
  assert.match(released.stdout, new RegExp(`release of device ${b.id} \\(revision ${quarantined.admissionRevision}\\) sent to gateway GW1 as event admission-`));
  await until('the battery admitted at the gateway', () => vpp.gw.admission.get(b.id)?.state === 'admitted' || undefined);
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
