/**
 * The gateway's ECHONET Lite edge against simulated devices over real UDP on loopback
 * (controller .1:3610, device nodes .2 and .3 of a random 127.x.y.0/24 block, so that copies of
 * this file run from other build folders never collide).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from '../../../src/core/clock.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { EchonetController } from '../../../src/protocols/echonet/controller.js';
import { EchonetNode } from '../../../src/protocols/echonet/node.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/storage-battery.js';
import { ElectricWaterHeater } from '../../../src/protocols/echonet/objects/electric-water-heater.js';
import { BatterySimulator } from '../../../src/roles/device/battery.js';
import { WaterHeaterSimulator } from '../../../src/roles/device/water-heater.js';
import { AdmissionRegistry, MemoryAdmissionStore } from '../../../src/roles/gateway/admission.js';
import { EchonetSite, describeLocation } from '../../../src/roles/gateway/echonet-site.js';
import { watts } from '../../../src/core/units.js';
import { batteryMandatoryValues } from '../../protocols/echonet/fixtures.js';

/** A random loopback block per run: other build folders may run this file at the same time. */
const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
const identity = { makerCode: 0xfffffe, productCode: 'ERAB-SIM', productionNumber: 'GWTEST0001' };

async function setup() {
  const battery = new BatterySimulator({ capacityWh: 10_000, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 70, initialMode: 'automatic' }, identity);
  const heater = new WaterHeaterSimulator({ tankLitres: 370 }, { ...identity, productionNumber: 'GWTEST0002' });
  const batNode = await EchonetNode.start({ address: `${NET}.2`, objects: [battery.object], identity, multicast: false });
  const whNode = await EchonetNode.start({ address: `${NET}.3`, objects: [heater.object], identity: { ...identity, productionNumber: 'GWTEST0002' }, multicast: false });
  const controller = await EchonetController.start({ address: `${NET}.1`, multicast: false, timeoutMs: 2000, retries: 1, clock: systemClock });
  const audit = new MemoryAuditSink();
  const admission = new AdmissionRegistry(new MemoryAdmissionStore(), new ManualClock(), audit);
  const site = new EchonetSite({ controller, admission, clock: systemClock, addresses: [`${NET}.2`, `${NET}.3`, `${NET}.9`] });
  const close = async () => {
    await controller.close();
    await batNode.close();
    await whNode.close();
  };
  return { battery, heater, controller, admission, site, audit, close };
}

test('discovery over UDP puts every object through admission as pending; pending devices are never Set', async () => {
  const s = await setup();
  try {
    await s.site.discover();
    const records = s.admission.list();
    assert.equal(records.length, 2);
    assert.deepEqual(records.map((r) => [r.eoj, r.class, r.state]).sort(), [['026B01', 'water_heater', 'pending'], ['027D01', 'battery', 'pending']]);
    const bat = records.find((r) => r.class === 'battery')!;
    assert.equal(bat.identity.makerCode, 'FFFFFE');
    assert.equal(bat.identity.serialNumber, 'GWTEST0001');
    assert.equal(s.site.details(bat.deviceId)?.standardVersion, 'R');
    await assert.rejects(s.site.execute({ deviceId: bat.deviceId, class: 'battery', action: 'discharge', powerW: watts(1000) }, undefined), /not admitted/);
    assert.equal(s.battery.object.get(StorageBattery.props.operationMode), 'automatic');
  } finally {
    await s.close();
  }
});

