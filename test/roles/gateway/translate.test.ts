import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochMillis, watts, wattHours } from '../../../src/core/units.js';
import {
  readingToStatus, readingToUsage, signalPowerW, translateSignals, validateSignals, type DeviceProfile,
} from '../../../src/roles/gateway/translate.js';
import type { DeviceReading, EventSignal } from '../../../src/roles/gateway/types.js';

const bat: DeviceProfile = { deviceId: 'bat1', class: 'battery', ratedChargeW: 3000, ratedDischargeW: 3000 };
const simple = (v: number): EventSignal => ({ name: 'SIMPLE', type: 'level', value: v });
const lc = (type: string, v: number, unit?: EventSignal['unit']): EventSignal => ({ name: 'LOAD_CONTROL', type, value: v, unit });
const kw = { itemBase: 'powerReal', units: 'W', siScaleCode: 'k' };
const at = epochMillis(Date.UTC(2026, 0, 1));

function cmd(signals: EventSignal[], device: DeviceProfile, ctx = {}) {
  const r = translateSignals(signals, device, ctx);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.command;
}

test('SIMPLE levels map to battery discharge intensity; level 0 returns to the owner\'s mode', () => {
  assert.deepEqual(cmd([simple(0)], bat), { deviceId: 'bat1', class: 'battery', action: 'auto' });
  assert.deepEqual(cmd([simple(1)], bat), { deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: 1000 });
  assert.deepEqual(cmd([simple(2)], bat), { deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: 2000 });
  assert.deepEqual(cmd([simple(3)], bat), { deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: 3000 });
});

test('SIMPLE level per class: EV, V2H-less charger, water heater, PV, meter', () => {
  const ev: DeviceProfile = { deviceId: 'ev1', class: 'ev', ratedChargeW: 6000, ratedDischargeW: 6000, canDischarge: true };
  assert.deepEqual(cmd([simple(3)], ev), { deviceId: 'ev1', class: 'ev', action: 'ev_discharge', powerW: 6000 });
  const r = translateSignals([simple(2)], { ...ev, canDischarge: false });
  assert.ok(r.ok);
  assert.equal(r.command?.action, 'ev_stop');
  assert.equal(cmd([simple(1)], { deviceId: 'wh', class: 'water_heater' })?.action, 'stop_boil');
  assert.equal(cmd([simple(0)], { deviceId: 'wh', class: 'water_heater' })?.action, 'auto');
  assert.equal(cmd([simple(2)], { deviceId: 'pv', class: 'pv' }), undefined);
  assert.equal(cmd([simple(2)], { deviceId: 'm', class: 'meter' }), undefined);
});

test('LOAD_CONTROL capacity, level offset and percent offset give the same intensity scale', () => {
  assert.deepEqual(cmd([lc('x-loadControlCapacity', 0.5)], bat)?.powerW, 1500);
  assert.deepEqual(cmd([lc('x-loadControlCapacity', 1)], bat)?.action, 'auto');
  assert.deepEqual(cmd([lc('x-loadControlLevelOffset', -3)], bat), { deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: 3000 });
  // Positive offsets ask for more consumption (上げDR): the battery charges, the water heater boils, PV is curtailed.
  assert.deepEqual(cmd([lc('x-loadControlPercentOffset', 50)], bat), { deviceId: 'bat1', class: 'battery', action: 'charge', powerW: 1500 });
  assert.equal(cmd([lc('x-loadControlPercentOffset', 20)], { deviceId: 'wh', class: 'water_heater' })?.action, 'boil');
  assert.deepEqual(cmd([lc('x-loadControlPercentOffset', 40)], { deviceId: 'pv', class: 'pv' }), { deviceId: 'pv', class: 'pv', action: 'pv_limit', percent: 60 });
  assert.deepEqual(cmd([lc('x-loadControlCapacity', 0.3)], { deviceId: 'pv', class: 'pv' }), { deviceId: 'pv', class: 'pv', action: 'pv_limit', percent: 30 });
});

