/**
 * What a TLS endpoint needs from the PKI: its own certificate(s) and key(s), the CA
 * certificate(s) it trusts, and the CRL it checks peers against. Loaded from files with
 * errors that name the file (a private key file group or others can access is refused).
 *
 * The CRL is live: while a listener or client uses the material, the CRL file is watched
 * (fs.watch on its folder, because `erab pki` replaces it by rename, plus a 1 s poll of its
 * mtime/size/inode for file systems where fs.watch says nothing) and re-read on change and on
 * SIGHUP. Subscribers ({@link TlsMaterial.onCrlReload}, {@link TlsMaterial.onRevocationChange})
 * audit each reload and close connections whose peer is now revoked (./revocation.ts).
 *
 * Logging: the CRL in force is logged when loaded and on each reload; a CRL past its nextUpdate
 * is logged at level "error" (50) at load, on each reload and every 10 minutes while it stays
 * stale. "error", not "fatal": pino's fatal means the process is ending, while here it keeps
 * running and fails closed (every peer is refused until a fresh CRL is published), which is an
 * outage an operator must act on now, i.e. an alert.
 */
import type { X509Certificate } from 'node:crypto';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { onReloadSignal } from '../../core/reload-signal.js';
import { identityFromCertificate, type PeerIdentity } from '../identity.js';
import { RevocationList } from '../pki/crl.js';
import { parseCertificates, parsePrivateKey, readPrivateKeyText, readTextFile } from '../pki/pem.js';

let tlsLogger: Logger | (() => Logger) = silentLogger;

/**
 * Where TLS material logs its CRL status (default: nowhere). The CLI sets a pino logger once
 * at start; a library user may pass theirs. A function is called on first use.
 */
export function setTlsLogger(log: Logger | (() => Logger)): void {
  tlsLogger = log;
}

function log(): Logger {
  if (typeof tlsLogger === 'function') tlsLogger = tlsLogger();
  return tlsLogger;
}

/** The CRL in force, for operators (`material.crlStatus`) and audit records. */
export interface CrlStatus {
  /** The CRL file (or "(no CRL)"). */
  source: string;
  /** Whether a CRL is configured at all. */
  configured: boolean;
  /** cRLNumber, decimal (monotonic per CA). */
  crlNumber?: string;
  thisUpdate?: Date;
  nextUpdate?: Date;
  /** Now minus thisUpdate. */
  ageMs?: number;
  /** Past its nextUpdate: listeners refuse every peer until a fresh CRL is loaded. */
  stale: boolean;
  /** Number of revoked serials. */
  revoked: number;
}

/** What made a CRL reload happen. */
export type CrlReloadTrigger = 'file' | 'signal' | 'api';

/** One reload attempt, as reported to {@link TlsMaterial.onCrlReload} subscribers. */
export type CrlReloadEvent =
  | { ok: true; trigger: CrlReloadTrigger; status: CrlStatus; previous: CrlStatus }
  /** The previous list stays in force (`status`). */
  | { ok: false; trigger: CrlReloadTrigger; error: Error; status: CrlStatus };

/** A stale CRL is logged again this often while it stays stale. */
const STALE_LOG_EVERY_MS = 10 * 60_000;
/** Default poll of the CRL file, besides fs.watch. */
const CRL_POLL_MS = 1000;

function fileStamp(file: string): string {
  try {
    const st = statSync(file);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return 'missing';
  }
}

