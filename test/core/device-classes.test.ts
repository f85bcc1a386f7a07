/**
 * The device class registry (src/core/domain/device-classes.ts) is the one place a class is
 * described. This test enumerates it and checks that every consumer handles every class: the
 * ECHONET Lite protocol models it, the gateway maps it, translates for it, commands it, limits
 * it and reports it; the aggregator's portfolio accepts it, limits it and ranks it; the device
 * simulators play it. A class added to the registry and forgotten in one of these fails here
 * (or, for Record<DeviceKind, …> tables, already at compile time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canDispatch, DEVICE_CLASS_REGISTRY, DEVICE_KINDS, deviceClass, directionsOfEchonetClass, ECHONET_DEVICE_KINDS,
  echonetClassCodeOf, kindOfEchonetClass, type DeviceClassSpec, type EchonetDeviceKind,
} from '../../src/core/domain/device-classes.js';
import { DISPATCH_DIRECTIONS } from '../../src/core/domain/direction.js';
import { epochMillis, wattHours, watts, type WattHours } from '../../src/core/units.js';
import { classDefinition } from '../../src/protocols/echonet/objects/index.js';
import { ACTIONS_BY_CLASS, DEVICE_CLASSES, ECHONET_CLASS_CODE, deviceClassOfEchonet, type DeviceCommand, type DeviceReading } from '../../src/roles/gateway/types.js';
import { DEFAULT_CLASS_POLICY, sitePolicySchema } from '../../src/roles/gateway/policy.js';
import { translateSignals, readingToUsage, readingToStatus } from '../../src/roles/gateway/translate.js';
import { propertiesFor } from '../../src/roles/gateway/echonet-site.js';
import { describeDataPoints } from '../../src/roles/gateway/inventory.js';
import { RESOURCE_CLASSES, type Resource } from '../../src/roles/aggregator/portfolio/types.js';
import { defaultLimits, resourceSchema } from '../../src/roles/aggregator/portfolio/model.js';
import { DEFAULT_COST_PER_KWH, toAllocatable } from '../../src/roles/aggregator/portfolio/allocatable.js';
import { classFromAsset } from '../../src/roles/aggregator/runtime/downstream.js';
import { SETPOINT_CLASSES } from '../../src/roles/aggregator/runtime/fleet.js';
import { DeviceSite } from '../../src/roles/device/site.js';

const T = epochMillis(Date.UTC(2026, 6, 15, 3));

test('the registry is well formed: directions only for controllable classes, unique ECHONET Lite class codes', () => {
  assert.ok(DEVICE_KINDS.length >= 7);
  const codes = new Set<number>();
  for (const kind of DEVICE_KINDS) {
    const c: DeviceClassSpec = deviceClass(kind);
    assert.equal(c.controllable, c.directions.length > 0, `${kind}: controllable iff it has a direction`);
    for (const d of c.directions) assert.ok((DISPATCH_DIRECTIONS as readonly string[]).includes(d), `${kind}: ${d}`);
    assert.ok(c.telemetry.includes('power') && c.telemetry.includes('status'), `${kind} reports power and status`);
    assert.equal(c.storage, c.telemetry.includes('soc') && c.telemetry.includes('stored'), `${kind}: storage iff it reports SoC and stored energy`);
    for (const ref of c.echonet ?? []) {
      assert.ok(!codes.has(ref.classCode), `class code 0x${ref.classCode.toString(16)} listed twice`);
      codes.add(ref.classCode);
      for (const d of ref.directions ?? []) assert.ok(canDispatch(kind, d), `${kind}: a variant cannot do more than its kind`);
    }
  }
  assert.deepEqual(ECHONET_DEVICE_KINDS, DEVICE_KINDS.filter((k) => 'echonet' in DEVICE_CLASS_REGISTRY[k]));
});

test('protocol: the ECHONET Lite stack models every class code the registry names', () => {
  for (const kind of ECHONET_DEVICE_KINDS) {
    for (const ref of DEVICE_CLASS_REGISTRY[kind].echonet) {
      const def = classDefinition(ref.classCode as never);
      assert.ok(def, `${kind}: no ECHONET Lite class definition for 0x${ref.classCode.toString(16).padStart(4, '0')}`);
      assert.equal(kindOfEchonetClass(ref.classCode), kind);
    }
  }
  assert.deepEqual([...directionsOfEchonetClass(0x02a1)], ['increase'], 'a charge-only EV charger cannot reduce');
  assert.deepEqual([...directionsOfEchonetClass(0x027e)], ['reduce', 'increase']);
  assert.deepEqual([...directionsOfEchonetClass(0x0ef0)], [], 'the node profile is not a device class');
});

test('gateway: every ECHONET class is known, mapped both ways, has a default policy and accepts a per-class override', () => {
  assert.deepEqual([...DEVICE_CLASSES], ECHONET_DEVICE_KINDS);
  for (const kind of ECHONET_DEVICE_KINDS) {
    assert.equal(ECHONET_CLASS_CODE[kind], echonetClassCodeOf(kind));
    for (const ref of DEVICE_CLASS_REGISTRY[kind].echonet) assert.equal(deviceClassOfEchonet(ref.classCode), kind);
    assert.ok(DEFAULT_CLASS_POLICY[kind], `${kind}: no default safety policy`);
    const parsed = sitePolicySchema.parse({ classes: { [kind]: { maxCommandsPerMinute: 2 } } });
    assert.equal(parsed.classes[kind]?.maxCommandsPerMinute, 2);
  }
});

/** A command of `action` for `kind` with the field its action needs. */
function commandFor(kind: EchonetDeviceKind, action: DeviceCommand['action']): DeviceCommand {
  return { deviceId: 'd', class: kind, action, powerW: watts(1000), percent: 50, temperatureC: 27 };
}

