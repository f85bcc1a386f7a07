/**
 * The lean HTTP/1.1 layer of the VTN (protocols/openadr/http1.ts) on a real mutual-TLS socket,
 * driven with raw bytes: framing variants OpenADR clients use, and every malformed or hostile
 * framing answered with the right status and a closed connection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint, type RunningVtn } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { encodePayload } from '../../../src/protocols/openadr/payload.js';

let world: PkiWorld;
let ca: { certPem: string };
let ven: IssuedCertificate;
let running: RunningVtn;
let store: Store;
let audit: MemoryAuditSink;
// A VTN that accepts any number of chunks: shows the parser itself is linear, not just the chunk limit.
let lenient: RunningVtn;
let lenientStore: Store;
let material: TlsMaterial;

before(async () => {
  world = await pkiWorld({}, { prefix: 'erab-http1-' });
  ca = { certPem: world.caPem };
  const tso = await world.issue('tso', { role: 'tso', id: 'TSO1' });
  ven = await world.issue('ven', { role: 'gateway', id: 'GW1' });
  store = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  material = await world.material(tso);
  audit = new MemoryAuditSink();
  running = await startVtnEndpoint({ vtnID: 'TSO1', material, allowList: { roles: ['gateway'] }, audit, store, vtn: { vtnReports: false } });
  lenientStore = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  lenient = await startVtnEndpoint({
    vtnID: 'TSO1', material, allowList: { roles: ['gateway'] }, audit: new MemoryAuditSink(), store: lenientStore,
    vtn: { vtnReports: false }, http1: { maxChunkCount: 1 << 20 },
  });
});
after(() => world?.close());
after(async () => {
  await running.close();
  await store.close();
  await lenient.close();
  await lenientStore.close();
});

const poll = encodePayload({ type: 'oadrPoll', venID: 'GW1' });
const reg = encodePayload({ type: 'oadrCreatePartyRegistration', requestID: 'r', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: false });
const req = (body: string, extra = '', path = '/OpenADR2/Simple/2.0b/OadrPoll', method = 'POST'): string =>
  `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** Writes raw chunks, collects everything until the server closes or `untilResponses` responses arrived. */
