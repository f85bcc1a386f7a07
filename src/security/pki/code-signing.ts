/**
 * Detached code signatures (自家用GL 7-1 "run only predetermined programs", ERAB §3.6 urgent
 * updates): update packages and release manifests are signed with a participant's
 * **code-signing** certificate (./authority.ts `usage: 'code-signing'`), never its TLS key.
 *
 * Format: a JWS (RFC 7515) in compact serialization with a detached payload (RFC 7515 Appendix F):
 * `<base64url(header)>..<base64url(signature)>`, alg ES256 (ECDSA P-256 + SHA-256, the signature
 * as r‖s, §3.4 of RFC 7518), header `{ alg, typ, x5c: [signer certificate] }`. The payload is the
 * canonical bytes of a manifest the caller builds (JSON with sorted keys), so the signature is
 * over exactly what is verified.
 *
 * Why JWS and not CMS: node:crypto signs and verifies ES256 with no new dependency, the whole
 * format is a few lines of JSON a gateway parses with bounded input, and our keys are P-256
 * already. CMS SignedData would need an ASN.1 library (pkijs) on every gateway for the same
 * guarantee; nothing we talk to asks for CMS.
 *
 * Trust, checked by {@link verifyDetached}: the x5c certificate is issued and signed by one of
 * the configured CA certificates, valid now, not revoked (CRL), a leaf, carries extKeyUsage
 * codeSigning and NO TLS usage (so a stolen TLS key cannot sign code), and names the expected
 * participant (`urn:erab:aggregator:<id>` of the gateway's own aggregator).
 */
import { createPrivateKey, createPublicKey, sign as signBytes, verify as verifyBytes, X509Certificate } from 'node:crypto';
import { InvalidInputError, NotAuthorizedError } from '../../core/errors.js';
import { identityFromCertificate, normalizeSerial, type PeerIdentity } from '../identity.js';
import type { RevocationList } from './crl.js';
import { parseCertificates } from './pem.js';

/** RFC 5280 §4.2.1.12 id-kp-codeSigning. */
export const CODE_SIGNING_EKU = '1.3.6.1.5.5.7.3.3';
const TLS_EKUS = ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'];
/** Bound on a signature string (header with one certificate + signature). */
export const MAX_SIGNATURE_CHARS = 16 * 1024;

const b64u = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** A signer: the code-signing certificate and its private key (secret: never log it). */
export interface CodeSigner {
  certPem: string;
  keyPem: string;
}

/**
 * Signs `payload` (the canonical manifest bytes) and returns the detached compact JWS.
 * Refuses a certificate that is not a code-signing one, so a TLS key is never used by mistake.
 * @example const sig = signDetached(Buffer.from(canonicalJson(manifest)), signer, 'erab-update+jws');
 */
