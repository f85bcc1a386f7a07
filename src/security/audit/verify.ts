/**
 * Verifying an audit log directory: recompute the RFC 9162 tree from the stored records, check every
 * signed checkpoint (signature, root, consistency with the previous one), and name the first record
 * that was edited, deleted, inserted or reordered.
 *
 * How the four tamperings are told apart. Every record line carries its index `i` and `prev`, the
 * leaf hash of the record before it (see ./record.ts). Reading the lines in order, the log is intact
 * up to the first line p where `i ≠ base + p` or `prev ≠ leafHash(line p−1)`. At that line e = base+p
 * is the index expected, and:
 *
 *  - inserted:  dropping line p (or p−1) makes the following line continue the log exactly
 *               (`i = e` and `prev` = hash of the line before the dropped one), or line p carries an
 *               index that already appeared (i < e).
 *  - edited:    line p has the right index but its `prev` does not match line p−1 → line p−1 changed
 *               after record p hashed it (or p's own `prev` changed, if p+1 does not match p either);
 *               or line p is unreadable / has a wrong index while line p+1 is record e+1.
 *  - reordered: line p holds a record i > e and record e appears later in the file.
 *  - deleted:   line p holds a record i > e and record e appears nowhere: records e..i−1 are gone.
 *               Records deleted at the end of the log show up as a signed checkpoint larger than
 *               the log.
 *
 * The hash chain is not a signature: someone who rewrites a record AND every later `prev` up to the
 * next checkpoint leaves no record-level trace, but the signed checkpoint roots still do not match,
 * so the change is localised to the records between two checkpoints and reported as such. Records
 * after the last checkpoint are not yet covered by any signature ("unanchored"): the log writes a
 * checkpoint every N records / T seconds and on close, which bounds that window.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { checkCheckpoint, splitCheckpointsFile, type Checkpoint } from './checkpoint.js';
import { CompactRange, compactRangeSpans, EMPTY_ROOT, HashArray, leafHash, MerkleTree, verifyConsistency } from './merkle.js';
import { formatVerifierKey, type NoteVerifier } from './note.js';
import { parseRecordLine, ZERO_HASH_HEX, type ParsedLine } from './record.js';
import { anchorRange, ARCHIVE_DIR, CHECKPOINTS_FILE, listSegments, lockHolder, MAX_SEGMENT_BYTES, readAnchor, readStoreFile, readStoredVerifierKey, type Anchor, type SegmentFile } from './store.js';

export type TamperKind = 'edited' | 'deleted' | 'inserted' | 'reordered';
export type ProblemKind = TamperKind | 'corrupt' | 'truncated' | 'bad-checkpoint' | 'checkpoint-mismatch' | 'inconsistent' | 'anchor';

export interface TamperFinding {
  kind: TamperKind;
  /** The record index concerned (for an insertion: the log position where the foreign line sits). */
  index: number;
  /** Segment file relative to the log directory, and 1-based line number. */
  file: string;
  line: number;
  message: string;
}

export interface VerifyProblem {
  kind: ProblemKind;
  message: string;
  index?: number;
  file?: string;
  line?: number;
  checkpointSize?: number;
}

export interface VerifyResult {
  ok: boolean;
  dir: string;
  origin: string;
  verifierKey: string;
  /** Where the trusted key came from: given by the caller, or read from the log directory itself. */
  keySource: 'given' | 'log-directory';
  /** Records in the log including the archived prefix. */
  treeSize: number;
  rootHash: string;
  archivedSize: number;
  /** True when the archived segments were read back and verified too (`includeArchive`). */
  archiveVerified: boolean;
  /** Record lines read (live ones, plus archived ones with `includeArchive`). */
  liveRecords: number;
  checkpoints: { total: number; valid: number; latest?: { size: number; rootHash: string } };
  consistencyProofsChecked: number;
  /** Records after the latest valid checkpoint (not yet covered by a signature). */
  unanchored: number;
  firstTamper?: TamperFinding;
  problems: VerifyProblem[];
  warnings: string[];
}