test('readings come from real Gets; admitted commands become Sets the device applies; auto restores the owner\'s mode', async () => {
  const s = await setup();
  try {
    await s.site.discover();
    for (const r of s.admission.list()) s.admission.admit(r.deviceId, r.revision, 'op:test');
    const bat = s.admission.list().find((r) => r.class === 'battery')!;
    const wh = s.admission.list().find((r) => r.class === 'water_heater')!;
    await s.site.poll();
    const reading = s.site.reading(bat.deviceId)!;
    assert.equal(reading.online, true);
    assert.equal(reading.socPercent, 70);
    assert.equal(reading.mode, 'automatic');
    assert.equal(reading.capacityWh, 10_000);
    assert.equal(reading.ratedDischargeW, 3000);
    assert.deepEqual(s.site.profile(bat.deviceId), { deviceId: bat.deviceId, class: 'battery', ratedChargeW: 3000, ratedDischargeW: 3000, canDischarge: undefined });

    await s.site.execute({ deviceId: bat.deviceId, class: 'battery', action: 'discharge', powerW: watts(2000) }, { mode: 'automatic' });
    assert.equal(s.battery.object.get(StorageBattery.props.operationMode), 'discharging');
    assert.equal(s.battery.object.get(StorageBattery.props.dischargingPowerSetting), 2000);
    // The simulator's physics follow the mode: one simulated minute of discharge.
    s.battery.step({ t: Date.now() as never, dtMs: 60_000, netLoadW: 0 });
    await s.site.poll();
    assert.equal(s.site.reading(bat.deviceId)!.powerW, -2000);
    assert.equal(s.site.reading(bat.deviceId)!.mode, 'discharging');

    await s.site.execute({ deviceId: bat.deviceId, class: 'battery', action: 'auto' }, { mode: 'automatic' });
    assert.equal(s.battery.object.get(StorageBattery.props.operationMode), 'automatic');

    await s.site.execute({ deviceId: wh.deviceId, class: 'water_heater', action: 'stop_boil' }, undefined);
    assert.equal(s.heater.object.get(ElectricWaterHeater.props.heatingSetting), 'manualStop');
    // A value the device itself refuses comes back as SetC_SNA → an error naming the property.
    await assert.rejects(s.site.execute({ deviceId: bat.deviceId, class: 'battery', action: 'charge', powerW: watts(5000) }, undefined), /refused 0xEB/);
  } finally {
    await s.close();
  }
});

test('a different device answering at an admitted address is quarantined', async () => {
  const s = await setup();
  try {
    await s.site.discover();
    const bat = s.admission.list().find((r) => r.class === 'battery')!;
    s.admission.admit(bat.deviceId, bat.revision, 'op:test');
    // Swap the node at .2 for another maker's battery.
    await s.close();
    const other = new BatterySimulator({ capacityWh: 5000, maxChargeW: 2000, maxDischargeW: 2000 }, { makerCode: 0xfffffd, productCode: 'OTHER', productionNumber: 'X1' });
    const node = await EchonetNode.start({ address: `${NET}.2`, objects: [other.object], identity: { makerCode: 0xfffffd, productCode: 'OTHER', productionNumber: 'X1' }, multicast: false });
    const controller = await EchonetController.start({ address: `${NET}.1`, multicast: false, timeoutMs: 2000, retries: 1 });
    try {
      const site = new EchonetSite({ controller, admission: s.admission, clock: systemClock, addresses: [`${NET}.2`] });
      await site.discover();
      const rec = s.admission.get(bat.deviceId)!;
      assert.equal(rec.state, 'quarantined');
      assert.equal(rec.observedIdentity?.makerCode, 'FFFFFD');
      assert.equal(s.admission.isControllable(bat.deviceId), false);
      assert.ok(s.audit.records.some((r) => r.action === 'gateway.device.quarantined'));
    } finally {
      await controller.close();
      await node.close();
    }
  } finally {
    await s.close();
  }
});

test('installation location codes decode to words', () => {
  assert.equal(describeLocation(Uint8Array.of(0x61)), 'garden 1');
  assert.equal(describeLocation(Uint8Array.of(0x08)), 'living room');
  assert.equal(describeLocation(Uint8Array.of(0x00)), undefined);
  assert.equal(describeLocation(Uint8Array.of(0xff)), 'indefinite');
  assert.equal(describeLocation(Uint8Array.of(0x81)), 'location code 0x81');
});

