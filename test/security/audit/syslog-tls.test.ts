/**
 * Audit export to a syslog collector over mutual TLS (RFC 5425) across a real socket, with
 * certificates made by erab's PKI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { clientTlsOptions, serverTlsOptions, type TlsMaterial } from '../../../src/security/tls.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords, toSyslog } from '../../../src/security/audit/export.js';
import { octetCountingFrame, parseOctetCountingFrames, sendSyslogOverTls } from '../../../src/security/audit/syslog-tls.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

describe('syslog over TLS (RFC 5425)', () => {
  let root: string;
  let world: PkiWorld;
  let otherWorld: PkiWorld;
  let collector: tls.Server;
  let port: number;
  const received: string[] = [];
  const peers: string[] = [];
  let client: TlsMaterial;
  let stranger: TlsMaterial;
  let logDir: string;

  before(async () => {
    world = await pkiWorld({ siem: 'operator:siem-1', agg: 'aggregator:AGG1' }, { prefix: 'erab-audit-syslog-' });
    root = world.dir;
    otherWorld = await pkiWorld({ foreign: 'aggregator:AGG1' }, { prefix: 'erab-audit-syslog-other-' });
    const serverMaterial = await world.material('siem');
    client = await world.material('agg');
    stranger = await otherWorld.material('foreign');
    // A minimal collector: only authenticated peers (chain verified by OpenSSL against our CA).
    collector = tls.createServer(serverTlsOptions(serverMaterial, 'syslog'), (socket) => {
      if (!socket.authorized) {
        socket.destroy();
        return;
      }
      peers.push(socket.getPeerCertificate().subjectaltname ?? '');
      let buf: Buffer = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => {
        const parsed = parseOctetCountingFrames(Buffer.concat([buf, d]));
        received.push(...parsed.messages);
        buf = parsed.rest;
      });
      socket.on('error', () => {});
    });
    collector.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    port = (collector.address() as AddressInfo).port;

    logDir = join(root, 'audit');
    const log = AuditLog.open({ dir: logDir, origin: 'erab.test/agg-1/audit' });
    for (let i = 0; i < 300; i++) {
      log.append({ actor: { kind: 'peer', id: `ven-${i}`, fingerprint: '01:02' }, action: 'openadr.poll', target: 'line\nbreak ] "quoted"', outcome: i % 3 ? 'success' : 'refused', reason: '日本語の理由' });
    }
    log.close();
  });

  after(async () => {
    await new Promise<void>((resolve) => collector.close(() => resolve()));
    world?.close();
    otherWorld?.close();
  });

  it('frames are MSG-LEN SP SYSLOG-MSG with the length in octets, and parse back across chunk boundaries', () => {
    assert.equal(octetCountingFrame('abc').toString(), '3 abc');
    assert.equal(octetCountingFrame('é').toString(), '2 é');
    const stream = Buffer.concat([octetCountingFrame('<14>1 - - - - - - one'), octetCountingFrame('<14>1 - - - - - - twö')]);
    const a = parseOctetCountingFrames(stream.subarray(0, 30));
    const b = parseOctetCountingFrames(Buffer.concat([a.rest, stream.subarray(30)]));
    assert.deepEqual([...a.messages, ...b.messages], ['<14>1 - - - - - - one', '<14>1 - - - - - - twö']);
    assert.equal(b.rest.length, 0);
    assert.throws(() => parseOctetCountingFrames(Buffer.from('007 abc')), /MSG-LEN/);
  });

  it('every record reaches the collector as one RFC 5424 message over mutual TLS', async () => {
    received.length = 0;
    const msgs = [...readRecords(logDir)].map((r) => toSyslog(r.record!, { hostname: 'agg-1', facility: 'local0' }));
    const sent = await sendSyslogOverTls(msgs, { host: '127.0.0.1', port, tls: clientTlsOptions(client, 'syslog', { expect: { role: 'operator', id: 'siem-1' } }) });
    assert.equal(sent, 300);
    // the collector reads until our close_notify; wait for the last frame
    for (let i = 0; i < 200 && received.length < 300; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(received, msgs);
    assert.match(peers[peers.length - 1]!, /urn:erab:aggregator:AGG1/);
    for (const m of received) {
      assert.doesNotMatch(m, /\n/);
      assert.match(m, /^<(132|134)>1 \S+ agg-1 erab - openadr\.poll \[erab@32473 /);
      assert.ok(m.includes('target="line\\nbreak \\] \\"quoted\\""'), m);
    }
    assert.ok(received[0]!.includes('\uFEFF'), 'a non-ASCII MSG carries the UTF-8 BOM (RFC 5424 §6.4)');
  });

  it('a collector that is not the expected participant, or a client from another CA, is refused', async () => {
    await assert.rejects(
      sendSyslogOverTls(['<14>1 - - - - - - x'], { host: '127.0.0.1', port, tls: clientTlsOptions(client, 'syslog', { expect: { id: 'siem-2' } }), timeoutMs: 20_000 }),
      (e: unknown) => e instanceof Error && /syslog over TLS .*siem-2|expected id siem-2/.test(e.message),
    );
    const before = received.length;
    await assert.rejects(
      sendSyslogOverTls(['<14>1 - - - - - - from a stranger'], { host: '127.0.0.1', port, tls: clientTlsOptions(stranger, 'syslog', { checkHostname: true }), timeoutMs: 20_000 }),
      (e: unknown) => e instanceof Error && /syslog over TLS/.test(e.message),
    );
    assert.equal(received.length, before);
  });
});
