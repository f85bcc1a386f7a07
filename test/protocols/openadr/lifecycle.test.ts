/**
 * Event lifecycle rules (OpenADR 2.0b §8.1): status by time (far → near → active → completed,
 * cancelled at any time), randomised start within tolerance/startafter, signal value by interval,
 * and responseRequired=never producing no oadrCreatedEvent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import { eventStatusAt, randomizedStart, signalValueAt } from '../../../src/protocols/openadr/event-lifecycle.js';
import type { OadrEvent } from '../../../src/protocols/openadr/event.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { MemoryVtnStore } from '../../../src/protocols/openadr/vtn-store.js';
import { Ven } from '../../../src/protocols/openadr/ven.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import type { ServiceName } from '../../../src/protocols/openadr/register-party.js';

const T = Date.UTC(2026, 6, 1, 7, 0) as EpochMillis;
const min = (n: number): Millis => (n * 60_000) as Millis;
const ev = (over: Partial<OadrEvent['activePeriod']> = {}): OadrEvent => ({
  descriptor: { eventID: 'e', modificationNumber: 0, marketContext: 'm', createdDateTime: T, eventStatus: 'far' },
  activePeriod: { dtstart: T, duration: min(60), ...over },
  signals: [{ signalName: 'simple', signalType: 'level', signalID: 's', intervals: [{ duration: min(15), value: 1 }, { duration: min(45), value: 3 }] }],
  target: {},
  responseRequired: 'always',
});

test('status by time: far, near (notification or default window), active, completed; cancelled wins', () => {
  const e = ev();
  assert.equal(eventStatusAt(e, T - min(60), false, min(15)), 'far');
  assert.equal(eventStatusAt(e, T - min(10), false, min(15)), 'near');
  assert.equal(eventStatusAt(e, T, false, min(15)), 'active');
  assert.equal(eventStatusAt(e, T + min(59), false, min(15)), 'active');
  assert.equal(eventStatusAt(e, T + min(60), false, min(15)), 'completed');
  assert.equal(eventStatusAt(e, T + min(30), true, min(15)), 'cancelled');
  const notified = ev({ notification: min(120) });
  assert.equal(eventStatusAt(notified, T - min(90), false, min(15)), 'near');
  const open = ev({ duration: 0 as Millis });
  assert.equal(eventStatusAt(open, T + 86_400_000, false, min(15)), 'active');
});

test('randomised start stays within startafter and signal values follow the intervals', () => {
  assert.equal(randomizedStart(ev(), () => 0.99), T);
  const r = ev({ startAfter: min(10) });
  assert.equal(randomizedStart(r, () => 0), T);
  assert.equal(randomizedStart(r, () => 0.5), T + min(5));
  assert.ok(randomizedStart(r, () => 0.999999) < T + min(10));
  assert.equal(signalValueAt(r, T - 1), undefined);
  assert.equal(signalValueAt(r, T + min(5)), 1);
  assert.equal(signalValueAt(r, T + min(20)), 3);
  assert.equal(signalValueAt(r, T + min(60)), undefined);
});

test('the VTN reports the status current at delivery, and responseRequired=never gets no oadrCreatedEvent', async () => {
  const clock = new ManualClock(T - min(60));
  const vtn = new Vtn({ vtnID: 'V', store: new MemoryVtnStore(), clock, vtnReports: false });
  await vtn.start();
  const sent: string[] = [];
  const ven = new Ven({
    venName: 'v', clock,
    transport: { post: async (service: ServiceName, xml: string) => { sent.push(decodePayload(xml).message.type); return vtn.handle(service, Buffer.from(xml), { fingerprint: 'F', id: 'v' }); }, close() {} },
  });
  await ven.register();
  await vtn.createEvent({ eventID: 'quiet', marketContext: 'm', activePeriod: { dtstart: T, duration: min(60) }, signals: ev().signals, responseRequired: 'never' });
  await ven.runOnce();
  assert.equal(ven.events()[0]?.event.descriptor.eventStatus, 'far');
  assert.ok(!sent.includes('oadrCreatedEvent'));
  clock.advance(min(55));
  assert.equal(vtn.event('quiet')?.descriptor.eventStatus, 'near');
  clock.advance(min(10));
  assert.equal(vtn.event('quiet')?.descriptor.eventStatus, 'active');
  await ven.requestEvents();
  assert.equal(ven.events()[0]?.event.descriptor.eventStatus, 'active');
  clock.advance(min(60));
  assert.equal(vtn.event('quiet')?.descriptor.eventStatus, 'completed');
  // a completed event is no longer listed: the VEN drops it
  await ven.requestEvents();
  assert.equal(ven.events().length, 0);
  assert.ok(!sent.includes('oadrCreatedEvent'));
  ven.stop();
});
