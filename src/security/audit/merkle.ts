/**
 * Merkle tree hashing exactly as RFC 9162 (Certificate Transparency v2) §2.1 defines it.
 *
 * - Leaf hash:  MTH({d(0)}) = SHA-256(0x00 || d(0))                       (§2.1.1)
 * - Node hash:  MTH(D[n])   = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),
 *               k = the largest power of two smaller than n               (§2.1.1)
 * - Empty tree: MTH({})     = SHA-256()                                    (§2.1.1)
 * - Inclusion proofs (audit paths):   PATH(m, D[n])  generation §2.1.3.1, verification §2.1.3.2
 * - Consistency proofs:               PROOF(m, D[n]) generation §2.1.4.1, verification §2.1.4.2
 *
 * Two structures:
 * - {@link CompactRange}: the right frontier of the tree (one perfect-subtree hash per set bit of
 *   the size). Appending a leaf is amortised O(1) hashes, the root O(log n). This is all the live
 *   log keeps in memory.
 * - {@link MerkleTree}: every perfect, aligned subtree hash in packed arrays (2n hashes), so any
 *   subtree hash, inclusion path or consistency proof costs O(log² n). Used by verification and
 *   proof generation. It can start from a compact range (the archived prefix kept after retention):
 *   nodes inside that prefix are then available only as far as the compact range covers them.
 */
import { createHash } from 'node:crypto';
import { IntegrityError, InvalidInputError } from '../../core/errors.js';

export const HASH_SIZE = 32;
const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** SHA-256(0x00 || entry): the RFC 9162 §2.1.1 leaf hash. */
export function leafHash(entry: Uint8Array | string): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(entry).digest();
}

