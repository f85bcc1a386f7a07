/**
 * Deciding, right after the handshake, whether a TLS peer may talk to a listener, and
 * recording every refusal in the audit log (ERAB guideline §3.3: mutual authentication on
 * R1–R4, only specified peers; 自家用GL 8-1-4: security events are logged).
 *
 * Why after the handshake and not inside it: the server runs with `requestCert: true,
 * rejectUnauthorized: false`, so OpenSSL still verifies the chain against the configured CA(s)
 * (the result is `socket.authorized` / `authorizationError`) but lets the handshake finish.
 * That gives us the certificate the peer presented, so a refusal is logged with its
 * fingerprint, and lets us add what OpenSSL does not do for us: the erab identity in the SAN,
 * revocation from a CRL that is reloadable at run time, expiry against our clock (also for
 * resumed sessions), and the listener's allow-list. A refused socket is destroyed before any
 * application byte is read. Handshake failures (old protocol versions, no shared cipher) are
 * recorded from the server's 'tlsClientError' event.
 */
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { systemClock, type Clock } from '../../core/clock.js';
import type { AuditSink } from '../audit/types.js';
import { AllowList, type AllowListConfig } from '../allow-list.js';
import { normalizeSerial, participantFromSubjectAltName, type PeerIdentity } from '../identity.js';
import type { TlsMaterial } from './material.js';

/** Why a peer was refused. */
export type RefusalCode =
  | 'no_certificate'
  | 'untrusted_chain'
  | 'expired'
  | 'not_yet_valid'
  | 'revoked'
  | 'crl_stale'
  | 'no_identity'
  | 'not_allow_listed'
  | 'handshake_failed'
  /** An authenticated peer's request refused by the protocol served on the connection (e.g. HTTP framing). */
  | 'request_refused';

/** A refusal, as recorded in the audit log. */
export interface Refusal {
  code: RefusalCode;
  /** Human-readable reason (no secrets). */
  reason: string;
  /** "host:port" of the peer. */
  address: string;
  /** OpenADR fingerprint of the presented certificate, when one was presented. */
  fingerprint?: string;
  sha256?: string;
  /** Role and id, only when the certificate is from a configured CA (so attribution holds). */
  role?: string;
  id?: string;
  /** `role:id` a certificate from an unknown CA claims; never used as the actor. */
  claimed?: string;
  serial?: string;
  subject?: string;
  /** Extra facts for the record, e.g. the HTTP status answered (no secrets). */
  details?: Record<string, unknown>;
}

/** Outcome of {@link PeerAuthenticator.authenticate}. */
export type AuthResult = { ok: true; peer: PeerIdentity } | { ok: false; refusal: Refusal };

/** Options shared by the authenticator and createMutualTlsServer. */
export interface PeerPolicy {
  /** Who may connect to this listener. */
  allowList: AllowList | AllowListConfig;
  /** Where refusals (and, if `auditAccepted`, acceptances) are recorded. */
  audit: AuditSink;
  /** Name of the listener in audit records, e.g. "tso:R1"; default the profile name. */
  listener?: string;
  /** Record accepted connections too (action "tls.accepted"). Default false: one record per refusal. */
  auditAccepted?: boolean;
  /** Accept peers while the CRL is past its nextUpdate. Default false (fail closed). */
  allowStaleCrl?: boolean;
  /**
   * Refusal records per source IP address and window (default 60 per minute). Past the limit a
   * flood of bad handshakes cannot fill the audit log: refusals are counted, and the next record
   * from that address carries how many were left out (`details.suppressed`).
   */
  refusalAudit?: { perAddress: number; windowMs: number };
  clock?: Clock;
}

// Which peer is behind which socket. Module-wide so request handlers only need peerOf(req).
const peers = new WeakMap<TLSSocket, PeerIdentity>();

/**
 * The authenticated identity behind an HTTP request or TLS socket accepted by a
 * {@link PeerAuthenticator}; undefined if the socket was not authenticated by erab. O(1).
 * @example const peer = peerOf(req); if (peer?.role !== 'aggregator') ...
 */
export function peerOf(reqOrSocket: IncomingMessage | TLSSocket): PeerIdentity | undefined {
  const socket = ('socket' in reqOrSocket && reqOrSocket.socket ? reqOrSocket.socket : reqOrSocket) as TLSSocket;
  return peers.get(socket);
}

