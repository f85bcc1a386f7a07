/**
 * PKCS#12 (RFC 7292) files of an issued certificate and its private key, for importing an
 * operator's certificate into a browser or an OS key store (issue 16: browser access to the
 * operator console over mutual TLS).
 *
 * Built with PKIjs (PeculiarVentures, the makers of @peculiar/x509) because it handles ECDSA
 * keys, our default; node-forge's PKCS#12 writer takes RSA keys only. Protection as OpenSSL 3
 * writes it by default: the key in a PKCS8ShroudedKeyBag under PBES2 (PBKDF2-HMAC-SHA256,
 * AES-256-CBC), the whole file under an HMAC-SHA256 MAC with the RFC 7292 appendix B key
 * derivation. Both bags carry a friendlyName and the same localKeyId, which browsers use to pair
 * the key with its certificate.
 *
 * @example
 *   const p12 = await toPkcs12({ certPem, keyPem, chainPem: caPem, passphrase, friendlyName: 'erab operator alice' });
 *   writeFileSync('alice.p12', p12, { mode: 0o600 });
 */
import { createHash, createPrivateKey, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { explain, InvalidInputError } from '../../core/errors.js';
import { pemBlocks } from './pem.js';

const OID_PKCS8_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const OID_X509_CERTIFICATE = '1.2.840.113549.1.9.22.1';
const OID_FRIENDLY_NAME = '1.2.840.113549.1.9.20';
const OID_LOCAL_KEY_ID = '1.2.840.113549.1.9.21';

/** PBKDF2 rounds for the key and the MAC (OpenSSL 3's default is 2048; we can afford more). */
const ITERATIONS = 100_000;
/** Shortest passphrase accepted: a .p12 travels by mail and USB sticks, its key must not fall to a guess. */
export const MIN_P12_PASSPHRASE_LENGTH = 8;

/** Throws unless `passphrase` may protect a PKCS#12 file (callers check before issuing anything). */
export function checkPkcs12Passphrase(passphrase: string): void {
  if (passphrase.length < MIN_P12_PASSPHRASE_LENGTH) {
    throw new InvalidInputError(explain('pki.p12PassShort', { min: MIN_P12_PASSPHRASE_LENGTH }));
  }
}

export interface Pkcs12Input {
  /** The certificate (PEM; the first block is the leaf). */
  certPem: string;
  /** Its private key (PEM, PKCS#8 or SEC1/PKCS#1). */
  keyPem: string;
  /** Optional CA certificate(s) to include (PEM), so the importer sees the chain. */
  chainPem?: string;
  passphrase: string;
  /** The name a browser shows for the imported identity. */
  friendlyName: string;
}

let engine: pkijs.CryptoEngine | undefined;
function cryptoEngine(): pkijs.CryptoEngine {
  engine ??= new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as never /* node's webcrypto is the W3C Crypto; the DOM typings are not in our lib */ });
  return engine;
}

function bytes(buf: Uint8Array): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

function parseDer<T>(der: Uint8Array, what: string, make: (schema: asn1js.AsnType) => T): T {
  const parsed = asn1js.fromBER(bytes(der));
  if (parsed.offset === -1) throw new InvalidInputError(`${what}: not valid DER`);
  return make(parsed.result);
}

function attributes(friendlyName: string, localKeyId: Uint8Array): pkijs.Attribute[] {
  return [
    new pkijs.Attribute({ type: OID_FRIENDLY_NAME, values: [new asn1js.BmpString({ value: friendlyName })] }),
    new pkijs.Attribute({ type: OID_LOCAL_KEY_ID, values: [new asn1js.OctetString({ valueHex: bytes(localKeyId) })] }),
  ];
}

/**
 * A PKCS#12 file (DER) holding the certificate, its key (encrypted) and optionally the CA chain,
 * protected by `passphrase`.
 */
export async function toPkcs12(input: Pkcs12Input): Promise<Buffer> {
  checkPkcs12Passphrase(input.passphrase);
  const certs = pemBlocks(input.certPem, 'certificate').filter((b) => b.label === 'CERTIFICATE');
  if (certs.length === 0) throw new InvalidInputError('certificate: no CERTIFICATE block');
  const chain = input.chainPem ? pemBlocks(input.chainPem, 'CA chain').filter((b) => b.label === 'CERTIFICATE') : [];
  let pkcs8: Buffer;
  try {
    pkcs8 = createPrivateKey(input.keyPem).export({ type: 'pkcs8', format: 'der' });
  } catch (err) {
    throw new InvalidInputError(`private key: cannot be read (${(err as Error).message})`);
  }
  const leafDer = certs[0]!.der;
  const localKeyId = createHash('sha1').update(leafDer).digest();
  const password = bytes(Buffer.from(input.passphrase, 'utf8'));
  const crypto = cryptoEngine();

  const keyBag = new pkijs.PKCS8ShroudedKeyBag({
    parsedValue: parseDer(pkcs8, 'private key', (s) => new pkijs.PrivateKeyInfo({ schema: s })),
  });
  await keyBag.makeInternalValues({
    password,
    contentEncryptionAlgorithm: { name: 'AES-CBC', length: 256 },
    hmacHashAlgorithm: 'SHA-256',
    iterationCount: ITERATIONS,
  }, crypto);

  const certBag = (der: Uint8Array, attrs?: pkijs.Attribute[]): pkijs.SafeBag => new pkijs.SafeBag({
    bagId: OID_CERT_BAG,
    bagValue: new pkijs.CertBag({
      certId: OID_X509_CERTIFICATE,
      parsedValue: parseDer(der, 'certificate', (s) => new pkijs.Certificate({ schema: s })),
    }),
    ...(attrs ? { bagAttributes: attrs } : {}),
  });

  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0, // password-based integrity (a MAC)
      authenticatedSafe: new pkijs.AuthenticatedSafe({
        parsedValue: {
          safeContents: [{
            privacyMode: 0, // the key bag is encrypted itself; certificates are public
            value: new pkijs.SafeContents({
              safeBags: [
                new pkijs.SafeBag({ bagId: OID_PKCS8_SHROUDED_KEY_BAG, bagValue: keyBag, bagAttributes: attributes(input.friendlyName, localKeyId) }),
                certBag(leafDer, attributes(input.friendlyName, localKeyId)),
                ...chain.map((c) => certBag(c.der)),
              ],
            }),
          }],
        },
      }),
    },
  });
  await pfx.parsedValue!.authenticatedSafe!.makeInternalValues({ safeContents: [{}] }, crypto);
  await pfx.makeInternalValues({
    password,
    iterations: ITERATIONS,
    pbkdf2HashAlgorithm: { name: 'SHA-256' },
    hmacHashAlgorithm: 'SHA-256',
  }, crypto);
  return Buffer.from(pfx.toSchema().toBER(false));
}
