/**
 * The append-only, tamper-evident audit log of one role: an {@link AuditSink} backed by the file
 * store of ./store.ts, hashed into an RFC 9162 Merkle tree, with signed C2SP checkpoints.
 *
 * Cost of an append: one canonical JSON line, one SHA-256 leaf hash, amortised O(1) node hashes on
 * the in-memory right frontier (compact range), and one write(2) to the open segment (O_APPEND).
 * Nothing is recomputed from disk after open.
 *
 * Durability (what a crash loses):
 * - Each append is written to the kernel with write(2) before append() returns, so a crash of the
 *   process loses nothing that append() returned for.
 * - Segments and the checkpoints file are fsync'ed at every checkpoint (every `checkpointEvery`
 *   records, every `checkpointIntervalMs`, at every segment seal and at close()). A power loss or
 *   kernel crash can therefore lose the records appended since the last checkpoint, and may leave
 *   a torn last line. Such a tail is reported by `erab audit verify` and the log refuses to open for
 *   appending until an operator has looked at it: it is never silently truncated or overwritten.
 * - A checkpoint is written only after the records it covers are fsync'ed, so a signed checkpoint
 *   never refers to records that a crash could lose.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { ErabError, IntegrityError, InvalidInputError } from '../../core/errors.js';
import { signCheckpoint } from './checkpoint.js';
import { leafHash, type CompactRange } from './merkle.js';
import { checkKeyName, formatVerifierKey, type NoteSigner } from './note.js';
import { checkRecordInput, repairRecordInput, serializeRecord, ZERO_HASH_HEX, type AuditRecord } from './record.js';
import { checkRetentionPolicy, enforceRetention, type RetentionPolicy, type RetentionReport } from './retention.js';
import { acquireLock, CHECKPOINTS_FILE, ensureLayout, fsyncDir, loadOrCreateSigner, SEGMENTS_DIR, segmentName, writeVerifierKey } from './store.js';
import type { AuditRecordInput, AuditSink } from './types.js';
import { scanLog } from './verify.js';

export interface AuditLogOptions {
  /** The log directory (one per role). Created if missing. */
  dir: string;
  /** The log's identity and checkpoint key name, e.g. "erab.example/aggregator-1/audit" (no spaces, no '+'). */
  origin: string;
  /** Write a checkpoint after this many new records (default 1000; 0 = only by time and at close). */
  checkpointEvery?: number;
  /** Write a checkpoint this long after the first record not yet covered (default 60 000 ms; 0 = never by time). */
  checkpointIntervalMs?: number;
  /** Records per segment file before it is sealed (default 10 000). Retention archives whole sealed segments. */
  segmentMaxRecords?: number;
  /** Retention, enforced at open and whenever a segment is sealed. */
  retention?: RetentionPolicy;
  /** Largest record line in bytes; bigger records keep their fields but lose `details` (default 16 KiB). */
  maxRecordBytes?: number;
  /** Where the signing key lives (default `<dir>/signing.key`). */
  keyFile?: string;
  clock?: Clock;
}

export interface AppendResult {
  index: number;
  /** Hex RFC 9162 leaf hash of the stored line. */
  leafHash: string;
}

export interface CheckpointInfo {
  size: number;
  rootHash: string;
  note: string;
}

const DEFAULTS = { checkpointEvery: 1000, checkpointIntervalMs: 60_000, segmentMaxRecords: 10_000, maxRecordBytes: 16 * 1024 };

/**
 * @example
 * const log = AuditLog.open({ dir: '/var/lib/erab/aggregator/audit', origin: 'erab.example/agg-1/audit' });
 * log.append({ actor: { kind: 'peer', id: 'tso-1', fingerprint }, action: 'tls.handshake', outcome: 'refused', reason: 'revoked' });
 * log.close(); // writes the final checkpoint
 */
