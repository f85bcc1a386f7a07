/** Simulator physics, stepped deterministically (no sockets). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatterySimulator } from '../../../src/roles/device/battery.js';
import { PvSimulator } from '../../../src/roles/device/pv.js';
import { EvSimulator } from '../../../src/roles/device/ev.js';
import { WaterHeaterSimulator } from '../../../src/roles/device/water-heater.js';
import { AirconSimulator } from '../../../src/roles/device/aircon.js';
import { SmartMeterSimulator } from '../../../src/roles/device/smart-meter.js';
import { clearSkyFraction, baseLoadWatts } from '../../../src/roles/device/profiles.js';
import { SimulationTime } from '../../../src/roles/device/sim-time.js';
import { ManualClock } from '../../../src/core/clock.js';
import { StorageBattery, HouseholdSolarPower, EvChargerDischarger, ElectricWaterHeater, AirConditioner, LowVoltageSmartMeter, meterReadingToWattHours } from '../../../src/protocols/echonet/objects/index.js';
import type { EpochMillis } from '../../../src/core/units.js';

const id = { makerCode: 0xfffffe, productCode: 'TEST', productionNumber: 'X1' };
const HOUR = 3_600_000;
/** 2026-06-21 12:00 JST */
const NOON_JUNE = Date.UTC(2026, 5, 21, 3, 0);
const at = (t: number): EpochMillis => t as EpochMillis;
const set = (o: { applySet(e: number, d: Uint8Array): { accepted: boolean } }, epc: number, ...bytes: number[]) => o.applySet(epc, Uint8Array.from(bytes));

test('battery: charging integrates power × time × efficiency and stops at the ceiling', () => {
  const b = new BatterySimulator({ capacityWh: 9800, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 50 }, id);
  assert.equal(set(b.object, 0xda, 0x42).accepted, true);
  assert.equal(b.step({ t: at(0), dtMs: HOUR, netLoadW: 0 }), 3000);
  assert.ok(Math.abs(b.storedWh() - (4900 + 3000 * 0.95)) < 1e-6);
  assert.equal(b.object.get(StorageBattery.props.remainingCapacityPercent), 79);
  assert.equal(b.object.get(StorageBattery.props.instantaneousChargeDischargePower), 3000);
  assert.equal(b.object.get(StorageBattery.props.workingOperationStatus), 'charging');
  for (let i = 0; i < 5; i++) b.step({ t: at(0), dtMs: HOUR, netLoadW: 0 });
  assert.equal(b.socPercent(), 100);
  assert.equal(b.power(), 0);
  assert.equal(b.object.get(StorageBattery.props.workingOperationStatus), 'standby');
});

test('battery: discharging stops at the SoC floor; standby holds', () => {
  const b = new BatterySimulator({ capacityWh: 5000, maxChargeW: 2000, maxDischargeW: 2000, initialSocPercent: 30, minSocPercent: 10 }, id);
  set(b.object, 0xec, 0, 0, 0x03, 0xe8); // 1000 W
  set(b.object, 0xda, 0x43);
  assert.equal(b.step({ t: at(0), dtMs: HOUR / 2, netLoadW: 0 }), -1000);
  for (let i = 0; i < 4; i++) b.step({ t: at(0), dtMs: HOUR, netLoadW: 0 });
  assert.ok(Math.abs(b.socPercent() - 10) < 1e-6, `SoC ${b.socPercent()}`);
  assert.equal(b.power(), 0);
  set(b.object, 0xda, 0x44);
  b.step({ t: at(0), dtMs: HOUR, netLoadW: 0 });
  assert.ok(Math.abs(b.socPercent() - 10) < 1e-6);
});

test('battery: automatic mode follows the site (discharge to cover import, charge from export)', () => {
  const b = new BatterySimulator({ capacityWh: 9800, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 50, initialMode: 'automatic' }, id);
  assert.equal(b.step({ t: at(0), dtMs: 60_000, netLoadW: 800 }), -800);
  assert.equal(b.step({ t: at(0), dtMs: 60_000, netLoadW: -2500 }), 2500);
  assert.equal(b.step({ t: at(0), dtMs: 60_000, netLoadW: 9000 }), -3000, 'capped by the inverter');
});

