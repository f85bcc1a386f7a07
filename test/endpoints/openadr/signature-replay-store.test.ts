/**
 * Durable replay protection (issue 11, item 4): the ReplayProtect nonces a verifier accepted
 * survive a restart, in the role's own store (SQLite and PostgreSQL), stay bounded by the
 * validity window, and two verifiers sharing one database cannot both accept one nonce.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { clientTlsOptions } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import type { Kysely } from 'kysely';
import { systemClock } from '../../../src/core/clock.js';
import { StoreUnavailableError } from '../../../src/store/errors.js';
import type { Store } from '../../../src/store/store.js';
import { NONCE_TABLE, StoreNonceCache, type NonceTables } from '../../../src/endpoints/openadr/nonce-store.js';
import { StoreVtnStore, openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { startVenEndpoint } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { OadrError } from '../../../src/protocols/openadr/errors.js';
import type { OadrPeer } from '../../../src/protocols/openadr/http.js';
import { decodePayload, encodePayload } from '../../../src/protocols/openadr/payload.js';
import { signPayload } from '../../../src/protocols/openadr/signature.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { describeEachEngine } from '../../store/harness.js';

let world: PkiWorld;
let tso: IssuedCertificate;
let agg1: IssuedCertificate;

before(async () => {
  world = await pkiWorld({}, { prefix: 'erab-signature-replay-store-' });
  tso = await world.issue('tso', { role: 'tso', id: 'TSO1' });
  agg1 = await world.issue('agg1', { role: 'aggregator', id: 'AGG1' });
});
after(() => world?.close());

const material = (c: IssuedCertificate) => world.material(c);

/** POSTs over mutual TLS with the given agent; resolves to the eiResponse code and description. */
function post(agent: https.Agent, port: number, service: string, body: string): Promise<{ code: number; description: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ agent, host: '127.0.0.1', port, method: 'POST', path: `/OpenADR2/Simple/2.0b/${service}`, headers: { 'content-type': 'application/xml' } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { data += c; });
      res.on('end', () => {
        const m = decodePayload(data).message;
        const r = 'eiResponse' in m && m.eiResponse ? m.eiResponse : { responseCode: 200, responseDescription: '' };
        resolve({ code: r.responseCode, description: r.responseDescription ?? '' });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const codeOf = (xml: string): number => {
  const m = decodePayload(xml).message;
  return 'eiResponse' in m && m.eiResponse ? m.eiResponse.responseCode : 200;
};

async function rows(store: Store<unknown>, scope: string): Promise<number> {
  const db = store.db as unknown as Kysely<NonceTables>;
  const r = await db.selectFrom(NONCE_TABLE).select((eb) => eb.fn.countAll<number>().as('n')).where('scope', '=', scope).executeTakeFirstOrThrow();
  return Number(r.n);
}

const T0 = Date.UTC(2026, 0, 1);

describeEachEngine('durable replay protection', (fx) => {
  test('a signed payload replayed to a restarted VTN within the window is refused with 463', async () => {
    const loc = await fx.location();
    const audit = new MemoryAuditSink();
    const allowList = { participants: ['aggregator:AGG1'] };
    const tsoMat = await material(tso);
    let store = await loc.open(openadrStoreMigrations);
    let running = await startVtnEndpoint({ vtnID: 'TSO1', material: tsoMat, allowList, audit, store, vtn: { signatureMode: 'required' } });
    const agent = new https.Agent({ keepAlive: false, ...clientTlsOptions(await material(agg1), 'R1') });
    const key = { privateKeyPem: agg1.keyPem, certificatePem: agg1.certPem };
    try {
      const reg = signPayload({ type: 'oadrCreatePartyRegistration', requestID: 'r1', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: true }, key, { clock: systemClock });
      assert.equal((await post(agent, running.port, 'EiRegisterParty', reg)).code, 200);
      const signed = signPayload({ type: 'oadrRequestEvent', requestID: 'q1', venID: 'AGG1' }, key, { clock: systemClock });
      assert.equal((await post(agent, running.port, 'EiEvent', signed)).code, 200, 'the first delivery is accepted');
      assert.equal(await rows(store, 'vtn:TSO1'), 2, 'both nonces were committed before their answers left');
      const again = await post(agent, running.port, 'EiEvent', signed);
      assert.equal(again.code, 463, 'a replay within one run is refused');

      // Stop the VTN and its store, start it again on the same database, replay: still refused.
      await running.close();
      await store.close();
      store = await loc.open(openadrStoreMigrations);
      running = await startVtnEndpoint({ vtnID: 'TSO1', material: tsoMat, allowList, audit, store, port: running.port, vtn: { signatureMode: 'required' } });
      const replayed = await post(agent, running.port, 'EiEvent', signed);
      assert.equal(replayed.code, 463, `a replay after restart must be refused, got ${replayed.code} ${replayed.description}`);
      assert.match(replayed.description, /replay/);
      // A fresh signature from the same VEN is still accepted after the restart.
      const fresh = signPayload({ type: 'oadrRequestEvent', requestID: 'q2', venID: 'AGG1' }, key, { clock: systemClock });
      assert.equal((await post(agent, running.port, 'EiEvent', fresh)).code, 200);
    } finally {
      agent.destroy();
      await running.close();
      await store.close();
    }
  });

  test('a VEN restarted on its store refuses a replayed signed push from its VTN', async () => {
    const loc = await fx.location();
    const audit = new MemoryAuditSink();
    const aggMat = await material(agg1);
    const start = async (store: Store<unknown>) => startVenEndpoint({
      // Nothing listens on port 1: the VEN is not started, only its push endpoint serves.
      venName: 'AGG1', vtnUrl: 'https://127.0.0.1:1', material: aggMat, audit, store, autoStart: false,
      vtnCertificatePem: tso.certPem, push: { allowList: { participants: ['tso:TSO1'] } },
    });
    let store = await loc.open(openadrStoreMigrations);
    let ven = await start(store);
    const agent = new https.Agent({ keepAlive: false, ...clientTlsOptions(await material(tso), 'R1') });
    const push = async (body: string): Promise<number> => {
      const url = new URL(ven.pushUrl as string);
      return (await post(agent, Number(url.port), 'EiEvent', body)).code;
    };
    try {
      const signed = signPayload({ type: 'oadrResponse', eiResponse: { responseCode: 200, requestID: 'x' } }, { privateKeyPem: tso.keyPem, certificatePem: tso.certPem }, { clock: systemClock });
      assert.equal(await push(signed), 200);
      assert.equal(await push(signed), 463);
      await ven.close();
      await store.close();
      store = await loc.open(openadrStoreMigrations);
      ven = await start(store);
      assert.equal(await push(signed), 463, 'replay after the VEN restarted');
    } finally {
      agent.destroy();
      await ven.close();
      await store.close();
    }
  });

  test('two VTN engines on one database cannot both accept one nonce', async () => {
    const loc = await fx.location();
    // Two opens: on PostgreSQL two connection pools, as two worker processes would have.
    const storeA = await loc.open(openadrStoreMigrations);
    const storeB = await loc.open(openadrStoreMigrations);
    const peer: OadrPeer = { fingerprint: agg1.identity.fingerprint, id: 'AGG1', role: 'aggregator', certificatePem: () => agg1.certPem };
    const engine = async (store: Store<unknown>) => {
      const nonces = await StoreNonceCache.open(store, { scope: 'vtn:TSO1', windowMs: 300_000 }, Date.now());
      const vtn = new Vtn({ vtnID: 'TSO1', store: new StoreVtnStore(store, 'TSO1'), clock: systemClock, nonces, signatureMode: 'required' });
      await vtn.start();
      return { vtn, nonces };
    };
    const a = await engine(storeA);
    const key = { privateKeyPem: agg1.keyPem, certificatePem: agg1.certPem };
    const reg = signPayload({ type: 'oadrCreatePartyRegistration', requestID: 'r1', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: false }, key, { clock: systemClock });
    assert.equal(codeOf(await a.vtn.handle('EiRegisterParty', reg, peer)), 200);
    const b = await engine(storeB);
    assert.ok(b.vtn.registration('AGG1'), 'the second engine sees the registration');
    // Each payload reaches both engines at once; exactly one of them may accept it.
    const payloads = Array.from({ length: 40 }, (_, i) => signPayload({ type: 'oadrRequestEvent', requestID: `q${i}`, venID: 'AGG1' }, key, { clock: systemClock }));
    const answers = await Promise.all(payloads.flatMap((p) => [a.vtn.handle('EiEvent', p, peer), b.vtn.handle('EiEvent', p, peer)]));
    for (let i = 0; i < payloads.length; i++) {
      const pair = [codeOf(answers[2 * i] as string), codeOf(answers[2 * i + 1] as string)].sort();
      assert.deepEqual(pair, [200, 463], `payload ${i}: answers ${pair.join(', ')}`);
    }
    await a.nonces.flush();
    await b.nonces.flush();
    assert.equal(await rows(storeA, 'vtn:TSO1'), payloads.length + 1);
  });

  test('pruning keeps the table to the nonces of the window; a full cache refuses', async () => {
    const loc = await fx.location();
    const store = await loc.open(openadrStoreMigrations);
    const windowMs = 1000;
    const cache = await StoreNonceCache.open(store, { scope: 'vtn:P', windowMs }, T0);
    // One accepted payload every 50 ms for 60 s: at most what the last 2 windows plus one prune
    // interval hold may be in the table at any time.
    let max = 0;
    for (let t = T0, i = 0; t < T0 + 60_000; t += 50, i++) {
      assert.equal(cache.check(`n${i}`, t, t), true);
      assert.equal(await cache.confirm(`n${i}`), true);
      if (i % 20 === 0) max = Math.max(max, await rows(store, 'vtn:P'));
    }
    await cache.flush();
    assert.ok(max <= (3 * windowMs) / 50 + 1, `table held ${max} rows`);
    assert.ok(cache.size <= (3 * windowMs) / 50 + 1, `memory held ${cache.size} nonces`);
    // Reopened after the window: nothing of it is left.
    const later = await StoreNonceCache.open(store, { scope: 'vtn:P', windowMs }, T0 + 120_000);
    assert.equal(later.size, 0);
    assert.equal(await rows(store, 'vtn:P'), 0);

    const small = await StoreNonceCache.open(store, { scope: 'vtn:S', windowMs, maxEntries: 3 }, T0);
    for (const n of ['a', 'b', 'c']) assert.equal(small.check(n, T0, T0), true);
    assert.throws(() => small.check('d', T0 + 1, T0 + 1), (e: unknown) => e instanceof OadrError && e.responseCode === 469 && /holds 3 nonces/.test(e.message));
    assert.equal(small.check('d', T0 + windowMs + 1, T0 + windowMs + 1), true, 'accepted again once the window has passed');
    await small.flush();
  });

  test('a row whose window has passed is taken over; a live one is a replay; a failed write withdraws the claim', async () => {
    const loc = await fx.location();
    const store = await loc.open(openadrStoreMigrations);
    const a = await StoreNonceCache.open(store, { scope: 'vtn:X', windowMs: 1000 }, T0);
    const b = await StoreNonceCache.open(store, { scope: 'vtn:X', windowMs: 1000 }, T0);
    const other = await StoreNonceCache.open(store, { scope: 'vtn:Y', windowMs: 1000 }, T0);
    assert.equal(a.check('n', T0, T0), true);
    assert.equal(await a.confirm('n'), true);
    assert.equal(b.check('n', T0 + 500, T0 + 500), true, 'b has not seen it in memory');
    assert.equal(await b.confirm('n'), false, 'but the store says a holds it');
    assert.equal(other.check('n', T0 + 500, T0 + 500), true);
    assert.equal(await other.confirm('n'), true, 'scopes are separate');
    assert.equal(a.check('n', T0 + 3000, T0 + 3000), true);
    assert.equal(await a.confirm('n'), true, 'expired: a fresh claim');

    const gone = await loc.open(openadrStoreMigrations);
    const c = await StoreNonceCache.open(gone, { scope: 'vtn:Z', windowMs: 1000 }, T0);
    await gone.close();
    await store.close();
    assert.equal(c.check('m', T0, T0), true);
    await assert.rejects(Promise.resolve(c.confirm('m')), StoreUnavailableError);
    assert.equal(c.size, 0, 'a claim that could not be written is withdrawn');
  });
});
