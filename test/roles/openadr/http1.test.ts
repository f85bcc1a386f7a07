/**
 * The lean HTTP/1.1 layer of the VTN (protocols/openadr/http1.ts) on a real mutual-TLS socket,
 * driven with raw bytes: framing variants OpenADR clients use, and every malformed or hostile
 * framing answered with the right status and a closed connection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { CertificateAuthority, type IssuedCertificate } from '../../../src/security/pki/index.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/roles/openadr/store.js';
import { startOpenadrVtn, type RunningVtn } from '../../../src/roles/openadr/vtn-server.js';
import { encodePayload } from '../../../src/protocols/openadr/payload.js';

let ca: CertificateAuthority;
let ven: IssuedCertificate;
let running: RunningVtn;
let store: Store;

before(async () => {
  ca = await CertificateAuthority.create();
  const tso = await ca.issue({ role: 'tso', id: 'TSO1' });
  ven = await ca.issue({ role: 'gateway', id: 'GW1' });
  store = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  running = await startOpenadrVtn({
    vtnID: 'TSO1', material: await TlsMaterial.fromPem({ credentials: [{ certPem: tso.certPem, keyPem: tso.keyPem }], caPem: ca.certPem }),
    allowList: { roles: ['gateway'] }, audit: new MemoryAuditSink(), store, vtn: { vtnReports: false },
  });
});
after(async () => {
  await running.close();
  await store.close();
});

const poll = encodePayload({ type: 'oadrPoll', venID: 'GW1' });
const reg = encodePayload({ type: 'oadrCreatePartyRegistration', requestID: 'r', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: false });
const req = (body: string, extra = '', path = '/OpenADR2/Simple/2.0b/OadrPoll', method = 'POST'): string =>
  `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** Writes raw chunks, collects everything until the server closes or `untilResponses` responses arrived. */
function exchange(chunks: (string | Buffer)[], untilResponses = Infinity, ms = 20_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    let text = '';
    let closed = false;
    const s = tls.connect({ host: '127.0.0.1', port: running.port, cert: ven.certPem, key: ven.keyPem, ca: ca.certPem, servername: 'localhost' }, async () => {
      for (const c of chunks) {
        s.write(c);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(done, ms);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      text += d;
      if ((text.match(/HTTP\/1\.1 [2-5]\d\d/g) ?? []).length >= untilResponses && /<\/oadr:oadrPayload>$|\n$/.test(text)) done();
    });
    s.on('close', () => { closed = true; done(); });
    s.on('error', reject);
  });
}
const statuses = (t: string): number[] => [...t.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

test('registration, then keep-alive, pipelined requests answered in order', async () => {
  const r = await exchange([req(reg, '', '/OpenADR2/Simple/2.0b/EiRegisterParty')], 1);
  assert.deepEqual(statuses(r.text), [200]);
  assert.match(r.text, /<ei:venID>GW1<\/ei:venID>/);
  const p = await exchange([req(poll) + req(poll) + req(poll)], 3);
  assert.deepEqual(statuses(p.text), [200, 200, 200]);
  assert.equal((p.text.match(/<ei:responseCode>200<\/ei:responseCode>/g) ?? []).length, 3);
});

test('chunked body, Expect: 100-continue, HTTP/1.0 and Connection: close', async () => {
  const b = Buffer.from(poll);
  const chunked = `POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${(100).toString(16)}\r\n${b.subarray(0, 100).toString()}\r\n${(b.length - 100).toString(16)};ext=1\r\n${b.subarray(100).toString()}\r\n0\r\n\r\n`;
  const c = await exchange([chunked.slice(0, 70), chunked.slice(70)], 1);
  assert.deepEqual(statuses(c.text), [200]);
  assert.match(c.text, /<ei:responseCode>200</);
  const e = await exchange([`POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${b.length}\r\n\r\n`, poll], 1);
  assert.match(e.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
  const h10 = await exchange([`POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.0\r\nContent-Length: ${b.length}\r\n\r\n${poll}`]);
  assert.deepEqual(statuses(h10.text), [200]);
  assert.ok(h10.closed);
  const close = await exchange([req(poll, 'Connection: close\r\n')]);
  assert.match(close.text, /connection: close/);
  assert.ok(close.closed);
});

test('malformed framing: 400/404/405/413/431 and the connection is closed where the stream is unusable', async () => {
  const bad = await exchange(['GARBAGE\r\n\r\n']);
  assert.deepEqual(statuses(bad.text), [400]);
  assert.ok(bad.closed);
  const smuggle = await exchange([`POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`]);
  assert.deepEqual(statuses(smuggle.text), [400]);
  const twoLengths = await exchange([`POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n12345`]);
  assert.deepEqual(statuses(twoLengths.text), [400]);
  const nf = await exchange([req(poll, '', '/nope') + req(poll)], 2);
  assert.deepEqual(statuses(nf.text), [404, 200]);
  const get = await exchange([req('', '', '/OpenADR2/Simple/2.0b/OadrPoll', 'GET') + req(poll)], 2);
  assert.deepEqual(statuses(get.text), [405, 200]);
  const huge = await exchange([`POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n`]);
  assert.deepEqual(statuses(huge.text), [413]);
  const head = await exchange([`POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nX: ${'a'.repeat(20_000)}`]);
  assert.deepEqual(statuses(head.text), [431]);
  const chunkBad = await exchange([`POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`]);
  assert.deepEqual(statuses(chunkBad.text), [400]);
});

test('an oversize body is drained and answered with 454 in eiResponse; the same connection then serves a poll', async () => {
  const big = `<x>${'A'.repeat(2 * 1024 * 1024)}</x>`;
  const r = await exchange([req(big), req(poll)], 2, 60_000);
  assert.deepEqual(statuses(r.text), [200, 200]);
  assert.match(r.text, /<ei:responseCode>454<\/ei:responseCode>[^]*<ei:responseCode>200<\/ei:responseCode>/);
  assert.equal(r.closed, false);
});