test('battery: device limits refuse a Set (unsupported mode, power over the rating)', () => {
  const b = new BatterySimulator({ capacityWh: 9800, maxChargeW: 3000, maxDischargeW: 3000 }, id);
  assert.equal(set(b.object, 0xda, 0x45).accepted, false); // test mode
  assert.equal(set(b.object, 0xeb, 0, 0, 0x13, 0x88).accepted, false); // 5000 W > 3000 W
  assert.equal(set(b.object, 0xeb, 0, 0, 0x07, 0xd0).accepted, true);
});

test('PV: clear-sky curve, zero at night, capped by 0xA0 (%) and 0xA1 (W)', () => {
  const pv = new PvSimulator({ ratedW: 4500 }, id);
  const noon = -pv.step({ t: at(NOON_JUNE), dtMs: 60_000, netLoadW: 0 });
  assert.ok(noon > 3300 && noon <= 4500 * 0.85, `noon output ${noon}`);
  assert.equal(pv.step({ t: at(NOON_JUNE + 12 * HOUR), dtMs: 60_000, netLoadW: 0 }), 0);
  const morning = -pv.step({ t: at(NOON_JUNE - 4 * HOUR), dtMs: 60_000, netLoadW: 0 });
  assert.ok(morning > 0 && morning < noon);
  set(pv.object, 0xa0, 50);
  assert.ok(-pv.step({ t: at(NOON_JUNE), dtMs: 60_000, netLoadW: 0 }) <= 2250);
  set(pv.object, 0xa1, 0x03, 0xe8);
  assert.equal(-pv.step({ t: at(NOON_JUNE), dtMs: HOUR, netLoadW: 0 }), 1000);
  assert.equal(pv.object.get(HouseholdSolarPower.props.instantaneousGeneration), 1000);
  assert.ok(pv.object.get(HouseholdSolarPower.props.cumulativeGeneration) >= 1000);
  assert.ok(clearSkyFraction(Date.UTC(2026, 11, 21, 3)) < clearSkyFraction(NOON_JUNE), 'winter noon below summer noon');
});

test('PV noise is reproducible with a seeded generator', () => {
  const mk = () => new PvSimulator({ ratedW: 4000, noise: 0.3, random: (() => { let s = 1; return () => ((s = (s * 16807) % 2147483647) / 2147483647); })() }, id);
  const a = mk();
  const b = mk();
  const sa = [0, 1, 2].map((i) => a.step({ t: at(NOON_JUNE + i * 60_000), dtMs: 60_000, netLoadW: 0 }));
  const sb = [0, 1, 2].map((i) => b.step({ t: at(NOON_JUNE + i * 60_000), dtMs: 60_000, netLoadW: 0 }));
  assert.deepEqual(sa, sb);
  assert.notEqual(sa[0], sa[1]);
});

test('EV: plugged-in state gates charging; vehicle SoC integrates; 0xC7 follows', () => {
  const ev = new EvSimulator({ vehicleCapacityWh: 40_000, maxChargeW: 6000, maxDischargeW: 6000, initialSocPercent: 50, pluggedIn: false }, id);
  assert.equal(ev.object.get(EvChargerDischarger.props.vehicleConnection), 'notConnected');
  assert.equal(set(ev.object, 0xda, 0x42).accepted, false);
  ev.plug(true);
  assert.equal(ev.object.get(EvChargerDischarger.props.vehicleConnection), 'connectedChargeableDischargeable');
  assert.equal(set(ev.object, 0xda, 0x42).accepted, true);
  assert.equal(ev.step({ t: at(0), dtMs: HOUR, netLoadW: 0 }), 6000);
  assert.ok(Math.abs(ev.soc() - (50 + (6000 * 0.93 * 100) / 40_000)) < 1e-6);
  set(ev.object, 0xda, 0x43);
  assert.equal(ev.step({ t: at(0), dtMs: HOUR, netLoadW: 0 }), -6000);
  ev.plug(false);
  assert.equal(ev.object.get(EvChargerDischarger.props.operationMode), 'standby');
  assert.equal(ev.step({ t: at(0), dtMs: HOUR, netLoadW: 0 }), 0);
});