/** A status as audit-record details (dates as ISO strings). */
export function crlStatusDetails(s: CrlStatus): Record<string, unknown> {
  return {
    source: s.source,
    ...(s.crlNumber !== undefined ? { crlNumber: s.crlNumber } : {}),
    ...(s.thisUpdate ? { thisUpdate: s.thisUpdate.toISOString() } : {}),
    ...(s.nextUpdate ? { nextUpdate: s.nextUpdate.toISOString() } : {}),
    ...(s.ageMs !== undefined ? { ageSeconds: Math.round(s.ageMs / 1000) } : {}),
    stale: s.stale,
    revoked: s.revoked,
  };
}

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
  /**
   * Load key files that group or others can access (warned; audited by listeners). Default:
   * whether ERAB_ALLOW_INSECURE_KEY_MODE=1 is set. Without it such a key is refused.
   */
  allowInsecureKeyMode?: boolean;
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
  private readonly reloadListeners = new Set<(e: CrlReloadEvent) => void>();
  /** mtime:size:inode of the CRL file when it was last read (or tried). */
  private loadedStamp: string;
  private reloading: Promise<RevocationList> | undefined;
  private watcher: { handles: number; stop: () => void; check: () => void } | undefined;
  private lastStaleLog = 0;

  private constructor(
    readonly credentials: readonly TlsCredential[],
    readonly caPem: string,
    readonly caCerts: readonly X509Certificate[],
    revocation: RevocationList,
    /** The files it was loaded from, if any (used by reload). */
    readonly files: TlsMaterialFiles | undefined,
    /** Key files loaded although group or others can access them (the override was set). */
    readonly insecureKeyFiles: readonly string[] = [],
    /** The CRL file's stamp taken before it was read. */
    crlStamp = 'missing',
  ) {
    this.revocationList = revocation;
    this.loadedStamp = crlStamp;
  }

  /** Our own identity (the first credential's). */
  get identity(): PeerIdentity {
    return this.credentials[0]!.identity;
  }

  /** The current revocation list; replaced by {@link reloadCrl} / {@link setRevocation}. */
  get revocation(): RevocationList {
    return this.revocationList;
  }

  /** The CRL in force: number, thisUpdate, nextUpdate, age, staleness, revoked count. */
  get crlStatus(): CrlStatus {
    return this.statusOf(this.revocationList);
  }

  private statusOf(list: RevocationList, now = Date.now()): CrlStatus {
    const configured = this.files?.crlFile !== undefined || list.thisUpdate.getTime() > 0;
    return {
      source: list.source,
      configured,
      ...(list.crlNumber !== undefined ? { crlNumber: list.crlNumber } : {}),
      ...(configured ? { thisUpdate: list.thisUpdate, ageMs: now - list.thisUpdate.getTime() } : {}),
      ...(list.nextUpdate ? { nextUpdate: list.nextUpdate } : {}),
      stale: list.isStale(now),
      revoked: list.size,
    };
  }

  /** Replaces the revocation list (takes effect for the next connection; listeners re-check open ones). */
  setRevocation(list: RevocationList): void {
    this.revocationList = list;
    this.notifyRevocationChange();
  }

  private notifyRevocationChange(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        log().error({ err, crl: this.revocationList.source }, 'a revocation-change subscriber failed');
      }
    }
  }

  /** Calls `fn` after every revocation change (servers use it to re-check open connections). */
  onRevocationChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Calls `fn` after every CRL reload attempt, successful or not (listeners audit them). */
  onCrlReload(fn: (e: CrlReloadEvent) => void): () => void {
    this.reloadListeners.add(fn);
    return () => this.reloadListeners.delete(fn);
  }

  private emitReload(e: CrlReloadEvent): void {
    for (const l of this.reloadListeners) {
      try {
        l(e);
      } catch (err) {
        log().error({ err, crl: e.status.source }, 'a CRL reload subscriber failed');
      }
    }
  }

  /**
   * Re-reads the CRL file (or `pem`) and swaps it in without a restart. On a bad CRL the
   * old list stays in force and the error is thrown. Either way subscribers hear of it
   * ({@link onCrlReload}); concurrent reloads of the file share one read.
   */
  reloadCrl(pem?: string, opts: { trigger?: CrlReloadTrigger } = {}): Promise<RevocationList> {
    const trigger = opts.trigger ?? 'api';
    if (pem === undefined && !this.files?.crlFile) {
      return Promise.reject(new InvalidInputError('no CRL file configured for this TLS endpoint; pass the CRL text'));
    }
    if (pem === undefined && this.reloading) return this.reloading;
    const file = this.files?.crlFile;
    const stamp = pem === undefined && file ? fileStamp(file) : undefined;
    const run = (async () => {
      const previous = this.crlStatus;
      let list: RevocationList;
      try {
        list = pem !== undefined ? await RevocationList.fromPem(pem, this.caCerts, 'CRL') : await RevocationList.fromFile(file!, this.caCerts);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        log().error({ crl: file ?? 'CRL', trigger, err: error.message, inForce: crlStatusDetails(previous) }, 'CRL reload failed; the previous CRL stays in force');
        this.emitReload({ ok: false, trigger, error, status: previous });
        throw error;
      } finally {
        if (stamp !== undefined) this.loadedStamp = stamp;
      }
      this.revocationList = list;
      const status = this.crlStatus;
      this.logStatus(status, `CRL reloaded (${trigger})`);
      this.emitReload({ ok: true, trigger, status, previous });
      this.notifyRevocationChange();
      return list;
    })();
    if (pem === undefined) {
      this.reloading = run;
      const clear = (): void => {
        this.reloading = undefined;
        this.watcher?.check(); // the file may have changed again while it was read
      };
      run.then(clear, clear);
    }
    return run;
  }

  /** Logs the CRL in force: info, or error when it is past its nextUpdate (see the file header). */
  private logStatus(status: CrlStatus, msg: string): void {
    const fields = { crl: status.source, ...crlStatusDetails(status) };
    if (status.stale) {
      this.lastStaleLog = Date.now();
      log().error(fields, `${msg}: the CRL is past its nextUpdate (${status.nextUpdate!.toISOString()}); every peer is refused until a fresh CRL is published (erab pki crl)`);
    } else {
      log().info(fields, msg);
    }
  }

  /**
   * Watches the CRL file and reloads it when it changes (fs.watch on its folder, which sees the
   * rename `erab pki` writes with, plus a poll every `intervalMs`, default 1 s), and on SIGHUP.
   * A CRL that fails to load (malformed, not signed by the CA) leaves the previous list in force
   * and is reported to `onError` (and to every {@link onCrlReload} subscriber). A stale CRL is
   * logged again every 10 minutes. One watcher serves every caller; it stops when the last
   * caller calls the returned function. Never keeps the process alive.
   */
  watchCrl(opts: { intervalMs?: number; onReload?: (list: RevocationList) => void; onError?: (err: Error) => void } = {}): () => void {
    const file = this.files?.crlFile;
    if (!file) throw new InvalidInputError('no CRL file configured for this TLS endpoint; nothing to watch');
    if (!this.watcher) this.watcher = this.startWatching(file, opts.intervalMs ?? CRL_POLL_MS);
    const w = this.watcher;
    w.handles++;
    const unsubscribe = opts.onReload || opts.onError
      ? this.onCrlReload((e) => (e.ok ? opts.onReload?.(this.revocationList) : opts.onError?.(e.error)))
      : () => {};
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      if (--w.handles === 0 && this.watcher === w) {
        this.watcher = undefined;
        w.stop();
      }
    };
  }

  /**
   * Watches the CRL (as {@link watchCrl}) for the rest of the process, when a CRL file is
   * configured; idempotent. Clients use it: an options object has no end of life to stop at.
   */
  keepWatchingCrl(): void {
    if (this.permanentWatch || !this.files?.crlFile) return;
    this.permanentWatch = true;
    this.watchCrl();
  }

  private permanentWatch = false;

  private startWatching(file: string, intervalMs: number): { handles: number; stop: () => void; check: () => void } {
    const check = (): void => {
      if (this.reloading) return; // re-checked when that reload ends
      if (fileStamp(file) !== this.loadedStamp) this.reloadCrl(undefined, { trigger: 'file' }).catch(() => { /* logged and reported to subscribers */ });
    };
    const checkStale = (): void => {
      const status = this.crlStatus;
      if (status.stale && Date.now() - this.lastStaleLog >= STALE_LOG_EVERY_MS) this.logStatus(status, 'CRL check');
    };
    let debounce: NodeJS.Timeout | undefined;
    let fsw: FSWatcher | undefined;
    try {
      // The folder, not the file: a rename replaces the inode a file watch would follow.
      fsw = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name !== null && name !== basename(file)) return;
        clearTimeout(debounce);
        debounce = setTimeout(check, 30);
        debounce.unref();
      });
      fsw.on('error', () => { fsw?.close(); fsw = undefined; }); // the poll carries on
    } catch {
      fsw = undefined; // no inotify (or the folder is gone): polling alone
    }
    const timer = setInterval(() => { check(); checkStale(); }, intervalMs);
    timer.unref();
    const offSignal = onReloadSignal(() => this.reloadCrl(undefined, { trigger: 'signal' }).catch(() => { /* reported */ }));
    // A change between load and now (e.g. a client that starts watching at its first connection).
    queueMicrotask(check);
    return {
      handles: 0,
      check,
      stop: () => {
        clearInterval(timer);
        clearTimeout(debounce);
        fsw?.close();
        offSignal();
      },
    };
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
    const insecure: string[] = [];
    const creds = pairs.map((p) => {
      const key = readPrivateKeyText(p.keyFile, 'private key', { allowInsecureKeyMode: files.allowInsecureKeyMode });
      if (key.insecureMode !== undefined) insecure.push(p.keyFile);
      return credential(readTextFile(p.certFile, 'certificate'), key.text, `certificate file ${p.certFile}`, `private key file ${p.keyFile}`);
    });
    const caPem = readTextFile(files.caFile, 'CA certificate');
    const caCerts = parseCertificates(caPem, `CA certificate file ${files.caFile}`);
    checkCas(caCerts, `CA certificate file ${files.caFile}`);
    const crlStamp = files.crlFile ? fileStamp(files.crlFile) : 'missing';
    const revocation = files.crlFile ? await RevocationList.fromFile(files.crlFile, caCerts) : RevocationList.empty();
    const material = new TlsMaterial(creds, caPem, caCerts, revocation, { ...files }, insecure, crlStamp);
    if (files.crlFile) material.logStatus(material.crlStatus, 'CRL loaded');
    return material;
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
