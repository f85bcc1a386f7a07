/**
 * Units at the protocol edges: OpenADR values × siScaleCode and ECHONET Lite cumulative energy ×
 * unit × coefficient become erab's W and Wh there and nowhere else. The branded types keep
 * W, Wh and instants apart at compile time (the @ts-expect-error lines fail the build if the
 * brands ever become plain aliases).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  energyOver, epochMillis, kilowattHours, kilowatts, meanPower, millis, toKilowattHours, toKilowatts, wattHours, watts,
  type EpochMillis, type WattHours, type Watts,
} from '../../src/core/units.js';
import { KOMA_MS } from '../../src/core/jst.js';
import { SI_SCALE, energyRealItem, fromWattHours, fromWatts, powerRealItem, siScaleFactor, toWattHours, toWatts, type SiScaleCode } from '../../src/protocols/openadr/units.js';
import { OadrError } from '../../src/protocols/openadr/errors.js';
import { ENERGY_UNIT_KWH, meterReadingToWattHours, wattHoursToMeterReading, type EnergyUnit } from '../../src/protocols/echonet/objects/smart-meter.js';
import { signalPowerW, toScale } from '../../src/roles/gateway/translate.js';

test('brands keep power, energy and instants apart at compile time', () => {
  const p: Watts = watts(1000);
  const e: WattHours = wattHours(500);
  // @ts-expect-error energy is not power
  const wrong1: Watts = e;
  // @ts-expect-error a bare number is not power: it must go through a constructor or a protocol conversion
  const wrong2: Watts = 1000;
  // @ts-expect-error power is not an instant
  const wrong3: EpochMillis = p;
  assert.equal(wrong1 + wrong2 + wrong3, 500 + 1000 + 1000); // brands cost nothing at run time
  assert.equal(epochMillis(5), 5);
});

test('conversions: kW, kWh, and energy over a コマ', () => {
  assert.equal(kilowatts(1.5), 1500);
  assert.equal(toKilowatts(watts(2500)), 2.5);
  assert.equal(kilowattHours(0.25), 250);
  assert.equal(toKilowattHours(wattHours(1234)), 1.234);
  assert.equal(energyOver(watts(3000), KOMA_MS), 1500);
  assert.equal(meanPower(wattHours(1500), KOMA_MS), 3000);
  assert.equal(meanPower(energyOver(watts(-700), millis(600_000)), millis(600_000)), -700);
  assert.throws(() => meanPower(wattHours(1), millis(0)), /duration must be > 0/);
});

test('OpenADR edge: every siScaleCode converts to W and back, and a non-power item is refused', () => {
  for (const code of Object.keys(SI_SCALE) as SiScaleCode[]) {
    const item = powerRealItem(code);
    const w = toWatts(2.5, item);
    assert.equal(w, 2.5 * 10 ** SI_SCALE[code], code);
    assert.ok(Math.abs(fromWatts(w, item) - 2.5) < 1e-9, code);
    assert.equal(siScaleFactor(code), 10 ** SI_SCALE[code]);
  }
  assert.equal(toWatts(40, powerRealItem('k')), 40_000);
  assert.equal(toWattHours(1.5, energyRealItem('k')), 1500);
  assert.equal(fromWattHours(wattHours(1500), energyRealItem('k')), 1.5);
  assert.throws(() => toWatts(1, energyRealItem('k')), (e: unknown) => e instanceof OadrError && /energyReal in Wh is not real power/.test(e.message));
  assert.throws(() => toWattHours(1, powerRealItem()), /is not real energy/);
  assert.equal(siScaleFactor(undefined), 1);
  assert.equal(siScaleFactor('kilo'), undefined);
  assert.equal(siScaleFactor('toString'), undefined, 'only the schema codes, not object properties');
});

test('the gateway converts an OpenADR power signal with the protocol edge table, for every scale', () => {
  for (const code of Object.keys(SI_SCALE) as SiScaleCode[]) {
    const r = signalPowerW({ name: 'LOAD_DISPATCH', type: 'setpoint', value: 3, unit: { itemBase: 'powerReal', units: 'W', siScaleCode: code } });
    assert.ok(r.ok, code);
    assert.ok(Math.abs(r.watts - toWatts(3, powerRealItem(code))) <= Math.abs(r.watts) * 1e-12, `${code}: ${r.watts}`);
  }
  const bad = signalPowerW({ name: 'LOAD_DISPATCH', type: 'setpoint', value: 3, unit: { itemBase: 'powerReal', units: 'W', siScaleCode: 'kilo' } });
  assert.deepEqual(bad, { ok: false, reason: 'unknown siScaleCode kilo' });
  assert.equal(toScale(watts(1500), 'k'), 1.5);
  assert.equal(toScale(wattHours(1500), 'none'), 1500);
});

test('ECHONET Lite edge: cumulative energy × unit (0xE1) × coefficient (0xD3) is Wh, and back with the register wrap', () => {
  assert.equal(meterReadingToWattHours(12345, 'kWh0_1'), 1_234_500);
  assert.equal(meterReadingToWattHours(12345, 'kWh0_1', 10), 12_345_000);
  assert.equal(meterReadingToWattHours(7, 'kWh1000'), 7_000_000);
  for (const unit of Object.keys(ENERGY_UNIT_KWH) as EnergyUnit[]) {
    const wh = meterReadingToWattHours(4321, unit, 3);
    assert.equal(wh, Math.round(4321 * 3 * ENERGY_UNIT_KWH[unit] * 1e6) / 1000, unit);
    assert.equal(wattHoursToMeterReading(wh, unit, 3, 8), 4321, unit);
  }
  // Six effective digits (0xD7): 1,000,000 counts of 0.1 kWh wraps to 0.
  assert.equal(wattHoursToMeterReading(wattHours(100_000_000), 'kWh0_1', 1, 6), 0);
  assert.throws(() => wattHoursToMeterReading(wattHours(-1), 'kWh1'), /negative/);
});
