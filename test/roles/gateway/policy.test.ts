import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { epochMillis, watts, type EpochMillis } from '../../../src/core/units.js';
import {
  FailSafe, SafetyPolicy, jstMinuteOfDay, planRamp, sitePolicySchema, withinHours,
} from '../../../src/roles/gateway/policy.js';
import type { DeviceCommand, DeviceReading } from '../../../src/roles/gateway/types.js';

// 2026-01-01T00:00Z = 09:00 JST.
const T0 = Date.UTC(2026, 0, 1);

function battery(clock: ManualClock, over: Partial<DeviceReading> = {}): DeviceReading {
  return { deviceId: 'bat1', class: 'battery', at: clock.now(), online: true, powerW: watts(0), socPercent: 60, ...over };
}
const discharge = (w: number): DeviceCommand => ({ deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: watts(w) });
const charge = (w: number): DeviceCommand => ({ deviceId: 'bat1', class: 'battery', action: 'charge', powerW: watts(w) });

test('an empty policy parses to safe defaults', () => {
  const p = sitePolicySchema.parse({});
  assert.equal(p.siteMaxCommandsPerMinute, 30);
  assert.equal(p.failSafe.aggregatorTimeoutMs, 600_000);
  const policy = new SafetyPolicy(p, new ManualClock(T0));
  const l = policy.limitsFor('bat1', 'battery');
  assert.equal(l.socFloorPercent, 30);
  assert.equal(l.maxDischargeW, 3000);
  assert.equal(l.outOfRange, 'refuse');
});

test('the policy schema refuses unknown keys and bad hours, naming the field', () => {
  const r = sitePolicySchema.safeParse({ classes: { battery: { socFloor: 10 } } });
  assert.equal(r.success, false);
  const h = sitePolicySchema.safeParse({ classes: { battery: { allowedHours: [{ from: '25:00', to: '06:00' }] } } });
  assert.equal(h.success, false);
  assert.deepEqual(h.error!.issues[0]!.path, ['classes', 'battery', 'allowedHours', 0, 'from']);
});

test('per-device overrides win over class overrides over defaults', () => {
  const policy = new SafetyPolicy(sitePolicySchema.parse({
    classes: { battery: { socFloorPercent: 40, maxDischargeW: 5000 } },
    devices: { bat2: { socFloorPercent: 20 } },
  }), new ManualClock(T0));
  assert.equal(policy.limitsFor('bat1', 'battery').socFloorPercent, 40);
  assert.equal(policy.limitsFor('bat2', 'battery').socFloorPercent, 20);
  assert.equal(policy.limitsFor('bat2', 'battery').maxDischargeW, 5000);
});

test('a discharge within limits is allowed as one step', () => {
  const clock = new ManualClock(T0);
  const policy = new SafetyPolicy(sitePolicySchema.parse({}), clock);
  const d = policy.decide(discharge(800), battery(clock));
  assert.equal(d.verdict, 'allow');
  assert.deepEqual(d.reasons, []);
  assert.equal(d.steps.length, 1);
  assert.deepEqual(d.steps[0]!.command, discharge(800));
});

test('power beyond the class limit is refused, or clamped when the class says clamp', () => {
  const clock = new ManualClock(T0);
  const refusing = new SafetyPolicy(sitePolicySchema.parse({}), clock);
  const r = refusing.decide(discharge(30_000), battery(clock));
  assert.equal(r.verdict, 'refuse');
  assert.equal(r.reasons[0]!.rule, 'max-discharge-power');
  assert.match(r.reasons[0]!.message, /30000 W exceeds the limit 3000 W/);
  assert.deepEqual(r.steps, []);

  const clamping = new SafetyPolicy(sitePolicySchema.parse({ classes: { battery: { outOfRange: 'clamp', rampWPerSecond: 100_000 } } }), clock);
  const c = clamping.decide(charge(9000), battery(clock));
  assert.equal(c.verdict, 'clamp');
  assert.equal(c.command.powerW, 3000);
  assert.equal(c.reasons[0]!.rule, 'max-charge-power');
});

test('the backup reserve: no discharge at or below the SoC floor, no charge at the ceiling, none when SoC is unknown', () => {
  const clock = new ManualClock(T0);
  const policy = new SafetyPolicy(sitePolicySchema.parse({}), clock);
  const low = policy.decide(discharge(1000), battery(clock, { socPercent: 30 }));
  assert.equal(low.verdict, 'refuse');
  assert.equal(low.reasons[0]!.rule, 'soc-floor');
  const full = policy.decide(charge(1000), battery(clock, { socPercent: 96 }));
  assert.equal(full.reasons[0]!.rule, 'soc-ceiling');
  const unknown = policy.decide(discharge(1000), battery(clock, { socPercent: undefined }));
  assert.equal(unknown.reasons[0]!.rule, 'soc-unknown');
  // Charging at the floor and discharging at the ceiling are fine.
  assert.equal(policy.decide(charge(1000), battery(clock, { socPercent: 30 })).verdict, 'allow');
});

