/**
 * Who a TLS peer is, read from its X.509 certificate.
 *
 * erab certificates carry the participant's role and id machine-readably as a SAN URI
 * `urn:erab:<role>:<id>` (issued by ./pki). The fingerprint is the OpenADR 2.0b form: the
 * last 10 bytes of the SHA-256 digest of the DER certificate, as upper-case hex pairs joined
 * by colons (the OpenADR 2.0 certificate fingerprint, which VTN/VEN registration uses
 * to pin a peer), e.g. `AB:CD:EF:01:23:45:67:89:0A:BC` (29 characters).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { InvalidInputError, explain } from '../core/errors.js';

/**
 * The roles a certificate can hold (docs/architecture.md §1). `device` is a customer device
 * reached beyond the home LAN over the ECHONET Lite Web API (R5): the server certificate of its
 * Web API node, which the gateway checks (docs/echonet.md).
 */
export const PARTICIPANT_ROLES = ['tso', 'retailer', 'aggregator', 'gateway', 'operator', 'device'] as const;
export type ParticipantRole = (typeof PARTICIPANT_ROLES)[number];

/**
 * A participant id: 1–64 characters of letters, digits, `.`, `_`, `-`. Kept narrow so it can
 * appear unescaped in a URN, a file name and a log line.
 */
export const PARTICIPANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The identity of an authenticated peer, as the request handler sees it. */
export interface PeerIdentity {
  role: ParticipantRole;
  /** Participant id from `urn:erab:<role>:<id>`. */
  id: string;
  /** OpenADR 2.0b fingerprint: last 10 bytes of SHA-256(DER), `AB:CD:..` (29 chars). */
  fingerprint: string;
  /** Full SHA-256 of the DER certificate, lower-case hex (64 chars). */
  sha256: string;
  /** Subject distinguished name as node prints it (one `K=V` per line). */
  subject: string;
  /** Serial number, upper-case hex without leading zeros. */
  serial: string;
  /** End of validity. */
  notAfter: Date;
}

/** True when `s` is one of {@link PARTICIPANT_ROLES}. */
export function isParticipantRole(s: string): s is ParticipantRole {
  return (PARTICIPANT_ROLES as readonly string[]).includes(s);
}

/**
 * Checks a role/id pair and returns it typed, or throws InvalidInputError naming the rule.
 * @example parseParticipant('aggregator', 'AGG-1') // { role: 'aggregator', id: 'AGG-1' }
 */
export function parseParticipant(role: string, id: string): { role: ParticipantRole; id: string } {
  if (!isParticipantRole(role)) {
    throw new InvalidInputError(explain('identity.badRole', { role, roles: PARTICIPANT_ROLES.join(', ') }));
  }
  if (!PARTICIPANT_ID_PATTERN.test(id)) {
    throw new InvalidInputError(explain('identity.badId', { id, pattern: PARTICIPANT_ID_PATTERN.source }));
  }
  return { role, id };
}

/** The SAN URI naming a participant: `urn:erab:<role>:<id>`. */
export function participantUri(role: ParticipantRole, id: string): string {
  return `urn:erab:${role}:${id}`;
}

const URN_PATTERN = /^urn:erab:([a-z]+):([A-Za-z0-9][A-Za-z0-9._-]{0,63})$/;

/** Parses `urn:erab:<role>:<id>`; undefined when `uri` is not one. */
export function parseParticipantUri(uri: string): { role: ParticipantRole; id: string } | undefined {
  const m = URN_PATTERN.exec(uri);
  if (!m || !isParticipantRole(m[1]!)) return undefined;
  return { role: m[1], id: m[2]! };
}

/**
 * The OpenADR 2.0b fingerprint of a DER certificate: last 10 bytes of its SHA-256 digest.
 * @example openadrFingerprint(der) // 'AB:CD:EF:01:23:45:67:89:0A:BC'
 */
export function openadrFingerprint(der: Uint8Array): string {
  const digest = createHash('sha256').update(der).digest();
  return fingerprintFromSha256(digest);
}

/** The OpenADR fingerprint from a SHA-256 digest (bytes, hex or node's `AB:CD:..` form). */
export function fingerprintFromSha256(sha256: Uint8Array | string): string {
  const hex = typeof sha256 === 'string' ? sha256.replaceAll(':', '').toUpperCase() : Buffer.from(sha256).toString('hex').toUpperCase();
  if (hex.length !== 64) throw new InvalidInputError(`SHA-256 digest must be 32 bytes, got ${hex.length / 2}`);
  return hex.slice(-20).match(/../g)!.join(':');
}

/**
 * Normalises a fingerprint for comparison: accepts the OpenADR 10-byte form or a full SHA-256
 * (hex, with or without colons) and returns the OpenADR form. Throws on anything else.
 */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replaceAll(':', '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || (hex.length !== 20 && hex.length !== 64)) {
    throw new InvalidInputError(`fingerprint "${fp}" must be 10 bytes (OpenADR form) or 32 bytes (SHA-256) of hex`);
  }
  return hex.slice(-20).match(/../g)!.join(':');
}

/** Upper-case hex serial without leading zeros (node prints serials with them sometimes). */
export function normalizeSerial(serial: string): string {
  const s = serial.replaceAll(':', '').toUpperCase().replace(/^0+(?=.)/, '');
  if (!/^[0-9A-F]+$/.test(s)) throw new InvalidInputError(`serial "${serial}" is not hexadecimal`);
  return s;
}

/** Extracts the `urn:erab:` participant from node's `subjectAltName` string ("URI:..., DNS:..."). */
export function participantFromSubjectAltName(san: string | undefined): { role: ParticipantRole; id: string } | undefined {
  if (!san) return undefined;
  let found: { role: ParticipantRole; id: string } | undefined;
  for (const part of san.split(', ')) {
    if (!part.startsWith('URI:urn:erab:')) continue;
    const p = parseParticipantUri(part.slice(4));
    // Two different erab identities in one certificate are ambiguous: treat as none.
    if (!p || (found && (found.role !== p.role || found.id !== p.id))) return undefined;
    found = p;
  }
  return found;
}

/**
 * Reads the erab identity of a certificate (DER bytes, PEM text or a node X509Certificate).
 * Throws InvalidInputError when the certificate is malformed or carries no
 * `urn:erab:<role>:<id>` SAN URI.
 * @example identityFromCertificate(readFileSync('issued/aggregator-AGG1/cert.pem', 'utf8')).id // 'AGG1'
 */
export function identityFromCertificate(cert: Uint8Array | string | X509Certificate): PeerIdentity {
  let x: X509Certificate;
  try {
    x = cert instanceof X509Certificate ? cert : new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch (err) {
    throw new InvalidInputError(`certificate is not a valid X.509 certificate: ${(err as Error).message}`, { cause: err });
  }
  const participant = participantFromSubjectAltName(x.subjectAltName);
  if (!participant) {
    throw new InvalidInputError(`certificate "${x.subject.replaceAll('\n', ', ')}" has no (single) urn:erab:<role>:<id> SAN URI`);
  }
  const digest = createHash('sha256').update(x.raw).digest();
  return {
    role: participant.role,
    id: participant.id,
    fingerprint: fingerprintFromSha256(digest),
    sha256: digest.toString('hex'),
    subject: x.subject,
    serial: normalizeSerial(x.serialNumber),
    notAfter: new Date(x.validTo),
  };
}
