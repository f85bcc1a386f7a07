/**
 * `erab backup` / `erab restore` for a role: its database, audit log and keys as one signed
 * archive (./container.ts).
 *
 * Backup order gives one consistent point: the database snapshot is taken first, then the audit
 * log is read (checkpoints before segments, a torn last line dropped), so every record the
 * snapshot's state implies is in the copied log. The copy is verified before the archive is
 * written: a broken log is refused, never backed up as if sound. Keys (the TLS key that signs
 * the archive and the audit log's signing key) are encrypted with a passphrase (./secrets.ts).
 *
 * Restore checks everything before it writes anything: the archive's structure, the signer's
 * certificate (issued by the role's CA, naming the role's participant), the signature over the
 * manifest, the SHA-256 of every entry (the first mismatch is named), the passphrase, and the
 * audit log (src/security/audit verify). Then it refuses to overwrite a non-empty database, audit
 * log or a different key unless `replace` is set.
 */
import { X509Certificate, createPrivateKey, sign, verify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { IntegrityError, InvalidInputError, NotAuthorizedError } from '../../core/errors.js';
import { parseCertificates, readTextFile } from '../../security/pki/pem.js';
import { identityFromCertificate, type ParticipantRole } from '../../security/identity.js';
import { verifyAuditLog, type VerifyResult } from '../../security/audit/verify.js';
import { readStoredVerifierKey } from '../../security/audit/store.js';
import { BACKUP_FORMAT, decodeBackup, encodeBackup, sha256Hex, type BackupManifest, type BackupSignature, type DecodedBackup, type ManifestEntry } from './container.js';
import { existingTables, restoreDatabase, snapshotDatabase, type DatabaseTarget } from './database.js';
import { openKey, sealKey } from './secrets.js';

/** What a role's backup covers, read from its configuration. */
export interface RoleBackupSpec {
  role: ParticipantRole;
  id: string;
  database: DatabaseTarget;
  auditDir: string;
  tls: { certFile: string; keyFile: string; caFile: string };
}

const TLS_KEY_ENTRY = 'keys/tls.key';
const AUDIT_KEY_ENTRY = 'keys/audit-signing.key';
/** Files of the audit directory never copied as they are: the lock is per process, the key goes encrypted. */
const AUDIT_SKIP = new Set(['LOCK', 'signing.key']);

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * The audit log as it stands, consistent: checkpoints first (each covers records already in the
 * segments), then the rest; a segment's unfinished last line (an append in progress) is dropped.
 */
export function snapshotAuditDir(dir: string): Map<string, Buffer> {
  if (!existsSync(join(dir, 'verifier.key'))) throw new InvalidInputError(`audit log ${dir}: no verifier.key there (is this the role's audit directory?)`);
  const files = listFiles(dir).filter((f) => !AUDIT_SKIP.has(f));
  const first: string[] = files.filter((f) => f === 'checkpoints.txt' || f === 'anchor.json');
  const out = new Map<string, Buffer>();
  for (const f of [...first, ...files.filter((x) => !first.includes(x))]) {
    let bytes = readFileSync(join(dir, f));
    if (f.endsWith('.jsonl')) bytes = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
    out.set(`audit/${f}`, bytes);
  }
  return out;
}

function writeTree(root: string, files: ReadonlyMap<string, Buffer>, prefix: string): void {
  for (const [name, bytes] of files) {
    if (!name.startsWith(prefix)) continue;
    const p = join(root, ...name.slice(prefix.length).split('/'));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, bytes, { mode: 0o600 });
  }
}

