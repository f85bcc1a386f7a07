import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import {
  AdmissionRegistry, MemoryAdmissionStore, deviceIdOf, identityKey, type AllowListEntry, type DeviceIdentity, type ObservedDevice,
} from '../../../src/roles/gateway/admission.js';
import {
  InventoryTracker, buildInventory, canonicalJson, describeDataPoints, type DeviceDetails,
} from '../../../src/roles/gateway/inventory.js';

const ID: DeviceIdentity = { identificationNumber: 'FE00007B0000000000000000000000A1', makerCode: '00007b', productCode: 'ERAB-BAT-1', serialNumber: 'SN0001' };
const bat = (over: Partial<ObservedDevice> = {}): ObservedDevice => ({ address: '127.0.0.2', eoj: '027D01', class: 'battery', identity: ID, ...over });

function setup(allowList: AllowListEntry[] = []) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const store = new MemoryAdmissionStore();
  const audit = new MemoryAuditSink();
  const reg = new AdmissionRegistry(store, clock, audit, { allowList });
  return { clock, store, audit, reg };
}

test('a newly discovered device is pending, not controllable, and audited', () => {
  const { reg, audit } = setup();
  const { record, change } = reg.observe(bat());
  assert.equal(change, 'new');
  assert.equal(record.state, 'pending');
  assert.equal(record.deviceId, deviceIdOf('027D01', ID));
  assert.match(record.deviceId, /^027D01-[0-9a-f]{10}$/);
  assert.equal(reg.isControllable(record.deviceId), false);
  assert.equal(audit.records[0]!.action, 'gateway.device.discovered');
  assert.equal(audit.records[0]!.details!.state, 'pending');
});

test('the operator admits at the revision it saw; a stale revision is refused', () => {
  const { reg, audit } = setup();
  const { record } = reg.observe(bat());
  const stale = reg.admit(record.deviceId, record.revision + 5, 'op:alice');
  assert.equal(stale.ok, false);
  assert.equal(audit.records.at(-1)!.outcome, 'refused');
  const ok = reg.admit(record.deviceId, record.revision, 'op:alice');
  assert.ok(ok.ok);
  assert.equal(reg.isControllable(record.deviceId), true);
  assert.equal(audit.records.at(-1)!.action, 'gateway.device.admitted');
  assert.deepEqual(audit.records.at(-1)!.actor, { kind: 'operator', id: 'op:alice' });
  assert.equal(reg.admit('nope', 1, 'op:alice').ok, false);
});

test('an allow-listed device is admitted at first sight; a partial entry without id or serial admits nothing', () => {
  const { reg } = setup([{ serialNumber: 'SN0001', makerCode: '00007B' }]);
  assert.equal(reg.observe(bat()).record.state, 'admitted');
  const { reg: reg2 } = setup([{ makerCode: '00007B' }]);
  assert.equal(reg2.observe(bat()).record.state, 'pending');
});

test('an admitted device is pinned: the same identity elsewhere is a security event until the operator repins it', () => {
  const { reg, audit } = setup();
  const pending = reg.observe(bat());
  assert.equal(reg.observe(bat({ address: '127.0.0.8' })).change, 'moved', 'a pending device is not pinned yet');
  reg.observe(bat());
  reg.admit(pending.record.deviceId, reg.get(pending.record.deviceId)!.revision, 'op');
  const clone = reg.observe(bat({ address: '127.0.0.9' }));
  assert.equal(clone.change, 'conflict');
  assert.equal(clone.record.address, '127.0.0.2', 'the pin stays');
  assert.equal(reg.isControllable(clone.record.deviceId), true);
  const ev = audit.records.find((r) => r.action === 'gateway.security.source_changed')!;
  assert.equal(ev.outcome, 'refused');
  assert.deepEqual(ev.details, { pinned: '127.0.0.2', observed: '127.0.0.9', eoj: '027D01' });
  // The operator confirms a real move (new DHCP lease); then the device is seen there.
  assert.equal(reg.repin(clone.record.deviceId, clone.record.revision - 1, '127.0.0.9', 'op').ok, false, 'stale revision');
  assert.equal(reg.repin(clone.record.deviceId, clone.record.revision, '127.0.0.9', 'op').ok, true);
  assert.equal(reg.observe(bat({ address: '127.0.0.9' })).change, 'none');
});

test('a different device at the same slot is quarantined', () => {
  const { reg, audit } = setup();
  const first = reg.observe(bat()).record;
  reg.admit(first.deviceId, first.revision, 'op');
  reg.repin(first.deviceId, first.revision + 1, '127.0.0.9', 'op');
  const impostor: DeviceIdentity = { identificationNumber: 'FE0000990000000000000000000000FF', makerCode: '000099', productCode: 'X', serialNumber: 'EVIL' };
  const q = reg.observe(bat({ address: '127.0.0.9', identity: impostor }));
  assert.equal(q.change, 'quarantined');
  assert.equal(q.record.deviceId, first.deviceId);
  assert.equal(q.record.state, 'quarantined');
  assert.deepEqual(q.record.observedIdentity, impostor);
  assert.equal(reg.isControllable(first.deviceId), false);
  const rec = audit.records.find((r) => r.action === 'gateway.device.quarantined')!;
  assert.equal(rec.outcome, 'refused');
  assert.match(rec.reason!, /a different device answers at 127\.0\.0\.9 027D01/);
  // Seen again: still quarantined, no second audit record.
  const n = audit.records.length;
  assert.equal(reg.observe(bat({ address: '127.0.0.9', identity: impostor })).change, 'none');
  assert.equal(audit.records.length, n);
});

