/**
 * Several VTN engines ("workers") over one store, as `erab openadr vtn --workers N` or several
 * hosts behind a load balancer run them (docs/scale.md): a VEN may hit any of them on any poll.
 * Each engine opens its own store connection (PostgreSQL: its own pool and LISTEN connection),
 * so what one engine knows reaches the others only through the database and its wake hints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import type { NewEvent } from '../../../src/protocols/openadr/vtn.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { Vtn, type VtnOptions } from '../../../src/protocols/openadr/vtn.js';
import { Ven, MemoryVenOutbox, type VenEventInfo } from '../../../src/protocols/openadr/ven.js';
import type { OadrPeer, OadrTransport } from '../../../src/protocols/openadr/http.js';
import { decodePayload, encodePayload } from '../../../src/protocols/openadr/payload.js';
import type { ServiceName } from '../../../src/protocols/openadr/register-party.js';
import { openadrStoreMigrations, StoreVtnStore } from '../../../src/endpoints/openadr/store.js';
import { describeEachEngine, type StoreLocationHandle } from '../../store/harness.js';
import { waiter } from '../../kit/index.js';

const HOUR = 3_600_000;

async function worker(loc: StoreLocationHandle, clock: ManualClock, extra: Partial<VtnOptions> = {}): Promise<Vtn> {
  const store = await loc.open(openadrStoreMigrations);
  const vtn = new Vtn({ vtnID: 'AGG1-vtn', store: new StoreVtnStore(store, 'AGG1-vtn'), clock, audit: new MemoryAuditSink(), wake: store.wake, vtnReports: false, ...extra });
  await vtn.start();
  return vtn;
}

const peerOf = (id: string): OadrPeer => ({ fingerprint: `FP:${id}`, id, role: 'gateway' });

/** A VEN whose every request goes to the next worker in turn (a round-robin load balancer). */
function gateway(workers: Vtn[], id: string, clock: ManualClock, seen: VenEventInfo[]): Ven {
  const peer = peerOf(id);
  let turn = 0;
  const transport: OadrTransport = {
    post: (service: ServiceName, xml: string) => (workers[turn++ % workers.length] as Vtn).handle(service, Buffer.from(xml), peer),
    close() {},
  };
  return new Ven({ venName: id, transport, clock, audit: new MemoryAuditSink(), outbox: new MemoryVenOutbox(), random: () => 0.5, onEvent: (info) => { seen.push(info); return 'optIn'; } });
}

/** One raw oadrPoll of `venID` on `vtn`; the answer's payload type. */
async function rawPoll(vtn: Vtn, venID: string): Promise<string> {
  const reply = await vtn.handle('OadrPoll', Buffer.from(encodePayload({ type: 'oadrPoll', venID })), peerOf(venID));
  return decodePayload(reply).message.type;
}

const until = waiter({ timeoutMs: 10_000, intervalMs: 20 });

const event = (clock: ManualClock, venIDs?: string[]): NewEvent => ({
  marketContext: 'http://agg1/mc', activePeriod: { dtstart: (clock.now() + HOUR) as EpochMillis, duration: HOUR as Millis },
  signals: [{ signalName: 'SIMPLE', signalType: 'level', signalID: 's', intervals: [{ uid: '0', duration: HOUR as Millis, value: 1 }] }],
  ...(venIDs ? { venIDs } : {}),
});