test('air conditioner: intensity shifts the owner\'s set temperature by season; x-loadControlSetpoint sets it', () => {
  const ac: DeviceProfile = { deviceId: 'ac1', class: 'aircon' };
  const cooling: DeviceReading = { deviceId: 'ac1', class: 'aircon', at, online: true, temperatureC: 26, airconMode: 'cooling' };
  assert.equal(cmd([simple(3)], ac, { reading: cooling })?.temperatureC, 29);
  assert.equal(cmd([simple(1)], ac, { reading: { ...cooling, airconMode: 'heating', temperatureC: 22 } })?.temperatureC, 21);
  // The owner's normal set temperature wins over the current one (which may already be shifted).
  assert.equal(cmd([simple(2)], ac, { reading: { ...cooling, temperatureC: 28 }, normal: { temperatureC: 25 } })?.temperatureC, 27);
  assert.deepEqual(cmd([lc('x-loadControlSetpoint', 27)], ac), { deviceId: 'ac1', class: 'aircon', action: 'aircon_setpoint', temperatureC: 27 });
  assert.equal(cmd([lc('x-loadControlSetpoint', 80.6, { itemBase: 'temperature', units: 'fahrenheit' })], ac)?.temperatureC, 27);
  // Out of the owner's range: translated literally, the policy decides (see policy tests).
  assert.equal(cmd([lc('x-loadControlSetpoint', 40)], ac)?.temperatureC, 40);
});

test('LOAD_DISPATCH setpoint and delta in power units with SI multipliers', () => {
  assert.deepEqual(signalPowerW({ name: 'LOAD_DISPATCH', type: 'setpoint', value: -1.5, unit: kw }), { ok: true, watts: -1500 });
  assert.deepEqual(signalPowerW({ name: 'LOAD_DISPATCH', type: 'setpoint', value: 2500, unit: { itemBase: 'powerReal', units: 'W' } }), { ok: true, watts: 2500 });
  assert.deepEqual(signalPowerW({ name: 'LOAD_DISPATCH', type: 'setpoint', value: 0.0025, unit: { ...kw, siScaleCode: 'M' } }), { ok: true, watts: 2500 });
  const sp = (v: number): EventSignal => ({ name: 'LOAD_DISPATCH', type: 'setpoint', value: v, unit: kw });
  assert.deepEqual(cmd([sp(-2.2)], bat), { deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: 2200 });
  assert.deepEqual(cmd([sp(1)], bat), { deviceId: 'bat1', class: 'battery', action: 'charge', powerW: 1000 });
  assert.deepEqual(cmd([sp(0)], bat), { deviceId: 'bat1', class: 'battery', action: 'standby' });
  const reading: DeviceReading = { deviceId: 'bat1', class: 'battery', at, online: true, powerW: watts(-500) };
  const delta: EventSignal = { name: 'LOAD_DISPATCH', type: 'delta', value: -1, unit: kw };
  assert.deepEqual(cmd([delta], bat, { reading }), { deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: 1500 });
  const noReading = translateSignals([delta], bat);
  assert.deepEqual(noReading.ok ? null : noReading.code, 469);
});

test('the most specific signal wins when an event carries several', () => {
  const r = translateSignals([simple(1), { name: 'LOAD_DISPATCH', type: 'setpoint', value: -2, unit: kw }], bat);
  assert.ok(r.ok);
  assert.equal(r.signal.name, 'LOAD_DISPATCH');
  assert.equal(r.command?.powerW, 2000);
  // A water heater cannot follow LOAD_DISPATCH, so it follows SIMPLE.
  const wh = translateSignals([simple(1), { name: 'LOAD_DISPATCH', type: 'setpoint', value: -2, unit: kw }], { deviceId: 'wh', class: 'water_heater' });
  assert.ok(wh.ok);
  assert.equal(wh.signal.name, 'SIMPLE');
});

test('unknown signal names and types are refused with 460, never acted on in part', () => {
  const price: EventSignal = { name: 'ELECTRICITY_PRICE', type: 'price', value: 30 };
  assert.deepEqual(validateSignals([price]), { code: 460, reason: 'signal ELECTRICITY_PRICE is not supported by this gateway' });
  const mixed = translateSignals([simple(2), price], bat);
  assert.equal(mixed.ok, false);
  assert.equal(mixed.ok ? 0 : mixed.code, 460);
  const wrongType = translateSignals([{ name: 'SIMPLE', type: 'setpoint', value: 1 }], bat);
  assert.equal(wrongType.ok ? 0 : wrongType.code, 460);
  const notForClass = translateSignals([lc('x-loadControlSetpoint', 26)], bat);
  assert.equal(notForClass.ok ? 0 : notForClass.code, 460);
  assert.match(notForClass.ok ? '' : notForClass.reason, /applies to a battery/);
});