test('watch stops a running discharge when the state of charge reaches the floor', () => {
  const clock = new ManualClock(T0);
  const policy = new SafetyPolicy(sitePolicySchema.parse({}), clock);
  assert.equal(policy.watch(discharge(2000), battery(clock, { socPercent: 31 })), undefined);
  const w = policy.watch(discharge(2000), battery(clock, { socPercent: 30 }));
  assert.equal(w?.command.action, 'standby');
  assert.equal(w?.reason.rule, 'soc-floor');
  const ev = policy.watch({ deviceId: 'ev1', class: 'ev', action: 'ev_charge', powerW: watts(3000) }, { deviceId: 'ev1', class: 'ev', at: clock.now(), online: true, socPercent: 90 });
  assert.equal(ev?.command.action, 'ev_stop');
  assert.equal(ev?.reason.rule, 'soc-ceiling');
});

test('allowed hours are in JST and may wrap midnight; auto is never blocked by hours', () => {
  assert.equal(jstMinuteOfDay(T0), 9 * 60);
  const night = [{ from: '22:00', to: '06:00' }];
  assert.equal(withinHours(night, Date.UTC(2026, 0, 1, 14, 0)), true); // 23:00 JST
  assert.equal(withinHours(night, Date.UTC(2026, 0, 1, 20, 59)), true); // 05:59 JST
  assert.equal(withinHours(night, Date.UTC(2026, 0, 1, 21, 0)), false); // 06:00 JST
  assert.equal(withinHours([{ from: '00:00', to: '24:00' }], T0), true);
  assert.equal(withinHours([], T0), false);

  const clock = new ManualClock(T0); // 09:00 JST
  const policy = new SafetyPolicy(sitePolicySchema.parse({ classes: { battery: { allowedHours: [{ from: '13:00', to: '17:00' }] } } }), clock);
  const d = policy.decide(discharge(500), battery(clock));
  assert.equal(d.verdict, 'refuse');
  assert.equal(d.reasons[0]!.rule, 'allowed-hours');
  assert.match(d.reasons[0]!.message, /13:00-17:00 JST/);
  assert.equal(policy.decide({ deviceId: 'bat1', class: 'battery', action: 'auto' }, battery(clock)).verdict, 'allow');
  clock.advance(4 * 3_600_000); // 13:00 JST
  assert.equal(policy.decide(discharge(500), battery(clock)).verdict, 'allow');
});

test('commands per minute are limited per device and per site, in a sliding window', () => {
  const clock = new ManualClock(T0);
  const policy = new SafetyPolicy(sitePolicySchema.parse({ siteMaxCommandsPerMinute: 4, classes: { battery: { maxCommandsPerMinute: 3 } } }), clock);
  for (let i = 0; i < 3; i++) {
    assert.equal(policy.decide(discharge(100 + i), battery(clock)).verdict, 'allow');
    clock.advance(10_000);
  }
  const fourth = policy.decide(discharge(200), battery(clock));
  assert.equal(fourth.reasons[0]!.rule, 'rate-limit');
  // Another device still has room, until the site limit.
  const other = (w: number): DeviceCommand => ({ deviceId: 'bat2', class: 'battery', action: 'discharge', powerW: watts(w) });
  assert.equal(policy.decide(other(100), { ...battery(clock), deviceId: 'bat2' }).verdict, 'allow');
  const site = policy.decide(other(110), { ...battery(clock), deviceId: 'bat2' });
  assert.equal(site.reasons[0]!.rule, 'site-rate-limit');
  // A refused command does not consume a slot; the window slides.
  clock.advance(30_001); // the first command (t=0) is now older than 60 s
  assert.equal(policy.decide(discharge(300), battery(clock)).verdict, 'allow');
});

test('a large power change is spread over ramp steps; auto ramps down before handing over', () => {
  assert.deepEqual(planRamp(0, 900, 1000, 1000), [{ afterMs: 0, netW: 900 }]);
  assert.deepEqual(planRamp(1000, -2000, 1000, 1000).map((s) => s.netW), [0, -1000, -2000]);

  const clock = new ManualClock(T0);
  const policy = new SafetyPolicy(sitePolicySchema.parse({ classes: { battery: { rampWPerSecond: 500, rampStepMs: 2000 } } }), clock);
  const d = policy.decide(discharge(3000), battery(clock, { powerW: watts(1000) }));
  assert.equal(d.verdict, 'clamp');
  assert.equal(d.reasons[0]!.rule, 'ramp-rate');
  assert.deepEqual(d.steps.map((s) => [s.afterMs, s.command.action, s.command.powerW]), [
    [0, 'standby', undefined], [2000, 'discharge', 1000], [4000, 'discharge', 2000], [6000, 'discharge', 3000],
  ]);
  const back = policy.decide({ deviceId: 'bat1', class: 'battery', action: 'auto' }, battery(clock, { powerW: watts(-3000) }));
  assert.deepEqual(back.steps.map((s) => s.command.action), ['discharge', 'discharge', 'standby', 'auto']);
  assert.equal(back.steps.at(-1)!.afterMs, 6000);
});

