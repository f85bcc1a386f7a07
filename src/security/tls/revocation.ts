/**
 * Live revocation: what a listener or a client does when its material's CRL changes (a file
 * rewritten by `erab pki revoke`, SIGHUP, an API call; see material.ts for the watching).
 *
 * - Each reload, successful or not, is audited once per material and audit sink
 *   ("tls.crl_reloaded" / "tls.crl_reload_failed", with the CRL number, thisUpdate, nextUpdate
 *   and the number of revoked serials).
 * - A listener keeps the set of its authenticated sockets and, after each change, closes those
 *   whose peer certificate is now revoked ("tls.connection_closed"). New handshakes are already
 *   checked against the fresh list by the authenticator.
 * - A client does the same for its connections to servers: a socket handed to
 *   {@link guardClientSocket} is checked when its handshake completes (also when a session was
 *   resumed, where node skips checkServerIdentity) and after every change.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { AuditSink } from '../audit/types.js';
import { normalizeSerial, participantFromSubjectAltName } from '../identity.js';
import type { RevocationInfo } from '../pki/crl.js';
import { peerOf } from './authenticator.js';
import { crlStatusDetails, type TlsMaterial } from './material.js';

const audited = new WeakMap<TlsMaterial, WeakSet<AuditSink>>();

/**
 * Records every CRL reload of `material` in `audit`, once per (material, sink) pair however many
 * listeners and clients share them. Lasts as long as the material.
 */
export function auditCrlReloads(material: TlsMaterial, audit: AuditSink): void {
  let sinks = audited.get(material);
  if (!sinks) audited.set(material, (sinks = new WeakSet()));
  if (sinks.has(audit)) return;
  sinks.add(audit);
  material.onCrlReload((e) => {
    const actor = { kind: 'system' as const, id: `${material.identity.role}:${material.identity.id}` };
    if (e.ok) {
      audit.append({
        actor,
        action: 'tls.crl_reloaded',
        target: e.status.source,
        outcome: 'success',
        details: { trigger: e.trigger, ...crlStatusDetails(e.status), ...(e.previous.crlNumber !== undefined ? { previousCrlNumber: e.previous.crlNumber } : {}) },
      });
    } else {
      audit.append({
        actor,
        action: 'tls.crl_reload_failed',
        target: e.status.source,
        outcome: 'failure',
        reason: `${e.error.message.slice(0, 300)}; the previous CRL stays in force`,
        details: { trigger: e.trigger, inForce: crlStatusDetails(e.status) },
      });
    }
  });
}

function revokedReason(serial: string, r: RevocationInfo): string {
  return `certificate ${serial} revoked ${r.revokedAt.toISOString()}${r.reason ? ` (${r.reason})` : ''}`;
}

function addressOf(socket: TLSSocket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}

/**
 * Live revocation for one listener: while it listens, watches the material's CRL, audits
 * reloads, and closes authenticated connections whose peer is revoked by a new list. Returns the
 * function that registers each authenticated socket (guardServer calls it).
 */
export function enforceRevocationOnListener(
  server: { on(event: 'listening' | 'close', fn: () => void): unknown; listening: boolean },
  material: TlsMaterial,
  audit: AuditSink,
  listener: string,
): (socket: TLSSocket) => void {
  const open = new Set<TLSSocket>();
  let stop: (() => void) | undefined;

  const recheck = (): void => {
    const list = material.revocation;
    for (const socket of open) {
      const peer = peerOf(socket);
      const hit = peer ? list.lookup(peer.serial) : undefined;
      if (!peer || !hit) continue;
      open.delete(socket);
      audit.append({
        actor: { kind: 'peer', id: peer.id, role: peer.role, fingerprint: peer.fingerprint, address: addressOf(socket) },
        action: 'tls.connection_closed',
        target: listener,
        outcome: 'refused',
        reason: `${revokedReason(peer.serial, hit)}; open connection closed`,
        details: { code: 'revoked', serial: peer.serial, sha256: peer.sha256, crlNumber: material.crlStatus.crlNumber },
      });
      socket.destroy();
    }
  };

  const start = (): void => {
    if (stop) return;
    auditCrlReloads(material, audit);
    const offChange = material.onRevocationChange(recheck);
    const stopWatch = material.files?.crlFile ? material.watchCrl() : () => {};
    stop = () => {
      offChange();
      stopWatch();
      stop = undefined;
    };
  };
  server.on('listening', start);
  server.on('close', () => stop?.());
  if (server.listening) start();

  return (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  };
}

/** The server certificate as a client sees it: serial, SAN, fingerprint. */
interface ServerCert { serialNumber: string; subjectaltname?: string | undefined; fingerprint256: string }

/**
 * The server certificate of a client socket once its handshake is done, else undefined.
 *
 * Two node quirks decide how: getPeerX509Certificate() on a client socket takes the leaf out of
 * OpenSSL's peer chain on the first call (node 20), so a second call returns undefined; and on a
 * resumed session OpenSSL has no peer chain at all, so getPeerCertificate() is empty. The
 * session itself (SSL_SESSION, DER) still holds the certificate of the server it was made with,
 * in its field `peer [3] Certificate` (OpenSSL ssl/ssl_asn1.c), and that is read instead.
 */