function checkedAudit(files: ReadonlyMap<string, Buffer>, where: string): VerifyResult {
  const tmp = mkdtempSync(join(tmpdir(), 'erab-audit-check-'));
  try {
    writeTree(tmp, files, 'audit/');
    const result = verifyAuditLog(tmp, { verifier: readStoredVerifierKey(tmp) });
    if (!result.ok) {
      const p = result.firstTamper ?? result.problems[0];
      throw new IntegrityError(`${where}: the audit log does not verify: ${p?.message ?? 'unknown problem'}`, { code: 'backup_audit' });
    }
    return { ...result, dir: '(archive)' };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface BackupResult {
  archive: Buffer;
  manifest: BackupManifest;
  audit: VerifyResult;
}

/** Takes the backup; nothing is written (the caller stores `archive`). */
export async function createBackup(spec: RoleBackupSpec, passphrase: string, now: Date = new Date()): Promise<BackupResult> {
  const certPem = readTextFile(spec.tls.certFile, 'certificate');
  const keyPem = readFileSync(spec.tls.keyFile);
  const key = createPrivateKey(keyPem);
  const db = await snapshotDatabase(spec.database);
  const data = new Map<string, Buffer>();
  data.set(db.dialect === 'sqlite' ? 'database/store.sqlite' : 'database/store.pgdump', db.bytes);
  const auditFiles = snapshotAuditDir(spec.auditDir);
  const audit = checkedAudit(auditFiles, `audit log ${spec.auditDir}`);
  for (const [k, v] of auditFiles) data.set(k, v);
  data.set(TLS_KEY_ENTRY, sealKey(keyPem, passphrase, TLS_KEY_ENTRY));
  const auditKey = join(spec.auditDir, 'signing.key');
  if (existsSync(auditKey)) data.set(AUDIT_KEY_ENTRY, sealKey(readFileSync(auditKey), passphrase, AUDIT_KEY_ENTRY));
  const entries: ManifestEntry[] = [...data].map(([name, bytes]) => ({
    name,
    kind: name.startsWith('keys/') ? 'key' : name.startsWith('audit/') ? 'audit' : 'database',
    size: bytes.length,
    sha256: sha256Hex(bytes),
  }));
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    role: spec.role,
    id: spec.id,
    created: now.toISOString(),
    database: { dialect: db.dialect, ...(spec.database.schema && db.dialect === 'postgres' ? { schema: spec.database.schema } : {}) },
    auditOrigin: audit.origin,
    entries,
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const ed = key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448';
  const signature: BackupSignature = {
    digest: ed ? 'none' : 'sha256',
    certificate: certPem.slice(certPem.indexOf('-----BEGIN CERTIFICATE-----')),
    signature: sign(ed ? null : 'sha256', manifestBytes, key).toString('base64'),
  };
  return { archive: encodeBackup(manifestBytes, signature, data, manifest), manifest, audit };
}

/** The signer is our role's participant, certified by our CA, and signed exactly this manifest. */
function checkSigner(d: DecodedBackup, spec: RoleBackupSpec, file: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(d.signature.certificate);
  } catch (err) {
    throw new InvalidInputError(`${file}: the signer certificate is not valid X.509: ${(err as Error).message}`);
  }
  const cas = parseCertificates(readTextFile(spec.tls.caFile, 'CA certificate'), spec.tls.caFile);
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
    throw new NotAuthorizedError(`${file}: the archive is signed by "${cert.subject.replaceAll('\n', ', ')}", not issued by the CA in ${spec.tls.caFile}`, { code: 'backup_signer' });
  }
  const who = identityFromCertificate(cert);
  if (who.role !== spec.role || who.id !== spec.id) {
    throw new NotAuthorizedError(`${file}: the archive is signed by ${who.role}:${who.id}, not by this role ${spec.role}:${spec.id}`, { code: 'backup_signer' });
  }
  const created = Date.parse(d.manifest.created);
  if (!(created >= Date.parse(cert.validFrom) && created <= Date.parse(cert.validTo))) {
    throw new NotAuthorizedError(`${file}: the signer certificate was not valid when the archive was made (${d.manifest.created})`, { code: 'backup_signer' });
  }
  const ok = verify(d.signature.digest === 'none' ? null : 'sha256', d.manifestBytes, cert.publicKey, Buffer.from(d.signature.signature, 'base64'));
  if (!ok) throw new IntegrityError(`${file}: the manifest signature does not verify: the archive was modified`, { code: 'backup_signature' });
  if (d.manifest.role !== spec.role || d.manifest.id !== spec.id) {
    throw new InvalidInputError(`${file}: the archive is of ${d.manifest.role}:${d.manifest.id}, not ${spec.role}:${spec.id}`);
  }
}

export interface VerifiedBackup {
  decoded: DecodedBackup;
  /** Decrypted key files by entry name. Secret. */
  keys: Map<string, Buffer>;
  audit: VerifyResult;
}

/**
 * Every check restore makes, with no write: structure, signer, signature, each entry's hash,
 * the passphrase, and the audit log. Throws naming what failed (a tampered entry by name).
 */
