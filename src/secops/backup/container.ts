/**
 * The backup container, `erab-backup/1`: one file that holds a role's database snapshot, audit
 * log and (encrypted) keys, signed as a whole. Kept deliberately simple so an operator can
 * inspect it with a few lines of any language:
 *
 *   "ERAB-BACKUP/1\n"
 *   u32 big-endian length ‖ manifest (UTF-8 JSON, see BackupManifest)
 *   u32 big-endian length ‖ signature (UTF-8 JSON: signer certificate PEM and signature over the manifest bytes)
 *   entry bytes, one after another, in manifest order (each `size` bytes)
 *
 * The manifest lists each entry's name, kind, size and SHA-256, so the one signature over the
 * manifest covers every byte. Decoding checks structure only; ./verify.ts checks the signature
 * and every hash and names the entry that does not match.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../core/errors.js';

export const BACKUP_MAGIC = 'ERAB-BACKUP/1\n';
export const BACKUP_FORMAT = 'erab-backup/1';
/** A manifest or signature block larger than this is not one we wrote. */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024;
const MAX_ENTRIES = 100_000;
/** Entry names are relative paths under a fixed top folder; never absolute, never `..`. */
const ENTRY_NAME = /^(database|audit|keys)\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export type EntryKind = 'database' | 'audit' | 'key';

export interface ManifestEntry {
  name: string;
  kind: EntryKind;
  size: number;
  /** Lower-case hex SHA-256 of the stored bytes (for a key: of the encrypted blob). */
  sha256: string;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  role: string;
  id: string;
  /** ISO 8601 UTC. */
  created: string;
  /** The database engine of the snapshot: an SQLite file, or a pg_dump custom-format archive. */
  database: { dialect: 'sqlite' | 'postgres'; schema?: string };
  /** Audit log origin (its key name), so restore can check it against the role's configuration. */
  auditOrigin: string;
  entries: ManifestEntry[];
}

export interface BackupSignature {
  /** 'sha256' for RSA/ECDSA keys; 'none' for Ed25519 (which hashes internally). */
  digest: 'sha256' | 'none';
  /** The signer's X.509 certificate, PEM. */
  certificate: string;
  /** Base64 signature over the exact manifest bytes. */
  signature: string;
}

export interface DecodedBackup {
  manifestBytes: Buffer;
  manifest: BackupManifest;
  signature: BackupSignature;
  /** Entry bytes by name, as stored (not yet checked against the manifest hashes). */
  entries: Map<string, Buffer>;
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Builds the container from a manifest (whose entries are in `data`) and its signature block. */
export function encodeBackup(manifestBytes: Buffer, signature: BackupSignature, data: ReadonlyMap<string, Buffer>, manifest: BackupManifest): Buffer {
  const sig = Buffer.from(JSON.stringify(signature), 'utf8');
  const parts: Buffer[] = [Buffer.from(BACKUP_MAGIC, 'ascii'), u32(manifestBytes.length), manifestBytes, u32(sig.length), sig];
  for (const e of manifest.entries) parts.push(data.get(e.name)!);
  return Buffer.concat(parts);
}

function bad(file: string, rule: string): never {
  throw new InvalidInputError(`${file}: not a valid ${BACKUP_FORMAT} archive: ${rule}`, { code: 'backup_malformed' });
}

function block(buf: Buffer, at: number, file: string, what: string): { bytes: Buffer; next: number } {
  if (at + 4 > buf.length) bad(file, `truncated before the ${what} length`);
  const n = buf.readUInt32BE(at);
  if (n > MAX_BLOCK_BYTES) bad(file, `${what} of ${n} bytes exceeds ${MAX_BLOCK_BYTES}`);
  if (at + 4 + n > buf.length) bad(file, `truncated inside the ${what}`);
  return { bytes: buf.subarray(at + 4, at + 4 + n), next: at + 4 + n };
}

function parseJson(bytes: Buffer, file: string, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    bad(file, `${what} is not JSON (${(err as Error).message})`);
  }
}

