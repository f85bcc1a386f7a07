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
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { join } from 'node:path';
import { httpsTransport } from '../../src/protocols/openadr/http.js';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import type { PkiStore, StoredCertificate } from '../../src/security/pki/index.js';
import { clientTlsOptions, createMutualTlsServer, guardClientSocket, loadTlsMaterial, setTlsLogger, type TlsMaterial } from '../../src/security/tls.js';
import { silentLogger } from '../../src/core/logger.js';
import { request, startEchoServer, type RunningServer } from './tls-helpers.js';
import { pkiWorld, waitFor, type PkiWorld } from '../kit/index.js';

/** The kit's waitFor, budget first: polls `cond` every 20 ms; throws naming `what` after `ms`. */
const within = (ms: number, what: string, cond: () => boolean): Promise<unknown> => waitFor(cond, { what, timeoutMs: ms, intervalMs: 20 });

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
  let world: PkiWorld;
  let pki: PkiStore;
  let certs: Record<string, StoredCertificate> = {};

  before(async () => {
    world = await pkiWorld({
      vtn: 'tso:TSO1', agg1: 'aggregator:AGG1', agg2: 'aggregator:AGG2', vtn2: 'retailer:RET1', agg3: 'aggregator:AGG3',
    }, { prefix: 'erab-revocation-' });
    pki = world.store;
    certs = world.certs;
  });
  after(() => world?.close());

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

  it('client: resumed sessions (where node skips checkServerIdentity) are checked too: an open one is closed, a new one refused', async () => {
    // Issued after the earlier revocations so this test does not depend on their order.
    const srvCert = await pki.issue({ role: 'tso', id: 'TSO-RESUME' });
    const cliCert = await pki.issue({ role: 'aggregator', id: 'AGG-RESUME' });
    const srvMaterial = await loadTlsMaterial(srvCert.files);
    let served = 0;
    const { server } = createMutualTlsServer({ material: srvMaterial, profile: 'R1', audit: new MemoryAuditSink(), allowList: { participants: ['aggregator:AGG-RESUME'] } }, (_req, res) => { served++; res.end('{}'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const material: TlsMaterial = await loadTlsMaterial(cliCert.files);
    const clientAudit = new MemoryAuditSink();
    const opts = clientTlsOptions(material, 'R1', { audit: clientAudit, expect: { role: 'tso', id: 'TSO-RESUME' } });
    /** A connection resuming `session`, guarded, that has made one keep-alive request (or failed). */
    const resume = (session: Buffer) => new Promise<{ socket: tls.TLSSocket; reused: boolean; closed: Promise<string | undefined> }>((resolve) => {
      let reused = false;
      let error: string | undefined;
      let answered = false;
      const socket = tls.connect({ host: '127.0.0.1', port, ...opts, session }, () => {
        reused = socket.isSessionReused();
        socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      guardClientSocket(opts, socket);
      socket.on('error', (e) => { error = e.message; });
      const closed = new Promise<string | undefined>((r) => socket.on('close', () => r(error)));
      socket.on('data', () => { if (!answered) { answered = true; resolve({ socket, reused, closed }); } });
      void closed.then(() => { if (!answered) resolve({ socket, reused, closed }); });
    });
    try {
      const first = await request(port, opts);
      assert.equal(first.status, 200);
      assert.ok(first.session, 'a session ticket to resume');

      const open = await resume(first.session!);
      assert.equal(open.reused, true, 'the session was resumed, so checkServerIdentity did not run');
      assert.equal(served, 2);
      const revokedBefore = material.crlStatus.revoked;
      await pki.revoke({ role: 'tso', id: 'TSO-RESUME' });
      await within(2000, 'the client reloaded its CRL', () => material.crlStatus.revoked > revokedBefore);
      assert.match((await open.closed) ?? '', /revoked/, 'the open resumed connection is closed');

      const again = await resume(first.session!);
      assert.match((await again.closed) ?? '', /revoked/, 'resuming a session with the revoked server is refused');
      assert.equal(served, 2, 'nothing was answered after the revocation');
      const closed = clientAudit.records.filter((r) => r.action === 'tls.connection_closed');
      assert.equal(closed.length, 2);
      assert.ok(closed.every((r) => r.actor.id === 'TSO-RESUME'));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('a CRL past its nextUpdate is visible on the material and logged at level error (50) at load and on reload', async () => {
    const lines: { level: number; msg: string; stale?: boolean; crlNumber?: string }[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb(); } });
    setTlsLogger(pino({ level: 'info' }, sink));
    try {
      const w = await pkiWorld({ leaf: 'tso:TSO-STALE' }, { prefix: 'erab-stale-' });
      const ca = await w.authority();
      const f = { ...w.tlsFiles('leaf'), crlFile: join(w.dir, 'crl.pem') };
      writeFileSync(f.crlFile, await ca.signCrl([], { crlNumber: 7, days: 1, thisUpdate: new Date(Date.now() - 2 * 86_400_000) }));
      const m = await loadTlsMaterial(f);
      assert.equal(m.crlStatus.stale, true);
      assert.equal(m.crlStatus.crlNumber, '7');
      assert.ok(m.crlStatus.ageMs! > 86_400_000);
      await new Promise((r) => setImmediate(r));
      const atLoad = lines.find((l) => l.crlNumber === '7');
      assert.equal(atLoad?.level, 50, JSON.stringify(lines));
      assert.match(atLoad!.msg, /past its nextUpdate/);

      writeFileSync(f.crlFile, await ca.signCrl([], { crlNumber: 8, days: 1 }));
      await m.reloadCrl(undefined, { trigger: 'api' });
      assert.equal(m.crlStatus.stale, false);
      await new Promise((r) => setImmediate(r));
      assert.equal(lines.find((l) => l.crlNumber === '8')?.level, 30);
      w.close();
    } finally {
      setTlsLogger(silentLogger);
    }
  });
});
