/**
 * Retention: keep the audit log within a configured age and record count (自家用GL 8-1-4: logs are
 * kept for a defined period) by archiving whole sealed segments, oldest first, so that what
 * remains still verifies against the signed checkpoints.
 *
 * Policy: a sealed segment (any segment but the newest) is archived when
 *  - `maxRecords` is set and the live log would still hold at least `maxRecords` records without it,
 *    or
 *  - `maxAgeDays` is set and its newest record is older than that.
 * Archiving stops at the first segment that must stay, so the live log is always a suffix.
 * Archived segments move to `<dir>/archive/` (or are deleted with `deleteArchived`).
 *
 * What is kept so that verification still holds (anchor.json):
 *  - the boundary b: always the size of a signed checkpoint (segments are sealed with one);
 *  - the compact range of [0, b): the O(log b) subtree hashes that the RFC 9162 tree of every size
 *    ≥ b is built on. `verify` checks that they hash to the signed root at b, then extends them
 *    with the live records, so every later checkpoint is still recomputed from records;
 *  - for every archived checkpoint m < b, an RFC 9162 consistency proof from m to b (computed while
 *    the records were still here), so the old signed checkpoints stay provably consistent with the
 *    ones that remain;
 *  - the leaf hash of record b−1 (the first live record's `prev`) and the SHA-256 of each archived
 *    segment file.
 * The anchor is written (atomically) before any segment moves. If archiving is interrupted, the
 * segments below the boundary are left in segments/; verify ignores them with a warning and the
 * next retention run finishes moving them.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { IntegrityError, InvalidInputError } from '../../core/errors.js';
import { compactRangeSpans } from './merkle.js';
import type { NoteVerifier } from './note.js';
import { parseRecordLine } from './record.js';
import { ARCHIVE_DIR, fsyncDir, listSegments, readAnchor, readStoreFile, SEGMENTS_DIR, writeAnchor, type Anchor, type ArchivedCheckpointProof, type ArchivedSegment, type SegmentFile } from './store.js';
import { scanLog } from './verify.js';

export interface RetentionPolicy {
  /** Archive sealed segments whose newest record is older than this many days. */
  maxAgeDays?: number;
  /** Keep at least this many records live; older whole sealed segments beyond it are archived. */
  maxRecords?: number;
  /** Delete archived segments instead of keeping them in `<dir>/archive/`. */
  deleteArchived?: boolean;
}

export interface RetentionCandidate {
  segment: string;
  first: number;
  count: number;
  newestTime: string;
  reason: 'age' | 'count';
}

export interface RetentionReport {
  dryRun: boolean;
  /** Segments archived (or, for a dry run, that would be). */
  archived: RetentionCandidate[];
  /** Archive boundary after the run: records below it are archived. */
  boundary: number;
  liveRecords: number;
}

const DAY_MS = 86_400_000;

export function checkRetentionPolicy(p: RetentionPolicy): void {
  for (const k of ['maxAgeDays', 'maxRecords'] as const) {
    const v = p[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new InvalidInputError(`retention.${k} must be a non-negative number, got ${String(v)}`);
  }
}

interface SegmentStats extends SegmentFile {
  count: number;
  newestTime: string | undefined;
}

function segmentStats(seg: SegmentFile): SegmentStats {
  const buf = readStoreFile(seg.path);
  let count = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 0x0a) count += 1;
  let newestTime: string | undefined;
  const end = buf.length > 0 && buf[buf.length - 1] === 0x0a ? buf.length - 1 : buf.length;
  const start = buf.lastIndexOf(0x0a, end - 1) + 1;
  if (end > start) {
    const parsed = parseRecordLine(buf.subarray(start, end).toString('utf8'));
    if (parsed.ok) newestTime = parsed.record.time;
  }
  return { ...seg, count, newestTime };
}

/** Which sealed segments the policy would archive now (reads only the segment files). */
export function planRetention(dir: string, policy: RetentionPolicy, now: number): { candidates: RetentionCandidate[]; base: number; live: number } {
  checkRetentionPolicy(policy);
  const base = readAnchor(dir)?.size ?? 0;
  const segs = listSegments(dir).segments.filter((s) => s.first >= base).map(segmentStats);
  let live = segs.reduce((a, s) => a + s.count, 0);
  const candidates: RetentionCandidate[] = [];
  // The newest segment is never archived: it is (or may become) the one being written.
  for (const s of segs.slice(0, -1)) {
    const byCount = policy.maxRecords !== undefined && live - s.count >= policy.maxRecords;
    const byAge = policy.maxAgeDays !== undefined && s.newestTime !== undefined && Date.parse(s.newestTime) < now - policy.maxAgeDays * DAY_MS;
    if (!byCount && !byAge) break;
    candidates.push({ segment: s.name, first: s.first, count: s.count, newestTime: s.newestTime ?? '', reason: byAge ? 'age' : 'count' });
    live -= s.count;
  }
  return { candidates, base, live };
}