test('PV limits and air-conditioner set temperatures are range-checked', () => {
  const clock = new ManualClock(T0);
  const policy = new SafetyPolicy(sitePolicySchema.parse({ classes: { pv: { minPvLimitPercent: 20 } } }), clock);
  const pv = policy.decide({ deviceId: 'pv1', class: 'pv', action: 'pv_limit', percent: 10 });
  assert.equal(pv.reasons[0]!.rule, 'pv-limit-range');
  assert.equal(pv.verdict, 'refuse');
  const hot = policy.decide({ deviceId: 'ac1', class: 'aircon', action: 'aircon_setpoint', temperatureC: 35 });
  assert.equal(hot.verdict, 'refuse');
  assert.equal(hot.reasons[0]!.rule, 'setpoint-range');

  const clamp = new SafetyPolicy(sitePolicySchema.parse({ classes: { aircon: { outOfRange: 'clamp' } } }), clock);
  const c = clamp.decide({ deviceId: 'ac1', class: 'aircon', action: 'aircon_setpoint', temperatureC: 35 });
  assert.equal(c.verdict, 'clamp');
  assert.equal(c.command.temperatureC, 30);
});

test('an action foreign to the class and an offline device are refused', () => {
  const clock = new ManualClock(T0);
  const policy = new SafetyPolicy(sitePolicySchema.parse({}), clock);
  assert.equal(policy.decide({ deviceId: 'm', class: 'meter', action: 'standby' }).reasons[0]!.rule, 'class-action');
  assert.equal(policy.decide(discharge(100), battery(clock, { online: false })).reasons[0]!.rule, 'device-offline');
});

test('fail-safe: a known-end event runs to its end while unreachable, then reverts', () => {
  const clock = new ManualClock(T0);
  const fs = new FailSafe({ aggregatorTimeoutMs: 60_000, maxForcedWhileUnreachableMs: 3_600_000 }, clock);
  const ev = { start: epochMillis(T0), end: epochMillis(T0 + 30 * 60_000) };
  assert.deepEqual(fs.evaluate(ev), { action: 'continue' });
  clock.advance(5 * 60_000);
  assert.equal(fs.unreachable(), true);
  assert.deepEqual(fs.evaluate(ev), { action: 'continue' });
  clock.advance(25 * 60_000);
  assert.equal(fs.evaluate(ev).action, 'revert');
});

test('fail-safe: an open-ended event reverts once the aggregator is unreachable; a future event is held', () => {
  const clock = new ManualClock(T0);
  const fs = new FailSafe({ aggregatorTimeoutMs: 60_000, maxForcedWhileUnreachableMs: 3_600_000 }, clock);
  const open = { start: epochMillis(T0) };
  clock.advance(30_000);
  fs.contact();
  clock.advance(60_000);
  assert.deepEqual(fs.evaluate(open), { action: 'continue' });
  assert.equal(fs.deadline(open), T0 + 30_000 + 60_000);
  clock.advance(1);
  const v = fs.evaluate(open);
  assert.equal(v.action, 'revert');
  const future = { start: epochMillis(clock.now() + 60_000), end: epochMillis(clock.now() + 120_000) };
  assert.equal(fs.evaluate(future).action, 'hold');
  fs.contact();
  assert.equal(fs.evaluate(future).action, 'continue');
});

test('fail-safe: even a long event is bounded while unreachable', () => {
  const clock = new ManualClock(T0);
  const fs = new FailSafe({ aggregatorTimeoutMs: 60_000, maxForcedWhileUnreachableMs: 600_000 }, clock);
  const long = { start: epochMillis(T0), end: epochMillis(T0 + 24 * 3_600_000) };
  assert.equal(fs.deadline(long), T0 + 660_000);
  clock.advance(599_999);
  assert.equal(fs.evaluate(long).action, 'continue');
  clock.advance(1);
  assert.equal(fs.evaluate(long).action, 'revert');
  // Reachable again: the event goes on to its end.
  fs.contact();
  assert.equal(fs.evaluate(long).action, 'continue');
  assert.equal(fs.deadline(long) as number, clock.now() + 660_000);
  const shortEv = { start: epochMillis(T0), end: epochMillis(clock.now() + 1000) as EpochMillis };
  assert.equal(fs.deadline(shortEv), shortEv.end);
});
