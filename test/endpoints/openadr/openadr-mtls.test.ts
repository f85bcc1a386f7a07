/**
 * Our VEN against our VTN over real mutual TLS (real certificates from our CA, real sockets on
 * 127.0.0.1) with state in SQLite and PostgreSQL: registration, events, opts and reports in pull
 * and push mode, XML signatures required both ways, venID/certificate mismatch → 463, hostile
 * bodies answered in eiResponse on a connection that stays usable, and persistence across restarts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { pkiWorld, waiter, type PkiWorld } from '../../kit/index.js';
import { clientTlsOptions } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { ManualClock } from '../../../src/core/clock.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { startVenEndpoint } from '../../../src/endpoints/openadr/ven-endpoint.js';
import type { VenEventInfo, VenReportSource } from '../../../src/protocols/openadr/ven.js';
import { decodePayload, encodePayload } from '../../../src/protocols/openadr/payload.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';
import { describeEachEngine } from '../../store/harness.js';

let world: PkiWorld;
let tso: IssuedCertificate;
let agg1: IssuedCertificate;
let agg2: IssuedCertificate;
let agg3: IssuedCertificate;

before(async () => {
  world = await pkiWorld({}, { prefix: 'erab-openadr-mtls-' });
  tso = await world.issue('tso', { role: 'tso', id: 'TSO1' });
  agg1 = await world.issue('agg1', { role: 'aggregator', id: 'AGG1' });
  agg2 = await world.issue('agg2', { role: 'aggregator', id: 'AGG2' });
  agg3 = await world.issue('agg3', { role: 'aggregator', id: 'AGG3', algorithm: 'rsa' });
});
after(() => world?.close());

const material = (c: IssuedCertificate) => world.material(c);
const sec = (n: number): Millis => (n * 1000) as Millis;

/** The kit's waitFor with this file's budget. */
const waitFor = waiter({ timeoutMs: 90_000, intervalMs: 20 });

const source = (): VenReportSource[] => [
  {
    reportSpecifierID: 'usage', reportName: 'TELEMETRY_USAGE',
    descriptions: [{ rID: 'p', reportType: 'usage', readingType: 'Direct Read', itemBase: powerRealItem('k'), samplingRate: { minPeriod: sec(1), maxPeriod: sec(1), onChange: false } }],
    read: () => 3.2,
  },
  {
    reportSpecifierID: 'status', reportName: 'TELEMETRY_STATUS',
    descriptions: [{ rID: 's', reportType: 'x-resourceStatus', readingType: 'x-notApplicable', samplingRate: { minPeriod: sec(1), maxPeriod: sec(1), onChange: false } }],
    read: () => ({ online: true, manualOverride: false }),
  },
];

/** Raw POST over a keep-alive agent with a client certificate; resolves to the reply body. */
function post(agent: https.Agent, port: number, service: string, body: string): Promise<{ status: number; body: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ agent, host: '127.0.0.1', port, method: 'POST', path: `/OpenADR2/Simple/2.0b/${service}`, headers: { 'content-type': 'application/xml' } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, socket: req.socket }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const code = (xml: string): number => {
  const m = decodePayload(xml).message;
  return 'eiResponse' in m && m.eiResponse ? m.eiResponse.responseCode : 200;
};