describeEachEngine('VTN workers sharing one store', (fx) => {
  test('a VEN registered through one worker is served by the others; an event created on one reaches it through another', async () => {
    const loc = await fx.location();
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 8, 0));
    const [a, b, c] = [await worker(loc, clock), await worker(loc, clock), await worker(loc, clock)];
    const seen: VenEventInfo[] = [];
    const ven = gateway([a, b], 'GW1', clock, seen);
    await ven.register();
    // c never saw the registration itself: it learns it from the store (hint or lookup by certificate).
    await until('c to know GW1', async () => (await c.handle('OadrPoll', Buffer.from(encodePayload({ type: 'oadrPoll', venID: 'GW1' })), peerOf('GW1'))).includes('oadrResponse'));
    await c.createEvent(event(clock));
    // Fan-out to "every registered VEN" was computed by c from the store.
    await until('the event at GW1', async () => {
      await ven.runOnce();
      return seen.length > 0;
    });
    assert.equal(seen.length, 1);
    // A modification on b reaches it through a or b, once.
    await b.modifyEvent(seen[0]?.event.descriptor.eventID as string, { vtnComment: 'changed' });
    await until('the modification at GW1', async () => {
      await ven.runOnce();
      return seen.length > 1;
    });
    for (let i = 0; i < 4; i++) await ven.runOnce();
    assert.deepEqual(seen.map((s) => s.event.descriptor.modificationNumber), [0, 1]);
    for (const w of [a, b, c]) await w.stop();
  });

  test('two workers answering polls of one VEN at the same time deliver each queued payload exactly once', async () => {
    const loc = await fx.location();
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 8, 0));
    const [a, b] = [await worker(loc, clock), await worker(loc, clock)];
    await gateway([a], 'GW2', clock, []).register();
    const n = 40;
    for (let i = 0; i < n; i++) await (i % 2 ? a : b).requestReregistration('GW2');
    const got: string[] = [];
    // Both workers poll in parallel until neither has anything left.
    const drain = async (w: Vtn) => {
      for (let empty = 0; empty < 3;) {
        const type = await rawPoll(w, 'GW2');
        if (type === 'oadrResponse') empty++;
        else got.push(type);
      }
    };
    await Promise.all([drain(a), drain(b), drain(a), drain(b)]);
    assert.equal(got.filter((t) => t === 'oadrRequestReregistration').length, n, `delivered ${got.length} of ${n}`);
    assert.equal(await a.pendingCount('GW2'), 0);
    for (const w of [a, b]) await w.stop();
  });

  test("an answer a worker took but never sent (it died) is delivered by another worker once its lease ends", async () => {
    const loc = await fx.location();
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 8, 0));
    const dying = await worker(loc, clock, { confirm: 'sent', leaseMs: 5_000 });
    const other = await worker(loc, clock, { resyncMs: 50 });
    await gateway([other], 'GW3', clock, []).register();
    assert.equal(await rawPoll(other, 'GW3'), 'oadrResponse');
    await other.createEvent(event(clock, ['GW3']));
    // The dying worker takes the distribute and never flushes it (no sent()).
    await until('the dying worker to take the event', async () => (await rawPoll(dying, 'GW3')) === 'oadrDistributeEvent');
    await dying.stop();
    // Within the lease nobody else hands it out...
    assert.equal(await rawPoll(other, 'GW3'), 'oadrResponse');
    // ...after it, the other worker does (found by its periodic re-read of the queue).
    clock.advance(5_001);
    await until('redelivery after the lease', async () => (await rawPoll(other, 'GW3')) === 'oadrDistributeEvent');
    assert.equal(await rawPoll(other, 'GW3'), 'oadrResponse');
    await other.stop();
  });

  test('with confirm "sent", an answer flushed to the socket leaves the queue; a second poll on that connection gets the next one', async () => {
    const loc = await fx.location();
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 8, 0));
    const a = await worker(loc, clock, { confirm: 'sent' });
    await gateway([a], 'GW4', clock, []).register();
    await a.requestReregistration('GW4');
    await a.requestReregistration('GW4');
    const peer = peerOf('GW4');
    const poll = async () => decodePayload(await a.handle('OadrPoll', Buffer.from(encodePayload({ type: 'oadrPoll', venID: 'GW4' })), peer)).message.type;
    assert.equal(await poll(), 'oadrRequestReregistration');
    assert.equal(await a.pendingCount('GW4'), 2, 'taken, not yet flushed');
    await a.sent(peer);
    assert.equal(await a.pendingCount('GW4'), 1);
    // The next request on the same connection proves the previous answer was read.
    assert.equal(await poll(), 'oadrRequestReregistration');
    assert.equal(await poll(), 'oadrResponse');
    assert.equal(await a.pendingCount('GW4'), 0);
    await a.stop();
  });

  test('a report resent with the same eiReportID (its answer was lost) is stored once and counted once, whichever worker gets the resend', async () => {
    const loc = await fx.location();
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 8, 0));
    const counted: string[] = [];
    const [a, b] = [await worker(loc, clock, { hooks: { onReport: (_v, r) => counted.push(r.eiReportID ?? '') } }), await worker(loc, clock, { hooks: { onReport: (_v, r) => counted.push(r.eiReportID ?? '') } })];
    await gateway([a], 'GW5', clock, []).register();
    await a.requestReport('GW5', { reportRequestID: 'rr-1', reportSpecifier: { reportSpecifierID: 'usage', granularity: 60_000 as Millis, reportBackDuration: 60_000 as Millis, specifierPayloads: [{ rID: 'p', readingType: 'Direct Read' }] } });
    const update = (eiReportID: string) => Buffer.from(encodePayload({ type: 'oadrUpdateReport', requestID: `q-${eiReportID}`, venID: 'GW5', reports: [{
      eiReportID, reportRequestID: 'rr-1', reportSpecifierID: 'usage', reportName: 'TELEMETRY_USAGE', createdDateTime: clock.now() as EpochMillis,
      intervals: [{ dtstart: clock.now() as EpochMillis, duration: 60_000 as Millis, uid: '0', payloads: [{ rID: 'p', value: 1 }] }],
    }] }));
    const code = async (w: Vtn, id: string) => {
      const m = decodePayload(await w.handle('EiReport', update(id), peerOf('GW5'))).message;
      return 'eiResponse' in m && m.eiResponse ? m.eiResponse.responseCode : 0;
    };
    assert.equal(await code(a, 'rep-1'), 200);
    assert.equal(await code(b, 'rep-1'), 200, 'the resend is acknowledged');
    assert.equal(await code(a, 'rep-1'), 200);
    // Two copies in one group commit, too.
    const [x, y] = await Promise.all([code(b, 'rep-2'), code(b, 'rep-2')]);
    assert.deepEqual([x, y], [200, 200]);
    const stored = await new StoreVtnStore(await loc.open(openadrStoreMigrations), 'AGG1-vtn').listReports('GW5');
    assert.deepEqual(stored.map((r) => r.eiReportID), ['rep-1', 'rep-2']);
    assert.deepEqual(counted.sort(), ['rep-1', 'rep-2']);
    for (const w of [a, b]) await w.stop();
  });
});