export interface VerifyOptions {
  /** The trusted verifier key; default: `verifier.key` in the log directory (weaker: flagged). */
  verifier?: NoteVerifier;
  /** Also read the archived segments back and recompute the whole history from record 0. */
  includeArchive?: boolean;
  /**
   * Checkpoint notes the caller kept from earlier (an auditor's last visit, a witness): the log
   * must still be consistent with them. This is what catches a log rolled back together with its
   * own checkpoints file.
   */
  trustedCheckpoints?: readonly string[];
  /** Called after each segment file is read (segments done, segments in all), for progress display. */
  onProgress?: (done: number, total: number, file: string) => void;
}

/** Where each live line came from. */
interface SegmentSpan {
  file: string;
  startPos: number;
  lines: number;
}

interface ValidCheckpoint extends Checkpoint {
  line: number;
  note: string;
}

/** Everything the scan learnt; AuditLog.open and the proof commands build on it. */
export interface LogScan {
  result: VerifyResult;
  verifier: NoteVerifier;
  anchor?: Anchor;
  base: number;
  /** Compact range of the whole scanned log (valid when `result.ok`). */
  range: CompactRange;
  /** Full tree when requested. */
  tree?: MerkleTree;
  lastLeaf: Buffer | undefined;
  spans: SegmentSpan[];
  checkpoints: ValidCheckpoint[];
}

const MAX_PROBLEMS = 50;
/** Bounds that keep a hostile or damaged store from exhausting memory (the writer stays far below). */
const MAX_LINE_BYTES = 1024 * 1024;
const MAX_CHECKPOINTS_BYTES = 256 * 1024 * 1024;

/** Verifies the audit log in `dir`. Never throws for a damaged log: damage is in `problems`. */
export function verifyAuditLog(dir: string, opts: VerifyOptions = {}): VerifyResult {
  return scanLog(dir, { ...opts, withTree: true }).result;
}