test('commands map to the APPENDIX properties of each class, byte for byte', async () => {
  const { propertiesFor } = await import('../../../src/roles/gateway/echonet-site.js');
  const { classDefinition } = await import('../../../src/protocols/echonet/objects/index.js');
  const hex = (props: { epc: number; edt: Uint8Array }[]) => props.map((p) => `${p.epc.toString(16).toUpperCase()}=${Buffer.from(p.edt).toString('hex').toUpperCase()}`);
  const def = (code: number) => classDefinition(code)!;
  assert.deepEqual(hex(propertiesFor(def(0x027d), 'battery', { deviceId: 'b', class: 'battery', action: 'discharge', powerW: watts(2500) }, undefined)), ['EC=000009C4', 'DA=43']);
  assert.deepEqual(hex(propertiesFor(def(0x027d), 'battery', { deviceId: 'b', class: 'battery', action: 'charge', powerW: watts(1000) }, undefined)), ['EB=000003E8', 'DA=42']);
  assert.deepEqual(hex(propertiesFor(def(0x027d), 'battery', { deviceId: 'b', class: 'battery', action: 'auto' }, { mode: 'standby' })), ['DA=44']);
  assert.deepEqual(hex(propertiesFor(def(0x027d), 'battery', { deviceId: 'b', class: 'battery', action: 'auto' }, undefined)), ['DA=46']);
  assert.deepEqual(hex(propertiesFor(def(0x027e), 'ev', { deviceId: 'e', class: 'ev', action: 'ev_discharge', powerW: watts(6000) }, undefined)), ['EC=00001770', 'DA=43']);
  assert.deepEqual(hex(propertiesFor(def(0x027e), 'ev', { deviceId: 'e', class: 'ev', action: 'ev_stop' }, undefined)), ['DA=44']);
  assert.deepEqual(hex(propertiesFor(def(0x0279), 'pv', { deviceId: 'p', class: 'pv', action: 'pv_limit', percent: 40 }, undefined)), ['A0=28']);
  assert.deepEqual(hex(propertiesFor(def(0x0279), 'pv', { deviceId: 'p', class: 'pv', action: 'auto' }, { percent: 100 })), ['A0=64']);
  assert.deepEqual(hex(propertiesFor(def(0x026b), 'water_heater', { deviceId: 'w', class: 'water_heater', action: 'boil' }, undefined)), ['B0=42']);
  assert.deepEqual(hex(propertiesFor(def(0x026b), 'water_heater', { deviceId: 'w', class: 'water_heater', action: 'auto' }, undefined)), ['B0=41']);
  assert.deepEqual(hex(propertiesFor(def(0x0130), 'aircon', { deviceId: 'a', class: 'aircon', action: 'aircon_setpoint', temperatureC: 27 }, undefined)), ['B3=1B']);
  assert.deepEqual(hex(propertiesFor(def(0x0130), 'aircon', { deviceId: 'a', class: 'aircon', action: 'auto' }, { temperatureC: 25 })), ['B3=19']);
  assert.deepEqual(propertiesFor(def(0x0130), 'aircon', { deviceId: 'a', class: 'aircon', action: 'auto' }, undefined), []);
  assert.throws(() => propertiesFor(def(0x0288), 'meter', { deviceId: 'm', class: 'meter', action: 'standby' }, undefined), /no ECHONET Lite mapping/);
  // A value outside the property's range never becomes a frame.
  assert.throws(() => propertiesFor(def(0x0279), 'pv', { deviceId: 'p', class: 'pv', action: 'pv_limit', percent: 140 }, undefined));
});

test('a maker-specific firmware property is read into the inventory when configured for that maker', async () => {
  const { rawProperty } = await import('../../../src/protocols/echonet/objects/types.js');
  const { EchonetObject } = await import('../../../src/protocols/echonet/object.js');
  const id = { makerCode: 0xfffffc, productCode: 'FWTEST', productionNumber: 'FW0001' };
  const object = new EchonetObject(StorageBattery, {
    instance: 1,
    values: { operationStatus: 'on', installationLocation: Uint8Array.of(0x61), standardVersion: { release: 'R', revision: 0 }, faultStatus: 'noFault', makerCode: id.makerCode, productCode: id.productCode, operationMode: 'standby', workingOperationStatus: 'standby', remainingCapacityPercent: 50, ...batteryMandatoryValues },
    extra: [{ def: rawProperty(0xf0), edt: new Uint8Array(Buffer.from('FW 2.1.0\0\0\0\0', 'latin1')) }],
  });
  const node = await EchonetNode.start({ address: `${NET}.4`, objects: [object], identity: id, multicast: false });
  const controller = await EchonetController.start({ address: `${NET}.5`, multicast: false, timeoutMs: 2000, retries: 1 });
  try {
    const admission = new AdmissionRegistry(new MemoryAdmissionStore(), new ManualClock(), new MemoryAuditSink());
    const site = new EchonetSite({ controller, admission, clock: systemClock, addresses: [`${NET}.4`], firmwareEpcs: { FFFFFC: 0xf0 } });
    await site.discover();
    const rec = admission.list()[0]!;
    assert.deepEqual(site.details(rec.deviceId), { standardVersion: 'R', installationLocation: 'garden 1', productCode: 'FWTEST', firmwareVersion: 'FW 2.1.0' });
  } finally {
    await controller.close();
    await node.close();
  }
});