describeEachEngine('OpenADR VEN ↔ VTN over mutual TLS', (fx) => {
  test('pull: registration, reports, event, opts; venID/cert mismatch 463; hostile bodies; persistence across VTN restart', async () => {
    const loc = await fx.location();
    const store = await loc.open(openadrStoreMigrations);
    const audit = new MemoryAuditSink();
    const allowList = { participants: ['aggregator:AGG1', 'aggregator:AGG3'] };
    const tsoMat = await material(tso);
    const reported: string[] = [];
    let running = await startVtnEndpoint({ vtnID: 'TSO1', material: tsoMat, allowList, audit, store, vtn: { pollFreqMs: 100, hooks: { onReport: (_v, r) => reported.push(r.reportName ?? '') } } });
    const seen: VenEventInfo[] = [];
    const venStore = await loc.open(openadrStoreMigrations);
    const ven = await startVenEndpoint({
      venName: 'AGG1', vtnUrl: running.url, material: await material(agg1), audit, store: venStore,
      expectVtn: { role: 'tso', id: 'TSO1' },
      ven: { reports: source(), onEvent: (e) => { seen.push(e); return 'optIn'; }, backoff: { initialMs: 50, maxMs: 500 } },
    });
    try {
      await waitFor('registration', () => running.vtn.registration('AGG1') !== undefined && ven.ven.registration !== undefined);
      assert.equal(ven.ven.registration?.venID, 'AGG1');
      assert.equal(running.vtn.registration('AGG1')?.fingerprint, agg1.identity.fingerprint);
      await waitFor('report requests active', () => running.vtn.reportRequests('AGG1').filter((r) => r.state === 'active').length === 2);
      await waitFor('telemetry reports', () => reported.includes('TELEMETRY_USAGE') && reported.includes('TELEMETRY_STATUS'));

      const now = Date.now();
      await running.vtn.createEvent({
        eventID: 'dr-1', marketContext: 'http://tso1/tertiary2',
        activePeriod: { dtstart: (now + 60_000) as EpochMillis, duration: (30 * 60_000) as Millis },
        signals: [{ signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: 's', itemBase: powerRealItem('k'), intervals: [{ duration: (30 * 60_000) as Millis, uid: '0', value: 40 }] }],
      });
      await waitFor('event at VEN', () => seen.length === 1);
      await waitFor('optIn at VTN', async () => (await running.vtn.eventOpts('dr-1')).some((o) => o.venID === 'AGG1' && o.optType === 'optIn'));
      await ven.ven.optEvent('dr-1', 'optOut');
      assert.equal((await running.vtn.eventOpts('dr-1'))[0]?.optType, 'optOut');
      await ven.ven.createOptSchedule('optOut', 'x-schedule', [{ dtstart: now as EpochMillis, duration: (3_600_000) as Millis }]);

      // AGG3: allow-listed, registers as itself, then claims AGG1's venID → 463, audited
      const agent3 = new https.Agent({ keepAlive: true, ...clientTlsOptions(await material(agg3), 'R1') });
      const reg3 = await post(agent3, running.port, 'EiRegisterParty', encodePayload({ type: 'oadrCreatePartyRegistration', requestID: 'r3', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: false }));
      assert.equal(code(reg3.body), 200);
      const spoof = await post(agent3, running.port, 'OadrPoll', encodePayload({ type: 'oadrPoll', venID: 'AGG1' }));
      assert.equal(spoof.status, 200);
      assert.equal(code(spoof.body), 463);
      const spoofReg = await post(agent3, running.port, 'EiRegisterParty', encodePayload({ type: 'oadrCreatePartyRegistration', requestID: 'r4', venID: 'AGG1', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: false }));
      assert.equal(code(spoofReg.body), 463);
      assert.ok(audit.records.some((r) => r.action === 'openadr.unauthorized' && r.actor.fingerprint === agg3.identity.fingerprint));
      // hostile bodies: answered in eiResponse, on the same kept-alive connection
      const laughs = `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>${encodePayload({ type: 'oadrPoll', venID: 'AGG3' }).replace('AGG3', '&b;')}`;
      const h1 = await post(agent3, running.port, 'OadrPoll', laughs);
      assert.equal(code(h1.body), 454);
      const h2 = await post(agent3, running.port, 'OadrPoll', `<a>${'<b>'.repeat(500)}${'</b>'.repeat(500)}</a>`);
      assert.equal(code(h2.body), 454);
      const h3 = await post(agent3, running.port, 'OadrPoll', `<x>${'A'.repeat(1_200_000)}</x>`);
      assert.equal(code(h3.body), 454);
      const ok = await post(agent3, running.port, 'OadrPoll', encodePayload({ type: 'oadrPoll', venID: 'AGG3' }));
      assert.equal(ok.status, 200);
      assert.equal(ok.socket, h1.socket, 'the connection stayed open across refusals');
      agent3.destroy();

      // AGG2 is not allow-listed: refused at the TLS layer, never reaches OpenADR
      const agent2 = new https.Agent({ keepAlive: false, ...clientTlsOptions(await material(agg2), 'R1') });
      await assert.rejects(post(agent2, running.port, 'OadrPoll', encodePayload({ type: 'oadrPoll', venID: 'AGG2' })));
      agent2.destroy();
      assert.equal(running.vtn.registration('AGG2'), undefined);

      // restart the VTN on the same database: registration, events, opts and reports are still there
      const reportsBefore = (await running.vtn['store'].listReports('AGG1')).length;
      assert.ok(reportsBefore >= 2);
      await running.close();
      const store2 = await loc.open(openadrStoreMigrations);
      running = await startVtnEndpoint({ vtnID: 'TSO1', material: tsoMat, allowList, audit, store: store2, port: running.port, vtn: { pollFreqMs: 100 } });
      assert.equal(running.vtn.registration('AGG1')?.fingerprint, agg1.identity.fingerprint);
      assert.equal(running.vtn.event('dr-1')?.descriptor.modificationNumber, 0);
      assert.equal((await running.vtn.eventOpts('dr-1'))[0]?.optType, 'optOut');
      const after = await running.vtn['store'].listReports('AGG1');
      assert.ok(after.length >= reportsBefore);
      // the VEN keeps reporting to the restarted VTN
      await waitFor('reports after restart', async () => (await running.vtn['store'].listReports('AGG1')).length > after.length);
    } finally {
      await ven.close();
      await running.close();
    }
  });
});