test('gateway: every action of a controllable class maps to ECHONET Lite properties; a class that is not controllable has none', () => {
  for (const kind of ECHONET_DEVICE_KINDS) {
    const actions = ACTIONS_BY_CLASS[kind];
    assert.equal(actions.length > 0, deviceClass(kind).controllable, `${kind}: actions iff controllable`);
    const def = classDefinition(echonetClassCodeOf(kind) as never)!;
    for (const action of actions) {
      const props = propertiesFor(def, kind, commandFor(kind, action), { temperatureC: 26, mode: 'automatic', percent: 100 });
      assert.ok(props.length > 0, `${kind}/${action}: no ECHONET Lite property`);
    }
  }
});

/**
 * A full reading of `kind`: every field a class may report. The cumulative energy comes from a
 * meter only (echonet-site.ts reads 0xE0/0xE3 from the meter class alone); SoC and capacity from
 * storage. Whatever else the class reports must have been announced.
 */
function readingOf(kind: EchonetDeviceKind): DeviceReading {
  const storage = deviceClass(kind).storage;
  return {
    deviceId: 'd', class: kind, at: T, online: true, powerW: watts(500),
    ...(kind === 'meter' ? { energyWh: wattHours(12_000) } : {}),
    ...(storage ? { socPercent: 60, capacityWh: wattHours(10_000) } : {}),
    mode: 'auto', temperatureC: 26, airconMode: 'cooling', pvLimitPercent: 100,
    ratedChargeW: watts(3000), ratedDischargeW: watts(3000), ratedOutputW: watts(4000), pluggedIn: true,
  };
}

test('gateway: translation acts on a shed exactly for the classes that can reduce, and on a raise for those that can increase', () => {
  const shed = [{ name: 'SIMPLE', type: 'level', value: 3 }];
  const raise = [{ name: 'LOAD_CONTROL', type: 'x-loadControlLevelOffset', value: 3 }]; // +3 levels = full raise
  for (const kind of ECHONET_DEVICE_KINDS) {
    const profile = { deviceId: 'd', class: kind, ratedChargeW: 3000, ratedDischargeW: 3000, canDischarge: true };
    const ctx = { reading: readingOf(kind), normal: { temperatureC: 26 } };
    const s = translateSignals(shed, profile, ctx);
    assert.ok(s.ok, `${kind}: shed refused: ${s.ok ? '' : s.reason}`);
    assert.equal(s.command !== undefined && s.command.action !== 'auto', canDispatch(kind, 'reduce'), `${kind}: a shed commands it iff it can reduce`);
    const r = translateSignals(raise, profile, ctx);
    assert.ok(r.ok, `${kind}: raise refused: ${r.ok ? '' : r.reason}`);
    if (canDispatch(kind, 'increase')) assert.ok(r.command && r.command.action !== 'auto', `${kind}: a raise commands it`);
  }
});