export class AuditLog implements AuditSink {
  readonly dir: string;
  readonly origin: string;
  private readonly signer: NoteSigner;
  private readonly clock: Clock;
  private readonly opts: Required<Omit<AuditLogOptions, 'retention' | 'keyFile' | 'clock' | 'dir' | 'origin'>>;
  private readonly retention: RetentionPolicy | undefined;
  private readonly releaseLock: () => void;
  private range: CompactRange;
  private lastLeaf: Buffer;
  private segFd: number | undefined;
  private segCount: number;
  private segFirst: number;
  private cpFd: number;
  private checkpointed: number;
  private lastCheckpoint: CheckpointInfo | undefined;
  private timer: TimerHandle | undefined;
  private failed: Error | undefined;
  private closed = false;
  /** Reports of retention runs since open (the latest last). */
  readonly retentionReports: RetentionReport[] = [];

  private constructor(init: {
    opts: AuditLogOptions;
    signer: NoteSigner;
    releaseLock: () => void;
    range: CompactRange;
    lastLeaf: Buffer;
    segFirst: number;
    segCount: number;
    checkpointed: number;
    lastCheckpoint: CheckpointInfo | undefined;
  }) {
    const o = init.opts;
    this.dir = o.dir;
    this.origin = o.origin;
    this.signer = init.signer;
    this.clock = o.clock ?? systemClock;
    this.opts = {
      checkpointEvery: o.checkpointEvery ?? DEFAULTS.checkpointEvery,
      checkpointIntervalMs: o.checkpointIntervalMs ?? DEFAULTS.checkpointIntervalMs,
      segmentMaxRecords: o.segmentMaxRecords ?? DEFAULTS.segmentMaxRecords,
      maxRecordBytes: o.maxRecordBytes ?? DEFAULTS.maxRecordBytes,
    };
    this.retention = o.retention;
    this.releaseLock = init.releaseLock;
    this.range = init.range;
    this.lastLeaf = init.lastLeaf;
    this.segFirst = init.segFirst;
    this.segCount = init.segCount;
    this.checkpointed = init.checkpointed;
    this.lastCheckpoint = init.lastCheckpoint;
    this.cpFd = openSync(join(this.dir, CHECKPOINTS_FILE), 'a', 0o644);
  }

  /**
   * Opens (or creates) the log in `opts.dir` for appending. The whole log is verified first; a log
   * with any problem (tampering, a torn last line, a bad checkpoint) is refused with an
   * IntegrityError naming the problem — run `erab audit verify --dir <dir>` for the full report.
   */
  static open(opts: AuditLogOptions): AuditLog {
    checkKeyName(opts.origin);
    for (const k of ['checkpointEvery', 'checkpointIntervalMs', 'segmentMaxRecords', 'maxRecordBytes'] as const) {
      const v = opts[k];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new InvalidInputError(`audit log option ${k} must be a non-negative integer, got ${v}`);
    }
    if (opts.segmentMaxRecords === 0) throw new InvalidInputError('audit log option segmentMaxRecords must be at least 1');
    if (opts.retention) checkRetentionPolicy(opts.retention);
    ensureLayout(opts.dir);
    const releaseLock = acquireLock(opts.dir);
    try {
      const { signer } = loadOrCreateSigner(opts.dir, opts.origin, opts.keyFile);
      writeVerifierKey(opts.dir, signer);
      const scan = scanLog(opts.dir, { verifier: signer, withTree: false });
      if (!scan.result.ok) {
        const first = scan.result.problems[0]!;
        throw new IntegrityError(`refusing to append to the audit log in ${opts.dir}: ${first.message} (${scan.result.problems.length} problem(s); run \`erab audit verify --dir ${opts.dir}\`)`, { code: 'audit_corrupt' });
      }
      const lastSpan = scan.spans[scan.spans.length - 1];
      const latest = scan.checkpoints.reduce<(typeof scan.checkpoints)[number] | undefined>((m, c) => (!m || c.size > m.size ? c : m), undefined);
      const log = new AuditLog({
        opts,
        signer,
        releaseLock,
        range: scan.range,
        lastLeaf: scan.lastLeaf ?? Buffer.from(ZERO_HASH_HEX, 'hex'),
        segFirst: lastSpan ? scan.range.size - lastSpan.lines : scan.range.size,
        segCount: lastSpan ? lastSpan.lines : 0,
        checkpointed: latest?.size ?? 0,
        lastCheckpoint: latest ? { size: latest.size, rootHash: latest.rootHash.toString('hex'), note: latest.note } : undefined,
      });
      try {
        // Records that survived a crash after the last checkpoint get anchored right away.
        if (log.size > log.checkpointed) log.checkpoint();
        if (log.size === 0 && !latest) log.checkpoint(true); // sign the empty tree: proves the log's start
        log.runRetention();
      } catch (err) {
        log.releaseFiles();
        throw err;
      }
      return log;
    } catch (err) {
      releaseLock();
      throw err;
    }
  }

