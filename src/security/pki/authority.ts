/**
 * An erab certificate authority held in memory: it creates key pairs, issues participant
 * certificates and signs CRLs. It knows nothing about files; ./store.ts persists it.
 *
 * Certificate profile (RFC 5280 §4.2):
 * - CA: basicConstraints cA=TRUE pathLen=0 (critical), keyUsage keyCertSign+cRLSign
 *   (critical), subjectKeyIdentifier.
 * - Participant: basicConstraints cA=FALSE (critical), keyUsage digitalSignature
 *   (+ keyEncipherment for RSA, needed by the OpenADR 2.0b suite TLS_RSA_WITH_AES_128_CBC_SHA256
 *   which encrypts the premaster secret to the server key; + keyAgreement for EC), extKeyUsage
 *   serverAuth+clientAuth (one certificate serves a VEN as client and a VTN as server),
 *   subjectAltName URI `urn:erab:<role>:<id>` plus DNS/IP names for servers,
 *   authorityKeyIdentifier.
 * - Code signing (`usage: 'code-signing'`, for update packages and release manifests): a key of
 *   its own, never the TLS key (自家用GL 7-1, ERAB §3.6): keyUsage digitalSignature only
 *   (critical), extKeyUsage codeSigning only, subjectAltName URI `urn:erab:<role>:<id>` and no
 *   host names, so it can neither serve nor open a TLS connection.
 * Keys: ECDSA P-256 (default) or RSA 2048, both allowed by OpenADR 2.0b.
 */
import { KeyObject, randomBytes, type webcrypto as wc } from 'node:crypto';
import { isIP } from 'node:net';
import { explain, InvalidInputError } from '../../core/errors.js';
import {
  identityFromCertificate,
  parseParticipant,
  participantUri,
  type ParticipantRole,
  type PeerIdentity,
} from '../identity.js';
import { parseCertificates, parsePrivateKey, toPem } from './pem.js';
import { webcrypto, x509 } from './x509.js';

/** `ec` = ECDSA P-256 (default), `rsa` = RSA 2048. */
export type KeyAlgorithm = 'ec' | 'rsa';