function serverCertificate(socket: TLSSocket): ServerCert | undefined {
  const cert = socket.getPeerCertificate();
  if (cert && typeof cert.serialNumber === 'string') return cert;
  const session = socket.getSession();
  if (!session) return undefined;
  const der = sessionPeerCertificate(session);
  if (!der) return undefined;
  try {
    const x = new X509Certificate(der);
    return { serialNumber: x.serialNumber, subjectaltname: x.subjectAltName, fingerprint256: x.fingerprint256 };
  } catch {
    return undefined;
  }
}

/** DER elements directly inside [start, end) of `buf`: tag and content bounds. Throws on bad lengths. */
function derChildren(buf: Buffer, start: number, end: number): { tag: number; start: number; end: number }[] {
  const out: { tag: number; start: number; end: number }[] = [];
  let i = start;
  while (i < end) {
    if (i + 2 > end) throw new Error('truncated DER');
    const tag = buf[i]!;
    let len = buf[i + 1]!;
    let header = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 4 || i + 2 + n > end) throw new Error('bad DER length');
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + buf[i + 2 + k]!;
      header = 2 + n;
    }
    if (i + header + len > end) throw new Error('DER element past its parent');
    out.push({ tag, start: i + header, end: i + header + len });
    i += header + len;
  }
  return out;
}

/**
 * Node 22+ wraps the serialized session: `\0nodejs:tls:session:1\0`, a 2-byte length and the
 * server name, then OpenSSL's DER (node 20 gave the DER alone). Returns where the DER starts.
 */
const NODE_SESSION_PREFIX = Buffer.from('\0nodejs:tls:session:1\0', 'latin1');
function sessionDerStart(session: Buffer): number {
  if (!session.subarray(0, NODE_SESSION_PREFIX.length).equals(NODE_SESSION_PREFIX)) return 0;
  const at = NODE_SESSION_PREFIX.length;
  if (session.length < at + 2) throw new Error('truncated session');
  return at + 2 + session.readUInt16BE(at);
}

/** The `peer [3]` certificate (DER) of a serialized OpenSSL session, or undefined. */
function sessionPeerCertificate(session: Buffer): Buffer | undefined {
  try {
    const top = derChildren(session, sessionDerStart(session), session.length)[0];
    if (!top || top.tag !== 0x30) return undefined;
    const peer = derChildren(session, top.start, top.end).find((e) => e.tag === 0xa3);
    return peer ? session.subarray(peer.start, peer.end) : undefined;
  } catch {
    return undefined;
  }
}

/** Per clientTlsOptions() call: the sockets made with those options, checked on each CRL change. */
export class ClientRevocationGuard {
  private readonly open = new Set<TLSSocket>();
  private readonly pending = new WeakSet<TLSSocket>();
  private offChange: (() => void) | undefined;

  constructor(
    private readonly material: TlsMaterial,
    /** Profile name, the target of audit records. */
    private readonly target: string,
    private readonly audit: AuditSink | undefined,
  ) {}

  /** Starts guarding `socket` (idempotent; cheap for a socket already guarded). */
  track(socket: TLSSocket): void {
    if (this.open.has(socket) || this.pending.has(socket) || socket.destroyed) return;
    if (!serverCertificate(socket)) {
      // Handshake not done yet (a new connection): check as soon as it is, once.
      this.pending.add(socket);
      socket.once('secureConnect', () => {
        if (serverCertificate(socket)) {
          this.pending.delete(socket);
          this.track(socket);
        }
      });
      return;
    }
    // A resumed session skipped checkServerIdentity, so the revocation check happens here.
    if (this.closeIfRevoked(socket)) return;
    this.open.add(socket);
    if (!this.offChange) this.offChange = this.material.onRevocationChange(() => this.recheck());
    socket.once('close', () => {
      this.open.delete(socket);
      if (this.open.size === 0) {
        this.offChange?.();
        this.offChange = undefined;
      }
    });
  }

  private recheck(): void {
    for (const socket of this.open) {
      if (this.closeIfRevoked(socket)) this.open.delete(socket);
    }
  }

  private closeIfRevoked(socket: TLSSocket): boolean {
    const cert = serverCertificate(socket);
    if (!cert) return false;
    const serial = normalizeSerial(cert.serialNumber);
    const hit = this.material.revocation.lookup(serial);
    if (!hit) return false;
    const who = participantFromSubjectAltName(cert.subjectaltname);
    const reason = `server ${revokedReason(serial, hit)}`;
    this.audit?.append({
      actor: { kind: 'peer', id: who?.id ?? 'unknown', role: who?.role, fingerprint: cert.fingerprint256.slice(-29), address: addressOf(socket) },
      action: 'tls.connection_closed',
      target: this.target,
      outcome: 'refused',
      reason: `${reason}; connection closed`,
      details: { code: 'revoked', serial, crlNumber: this.material.crlStatus.crlNumber },
    });
    const err = Object.assign(new Error(`${reason}; connection closed`), { code: 'ERR_ERAB_SERVER_REVOKED' });
    // Next tick: a socket checked right after tls.connect (its offered session names a revoked
    // server) gets its 'error' listener from the caller just after guardClientSocket returns.
    // Without any listener then, an error event would crash the process: close it plainly.
    process.nextTick(() => {
      if (socket.listenerCount('error') > 0) socket.destroy(err);
      else socket.destroy();
    });
    return true;
  }
}
