/**
 * The aggregator's downstream OpenADR edge (src/roles/aggregator/runtime/oadr-adapter.ts): a
 * GatewayInstruction from the dispatch engine → the oadrEvent a gateway receives. Field by field
 * (intervals, signals, targets, priority, ramp-up, modification number, status, cancellation),
 * then through the real codec (oadrDistributeEvent encoded and decoded) and the gateway's own
 * OpenADR edge, so the two roles' adapters are shown to agree on the form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochMillis, millis } from '../../../src/core/units.js';
import { decodePayload, encodePayload } from '../../../src/protocols/openadr/payload.js';
import type { GatewayInstruction } from '../../../src/roles/aggregator/runtime/dispatch-types.js';
import { admissionEventOf, oadrEventOf } from '../../../src/roles/aggregator/runtime/oadr-adapter.js';
import { ADMISSION_SIGNAL_NAME } from '../../../src/roles/gateway/admission.js';
import { gatewayEventOf } from '../../../src/roles/gateway/oadr-adapter.js';

const T0 = Date.UTC(2026, 10, 24, 5, 0);
const MIN = 60_000;
const POWER_W = { kind: 'powerReal', itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'none', powerAttributes: { hertz: 50, voltage: 100, ac: true } };

/** A two-interval reduction (15 + 30 min) for gateway gw1, issued 5 minutes before its start. */
function instruction(o: Partial<GatewayInstruction> = {}): GatewayInstruction {
  return {
    aggregatorId: 'AGG1', venId: 'gw1', eventId: 'AGG1.tso_E1', modification: 3, issuedAt: epochMillis(T0 - 5 * MIN),
    start: epochMillis(T0), end: epochMillis(T0 + 45 * MIN),
    intervals: [{ start: epochMillis(T0), end: epochMillis(T0 + 15 * MIN) }, { start: epochMillis(T0 + 15 * MIN), end: epochMillis(T0 + 45 * MIN) }],
    rampUpMs: millis(60_000), origin: 'tso', testEvent: false, cancelled: false,
    orders: [
      { kind: 'setpoint', resourceId: 'b1', setpointW: [-3000, -2500] },
      { kind: 'setpoint', resourceId: 'b2', setpointW: [-1200, 400] },
      { kind: 'release', resourceId: 'b3' },
    ],
    ...o,
  };
}

test('oadr-adapter: set point orders become one LOAD_DISPATCH/setpoint signal per resource, targeted at it, one interval per schedule interval', () => {
  const e = oadrEventOf(instruction());
  assert.deepEqual(e.signals.slice(0, 2), [
    {
      signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: 'b1', target: { resourceID: ['b1'] }, itemBase: POWER_W,
      intervals: [{ duration: 15 * MIN, uid: '0', value: -3000 }, { duration: 30 * MIN, uid: '1', value: -2500 }],
    },
    {
      signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: 'b2', target: { resourceID: ['b2'] }, itemBase: POWER_W,
      intervals: [{ duration: 15 * MIN, uid: '0', value: -1200 }, { duration: 30 * MIN, uid: '1', value: 400 }],
    },
  ]);
  // The event as a whole is targeted at the gateway, answered always, and spans the schedule.
  assert.deepEqual(e.target, { venID: ['gw1'] });
  assert.equal(e.responseRequired, 'always');
  assert.deepEqual(e.activePeriod, { dtstart: T0, duration: 45 * MIN, rampUp: 60_000 });
});

test('oadr-adapter: a release order is a SIMPLE/level 0 signal ("normal operation") over every interval, targeted at the resource', () => {
  const e = oadrEventOf(instruction());
  assert.deepEqual(e.signals[2], {
    signalName: 'SIMPLE', signalType: 'level', signalID: 'b3/release', target: { resourceID: ['b3'] },
    intervals: [{ duration: 15 * MIN, uid: '0', value: 0 }, { duration: 30 * MIN, uid: '1', value: 0 }],
  });
  assert.equal(e.signals.length, 3);
});