/** RFC 5280 §5.3.1 CRLReason names accepted by revoke. */
export const REVOCATION_REASONS = [
  'unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded',
  'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

const DAY_MS = 86_400_000;

type CryptoKeyPair = wc.CryptoKeyPair;
type CryptoKey = wc.CryptoKey;

function keyGenParams(alg: KeyAlgorithm): wc.EcKeyGenParams | wc.RsaHashedKeyGenParams {
  return alg === 'ec'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
}

/** The algorithm used to sign with a key of this type (SHA-256 throughout). */
function signingAlgorithm(alg: KeyAlgorithm): wc.Algorithm | wc.EcdsaParams {
  return alg === 'ec' ? ({ name: 'ECDSA', hash: 'SHA-256' } as wc.EcdsaParams) : { name: 'RSASSA-PKCS1-v1_5' };
}

async function generateKeyPair(alg: KeyAlgorithm): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(keyGenParams(alg), true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportPkcs8Pem(key: CryptoKey): Promise<string> {
  return toPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', key)), 'PRIVATE KEY');
}

/** A random positive 128-bit serial (RFC 5280 §4.1.2.2: ≤ 20 octets, unique per CA). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x6f) | 0x10; // positive, no leading zero nibble: hex form is canonical
  return b.toString('hex').toUpperCase();
}

/** DER INTEGER for a non-negative safe integer (for the CRL number extension). */
function derInteger(n: number): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  const body = Buffer.from(hex, 'hex');
  return Uint8Array.from([0x02, body.length, ...body]);
}

/** What a participant certificate is for: mutual TLS (default) or signing code and update packages. */
export const CERTIFICATE_USAGES = ['tls', 'code-signing'] as const;
export type CertificateUsage = (typeof CERTIFICATE_USAGES)[number];

/** What to put in a participant certificate. */
export interface IssueParams {
  role: ParticipantRole | string;
  id: string;
  /** `tls` (default) or `code-signing` (a separate key, extKeyUsage codeSigning only). */
  usage?: CertificateUsage;
  /** Key type; default `ec` (ECDSA P-256). */
  algorithm?: KeyAlgorithm;
  /** Validity in days from now; default 365. Ignored when notAfter is given. */
  days?: number;
  /** Explicit validity (tests issue expired certificates with dates in the past). */
  notBefore?: Date;
  notAfter?: Date;
  /** DNS names in the SAN; default ['localhost']. */
  dns?: string[];
  /** IP addresses in the SAN; default ['127.0.0.1', '::1']. */
  ip?: string[];
}

/** A freshly issued key pair and certificate, all PEM. `keyPem` is secret: never log it. */
export interface IssuedCertificate {
  role: ParticipantRole;
  id: string;
  algorithm: KeyAlgorithm;
  usage: CertificateUsage;
  /** Upper-case hex. */
  serial: string;
  certPem: string;
  /** Unencrypted PKCS#8 PEM. */
  keyPem: string;
  /** Leaf then CA certificate, for servers that send their chain. */
  chainPem: string;
  identity: PeerIdentity;
  notBefore: Date;
  notAfter: Date;
}

/** One CRL entry. */
export interface RevokedEntry {
  serial: string;
  revokedAt: Date;
  reason?: RevocationReason;
}

/**
 * A CA in memory. Create one with {@link CertificateAuthority.create} or load one with
 * {@link CertificateAuthority.fromPem}.
 * @example
 * const ca = await CertificateAuthority.create();
 * const vtn = await ca.issue({ role: 'tso', id: 'TSO1' });
 * const ven = await ca.issue({ role: 'aggregator', id: 'AGG1', algorithm: 'rsa' });
 */
export class CertificateAuthority {
  private constructor(
    readonly cert: x509.X509Certificate,
    private readonly signingKey: CryptoKey,
    /** The CA private key as a node KeyObject (for export); never log it. */
    private readonly keyObject: KeyObject,
    readonly algorithm: KeyAlgorithm,
  ) {}

  /** The CA certificate, PEM. */
  get certPem(): string {
    return toPem(new Uint8Array(this.cert.rawData), 'CERTIFICATE');
  }

  /** Creates a new self-signed CA. `commonName` defaults to "erab CA <random>". */
  static async create(opts: { algorithm?: KeyAlgorithm; commonName?: string; days?: number; notBefore?: Date } = {}): Promise<CertificateAuthority> {
    const algorithm = opts.algorithm ?? 'ec';
    const keys = await generateKeyPair(algorithm);
    const notBefore = opts.notBefore ?? new Date(Date.now() - 5 * 60_000); // tolerate small clock skew
    const cn = opts.commonName ?? `erab CA ${randomBytes(4).toString('hex')}`;
    if (/[,=+<>#;"\\]/.test(cn)) throw new InvalidInputError(`CA common name "${cn}" must not contain , = + < > # ; " \\`);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=${cn}, O=erab`,
      notBefore,
      notAfter: new Date(notBefore.getTime() + (opts.days ?? 3650) * DAY_MS),
      keys: keys,
      signingAlgorithm: signingAlgorithm(algorithm),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const keyObject = KeyObject.from(keys.privateKey);
    return new CertificateAuthority(cert, keys.privateKey, keyObject, algorithm);
  }

  /**
   * Loads a CA from its certificate and private key PEM (the key possibly encrypted).
   * `source` names the files in errors. Throws InvalidInputError on a wrong passphrase,
   * a malformed file, or a key that does not match the certificate.
   */
  static async fromPem(certPem: string, keyPem: string, opts: { passphrase?: string; certSource?: string; keySource?: string } = {}): Promise<CertificateAuthority> {
    const certSource = opts.certSource ?? 'CA certificate';
    const keySource = opts.keySource ?? 'CA private key';
    const nodeCert = parseCertificates(certPem, certSource)[0]!;
    if (!nodeCert.ca) throw new InvalidInputError(`${certSource}: certificate is not a CA (basicConstraints cA is not TRUE)`);
    const keyObject = parsePrivateKey(keyPem, keySource, opts.passphrase);
    if (!nodeCert.checkPrivateKey(keyObject)) {
      throw new InvalidInputError(`${keySource}: the private key does not belong to the certificate in ${certSource}`);
    }
    const type = keyObject.asymmetricKeyType;
    if (type !== 'ec' && type !== 'rsa') throw new InvalidInputError(`${keySource}: key type ${type} is not supported (ec or rsa)`);
    const der = keyObject.export({ type: 'pkcs8', format: 'der' });
    const importAlg = type === 'ec' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    let signingKey: CryptoKey;
    try {
      signingKey = await webcrypto.subtle.importKey('pkcs8', der, importAlg, false, ['sign']);
    } catch (err) {
      throw new InvalidInputError(`${keySource}: cannot use the key for signing (${(err as Error).message}); only P-256 and RSA keys are supported`, { cause: err });
    }
    return new CertificateAuthority(new x509.X509Certificate(nodeCert.raw), signingKey, keyObject, type);
  }

  /**
   * The CA private key as PKCS#8 PEM, encrypted with AES-256-CBC when a passphrase is given.
   * The result is secret: write it with mode 0600 and never log it.
   */
  exportKeyPem(passphrase?: string): string {
    if (passphrase !== undefined) {
      if (passphrase.length === 0) throw new InvalidInputError(explain('pki.caPassEmpty'));
      return this.keyObject.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
    }
    return this.keyObject.export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  /**
   * Issues a key pair and certificate for a participant.
   * @example const { certPem, keyPem } = await ca.issue({ role: 'gateway', id: 'GW-0001' });
   */
  async issue(params: IssueParams): Promise<IssuedCertificate> {
    const { role, id } = parseParticipant(params.role, params.id);
    const algorithm = params.algorithm ?? 'ec';
    if (algorithm !== 'ec' && algorithm !== 'rsa') throw new InvalidInputError(`algorithm "${algorithm as string}" must be ec or rsa`);
    const usage = params.usage ?? 'tls';
    if (!CERTIFICATE_USAGES.includes(usage)) throw new InvalidInputError(`usage "${usage as string}" must be one of ${CERTIFICATE_USAGES.join(', ')}`);
    const codeSigning = usage === 'code-signing';
    // A signing certificate names no host: it must never be usable as a TLS server certificate.
    const dns = codeSigning ? [] : params.dns ?? ['localhost'];
    const ips = codeSigning ? [] : params.ip ?? ['127.0.0.1', '::1'];
    for (const d of dns) {
      if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(d)) throw new InvalidInputError(`DNS name "${d}" is not a valid host name`);
    }
    for (const a of ips) if (isIP(a) === 0) throw new InvalidInputError(`IP address "${a}" is not a valid IPv4 or IPv6 address`);
    const notBefore = params.notBefore ?? new Date(Date.now() - 5 * 60_000);
    const days = params.days ?? 365;
    if (!(days > 0 && days <= 3650)) throw new InvalidInputError(`validity of ${days} days must be between 1 and 3650`);
    const notAfter = params.notAfter ?? new Date(Date.now() + days * DAY_MS);
    if (notAfter <= notBefore) throw new InvalidInputError('notAfter must be later than notBefore');
    if (notAfter > this.cert.notAfter) throw new InvalidInputError(`certificate would outlive its CA (CA expires ${this.cert.notAfter.toISOString()})`);

    const keys = await generateKeyPair(algorithm);
    const serial = randomSerial();
    const keyUsage = codeSigning
      ? x509.KeyUsageFlags.digitalSignature
      : x509.KeyUsageFlags.digitalSignature | (algorithm === 'rsa' ? x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.keyAgreement);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: codeSigning ? `CN=${id} code signing, OU=${role}, O=erab` : `CN=${id}, OU=${role}, O=erab`,
      issuer: this.cert.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: signingAlgorithm(this.algorithm),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(keyUsage, true),
        new x509.ExtendedKeyUsageExtension(codeSigning ? [x509.ExtendedKeyUsage.codeSigning] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: participantUri(role, id) },
          ...dns.map((value) => ({ type: 'dns' as const, value })),
          ...ips.map((value) => ({ type: 'ip' as const, value })),
        ]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.cert),
      ],
    });
    const certPem = toPem(new Uint8Array(cert.rawData), 'CERTIFICATE');
    return {
      role,
      id,
      algorithm,
      usage,
      serial,
      certPem,
      keyPem: await exportPkcs8Pem(keys.privateKey),
      chainPem: certPem + this.certPem,
      identity: identityFromCertificate(certPem),
      notBefore,
      notAfter,
    };
  }

  /**
   * Signs a CRL (RFC 5280 §5) listing `entries`, valid from `thisUpdate` (default now) for
   * `days` (default 30), numbered `crlNumber` (monotonic, §5.2.3). Returns PEM.
   */
  async signCrl(entries: readonly RevokedEntry[], opts: { crlNumber: number; days?: number; thisUpdate?: Date }): Promise<string> {
    const thisUpdate = opts.thisUpdate ?? new Date();
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.cert.subjectName,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + (opts.days ?? 30) * DAY_MS),
      signingAlgorithm: signingAlgorithm(this.algorithm),
      signingKey: this.signingKey,
      entries: entries.map((e) => ({
        serialNumber: e.serial,
        revocationDate: e.revokedAt,
        ...(e.reason ? { reason: x509.X509CrlReason[e.reason] } : {}),
      })),
      extensions: [
        await x509.AuthorityKeyIdentifierExtension.create(this.cert),
        new x509.Extension('2.5.29.20', false, derInteger(opts.crlNumber)), // cRLNumber
      ],
    });
    return toPem(new Uint8Array(crl.rawData), 'X509 CRL');
  }
}