test('water heater: automatic heats at night only; manual boil heats until full then returns to automatic', () => {
  const wh = new WaterHeaterSimulator({ tankLitres: 460, initialFillPercent: 50, dailyUseLitres: 0 }, id);
  const day = Date.UTC(2026, 5, 21, 3); // 12:00 JST
  assert.equal(wh.step({ t: at(day), dtMs: 60_000, netLoadW: 0 }), 0);
  assert.equal(set(wh.object, 0xb0, 0x42).accepted, true);
  assert.equal(wh.step({ t: at(day), dtMs: 60_000, netLoadW: 0 }), 1200);
  assert.equal(wh.object.get(ElectricWaterHeater.props.heaterStatus), 'heating');
  for (let i = 0; i < 12 * 60 && wh.object.get(ElectricWaterHeater.props.heatingSetting) === 'manualHeating'; i++) wh.step({ t: at(day), dtMs: 60_000, netLoadW: 0 });
  assert.equal(wh.remainingLitres(), 460);
  assert.equal(wh.object.get(ElectricWaterHeater.props.heatingSetting), 'automatic');
  assert.equal(wh.step({ t: at(day), dtMs: 60_000, netLoadW: 0 }), 0);
  const wh2 = new WaterHeaterSimulator({ tankLitres: 370, initialFillPercent: 20, dailyUseLitres: 0 }, id);
  assert.equal(wh2.step({ t: at(Date.UTC(2026, 5, 21, 16)), dtMs: 60_000, netLoadW: 0 }), 1200, '01:00 JST heats');
  set(wh2.object, 0xb0, 0x43);
  assert.equal(wh2.step({ t: at(Date.UTC(2026, 5, 21, 16)), dtMs: 60_000, netLoadW: 0 }), 0, 'manual stop');
});

test('air conditioner: cooling on a summer afternoon draws power and brings the room to the set point', () => {
  const ac = new AirconSimulator({ initialRoomC: 31, setC: 26, on: false }, id);
  const t = Date.UTC(2026, 7, 10, 5); // 14:00 JST in August
  assert.equal(ac.step({ t: at(t), dtMs: 60_000, netLoadW: 0 }), 0);
  set(ac.object, 0x80, 0x30);
  set(ac.object, 0xb0, 0x42);
  const p = ac.step({ t: at(t), dtMs: 10 * 60_000, netLoadW: 0 });
  assert.ok(p > 350 && p <= 2000, `power ${p}`);
  for (let i = 0; i < 6; i++) ac.step({ t: at(t), dtMs: 10 * 60_000, netLoadW: 0 });
  assert.ok(Math.abs(ac.roomTemperature() - 26) < 1, `room ${ac.roomTemperature()}`);
  assert.equal(ac.object.get(AirConditioner.props.roomTemperature), Math.round(ac.roomTemperature()));
  assert.equal(set(ac.object, 0xb3, 60).accepted, false, 'set temperature out of range');
});