test('the same identification number with another serial (a clone or a swapped board) is quarantined', () => {
  const { reg } = setup();
  const first = reg.observe(bat()).record;
  reg.admit(first.deviceId, first.revision, 'op');
  const q = reg.observe(bat({ identity: { ...ID, serialNumber: 'SN9999' } }));
  assert.equal(q.change, 'quarantined');
  assert.match(q.record.reason!, /serial SN9999/);
  // The operator accepts the new identity at the revision it saw.
  const ok = reg.admit(first.deviceId, q.record.revision, 'op:bob');
  assert.ok(ok.ok);
  assert.equal(ok.ok && ok.record.identity.serialNumber, 'SN9999');
  assert.equal(reg.observe(bat({ identity: { ...ID, serialNumber: 'SN9999' } })).change, 'none');
});

test('rejected devices stay known and uncontrolled; records survive a restart through the store', () => {
  const { reg, store, clock, audit } = setup();
  const r = reg.observe(bat()).record;
  reg.reject(r.deviceId, 'op');
  assert.equal(reg.isControllable(r.deviceId), false);
  const reopened = new AdmissionRegistry(store, clock, audit);
  assert.equal(reopened.get(r.deviceId)?.state, 'rejected');
  assert.equal(reopened.observe(bat()).change, 'none');
});

test('identity key: identification number first, else maker/product/serial', () => {
  assert.equal(identityKey(ID), 'id:FE00007B0000000000000000000000A1');
  assert.equal(identityKey({ makerCode: '00007b', productCode: 'P', serialNumber: 'S' }), 'mps:00007B/P/S');
});

test('inventory: one item per device with codes and versions; digest changes only when content does', () => {
  const { reg, clock } = setup();
  const b = reg.observe(bat()).record;
  reg.observe({ address: '127.0.0.3', eoj: '027901', class: 'pv', identity: { makerCode: '000005', productCode: 'PV-1', serialNumber: 'P1' } });
  const details = new Map<string, DeviceDetails>([[b.deviceId, { standardVersion: 'J', firmwareVersion: '1.2.3', installationLocation: 'garden' }]]);
  const doc = buildInventory({ gatewayId: 'gw1', venId: 'ven-gw1' }, reg.list(), details, clock.now());
  assert.equal(doc.format, 'erab-inventory/1');
  assert.equal(doc.devices.length, 2);
  const item = doc.devices.find((d) => d.resourceId === b.deviceId)!;
  assert.deepEqual(
    [item.echonetClass, item.instance, item.makerCode, item.productCode, item.serialNumber, item.standardVersion, item.firmwareVersion, item.installationLocation, item.admission],
    ['027D', '01', '00007B', 'ERAB-BAT-1', 'SN0001', 'J', '1.2.3', 'garden', 'pending'],
  );
  const tracker = new InventoryTracker();
  assert.equal(tracker.needsUpload(doc), true);
  tracker.acknowledge(doc);
  clock.advance(60_000);
  const same = buildInventory({ gatewayId: 'gw1', venId: 'ven-gw1' }, reg.list(), details, clock.now());
  assert.equal(same.digest, doc.digest);
  assert.notEqual(same.generatedAt, doc.generatedAt);
  assert.equal(tracker.needsUpload(same), false);
  reg.admit(b.deviceId, b.revision, 'op');
  const changed = buildInventory({ gatewayId: 'gw1', venId: 'ven-gw1' }, reg.list(), details, clock.now());
  assert.equal(tracker.needsUpload(changed), true);
  const fw = buildInventory({ gatewayId: 'gw1', venId: 'ven-gw1' }, reg.list(), new Map([[b.deviceId, { firmwareVersion: '1.2.4' }]]), clock.now());
  assert.notEqual(fw.digest, changed.digest);
});

test('canonical JSON sorts keys and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }], e: undefined }), '{"a":[1,{"c":"x"}],"b":1}');
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
});

test('data points per class match the rIDs of the telemetry translation', () => {
  const pts = describeDataPoints([{ deviceId: 'b', class: 'battery' }, { deviceId: 'm', class: 'meter' }, { deviceId: 'p', class: 'pv' }]);
  assert.deepEqual(pts.map((p) => p.rID), ['b/power', 'b/status', 'b/soc', 'b/stored', 'm/power', 'm/energy', 'm/status', 'p/power', 'p/status']);
});