function sha256File(path: string): string {
  return createHash('sha256').update(readStoreFile(path)).digest('hex');
}

/** Finishes an interrupted archiving run: segments wholly below the boundary go where the anchor says. */
function finishInterrupted(dir: string, anchor: Anchor | undefined): void {
  if (!anchor) return;
  for (const seg of listSegments(dir).segments) {
    if (seg.first >= anchor.size) continue;
    const entry = anchor.archived.find((a) => a.segment === seg.name);
    if (!entry) continue; // not ours to move: verify reports it
    if (entry.location) {
      mkdirSync(join(dir, ARCHIVE_DIR), { recursive: true });
      renameSync(seg.path, join(dir, entry.location));
    } else {
      rmSync(seg.path);
    }
  }
}

/**
 * Applies the policy: verifies the log, writes the new anchor, then moves (or deletes) the
 * archived segments. Refuses (IntegrityError) to archive a log that does not verify.
 * The caller must hold the log's lock (AuditLog does; `erab audit retention` takes it).
 */
export function enforceRetention(dir: string, policy: RetentionPolicy, opts: { verifier?: NoteVerifier; now: number; dryRun?: boolean }): RetentionReport {
  const oldAnchor = readAnchor(dir);
  if (!opts.dryRun) finishInterrupted(dir, oldAnchor);
  const plan = planRetention(dir, policy, opts.now);
  if (plan.candidates.length === 0 || opts.dryRun) {
    return { dryRun: !!opts.dryRun, archived: plan.candidates, boundary: plan.base + (opts.dryRun ? plan.candidates.reduce((a, c) => a + c.count, 0) : 0), liveRecords: plan.live };
  }
  const scan = scanLog(dir, { ...(opts.verifier ? { verifier: opts.verifier } : {}), withTree: true });
  if (!scan.result.ok) {
    throw new IntegrityError(`retention refused: the audit log in ${dir} does not verify (${scan.result.problems[0]!.message}); nothing was archived`);
  }
  const tree = scan.tree!;
  // Stop before the first segment whose end is not a signed checkpoint (cannot anchor there).
  const signedSizes = new Set(scan.checkpoints.map((c) => c.size));
  const chosen: RetentionCandidate[] = [];
  for (const c of plan.candidates) {
    if (!signedSizes.has(c.first + c.count)) break;
    chosen.push(c);
  }
  if (chosen.length === 0) return { dryRun: false, archived: [], boundary: scan.base, liveRecords: plan.live + plan.candidates.reduce((a, c) => a + c.count, 0) };
  const last = chosen[chosen.length - 1]!;
  const boundary = last.first + last.count;

  const proofs: ArchivedCheckpointProof[] = [...(oldAnchor?.proofs ?? [])];
  const seen = new Set(proofs.map((p) => p.size));
  for (const c of scan.checkpoints) {
    if (c.size < scan.base || c.size >= boundary || seen.has(c.size)) continue;
    seen.add(c.size);
    proofs.push({ size: c.size, rootHash: c.rootHash.toString('hex'), toSize: boundary, proof: tree.consistencyProof(c.size, boundary).map((h) => h.toString('hex')) });
  }
  const deleted = !!policy.deleteArchived;
  const archivedEntries: ArchivedSegment[] = chosen.map((c) => ({
    segment: c.segment,
    first: c.first,
    count: c.count,
    newestTime: c.newestTime,
    sha256: sha256File(join(dir, SEGMENTS_DIR, c.segment)),
    location: deleted ? null : relative(dir, join(dir, ARCHIVE_DIR, c.segment)),
  }));
  const anchor: Anchor = {
    version: 1,
    origin: scan.verifier.name,
    size: boundary,
    compactRange: compactRangeSpans(boundary).map((s) => tree.hash(s.start, s.start + s.size).toString('hex')),
    lastLeafHash: boundary > scan.base ? tree.leaf(boundary - 1).toString('hex') : oldAnchor!.lastLeafHash,
    archived: [...(oldAnchor?.archived ?? []), ...archivedEntries],
    proofs: proofs.sort((a, b) => a.size - b.size),
  };
  writeAnchor(dir, anchor);
  if (!deleted) mkdirSync(join(dir, ARCHIVE_DIR), { recursive: true });
  for (const c of chosen) {
    const from = join(dir, SEGMENTS_DIR, c.segment);
    if (deleted) rmSync(from);
    else renameSync(from, join(dir, ARCHIVE_DIR, c.segment));
  }
  fsyncDir(join(dir, SEGMENTS_DIR));
  if (!deleted && existsSync(join(dir, ARCHIVE_DIR))) fsyncDir(join(dir, ARCHIVE_DIR));
  return { dryRun: false, archived: chosen, boundary, liveRecords: plan.live + plan.candidates.slice(chosen.length).reduce((a, c) => a + c.count, 0) };
}
