/** Typed device objects: ranges, access rules, maps and unit conversion at the edge. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EchonetObject } from '../../../src/protocols/echonet/object.js';
import {
  StorageBattery, HouseholdSolarPower, LowVoltageSmartMeter, meterReadingToWattHours, wattHoursToMeterReading,
  AirConditioner, EvChargerDischarger, ElectricWaterHeater, NodeProfile, classDefinition, KNOWN_CLASSES,
} from '../../../src/protocols/echonet/objects/index.js';
import { decodePropertyMap } from '../../../src/protocols/echonet/property-map.js';
import { wattHours, watts } from '../../../src/core/units.js';
import { batteryMandatoryValues } from './fixtures.js';

const baseValues = {
  operationStatus: 'on' as const,
  installationLocation: Uint8Array.of(0x00),
  standardVersion: { release: 'R', revision: 0 },
  faultStatus: 'noFault' as const,
  makerCode: 0xfffffe,
  productCode: 'ERAB-SIM',
  productionNumber: 'SN0001',
};

function battery(): EchonetObject<typeof StorageBattery.props> {
  return new EchonetObject(StorageBattery, {
    instance: 1,
    values: {
      ...baseValues, ...batteryMandatoryValues,
      operationMode: 'standby', workingOperationStatus: 'standby', remainingCapacityPercent: 50,
      instantaneousChargeDischargePower: watts(-1500), chargingPowerSetting: watts(3000), ratedEnergy: wattHours(9800),
    },
  });
}

test('typed values encode to the Appendix data types and decode back in erab units', () => {
  const b = battery();
  assert.deepEqual([...b.readForGet(0xd3)!], [0xff, 0xff, 0xfa, 0x24]); // -1500 W, signed long
  assert.equal(b.get(StorageBattery.props.instantaneousChargeDischargePower), -1500);
  assert.deepEqual([...b.readForGet(0xda)!], [0x44]);
  assert.deepEqual([...b.readForGet(0xd0)!], [0x00, 0x00, 0x26, 0x48]);
});

test('a Set outside the range is refused and not applied', () => {
  const b = battery();
  const r = b.applySet(0xeb, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  assert.equal(r.accepted, false);
  if (!r.accepted) assert.match(r.reason, /EPC 0xEB.*4294967295 is outside 0–999999999/);
  assert.equal(b.get(StorageBattery.props.chargingPowerSetting), 3000);
  const bad = b.applySet(0xda, Uint8Array.of(0x99));
  assert.equal(bad.accepted, false);
  if (!bad.accepted) assert.match(bad.reason, /0x99 is not one of/);
  const size = b.applySet(0xda, Uint8Array.of(0x42, 0x00));
  assert.equal(size.accepted, false);
  assert.equal(b.get(StorageBattery.props.operationMode), 'standby');
});

test('Get-only and unsupported properties refuse a Set', () => {
  const b = battery();
  const r = b.applySet(0xe4, Uint8Array.of(10));
  assert.equal(r.accepted, false);
  if (!r.accepted) assert.match(r.reason, /not settable/);
  const u = b.applySet(0xf5, Uint8Array.of(1));
  assert.equal(u.accepted, false);
  if (!u.accepted) assert.match(u.reason, /not a property/);
});

test('a valid Set is applied and announced when the property is in the 0x9D map', () => {
  const b = battery();
  const seen: number[] = [];
  b.onAnnounce((epc) => seen.push(epc));
  assert.deepEqual(b.applySet(0xda, Uint8Array.of(0x42)), { accepted: true });
  assert.equal(b.get(StorageBattery.props.operationMode), 'charging');
  assert.deepEqual(seen, [0xda]);
  b.applySet(0xda, Uint8Array.of(0x42)); // same value: no announcement
  b.applySet(0xeb, Uint8Array.of(0, 0, 0x0b, 0xb8)); // settable but not announced
  assert.deepEqual(seen, [0xda]);
});

test('a simulator hook can refuse a Set with a reason', () => {
  const b = battery();
  b.setHook((epc, v) => (epc === 0xda && v === 'test' ? 'test mode is not available' : undefined));
  const r = b.applySet(0xda, Uint8Array.of(0x45));
  assert.equal(r.accepted, false);
  assert.equal(b.get(StorageBattery.props.operationMode), 'standby');
});

test('property maps list exactly the supported properties by access rule', () => {
  const b = battery();
  const get = decodePropertyMap(b.readForGet(0x9f)!);
  assert.ok(get.includes(0xe4) && get.includes(0x9f) && get.includes(0xda));
  assert.ok(get.length >= 16, 'battery Get map uses the bitmap form');
  assert.equal(b.readForGet(0x9f)!.length, 17);
  assert.deepEqual(decodePropertyMap(b.readForGet(0x9e)!), [0x80, 0x81, 0xaa, 0xab, 0xda, 0xeb]);
  // 0xAA/0xAB (AC charge/discharge amount settings) and 0xC1/0xC2 (charging/discharging method) are announced per the Appendix table.
  assert.deepEqual(decodePropertyMap(b.readForGet(0x9d)!), [0x80, 0x81, 0x88, 0xaa, 0xab, 0xc1, 0xc2, 0xcf, 0xda]);
});

test('a class instance without its mandatory properties is refused at construction', () => {
  assert.throws(() => new EchonetObject(StorageBattery, { instance: 1, values: { ...baseValues } }), /lacks mandatory properties: .*operationMode/);
});

test('smart meter cumulative readings convert with coefficient and unit (0xD3, 0xE1) to Wh', () => {
  assert.equal(meterReadingToWattHours(12345, 'kWh0_1'), 1_234_500);
  assert.equal(meterReadingToWattHours(12345, 'kWh0_01', 10), 1_234_500);
  assert.equal(meterReadingToWattHours(7, 'kWh10'), 70_000);
  assert.equal(wattHoursToMeterReading(wattHours(1_234_567), 'kWh0_1'), 12345);
  assert.equal(wattHoursToMeterReading(wattHours(123_456_789_000), 'kWh0_1', 1, 6), 567890); // wraps at 6 digits
  const e7 = LowVoltageSmartMeter.props.instantaneousPower.codec;
  assert.equal(e7.decode(e7.encode(watts(-2300))), -2300);
  assert.throws(() => LowVoltageSmartMeter.props.energyUnit.codec.decode(Uint8Array.of(0x05)), /0x05 is not one of/);
});

test('other classes: PV, EV charger/discharger, water heater, aircon ranges', () => {
  assert.throws(() => HouseholdSolarPower.props.outputLimitPercent.codec.encode(101), /outside 0–100/);
  assert.equal(HouseholdSolarPower.props.instantaneousGeneration.codec.decode(Uint8Array.of(0x0f, 0xa0)), 4000);
  assert.deepEqual([...EvChargerDischarger.props.vehicleConnection.codec.encode('connectedChargeableDischargeable')], [0x43]);
  assert.deepEqual([...ElectricWaterHeater.props.heatingSetting.codec.encode('manualHeating')], [0x42]);
  assert.equal(AirConditioner.props.roomTemperature.codec.decode(Uint8Array.of(0xfb)), -5);
  assert.throws(() => AirConditioner.props.temperatureSetting.codec.decode(Uint8Array.of(51)), /outside 0–50/);
  assert.deepEqual(NodeProfile.props.instanceList.codec.decode(Uint8Array.of(2, 0x02, 0x7d, 0x01, 0x02, 0x7d, 0x02)), [0x027d01, 0x027d02]);
  assert.throws(() => NodeProfile.props.instanceList.codec.decode(Uint8Array.of(2, 0x02, 0x7d, 0x01)), /count 2 needs 7 bytes/);
});

test('every known class is found by its class code and has unique EPCs', () => {
  for (const c of KNOWN_CLASSES) {
    assert.equal(classDefinition(c.classCode), c);
    assert.equal(c.byEpc.size, Object.keys(c.props).length, `${c.name} has duplicate EPCs`);
  }
  assert.equal(classDefinition(0x0999), undefined);
});