/** OpenSSL verify error codes (node's `authorizationError`) about validity dates; every other code means the chain does not lead to a configured CA. */
const EXPIRED = new Set(['CERT_HAS_EXPIRED']);
const NOT_YET_VALID = new Set(['CERT_NOT_YET_VALID']);

function addressOf(socket: TLSSocket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}

interface CachedCert {
  role?: string;
  id?: string;
  identity?: PeerIdentity;
  validFrom: number;
  validTo: number;
}

const CACHE_LIMIT = 10_000;

/**
 * Authenticates accepted TLS sockets of one listener against its material (CA, CRL) and
 * allow-list, and audits refusals. Reusable across many connections; cheap per call.
 */
export class PeerAuthenticator {
  private allowList: AllowList;
  private readonly clock: Clock;
  readonly listener: string;
  // Parsed facts about certificates seen before, by SHA-256: a gateway reconnecting does not
  // cost a SAN parse again. Bounded; cleared when full.
  private readonly cache = new Map<string, CachedCert>();

  constructor(
    readonly material: TlsMaterial,
    private readonly policy: PeerPolicy & { profile: string },
  ) {
    this.allowList = policy.allowList instanceof AllowList ? policy.allowList : new AllowList(policy.allowList);
    this.clock = policy.clock ?? systemClock;
    this.listener = policy.listener ?? policy.profile;
  }

  /** Where this listener's security events are recorded (refusals, reloads, closed connections). */
  get audit(): AuditSink {
    return this.policy.audit;
  }

  /** Replaces the allow-list (takes effect for the next connection). */
  setAllowList(list: AllowList | AllowListConfig): void {
    this.allowList = list instanceof AllowList ? list : new AllowList(list);
  }

  /**
   * Checks a socket whose handshake just finished. On success remembers the identity for
   * {@link peerOf}; on refusal appends a "tls.refused" record to the audit sink. Does not
   * destroy the socket (the caller does).
   */
  authenticate(socket: TLSSocket): AuthResult {
    const result = this.decide(socket);
    if (result.ok) {
      peers.set(socket, result.peer);
      if (this.policy.auditAccepted) {
        this.policy.audit.append({
          actor: { kind: 'peer', id: result.peer.id, role: result.peer.role, fingerprint: result.peer.fingerprint, address: addressOf(socket) },
          action: 'tls.accepted',
          target: this.listener,
          outcome: 'success',
          details: { resumed: socket.isSessionReused(), protocol: socket.getProtocol(), cipher: socket.getCipher()?.standardName },
        });
      }
    } else {
      this.record(result.refusal);
    }
    return result;
  }

  /** Records a failed handshake (server 'tlsClientError'): old protocol, no shared cipher... */
  handshakeFailed(err: Error & { code?: string; reason?: string }, socket: TLSSocket): Refusal {
    // OpenSSL errors carry a short `reason` ("unsupported protocol", "no shared cipher").
    const why = err.reason ?? err.message.split('\n')[0]!.slice(0, 200);
    const refusal: Refusal = {
      code: 'handshake_failed',
      reason: `TLS handshake failed: ${why}${err.code ? ` (${err.code})` : ''}`,
      address: addressOf(socket),
    };
    this.record(refusal);
    return refusal;
  }

  /**
   * Records a refusal decided after authentication by the protocol served on the connection
   * (e.g. the HTTP/1 layer answering 413), as `action`, under the same per-address limit as TLS
   * refusals: a peer cannot flood the audit log through either door.
   * @example authenticator.recordRefusal({ code: 'request_refused', reason, address, details: { status: 413 } }, 'http.refused')
   */
  recordRefusal(r: Refusal, action: string): void {
    this.record(r, action);
  }

  /** Refusal records per source IP in the current window (bounded: cleared when it grows large). */
  private readonly refusalsByIp = new Map<string, { start: number; count: number; suppressed: number }>();

