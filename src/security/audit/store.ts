/**
 * The on-disk layout of one audit log (one directory per role), designed to be read with `ls`,
 * `cat` and `jq`:
 *
 *   <dir>/
 *     signing.key        Ed25519 signer key, `PRIVATE+KEY+<origin>+<id>+<base64>` (mode 0600)
 *     verifier.key       the matching verifier key `<origin>+<id>+<base64>`: give it to auditors
 *     checkpoints.txt    signed checkpoints (C2SP tlog-checkpoint notes), appended one after another
 *     segments/          <first index, 12 digits>.jsonl — one canonical JSON record per line
 *     anchor.json        only after retention archived something: what stands in for the archived
 *                        prefix (its compact range, and consistency proofs of archived checkpoints)
 *     archive/           archived segments (unless retention deletes them)
 *     LOCK               pid of the one process that appends (exclusive)
 *
 * Every write that matters for integrity is either an append (segments, checkpoints) or an atomic
 * replace (anchor.json: write temp, fsync, rename, fsync directory).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, IntegrityError, InvalidInputError, becauseOf, explain } from '../../core/errors.js';
import { CompactRange, HASH_SIZE } from './merkle.js';
import { formatSignerKey, formatVerifierKey, generateSigner, parseSignerKey, parseVerifierKey, type NoteSigner, type NoteVerifier } from './note.js';

export const SEGMENTS_DIR = 'segments';
export const ARCHIVE_DIR = 'archive';
export const CHECKPOINTS_FILE = 'checkpoints.txt';
export const ANCHOR_FILE = 'anchor.json';
export const SIGNING_KEY_FILE = 'signing.key';
export const VERIFIER_KEY_FILE = 'verifier.key';
export const LOCK_FILE = 'LOCK';

const SEGMENT_RE = /^(\d{12})\.jsonl$/;

export function segmentName(firstIndex: number): string {
  return `${String(firstIndex).padStart(12, '0')}.jsonl`;
}

export interface SegmentFile {
  name: string;
  path: string;
  first: number;
}

/** The live segments in index order; files that do not look like segments are listed separately. */
export function listSegments(dir: string): { segments: SegmentFile[]; strays: string[] } {
  const sdir = join(dir, SEGMENTS_DIR);
  if (!existsSync(sdir)) return { segments: [], strays: [] };
  const segments: SegmentFile[] = [];
  const strays: string[] = [];
  for (const name of readdirSync(sdir)) {
    const m = SEGMENT_RE.exec(name);
    if (m) segments.push({ name, path: join(sdir, name), first: Number(m[1]) });
    else strays.push(join(SEGMENTS_DIR, name));
  }
  segments.sort((a, b) => a.first - b.first);
  return { segments, strays };
}

/** Key files are one short line. */
const KEY_FILE_MAX = 16 * 1024;

/** The most a segment file may hold before readers refuse it (the writer stays far below). */
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;

/** Reads a store file that must be a regular file of bounded size (never a device or a FIFO). */
export function readStoreFile(path: string, maxBytes = MAX_SEGMENT_BYTES): Buffer {
  const st = statSync(path);
  if (!st.isFile()) throw new IntegrityError(explain('auditLog.notRegularFile', { file: path }));
  if (st.size > maxBytes) throw new IntegrityError(explain('auditLog.fileTooLarge', { file: path, size: st.size, max: maxBytes }));
  return readFileSync(path);
}

/** fsync a directory so that a rename or a new file in it survives a crash. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; nothing more we can do there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes a file atomically: temp file, fsync, rename, fsync directory. */
export function writeFileAtomic(path: string, dir: string, content: string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dir);
}

// ---------------------------------------------------------------------------------------------
// Keys

/**
 * Loads the log's signer, creating it on first use (mode 0600). A key that others can read is
 * refused, like ssh refuses one: a leaked checkpoint key lets anyone sign a rewritten history.
 */