/** SHA-256(0x01 || left || right): the RFC 9162 §2.1.1 interior node hash. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** The largest power of two strictly smaller than n (n ≥ 2): the RFC's split point k. */
export function splitPoint(n: number): number {
  if (n < 2) throw new InvalidInputError(`splitPoint: tree size ${n} has no split (needs ≥ 2)`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n >= 1 && Number.isInteger(Math.log2(n)) && 2 ** Math.log2(n) === n;
}

/** The perfect subtrees [start, start+size) that make up a tree of `n` leaves, left to right. */
export function compactRangeSpans(n: number): { start: number; size: number }[] {
  const out: { start: number; size: number }[] = [];
  let start = 0;
  let rest = n;
  while (rest > 0) {
    let size = 1;
    while (size * 2 <= rest) size *= 2;
    out.push({ start, size });
    start += size;
    rest -= size;
  }
  return out;
}

/**
 * The right frontier ("compact range" of [0, size)): the hashes of the perfect subtrees whose sizes
 * are the set bits of `size`, largest first. Appending a leaf merges equal-sized subtrees like a
 * binary counter carry, so n appends cost < 2n node hashes in total.
 */
export class CompactRange {
  private readonly hashes: Buffer[];
  private count: number;

  constructor(size = 0, hashes: readonly Buffer[] = []) {
    if (!Number.isSafeInteger(size) || size < 0) throw new InvalidInputError(`compact range size ${size} is not a non-negative integer`);
    const spans = compactRangeSpans(size);
    if (spans.length !== hashes.length) {
      throw new IntegrityError(`compact range of size ${size} needs ${spans.length} subtree hashes, got ${hashes.length}`);
    }
    for (const h of hashes) if (h.length !== HASH_SIZE) throw new IntegrityError('compact range hash is not 32 bytes');
    this.count = size;
    this.hashes = hashes.map((h) => Buffer.from(h));
  }

  get size(): number {
    return this.count;
  }

  /** The subtree hashes, largest (leftmost) first; see {@link compactRangeSpans} for their spans. */
  nodes(): readonly Buffer[] {
    return this.hashes;
  }

  append(leaf: Buffer): void {
    let h = leaf;
    let s = this.count;
    // Each trailing 1 bit of the old size is a subtree of the same size as the carry: merge it.
    while (s % 2 === 1) {
      const left = this.hashes.pop()!;
      h = nodeHash(left, h);
      s = (s - 1) / 2;
    }
    this.hashes.push(h);
    this.count += 1;
  }

  /** MTH(D[0:size]): fold the frontier from the right, as the RFC's split at powers of two implies. */
  root(): Buffer {
    if (this.hashes.length === 0) return Buffer.from(EMPTY_ROOT);
    let r = this.hashes[this.hashes.length - 1]!;
    for (let i = this.hashes.length - 2; i >= 0; i--) r = nodeHash(this.hashes[i]!, r);
    return r;
  }

  clone(): CompactRange {
    return new CompactRange(this.count, this.hashes);
  }
}

/** A growable packed array of 32-byte hashes (one Buffer, not one object per hash). */
export class HashArray {
  private buf = Buffer.alloc(HASH_SIZE * 64);
  length = 0;
  push(h: Uint8Array): void {
    if ((this.length + 1) * HASH_SIZE > this.buf.length) {
      const next = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(next, 0, 0, this.length * HASH_SIZE);
      this.buf = next;
    }
    this.buf.set(h, this.length * HASH_SIZE);
    this.length += 1;
  }
  get(i: number): Buffer {
    return this.buf.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }
}

/**
 * A Merkle tree that keeps every perfect aligned subtree hash, for proofs and verification.
 *
 * Leaves [0, base) may be unknown (archived): they are then represented only by the compact range
 * of size `base`. Any subtree made of whole compact-range nodes plus known leaves can still be
 * hashed, which covers every root of size ≥ base, every inclusion path of a leaf ≥ base, and every
 * consistency proof between sizes ≥ base (each such proof node lies either inside [0, m) on the
 * compact-range grid of m ≥ base, or inside [m, n)).
 */
export class MerkleTree {
  private readonly levels: HashArray[] = [new HashArray()];
  private readonly compact = new Map<string, Buffer>();
  private count: number;
  readonly base: number;

  constructor(prefix: CompactRange = new CompactRange()) {
    this.base = prefix.size;
    this.count = prefix.size;
    const spans = compactRangeSpans(prefix.size);
    prefix.nodes().forEach((h, i) => {
      const s = spans[i]!;
      this.compact.set(`${s.start}:${s.size}`, Buffer.from(h));
    });
  }

  get size(): number {
    return this.count;
  }

  /** First stored node index at a level: nodes starting before `base` are not stored. */
  private firstIndex(level: number): number {
    return Math.ceil(this.base / 2 ** level);
  }

  appendLeaf(leaf: Buffer): void {
    this.levels[0]!.push(leaf);
    this.count += 1;
    let level = 1;
    let width = 2;
    while (this.count % width === 0) {
      const j = this.count / width - 1;
      if (j * width < this.base) break; // straddles the archived prefix: computed on demand
      const lower = this.levels[level - 1]!;
      const f = this.firstIndex(level - 1);
      const h = nodeHash(lower.get(2 * j - f), lower.get(2 * j + 1 - f));
      if (this.levels.length <= level) this.levels.push(new HashArray());
      this.levels[level]!.push(h);
      level += 1;
      width *= 2;
    }
  }

  leaf(index: number): Buffer {
    if (index < this.base || index >= this.count) throw new IntegrityError(`leaf ${index} is not available (tree holds ${this.base}..${this.count - 1})`);
    return this.levels[0]!.get(index - this.base);
  }

  /** MTH(D[lo:hi]) per RFC 9162 §2.1.1, using stored subtree hashes where the range is aligned. */
  hash(lo: number, hi: number): Buffer {
    if (!(lo >= 0 && hi <= this.count && lo < hi)) throw new InvalidInputError(`subtree [${lo}, ${hi}) is outside the tree of size ${this.count}`);
    const size = hi - lo;
    if (isPowerOfTwo(size) && lo % size === 0) {
      const level = Math.log2(size);
      if (lo >= this.base) {
        const arr = this.levels[level];
        const idx = lo / size - this.firstIndex(level);
        if (arr && idx < arr.length) return arr.get(idx);
      }
      const c = this.compact.get(`${lo}:${size}`);
      if (c) return c;
    }
    if (size === 1) throw new IntegrityError(`leaf ${lo} is archived; its hash is only covered by the retained compact range`);
    const k = splitPoint(size);
    return nodeHash(this.hash(lo, lo + k), this.hash(lo + k, hi));
  }

  /** MTH(D[0:n]) for base ≤ n ≤ size. */
  rootAt(n: number): Buffer {
    if (n === 0) return Buffer.from(EMPTY_ROOT);
    return this.hash(0, n);
  }

  /** PATH(m, D[n]) of RFC 9162 §2.1.3.1: the audit path of leaf m in the tree of size n. */
  inclusionPath(m: number, n: number): Buffer[] {
    if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n) && m >= 0 && m < n && n <= this.count)) {
      throw new InvalidInputError(`inclusion proof needs 0 ≤ index < size ≤ ${this.count}, got index ${m}, size ${n}`);
    }
    const path: Buffer[] = [];
    const walk = (lo: number, hi: number): void => {
      if (hi - lo === 1) return;
      const k = splitPoint(hi - lo);
      if (m < lo + k) {
        walk(lo, lo + k);
        path.push(this.hash(lo + k, hi));
      } else {
        walk(lo + k, hi);
        path.push(this.hash(lo, lo + k));
      }
    };
    walk(0, n);
    return path;
  }

  /** PROOF(m, D[n]) of RFC 9162 §2.1.4.1 (empty when m = 0 or m = n). */
  consistencyProof(m: number, n: number): Buffer[] {
    if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n) && m >= 0 && m <= n && n <= this.count)) {
      throw new InvalidInputError(`consistency proof needs 0 ≤ from ≤ to ≤ ${this.count}, got from ${m}, to ${n}`);
    }
    if (m === 0 || m === n) return [];
    const proof: Buffer[] = [];
    // SUBPROOF(m, D[lo:hi], b)
    const sub = (mm: number, lo: number, hi: number, b: boolean): void => {
      const size = hi - lo;
      if (mm === size) {
        if (!b) proof.push(this.hash(lo, hi));
        return;
      }
      const k = splitPoint(size);
      if (mm <= k) {
        sub(mm, lo, lo + k, b);
        proof.push(this.hash(lo + k, hi));
      } else {
        sub(mm - k, lo + k, hi, false);
        proof.push(this.hash(lo, lo + k));
      }
    };
    sub(m, 0, n, true);
    return proof;
  }
}