test('values outside the signal type\'s own range, and power without a unit, are refused with 454', () => {
  for (const [s, re] of [
    [simple(4), /SIMPLE level 4 is outside 0..3/],
    [simple(1.5), /outside 0..3/],
    [lc('x-loadControlCapacity', 1.2), /outside 0.0..1.0/],
    [lc('x-loadControlLevelOffset', 7), /−3..3/],
    [lc('x-loadControlPercentOffset', -150), /−100..100/],
    [{ name: 'LOAD_DISPATCH', type: 'setpoint', value: 2 }, /without a unit/],
    [{ name: 'LOAD_DISPATCH', type: 'setpoint', value: 2, unit: { itemBase: 'energyReal', units: 'Wh' } }, /not real power in W/],
    [{ name: 'LOAD_DISPATCH', type: 'setpoint', value: 2, unit: { itemBase: 'powerReal', units: 'W', siScaleCode: 'kilo' } }, /unknown siScaleCode/],
    [{ name: 'SIMPLE', type: 'level', value: Number.NaN }, /not a finite number/],
  ] as [EventSignal, RegExp][]) {
    const r = translateSignals([s], bat);
    assert.equal(r.ok, false, `${s.type} ${s.value}`);
    assert.equal(r.ok ? 0 : r.code, 454);
    assert.match(r.ok ? '' : r.reason, re);
  }
  assert.equal(validateSignals([])?.code, 454);
});

test('readings become TELEMETRY_USAGE points in W or kW and Wh or kWh', () => {
  const r: DeviceReading = { deviceId: 'm1', class: 'meter', at, online: true, powerW: watts(1234), energyWh: wattHours(5_432_100) };
  assert.deepEqual(readingToUsage(r), [
    { rID: 'm1/power', resourceID: 'm1', reportType: 'usage', readingType: 'Direct Read', unit: { itemBase: 'powerReal', itemDescription: 'RealPower', units: 'W', siScaleCode: 'none' }, value: 1234 },
    { rID: 'm1/energy', resourceID: 'm1', reportType: 'usage', readingType: 'Direct Read', unit: { itemBase: 'energyReal', itemDescription: 'RealEnergy', units: 'Wh', siScaleCode: 'none' }, value: 5_432_100 },
  ]);
  const k = readingToUsage({ ...r, powerW: watts(-1500) }, { powerScale: 'k', energyScale: 'k' });
  assert.equal(k[0]!.value, -1.5);
  assert.equal(k[0]!.unit!.siScaleCode, 'k');
  assert.equal(k[1]!.value, 5432.1);
});

test('readings become TELEMETRY_STATUS: online, manual override, load control state, SoC', () => {
  const r: DeviceReading = {
    deviceId: 'bat1', class: 'battery', at, online: true, powerW: watts(-2000), socPercent: 55.5, capacityWh: wattHours(10_000),
    ratedChargeW: watts(3000), ratedDischargeW: watts(3000), manualOverride: false,
  };
  const pts = readingToStatus(r, { deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: watts(2000) });
  assert.deepEqual(pts[0]!.status, { online: true, manualOverride: false, loadControlState: { setPoint: { current: -2000, min: -3000, max: 3000 } } });
  assert.equal(pts[1]!.rID, 'bat1/soc');
  assert.equal(pts[1]!.value, 55.5);
  assert.equal(pts[1]!.unit!.units, '%');
  assert.equal(pts[2]!.value, 5550);
  assert.equal(pts[2]!.unit!.units, 'Wh');
  const pv = readingToStatus({ deviceId: 'pv1', class: 'pv', at, online: false, pvLimitPercent: 100 }, { deviceId: 'pv1', class: 'pv', action: 'pv_limit', percent: 40 });
  assert.deepEqual(pv[0]!.status, { online: false, manualOverride: false, loadControlState: { capacity: { current: 0.4, normal: 1, min: 0, max: 1 } } });
  const wh = readingToStatus({ deviceId: 'wh', class: 'water_heater', at, online: true, manualOverride: true }, { deviceId: 'wh', class: 'water_heater', action: 'stop_boil' });
  assert.deepEqual(wh[0]!.status?.loadControlState?.levelOffset?.current, -1);
  assert.equal(wh[0]!.status?.manualOverride, true);
});