export function loadOrCreateSigner(dir: string, origin: string, keyFile = join(dir, SIGNING_KEY_FILE)): { signer: NoteSigner; created: boolean } {
  if (existsSync(keyFile)) {
    const st = statSync(keyFile);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new ConfigError(explain('auditKey.signingKeyExposed', { file: keyFile, mode: (st.mode & 0o777).toString(8) }));
    }
    let signer: NoteSigner;
    try {
      signer = parseSignerKey(readStoreFile(keyFile, KEY_FILE_MAX).toString('utf8'));
    } catch (err) {
      throw new ConfigError(explain('auditKey.unreadable', { file: keyFile, ...becauseOf(err) }), { cause: err });
    }
    if (signer.name !== origin) {
      throw new ConfigError(explain('auditKey.originMismatch', { file: keyFile, dir, found: signer.name, expected: origin }));
    }
    return { signer, created: false };
  }
  if (hasLogData(dir)) {
    throw new ConfigError(explain('auditKey.signingKeyMissing', { file: keyFile, dir }));
  }
  const signer = generateSigner(origin);
  writeFileSync(keyFile, `${formatSignerKey(signer)}\n`, { mode: 0o600, flag: 'wx' });
  return { signer, created: true };
}

/** Writes verifier.key next to the log if it is missing; a different key already there is refused, never replaced. */
export function writeVerifierKey(dir: string, signer: NoteVerifier): void {
  const path = join(dir, VERIFIER_KEY_FILE);
  const vkey = formatVerifierKey(signer);
  if (existsSync(path)) {
    if (readFileSync(path, 'utf8').trim() === vkey) return;
    throw new ConfigError(explain('auditKey.verifierMismatch', { file: path }));
  }
  writeFileAtomic(path, dir, `${vkey}\n`, 0o644);
}

/** True when the directory already holds records or checkpoints. */
export function hasLogData(dir: string): boolean {
  const cp = join(dir, CHECKPOINTS_FILE);
  return (existsSync(cp) && statSync(cp).size > 0) || listSegments(dir).segments.length > 0 || existsSync(join(dir, ANCHOR_FILE));
}

/** Reads the verifier key stored in the log directory. */
export function readStoredVerifierKey(dir: string): NoteVerifier {
  const path = join(dir, VERIFIER_KEY_FILE);
  if (!existsSync(path)) throw new InvalidInputError(explain('auditKey.noVerifierKey', { file: path }));
  try {
    return parseVerifierKey(readStoreFile(path, KEY_FILE_MAX).toString('utf8'));
  } catch (err) {
    throw new InvalidInputError(explain('auditKey.unreadable', { file: path, ...becauseOf(err) }), { cause: err });
  }
}

