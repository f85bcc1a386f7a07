/**
 * Mutual-TLS client settings: present our certificate, verify the server's chain against our
 * CA(s), its host name, its revocation status, and — when asked — that it is the participant
 * we mean to reach (a VEN must know it reached the right VTN; ERAB guideline §3.3 "the correct
 * command from the correct operator").
 */
import * as tls from 'node:tls';
import type { AuditSink } from '../../core/audit-port.js';
import { attachSocketGuard, guardClientSocket } from '../../core/socket-guard.js';
import { normalizeFingerprint, normalizeSerial, participantFromSubjectAltName, type ParticipantRole } from '../identity.js';
import { tlsProfile, type TlsProfile, type TlsProfileName } from './profiles.js';
import type { TlsMaterial } from './material.js';
import { auditCrlReloads, ClientRevocationGuard } from './revocation.js';

/**
 * Puts a client socket made with {@link clientTlsOptions} `options` under live revocation: it is
 * closed (and audited, when the options have an audit sink) as soon as the server's certificate
 * is found revoked, whether by a CRL reloaded while the connection is open or on a resumed
 * session (node skips checkServerIdentity on resumption). The hook itself lives in core so that
 * protocol transports can call it without importing security/.
 * @example req.on('socket', (s) => guardClientSocket(opts, s as TLSSocket));
 */
export { guardClientSocket };

/** What the server must be; every given field must match. */
export interface ExpectedPeer {
  role?: ParticipantRole | readonly ParticipantRole[];
  id?: string;
  /** OpenADR fingerprint or full SHA-256 of the server certificate (pinning). */
  fingerprint?: string;
}

/** Options of {@link clientTlsOptions}. */
export interface ClientTlsSettings {
  /** Check the server's role / id / fingerprint in addition to its chain. */
  expect?: ExpectedPeer;
  /** Verify the host name against the certificate's DNS/IP SANs; default true. */
  checkHostname?: boolean;
  /** SNI name to send; default the connect host (node's default). */
  servername?: string;
  /** Record refusals of the server here (action "tls.server_refused"). */
  audit?: AuditSink;
  /** A session from an earlier connection's 'session' event, to resume. */
  session?: Buffer;
  /**
   * Overrides of the profile's versions and suites (tests, interop with one peer). They go
   * into the returned `secureContext`: setting them on the returned options afterwards has no
   * effect, because node ignores context-level options when a secureContext is given.
   */
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
}

// Building a secure context parses the CA, certificate and key: milliseconds per connection
// if done by tls.connect each time. One context per material, profile and overrides instead.
const contexts = new WeakMap<TlsMaterial, Map<string, tls.SecureContext>>();

function clientContext(material: TlsMaterial, p: TlsProfile, s: ClientTlsSettings): tls.SecureContext {
  const minVersion = s.minVersion ?? p.minVersion;
  const maxVersion = s.maxVersion ?? p.maxVersion;
  const ciphers = s.ciphers ?? p.ciphers;
  const key = `${p.name}|${minVersion}|${maxVersion}|${ciphers}`;
  let byKey = contexts.get(material);
  if (!byKey) contexts.set(material, (byKey = new Map()));
  let ctx = byKey.get(key);
  if (!ctx) {
    ctx = tls.createSecureContext({
      cert: material.credentials.map((c) => c.certPem),
      key: material.credentials.map((c) => c.keyPem),
      ca: material.caPem,
      minVersion,
      maxVersion,
      ciphers,
      ecdhCurve: 'X25519:P-256:P-384',
    });
    byKey.set(key, ctx);
  }
  return ctx;
}

/**
 * TLS client options (for tls.connect, https.request / https.Agent, undici's `connect`):
 * a cached `secureContext` holding our certificate(s), the CA(s), the profile's versions and
 * suites, plus `checkServerIdentity`. The connection fails with an Error saying why when the server's certificate is not from
 * our CA(s), is revoked, has the wrong host name, or is not the expected participant. The CRL
 * file, if any, is watched from now on; pass each socket to {@link guardClientSocket} so that an
 * open connection to a server revoked later is closed too.
 * @example
 * const opts = clientTlsOptions(material, 'R1', { expect: { role: 'tso', id: 'TSO1' } });
 * https.get({ host: '127.0.0.1', port, path: '/OpenADR2/Simple/2.0b/EiEvent', ...opts });
 */
export function clientTlsOptions(material: TlsMaterial, profile: TlsProfileName | TlsProfile, settings: ClientTlsSettings = {}): tls.ConnectionOptions {
  const p = tlsProfile(profile);
  const expect = settings.expect;
  const roles = expect?.role === undefined ? undefined : new Set<string>(typeof expect.role === 'string' ? [expect.role] : expect.role);
  const pinned = expect?.fingerprint ? normalizeFingerprint(expect.fingerprint) : undefined;
  const checkHostname = settings.checkHostname ?? true;

  const checkServerIdentity = (host: string, cert: tls.PeerCertificate): Error | undefined => {
    const fail = (reason: string): Error => {
      // node calls this only after the chain verified against our CA(s), so the SAN is attributable.
      const claimed = participantFromSubjectAltName(cert.subjectaltname);
      settings.audit?.append({
        actor: { kind: 'peer', id: claimed?.id ?? 'unknown', role: claimed?.role, fingerprint: cert.fingerprint256?.slice(-29), address: host },
        action: 'tls.server_refused',
        target: p.name,
        outcome: 'refused',
        reason,
        details: { serial: cert.serialNumber },
      });
      return Object.assign(new Error(`server ${host} refused: ${reason}`), { code: 'ERR_ERAB_SERVER_IDENTITY' });
    };
    if (checkHostname) {
      const err = tls.checkServerIdentity(host, cert);
      if (err) return fail(err.message);
    }
    const serial = normalizeSerial(cert.serialNumber);
    const revoked = material.revocation.lookup(serial);
    if (revoked) return fail(`server certificate ${serial} is revoked${revoked.reason ? ` (${revoked.reason})` : ''}`);
    if (material.revocation.isStale(Date.now())) return fail(`the CRL (${material.revocation.source}) is past its nextUpdate`);
    if (expect) {
      const fp = cert.fingerprint256.slice(-29);
      const who = participantFromSubjectAltName(cert.subjectaltname);
      if (pinned && fp !== pinned) return fail(`server fingerprint ${fp} is not the expected ${pinned}`);
      if ((roles || expect.id) && !who) return fail('server certificate has no urn:erab:<role>:<id> name');
      if (roles && !roles.has(who!.role)) return fail(`server is a ${who!.role}, expected ${[...roles].join(' or ')}`);
      if (expect.id && who!.id !== expect.id) return fail(`server is ${who!.role} ${who!.id}, expected id ${expect.id}`);
    }
    return undefined;
  };

  // The CRL stays live for as long as the material is used by a client (see material.ts).
  material.keepWatchingCrl();
  if (settings.audit) auditCrlReloads(material, settings.audit);
  const options: tls.ConnectionOptions = {
    secureContext: clientContext(material, p, settings),
    // Ignored by tls.connect when secureContext is given, but https.Agent names its socket
    // pools after `cert`: without it two identities sharing an agent could share a socket.
    cert: material.credentials.map((c) => c.certPem),
    rejectUnauthorized: true,
    checkServerIdentity,
    ...(settings.servername ? { servername: settings.servername } : {}),
    ...(settings.session ? { session: settings.session } : {}),
  };
  // Not enumerable: copies made by spreading (agents, tls.connect) need not carry it.
  attachSocketGuard(options, new ClientRevocationGuard(material, p.name, settings.audit));
  return options;
}
