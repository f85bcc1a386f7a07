/**
 * Durable replay protection (issue 11, item 4): the ReplayProtect nonces a verifier accepted
 * survive a restart, in the role's own store (SQLite and PostgreSQL), stay bounded by the
 * validity window, and two verifiers sharing one database cannot both accept one nonce.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import { CertificateAuthority, type IssuedCertificate } from '../../../src/security/pki/index.js';
import { TlsMaterial, clientTlsOptions } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { systemClock } from '../../../src/core/clock.js';
import { openadrStoreMigrations } from '../../../src/roles/openadr/store.js';
import { startOpenadrVtn } from '../../../src/roles/openadr/vtn-server.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import { signPayload } from '../../../src/protocols/openadr/signature.js';
import { describeEachEngine } from '../../store/harness.js';

let ca: CertificateAuthority;
let tso: IssuedCertificate;
let agg1: IssuedCertificate;

before(async () => {
  ca = await CertificateAuthority.create();
  tso = await ca.issue({ role: 'tso', id: 'TSO1' });
  agg1 = await ca.issue({ role: 'aggregator', id: 'AGG1' });
});

const material = (c: IssuedCertificate) => TlsMaterial.fromPem({ credentials: [{ certPem: c.certPem, keyPem: c.keyPem }], caPem: ca.certPem });

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

describeEachEngine('durable replay protection', (fx) => {
  test('a signed payload replayed to a restarted VTN within the window is refused with 463', async () => {
    const loc = await fx.location();
    const audit = new MemoryAuditSink();
    const allowList = { participants: ['aggregator:AGG1'] };
    const tsoMat = await material(tso);
    let store = await loc.open(openadrStoreMigrations);
    let running = await startOpenadrVtn({ vtnID: 'TSO1', material: tsoMat, allowList, audit, store, vtn: { signatureMode: 'required' } });
    const agent = new https.Agent({ keepAlive: false, ...clientTlsOptions(await material(agg1), 'R1') });
    const key = { privateKeyPem: agg1.keyPem, certificatePem: agg1.certPem };
    try {
      const reg = signPayload({ type: 'oadrCreatePartyRegistration', requestID: 'r1', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: true }, key, { clock: systemClock });
      assert.equal((await post(agent, running.port, 'EiRegisterParty', reg)).code, 200);
      const signed = signPayload({ type: 'oadrRequestEvent', requestID: 'q1', venID: 'AGG1' }, key, { clock: systemClock });
      assert.equal((await post(agent, running.port, 'EiEvent', signed)).code, 200, 'the first delivery is accepted');
      const again = await post(agent, running.port, 'EiEvent', signed);
      assert.equal(again.code, 463, 'a replay within one run is refused');

      // Stop the VTN and its store, start it again on the same database, replay: still refused.
      await running.close();
      await store.close();
      store = await loc.open(openadrStoreMigrations);
      running = await startOpenadrVtn({ vtnID: 'TSO1', material: tsoMat, allowList, audit, store, port: running.port, vtn: { signatureMode: 'required' } });
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
});