test('smart meter: sums devices and base load; cumulative import/export registers in 0.1 kWh', () => {
  const m = new SmartMeterSimulator({ baseLoadMinW: 500, baseLoadMaxW: 500 }, id);
  m.step({ t: at(0), dtMs: HOUR, netLoadW: 1500 });
  assert.equal(m.object.get(LowVoltageSmartMeter.props.instantaneousPower), 2000);
  assert.equal(meterReadingToWattHours(m.object.get(LowVoltageSmartMeter.props.cumulativeNormal), 'kWh0_1'), 2000);
  m.step({ t: at(0), dtMs: HOUR, netLoadW: -3500 });
  assert.equal(m.object.get(LowVoltageSmartMeter.props.instantaneousPower), -3000);
  assert.equal(meterReadingToWattHours(m.object.get(LowVoltageSmartMeter.props.cumulativeReverse), 'kWh0_1'), 3000);
  assert.equal(m.object.get(LowVoltageSmartMeter.props.energyUnit), 'kWh0_1');
});

test('base load has morning and evening peaks within the configured band', () => {
  const day = Date.UTC(2026, 5, 21, 0) - 9 * HOUR; // 00:00 JST
  const w = (h: number) => baseLoadWatts(day + h * HOUR, 200, 1000);
  assert.ok(w(19.5) > w(3) && w(7) > w(3));
  for (let h = 0; h < 24; h += 0.5) assert.ok(w(h) >= 200 && w(h) <= 1000);
});

test('simulated time runs at the speed factor over the base clock', () => {
  const clock = new ManualClock(0);
  const t = new SimulationTime(clock, 1000, 60);
  clock.advance(1000);
  assert.equal(t.now(), 1000 + 60_000);
});

test('smart meter records and announces the fixed-time readings (0xEA/0xEB) at each 30-minute boundary', () => {
  const m = new SmartMeterSimulator({ baseLoadMinW: 1000, baseLoadMaxW: 1000 }, id);
  const announced: number[] = [];
  m.object.onAnnounce((epc) => announced.push(epc));
  const t0 = Date.UTC(2026, 5, 21, 0, 0); // 09:00 JST, on a boundary
  for (let i = 1; i <= 45; i++) m.step({ t: at(t0 + i * 60_000), dtMs: 60_000, netLoadW: 0 });
  const ea = m.object.get(LowVoltageSmartMeter.props.fixedTimeNormal);
  assert.equal(ea.at, t0 + 30 * 60_000);
  assert.equal(meterReadingToWattHours(ea.reading, 'kWh0_1'), 500, '1 kW for 30 min');
  assert.deepEqual(announced, [0xea, 0xeb], 'both readings announced once, at the boundary');
  const edt = LowVoltageSmartMeter.props.fixedTimeNormal.codec.encode(ea);
  assert.deepEqual([...edt.subarray(0, 7)], [0x07, 0xea, 6, 21, 9, 30, 0], 'date-time in JST');
  assert.throws(() => LowVoltageSmartMeter.props.fixedTimeNormal.codec.decode(Uint8Array.of(0x07, 0xea, 13, 1, 0, 0, 0, 0, 0, 0, 0)), /not valid/);
});

test('EV commuter schedule: away during the day, back in the evening with less charge, 0xC7 announced', () => {
  const ev = new EvSimulator({ vehicleCapacityWh: 40_000, maxChargeW: 6000, maxDischargeW: 6000, initialSocPercent: 80, pluggedHours: [18, 8], driveWh: 8000 }, id);
  const seen: number[] = [];
  ev.object.onAnnounce((epc, edt) => { if (epc === 0xc7) seen.push(edt[0]!); });
  const day = Date.UTC(2026, 5, 22, 0) - 9 * HOUR; // 00:00 JST
  ev.step({ t: at(day + 2 * HOUR), dtMs: 60_000, netLoadW: 0 });
  assert.equal(ev.isPluggedIn(), true);
  ev.step({ t: at(day + 9 * HOUR), dtMs: 60_000, netLoadW: 0 });
  assert.equal(ev.isPluggedIn(), false);
  ev.step({ t: at(day + 19 * HOUR), dtMs: 60_000, netLoadW: 0 });
  assert.equal(ev.isPluggedIn(), true);
  assert.ok(Math.abs(ev.soc() - 60) < 1e-6, `SoC after the drive ${ev.soc()}`);
  assert.deepEqual(seen, [0x30, 0x43]);
});