test('oadr-adapter: a delta order (resource aggregator below us) is one LOAD_DISPATCH/delta signal without a resource target', () => {
  const e = oadrEventOf(instruction({ venId: 'SUB1', orders: [{ kind: 'delta', resourceId: 'SUB1', deltaW: [-4000, -3500] }] }));
  assert.deepEqual(e.signals, [{
    signalName: 'LOAD_DISPATCH', signalType: 'delta', signalID: 'delta', itemBase: POWER_W,
    intervals: [{ duration: 15 * MIN, uid: '0', value: -4000 }, { duration: 30 * MIN, uid: '1', value: -3500 }],
  }]);
  assert.deepEqual(e.target, { venID: ['SUB1'] });
});

test('oadr-adapter: descriptor carries the downstream event id, modification number, our market context and the issue time', () => {
  const d = oadrEventOf(instruction()).descriptor;
  assert.equal(d.eventID, 'AGG1.tso_E1');
  assert.equal(d.modificationNumber, 3);
  assert.equal(d.marketContext, 'urn:erab:aggregator:AGG1');
  assert.equal(d.createdDateTime, T0 - 5 * MIN);
  assert.equal(d.testEvent, undefined);
  assert.ok(!('testEvent' in d), 'no testEvent element for a real event');
  assert.equal(oadrEventOf(instruction({ testEvent: true })).descriptor.testEvent, 'true');
  assert.equal(oadrEventOf(instruction({ modification: 0 })).descriptor.modificationNumber, 0);
});

test('oadr-adapter: the origin is sent as OpenADR priority (1 TSO, 2 retailer, 3 coordinator, 4 operator); an unknown origin sends none', () => {
  const priority = (origin: GatewayInstruction['origin']) => oadrEventOf(instruction({ origin })).descriptor;
  assert.equal(priority('tso').priority, 1);
  assert.equal(priority('retailer').priority, 2);
  assert.equal(priority('coordinator').priority, 3);
  assert.equal(priority('operator').priority, 4);
  assert.ok(!('priority' in priority(undefined)), 'no priority element: the lowest rank at the gateway');
});

test('oadr-adapter: ramp-up 0 sends no x-eiRampUp', () => {
  assert.deepEqual(oadrEventOf(instruction({ rampUpMs: millis(0) })).activePeriod, { dtstart: T0, duration: 45 * MIN });
});

test('oadr-adapter: eventStatus follows the issue time: far before the start, active inside, completed after', () => {
  const status = (at: number) => oadrEventOf(instruction({ issuedAt: epochMillis(at) })).descriptor.eventStatus;
  assert.equal(status(T0 - 1), 'far');
  assert.equal(status(T0), 'active');
  assert.equal(status(T0 + 45 * MIN - 1), 'active');
  assert.equal(status(T0 + 45 * MIN), 'completed');
});

test('oadr-adapter: a cancelled instruction is the same copy with eventStatus cancelled; without orders it carries one zero placeholder signal', () => {
  const live = oadrEventOf(instruction());
  const withdrawn = oadrEventOf(instruction({ cancelled: true }));
  assert.equal(withdrawn.descriptor.eventStatus, 'cancelled');
  assert.deepEqual({ ...withdrawn, descriptor: { ...withdrawn.descriptor, eventStatus: 'far' } }, live);
  // Cancelled whatever the phase (during the event too).
  assert.equal(oadrEventOf(instruction({ cancelled: true, issuedAt: epochMillis(T0 + MIN) })).descriptor.eventStatus, 'cancelled');
  // eiEventSignals needs at least one signal: a zero-valued placeholder over the whole event.
  const empty = oadrEventOf(instruction({ cancelled: true, orders: [] }));
  assert.deepEqual(empty.signals, [{ signalName: 'SIMPLE', signalType: 'level', signalID: 'cancelled', intervals: [{ duration: 45 * MIN, uid: '0', value: 0 }] }]);
  // A live copy is never padded: an instruction without orders is the engine's cue to cancel.
  assert.deepEqual(oadrEventOf(instruction({ orders: [] })).signals, []);
});