  /** Number of records ever appended (including archived ones). */
  get size(): number {
    return this.range.size;
  }

  /** Current root hash (hex) of the whole log. */
  get rootHash(): string {
    return this.range.root().toString('hex');
  }

  /** The verifier key third parties use to check this log's checkpoints. */
  get verifierKey(): string {
    return formatVerifierKey(this.signer);
  }

  get latestCheckpoint(): CheckpointInfo | undefined {
    return this.lastCheckpoint;
  }

  /** When this process last wrote a checkpoint (epoch ms), for health metrics; undefined before the first. */
  get lastCheckpointAt(): number | undefined {
    return this.checkpointAt;
  }

  private readonly observers = new Set<(record: AuditRecord) => void>();
  private checkpointAt: number | undefined;

  /**
   * Calls `fn` with every record after it is stored (metrics, log levels, the syslog stream of
   * ./syslog-stream.ts). An observer that throws is ignored: the record is already in the log and
   * a reporting side path must not make the caller's append fail. Returns the unsubscribe function.
   */
  observe(fn: (record: AuditRecord) => void): () => void {
    this.observers.add(fn);
    return () => this.observers.delete(fn);
  }

  /**
   * Appends one record and returns its index. Synchronous: when it returns, the line is in the
   * kernel (see the durability note at the top of this file). A malformed record is stored with
   * the offending fields repaired and listed in `details.inputProblems` (an event is never lost
   * to a caller's mistake). Throws ErabError('audit_closed') after close() and IntegrityError
   * ('audit_failed') after a write error.
   */
  append(input: AuditRecordInput): AppendResult {
    if (this.closed) throw new ErabError('audit_closed', `audit log ${this.dir} is closed`);
    if (this.failed) throw new IntegrityError(`audit log ${this.dir} stopped after a write error: ${this.failed.message}`, { code: 'audit_failed' });
    const problems = checkRecordInput(input);
    if (problems.length > 0) input = repairRecordInput(input, problems);
    const index = this.range.size;
    const record: AuditRecord = {
      index,
      time: new Date(this.clock.now()).toISOString(),
      actor: input.actor,
      action: input.action,
      outcome: input.outcome,
      prev: this.lastLeaf.toString('hex'),
      ...(input.target !== undefined ? { target: input.target } : {}),
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
      ...(input.details !== undefined ? { details: input.details } : {}),
    };
    let line = serializeRecord(record);
    if (Buffer.byteLength(line, 'utf8') > this.opts.maxRecordBytes) {
      // Keep the accountable part (who, what, outcome) and say what was dropped.
      const size = Buffer.byteLength(line, 'utf8');
      record.details = { truncated: true, originalBytes: size };
      if (record.reason !== undefined && record.reason.length > 1024) record.reason = `${record.reason.slice(0, 1024)}…`;
      if (record.target !== undefined && record.target.length > 1024) record.target = `${record.target.slice(0, 1024)}…`;
      line = serializeRecord(record);
    }
    const leaf = leafHash(line);
    try {
      if (this.segFd === undefined) this.openSegment();
      const bytes = Buffer.from(`${line}\n`, 'utf8');
      const written = writeSync(this.segFd!, bytes);
      // A short write (disk full) leaves a torn line: stop here; open() will refuse until repaired.
      if (written !== bytes.length) throw new Error(`short write (${written} of ${bytes.length} bytes)`);
    } catch (err) {
      this.failed = err as Error;
      throw new IntegrityError(`audit log ${this.dir}: write failed: ${(err as Error).message}`, { cause: err, code: 'audit_failed' });
    }
    this.range.append(leaf);
    this.lastLeaf = leaf;
    this.segCount += 1;
    if (this.segCount >= this.opts.segmentMaxRecords) {
      this.seal();
    } else if (this.opts.checkpointEvery > 0 && this.range.size - this.checkpointed >= this.opts.checkpointEvery) {
      this.checkpoint();
    } else if (this.timer === undefined && this.opts.checkpointIntervalMs > 0) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        if (!this.closed && !this.failed) {
          try {
            this.checkpoint();
          } catch {
            // A failing timer checkpoint marks nothing; the next append or close() reports it.
          }
        }
      }, this.opts.checkpointIntervalMs);
    }
    for (const fn of this.observers) {
      try {
        fn(record);
      } catch {
        // see observe()
      }
    }
    return { index, leafHash: leaf.toString('hex') };
  }

  /**
   * Makes everything appended so far durable and signs a checkpoint over it. Does nothing when no
   * record was added since the last checkpoint (unless `force`). Returns the latest checkpoint.
   */
  checkpoint(force = false): CheckpointInfo | undefined {
    if (this.failed) throw new IntegrityError(`audit log ${this.dir} stopped after a write error: ${this.failed.message}`, { code: 'audit_failed' });
    if (this.timer) {
      this.timer.cancel();
      this.timer = undefined;
    }
    const size = this.range.size;
    if (!force && size === this.checkpointed && this.lastCheckpoint) return this.lastCheckpoint;
    try {
      if (this.segFd !== undefined) fsyncSync(this.segFd); // records first, then the signature over them
      const root = this.range.root();
      const note = signCheckpoint({ origin: this.origin, size, rootHash: root }, this.signer);
      const bytes = Buffer.from(note, 'utf8');
      const written = writeSync(this.cpFd, bytes);
      if (written !== bytes.length) throw new Error(`short write (${written} of ${bytes.length} bytes)`);
      fsyncSync(this.cpFd);
      this.checkpointed = size;
      this.lastCheckpoint = { size, rootHash: root.toString('hex'), note };
      this.checkpointAt = this.clock.now();
      return this.lastCheckpoint;
    } catch (err) {
      this.failed = err as Error;
      throw new IntegrityError(`audit log ${this.dir}: checkpoint failed: ${(err as Error).message}`, { cause: err, code: 'audit_failed' });
    }
  }

  /** Final checkpoint, fsync, release the lock. Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      if (!this.failed) this.checkpoint();
    } finally {
      this.releaseFiles();
      this.releaseLock();
    }
  }

  /** Closes timers and files without a final checkpoint (close() and a failed open). */
  private releaseFiles(): void {
    this.closed = true;
    if (this.timer) this.timer.cancel();
    this.timer = undefined;
    if (this.segFd !== undefined) closeSync(this.segFd);
    this.segFd = undefined;
    closeSync(this.cpFd);
  }

  /** Applies the retention policy now (it also runs at open and at every segment seal). */
  runRetention(now = this.clock.now()): RetentionReport | undefined {
    if (!this.retention) return undefined;
    const report = enforceRetention(this.dir, this.retention, { verifier: this.signer, now });
    this.retentionReports.push(report);
    return report;
  }

  private openSegment(): void {
    // A segment that reached its size at open time is sealed: start a new one.
    if (this.segCount >= this.opts.segmentMaxRecords || (this.segCount === 0 && this.segFirst !== this.range.size)) {
      this.segFirst = this.range.size;
      this.segCount = 0;
    }
    const path = join(this.dir, SEGMENTS_DIR, segmentName(this.segFirst));
    const isNew = !existsSync(path);
    this.segFd = openSync(path, 'a+', 0o644);
    if (isNew) fsyncDir(join(this.dir, SEGMENTS_DIR));
    else {
      // Appending to an existing segment: its last byte must be a newline (open's scan checked it;
      // this guards against a write by someone else since).
      const size = fstatSync(this.segFd).size;
      const last = Buffer.alloc(1);
      if (size > 0 && (readSync(this.segFd, last, 0, 1, size - 1) !== 1 || last[0] !== 0x0a)) {
        throw new IntegrityError(`${path}: last line is torn; refusing to append after it`);
      }
    }
  }

  /** Closes the full segment (with a checkpoint at its boundary) and applies retention. */
  private seal(): void {
    this.checkpoint();
    if (this.segFd !== undefined) closeSync(this.segFd);
    this.segFd = undefined;
    this.segFirst = this.range.size;
    this.segCount = 0;
    try {
      this.runRetention();
    } catch {
      // Retention failing must not stop the log from recording; `erab audit retention` reports why.
    }
  }
}