/** A verifier key given as the key string itself or as a file holding it. */
export function resolveVerifierKey(keyOrFile: string): NoteVerifier {
  const looksLikeKey = /^[^\s+]+\+[0-9a-f]{8}\+\S+$/.test(keyOrFile.trim());
  if (looksLikeKey && !existsSync(keyOrFile)) return parseVerifierKey(keyOrFile);
  if (!existsSync(keyOrFile)) throw new InvalidInputError(explain('auditKey.notKey', { value: keyOrFile }));
  try {
    return parseVerifierKey(readStoreFile(keyOrFile, KEY_FILE_MAX).toString('utf8'));
  } catch (err) {
    throw new InvalidInputError(explain('auditKey.unreadable', { file: keyOrFile, ...becauseOf(err) }), { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------
// Anchor: what stands in for the archived prefix

export interface ArchivedSegment {
  segment: string;
  first: number;
  count: number;
  newestTime: string;
  /** SHA-256 of the segment file, so an archived copy can be checked later. */
  sha256: string;
  /** Where it went, relative to the log directory, or null when retention deleted it. */
  location: string | null;
}

/** A consistency proof from an archived checkpoint (size, root) to a later checkpoint (toSize). */
export interface ArchivedCheckpointProof {
  size: number;
  rootHash: string;
  toSize: number;
  proof: string[];
}

export interface Anchor {
  version: 1;
  origin: string;
  /** Records [0, size) are archived; size is always the size of a signed checkpoint. */
  size: number;
  /** Hex subtree hashes of the compact range of [0, size), largest first. */
  compactRange: string[];
  /** Hex leaf hash of record size−1, the `prev` of the first live record. */
  lastLeafHash: string;
  archived: ArchivedSegment[];
  proofs: ArchivedCheckpointProof[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Reads anchor.json; undefined when nothing was archived yet. Malformed = IntegrityError. */
export function readAnchor(dir: string): Anchor | undefined {
  const path = join(dir, ANCHOR_FILE);
  if (!existsSync(path)) return undefined;
  const st = statSync(path);
  if (!st.isFile() || st.size > 64 * 1024 * 1024) throw new IntegrityError(`${path}: not a regular file, or implausibly large for an anchor`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new IntegrityError(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const a = v as Partial<Anchor>;
  const bad = (why: string): never => {
    throw new IntegrityError(`${path}: ${why}`);
  };
  if (typeof a !== 'object' || a === null || a.version !== 1) bad('unknown anchor version');
  if (typeof a.origin !== 'string') bad('origin missing');
  if (typeof a.size !== 'number' || !Number.isSafeInteger(a.size) || a.size < 0) bad('size missing');
  if (!Array.isArray(a.compactRange) || !a.compactRange.every((h) => typeof h === 'string' && HEX64.test(h))) bad('compactRange must be hex hashes');
  if (typeof a.lastLeafHash !== 'string' || !HEX64.test(a.lastLeafHash)) bad('lastLeafHash must be a hex hash');
  if (!Array.isArray(a.archived)) bad('archived must be a list');
  if (!Array.isArray(a.proofs)) bad('proofs must be a list');
  for (const e of a.archived!) {
    // Only names this log writes: a hostile anchor must not point verify or retention elsewhere.
    if (typeof e !== 'object' || e === null || typeof e.segment !== 'string' || !SEGMENT_RE.test(e.segment)) bad('an archived entry has no valid segment name');
    if (e.location !== null && e.location !== `${ARCHIVE_DIR}/${e.segment}`) bad(`archived segment ${e.segment}: location must be ${ARCHIVE_DIR}/${e.segment} or null`);
    if (!Number.isSafeInteger(e.first) || !Number.isSafeInteger(e.count) || e.first < 0 || e.count < 0 || typeof e.sha256 !== 'string' || !HEX64.test(e.sha256) || typeof e.newestTime !== 'string') {
      bad(`archived segment ${e.segment}: first, count, sha256 or newestTime malformed`);
    }
  }
  for (const p of a.proofs!) {
    if (typeof p !== 'object' || p === null || !Number.isSafeInteger(p.size) || !Number.isSafeInteger(p.toSize) || typeof p.rootHash !== 'string' || !HEX64.test(p.rootHash) || !Array.isArray(p.proof) || !p.proof.every((h) => typeof h === 'string' && HEX64.test(h))) {
      bad('a checkpoint proof entry is malformed');
    }
  }
  try {
    anchorRange(a as Anchor);
  } catch (err) {
    bad((err as Error).message);
  }
  return a as Anchor;
}

export function anchorRange(a: Anchor): CompactRange {
  return new CompactRange(a.size, a.compactRange.map((h) => {
    const b = Buffer.from(h, 'hex');
    if (b.length !== HASH_SIZE) throw new IntegrityError('anchor hash is not 32 bytes');
    return b;
  }));
}

export function writeAnchor(dir: string, a: Anchor): void {
  writeFileAtomic(join(dir, ANCHOR_FILE), dir, `${JSON.stringify(a, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Lock: one appender per log

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a live process holding the append lock, if any (another process, not us). */
export function lockHolder(dir: string): number | undefined {
  const path = join(dir, LOCK_FILE);
  if (!existsSync(path)) return undefined;
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid) ? pid : undefined;
}

/** Takes the log's exclusive append lock; a lock left by a dead process is taken over. */
export function acquireLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pidAlive(pid)) {
        const locked = pid === process.pid ? explain('auditLog.lockedBySelf', { dir, file: path }) : explain('auditLog.lockedBy', { dir, pid, file: path });
        throw new IntegrityError(locked, { code: 'audit_locked' });
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new IntegrityError(explain('auditLog.lockFailed', { dir, file: path }), { code: 'audit_locked' });
}

export function ensureLayout(dir: string): void {
  mkdirSync(join(dir, SEGMENTS_DIR), { recursive: true, mode: 0o755 });
}