test('oadr-adapter: the event survives the real codec and reads as the instruction at the gateway\'s OpenADR edge', () => {
  const sent = oadrEventOf(instruction());
  const xml = encodePayload({ type: 'oadrDistributeEvent', requestID: 'r1', vtnID: 'AGG1-vtn', events: [sent] });
  const m = decodePayload(xml).message;
  assert.equal(m.type, 'oadrDistributeEvent');
  const got = m.type === 'oadrDistributeEvent' ? m.events[0]! : assert.fail('not an oadrDistributeEvent');
  assert.equal(got.descriptor.eventID, 'AGG1.tso_E1');
  assert.equal(got.descriptor.modificationNumber, 3);
  assert.equal(got.descriptor.priority, 1);
  assert.equal(got.descriptor.eventStatus, 'far');
  assert.equal(got.responseRequired, 'always');
  assert.deepEqual(got.target.venID, ['gw1']);
  const g = gatewayEventOf(got);
  assert.equal(g.rampUpMs, 60_000);
  assert.equal(g.start, T0);
  assert.equal(g.durationMs, 45 * MIN);
  assert.deepEqual(g.signals.map((s) => [s.name, s.type, s.target?.resourceID, s.unit?.units, s.intervals.map((iv) => [iv.startOffsetMs, iv.durationMs, iv.value])]), [
    ['LOAD_DISPATCH', 'setpoint', ['b1'], 'W', [[0, 15 * MIN, -3000], [15 * MIN, 30 * MIN, -2500]]],
    ['LOAD_DISPATCH', 'setpoint', ['b2'], 'W', [[0, 15 * MIN, -1200], [15 * MIN, 30 * MIN, 400]]],
    ['SIMPLE', 'level', ['b3'], undefined, [[0, 15 * MIN, 0], [15 * MIN, 30 * MIN, 0]]],
  ]);
});

test('oadr-adapter: an admission decision is one x-ERAB_DEVICE_ADMISSION/level signal on the device, value = the revision to admit or 0 to reject, for its gateway only', () => {
  const base = { aggregatorId: 'AGG1', venId: 'GW2', eventId: 'admission-1', deviceId: '027D01-ab12cd34ef', issuedAt: epochMillis(T0), validForMs: millis(60 * MIN) };
  const admit = admissionEventOf({ ...base, decision: { admit: 3 } });
  // The gateway recognises it by the name it imports from the shared module.
  assert.equal(admit.signals[0]?.signalName, ADMISSION_SIGNAL_NAME);
  assert.deepEqual(admit.signals.map((s) => [s.signalType, s.target?.resourceID, s.intervals.map((i) => i.value)]), [['level', ['027D01-ab12cd34ef'], [3]]]);
  assert.deepEqual([admit.eventID, admit.marketContext, admit.venIDs, admit.target, admit.responseRequired], ['admission-1', 'urn:erab:aggregator:AGG1', ['GW2'], { venID: ['GW2'] }, 'always']);
  assert.deepEqual(admit.activePeriod, { dtstart: T0, duration: 60 * MIN });
  const reject = admissionEventOf({ ...base, decision: 'reject' });
  assert.deepEqual(reject.signals.map((s) => [s.signalID, s.intervals.map((i) => i.value)]), [['reject', [0]]]);
  const quarantine = admissionEventOf({ ...base, decision: 'quarantine' });
  assert.deepEqual(quarantine.signals.map((s) => [s.signalID, s.intervals.map((i) => i.value)]), [['quarantine', [-1]]]);
  const release = admissionEventOf({ ...base, decision: { admit: 4 }, label: 'release' });
  assert.deepEqual(release.signals.map((s) => [s.signalID, s.intervals.map((i) => i.value)]), [['release', [4]]]);
});
