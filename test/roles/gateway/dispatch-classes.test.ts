/**
 * Dispatch through the gateway to the newer device classes: OpenADR-style events go through the
 * event engine, the translation and the safety policy, and reach simulated devices as ECHONET
 * Lite Sets over real UDP on loopback (addresses 127.17.3.x): lighting dims for a shed (下げ),
 * an air conditioner pre-cools and a heat-pump water heater boils for a take-up (上げ); a fuel
 * cell generates at its rating for a shed and stops for a take-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from '../../../src/core/clock.js';
import { epochMillis } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { EchonetController } from '../../../src/protocols/echonet/controller.js';
import { AirConditioner, ElectricWaterHeater, FuelCell, GeneralLighting, StorageBattery } from '../../../src/protocols/echonet/objects/index.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { AdmissionRegistry, MemoryAdmissionStore } from '../../../src/roles/gateway/admission.js';
import { EchonetSite } from '../../../src/roles/gateway/echonet-site.js';
import { EventEngine, type GatewayEvent } from '../../../src/roles/gateway/engine.js';
import { FailSafe, SafetyPolicy, sitePolicySchema } from '../../../src/roles/gateway/policy.js';
import { waitFor } from '../../kit/index.js';

const T0 = Date.UTC(2026, 6, 15, 3); // 12:00 JST in July

async function setup(address: string, gatewayAddress: string) {
  const devices = await DeviceSite.start({
    address, startTime: T0, peers: [{ address: gatewayAddress }],
    lighting: { ratedW: 200, brightnessPercent: 100 }, aircon: { on: true, setC: 26 }, waterHeater: { initialFillPercent: 40 }, fuelCell: { ratedW: 700 },
  }, { realtime: false });
  const controller = await EchonetController.start({ address: gatewayAddress, multicast: false, timeoutMs: 2000, retries: 1 });
  const audit = new MemoryAuditSink();
  const admission = new AdmissionRegistry(new MemoryAdmissionStore(), new ManualClock(), audit);
  const site = new EchonetSite({ controller, admission, clock: systemClock, addresses: [address] });
  await site.discover();
  for (const r of admission.list()) admission.admit(r.deviceId, r.revision, 'op:test');
  // The air conditioner cools (the owner's mode) so its set temperature can be shifted.
  devices.aircon!.object.applySet(0xb0, Uint8Array.of(0x42));
  devices.advance(60_000);
  await site.poll();
  const clock = new ManualClock(T0);
  const cfg = sitePolicySchema.parse({ failSafe: { aggregatorTimeoutMs: 3_600_000, maxForcedWhileUnreachableMs: 7_200_000 } });
  const engine = new EventEngine({ clock, policy: new SafetyPolicy(cfg, clock), failSafe: new FailSafe(cfg.failSafe, clock), devices: site, port: site, audit, tickMs: 5000 });
  const id = (cls: string) => admission.list().find((r) => r.class === cls)!.deviceId;
  const close = async () => {
    engine.close();
    await controller.close();
    await devices.close();
  };
  return { devices, site, engine, clock, id, close };
}

function event(eventID: string, resourceID: string[], signal: GatewayEvent['signals'][number]): GatewayEvent {
  return { eventID, modificationNumber: 0, status: 'active', start: epochMillis(T0), durationMs: 30 * 60_000, target: { resourceID }, signals: [signal] };
}

test('a shed (SIMPLE level 2) dims admitted lighting over ECHONET Lite; its power falls; the end restores it', async () => {
  const s = await setup('127.17.3.2', '127.17.3.1');
  try {
    const light = s.id('lighting');
    assert.equal(s.site.reading(light)?.levelPercent, 100);
    const before = s.devices.lighting!.power();
    assert.ok(before > 190, `lit at full brightness: ${before} W`);
    assert.deepEqual(s.engine.accept(event('shed', [light], { name: 'SIMPLE', type: 'level', intervals: [{ startOffsetMs: 0, durationMs: 30 * 60_000, value: 2 }] })).code, 200);
    await s.engine.idle();
    const L = GeneralLighting.props;
    await waitFor(() => s.devices.lighting!.object.get(L.brightness) < 100, { timeoutMs: 3000, what: 'lighting dimmed' });
    const level = s.devices.lighting!.object.get(L.brightness);
    s.devices.advance(1000);
    const after = s.devices.lighting!.power();
    assert.ok(after < before, `dimmed to ${level} %: ${after} W < ${before} W`);
    await s.site.poll();
    assert.equal(s.site.reading(light)?.levelPercent, level, 'the gateway reads the dimmed level back');
    assert.equal(s.engine.manualOverride(light), false);
    s.clock.advance(31 * 60_000);
    s.engine.tick();
    await s.engine.idle();
    await waitFor(() => s.devices.lighting!.object.get(L.brightness) === 100, { timeoutMs: 3000, what: 'brightness restored' });
  } finally {
    await s.close();
  }
});

test('a take-up (上げ) pre-cools the air conditioner and boils the heat-pump water heater', async () => {
  const s = await setup('127.17.3.4', '127.17.3.3');
  try {
    const ac = s.id('aircon');
    const wh = s.id('water_heater');
    // x-loadControlLevelOffset +3: consume more (absorb surplus).
    s.engine.accept(event('takeup', [ac, wh], { name: 'LOAD_CONTROL', type: 'x-loadControlLevelOffset', intervals: [{ startOffsetMs: 0, durationMs: 30 * 60_000, value: 3 }] }));
    await s.engine.idle();
    await waitFor(() => s.devices.aircon!.object.get(AirConditioner.props.temperatureSetting) < 26, { timeoutMs: 3000, what: 'aircon set lower' });
    await waitFor(() => s.devices.waterHeater!.object.get(ElectricWaterHeater.props.heatingSetting) === 'manualHeating', { timeoutMs: 3000, what: 'water heater boiling' });
    assert.equal(s.devices.aircon!.object.get(AirConditioner.props.temperatureSetting), 23, '26 °C − 1 × 3 K');
  } finally {
    await s.close();
  }
});

test('a fuel cell generates at its rating for a shed (下げ) and stops for a take-up (上げ)', async () => {
  const s = await setup('127.17.3.6', '127.17.3.5');
  try {
    const fc = s.id('fuel_cell');
    const P = FuelCell.props;
    assert.equal(s.site.reading(fc)?.mode, 'generationOn');
    s.engine.accept(event('shed', [fc], { name: 'SIMPLE', type: 'level', intervals: [{ startOffsetMs: 0, durationMs: 10 * 60_000, value: 3 }] }));
    await s.engine.idle();
    await waitFor(() => s.devices.fuelCell!.object.get(P.generationMode) === 'maximumRating', { timeoutMs: 3000, what: 'fuel cell at its rating' });
    s.devices.advance(30 * 60_000);
    assert.ok(s.devices.fuelCell!.output() > 650, `output ${s.devices.fuelCell!.output()} W near the 700 W rating`);
    // The shed ends (its 10 minutes pass on the gateway's clock) before the take-up arrives.
    s.clock.advance(11 * 60_000);
    s.engine.tick();
    await s.engine.idle();
    await s.site.poll();
    s.engine.accept(event('takeup', [fc], { name: 'LOAD_CONTROL', type: 'x-loadControlLevelOffset', intervals: [{ startOffsetMs: 0, durationMs: 30 * 60_000, value: 3 }] }));
    await s.engine.idle();
    await waitFor(() => s.devices.fuelCell!.object.get(P.generationSetting) === 'generationOff', { timeoutMs: 3000, what: 'fuel cell stopped' });
    s.devices.advance(60 * 60_000);
    assert.equal(s.devices.fuelCell!.output(), 0);
    assert.equal(s.devices.fuelCell!.object.get(P.generationStatus), 'stopped');
  } finally {
    await s.close();
  }
});

test('the multi-input PCS and the low-voltage smart meter are measurement sources: a battery shed through the gateway shows at the PCS and the meter', async () => {
  const devices = await DeviceSite.start({
    address: '127.17.3.8', startTime: T0, peers: [{ address: '127.17.3.7' }],
    pv: { ratedW: 4000 }, battery: { initialSocPercent: 80 }, pcs: { standbyW: 15 }, meter: { baseLoadMinW: 600, baseLoadMaxW: 600 },
  }, { realtime: false });
  const controller = await EchonetController.start({ address: '127.17.3.7', multicast: false, timeoutMs: 2000, retries: 1 });
  const audit = new MemoryAuditSink();
  const admission = new AdmissionRegistry(new MemoryAdmissionStore(), new ManualClock(), audit);
  const site = new EchonetSite({ controller, admission, clock: systemClock, addresses: ['127.17.3.8'] });
  const clock = new ManualClock(T0);
  const cfg = sitePolicySchema.parse({ failSafe: { aggregatorTimeoutMs: 3_600_000, maxForcedWhileUnreachableMs: 7_200_000 } });
  const engine = new EventEngine({ clock, policy: new SafetyPolicy(cfg, clock), failSafe: new FailSafe(cfg.failSafe, clock), devices: site, port: site, audit, tickMs: 5000 });
  try {
    await site.discover();
    for (const r of admission.list()) admission.admit(r.deviceId, r.revision, 'op:test');
    const id = (cls: string) => admission.list().find((r) => r.class === cls)!.deviceId;
    const [pcs, meter, battery] = [id('pcs'), id('meter'), id('battery')];
    // The battery idles at first (standby), so the PCS carries only the PV.
    devices.battery!.object.applySet(0xda, Uint8Array.of(0x44));
    devices.advance(10 * 60_000);
    await site.poll();
    const p0 = site.reading(pcs)!;
    assert.equal(p0.powerW, Math.round(-devices.pv!.output() + 15), 'PCS 0xE7 = its PV input delivered to the house + its standby draw');
    assert.deepEqual(p0.connectedObjects, ['027901', '027D01'], 'PCS 0xE8 lists its PV and battery inputs');
    assert.ok((p0.exportedEnergyWh ?? 0) > 0, 'PCS 0xE3 counts what it delivered');
    const m0 = site.reading(meter)!;
    assert.equal(m0.powerW, devices.meter.power());
    assert.ok(m0.phaseCurrentsA && Math.abs(m0.phaseCurrentsA.r - devices.meter.power() / 200) <= 0.1, `0xE8 R phase ${m0.phaseCurrentsA?.r} A`);
    assert.ok(m0.exportedEnergyWh !== undefined && m0.energyWh !== undefined, 'both cumulative registers (0xE0 bought, 0xE3 sold) read');
    // A shed (下げ) through the gateway discharges the battery behind the PCS.
    engine.accept(event('shed', [battery], { name: 'SIMPLE', type: 'level', intervals: [{ startOffsetMs: 0, durationMs: 30 * 60_000, value: 2 }] }));
    await engine.idle();
    await waitFor(() => devices.battery!.power() < 0 || devices.battery!.object.get(StorageBattery.props.operationMode) === 'discharging', { timeoutMs: 3000, what: 'battery discharging' });
    devices.advance(5 * 60_000);
    await site.poll();
    const p1 = site.reading(pcs)!;
    assert.ok(devices.battery!.power() < 0, `battery discharges: ${devices.battery!.power()} W`);
    assert.equal(p1.powerW, Math.round(-devices.pv!.output() + devices.battery!.power() + 15), 'the PCS carries PV and battery discharge');
    assert.ok(p1.powerW! < p0.powerW!, `the PCS delivers more: ${p1.powerW} W < ${p0.powerW} W`);
    assert.ok(site.reading(meter)!.powerW! < m0.powerW!, 'the meter sees the house import fall');
  } finally {
    engine.close();
    await controller.close();
    await devices.close();
  }
});