test('push model with XML signatures required both ways', async () => {
  const fxStore = await (await import('../../../src/store/store.js')).openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const venStore = await (await import('../../../src/store/store.js')).openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const audit = new MemoryAuditSink();
  const running = await startVtnEndpoint({ vtnID: 'TSO1', material: await material(tso), allowList: { participants: ['aggregator:AGG1'] }, audit, store: fxStore, vtn: { pollFreqMs: 60_000, signatureMode: 'required' } });
  const seen: VenEventInfo[] = [];
  const ven = await startVenEndpoint({
    venName: 'AGG1', vtnUrl: running.url, material: await material(agg1), audit, store: venStore,
    expectVtn: { role: 'tso', id: 'TSO1' }, xmlSignature: true, vtnCertificatePem: tso.certPem,
    push: { allowList: { participants: ['tso:TSO1'] } },
    ven: { signatureMode: 'required', onEvent: (e) => { seen.push(e); return 'optIn'; }, backoff: { initialMs: 50, maxMs: 500 } },
  });
  try {
    await waitFor('registration', () => running.vtn.registration('AGG1') !== undefined).catch((e) => {
      console.log(audit.records.map((r) => `${r.action} ${r.outcome} ${r.reason ?? ''}`).join('\n'));
      throw e;
    });
    const reg = running.vtn.registration('AGG1');
    assert.equal(reg?.httpPullModel, false);
    assert.equal(reg?.transportAddress, ven.pushUrl);
    assert.equal(reg?.xmlSignature, true);
    await running.vtn.createEvent({
      eventID: 'push-1', marketContext: 'http://tso1/p',
      activePeriod: { dtstart: (Date.now() + 60_000) as EpochMillis, duration: (600_000) as Millis },
      signals: [{ signalName: 'simple', signalType: 'level', signalID: 's', intervals: [{ duration: (600_000) as Millis, value: 1 }] }],
    });
    await waitFor('pushed event', () => seen.length === 1);
    await waitFor('optIn via signed oadrCreatedEvent', async () => (await running.vtn.eventOpts('push-1')).length === 1);
    // an unsigned payload from the VEN's certificate is refused when signatures are required
    const agent = new https.Agent({ keepAlive: false, ...clientTlsOptions(await material(agg1), 'R1') });
    const r = await post(agent, running.port, 'EiEvent', encodePayload({ type: 'oadrRequestEvent', requestID: 'q', venID: 'AGG1' }));
    assert.equal(code(r.body), 463);
    agent.destroy();
  } finally {
    await ven.close();
    await running.close();
    await fxStore.close();
    await venStore.close();
  }
});