/** @internal Reads and checks the whole log; `withTree` also keeps every node for proofs. */
export function scanLog(dir: string, opts: VerifyOptions & { withTree: boolean }): LogScan {
  if (!existsSync(dir)) throw new InvalidInputError(`${dir}: no such audit log directory`);
  const warnings: string[] = [];
  const problems: VerifyProblem[] = [];
  const problem = (p: VerifyProblem): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  let keySource: VerifyResult['keySource'] = 'given';
  let verifier = opts.verifier;
  if (!verifier) {
    verifier = readStoredVerifierKey(dir);
    keySource = 'log-directory';
    warnings.push('trusting verifier.key found in the log directory; pass the key from a trusted source (--key) to rule out a replaced key');
  }
  const origin = verifier.name;

  // --- anchor (archived prefix)
  let anchor: Anchor | undefined;
  try {
    anchor = readAnchor(dir);
  } catch (err) {
    problem({ kind: 'anchor', message: (err as Error).message, file: 'anchor.json' });
  }
  // With includeArchive the archived segments are read back and the whole history is recomputed
  // from record 0; otherwise the anchor's compact range stands in for them.
  const anchorSize = anchor?.size ?? 0;
  const withArchive = !!opts.includeArchive && !!anchor;
  const base = withArchive ? 0 : anchorSize;
  const prefix = anchor && !withArchive ? anchorRange(anchor) : new CompactRange();
  if (anchor && anchor.origin !== origin) problem({ kind: 'anchor', message: `anchor.json belongs to origin "${anchor.origin}", not "${origin}"`, file: 'anchor.json' });

  // --- checkpoints
  const checkpoints: ValidCheckpoint[] = [];
  let totalCheckpoints = 0;
  const cpPath = join(dir, CHECKPOINTS_FILE);
  if (existsSync(cpPath) && (!statSync(cpPath).isFile() || statSync(cpPath).size > MAX_CHECKPOINTS_BYTES)) {
    problem({ kind: 'corrupt', message: `${CHECKPOINTS_FILE}: not a regular file, or larger than ${MAX_CHECKPOINTS_BYTES} bytes; not read`, file: CHECKPOINTS_FILE });
  } else if (existsSync(cpPath)) {
    const { notes, corrupt } = splitCheckpointsFile(readFileSync(cpPath, 'utf8'));
    totalCheckpoints = notes.length;
    if (corrupt) {
      totalCheckpoints += 1;
      problem({ kind: 'corrupt', message: `${CHECKPOINTS_FILE} line ${corrupt.line}: ${corrupt.message}`, file: CHECKPOINTS_FILE, line: corrupt.line });
    }
    let prev: ValidCheckpoint | undefined;
    for (const n of notes) {
      const c = checkCheckpoint(n, verifier, origin);
      if (!c.ok) {
        problem({ kind: 'bad-checkpoint', message: `${CHECKPOINTS_FILE} line ${c.line}: checkpoint${c.checkpoint ? ` of size ${c.checkpoint.size}` : ''} rejected: ${c.reason}`, file: CHECKPOINTS_FILE, line: c.line, ...(c.checkpoint ? { checkpointSize: c.checkpoint.size } : {}) });
        continue;
      }
      const v: ValidCheckpoint = { ...c.checkpoint, line: c.line, note: c.note };
      if (prev && v.size < prev.size) {
        problem({ kind: 'inconsistent', message: `${CHECKPOINTS_FILE} line ${v.line}: checkpoint of size ${v.size} follows one of size ${prev.size} (a log never shrinks)`, file: CHECKPOINTS_FILE, line: v.line, checkpointSize: v.size });
      } else if (prev && v.size === prev.size && !v.rootHash.equals(prev.rootHash)) {
        problem({ kind: 'inconsistent', message: `${CHECKPOINTS_FILE} line ${v.line}: two signed checkpoints of size ${v.size} with different roots (a fork)`, file: CHECKPOINTS_FILE, line: v.line, checkpointSize: v.size });
      }
      checkpoints.push(v);
      prev = v;
    }
  }
  for (const [i, note] of (opts.trustedCheckpoints ?? []).entries()) {
    const c = checkCheckpoint({ note, line: 0 }, verifier, origin);
    const what = `given checkpoint #${i + 1}${c.checkpoint ? ` (size ${c.checkpoint.size})` : ''}`;
    if (!c.ok) {
      problem({ kind: 'bad-checkpoint', message: `${what} rejected: ${c.reason}`, ...(c.checkpoint ? { checkpointSize: c.checkpoint.size } : {}) });
      continue;
    }
    const same = checkpoints.find((s) => s.size === c.checkpoint.size);
    if (same && !same.rootHash.equals(c.checkpoint.rootHash)) {
      problem({ kind: 'inconsistent', message: `${what} and ${CHECKPOINTS_FILE} line ${same.line} sign different roots for the same size (a fork)`, checkpointSize: c.checkpoint.size });
    }
    if (!same) {
      const latestStored = checkpoints.reduce((m, s) => Math.max(m, s.size), 0);
      if (c.checkpoint.size > latestStored) warnings.push(`${what} is newer than any checkpoint in ${CHECKPOINTS_FILE} (latest ${latestStored}): checkpoints were removed or the log was rolled back`);
      checkpoints.push({ ...c.checkpoint, line: 0, note });
    }
  }
  const wantedRoots = new Map<number, Buffer | undefined>();
  for (const c of checkpoints) if (c.size > base) wantedRoots.set(c.size, undefined);

  // --- records
  const listed = listSegments(dir);
  const strays = listed.strays;
  let segments = listed.segments;
  if (withArchive) {
    const archived: SegmentFile[] = [];
    for (const a of anchor!.archived) {
      const path = a.location ? join(dir, a.location) : undefined;
      if (!path || !existsSync(path)) throw new InvalidInputError(`cannot verify the archive: segment ${a.segment} (records ${a.first}..${a.first + a.count - 1}) was ${a.location ? `moved away from ${a.location}` : 'deleted by retention'}`);
      archived.push({ name: a.segment, path, first: a.first });
    }
    for (const s of segments) if (s.first < anchorSize) warnings.push(`${relative(dir, s.path)}: starts below the archive boundary ${anchorSize} (interrupted archiving?); ignored`);
    segments = [...archived.sort((x, y) => x.first - y.first), ...segments.filter((s) => s.first >= anchorSize)];
  }
  const writer = lockHolder(dir);
  for (const s of strays) warnings.push(`${s}: not a segment file name; ignored`);
  const idx: number[] = [];
  const prevs = new HashArray();
  const leaves = new HashArray();
  const parseErrors = new Map<number, string>();
  const spans: SegmentSpan[] = [];
  // Without a full tree the right frontier is enough (AuditLog.open); with one, the tree alone is
  // kept while reading and the frontier is derived from it at the end (one node hash per leaf less).
  let range = prefix.clone();
  const tree = opts.withTree ? new MerkleTree(prefix) : undefined;
  let lastLeaf: Buffer | undefined;
  const zero = Buffer.alloc(32);
  for (let si = 0; si < segments.length; si++) {
    const seg = segments[si]!;
    const file = relative(dir, seg.path);
    if (seg.first < base) {
      warnings.push(`${file}: starts below the archive boundary ${base} (interrupted archiving?); ignored`);
      continue;
    }
    const st = statSync(seg.path);
    const segSize = st.size;
    if (!st.isFile()) {
      problem({ kind: 'corrupt', message: `${file}: not a regular file; not read`, file, index: base + idx.length });
      spans.push({ file, startPos: idx.length, lines: 0 });
      continue;
    }
    if (segSize > MAX_SEGMENT_BYTES) {
      problem({ kind: 'corrupt', message: `${file}: ${segSize} bytes is far larger than any segment this log writes (limit ${MAX_SEGMENT_BYTES}); not read`, file, index: base + idx.length });
      spans.push({ file, startPos: idx.length, lines: 0 });
      continue;
    }
    const buf = readFileSync(seg.path);
    const span: SegmentSpan = { file, startPos: idx.length, lines: 0 };
    let start = 0;
    let lineNo = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(0x0a, start);
      lineNo += 1;
      if (nl < 0) {
        if (si === segments.length - 1 && writer !== undefined) {
          // A live appender may be in the middle of writing this line: not damage (yet).
          warnings.push(`${file} line ${lineNo}: being written by process ${writer}; not counted`);
        } else {
          problem({ kind: 'truncated', message: `${file} line ${lineNo}: the last line has no newline (truncated write or cut file); it is not counted`, file, line: lineNo, index: base + idx.length });
        }
        break;
      }
      const bytes = buf.subarray(start, nl);
      start = nl + 1;
      const pos = idx.length;
      const leaf = leafHash(bytes);
      const parsed: ParsedLine = bytes.length > MAX_LINE_BYTES ? { ok: false, error: `line of ${bytes.length} bytes exceeds ${MAX_LINE_BYTES}` } : parseRecordLine(bytes.toString('utf8'));
      if (parsed.ok) {
        idx.push(parsed.record.index);
        prevs.push(Buffer.from(parsed.record.prev, 'hex'));
      } else {
        idx.push(Number.NaN);
        prevs.push(zero);
        parseErrors.set(pos, parsed.error);
        problem({ kind: 'corrupt', message: `${file} line ${lineNo}: not a valid record: ${parsed.error}`, file, line: lineNo, index: base + pos });
      }
      if (pos === 0 && parsed.ok && parsed.record.index !== seg.first) {
        warnings.push(`${file}: named after index ${seg.first} but its first record has index ${parsed.record.index}`);
      }
      leaves.push(leaf);
      if (tree) tree.appendLeaf(leaf);
      else range.append(leaf);
      lastLeaf = leaf;
      span.lines += 1;
      const size = base + idx.length;
      if (wantedRoots.has(size)) wantedRoots.set(size, tree ? tree.rootAt(size) : range.root());
    }
    spans.push(span);
    opts.onProgress?.(si + 1, segments.length, file);
  }
  const n = idx.length;
  const total = base + n;
  if (tree && total > prefix.size) range = new CompactRange(total, compactRangeSpans(total).map((sp) => tree.hash(sp.start, sp.start + sp.size)));

  const locate = (pos: number): { file: string; line: number } => {
    for (const s of spans) if (pos >= s.startPos && pos < s.startPos + s.lines) return { file: s.file, line: pos - s.startPos + 1 };
    const last = spans[spans.length - 1];
    return last ? { file: last.file, line: last.lines + 1 } : { file: 'segments/', line: 0 };
  };

  // --- first structural anomaly
  const chainStart = base === 0 ? Buffer.from(ZERO_HASH_HEX, 'hex') : Buffer.from(anchor!.lastLeafHash, 'hex');
  const prevHashFor = (q: number): Buffer => (q === 0 ? chainStart : leaves.get(q - 1));
  const prevOk = (q: number): boolean => !Number.isNaN(idx[q]!) && prevs.get(q).equals(prevHashFor(q));
  /** Would line q continue the log as record `e` if it followed the line before `after`? */
  const fits = (q: number, e: number, expectedPrev: Buffer): boolean => q < n && idx[q] === e && prevs.get(q).equals(expectedPrev);

  let firstTamper: TamperFinding | undefined;
  const tamper = (kind: TamperKind, index: number, pos: number, message: string): void => {
    const at = locate(pos);
    firstTamper = { kind, index, file: at.file, line: at.line, message: `${kind} record ${index} at ${at.file} line ${at.line}: ${message}` };
  };
  for (let p = 0; p < n && !firstTamper; p++) {
    const e = base + p;
    if (idx[p] === e && prevOk(p)) continue;
    const got = idx[p]!;
    const bad = parseErrors.get(p);
    const laterPos = (index: number, from: number): number => {
      for (let r = from; r < n; r++) if (idx[r] === index) return r;
      return -1;
    };
    // A genuine record links to the line that holds the record before it, wherever that line is.
    const genuine = (q: number): boolean => {
      const i = idx[q]!;
      if (Number.isNaN(i) || i === 0) return false;
      for (let r = 0; r < n; r++) if (r !== q && idx[r] === i - 1 && leaves.get(r).equals(prevs.get(q))) return true;
      return false;
    };
    const moved = got > e ? laterPos(e, p + 1) : -1;
    if (moved >= 0 && genuine(p)) {
      const here = locate(p);
      tamper('reordered', e, moved, `record ${e} is out of order: it comes after record ${got} (${here.file} line ${here.line})`);
    } else if (fits(p + 1, e, prevHashFor(p))) {
      tamper('inserted', e, p, `a line that is not part of the log (${bad ? `unreadable: ${bad}` : `claims index ${got}`}) sits where record ${e} belongs; record ${e} follows it`);
    } else if (p >= 1 && fits(p, e - 1, prevHashFor(p - 1))) {
      tamper('inserted', e - 1, p - 1, `the line before record ${e - 1} is not part of the log (it copies index ${idx[p - 1]}); record ${e - 1} follows it`);
    } else if (got === e) {
      // Right index, broken chain: the previous line changed after this record hashed it, or this
      // record's own `prev` was changed (then the next record does not match it either).
      if (p === 0) tamper('edited', e, p, base > 0 ? 'its prev hash does not match the last archived record' : 'its prev hash is not the chain start');
      else if (p + 1 < n && idx[p + 1] === e + 1 && !prevOk(p + 1)) tamper('edited', e, p, 'its content changed (its own prev hash and the next record\'s link both mismatch)');
      else tamper('edited', e - 1, p - 1, `its content no longer matches the hash that record ${e} recorded for it`);
    } else if (Number.isNaN(got) || (p + 1 < n && idx[p + 1] === e + 1)) {
      tamper('edited', e, p, bad ? `the line is not a valid record (${bad})` : `its index field was changed to ${got}`);
    } else if (got > e) {
      if (moved >= 0) {
        const here = locate(p);
        tamper('reordered', e, moved, `record ${e} is out of order: it comes after record ${got} (${here.file} line ${here.line})`);
      } else {
        tamper('deleted', e, p, got - e === 1 ? `record ${e} is missing (the line holds record ${got})` : `records ${e}..${got - 1} are missing (the line holds record ${got})`);
      }
    } else {
      tamper('inserted', e, p, `the line claims index ${got}, which already appeared earlier: it is not part of the log`);
    }
  }

  // --- checkpoints against the recomputed tree
  let anchorRootOk = !anchor;
  if (anchor) {
    const at = checkpoints.find((c) => c.size === anchorSize);
    if (!at) problem({ kind: 'anchor', message: `no valid signed checkpoint at the archive boundary ${anchorSize}`, file: 'anchor.json' });
    else if (!at.rootHash.equals(anchorRange(anchor).root())) problem({ kind: 'anchor', message: `anchor.json's compact range does not hash to the signed root of checkpoint ${anchorSize}`, file: 'anchor.json', checkpointSize: anchorSize });
    else anchorRootOk = true;
  }
  const where = (c: ValidCheckpoint): string => (c.line > 0 ? `${CHECKPOINTS_FILE} line ${c.line}` : 'given by the caller');
  let mismatch: ValidCheckpoint | undefined;
  let tailDeleted: ValidCheckpoint | undefined;
  let goodBelow = base;
  for (const c of [...checkpoints].sort((a, b) => a.size - b.size)) {
    if (c.size === 0 && base === 0 && !c.rootHash.equals(EMPTY_ROOT)) {
      problem({ kind: 'checkpoint-mismatch', message: `checkpoint of size 0 (${where(c)}) does not carry the empty-tree root`, checkpointSize: 0 });
    }
    if (c.size <= base) continue;
    if (c.size > total) {
      if (!tailDeleted) tailDeleted = c;
      problem({ kind: 'checkpoint-mismatch', message: `checkpoint of size ${c.size} (${where(c)}) covers more records than the log holds (${total})`, checkpointSize: c.size });
      continue;
    }
    const root = wantedRoots.get(c.size);
    if (!root || !root.equals(c.rootHash)) {
      if (!mismatch) mismatch = c;
      problem({ kind: 'checkpoint-mismatch', message: `the records do not hash to the signed root of checkpoint ${c.size} (${where(c)})`, checkpointSize: c.size });
    } else if (!mismatch) {
      goodBelow = c.size;
    }
  }
  if (!firstTamper && mismatch) {
    if (mismatch.size === total && goodBelow === total - 1) {
      tamper('edited', total - 1, n - 1, `it does not match signed checkpoint ${mismatch.size}`);
    } else if (mismatch.size === total) {
      tamper('edited', total - 1, n - 1, `records ${goodBelow}..${total - 1} do not match signed checkpoint ${mismatch.size} (${goodBelow} is the last good checkpoint); the hash chain is intact, so the last record changed or the chain was rewritten`);
    } else {
      tamper('edited', goodBelow, goodBelow - base, `records ${goodBelow}..${mismatch.size - 1} do not match signed checkpoint ${mismatch.size} although their hash chain is intact: they were rewritten together with their chain`);
    }
  }
  const truncated = problems.find((p) => p.kind === 'truncated');
  if (truncated && tailDeleted) {
    truncated.message += `; signed checkpoint ${tailDeleted.size} covers it, so it was cut after it was written and signed`;
  } else if (!firstTamper && tailDeleted) {
    tamper('deleted', total, n, total === tailDeleted.size - 1 ? `record ${total} (the last record) is missing: signed checkpoint ${tailDeleted.size} covers it` : `records ${total}..${tailDeleted.size - 1} at the end are missing: signed checkpoint ${tailDeleted.size} covers them`);
  }
  if (firstTamper) problems.unshift({ kind: firstTamper.kind, message: firstTamper.message, index: firstTamper.index, file: firstTamper.file, line: firstTamper.line });

  // --- consistency between consecutive checkpoints (RFC 9162 §2.1.4)
  let consistencyProofsChecked = 0;
  if (tree) {
    const sorted = [...checkpoints].sort((a, b) => a.size - b.size);
    const distinct = sorted.filter((c, i) => i === 0 || c.size !== sorted[i - 1]!.size).filter((c) => c.size >= base && c.size <= total);
    for (let i = 1; i < distinct.length; i++) {
      const a = distinct[i - 1]!;
      const b = distinct[i]!;
      let good = false;
      try {
        const proof = tree.consistencyProof(a.size, b.size);
        good = verifyConsistency(a.size, b.size, a.rootHash, b.rootHash, proof);
      } catch {
        good = false;
      }
      consistencyProofsChecked += 1;
      if (!good) problem({ kind: 'inconsistent', message: `checkpoints ${a.size} and ${b.size} are not consistent with each other over the stored records`, checkpointSize: b.size });
    }
  }
  // Archived checkpoints: proven consistent with a later checkpoint by the proofs kept in anchor.json.
  if (anchor && anchorRootOk) {
    const signedRoot = (size: number): Buffer | undefined => checkpoints.find((c) => c.size === size)?.rootHash;
    for (const c of checkpoints) {
      if (c.size >= anchorSize) continue;
      const entry = anchor.proofs.find((p) => p.size === c.size && p.rootHash === c.rootHash.toString('hex'));
      const to = entry ? signedRoot(entry.toSize) : undefined;
      if (!entry || !to || entry.toSize > anchorSize) {
        problem({ kind: 'anchor', message: `archived checkpoint ${c.size} (${where(c)}) has no recorded consistency proof to a later checkpoint`, checkpointSize: c.size });
        continue;
      }
      consistencyProofsChecked += 1;
      if (!verifyConsistency(c.size, entry.toSize, c.rootHash, to, entry.proof.map((h) => Buffer.from(h, 'hex')))) {
        problem({ kind: 'inconsistent', message: `archived checkpoint ${c.size} is not consistent with checkpoint ${entry.toSize} (anchor.json proof fails)`, checkpointSize: c.size });
      }
    }
  }

  // Archived copies must still be what was archived (anchor.json recorded their SHA-256).
  if (anchor) {
    for (const a of anchor.archived) {
      if (!a.location) continue;
      const path = join(dir, a.location);
      if (!existsSync(path)) {
        warnings.push(`${a.location}: archived segment is no longer in ${ARCHIVE_DIR}/ (moved to other storage?)`);
        continue;
      }
      let content: Buffer;
      try {
        content = readStoreFile(path);
      } catch (err) {
        problem({ kind: 'anchor', message: (err as Error).message, file: a.location });
        continue;
      }
      if (createHash('sha256').update(content).digest('hex') !== a.sha256) {
        problem({ kind: 'anchor', message: `${a.location}: archived segment changed since it was archived (SHA-256 differs from anchor.json)`, file: a.location });
      }
    }
  }

  const latest = checkpoints.reduce<ValidCheckpoint | undefined>((m, c) => (!m || c.size > m.size ? c : m), undefined);
  const unanchored = Math.max(0, total - (latest?.size ?? 0));
  if (!latest && total > 0) warnings.push('no valid signed checkpoint: nothing in this log is covered by a signature yet');
  else if (unanchored > 0) warnings.push(`${unanchored} record(s) after the latest checkpoint (size ${latest?.size ?? 0}) are not yet covered by a signature`);

  const result: VerifyResult = {
    ok: problems.length === 0,
    dir,
    origin,
    verifierKey: formatVerifierKey(verifier),
    keySource,
    treeSize: total,
    rootHash: (n === 0 && base === 0 ? EMPTY_ROOT : range.root()).toString('hex'),
    archivedSize: anchorSize,
    archiveVerified: withArchive,
    liveRecords: n,
    checkpoints: { total: totalCheckpoints, valid: checkpoints.length, ...(latest ? { latest: { size: latest.size, rootHash: latest.rootHash.toString('hex') } } : {}) },
    consistencyProofsChecked,
    unanchored,
    ...(firstTamper ? { firstTamper } : {}),
    problems,
    warnings,
  };
  return { result, verifier, ...(anchor ? { anchor } : {}), base, range, ...(tree ? { tree } : {}), lastLeaf: lastLeaf ?? (anchor ? Buffer.from(anchor.lastLeafHash, 'hex') : undefined), spans, checkpoints };
}
