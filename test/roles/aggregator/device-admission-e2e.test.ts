/**
 * Device admission from the aggregator, end to end over real boundaries: an aggregator with its
 * operator console (mutual TLS, operator certificates, roles), a real Gateway over R4, and a
 * simulated home (DeviceSite over loopback UDP) with a PV inverter on the gateway's allow-list and
 * a battery that is not.
 *
 * - The battery is pending at its gateway and in the aggregator's device list, with its revision.
 * - An operator admits it through the aggregator (POST /api/fleet/devices/<id>/admit): a signed
 *   admission event reaches the gateway, the gateway's record becomes admitted, its next inventory
 *   shows the new state and revision at the aggregator, and the battery can be dispatched.
 * - A stale revision is 409, a viewer is 403 (both audited), an unknown device 404, a decision
 *   already in force 409; reject works the same way; `erab aggregator devices|admit` drive it too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { homeVpp, waiter, type HomeVpp } from '../../kit/index.js';
import { runErab } from '../../secops/incidents/run-erab.js';
import { operatorCall } from '../common/operator-client.js';

const until = waiter({ timeoutMs: 45_000, intervalMs: 100 });

type Name = 'alice' | 'bob' | 'dave';
let vpp: HomeVpp<Name>;

interface DeviceItem { id: string; gateway: string; resourceClass: string; online: boolean; admission: string | null; admissionRevision: number | null }

const console_ = () => vpp.console();
const devices = async (query = ''): Promise<DeviceItem[]> => {
  const r = await operatorCall(console_(), vpp.pki.certs.dave, 'GET', `/api/fleet/devices${query}`);
  assert.equal(r.status, 200, r.text);
  return r.json.items as DeviceItem[];
};
const deviceOfClass = async (cls: string, query = ''): Promise<DeviceItem | undefined> => (await devices(query)).find((d) => d.resourceClass === cls);
const conn = (n: Name) => ['--url', `https://127.0.0.1:${vpp.agg.consolePort}`, '--cert', vpp.pki.get(n).files.certFile, '--key', vpp.pki.get(n).files.keyFile, '--ca', vpp.pki.caFile, '--aggregator', 'AGG1'];

before(async () => {
  // dave is a viewer (the default role); one operator may command the whole (small) fleet alone.
  // The PV inverter (0x0279 instance 1) is on the allow-list; the battery waits for an operator.
  vpp = await homeVpp({
    prefix: 'erab-admission-', operators: { alice: 'operator', bob: 'approver', dave: 'viewer' }, serialPrefix: 'ADM0', pv: true,
    allowList: [{ serialNumber: 'ADM0', eoj: '027901' }],
  });
});

after(() => vpp?.close());

test('a battery not on the allow-list: pending at the gateway and at the aggregator; admitted through the aggregator by an operator; then dispatched', { timeout: 120_000 }, async () => {
  const { alice, dave } = vpp.pki.certs;
  const pending = await until('the battery pending in the aggregator\'s device list', () => deviceOfClass('battery', '?admission=pending'));
  const atGateway = vpp.gw.admission.get(pending.id);
  assert.deepEqual([atGateway?.state, atGateway?.revision], ['pending', pending.admissionRevision], 'the aggregator shows the gateway\'s state and revision');
  assert.equal((await deviceOfClass('pv', '?admission=admitted'))?.admission, 'admitted', 'the allow-listed PV is admitted');
  assert.equal(await deviceOfClass('battery', '?admission=admitted'), undefined);
  const rev = pending.admissionRevision!;

  // A viewer may not admit; a stale revision is refused before anything is sent; both audited.
  const viewer = await operatorCall(console_(), dave, 'POST', `/api/fleet/devices/${pending.id}/admit`, { revision: rev });
  assert.equal(viewer.status, 403, viewer.text);
  assert.match(viewer.json.error, /needs the role operator; operator dave is viewer/);
  const stale = await operatorCall(console_(), alice, 'POST', `/api/fleet/devices/${pending.id}/admit`, { revision: rev + 1 });
  assert.equal(stale.status, 409, stale.text);
  assert.match(stale.json.error, new RegExp(`revision ${rev + 1} is stale, the device is pending at revision ${rev}`));
  assert.deepEqual(vpp.audit.records.filter((r) => r.action === 'console.api.device.admit').map((r) => [r.actor.id, r.outcome]), [['dave', 'refused'], ['alice', 'failure']]);
  assert.equal(vpp.gw.admission.get(pending.id)?.state, 'pending', 'nothing reached the gateway');
  assert.equal((await operatorCall(console_(), alice, 'POST', '/api/fleet/devices/027D01-0000000000/admit', { revision: 1 })).status, 404);
  assert.equal((await operatorCall(console_(), alice, 'POST', `/api/fleet/devices/${pending.id}/admit`, {})).status, 400);

  const admitted = await operatorCall(console_(), alice, 'POST', `/api/fleet/devices/${pending.id}/admit`, { revision: rev });
  assert.equal(admitted.status, 202, admitted.text);
  assert.match(admitted.json.eventId, /^admission-/);
  assert.deepEqual([admitted.json.deviceId, admitted.json.gateway, admitted.json.decision, admitted.json.revision], [pending.id, 'GW1', 'admit', rev]);
  assert.ok(vpp.audit.records.some((r) => r.action === 'aggregator.device.admit' && r.actor.id === 'alice' && r.target === pending.id && r.details?.eventId === admitted.json.eventId));

  // The gateway applies the signed event as the aggregator's decision, and uploads its inventory again.
  await until('the battery admitted at the gateway', () => vpp.gw.admission.get(pending.id)?.state === 'admitted' || undefined);
  assert.equal(vpp.gw.admission.get(pending.id)?.revision, rev + 1);
  assert.ok(vpp.gwAudit.records.some((r) => r.action === 'gateway.device.admitted' && r.target === pending.id && r.actor.id === 'aggregator:AGG1'));
  const shown = await until('the aggregator\'s list shows it admitted at the new revision', async () => {
    const d = (await devices(`?q=${encodeURIComponent(pending.id)}`))[0];
    return d?.admission === 'admitted' ? d : undefined;
  });
  assert.equal(shown.admissionRevision, rev + 1);
  const again = await operatorCall(console_(), alice, 'POST', `/api/fleet/devices/${pending.id}/admit`, { revision: rev + 1 });
  assert.equal(again.status, 409);
  assert.match(again.json.error, /already admitted/);

  // Dispatched: the admitted battery reports, takes a command and discharges.
  await until('the battery online at the aggregator', () => vpp.agg.engine.freshPower(pending.id) !== undefined || undefined);
  const cmd = await operatorCall(console_(), alice, 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [pending.id], durationMs: 120_000, reason: 'admitted battery drill' });
  assert.equal(cmd.status, 200, cmd.text);
  assert.equal(cmd.json.record.state, 'executed', cmd.text);
  await until('the battery discharging for the command', () => vpp.batteryMode() === 'discharging' || undefined);
  await vpp.agg.engine.cancel(`operator/${cmd.json.record.id}`, 'test over');
});

test('reject through the aggregator: the gateway never controls the device; a second rejection is 409; a viewer is 403', { timeout: 90_000 }, async () => {
  const { alice, dave } = vpp.pki.certs;
  const pv = await until('the PV in the list', () => deviceOfClass('pv'));
  assert.equal((await operatorCall(console_(), dave, 'POST', `/api/fleet/devices/${pv.id}/reject`, { reason: 'not ours' })).status, 403);
  assert.equal((await operatorCall(console_(), alice, 'POST', `/api/fleet/devices/${pv.id}/reject`, {})).status, 400, 'a reason is required');
  const rejected = await operatorCall(console_(), alice, 'POST', `/api/fleet/devices/${pv.id}/reject`, { reason: 'not ours' });
  assert.equal(rejected.status, 202, rejected.text);
  assert.equal(rejected.json.decision, 'reject');
  assert.ok(vpp.audit.records.some((r) => r.action === 'aggregator.device.reject' && r.actor.id === 'alice' && r.reason === 'not ours'));
  await until('the PV rejected at the gateway', () => vpp.gw.admission.get(pv.id)?.state === 'rejected' || undefined);
  assert.equal(vpp.gw.admission.isControllable(pv.id), false);
  const shown = await until('the list shows it rejected', async () => (await deviceOfClass('pv', '?admission=rejected')));
  assert.equal(shown.admissionRevision, vpp.gw.admission.get(pv.id)?.revision);
  const twice = await operatorCall(console_(), alice, 'POST', `/api/fleet/devices/${pv.id}/reject`, { reason: 'again' });
  assert.equal(twice.status, 409);
  assert.match(twice.json.error, /already rejected/);
});

test('erab aggregator devices and admit: the rejected PV listed with its revision and admitted again; a stale revision exits 1 with the reason', { timeout: 90_000 }, async () => {
  const pv = await until('the PV rejected in the list', () => deviceOfClass('pv', '?admission=rejected'));
  const listed = await runErab(['aggregator', 'devices', '--state', 'rejected', '--json', ...conn('dave')]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout).items.map((d: DeviceItem) => [d.id, d.admission, d.admissionRevision]), [[pv.id, 'rejected', pv.admissionRevision]]);
  const table = await runErab(['aggregator', 'devices', '--state', 'rejected', ...conn('dave')], { ...process.env, LC_ALL: 'en_US.UTF-8' });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`${pv.id}\\s+GW1\\s+pv\\s+\\S+\\s+rejected\\s+${pv.admissionRevision}`));
  const badState = await runErab(['aggregator', 'devices', '--state', 'sleeping', ...conn('dave')]);
  assert.notEqual(badState.code, 0);
  assert.match(badState.stderr, /--state must be one of admitted, pending, quarantined, rejected/);

  const stale = await runErab(['aggregator', 'admit', pv.id, '--revision', String(pv.admissionRevision! + 3), ...conn('alice')]);
  assert.equal(stale.code, 1, stale.stdout);
  assert.match(stale.stderr, /409.*is stale/);
  const ok = await runErab(['aggregator', 'admit', pv.id, '--revision', String(pv.admissionRevision), '--json', ...conn('alice')]);
  assert.equal(ok.code, 0, ok.stderr);
  const sent = JSON.parse(ok.stdout);
  assert.deepEqual([sent.deviceId, sent.decision, sent.revision], [pv.id, 'admit', pv.admissionRevision]);
  await until('the PV admitted at the gateway', () => vpp.gw.admission.get(pv.id)?.state === 'admitted' || undefined);
  await until('and in the aggregator\'s list', async () => (await deviceOfClass('pv', '?admission=admitted')));
  const refused = await runErab(['aggregator', 'admit', pv.id, '--revision', '1', ...conn('dave')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /403/);
});
