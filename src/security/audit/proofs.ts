/**
 * Proofs a third party can check with nothing but the log's verifier key and RFC 9162:
 * - inclusion: record N is leaf N of the tree whose signed checkpoint they hold (§2.1.3);
 * - consistency: the tree at size M is a prefix of the tree at size N (§2.1.4).
 * Both are computed from a log that verifies; a log that does not verify is refused.
 */
import { join } from 'node:path';
import { IntegrityError, InvalidInputError } from '../../core/errors.js';
import { leafHash } from './merkle.js';
import type { NoteVerifier } from './note.js';
import { readStoreFile } from './store.js';
import { scanLog, type LogScan } from './verify.js';

export interface InclusionProof {
  origin: string;
  leafIndex: number;
  treeSize: number;
  /** The record line exactly as stored: its bytes are the leaf's entry. */
  entry: string;
  /** SHA-256(0x00 || entry), hex. */
  leafHash: string;
  /** PATH(leafIndex, D[treeSize]) of RFC 9162 §2.1.3.1, hex, bottom-up. */
  auditPath: string[];
  /** MTH(D[treeSize]), hex. */
  rootHash: string;
  /** The signed C2SP checkpoint note of size treeSize, or null when none was signed at that size. */
  checkpoint: string | null;
}

export interface ConsistencyProof {
  origin: string;
  fromSize: number;
  toSize: number;
  fromRootHash: string;
  toRootHash: string;
  /** PROOF(fromSize, D[toSize]) of RFC 9162 §2.1.4.1, hex. */
  proof: string[];
  fromCheckpoint: string | null;
  toCheckpoint: string | null;
}

export interface ProofOptions {
  verifier?: NoteVerifier;
  /** Read archived segments back too, so records and sizes below the archive boundary can be proven. */
  includeArchive?: boolean;
}

function verifiedScan(dir: string, opts: ProofOptions): LogScan {
  const scan = scanLog(dir, { ...opts, withTree: true });
  if (!scan.result.ok) throw new IntegrityError(`the audit log in ${dir} does not verify (${scan.result.problems[0]!.message}); no proof is given for a damaged log`);
  return scan;
}

function latestCheckpointSize(scan: LogScan): number | undefined {
  return scan.checkpoints.reduce<number | undefined>((m, c) => (m === undefined || c.size > m ? c.size : m), undefined);
}

function noteAt(scan: LogScan, size: number): string | null {
  return scan.checkpoints.find((c) => c.size === size)?.note ?? null;
}

/** Reads the stored line of record `index` (a live record). */
function entryOf(scan: LogScan, dir: string, index: number): string {
  const pos = index - scan.base;
  for (const s of scan.spans) {
    if (pos >= s.startPos && pos < s.startPos + s.lines) {
      const lines = readStoreFile(join(dir, s.file)).toString('utf8').split('\n');
      return lines[pos - s.startPos]!;
    }
  }
  throw new InvalidInputError(`record ${index} is not in the live log`);
}

/**
 * An inclusion proof of record `index` in the tree of `size` records (default: the latest signed
 * checkpoint). The record must be live (not archived).
 * @example const p = inclusionProof('/var/lib/erab/audit', { index: 41 }); // p.auditPath, p.checkpoint
 */
export function inclusionProof(dir: string, args: { index: number; size?: number | undefined }, opts: ProofOptions = {}): InclusionProof {
  const scan = verifiedScan(dir, opts);
  const tree = scan.tree!;
  const size = args.size ?? latestCheckpointSize(scan);
  if (size === undefined) throw new InvalidInputError('the log has no signed checkpoint yet; pass a tree size');
  if (!Number.isSafeInteger(args.index) || args.index < 0) throw new InvalidInputError(`index ${args.index} is not a non-negative integer`);
  if (args.index >= size) {
    throw new InvalidInputError(`record ${args.index} is not covered by the tree of size ${size}${args.size === undefined ? ' (the latest checkpoint); pass --size up to ' + tree.size + ' to prove against an unsigned root' : ''}`);
  }
  if (size > tree.size) throw new InvalidInputError(`tree size ${size} is larger than the log (${tree.size} records)`);
  if (args.index < scan.base) throw new InvalidInputError(`record ${args.index} is archived (records below ${scan.base}); prove it with includeArchive (--include-archive)`);
  const entry = entryOf(scan, dir, args.index);
  const leaf = leafHash(entry);
  if (!leaf.equals(tree.leaf(args.index))) throw new IntegrityError(`record ${args.index} changed while the proof was computed`);
  return {
    origin: scan.verifier.name,
    leafIndex: args.index,
    treeSize: size,
    entry,
    leafHash: leaf.toString('hex'),
    auditPath: tree.inclusionPath(args.index, size).map((h) => h.toString('hex')),
    rootHash: tree.rootAt(size).toString('hex'),
    checkpoint: noteAt(scan, size),
  };
}

/** A consistency proof between two tree sizes (default `to`: the latest signed checkpoint). */
export function consistencyProof(dir: string, args: { from: number; to?: number | undefined }, opts: ProofOptions = {}): ConsistencyProof {
  const scan = verifiedScan(dir, opts);
  const tree = scan.tree!;
  const to = args.to ?? latestCheckpointSize(scan);
  if (to === undefined) throw new InvalidInputError('the log has no signed checkpoint yet; pass --to');
  if (!Number.isSafeInteger(args.from) || !Number.isSafeInteger(to) || args.from < 0 || args.from > to) throw new InvalidInputError(`consistency proof needs 0 ≤ from ≤ to, got from ${args.from}, to ${to}`);
  if (to > tree.size) throw new InvalidInputError(`tree size ${to} is larger than the log (${tree.size} records)`);
  if (args.from < scan.base) throw new InvalidInputError(`size ${args.from} is inside the archived prefix (below ${scan.base}); use includeArchive (--include-archive), or the proofs for archived checkpoints in anchor.json`);
  return {
    origin: scan.verifier.name,
    fromSize: args.from,
    toSize: to,
    fromRootHash: tree.rootAt(args.from).toString('hex'),
    toRootHash: tree.rootAt(to).toString('hex'),
    proof: tree.consistencyProof(args.from, to).map((h) => h.toString('hex')),
    fromCheckpoint: noteAt(scan, args.from),
    toCheckpoint: noteAt(scan, to),
  };
}
