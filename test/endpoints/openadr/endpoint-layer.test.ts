/**
 * The one OpenADR endpoint layer (src/endpoints/openadr), at the points where the roles used to
 * assemble their own:
 * - the aggregator's downstream R4 VTN runs on the hardened HTTP/1 path (it was node:https): a
 *   request over the head limit is refused with 431 and audited as "http.refused";
 * - a VEN's checkDistribute hook gets the raw signed oadrDistributeEvent with the signature as the
 *   VEN verified it, its verdicts are the answers the VTN receives, and the VEN's event state is
 *   the one record of the events (the gateway no longer reads events before its VEN).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tls from 'node:tls';
import { systemClock } from '../../../src/core/clock.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import type { OadrPeer, OadrTransport } from '../../../src/protocols/openadr/http.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import { Ven, type VenDistribute } from '../../../src/protocols/openadr/ven.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { MemoryVtnStore } from '../../../src/protocols/openadr/vtn-store.js';
import { DownstreamVtn } from '../../../src/roles/aggregator/runtime/downstream.js';
import { Fleet } from '../../../src/roles/aggregator/runtime/fleet.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { pkiWorld, type PkiWorld, type WorldParticipant } from '../../kit/index.js';

let world: PkiWorld<'agg' | 'gw'>;
let aggCert: WorldParticipant;
let gwCert: WorldParticipant;

before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1', gw: 'gateway:GW1' }, { prefix: 'erab-endpoint-' });
  aggCert = world.certs.agg;
  gwCert = world.certs.gw;
});
after(() => world.close());

test("the aggregator's R4 VTN serves the hardened HTTP/1 path: an oversize head is refused with 431 and audited as http.refused", async () => {
  const store: Store = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const audit = new MemoryAuditSink();
  const material = await world.material('agg');
  const down = new DownstreamVtn({
    aggregatorId: 'AGG1', material, store, host: '127.0.0.1', port: 0, allowList: { roles: ['gateway'] },
    pollIntervalMs: 10_000, reportIntervalMs: 60_000, fleet: new Fleet(), clock: systemClock, audit,
  });
  const port = await down.start();
  after(async () => {
    await down.stop();
    await store.close();
  });
  const socket = tls.connect({ host: '127.0.0.1', port, cert: gwCert.certPem, key: gwCert.keyPem, ca: world.caPem, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  let reply = '';
  socket.on('data', (d: Buffer) => { reply += d.toString('latin1'); });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
  await closed;
  assert.match(reply, /^HTTP\/1\.1 431 /, reply.slice(0, 200));
  const refusal = audit.records.find((r) => r.action === 'http.refused');
  assert.ok(refusal, `refusal audited: ${JSON.stringify(audit.records.map((r) => r.action))}`);
  assert.match(JSON.stringify(refusal), /gateway/);
});

test("a VEN's checkDistribute gets the raw signed distribute and the verified signer; its verdicts are answered; the VEN keeps the one event record", async () => {
  const audit = new MemoryAuditSink();
  const vtn = new Vtn({
    vtnID: 'AGG1-vtn', store: new MemoryVtnStore(), clock: systemClock, audit, vtnReports: false,
    signingKey: { privateKeyPem: aggCert.keyPem, certificatePem: aggCert.certPem },
  });
  await vtn.start();
  const peer: OadrPeer = { fingerprint: gwCert.identity.fingerprint, id: 'GW1', role: 'gateway', certificatePem: () => gwCert.certPem };
  const answers: { eventID: string; code: number; optType: string }[] = [];
  const transport: OadrTransport = {
    post: async (service, xml) => {
      const m = decodePayload(xml).message;
      if (m.type === 'oadrCreatedEvent') for (const r of m.eventResponses ?? []) answers.push({ eventID: r.qualifiedEventID.eventID, code: r.responseCode, optType: r.optType });
      return vtn.handle(service, Buffer.from(xml), peer);
    },
    close() {},
  };
  const seen: VenDistribute[] = [];
  const onEvent: string[] = [];
  const ven = new Ven({
    venName: 'GW1', transport, clock: systemClock, audit, xmlSignature: true,
    signingKey: { privateKeyPem: gwCert.keyPem, certificatePem: gwCert.certPem }, vtnCertificatePem: aggCert.certPem,
    checkDistribute: async (d) => {
      seen.push(d);
      return { ok: true, events: d.message.events.map((e) => (e.descriptor.eventID === 'BAD' ? { verdict: 'refuse' as const, code: 462, reason: 'not our resource' } : { verdict: 'accept' as const })) };
    },
    onEvent: (info) => {
      onEvent.push(info.event.descriptor.eventID);
      return 'optIn';
    },
  });
  await ven.register();
  const start = epochMillis(Date.now() + 3_600_000);
  const signals = [{ signalName: 'SIMPLE' as const, signalType: 'level' as const, signalID: 'S', intervals: [{ duration: millis(600_000), uid: '0', value: 1 }] }];
  for (const eventID of ['GOOD', 'BAD']) {
    await vtn.createEvent({ eventID, marketContext: 'urn:erab:test', venIDs: ['GW1'], activePeriod: { dtstart: start, duration: millis(600_000) }, signals, responseRequired: 'always' });
  }
  await ven.runOnce();

  assert.equal(seen.length, 1, 'the distribute went through the hook once');
  const d = seen[0]!;
  assert.match(d.rawXml, /oadrDistributeEvent/);
  assert.match(d.rawXml, /Signature/, 'the raw payload as received, signature included');
  assert.ok(d.signature.ok, JSON.stringify(d.signature));
  assert.equal(d.signature.ok && d.signature.fingerprint, aggCert.identity.fingerprint);
  assert.deepEqual(onEvent, ['GOOD'], 'a refused event never reaches onEvent');
  assert.deepEqual(answers.sort((a, b) => a.eventID.localeCompare(b.eventID)), [
    { eventID: 'BAD', code: 462, optType: 'optOut' },
    { eventID: 'GOOD', code: 200, optType: 'optIn' },
  ]);
  assert.deepEqual(ven.events().map((e) => e.event.descriptor.eventID), ['GOOD'], "the VEN's event state holds what it accepted");
  assert.deepEqual((await vtn.eventOpts('BAD')).map((o) => o.optType), ['optOut'], 'the VTN holds the refusal');
});