function exchange(chunks: (string | Buffer)[], untilResponses = Infinity, ms = 20_000, port = running.port): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    let text = '';
    let closed = false;
    const s = tls.connect({ host: '127.0.0.1', port, cert: ven.certPem, key: ven.keyPem, ca: ca.certPem, servername: 'localhost' }, async () => {
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

/** A POST of `size` bytes of "A" in chunks of `chunk` bytes, as one buffer. */
function chunkedPost(size: number, chunk: number): Buffer {
  const parts: Buffer[] = [Buffer.from('POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')];
  const full = Buffer.from(`${chunk.toString(16)}\r\n${'A'.repeat(chunk)}\r\n`);
  for (let left = size; left > 0; left -= chunk) parts.push(left >= chunk ? full : Buffer.from(`${left.toString(16)}\r\n${'A'.repeat(left)}\r\n`));
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}
const in16k = (wire: Buffer): Buffer[] => Array.from({ length: Math.ceil(wire.length / 16384) }, (_, i) => wire.subarray(i * 16384, (i + 1) * 16384));

test('a 256 KB body in 1-byte chunks is parsed in linear time while another VEN keeps being answered', async () => {
  const wire = chunkedPost(256 * 1024, 1);
  const t0 = Date.now();
  // The attacker's body in 16 KB writes (what TLS records carry at most), the victim polling meanwhile.
  const attack = exchange(in16k(wire), 1, 30_000, lenient.port);
  const victim = (async () => {
    const lat: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = Date.now();
      const r = await exchange([req(poll)], 1, 20_000, lenient.port);
      lat.push(Date.now() - t);
      assert.deepEqual(statuses(r.text), [200]);
    }
    return lat;
  })();
  const [a, lat] = await Promise.all([attack, victim]);
  const ms = Date.now() - t0;
  assert.equal(statuses(a.text)[0], 200, a.text.slice(0, 200));
  assert.ok(ms < 5000, `the attack took ${ms} ms`);
  assert.ok(Math.max(...lat) < 2000, `a victim poll waited ${Math.max(...lat)} ms`);
});

test('with the default chunk limit, the same attack is refused with 413 at once, closed, and audited', async () => {
  const before = audit.records.length;
  const t0 = Date.now();
  const r = await exchange(in16k(chunkedPost(256 * 1024, 1)));
  assert.deepEqual(statuses(r.text), [413]);
  assert.match(r.text, /more than 4096 chunks/);
  assert.ok(r.closed);
  assert.ok(Date.now() - t0 < 5000);
  const rec = audit.records.slice(before).find((x) => x.action === 'http.refused');
  assert.ok(rec, 'an http.refused audit record');
  assert.equal(rec.outcome, 'refused');
  assert.equal(rec.actor.id, 'GW1');
  assert.equal(rec.actor.role, 'gateway');
  assert.equal(rec.details?.status, 413);
  assert.equal(rec.details?.code, 'request_refused');
  assert.match(rec.reason ?? '', /more than 4096 chunks/);
});

test('a 15 MB body in 16 KB chunks is drained in linear time, answered 454, and the connection serves a poll', async () => {
  const t0 = Date.now();
  const r = await exchange([...in16k(chunkedPost(15 * 1024 * 1024, 16 * 1024)), req(poll)], 2, 60_000);
  assert.deepEqual(statuses(r.text), [200, 200]);
  assert.match(r.text, /<ei:responseCode>454<\/ei:responseCode>[^]*<ei:responseCode>200<\/ei:responseCode>/);
  assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
});

test('each refused framing gets its status over TLS, the connection closes, and it is audited with the status', async () => {
  const P = 'POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nHost: x\r\n';
  const cases: [string, string, number][] = [
    ['POST without framing', `${P}\r\n`, 411],
    ['Content-Length over the hard limit', `${P}Content-Length: 999999999\r\n\r\n`, 413],
    ['chunk size over the hard limit', `${P}Transfer-Encoding: chunked\r\n\r\nfffffffff\r\n`, 413],
    ['chunk-size line too long', `${P}Transfer-Encoding: chunked\r\n\r\n1;${'a'.repeat(5000)}\r\n`, 413],
    ['unsupported expectation', `${P}Expect: magic\r\nContent-Length: 1\r\n\r\nA`, 417],
    ['head too large', `${P}X: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ['too many header fields', `${P}${'X-A: 1\r\n'.repeat(101)}Content-Length: 1\r\n\r\nA`, 431],
    ['unknown transfer coding', `${P}Transfer-Encoding: gzip, chunked\r\n\r\n1\r\nA\r\n0\r\n\r\n`, 501],
    ['HTTP/2.0 request line', 'POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/2.0\r\nHost: x\r\nContent-Length: 1\r\n\r\nA', 505],
    ['bare LF', 'POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\nHost: x\nContent-Length: 1\n\nA', 400],
    ['obs-fold', `${P}X: a\r\n b\r\nContent-Length: 1\r\n\r\nA`, 400],
    ['chunked not last', `${P}Transfer-Encoding: chunked, gzip\r\n\r\n`, 400],
    ['chunked in HTTP/1.0', 'POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n\r\n', 400],
    ['no Host in HTTP/1.1', 'POST /OpenADR2/Simple/2.0b/OadrPoll HTTP/1.1\r\nContent-Length: 1\r\n\r\nA', 400],
    ['chunk data not followed by CRLF', `${P}Transfer-Encoding: chunked\r\n\r\n1\r\nAB\r\n0\r\n\r\n`, 400],
    ['space in chunk size', `${P}Transfer-Encoding: chunked\r\n\r\n1 \r\nA\r\n0\r\n\r\n`, 400],
  ];
  for (const [what, raw, status] of cases) {
    const before = audit.records.length;
    // Split in two writes: the parser must not depend on what arrives together.
    const r = await exchange([raw.slice(0, 20), raw.slice(20)]);
    assert.deepEqual(statuses(r.text), [status], `${what}: ${r.text.slice(0, 200)}`);
    assert.ok(r.closed, `${what}: connection closed`);
    const rec = audit.records.slice(before).find((x) => x.action === 'http.refused');
    assert.equal(rec?.details?.status, status, `${what}: audited`);
  }
});

test('refusal audit records are rate-limited per source address like TLS refusals', async () => {
  const sink = new MemoryAuditSink();
  const s = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const v = await startVtnEndpoint({ vtnID: 'TSO1', material, allowList: { roles: ['gateway'] }, audit: sink, store: s, vtn: { vtnReports: false } });
  try {
    for (let i = 0; i < 64; i++) {
      const r = await exchange(['GARBAGE\r\n\r\n'], Infinity, 20_000, v.port);
      assert.deepEqual(statuses(r.text), [400]);
    }
    // The authenticator's default: 60 records per address and minute, the rest counted as suppressed.
    assert.equal(sink.records.filter((x) => x.action === 'http.refused').length, 60);
  } finally {
    await v.close();
    await s.close();
  }
});