export function signDetached(payload: Buffer, signer: CodeSigner, typ: string): string {
  const cert = parseCertificates(signer.certPem, 'signing certificate')[0]!;
  checkCodeSigningUsage(cert, 'signing certificate');
  const key = createPrivateKey(signer.keyPem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new InvalidInputError('signing key must be ECDSA P-256 (ES256)');
  }
  if (!cert.checkPrivateKey(key)) throw new InvalidInputError('signing key does not belong to the signing certificate');
  const header = b64u(JSON.stringify({ alg: 'ES256', typ, x5c: [cert.raw.toString('base64')] }));
  const input = Buffer.from(`${header}.${b64u(payload)}`, 'ascii');
  const sig = signBytes('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
  return `${header}..${b64u(sig)}`;
}

/** Whom a detached signature must come from, and what to check it against. */
export interface CodeSigningTrust {
  /** Trusted CA certificates. */
  cas: readonly X509Certificate[];
  /** The current CRL (empty list when none is configured). */
  crl?: RevocationList | undefined;
  /** The participant the signer must be, e.g. `{ role: 'aggregator', id: 'AGG1' }`. */
  signer?: { role: string; id: string } | undefined;
  /** `typ` the header must carry. */
  typ: string;
  now?: Date;
}

/**
 * Verifies a detached JWS over `payload`. Returns the signer's identity; throws NotAuthorizedError
 * naming the rule broken (bad signature, unknown CA, revoked, wrong usage, wrong signer...), or
 * InvalidInputError for a malformed signature.
 */
export function verifyDetached(jws: string, payload: Buffer, trust: CodeSigningTrust): PeerIdentity {
  if (typeof jws !== 'string' || jws.length > MAX_SIGNATURE_CHARS) throw new InvalidInputError(`signature is not a string of at most ${MAX_SIGNATURE_CHARS} characters`);
  const parts = jws.split('.');
  if (parts.length !== 3 || parts[1] !== '' || !/^[A-Za-z0-9_-]+$/.test(parts[0]!) || !/^[A-Za-z0-9_-]+$/.test(parts[2]!)) {
    throw new InvalidInputError('signature is not a detached compact JWS (<header>..<signature>, base64url)');
  }
  let header: { alg?: unknown; typ?: unknown; x5c?: unknown };
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as typeof header;
  } catch {
    throw new InvalidInputError('signature header is not JSON');
  }
  if (header === null || typeof header !== 'object') throw new InvalidInputError('signature header is not a JSON object');
  if (header.alg !== 'ES256') throw new NotAuthorizedError(`signature algorithm ${String(header.alg)} is not ES256`, { code: 'bad_signature' });
  if (header.typ !== trust.typ) throw new NotAuthorizedError(`signature type ${String(header.typ)} is not ${trust.typ}`, { code: 'bad_signature' });
  if (!Array.isArray(header.x5c) || header.x5c.length !== 1 || typeof header.x5c[0] !== 'string') {
    throw new InvalidInputError('signature header must carry exactly one signer certificate (x5c)');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(header.x5c[0], 'base64'));
  } catch {
    throw new InvalidInputError('signer certificate (x5c) is not a DER certificate');
  }
  const issuer = trust.cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (!issuer) throw new NotAuthorizedError(`signer certificate ${cert.subject.replaceAll('\n', ', ')} is not issued by a trusted CA`, { code: 'untrusted_signer' });
  const now = trust.now ?? new Date();
  if (new Date(cert.validFrom) > now || new Date(cert.validTo) <= now) {
    throw new NotAuthorizedError(`signer certificate is not valid now (valid ${cert.validFrom} – ${cert.validTo})`, { code: 'untrusted_signer' });
  }
  if (cert.ca) throw new NotAuthorizedError('signer certificate is a CA certificate, not a code-signing one', { code: 'untrusted_signer' });
  checkCodeSigningUsage(cert, 'signer certificate');
  const revoked = trust.crl?.lookup(normalizeSerial(cert.serialNumber));
  if (revoked) throw new NotAuthorizedError(`signer certificate ${normalizeSerial(cert.serialNumber)} is revoked (${revoked.reason ?? 'unspecified'})`, { code: 'revoked_signer' });
  const identity = identityFromCertificate(cert);
  if (trust.signer && (identity.role !== trust.signer.role || identity.id !== trust.signer.id)) {
    throw new NotAuthorizedError(`signed by ${identity.role}:${identity.id}, not by ${trust.signer.role}:${trust.signer.id}`, { code: 'wrong_signer' });
  }
  const sig = Buffer.from(parts[2]!, 'base64url');
  const input = Buffer.from(`${parts[0]}.${b64u(payload)}`, 'ascii');
  const ok = sig.length === 64 && verifyBytes('sha256', input, { key: createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' })), dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok) throw new NotAuthorizedError('signature does not match the signed content (altered after signing, or another key)', { code: 'bad_signature' });
  return identity;
}

/** A code-signing certificate: extKeyUsage codeSigning and no TLS usage. */
function checkCodeSigningUsage(cert: X509Certificate, what: string): void {
  const ekus = cert.keyUsage ?? [];
  if (!ekus.includes(CODE_SIGNING_EKU)) throw new NotAuthorizedError(`${what} has no extKeyUsage codeSigning; issue one with "erab pki issue --usage code-signing"`, { code: 'not_code_signing' });
  if (ekus.some((e) => TLS_EKUS.includes(e))) throw new NotAuthorizedError(`${what} is also a TLS certificate; code must be signed with a key of its own`, { code: 'not_code_signing' });
}
