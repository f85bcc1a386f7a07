/** A simulated site served over real UDP: a controller reads and commands its devices. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { startSites, nthAddress } from '../../../src/roles/device/sites.js';
import { EchonetController } from '../../../src/protocols/echonet/controller.js';
import { eoj } from '../../../src/protocols/echonet/eoj.js';
import { StorageBattery, LowVoltageSmartMeter, HouseholdSolarPower } from '../../../src/protocols/echonet/objects/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { ConfigError } from '../../../src/core/errors.js';

const NOON_JUNE = Date.UTC(2026, 5, 21, 3, 0);

test('a site serves its devices; the meter reads the sum; a Set moves the battery', async () => {
  const controller = await EchonetController.start({ address: '127.3.2.1', timeoutMs: 3000 });
  const site = await DeviceSite.start({
    address: '127.3.2.2', startTime: NOON_JUNE, peers: [{ address: '127.3.2.1' }],
    battery: { capacityWh: 9800, initialSocPercent: 50 }, pv: { ratedW: 4500 }, ev: {}, waterHeater: {}, aircon: {},
    meter: { baseLoadMinW: 400, baseLoadMaxW: 400 },
  }, { realtime: false });
  try {
    const [node] = await controller.discover({ addresses: ['127.3.2.2'] });
    assert.deepEqual(node!.instances.map((x) => x.toString(16)).sort(), ['13001', '26b01', '27901', '27d01', '27e01', '28801']);
    assert.match(node!.identity.productionNumber!, /^S0202$/);
    site.advance(60_000);
    const [e7] = await controller.getProperties('127.3.2.2', eoj(0x0288, 1), [0xe7]);
    const pvW = site.pv!.output();
    assert.ok(pvW > 3000);
    const meterW = LowVoltageSmartMeter.props.instantaneousPower.codec.decode(e7!.edt);
    assert.equal(meterW, site.meter.power());
    assert.ok(meterW < 0, 'exporting at noon');
    const [e0] = await controller.getProperties('127.3.2.2', eoj(0x0279, 1), [0xe0]);
    assert.equal(HouseholdSolarPower.props.instantaneousGeneration.codec.decode(e0!.edt), pvW);

    const inf = once(controller, 'inf');
    const r = await controller.setProperties('127.3.2.2', eoj(0x027d, 1), [
      { epc: 0xeb, edt: StorageBattery.props.chargingPowerSetting.codec.encode(2000 as never) },
      { epc: 0xda, edt: StorageBattery.props.operationMode.codec.encode('charging') },
    ]);
    assert.deepEqual(r.map((x) => x.ok), [true, true]);
    const [ev] = await inf;
    assert.equal(ev.seoj, eoj(0x027d, 1));
    site.advance(3_600_000);
    const [soc, d3] = await controller.getProperties('127.3.2.2', eoj(0x027d, 1), [0xe4, 0xd3]);
    assert.equal(soc!.edt[0], Math.round(50 + (2000 * 0.95 * 100) / 9800));
    assert.equal(StorageBattery.props.instantaneousChargeDischargePower.codec.decode(d3!.edt), 2000);
    const over = await controller.setProperties('127.3.2.2', eoj(0x027d, 1), [{ epc: 0xeb, edt: Uint8Array.of(0, 0, 0x27, 0x10) }]);
    assert.equal(over[0]!.ok, false, '10 kW exceeds the 3 kW inverter: SetC_SNA');
  } finally {
    await site.close();
    await controller.close();
  }
});

test('real-time mode: simulated time advances at the speed factor on the injected clock', async () => {
  const clock = new ManualClock(NOON_JUNE);
  const site = await DeviceSite.start({ address: '127.3.2.3', speed: 60, tickMs: 1000, battery: { initialSocPercent: 50 } }, { clock });
  try {
    site.battery!.object.applySet(0xda, Uint8Array.of(0x42));
    clock.advance(60_000); // one real minute = one simulated hour
    assert.equal(site.now(), NOON_JUNE + 3_600_000);
    assert.ok(Math.abs(site.battery!.socPercent() - (50 + (3000 * 0.95 * 100) / 9800)) < 0.01);
  } finally {
    await site.close();
  }
});

test('many sites start from one process on consecutive addresses', async () => {
  assert.equal(nthAddress('127.3.3.254', 1), '127.3.4.1');
  const sites = await startSites({ count: 3, baseAddress: '127.3.3.254', template: { battery: {} } }, { realtime: false });
  const controller = await EchonetController.start({ address: '127.3.3.1', timeoutMs: 3000 });
  try {
    assert.deepEqual(sites.map((s) => s.config.address), ['127.3.3.254', '127.3.4.1', '127.3.4.2']);
    const found = await controller.discover({ addresses: sites.map((s) => s.config.address) });
    assert.equal(found.length, 3);
    assert.equal(new Set(found.map((n) => n.identity.productionNumber)).size, 3, 'each site has its own serial');
  } finally {
    await controller.close();
    await Promise.all(sites.map((s) => s.close()));
  }
});

test('invalid site configuration names the field and the rule', async () => {
  await assert.rejects(DeviceSite.start({ address: '127.3.2.4', battery: { capacityWh: 10 } }), (e: unknown) => e instanceof ConfigError && /battery\.capacityWh/.test(e.message));
  await assert.rejects(DeviceSite.start({ address: 'not-an-ip' }), /address/);
});

test('per-device identity is configurable (maker, product, serial)', async () => {
  const site = await DeviceSite.start({ address: '127.3.2.5', battery: { identity: { makerCode: 0x000005, productCode: 'BAT-X', productionNumber: 'SN-42' } } }, { realtime: false });
  try {
    const b = site.battery!.object;
    assert.equal(b.get(StorageBattery.props.makerCode), 5);
    assert.equal(b.get(StorageBattery.props.productCode), 'BAT-X');
    assert.equal(b.get(StorageBattery.props.productionNumber), 'SN-42');
  } finally {
    await site.close();
  }
});
