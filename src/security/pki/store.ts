/**
 * The PKI on disk: one CA, the certificates it issued, their status, and the CRL.
 *
 * Folder layout (default `.erab/pki`):
 *
 *   <dir>/index.json                      what was issued: serial, role, id, fingerprint,
 *                                         validity, status (valid/revoked), reason
 *   <dir>/ca/ca.crt                       CA certificate (give it to every peer as `caFile`)
 *   <dir>/ca/ca.key                       CA private key, PKCS#8 PEM, mode 0600,
 *                                         AES-256-CBC encrypted when a passphrase is set
 *   <dir>/crl.pem                         the current signed CRL (rewritten on every revoke)
 *   <dir>/issued/<role>-<id>/cert.pem     participant certificate
 *   <dir>/issued/<role>-<id>/key.pem      participant private key, PKCS#8 PEM, mode 0600
 *   <dir>/issued/<role>-<id>/chain.pem    certificate followed by the CA certificate
 *   <dir>/issued/<role>-<id>-code-signing/ the same three files for a participant's code-signing
 *                                         certificate (its own key, never the TLS key)
 *   <dir>/archive/<serial>.pem            certificates replaced by rotate or re-issue
 *   <dir>/.lock                           held while a command changes the PKI
 *
 * Directories holding keys are mode 0700. Every change takes the lock, re-reads the index,
 * and writes files atomically (temp file + rename), so concurrent `erab pki` runs and
 * programmatic callers cannot lose an entry.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, chmodSync, writeSync, fsyncSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { explain, InvalidInputError, PolicyRefusedError } from '../../core/errors.js';
import { PARTICIPANT_ROLES, parseParticipant, normalizeSerial, openadrFingerprint, type ParticipantRole } from '../identity.js';
import {
  CERTIFICATE_USAGES,
  CertificateAuthority,
  REVOCATION_REASONS,
  type CertificateUsage,
  type IssueParams,
  type IssuedCertificate,
  type KeyAlgorithm,
  type RevocationReason,
} from './authority.js';
import { parseCertificates, readPrivateKeyText, readTextFile } from './pem.js';

/** Default PKI folder, relative to the working directory. */
export const DEFAULT_PKI_DIR = '.erab/pki';

const recordSchema = z.object({
  serial: z.string().regex(/^[0-9A-F]+$/),
  role: z.enum(PARTICIPANT_ROLES),
  id: z.string(),
  algorithm: z.enum(['ec', 'rsa']),
  /** Absent in indexes written before code signing: `tls`. */
  usage: z.enum(CERTIFICATE_USAGES).optional(),
  fingerprint: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  subject: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  issuedAt: z.string(),
  dns: z.array(z.string()),
  ip: z.array(z.string()),
  status: z.enum(['valid', 'revoked']),
  revokedAt: z.string().optional(),
  reason: z.enum(REVOCATION_REASONS).optional(),
});

const indexSchema = z.object({
  format: z.literal('erab-pki/1'),
  ca: z.object({
    subject: z.string(),
    serial: z.string(),
    fingerprint: z.string(),
    algorithm: z.enum(['ec', 'rsa']),
    notAfter: z.string(),
    encrypted: z.boolean(),
  }),
  crlNumber: z.number().int().nonnegative(),
  certificates: z.array(recordSchema),
});

type PkiIndex = z.infer<typeof indexSchema>;
/** One issued certificate as the index records it. */
export type CertificateRecord = z.infer<typeof recordSchema>;
/** A record with its status as of now: `expired` is computed from notAfter. */
export type CertificateListing = Omit<CertificateRecord, 'status'> & { status: 'valid' | 'revoked' | 'expired' };

/** Where one participant's files are. */
export interface ParticipantFiles {
  dir: string;
  certFile: string;
  keyFile: string;
  chainFile: string;
  caFile: string;
  crlFile: string;
}

/** The result of issuing into the store: the PEMs (secret key included) and the file paths. */
export interface StoredCertificate extends IssuedCertificate {
  files: ParticipantFiles;
}

/** Which certificate to revoke: by serial, or the current valid one(s) of a participant. */
export type RevokeTarget = { serial: string } | { role: ParticipantRole | string; id: string };

/** Writes `data` to `file` atomically with `mode` (0600 for keys), fsync'd before the rename. */
export function writeFileAtomic(file: string, data: string, mode = 0o644): void {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode); // the umask may have removed bits; never added any
  renameSync(tmp, file);
}

const LOCK_STALE_MS = 60_000;

/**
 * A PKI folder. Open one with {@link initCa} (new) or {@link openPki} (existing).
 * Reading (list, files) needs no passphrase; issuing, revoking and CRLs load the CA key.
 * @example
 * const pki = await initCa({ dir: '/tmp/pki' });
 * const vtn = await pki.issue({ role: 'tso', id: 'TSO1' });
 * await pki.revoke({ role: 'tso', id: 'TSO1' }, 'keyCompromise');
 */