test('gateway: the data points announced per class are the registry telemetry, and the reports stay within them', () => {
  for (const kind of ECHONET_DEVICE_KINDS) {
    const described = describeDataPoints([{ deviceId: 'd', class: kind }]).map((p) => p.rID);
    assert.deepEqual(new Set(described), new Set(deviceClass(kind).telemetry.map((t) => `d/${t}`)), kind);
    const reported = [...readingToUsage(readingOf(kind)), ...readingToStatus(readingOf(kind))].map((p) => p.rID);
    for (const rID of reported) assert.ok(described.includes(rID), `${kind}: reports ${rID} it never described`);
  }
});

/** A portfolio row of `kind` with ratings in both directions. */
function resourceOf(kind: Resource['class']): Resource {
  return {
    id: `r-${kind}`, siteId: 's', gatewayId: 'g', poolId: 'p', class: kind, name: kind,
    capacityW: watts(3000), capacityWh: deviceClass(kind).storage ? wattHours(10_000) : null,
    maxChargeW: null, maxDischargeW: null, maxReduceW: watts(2000), maxIncreaseW: watts(2000), constraints: {},
    echonetClass: null, makerCode: null, productCode: null, serialNumber: null, firmwareVersion: null, standardVersion: null,
    installationLocation: null, admission: 'admitted', admissionRevision: 2, present: true, source: 'import', createdAt: T, updatedAt: T,
  };
}

test('aggregator: the portfolio accepts every class, limits it to its directions and maps it to an allocation class and a cost', () => {
  assert.deepEqual([...RESOURCE_CLASSES], DEVICE_KINDS);
  for (const kind of DEVICE_KINDS) {
    const c = deviceClass(kind);
    const parsed = resourceSchema.safeParse({ id: `r-${kind}`, siteId: 's', class: kind, ...(c.controllable ? { capacityW: 3000 } : {}) });
    assert.ok(parsed.success, `${kind}: refused by the import schema: ${parsed.success ? '' : parsed.error.message}`);
    const limits = defaultLimits(parsed.data);
    for (const d of DISPATCH_DIRECTIONS) {
      const v = d === 'reduce' ? limits.maxReduceW : limits.maxIncreaseW;
      assert.equal(v !== 0 && v !== null, canDispatch(kind, d), `${kind}: default ${d} limit ${v}`);
    }
    assert.equal(DEFAULT_COST_PER_KWH[kind], c.defaultCostPerKWh);
    const live = c.storage ? { socWh: 5000 as WattHours } : {};
    const a = toAllocatable(resourceOf(kind), live);
    assert.equal(a !== undefined, c.controllable, `${kind}: dispatchable iff controllable`);
    if (a) assert.equal(a.resourceClass, c.allocationClass);
    assert.equal(SETPOINT_CLASSES.has(c.allocationClass), c.setpoint, `${kind}: steered by set point`);
  }
  for (const kind of ECHONET_DEVICE_KINDS) {
    assert.equal(classFromAsset(`urn:erab:asset:${echonetClassCodeOf(kind).toString(16).toUpperCase().padStart(4, '0')}01;class=${kind}`), deviceClass(kind).allocationClass);
  }
});

test('device simulators: a site can play every ECHONET class, each as an object of its class code', async () => {
  const site = await DeviceSite.start(
    { address: '127.0.0.1', port: 0, startTime: T, battery: {}, pv: {}, ev: {}, waterHeater: {}, aircon: {}, lighting: {}, fuelCell: {}, pcs: {}, meter: {} },
    { realtime: false },
  );
  try {
    const played = site.devices();
    assert.deepEqual(new Set(played.map((d) => d.kind)), new Set(ECHONET_DEVICE_KINDS), 'a registry class has no simulator');
    for (const d of played) assert.equal(d.object.eoj >> 8, echonetClassCodeOf(d.kind), `${d.kind}: EOJ ${d.object.eoj.toString(16)}`);
  } finally {
    await site.close();
  }
});