export function verifyBackup(archive: Buffer, file: string, spec: RoleBackupSpec, passphrase: string): VerifiedBackup {
  const decoded = decodeBackup(archive, file);
  checkSigner(decoded, spec, file);
  for (const e of decoded.manifest.entries) {
    if (sha256Hex(decoded.entries.get(e.name)!) !== e.sha256) {
      throw new IntegrityError(`${file}: entry ${e.name} was modified (its SHA-256 does not match the signed manifest)`, { code: 'backup_tampered' });
    }
  }
  if (decoded.manifest.entries.filter((e) => e.kind === 'database').length !== 1) throw new InvalidInputError(`${file}: the archive must hold exactly one database entry`);
  const keys = new Map<string, Buffer>();
  for (const e of decoded.manifest.entries) if (e.kind === 'key') keys.set(e.name, openKey(decoded.entries.get(e.name)!, passphrase, e.name));
  if (!keys.has(TLS_KEY_ENTRY)) throw new InvalidInputError(`${file}: the archive has no ${TLS_KEY_ENTRY}`);
  const audit = checkedAudit(decoded.entries, file);
  if (audit.origin !== decoded.manifest.auditOrigin) throw new IntegrityError(`${file}: the audit log's origin ${audit.origin} is not the manifest's ${decoded.manifest.auditOrigin}`);
  return { decoded, keys, audit };
}

export interface RestoreResult {
  manifest: BackupManifest;
  audit: VerifyResult;
  /** Key files written (paths). */
  keysWritten: string[];
  /** The audit directory that was there before, moved aside (when replacing). */
  previousAuditDir?: string;
}

function nonEmptyDir(dir: string): boolean {
  return existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0);
}

/** Verifies the archive (verifyBackup), then puts the database, audit log and keys back. */
export async function restoreBackup(archive: Buffer, file: string, spec: RoleBackupSpec, passphrase: string, opts: { replace?: boolean } = {}): Promise<RestoreResult> {
  const v = verifyBackup(archive, file, spec, passphrase);
  const { manifest } = v.decoded;
  const replace = opts.replace ?? false;
  // Refusals that protect live data come before any write too.
  const tables = await existingTables(spec.database);
  if (tables.length > 0 && !replace) throw new InvalidInputError(`restore: the database already holds ${tables.length} tables (${tables.slice(0, 3).join(', ')}…); give --replace to overwrite it`);
  const auditDir = resolve(spec.auditDir);
  if (nonEmptyDir(auditDir) && !replace) throw new InvalidInputError(`restore: the audit directory ${auditDir} is not empty; give --replace to move it aside`);
  const keyTargets: [string, string][] = [[TLS_KEY_ENTRY, spec.tls.keyFile]];
  if (v.keys.has(AUDIT_KEY_ENTRY)) keyTargets.push([AUDIT_KEY_ENTRY, join(auditDir, 'signing.key')]);
  for (const [entry, path] of keyTargets) {
    if (entry === AUDIT_KEY_ENTRY) continue; // written with the audit directory
    if (existsSync(path) && !readFileSync(path).equals(v.keys.get(entry)!) && !replace) {
      throw new InvalidInputError(`restore: ${path} holds a different key than the archive's ${entry}; give --replace to overwrite it`);
    }
  }
  const db = manifest.entries.find((e) => e.kind === 'database')!;
  await restoreDatabase(spec.database, manifest.database.dialect, v.decoded.entries.get(db.name)!, replace);
  // The audit log: written beside the target, then renamed into place.
  const staging = `${auditDir}.restore-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true, mode: 0o700 });
  writeTree(staging, v.decoded.entries, 'audit/');
  if (v.keys.has(AUDIT_KEY_ENTRY)) writeFileSync(join(staging, 'signing.key'), v.keys.get(AUDIT_KEY_ENTRY)!, { mode: 0o600 });
  let previousAuditDir: string | undefined;
  if (existsSync(auditDir)) {
    if (nonEmptyDir(auditDir)) {
      previousAuditDir = `${auditDir}.replaced-${Date.now()}`;
      renameSync(auditDir, previousAuditDir);
    } else {
      rmSync(auditDir, { recursive: true });
    }
  }
  mkdirSync(dirname(auditDir), { recursive: true });
  renameSync(staging, auditDir);
  const keysWritten: string[] = [];
  for (const [entry, path] of keyTargets) {
    if (entry === AUDIT_KEY_ENTRY) {
      keysWritten.push(join(auditDir, 'signing.key'));
      continue;
    }
    mkdirSync(dirname(resolve(path)), { recursive: true });
    writeFileSync(path, v.keys.get(entry)!, { mode: 0o600 });
    keysWritten.push(path);
  }
  return { manifest, audit: v.audit, keysWritten, ...(previousAuditDir ? { previousAuditDir } : {}) };
}
