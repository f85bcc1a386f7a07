/**
 * The OpenADR client transport's two time limits, against real listeners on loopback: a peer that
 * accepts the TCP connection and never starts TLS (a VTN worker killed while its connection was
 * being handed to it: docs/scale.md) is given up after the handshake limit, not the much longer
 * request limit; a VTN that completed the handshake and takes its time to answer is waited for
 * up to the request limit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { httpsTransport } from '../../../src/protocols/openadr/http.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { clientTlsOptions, createMutualTlsServer } from '../../../src/security/tls.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

describe('OpenADR HTTPS transport time limits', () => {
  let pki: PkiWorld;
  before(async () => {
    pki = await pkiWorld({ vtn: 'aggregator:AGG1', ven: 'gateway:GW1' }, { prefix: 'erab-oadr-http-' });
  });
  after(() => pki.close());

  it('a peer that never starts TLS is given up after the handshake limit, naming it', async () => {
    const held: Socket[] = [];
    const silent: Server = createServer((s) => { held.push(s); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const transport = httpsTransport(`https://127.0.0.1:${port}`, {
      tls: clientTlsOptions(await pki.material('ven'), 'R4', { checkHostname: false }),
      timeoutMs: 20_000,
      handshakeTimeoutMs: 400,
    });
    try {
      const t0 = Date.now();
      await assert.rejects(transport.post('EiEvent', '<x/>'), /EiEvent: no TLS handshake with 127\.0\.0\.1:\d+ within 400 ms/);
      const took = Date.now() - t0;
      assert.ok(took < 5000, `gave up after ${took} ms, not the 20 s request limit`);
      assert.equal(held.length, 1, 'the peer accepted the connection');
    } finally {
      transport.close();
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('a VTN that answers after longer than the handshake limit, within the request limit, is waited for, on a new and on a reused connection', async () => {
    const { server } = createMutualTlsServer({ material: await pki.material('vtn'), profile: 'R4', audit: new MemoryAuditSink(), allowList: { participants: ['gateway:GW1'] } }, (req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end('<ok/>'), 2500));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const transport = httpsTransport(`https://127.0.0.1:${port}`, {
      tls: clientTlsOptions(await pki.material('ven'), 'R4', { checkHostname: false, expect: { role: 'aggregator', id: 'AGG1' } }),
      // A handshake well inside its limit even on a loaded machine; an answer well past it.
      timeoutMs: 10_000,
      handshakeTimeoutMs: 1500,
      maxSockets: 1,
    });
    try {
      assert.equal(await transport.post('EiEvent', '<x/>'), '<ok/>');
      assert.equal(await transport.post('EiEvent', '<x/>'), '<ok/>');
    } finally {
      transport.close();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