function checkManifest(m: unknown, file: string): BackupManifest {
  const o = m as Partial<BackupManifest> | null;
  if (!o || typeof o !== 'object') bad(file, 'manifest is not an object');
  if (o.format !== BACKUP_FORMAT) bad(file, `manifest format is ${JSON.stringify(o.format)}, expected ${BACKUP_FORMAT}`);
  for (const k of ['role', 'id', 'created', 'auditOrigin'] as const) if (typeof o[k] !== 'string') bad(file, `manifest.${k} must be a string`);
  if (!o.database || (o.database.dialect !== 'sqlite' && o.database.dialect !== 'postgres')) bad(file, 'manifest.database.dialect must be sqlite or postgres');
  if (o.database.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(o.database.schema)) bad(file, 'manifest.database.schema is not a plain schema name');
  if (!Array.isArray(o.entries) || o.entries.length > MAX_ENTRIES) bad(file, `manifest.entries must be an array of at most ${MAX_ENTRIES}`);
  const names = new Set<string>();
  for (const [i, e] of o.entries.entries()) {
    const where = `manifest.entries[${i}]`;
    if (!e || typeof e.name !== 'string' || !ENTRY_NAME.test(e.name) || e.name.split('/').includes('..')) bad(file, `${where}.name ${JSON.stringify(e?.name)} is not a safe relative name under database/, audit/ or keys/`);
    if (!e.name.startsWith(`${e.kind === 'key' ? 'keys' : e.kind}/`)) bad(file, `${where} (${e.name}): kind ${JSON.stringify(e.kind)} does not match its folder`);
    if (!Number.isSafeInteger(e.size) || e.size < 0) bad(file, `${where} (${e.name}): size must be a non-negative integer`);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) bad(file, `${where} (${e.name}): sha256 must be 64 lower-case hex digits`);
    if (names.has(e.name)) bad(file, `${where}: entry ${e.name} appears twice`);
    names.add(e.name);
  }
  return o as BackupManifest;
}

function checkSignature(s: unknown, file: string): BackupSignature {
  const o = s as Partial<BackupSignature> | null;
  if (!o || typeof o !== 'object') bad(file, 'signature block is not an object');
  if (o.digest !== 'sha256' && o.digest !== 'none') bad(file, 'signature.digest must be sha256 or none');
  if (typeof o.certificate !== 'string' || !o.certificate.includes('-----BEGIN CERTIFICATE-----')) bad(file, 'signature.certificate must be a PEM certificate');
  if (typeof o.signature !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(o.signature)) bad(file, 'signature.signature must be base64');
  return o as BackupSignature;
}

/**
 * Splits a container into manifest, signature and entries; throws InvalidInputError naming the
 * rule for anything malformed (truncated, trailing bytes, unsafe names). Trusts nothing yet.
 */
export function decodeBackup(buf: Buffer, file: string): DecodedBackup {
  if (buf.length < BACKUP_MAGIC.length || buf.subarray(0, BACKUP_MAGIC.length).toString('latin1') !== BACKUP_MAGIC) bad(file, `does not start with ${JSON.stringify(BACKUP_MAGIC.trim())}`);
  const m = block(buf, BACKUP_MAGIC.length, file, 'manifest');
  const s = block(buf, m.next, file, 'signature');
  const manifest = checkManifest(parseJson(m.bytes, file, 'manifest'), file);
  const signature = checkSignature(parseJson(s.bytes, file, 'signature'), file);
  const entries = new Map<string, Buffer>();
  let at = s.next;
  for (const e of manifest.entries) {
    if (at + e.size > buf.length) bad(file, `truncated inside entry ${e.name}`);
    entries.set(e.name, buf.subarray(at, at + e.size));
    at += e.size;
  }
  if (at !== buf.length) bad(file, `${buf.length - at} bytes after the last entry`);
  return { manifestBytes: m.bytes, manifest, signature, entries };
}