  private record(r: Refusal, action = 'tls.refused'): void {
    const limit = this.policy.refusalAudit ?? { perAddress: 60, windowMs: 60_000 };
    const ip = r.address.replace(/:\d+$/, '');
    const now = this.clock.now();
    let w = this.refusalsByIp.get(ip);
    if (!w || now - w.start >= limit.windowMs) {
      if (this.refusalsByIp.size >= 10_000) this.refusalsByIp.clear();
      w = { start: now, count: 0, suppressed: w?.suppressed ?? 0 };
      this.refusalsByIp.set(ip, w);
    }
    if (w.count >= limit.perAddress) {
      w.suppressed++;
      return;
    }
    w.count++;
    const suppressed = w.suppressed;
    w.suppressed = 0;
    this.policy.audit.append({
      actor: { kind: 'peer', id: r.id ?? 'unknown', role: r.role, fingerprint: r.fingerprint, address: r.address },
      action,
      target: this.listener,
      outcome: 'refused',
      reason: r.reason,
      details: {
        code: r.code,
        ...r.details,
        ...(r.sha256 ? { sha256: r.sha256 } : {}),
        ...(r.serial ? { serial: r.serial } : {}),
        ...(r.subject ? { subject: r.subject } : {}),
        ...(r.claimed ? { claimed: r.claimed } : {}),
        ...(suppressed > 0 ? { suppressed } : {}),
      },
    });
  }

  private decide(socket: TLSSocket): AuthResult {
    const address = addressOf(socket);
    const cert = socket.getPeerX509Certificate();
    if (!cert) {
      return { ok: false, refusal: { code: 'no_certificate', reason: 'peer presented no client certificate', address } };
    }
    // node's fingerprint256 is SHA-256 over the DER certificate as "AB:CD:..".
    const fp256 = cert.fingerprint256;
    const fingerprint = fp256.slice(-29);
    const sha256 = fp256.replaceAll(':', '').toLowerCase();
    const serial = normalizeSerial(cert.serialNumber);
    const base = { address, fingerprint, sha256, serial, subject: cert.subject.replaceAll('\n', ', ') };

    let facts = this.cache.get(sha256);
    if (!facts) {
      const p = participantFromSubjectAltName(cert.subjectAltName);
      facts = { validFrom: Date.parse(cert.validFrom), validTo: Date.parse(cert.validTo) };
      if (p) {
        facts.role = p.role;
        facts.id = p.id;
        facts.identity = { role: p.role, id: p.id, fingerprint, sha256, subject: cert.subject, serial, notAfter: new Date(facts.validTo) };
      }
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(sha256, facts);
    }
    const who = { ...base, ...(facts.role ? { role: facts.role, id: facts.id! } : {}) };

    if (!socket.authorized) {
      const code = String(socket.authorizationError ?? 'UNKNOWN');
      if (EXPIRED.has(code)) return refuse('expired', `certificate expired (${cert.validTo})`);
      if (NOT_YET_VALID.has(code)) return refuse('not_yet_valid', `certificate not valid before ${cert.validFrom}`);
      // Anyone can mint a certificate claiming "aggregator AGG1": record the claim, but do not
      // attribute the event to AGG1.
      return {
        ok: false,
        refusal: {
          code: 'untrusted_chain',
          reason: `certificate does not chain to a configured CA (${code})`,
          ...base,
          ...(facts.role ? { claimed: `${facts.role}:${facts.id!}` } : {}),
        },
      };
    }
    const now = this.clock.now();
    if (now > facts.validTo) return refuse('expired', `certificate expired (${cert.validTo})`);
    if (now < facts.validFrom) return refuse('not_yet_valid', `certificate not valid before ${cert.validFrom}`);

    const crl = this.material.revocation;
    const revoked = crl.lookup(serial);
    if (revoked) {
      return refuse('revoked', `certificate ${serial} revoked ${revoked.revokedAt.toISOString()}${revoked.reason ? ` (${revoked.reason})` : ''}`);
    }
    if (!this.policy.allowStaleCrl && crl.isStale(now)) {
      return refuse('crl_stale', `the CRL (${crl.source}) expired at ${crl.nextUpdate!.toISOString()}; run "erab pki crl" and reload`);
    }
    if (!facts.identity) return refuse('no_identity', 'certificate has no urn:erab:<role>:<id> subject alternative name');

    const decision = this.allowList.check(facts.identity);
    if (!decision.allowed) return refuse('not_allow_listed', decision.reason);
    return { ok: true, peer: facts.identity };

    function refuse(code: RefusalCode, reason: string): AuthResult {
      return { ok: false, refusal: { code, reason, ...who } };
    }
  }
}