/**
 * Verifies an inclusion proof by the algorithm of RFC 9162 §2.1.3.2.
 * @example verifyInclusion(5, 8, leafHash(entry), path, root) // true when entry is leaf 5 of the tree of 8
 */
export function verifyInclusion(leafIndex: number, treeSize: number, leaf: Uint8Array, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!(Number.isSafeInteger(leafIndex) && Number.isSafeInteger(treeSize)) || leafIndex < 0 || leafIndex >= treeSize) return false;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(Buffer.from(root));
}

/**
 * Verifies a consistency proof between tree sizes `first` and `second` by RFC 9162 §2.1.4.2.
 * Sizes 0 and first = second are handled as the RFC implies: trivially consistent with an empty
 * proof (and, for equal sizes, equal roots).
 */
export function verifyConsistency(first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second)) || first < 0 || first > second) return false;
  const fr0 = Buffer.from(firstRoot);
  const sr0 = Buffer.from(secondRoot);
  if (first === second) return proof.length === 0 && fr0.equals(sr0);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0) return false; // step 1
  const path: Buffer[] = proof.map((p) => Buffer.from(p));
  if (isPowerOfTwo(first)) path.unshift(fr0); // step 2
  let fn = first - 1; // step 3
  let sn = second - 1;
  while (fn % 2 === 1) { // step 4
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = path[0]!; // step 5
  let sr: Buffer = path[0]!;
  for (const c of path.slice(1)) { // step 6
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(fr0) && sr.equals(sr0) && sn === 0; // step 7
}
