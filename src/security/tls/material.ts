/**
 * What a TLS endpoint needs from the PKI: its own certificate(s) and key(s), the CA
 * certificate(s) it trusts, and the CRL it checks peers against. Loaded from files with
 * errors that name the file; the CRL can be reloaded while running.
 */
import type { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { InvalidInputError } from '../../core/errors.js';
import { identityFromCertificate, type PeerIdentity } from '../identity.js';
import { RevocationList } from '../pki/crl.js';
import { parseCertificates, parsePrivateKey, readTextFile } from '../pki/pem.js';

/** One certificate chain with its private key (an endpoint may hold an ECDSA and an RSA one). */
export interface TlsCredential {
  /** Leaf first, then intermediates (the CA itself may be included). */
  readonly certPem: string;
  /** PKCS#8 PEM. Not enumerable, so it never shows up in logs or JSON by accident. */
  readonly keyPem: string;
  /** Identity of the leaf certificate. */
  readonly identity: PeerIdentity;
}

/** File names for {@link loadTlsMaterial}. */
export interface TlsMaterialFiles {
  /** Our certificate (or chain: leaf first). */
  certFile: string;
  /** Our private key (PKCS#8 PEM, mode 0600). */
  keyFile: string;
  /** The CA certificate(s) peers must chain to; several PEM blocks allowed. */
  caFile: string;
  /** The CRL of the CA (optional, but recommended everywhere). */
  crlFile?: string;
  /** More credentials, e.g. an RSA certificate beside the ECDSA one for OpenADR RSA peers. */
  extra?: { certFile: string; keyFile: string }[];
}

/** In-memory form for {@link TlsMaterial.fromPem} (tests, the demo orchestrator). */
export interface TlsMaterialPem {
  credentials: { certPem: string; keyPem: string }[];
  caPem: string;
  crlPem?: string;
}

function credential(certPem: string, keyPem: string, certSource: string, keySource: string): TlsCredential {
  const certs = parseCertificates(certPem, certSource);
  const key = parsePrivateKey(keyPem, keySource);
  if (!certs[0]!.checkPrivateKey(key)) {
    throw new InvalidInputError(`${keySource} does not hold the private key of the certificate in ${certSource}`, { code: 'key_mismatch' });
  }
  let identity: PeerIdentity;
  try {
    identity = identityFromCertificate(certs[0]!);
  } catch (err) {
    throw new InvalidInputError(`${certSource}: ${(err as Error).message}`, { cause: err });
  }
  const cred = { certPem, identity } as TlsCredential;
  Object.defineProperty(cred, 'keyPem', { value: keyPem, enumerable: false });
  return cred;
}

/**
 * Certificates, key(s), trusted CA(s) and CRL of one TLS endpoint. Build it with
 * {@link loadTlsMaterial} or {@link TlsMaterial.fromPem}; pass it to serverTlsOptions,
 * clientTlsOptions or createMutualTlsServer.
 */
export class TlsMaterial {
  private revocationList: RevocationList;
  private readonly listeners = new Set<() => void>();

  private constructor(
    readonly credentials: readonly TlsCredential[],
    readonly caPem: string,
    readonly caCerts: readonly X509Certificate[],
    revocation: RevocationList,
    /** The files it was loaded from, if any (used by reload). */
    readonly files: TlsMaterialFiles | undefined,
  ) {
    this.revocationList = revocation;
  }

  /** Our own identity (the first credential's). */
  get identity(): PeerIdentity {
    return this.credentials[0]!.identity;
  }

  /** The current revocation list; replaced by {@link reloadCrl} / {@link setRevocation}. */
  get revocation(): RevocationList {
    return this.revocationList;
  }

  /** Replaces the revocation list (takes effect for the next connection). */
  setRevocation(list: RevocationList): void {
    this.revocationList = list;
    for (const l of this.listeners) l();
  }

  /** Calls `fn` after every revocation change (servers use it to re-check open connections). */
  onRevocationChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Re-reads the CRL file (or `pem`) and swaps it in without a restart. On a bad CRL the
   * old list stays in force and the error is thrown.
   */
  async reloadCrl(pem?: string): Promise<RevocationList> {
    let list: RevocationList;
    if (pem !== undefined) list = await RevocationList.fromPem(pem, this.caCerts, 'CRL');
    else if (this.files?.crlFile) list = await RevocationList.fromFile(this.files.crlFile, this.caCerts);
    else throw new InvalidInputError('no CRL file configured for this TLS endpoint; pass the CRL text');
    this.setRevocation(list);
    return list;
  }

  /**
   * Polls the CRL file every `intervalMs` (default 5 s) and reloads it when its modification
   * time or size changes, so `erab pki revoke` takes effect on running listeners without a
   * restart. A CRL that fails to load (malformed, not signed by the CA) leaves the previous
   * list in force and is reported to `onError`. Returns a function that stops watching; the
   * timer never keeps the process alive.
   */
  watchCrl(opts: { intervalMs?: number; onReload?: (list: RevocationList) => void; onError?: (err: Error) => void } = {}): () => void {
    const file = this.files?.crlFile;
    if (!file) throw new InvalidInputError('no CRL file configured for this TLS endpoint; nothing to watch');
    const stamp = (): string => {
      try {
        const st = statSync(file);
        return `${st.mtimeMs}:${st.size}:${st.ino}`;
      } catch {
        return 'missing';
      }
    };
    let last = stamp();
    let busy = false;
    const timer = setInterval(() => {
      const now = stamp();
      if (now === last || busy) return;
      busy = true;
      this.reloadCrl()
        .then((list) => { last = now; opts.onReload?.(list); })
        .catch((err: unknown) => { last = now; opts.onError?.(err as Error); })
        .finally(() => { busy = false; });
    }, opts.intervalMs ?? 5000);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Builds material from PEM text. */
  static async fromPem(pem: TlsMaterialPem): Promise<TlsMaterial> {
    if (pem.credentials.length === 0) throw new InvalidInputError('TLS material needs at least one certificate and key');
    const creds = pem.credentials.map((c, i) => credential(c.certPem, c.keyPem, `certificate #${i + 1}`, `private key #${i + 1}`));
    const caCerts = parseCertificates(pem.caPem, 'CA certificates');
    checkCas(caCerts, 'CA certificates');
    const revocation = pem.crlPem ? await RevocationList.fromPem(pem.crlPem, caCerts, 'CRL') : RevocationList.empty();
    return new TlsMaterial(creds, pem.caPem, caCerts, revocation, undefined);
  }

  /** Loads from files; see {@link loadTlsMaterial}. */
  static async fromFiles(files: TlsMaterialFiles): Promise<TlsMaterial> {
    const pairs = [{ certFile: files.certFile, keyFile: files.keyFile }, ...(files.extra ?? [])];
    const creds = pairs.map((p) =>
      credential(readTextFile(p.certFile, 'certificate'), readTextFile(p.keyFile, 'private key'), `certificate file ${p.certFile}`, `private key file ${p.keyFile}`),
    );
    const caPem = readTextFile(files.caFile, 'CA certificate');
    const caCerts = parseCertificates(caPem, `CA certificate file ${files.caFile}`);
    checkCas(caCerts, `CA certificate file ${files.caFile}`);
    const revocation = files.crlFile ? await RevocationList.fromFile(files.crlFile, caCerts) : RevocationList.empty();
    return new TlsMaterial(creds, caPem, caCerts, revocation, { ...files });
  }
}

function checkCas(certs: readonly X509Certificate[], source: string): void {
  for (const [i, c] of certs.entries()) {
    if (!c.ca) throw new InvalidInputError(`${source}: certificate #${i + 1} (${c.subject.replaceAll('\n', ', ')}) is not a CA certificate`);
  }
}

/**
 * Loads a TLS endpoint's certificate, key, CA(s) and CRL from files. Every error names the
 * file and the problem (missing, not PEM, not a certificate, key does not match, CRL not signed
 * by the CA...).
 * @example
 * const m = await loadTlsMaterial({ ...pki.files('tso', 'TSO1') }); // certFile, keyFile, caFile, crlFile
 */
export function loadTlsMaterial(files: TlsMaterialFiles): Promise<TlsMaterial> {
  return TlsMaterial.fromFiles(files);
}