describeEachEngine('OpenADR VEN outbox', (fx) => {
  test('reports produced while the VTN is down survive a VEN restart and are delivered', async () => {
    const loc = await fx.location();
    const vtnStore = await loc.open(openadrStoreMigrations);
    const venStore = await loc.open(openadrStoreMigrations);
    const audit = new MemoryAuditSink();
    const clock = new ManualClock(Date.now());
    const tsoMat = await material(tso);
    let running = await startVtnEndpoint({ vtnID: 'TSO1', material: tsoMat, allowList: { participants: ['aggregator:AGG1'] }, audit, store: vtnStore, clock });
    const opts = { venName: 'AGG1', material: await material(agg1), audit, store: venStore, clock, autoStart: false, expectVtn: { role: 'tso' as const, id: 'TSO1' }, ven: { reports: source() } };
    let ven = await startVenEndpoint({ ...opts, vtnUrl: running.url });
    await ven.ven.register();
    await ven.ven.runOnce();
    const port = running.port;
    await running.close();
    // VTN down: three report periods go to the durable outbox
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await ven.ven.runOnce().catch(() => {});
    }
    const queued = await ven.outbox.size();
    assert.ok(queued >= 4, `queued ${queued}`);
    await ven.close();
    // VEN process restarts (same database), VTN comes back on the same port
    running = await startVtnEndpoint({ vtnID: 'TSO1', material: tsoMat, allowList: { participants: ['aggregator:AGG1'] }, audit, store: vtnStore, clock, port });
    ven = await startVenEndpoint({ ...opts, vtnUrl: running.url });
    assert.equal(ven.ven.registration?.venID, 'AGG1', 'registration reloaded from the store');
    await ven.ven.flushOutbox();
    assert.equal(await ven.outbox.size(), 0);
    const got = await running.vtn['store'].listReports('AGG1');
    assert.ok(got.length >= queued, `VTN stored ${got.length} of ${queued}`);
    await ven.close();
    await running.close();
  });
});

describeEachEngine('OpenADR VTN report store', (fx) => {
  test('report requests: stored per VEN, deleted by id without touching another VEN\'s', async () => {
    const { StoreVtnStore } = await import('../../../src/endpoints/openadr/store.js');
    const store = await (await fx.location()).open(openadrStoreMigrations);
    const vtnStore = new StoreVtnStore(store, 'TSO1');
    const request = (id: string) => ({ reportRequestID: id, reportSpecifier: { reportSpecifierID: 'spec', granularity: 60_000 as Millis, reportBackDuration: 60_000 as Millis, specifierPayloads: [] } });
    for (const venID of ['VEN0', 'VEN1']) {
      for (const id of ['a', 'b', 'c']) await vtnStore.putReportRequest({ venID, request: request(id), state: 'active', producer: 'ven' });
    }
    await vtnStore.deleteReportRequests('VEN0', ['a', 'c', 'never-was']);
    await vtnStore.deleteReportRequests('VEN0', []);
    assert.deepEqual((await vtnStore.listReportRequests('VEN0')).map((r) => r.request.reportRequestID), ['b']);
    assert.equal((await vtnStore.listReportRequests('VEN1')).length, 3);
    await store.close();
  });

  test('group commit: reports appended together are each committed, in order, and a failed batch fails each of its callers', async () => {
    const { StoreVtnStore } = await import('../../../src/endpoints/openadr/store.js');
    const loc = await fx.location();
    const store = await loc.open(openadrStoreMigrations);
    const vtnStore = new StoreVtnStore(store, 'TSO1');
    const report = (i: number) => ({ reportSpecifierID: 'spec', reportRequestID: `req-${i % 3}`, createdDateTime: (1_700_000_000_000 + i) as EpochMillis, reportName: 'TELEMETRY_USAGE' as const, intervals: [] });
    // 1200 concurrent appends: more than one bounded statement per flush.
    await Promise.all(Array.from({ length: 1200 }, (_, i) => vtnStore.appendReport(`VEN${i % 2}`, report(i) as never, (1_700_000_000_000 + i) as EpochMillis)));
    const ven0 = await vtnStore.listReports('VEN0');
    assert.equal(ven0.length, 600);
    assert.deepEqual(ven0.slice(0, 3).map((r) => r.createdDateTime), [1_700_000_000_000, 1_700_000_000_002, 1_700_000_000_004]);
    assert.equal((await vtnStore.listReports('VEN1', 'req-1')).length, 200);
    // The table gone (a broken database): every caller of the batch sees the error, none hangs.
    await store.db.schema.dropTable('openadr_vtn_report').execute();
    const results = await Promise.allSettled([1, 2, 3].map((i) => vtnStore.appendReport('VEN0', report(i) as never, 0 as EpochMillis)));
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    await store.close();
  });
});
