/**
 * VEN ↔ VTN flows with the real protocol engines joined in-process (no sockets: the transport
 * calls vtn.handle directly). The same flows over real mutual TLS and storage are in
 * test/endpoints/openadr/. Time is a ManualClock, so lifecycles and report periods are deterministic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { MemoryVtnStore } from '../../../src/protocols/openadr/vtn-store.js';
import { MemoryVenOutbox, Ven, type VenEventInfo, type VenOptions, type VenReportSource } from '../../../src/protocols/openadr/ven.js';
import type { OadrPeer, OadrTransport } from '../../../src/protocols/openadr/http.js';
import { decodePayload, encodePayload } from '../../../src/protocols/openadr/payload.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';
import type { ServiceName } from '../../../src/protocols/openadr/register-party.js';
import { OadrError, OadrResponseCode } from '../../../src/protocols/openadr/errors.js';

const min = (n: number): Millis => (n * 60_000) as Millis;

function link(vtn: Vtn, peer: OadrPeer): OadrTransport & { up: boolean; sent: string[]; payloads: string[] } {
  const t = {
    up: true,
    sent: [] as string[],
    payloads: [] as string[],
    async post(service: ServiceName, xml: string): Promise<string> {
      if (!t.up) throw new Error('connection refused');
      t.sent.push(decodePayload(xml).message.type);
      t.payloads.push(xml);
      return vtn.handle(service, Buffer.from(xml), peer);
    },
    close() {},
  };
  return t;
}

const telemetry = (watts: () => number): VenReportSource => ({
  reportSpecifierID: 'telemetry-usage',
  reportName: 'TELEMETRY_USAGE',
  descriptions: [{ rID: 'power', reportType: 'usage', readingType: 'Direct Read', itemBase: powerRealItem('k'), samplingRate: { minPeriod: min(1), maxPeriod: min(1), onChange: false } }],
  read: () => watts() / 1000,
});
const status: VenReportSource = {
  reportSpecifierID: 'telemetry-status',
  reportName: 'TELEMETRY_STATUS',
  descriptions: [{ rID: 'status', reportType: 'x-resourceStatus', readingType: 'x-notApplicable', samplingRate: { minPeriod: min(1), maxPeriod: min(1), onChange: false } }],
  read: () => ({ online: true, manualOverride: false, loadControlState: { setPoint: { current: 1.5 } } }),
};

async function setup(opts: { onEvent?: VenOptions['onEvent'] } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 15, 8, 0));
  const audit = new MemoryAuditSink();
  const store = new MemoryVtnStore();
  const reports: { venID: string; rIDs: string[] }[] = [];
  const vtn = new Vtn({ vtnID: 'TSO1', store, clock, audit, pollFreqMs: 10_000, hooks: { onReport: (venID, r) => reports.push({ venID, rIDs: r.intervals?.flatMap((i) => i.payloads.map((p) => p.rID)) ?? [] }) } });
  await vtn.start();
  const peer: OadrPeer = { fingerprint: 'AA:BB:CC:DD:EE:FF:00:11:22:33', id: 'AGG1', role: 'aggregator' };
  const transport = link(vtn, peer);
  const seen: VenEventInfo[] = [];
  const outbox = new MemoryVenOutbox();
  let w = 2500;
  const ven = new Ven({
    venName: 'agg-1', transport, clock, audit, outbox, random: () => 0.5,
    reports: [telemetry(() => w), status],
    onEvent: opts.onEvent ?? ((info) => { seen.push(info); return info.event.descriptor.eventID.startsWith('no-') ? 'optOut' : 'optIn'; }),
  });
  return { clock, audit, store, vtn, ven, peer, transport, seen, outbox, reports, setWatts: (x: number) => { w = x; } };
}

test('registration, report registration, event with randomisation, opt and periodic reports (pull)', async () => {
  const s = await setup();
  const reg = await s.ven.register();
  assert.equal(reg.venID, 'AGG1');
  assert.equal(reg.vtnID, 'TSO1');
  assert.equal(reg.pollFreqMs, 10_000);
  assert.deepEqual(s.transport.sent, ['oadrQueryRegistration', 'oadrCreatePartyRegistration', 'oadrRegisterReport', 'oadrCreatedReport']);
  // the VTN asked for both telemetry reports and the VEN confirmed them
  const rrs = s.vtn.reportRequests('AGG1');
  assert.equal(rrs.length, 2);
  assert.ok(rrs.every((r) => r.state === 'active'));
  assert.equal(s.ven.activeReports().length, 2);

  // an event
  const ev = await s.vtn.createEvent({
    eventID: 'evt-1', marketContext: 'http://tso/tertiary2',
    activePeriod: { dtstart: (s.clock.now() + 3_600_000) as EpochMillis, duration: min(60), startAfter: min(10) },
    signals: [{ signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: 's1', itemBase: powerRealItem('k'), intervals: [{ duration: min(60), uid: '0', value: 50 }] }],
  });
  assert.equal(ev.descriptor.eventStatus, 'far');
  // The VTN first registered its own reports, then the event: one poll drains everything.
  await s.ven.runOnce();
  assert.equal(s.seen.length, 1);
  assert.equal(s.seen[0]?.effectiveStart, ev.activePeriod.dtstart + 5 * 60_000); // random 0.5 × 10 min
  assert.ok(s.transport.sent.includes('oadrRegisteredReport'));
  assert.ok(s.transport.sent.includes('oadrCreatedEvent'));
  assert.deepEqual((await s.vtn.eventOpts('evt-1')).map((o) => [o.venID, o.optType, o.modificationNumber]), [['AGG1', 'optIn', 0]]);
  assert.equal(await s.vtn.pendingCount('AGG1'), 0);

  // modification → new modification number, VEN answers with it
  await s.vtn.modifyEvent('evt-1', { modificationReason: 'more', signals: [{ signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: 's1', intervals: [{ duration: min(60), uid: '0', value: 80 }] }] });
  await s.ven.runOnce();
  assert.equal(s.seen.length, 2);
  assert.equal(s.seen[1]?.modified, true);
  assert.deepEqual((await s.vtn.eventOpts('evt-1')).map((o) => o.modificationNumber), [1]);

  // opt out of the event, and an availability schedule
  await s.ven.optEvent('evt-1', 'optOut');
  assert.equal((await s.vtn.eventOpts('evt-1'))[0]?.optType, 'optOut');
  const optID = await s.ven.createOptSchedule('optOut', 'x-schedule', [{ dtstart: s.clock.now(), duration: min(120) }]);
  assert.equal((await s.store.listOpts('AGG1')).length, 2);
  await s.ven.cancelOpt(optID);
  assert.equal((await s.store.listOpts('AGG1')).length, 1);

  // periodic reports every minute, persisted at the VTN
  s.setWatts(1800);
  s.clock.advance(60_000);
  await s.ven.runOnce();
  s.clock.advance(60_000);
  await s.ven.runOnce();
  assert.ok(s.reports.length >= 4, `got ${s.reports.length} reports`);
  assert.ok(s.reports.some((r) => r.rIDs.includes('power')));
  assert.ok(s.reports.some((r) => r.rIDs.includes('status')));
  const stored = await s.store.listReports('AGG1');
  const usage = stored.find((r) => r.reportName === 'TELEMETRY_USAGE');
  assert.equal(usage?.intervals?.[0]?.payloads[0]?.value, 1.8);

  // cancellation reaches the VEN
  const cancelled: string[] = [];
  await s.vtn.cancelEvent('evt-1');
  (s.ven as unknown as { o: { onEventCancelled: (id: string) => void } }).o.onEventCancelled = (id) => cancelled.push(id);
  await s.ven.runOnce();
  assert.deepEqual(cancelled, ['evt-1']);
  s.ven.stop();
});

test('poll delivers any pending payload: report request, cancel report, re-registration, cancel registration', async () => {
  const s = await setup();
  await s.ven.register();
  await s.ven.runOnce(); // drain VTN's oadrRegisterReport
  await s.vtn.requestReport('AGG1', { reportRequestID: 'rr-extra', reportSpecifier: { reportSpecifierID: 'telemetry-usage', granularity: min(1), reportBackDuration: min(2), specifierPayloads: [{ rID: 'power', readingType: 'Direct Read' }] } });
  await s.ven.runOnce();
  assert.ok(s.ven.activeReports().includes('rr-extra'));
  assert.equal(s.vtn.reportRequests('AGG1').find((r) => r.request.reportRequestID === 'rr-extra')?.state, 'active');
  await s.vtn.cancelReport('AGG1', ['rr-extra']);
  await s.ven.runOnce();
  assert.ok(!s.ven.activeReports().includes('rr-extra'));
  const before = s.transport.sent.length;
  await s.vtn.requestReregistration('AGG1');
  await s.ven.runOnce();
  assert.ok(s.transport.sent.slice(before).includes('oadrCreatePartyRegistration'));
  assert.equal(s.vtn.registration('AGG1')?.venID, 'AGG1');
  await s.vtn.cancelRegistration('AGG1');
  await s.ven.runOnce();
  assert.equal(s.vtn.registration('AGG1'), undefined);
  assert.equal(s.ven.registration, undefined);
  s.ven.stop();
});

test('re-registering reports ends the requests of the earlier registration; a late report for one is told to stop', async () => {
  const s = await setup();
  await s.ven.register();
  await s.ven.runOnce();
  const first = s.vtn.reportRequests('AGG1').map((r) => r.request.reportRequestID);
  assert.equal(first.length, 2);
  const state = () => Object.fromEntries(s.vtn.reportRequests('AGG1').map((r) => [r.request.reportRequestID, r.state]));
  // The VTN asks the VEN to register again; the VEN registers its reports again.
  await s.vtn.requestReregistration('AGG1');
  await s.ven.runOnce();
  await s.ven.runOnce();
  const second = s.vtn.reportRequests('AGG1').filter((r) => !first.includes(r.request.reportRequestID));
  assert.equal(second.length, 2);
  assert.deepEqual(first.map((id) => state()[id]), ['cancelled', 'cancelled']);
  assert.ok(second.every((r) => r.state === 'active'), JSON.stringify(state()));
  assert.deepEqual([...s.ven.activeReports()].sort(), second.map((r) => r.request.reportRequestID).sort());
  // A report still in flight for an old request: stored, and the reply tells the VEN to cancel it.
  const late = await s.vtn.handle('EiReport', Buffer.from(encodePayload({ type: 'oadrUpdateReport', requestID: 'late', venID: 'AGG1', reports: [{ eiReportID: 'x', reportRequestID: first[0]!, reportSpecifierID: 'telemetry-usage', reportName: 'TELEMETRY_USAGE', createdDateTime: s.clock.now(), intervals: [] }] })), s.peer);
  const m = decodePayload(late).message;
  assert.equal(m.type, 'oadrUpdatedReport');
  assert.deepEqual(m.type === 'oadrUpdatedReport' ? m.cancelReport?.reportRequestIDs : undefined, [first[0]]);
  // A third registration forgets the first generation entirely (memory and store stay bounded).
  await s.vtn.requestReregistration('AGG1');
  await s.ven.runOnce();
  await s.ven.runOnce();
  assert.equal(s.vtn.reportRequests('AGG1').length, 4);
  assert.ok(first.every((id) => !(id in state())));
  assert.equal((await s.store.listReportRequests('AGG1')).length, 4);
  // Cancelling the registration drops them all.
  await s.vtn.cancelRegistration('AGG1');
  await s.ven.runOnce();
  assert.equal(s.vtn.reportRequests('AGG1').length, 0);
  assert.equal((await s.store.listReportRequests('AGG1')).length, 0);
  s.ven.stop();
});

test('refusals: unregistered certificate, venID of another certificate, stale modification number, unknown ids → codes in eiResponse + audit', async () => {
  const s = await setup();
  await s.ven.register();
  const stranger: OadrPeer = { fingerprint: '00:00:00:00:00:00:00:00:00:01', id: 'EVIL' };
  const poll = (venID: string) => encodePayload({ type: 'oadrPoll', venID });
  const codeOf = (xml: string) => {
    const m = decodePayload(xml).message;
    return 'eiResponse' in m && m.eiResponse ? m.eiResponse.responseCode : 0;
  };
  assert.equal(codeOf(await s.vtn.handle('OadrPoll', Buffer.from(poll('AGG1')), stranger)), 463);
  // a second certificate registers as EVIL, then claims AGG1's venID
  await s.vtn.handle('EiRegisterParty', Buffer.from(encodePayload({ type: 'oadrCreatePartyRegistration', requestID: 'r', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: false })), stranger);
  assert.equal(s.vtn.registration('EVIL')?.fingerprint, stranger.fingerprint);
  assert.equal(codeOf(await s.vtn.handle('OadrPoll', Buffer.from(poll('AGG1')), stranger)), 463);
  assert.equal(codeOf(await s.vtn.handle('EiRegisterParty', Buffer.from(encodePayload({ type: 'oadrCreatePartyRegistration', requestID: 'r', venID: 'AGG1', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: false })), { fingerprint: '00:00:00:00:00:00:00:00:00:02' })), 463);
  // stale modification number
  await s.vtn.createEvent({ eventID: 'e1', marketContext: 'm', activePeriod: { dtstart: s.clock.now(), duration: min(30) }, signals: [{ signalName: 'simple', signalType: 'level', signalID: 's', intervals: [{ duration: min(30), value: 1 }] }], venIDs: ['AGG1'] });
  await s.vtn.modifyEvent('e1', { vtnComment: 'x' });
  const created = (mod: number, eventID = 'e1') => Buffer.from(encodePayload({ type: 'oadrCreatedEvent', eiResponse: { responseCode: 200, requestID: 'q' }, venID: 'AGG1', eventResponses: [{ responseCode: 200, requestID: 'q', qualifiedEventID: { eventID, modificationNumber: mod }, optType: 'optIn' }] }));
  assert.equal(codeOf(await s.vtn.handle('EiEvent', created(0), s.peer)), 450);
  assert.equal(codeOf(await s.vtn.handle('EiEvent', created(1), s.peer)), 200);
  assert.equal(codeOf(await s.vtn.handle('EiEvent', created(0, 'nope'), s.peer)), 452);
  // payload on the wrong service, unknown opt, malformed and hostile bodies: all answered, connection-level fine
  assert.equal(codeOf(await s.vtn.handle('EiEvent', Buffer.from(poll('AGG1')), s.peer)), 453);
  assert.equal(codeOf(await s.vtn.handle('EiOpt', Buffer.from(encodePayload({ type: 'oadrCancelOpt', requestID: 'q', optID: 'none', venID: 'AGG1' })), s.peer)), 452);
  assert.equal(codeOf(await s.vtn.handle('OadrPoll', Buffer.from('<oops'), s.peer)), 454);
  assert.equal(codeOf(await s.vtn.handle('OadrPoll', Buffer.from('<!DOCTYPE x [<!ENTITY a "b">]><x/>'), s.peer)), 454);
  assert.equal(codeOf(await s.vtn.handle('EiReport', Buffer.from(encodePayload({ type: 'oadrUpdateReport', requestID: 'q', venID: 'AGG1', reports: [{ reportRequestID: 'never-asked', reportSpecifierID: 'x', createdDateTime: s.clock.now() }] })), s.peer)), 452);
  const refusals = s.audit.records.filter((r) => r.outcome === 'refused');
  assert.ok(refusals.length >= 9, `audited ${refusals.length}`);
  assert.ok(refusals.some((r) => r.action === 'openadr.unauthorized' && r.actor.fingerprint === stranger.fingerprint));
  // and the VEN still polls fine afterwards
  assert.equal(decodePayload(await s.vtn.handle('OadrPoll', Buffer.from(poll('AGG1')), s.peer)).message.type, 'oadrRegisterReport');
});

test('VEN refuses a stale modification number with 450 and treats missing events as cancelled', async () => {
  const s = await setup();
  await s.ven.register();
  await s.ven.runOnce();
  await s.vtn.createEvent({ eventID: 'e1', marketContext: 'm', activePeriod: { dtstart: s.clock.now(), duration: min(30) }, signals: [{ signalName: 'simple', signalType: 'level', signalID: 's', intervals: [{ duration: min(30), value: 1 }] }] });
  await s.vtn.modifyEvent('e1', { vtnComment: 'v2' });
  await s.ven.runOnce();
  assert.equal(s.ven.events()[0]?.event.descriptor.modificationNumber, 1);
  // replay an older distribute through the push handler: refused per event with 450
  const old = structuredClone(s.ven.events()[0]!.event);
  old.descriptor.modificationNumber = 0;
  const sentBefore = s.transport.sent.length;
  await s.ven.handlePush('EiEvent', encodePayload({ type: 'oadrDistributeEvent', requestID: 'd', vtnID: 'TSO1', events: [old] }));
  await new Promise((r) => setImmediate(r));
  await s.ven.runOnce();
  assert.ok(s.audit.records.some((r) => r.reason?.includes('older than')));
  assert.ok(s.transport.sent.slice(sentBefore).includes('oadrCreatedEvent'));
  // a distribute from another VTN id is refused
  const reply = await s.ven.handlePush('EiEvent', encodePayload({ type: 'oadrDistributeEvent', requestID: 'd', vtnID: 'OTHER', events: [] }));
  const m = decodePayload(reply).message;
  assert.equal(m.type === 'oadrResponse' ? m.eiResponse.responseCode : 0, 452);
  s.ven.stop();
});

test('the VEN answers an event it refuses with the response code and reason onEvent gives (460, 462, 469 for its own failure)', async () => {
  const s = await setup({
    onEvent: (info) => {
      const id = info.event.descriptor.eventID;
      if (id === 'price') return { optType: 'optOut', responseCode: OadrResponseCode.SIGNAL_NOT_SUPPORTED, responseDescription: 'signal ELECTRICITY_PRICE is not supported' };
      if (id === 'elsewhere') throw new OadrError(OadrResponseCode.TARGET_MISMATCH, 'target resource-9 is not ours');
      if (id === 'bug') throw new Error('secret internal detail');
      if (id === 'bad-code') return { optType: 'optIn', responseCode: 999 };
      return 'optIn';
    },
  });
  await s.ven.register();
  await s.ven.runOnce();
  for (const eventID of ['ok', 'price', 'elsewhere', 'bug', 'bad-code']) {
    await s.vtn.createEvent({ eventID, marketContext: 'm', activePeriod: { dtstart: s.clock.now(), duration: min(30) }, signals: [{ signalName: 'simple', signalType: 'level', signalID: 's', intervals: [{ duration: min(30), value: 1 }] }] });
  }
  await s.ven.runOnce();
  const answers = new Map<string, { code: number; description?: string | undefined; opt: string }>();
  for (const xml of s.transport.payloads) {
    const m = decodePayload(xml).message;
    if (m.type !== 'oadrCreatedEvent') continue;
    assert.equal(m.eiResponse.responseCode, 200, 'the payload itself was processed');
    for (const r of m.eventResponses ?? []) answers.set(r.qualifiedEventID.eventID, { code: r.responseCode, description: r.responseDescription, opt: r.optType });
  }
  assert.deepEqual(answers.get('ok'), { code: 200, description: undefined, opt: 'optIn' });
  assert.deepEqual(answers.get('price'), { code: 460, description: 'signal ELECTRICITY_PRICE is not supported', opt: 'optOut' });
  assert.deepEqual(answers.get('elsewhere'), { code: 462, description: 'target resource-9 is not ours', opt: 'optOut' });
  // Our own failures never reach the VTN in detail; they are in our audit log.
  assert.deepEqual(answers.get('bug'), { code: 469, description: 'the VEN could not process this event', opt: 'optOut' });
  assert.equal(answers.get('bad-code')?.code, 469);
  assert.ok(s.audit.records.some((r) => r.target === 'event-callback' && r.reason?.includes('secret internal detail')));
  assert.ok(s.audit.records.some((r) => r.target === 'event-callback' && r.reason?.includes('responseCode 999')));
  assert.deepEqual(Object.fromEntries((await Promise.all(['ok', 'price', 'elsewhere', 'bug'].map(async (id) => [id, (await s.vtn.eventOpts(id))[0]?.optType] as const)))),
    { ok: 'optIn', price: 'optOut', elsewhere: 'optOut', bug: 'optOut' });
  s.ven.stop();
});

test('reports survive a VTN outage in the outbox and are delivered in order afterwards', async () => {
  const s = await setup();
  await s.ven.register();
  await s.ven.runOnce();
  s.transport.up = false;
  for (let i = 0; i < 3; i++) {
    s.clock.advance(60_000);
    await s.ven.runOnce().catch(() => {});
  }
  assert.ok(s.outbox.size >= 4, `outbox ${s.outbox.size}`);
  const before = s.reports.length;
  s.transport.up = true;
  s.clock.advance(400_000); // past the back-off
  await s.ven.runOnce();
  assert.equal(s.outbox.size, 0);
  assert.ok(s.reports.length - before >= 6);
  s.ven.stop();
});

test('push transport: every VTN-initiated payload is pushed and answered in the HTTP reply', async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 15, 8, 0));
  const audit = new MemoryAuditSink();
  const store = new MemoryVtnStore();
  const pushed: string[] = [];
  let ven: Ven | undefined;
  const vtn = new Vtn({
    vtnID: 'TSO1', store, clock, audit,
    push: {
      async post(url: string, xml: string): Promise<string> {
        const service = url.slice(url.lastIndexOf('/') + 1) as ServiceName;
        pushed.push(`${service}:${decodePayload(xml).message.type}`);
        assert.ok(url.startsWith('https://ven.example:8443/OpenADR2/Simple/2.0b/'));
        return (ven as Ven).handlePush(service, xml);
      },
    },
  });
  await vtn.start();
  const peer: OadrPeer = { fingerprint: 'AA:BB:CC:DD:EE:FF:00:11:22:33', id: 'AGG1' };
  const transport = link(vtn, peer);
  const seen: VenEventInfo[] = [];
  ven = new Ven({ venName: 'agg-1', transport, clock, audit, pushAddress: 'https://ven.example:8443', reports: [telemetry(() => 1000)], onEvent: (i) => { seen.push(i); return 'optIn'; } });
  await ven.register();
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  await settle();
  assert.equal(vtn.registration('AGG1')?.httpPullModel, false);
  await vtn.createEvent({ eventID: 'p1', marketContext: 'm', activePeriod: { dtstart: clock.now(), duration: min(30) }, signals: [{ signalName: 'simple', signalType: 'level', signalID: 's', intervals: [{ duration: min(30), value: 1 }] }] });
  await settle();
  assert.equal(seen.length, 1);
  assert.equal((await vtn.eventOpts('p1'))[0]?.optType, 'optIn'); // oadrCreatedEvent sent by the VEN after its push reply
  await vtn.requestReport('AGG1', { reportRequestID: 'rr-push', reportSpecifier: { reportSpecifierID: 'telemetry-usage', granularity: min(1), reportBackDuration: min(1), specifierPayloads: [{ rID: 'power', readingType: 'Direct Read' }] } });
  await settle();
  assert.equal(vtn.reportRequests('AGG1').find((r) => r.request.reportRequestID === 'rr-push')?.state, 'active');
  await vtn.cancelReport('AGG1', ['rr-push']);
  await settle();
  assert.ok(!ven.activeReports().includes('rr-push'));
  await vtn.requestReregistration('AGG1');
  await settle();
  await vtn.cancelRegistration('AGG1');
  await settle();
  assert.equal(vtn.registration('AGG1'), undefined);
  assert.equal(ven.registration, undefined);
  assert.deepEqual(pushed.map((p) => p.split(':')[1]).filter((t, i, a) => a.indexOf(t) === i).sort(), [
    'oadrCancelPartyRegistration', 'oadrCancelReport', 'oadrCreateReport', 'oadrDistributeEvent', 'oadrRegisterReport', 'oadrRequestReregistration',
  ]);
  assert.ok(pushed.includes('EiEvent:oadrDistributeEvent') && pushed.includes('EiReport:oadrCreateReport') && pushed.includes('EiRegisterParty:oadrCancelPartyRegistration'));
  assert.equal(audit.records.filter((r) => r.outcome === 'refused').length, 0, JSON.stringify(audit.records.filter((r) => r.outcome === 'refused')));
  ven.stop();
});
