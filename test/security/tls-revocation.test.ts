/**
 * Live revocation across real sockets, with certificates and CRLs from erab's own PKI on disk:
 * `pki.revoke` (what `erab pki revoke` runs) rewrites crl.pem while a peer is connected, and
 * within 2 s the running listener (or client) closes that connection, refuses the next
 * handshake, and has audited the reload and the closed connection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpsTransport } from '../../src/protocols/openadr/http.js';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { initCa, type PkiStore, type StoredCertificate } from '../../src/security/pki/index.js';
import { clientTlsOptions, createMutualTlsServer, loadTlsMaterial, type TlsMaterial } from '../../src/security/tls.js';
import { request, startEchoServer, type RunningServer } from './tls-helpers.js';

/** Polls `cond` every 20 ms; throws naming `what` after `ms`. */
async function within(ms: number, what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A keep-alive TLS connection that has made one HTTP request and stays open. */
function openKeepAlive(port: number, options: tls.ConnectionOptions): Promise<{ socket: tls.TLSSocket; closed: () => boolean; firstReply: string }> {
  return new Promise((resolve, reject) => {
    let closed = false;
    let data = '';
    const socket = tls.connect({ host: '127.0.0.1', port, ...options }, () => {
      socket.write('GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
    });
    socket.on('data', (c: Buffer) => {
      data += c.toString('utf8');
      if (/\r\n\r\n[^]*\}/.test(data)) resolve({ socket, closed: () => closed, firstReply: data });
    });
    socket.on('error', (e) => { if (!data) reject(e); });
    socket.on('close', () => { closed = true; });
  });
}

describe('live revocation (CRL file rewritten by the PKI while peers are connected)', () => {
  let dir: string;
  let pki: PkiStore;
  const certs: Record<string, StoredCertificate> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'erab-revocation-'));
    pki = await initCa({ dir });
    certs.vtn = await pki.issue({ role: 'tso', id: 'TSO1' });
    certs.agg1 = await pki.issue({ role: 'aggregator', id: 'AGG1' });
    certs.agg2 = await pki.issue({ role: 'aggregator', id: 'AGG2' });
    certs.vtn2 = await pki.issue({ role: 'retailer', id: 'RET1' });
    certs.agg3 = await pki.issue({ role: 'aggregator', id: 'AGG3' });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('server: revoking a connected peer closes its connection and refuses its next handshake within 2 s, audited', async () => {
    const audit = new MemoryAuditSink();
    const vtnMaterial = await loadTlsMaterial(certs.vtn!.files); // crlFile: <pki>/crl.pem
    const srv: RunningServer = await startEchoServer({
      material: vtnMaterial, profile: 'R1', audit, listener: 'tso:R1',
      allowList: { participants: ['aggregator:AGG1', 'aggregator:AGG2'] },
    });
    try {
      const agg1 = await loadTlsMaterial(certs.agg1!.files);
      const agg2 = await loadTlsMaterial(certs.agg2!.files);
      const opts1 = clientTlsOptions(agg1, 'R1', { expect: { role: 'tso', id: 'TSO1' } });
      const conn = await openKeepAlive(srv.port, opts1);
      assert.match(conn.firstReply, /"id":"AGG1"/);
      const bystander = await openKeepAlive(srv.port, clientTlsOptions(agg2, 'R1', { expect: { role: 'tso', id: 'TSO1' } }));

      const revokedAt = Date.now();
      await pki.revoke({ role: 'aggregator', id: 'AGG1' }, 'keyCompromise');
      await within(2000, 'the open connection of the revoked peer is closed', () => conn.closed());
      const tookMs = Date.now() - revokedAt;
      assert.ok(tookMs < 2000, `closed after ${tookMs} ms`);

      const again = await request(srv.port, opts1);
      assert.equal(again.status, undefined, 'a revoked peer gets no HTTP answer');
      const refused = audit.records.filter((r) => r.action === 'tls.refused' && r.actor.id === 'AGG1');
      assert.equal(refused.length, 1);
      assert.equal(refused[0]!.details?.code, 'revoked');

      // The other peer is untouched.
      assert.equal(bystander.closed(), false);
      bystander.socket.destroy();

      const reloads = audit.records.filter((r) => r.action === 'tls.crl_reloaded');
      assert.ok(reloads.length >= 1, 'the reload is audited');
      const d = reloads.at(-1)!.details as Record<string, unknown>;
      assert.equal(d.revoked, 1);
      assert.equal(d.crlNumber, '2'); // initCa wrote #1, the revoke #2
      assert.equal(typeof d.thisUpdate, 'string');
      assert.equal(typeof d.nextUpdate, 'string');
      const closed = audit.records.filter((r) => r.action === 'tls.connection_closed');
      assert.equal(closed.length, 1, 'exactly the revoked peer\'s connection is closed');
      assert.equal(closed[0]!.actor.id, 'AGG1');
      assert.equal(closed[0]!.target, 'tso:R1');
      assert.match(closed[0]!.reason ?? '', /revoked/);

      // The CRL's age is visible on the material.
      const st = vtnMaterial.crlStatus;
      assert.equal(st.revoked, 1);
      assert.equal(st.crlNumber, '2');
      assert.equal(st.stale, false);
      assert.ok(st.ageMs !== undefined && st.ageMs >= 0 && st.ageMs < 60_000);
    } finally {
      await srv.close();
    }
  });

  it('server: a CRL that fails to load keeps the old list in force and the failure is audited', async () => {
    const audit = new MemoryAuditSink();
    const m = await loadTlsMaterial(certs.vtn!.files);
    const before = m.crlStatus;
    const { server } = createMutualTlsServer({ material: m, profile: 'R1', audit, allowList: { participants: ['aggregator:AGG2'] } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await assert.rejects(m.reloadCrl('-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n'), /CRL/);
      const failed = audit.records.filter((r) => r.action === 'tls.crl_reload_failed');
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.outcome, 'failure');
      assert.equal(m.crlStatus.crlNumber, before.crlNumber);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('client: a keep-alive VEN transport drops its connection to a server whose certificate is revoked, and cannot reconnect', async () => {
    const serverAudit = new MemoryAuditSink();
    const clientAudit = new MemoryAuditSink();
    const retailer = await loadTlsMaterial(certs.vtn2!.files);
    let open = 0;
    let closedByClient = 0;
    const { server } = createMutualTlsServer({ material: retailer, profile: 'R2', audit: serverAudit, allowList: { participants: ['aggregator:AGG3'] } }, (req, res) => {
      req.resume();
      req.on('end', () => res.end('<ok/>'));
    });
    server.on('secureConnection', (s: tls.TLSSocket) => {
      open++;
      s.on('close', () => { open--; closedByClient++; });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const agg3 = await loadTlsMaterial(certs.agg3!.files);
    const transport = httpsTransport(`https://127.0.0.1:${port}`, {
      tls: clientTlsOptions(agg3, 'R2', { audit: clientAudit, expect: { role: 'retailer', id: 'RET1' } }),
      maxSockets: 1,
    });
    try {
      assert.equal(await transport.post('EiEvent', '<x/>'), '<ok/>');
      assert.equal(open, 1, 'one keep-alive connection is open');
      await pki.revoke({ role: 'retailer', id: 'RET1' }, 'keyCompromise');
      await within(2000, 'the client closed its connection to the revoked server', () => closedByClient === 1);
      await assert.rejects(transport.post('EiEvent', '<x/>'), /revoked/);
      const closed = clientAudit.records.filter((r) => r.action === 'tls.connection_closed');
      assert.equal(closed.length, 1);
      assert.equal(closed[0]!.actor.id, 'RET1');
      assert.ok(clientAudit.records.some((r) => r.action === 'tls.crl_reloaded'), 'the client audits the reload');
    } finally {
      transport.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('an https.Agent session resumed with a revoked server is still closed (resumption skips checkServerIdentity)', async () => {
    // Issued after the earlier revocations so this test does not depend on their order.
    const srvCert = await pki.issue({ role: 'tso', id: 'TSO-RESUME' });
    const cliCert = await pki.issue({ role: 'aggregator', id: 'AGG-RESUME' });
    const srvMaterial = await loadTlsMaterial(srvCert.files);
    const { server } = createMutualTlsServer({ material: srvMaterial, profile: 'R1', audit: new MemoryAuditSink(), allowList: { participants: ['aggregator:AGG-RESUME'] } }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const material: TlsMaterial = await loadTlsMaterial(cliCert.files);
    const transport = httpsTransport(`https://127.0.0.1:${port}`, { tls: clientTlsOptions(material, 'R1'), maxSockets: 1 });
    try {
      assert.equal(await transport.post('EiEvent', '<x/>'), 'ok');
      await pki.revoke({ role: 'tso', id: 'TSO-RESUME' });
      await within(2000, 'the client refuses the revoked server', () => material.crlStatus.revoked >= 3);
      await assert.rejects(transport.post('EiEvent', '<x/>'), /revoked|socket hang up|ECONNRESET/);
    } finally {
      transport.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