export class PkiStore {
  private ca: CertificateAuthority | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    /** Absolute path of the PKI folder. */
    readonly dir: string,
    private readonly passphrase: string | undefined,
    /** Load a CA key file group or others can access (see readPrivateKeyText). */
    private readonly allowInsecureKeyMode?: boolean,
  ) {}

  /** @internal used by initCa/openPki */
  static async attach(dir: string, passphrase: string | undefined, ca?: CertificateAuthority, allowInsecureKeyMode?: boolean): Promise<PkiStore> {
    const store = new PkiStore(resolve(dir), passphrase, allowInsecureKeyMode);
    store.ca = ca;
    store.readIndex(); // fail early on a missing or broken folder
    return store;
  }

  get caCertFile(): string { return join(this.dir, 'ca', 'ca.crt'); }
  get caKeyFile(): string { return join(this.dir, 'ca', 'ca.key'); }
  get crlFile(): string { return join(this.dir, 'crl.pem'); }
  get indexFile(): string { return join(this.dir, 'index.json'); }

  /** The files of one participant's TLS (default) or code-signing certificate (whether or not they exist yet). */
  files(role: ParticipantRole | string, id: string, usage: CertificateUsage = 'tls'): ParticipantFiles {
    const p = parseParticipant(role, id);
    const dir = join(this.dir, 'issued', `${p.role}-${p.id}${usage === 'tls' ? '' : `-${usage}`}`);
    return {
      dir,
      certFile: join(dir, 'cert.pem'),
      keyFile: join(dir, 'key.pem'),
      chainFile: join(dir, 'chain.pem'),
      caFile: this.caCertFile,
      crlFile: this.crlFile,
    };
  }

  /** The CA certificate, PEM. */
  caCertPem(): string {
    return readTextFile(this.caCertFile, 'CA certificate');
  }

  /** Every issued certificate, oldest first, with its status as of `now`. */
  list(now: Date = new Date()): CertificateListing[] {
    return this.readIndex().certificates.map((r) => ({
      ...r,
      status: r.status === 'revoked' ? 'revoked' : new Date(r.notAfter) <= now ? 'expired' : 'valid',
    }));
  }

  /**
   * Issues a key pair and certificate for a participant and writes them under
   * `issued/<role>-<id>/`. Refuses when the participant already holds a valid certificate
   * (use {@link rotate}); a previous expired or revoked one is moved to `archive/`.
   */
  issue(params: IssueParams): Promise<StoredCertificate> {
    return this.exclusive(async () => {
      const index = this.readIndex();
      const { role, id } = parseParticipant(params.role, params.id);
      const usage = params.usage ?? 'tls';
      const current = this.currentValid(index, role, id, usage);
      if (current) {
        throw new PolicyRefusedError(`${role} ${id} already holds valid ${usage === 'tls' ? '' : `${usage} `}certificate ${current.serial}; use "erab pki rotate" to replace it`, { code: 'already_issued' });
      }
      const issued = await this.writeIssued(index, { ...params, role, id });
      this.writeIndex(index);
      return issued;
    });
  }

  /**
   * Replaces a participant's certificate: a new key pair and certificate (same algorithm and
   * names unless overridden) is written first, then the old certificate is revoked with reason
   * `superseded` and the CRL rewritten, so the participant is never left without one.
   */
  rotate(params: { role: ParticipantRole | string; id: string } & Partial<Omit<IssueParams, 'role' | 'id'>>): Promise<StoredCertificate & { replaced: string }> {
    return this.exclusive(async () => {
      const index = this.readIndex();
      const { role, id } = parseParticipant(params.role, params.id);
      const usage = params.usage ?? 'tls';
      const old = this.currentValid(index, role, id, usage);
      if (!old) throw new InvalidInputError(`${role} ${id} has no valid ${usage === 'tls' ? '' : `${usage} `}certificate to rotate; use "erab pki issue"`, { code: 'not_found' });
      const issued = await this.writeIssued(index, {
        algorithm: old.algorithm,
        dns: old.dns,
        ip: old.ip,
        ...params,
        role,
        id,
      });
      this.markRevoked(old, 'superseded');
      this.writeIndex(index);
      await this.signCrl(index);
      this.writeIndex(index);
      return { ...issued, replaced: old.serial };
    });
  }

  /**
   * Revokes by serial, or every valid certificate of a participant, then rewrites the CRL.
   * Returns the revoked serials. Throws when nothing matches or it is already revoked.
   */
  revoke(target: RevokeTarget, reason: RevocationReason = 'unspecified'): Promise<string[]> {
    return this.exclusive(async () => {
      if (!REVOCATION_REASONS.includes(reason)) throw new InvalidInputError(`revocation reason "${reason as string}" must be one of ${REVOCATION_REASONS.join(', ')}`);
      const index = this.readIndex();
      let hits: CertificateRecord[];
      if ('serial' in target) {
        const serial = normalizeSerial(target.serial);
        const rec = index.certificates.find((r) => r.serial === serial);
        if (!rec) throw new InvalidInputError(`no certificate with serial ${serial} in ${this.indexFile}`, { code: 'not_found' });
        if (rec.status === 'revoked') throw new InvalidInputError(`certificate ${serial} is already revoked (${rec.reason ?? 'unspecified'}, ${rec.revokedAt})`, { code: 'already_revoked' });
        hits = [rec];
      } else {
        const { role, id } = parseParticipant(target.role, target.id);
        hits = index.certificates.filter((r) => r.role === role && r.id === id && r.status === 'valid');
        if (hits.length === 0) throw new InvalidInputError(`${role} ${id} has no unrevoked certificate`, { code: 'not_found' });
      }
      for (const rec of hits) this.markRevoked(rec, reason);
      this.writeIndex(index);
      await this.signCrl(index);
      this.writeIndex(index);
      return hits.map((r) => r.serial);
    });
  }

  /** Signs a fresh CRL of every revoked certificate and writes `crl.pem`. */
  writeCrl(opts: { days?: number } = {}): Promise<{ file: string; crlNumber: number; revoked: number }> {
    return this.exclusive(async () => {
      const index = this.readIndex();
      const res = await this.signCrl(index, opts.days);
      this.writeIndex(index);
      return res;
    });
  }

  /** Loads (once) and returns the CA with its signing key. Throws on a wrong passphrase. */
  async authority(): Promise<CertificateAuthority> {
    if (!this.ca) {
      this.ca = await CertificateAuthority.fromPem(
        readTextFile(this.caCertFile, 'CA certificate'),
        readPrivateKeyText(this.caKeyFile, 'CA private key', { allowInsecureKeyMode: this.allowInsecureKeyMode }).text,
        {
          ...(this.passphrase !== undefined ? { passphrase: this.passphrase } : {}),
          certSource: `CA certificate file ${this.caCertFile}`,
          keySource: `CA private key file ${this.caKeyFile}`,
        },
      );
    }
    return this.ca;
  }

  // ---- internals ----

  private currentValid(index: PkiIndex, role: string, id: string, usage: CertificateUsage = 'tls'): CertificateRecord | undefined {
    const now = Date.now();
    return index.certificates.find((r) => r.role === role && r.id === id && (r.usage ?? 'tls') === usage && r.status === 'valid' && new Date(r.notAfter).getTime() > now);
  }

  private markRevoked(rec: CertificateRecord, reason: RevocationReason): void {
    rec.status = 'revoked';
    rec.revokedAt = new Date().toISOString();
    rec.reason = reason;
  }

  private async writeIssued(index: PkiIndex, params: IssueParams & { role: ParticipantRole }): Promise<StoredCertificate> {
    const ca = await this.authority();
    const issued = await ca.issue(params);
    const files = this.files(issued.role, issued.id, issued.usage);
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    if (existsSync(files.certFile)) {
      // Keep the old certificate (public) for the record; its key is no longer needed.
      const archive = join(this.dir, 'archive');
      mkdirSync(archive, { recursive: true, mode: 0o700 });
      let oldSerial = 'unknown';
      try {
        oldSerial = normalizeSerial(parseCertificates(readFileSync(files.certFile, 'utf8'), files.certFile)[0]!.serialNumber);
      } catch { /* unreadable old file: archive it under a random name */ oldSerial = `unknown-${randomBytes(4).toString('hex')}`; }
      renameSync(files.certFile, join(archive, `${oldSerial}.pem`));
    }
    writeFileAtomic(files.keyFile, issued.keyPem, 0o600);
    writeFileAtomic(files.certFile, issued.certPem);
    writeFileAtomic(files.chainFile, issued.chainPem);
    index.certificates.push({
      serial: issued.serial,
      role: issued.role,
      id: issued.id,
      algorithm: issued.algorithm,
      ...(issued.usage !== 'tls' ? { usage: issued.usage } : {}),
      fingerprint: issued.identity.fingerprint,
      sha256: issued.identity.sha256,
      subject: issued.identity.subject.replaceAll('\n', ', '),
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      issuedAt: new Date().toISOString(),
      dns: issued.usage === 'tls' ? params.dns ?? ['localhost'] : [],
      ip: issued.usage === 'tls' ? params.ip ?? ['127.0.0.1', '::1'] : [],
      status: 'valid',
    });
    return { ...issued, files };
  }

  private async signCrl(index: PkiIndex, days?: number): Promise<{ file: string; crlNumber: number; revoked: number }> {
    const ca = await this.authority();
    const revoked = index.certificates.filter((r) => r.status === 'revoked');
    index.crlNumber += 1;
    const pem = await ca.signCrl(
      revoked.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt ?? Date.now()), ...(r.reason ? { reason: r.reason } : {}) })),
      { crlNumber: index.crlNumber, ...(days !== undefined ? { days } : {}) },
    );
    writeFileAtomic(this.crlFile, pem);
    return { file: this.crlFile, crlNumber: index.crlNumber, revoked: revoked.length };
  }

  private readIndex(): PkiIndex {
    const text = readTextFile(this.indexFile, 'PKI index');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new InvalidInputError(`PKI index file ${this.indexFile} is not valid JSON (${(err as Error).message})`, { cause: err });
    }
    const parsed = indexSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidInputError(`PKI index file ${this.indexFile}: field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    return parsed.data;
  }

  private writeIndex(index: PkiIndex): void {
    writeFileAtomic(this.indexFile, `${JSON.stringify(index, null, 2)}\n`);
  }

  /** Serialises changes within this process and holds `<dir>/.lock` against other processes. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const release = await acquireLock(join(this.dir, '.lock'));
      try {
        return await fn();
      } finally {
        release();
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

async function acquireLock(file: string): Promise<() => void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(file).mtimeMs > LOCK_STALE_MS) rmSync(file, { force: true });
      } catch { /* vanished meanwhile */ }
      if (Date.now() > deadline) throw new PolicyRefusedError(`PKI folder is locked by another process (${file}); remove the file if no erab pki command is running`, { code: 'locked' });
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** Options of {@link initCa}. */
export interface InitCaOptions {
  /** PKI folder; default {@link DEFAULT_PKI_DIR}. */
  dir?: string;
  /** Encrypts the CA key (AES-256-CBC, PKCS#8). */
  passphrase?: string;
  /** CA key type; default `ec` (ECDSA P-256). */
  algorithm?: KeyAlgorithm;
  commonName?: string;
  /** CA validity in days; default 3650. */
  days?: number;
}

/**
 * Creates a new CA in `dir` (refuses if one exists), writes an empty signed CRL, and returns
 * the opened store.
 * @example const pki = await initCa({ dir: '.erab/pki', passphrase: process.env.ERAB_CA_PASSPHRASE });
 */
export async function initCa(opts: InitCaOptions = {}): Promise<PkiStore> {
  const dir = resolve(opts.dir ?? DEFAULT_PKI_DIR);
  if (existsSync(join(dir, 'ca', 'ca.crt')) || existsSync(join(dir, 'index.json'))) {
    throw new PolicyRefusedError(explain('pki.caExists', { dir }), { code: 'already_exists' });
  }
  const ca = await CertificateAuthority.create({
    ...(opts.algorithm ? { algorithm: opts.algorithm } : {}),
    ...(opts.commonName ? { commonName: opts.commonName } : {}),
    ...(opts.days ? { days: opts.days } : {}),
  });
  mkdirSync(join(dir, 'ca'), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, 'issued'), { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, 'ca', 'ca.key'), ca.exportKeyPem(opts.passphrase), 0o600);
  writeFileAtomic(join(dir, 'ca', 'ca.crt'), ca.certPem);
  const index: PkiIndex = {
    format: 'erab-pki/1',
    ca: {
      subject: ca.cert.subject,
      serial: normalizeSerial(ca.cert.serialNumber),
      fingerprint: openadrFingerprint(new Uint8Array(ca.cert.rawData)),
      algorithm: ca.algorithm,
      notAfter: ca.cert.notAfter.toISOString(),
      encrypted: opts.passphrase !== undefined,
    },
    crlNumber: 0,
    certificates: [],
  };
  writeFileAtomic(join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  const store = await PkiStore.attach(dir, opts.passphrase, ca);
  await store.writeCrl();
  return store;
}

/**
 * Opens an existing PKI folder. The passphrase is only needed for operations that sign
 * (issue, revoke, rotate, crl) and is checked when the CA key is first used.
 */
export async function openPki(opts: { dir?: string; passphrase?: string; allowInsecureKeyMode?: boolean } = {}): Promise<PkiStore> {
  const dir = resolve(opts.dir ?? DEFAULT_PKI_DIR);
  if (!existsSync(join(dir, 'index.json'))) {
    throw new InvalidInputError(`no PKI in ${dir} (missing index.json); run "erab pki init" first`, { code: 'not_found' });
  }
  return PkiStore.attach(dir, opts.passphrase, undefined, opts.allowInsecureKeyMode);
}
