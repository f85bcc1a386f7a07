/**
 * Certificate revocation as a TLS listener checks it: a CRL (RFC 5280 §5) is read, its
 * signature checked against the configured CA certificates, and its serials kept in a Set so
 * that checking a peer costs one lookup per connection.
 *
 * Serials are compared without the issuer: erab serials are 128 random bits, so a collision
 * between two CAs can only refuse a peer (fail closed), never admit one.
 */
import type { X509Certificate } from 'node:crypto';
import { InvalidInputError } from '../../core/errors.js';
import { normalizeSerial } from '../identity.js';
import { parseCrls, readTextFile } from './pem.js';
import { x509 } from './x509.js';

/** Why and when a serial was revoked. */
export interface RevocationInfo {
  serial: string;
  revokedAt: Date;
  /** RFC 5280 §5.3.1 reason name, when the CRL entry gives one. */
  reason?: string;
}

/** The verified contents of one or more CRLs. */
export class RevocationList {
  private constructor(
    private readonly revoked: ReadonlyMap<string, RevocationInfo>,
    /** Earliest nextUpdate of the CRLs; after it the list is stale. */
    readonly nextUpdate: Date | undefined,
    readonly thisUpdate: Date,
    /** Where it came from (file name), for messages. */
    readonly source: string,
    /** The highest cRLNumber (RFC 5280 §5.2.3) of the CRLs, decimal; undefined when none carries one. */
    readonly crlNumber?: string,
  ) {}

  /** An empty list (no CRL configured). */
  static empty(source = '(no CRL)'): RevocationList {
    return new RevocationList(new Map(), undefined, new Date(0), source);
  }

  /**
   * Parses PEM CRL text and verifies each CRL's signature against one of `caCerts`.
   * Throws InvalidInputError naming `source` when a CRL is malformed or not signed by a CA.
   */
  static async fromPem(pem: string, caCerts: readonly X509Certificate[], source = 'CRL'): Promise<RevocationList> {
    const crls = parseCrls(pem, source);
    const cas = caCerts.map((c) => new x509.X509Certificate(c.raw));
    const revoked = new Map<string, RevocationInfo>();
    let nextUpdate: Date | undefined;
    let thisUpdate = new Date(0);
    let crlNumber: bigint | undefined;
    for (const [i, crl] of crls.entries()) {
      let signed = false;
      for (const ca of cas) {
        if (ca.subject !== crl.issuer) continue;
        try {
          if (await crl.verify({ publicKey: ca })) { signed = true; break; }
        } catch { /* wrong key type for this CA: try the next */ }
      }
      if (!signed) {
        throw new InvalidInputError(`${source}: CRL #${i + 1} (issuer "${crl.issuer}") is not signed by any configured CA certificate`, { code: 'crl_untrusted' });
      }
      for (const e of crl.entries) {
        const info: RevocationInfo = { serial: normalizeSerial(e.serialNumber), revokedAt: e.revocationDate };
        if (e.reason !== undefined) info.reason = x509.X509CrlReason[e.reason];
        revoked.set(info.serial, info);
      }
      if (crl.nextUpdate && (!nextUpdate || crl.nextUpdate < nextUpdate)) nextUpdate = crl.nextUpdate;
      if (crl.thisUpdate > thisUpdate) thisUpdate = crl.thisUpdate;
      const n = crlNumberOf(crl);
      if (n !== undefined && (crlNumber === undefined || n > crlNumber)) crlNumber = n;
    }
    return new RevocationList(revoked, nextUpdate, thisUpdate, source, crlNumber?.toString());
  }

  /** Reads and verifies a CRL file (see {@link fromPem}). */
  static async fromFile(file: string, caCerts: readonly X509Certificate[]): Promise<RevocationList> {
    return RevocationList.fromPem(readTextFile(file, 'CRL'), caCerts, `CRL file ${file}`);
  }

  /** The revocation entry for a normalised serial (upper-case hex, no leading zeros, as in PeerIdentity.serial), or undefined. O(1). */
  lookup(serial: string): RevocationInfo | undefined {
    return this.revoked.get(serial);
  }

  /** Number of revoked serials. */
  get size(): number {
    return this.revoked.size;
  }

  /** True when a nextUpdate is set and lies before `now`. */
  isStale(now: number): boolean {
    return this.nextUpdate !== undefined && this.nextUpdate.getTime() < now;
  }
}

/** The cRLNumber extension (2.5.29.20, a DER INTEGER) of a CRL, or undefined when absent or malformed. */
function crlNumberOf(crl: x509.X509Crl): bigint | undefined {
  const ext = crl.getExtension('2.5.29.20');
  if (!ext) return undefined;
  const der = new Uint8Array(ext.value);
  // INTEGER, short-form length, at most 20 octets (RFC 5280 §5.2.3).
  if (der.length < 3 || der[0] !== 0x02 || der[1] !== der.length - 2 || der.length - 2 > 21) return undefined;
  let n = 0n;
  for (const b of der.subarray(2)) n = (n << 8n) | BigInt(b);
  return n;
}
