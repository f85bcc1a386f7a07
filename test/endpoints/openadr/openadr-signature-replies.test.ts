/**
 * Every reply to a signed request is signed, whatever the registration's oadrXmlSignature says: a
 * signing peer (openleadr-python with a VTN fingerprint, for one) drops an unsigned reply to its
 * signed request. Over real mutual TLS with certificates from our CA:
 *  - a VEN registered with oadrXmlSignature=false sends a signed oadrPoll, oadrRequestEvent and
 *    then a signed oadrPoll that delivers an event: each reply is signed by the VTN's key; its
 *    unsigned polls still get unsigned replies;
 *  - our VEN registered without signatures answers a VTN's signed push with a signed reply.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { clientTlsOptions } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { systemClock } from '../../../src/core/clock.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import { openStore } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { startVenEndpoint } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { decodePayload, encodePayload, type OadrMessage } from '../../../src/protocols/openadr/payload.js';
import { NonceCache, signPayload, verifyPayload } from '../../../src/protocols/openadr/signature.js';

let world: PkiWorld;
let tso: IssuedCertificate;
let agg: IssuedCertificate;
before(async () => {
  world = await pkiWorld({}, { prefix: 'erab-openadr-signature-replies-' });
  tso = await world.issue('tso', { role: 'tso', id: 'TSO1' });
  agg = await world.issue('agg', { role: 'aggregator', id: 'AGG1', algorithm: 'rsa' });
});
after(() => world?.close());

const material = (c: IssuedCertificate) => world.material(c);
const signed = (m: OadrMessage, by: IssuedCertificate): string => signPayload(m, { privateKeyPem: by.keyPem, certificatePem: by.certPem }, { clock: systemClock });

/** Raw POST with a client certificate; resolves to the reply body. */
function post(agent: https.Agent, url: string, service: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = https.request({ agent, host: u.hostname, port: Number(u.port), method: 'POST', path: `/OpenADR2/Simple/2.0b/${service}`, headers: { 'content-type': 'application/xml' } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { data += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(data) : reject(new Error(`HTTP ${res.statusCode}: ${data.slice(0, 200)}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The reply verified against the signer's certificate (throws when unsigned or not theirs). */
const verifiedBy = (xml: string, signer: IssuedCertificate): OadrMessage =>
  verifyPayload(xml, { signerCertificatePem: signer.certPem, clock: systemClock, nonces: new NonceCache(300_000) }).message;

test('the VTN signs its reply to every signed request, also for a VEN registered with oadrXmlSignature=false', async () => {
  const store = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const audit = new MemoryAuditSink();
  const running = await startVtnEndpoint({ vtnID: 'TSO1', material: await material(tso), allowList: { participants: ['aggregator:AGG1'] }, audit, store, vtn: { pollFreqMs: 60_000 } });
  const agent = new https.Agent({ keepAlive: true, ...clientTlsOptions(await material(agg), 'R1') });
  try {
    const reg = await post(agent, running.url, 'EiRegisterParty', encodePayload({ type: 'oadrCreatePartyRegistration', requestID: 'r1', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: false, httpPullModel: true }));
    assert.equal(decodePayload(reg).message.type, 'oadrCreatedPartyRegistration');
    assert.equal(running.vtn.registration('AGG1')?.xmlSignature, false);

    // Unsigned poll: unsigned reply (the VEN asked for none).
    assert.equal(decodePayload(await post(agent, running.url, 'OadrPoll', encodePayload({ type: 'oadrPoll', venID: 'AGG1' }))).hasSignature, false);
    // Signed poll with nothing queued: a signed oadrResponse.
    const empty = verifiedBy(await post(agent, running.url, 'OadrPoll', signed({ type: 'oadrPoll', venID: 'AGG1' }, agg)), tso);
    assert.equal(empty.type, 'oadrResponse');
    // Signed oadrRequestEvent: signed.
    assert.equal(verifiedBy(await post(agent, running.url, 'EiEvent', signed({ type: 'oadrRequestEvent', requestID: 'q1', venID: 'AGG1' }, agg)), tso).type, 'oadrDistributeEvent');
    // Signed poll that delivers a queued event: a signed oadrDistributeEvent.
    await running.vtn.createEvent({
      eventID: 'e1', marketContext: 'http://tso1/p',
      activePeriod: { dtstart: (Date.now() + 60_000) as EpochMillis, duration: (600_000) as Millis },
      signals: [{ signalName: 'simple', signalType: 'level', signalID: 's', intervals: [{ duration: (600_000) as Millis, value: 1 }] }],
    });
    const dist = verifiedBy(await post(agent, running.url, 'OadrPoll', signed({ type: 'oadrPoll', venID: 'AGG1' }, agg)), tso);
    assert.equal(dist.type === 'oadrDistributeEvent' && dist.events[0]?.descriptor.eventID, 'e1');
    // A signed request the VTN refuses is answered signed too (the refusal is authentic).
    const refusal = verifiedBy(await post(agent, running.url, 'OadrPoll', signed({ type: 'oadrPoll', venID: 'AGG2' }, agg)), tso);
    assert.equal(refusal.type === 'oadrResponse' && refusal.eiResponse.responseCode, 463);
    // And unsigned polls still get unsigned replies.
    assert.equal(decodePayload(await post(agent, running.url, 'OadrPoll', encodePayload({ type: 'oadrPoll', venID: 'AGG1' }))).hasSignature, false);
  } finally {
    agent.destroy();
    await running.close();
    await store.close();
  }
});

test('our VEN registered without signatures answers a signed push with a signed reply', async () => {
  const vtnStore = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const venStore = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const audit = new MemoryAuditSink();
  const running = await startVtnEndpoint({ vtnID: 'TSO1', material: await material(tso), allowList: { participants: ['aggregator:AGG1'] }, audit, store: vtnStore, vtn: { pollFreqMs: 60_000 } });
  const ven = await startVenEndpoint({
    venName: 'AGG1', vtnUrl: running.url, material: await material(agg), audit, store: venStore,
    expectVtn: { role: 'tso', id: 'TSO1' }, vtnCertificatePem: tso.certPem,
    push: { allowList: { participants: ['tso:TSO1'] } }, autoStart: false,
  });
  const agent = new https.Agent({ keepAlive: false, ...clientTlsOptions(await material(tso), 'R1') });
  try {
    await ven.ven.register();
    assert.equal(running.vtn.registration('AGG1')?.xmlSignature, false);
    const pushUrl = ven.pushUrl ?? assert.fail('no push endpoint');
    const distribute: OadrMessage = { type: 'oadrDistributeEvent', requestID: 'push-1', vtnID: 'TSO1', events: [] };
    // Unsigned push: unsigned reply.
    assert.equal(decodePayload(await post(agent, pushUrl, 'EiEvent', encodePayload(distribute))).hasSignature, false);
    // Signed push: the reply is signed with the VEN's key.
    const reply = await post(agent, pushUrl, 'EiEvent', signed({ ...distribute, requestID: 'push-2' }, tso));
    assert.equal(decodePayload(reply).hasSignature, true, reply.slice(0, 300));
    verifiedBy(reply, agg);
  } finally {
    agent.destroy();
    await ven.close();
    await running.close();
    await vtnStore.close();
    await venStore.close();
  }
});
