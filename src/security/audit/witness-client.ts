/**
 * The participant's side of witnessing (C2SP tlog-witness, add-checkpoint): every so often (no
 * more often than its reports go up) a role hands its audit log's latest signed checkpoint to its
 * upstream peer, with a consistency proof from the last checkpoint that peer cosigned, and keeps
 * the cosigned checkpoint beside its log:
 *
 *   <audit dir>/witnessed/<witness>.checkpoint   the latest cosigned checkpoint (log signature + cosignature)
 *   <audit dir>/witnessed/<witness>.sent         the last add-checkpoint request body sent
 *   <audit dir>/witnessed/<witness>.witness.vkey the witness's cosigner key, learnt on first contact (pinned)
 *
 * Failures never block anything else: a submission that fails is retried at the next interval.
 * Refusals by the witness are audited once per distinct reason (an upstream peer that offers no
 * witness, e.g. another vendor's VTN answering 404, gives one record, not one per interval);
 * network errors are only logged, or a peer that is down would flood the log.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { describeError, InvalidInputError } from '../../core/errors.js';
import { parseCheckpointBody } from './checkpoint.js';
import { verifyCosignature } from './cosignature.js';
import type { AuditLog } from './log.js';
import { COSIGNATURE_V1_TYPE, parseNote, parseVerifierKey, type NoteVerifier } from './note.js';
import { consistencyProof } from './proofs.js';
import { readStoreFile, writeFileAtomic } from './store.js';
import type { AuditSink } from './types.js';
import { formatAddCheckpointRequest, TLOG_SIZE_CONTENT_TYPE, WITNESS_ADD_CHECKPOINT_PATH, WITNESS_LOG_KEY_PATH } from './witness.js';

/** One POST to the witness's listener: path and body in, status, content type and body out. Rejects on transport failure. */
export type WitnessPost = (path: string, body: string) => Promise<{ status: number; contentType: string; body: string }>;

export interface CheckpointWitnessingOptions {
  /** The role's own, open audit log. */
  log: AuditLog;
  /** The witness's label, used for file names: e.g. "aggregator-AGG1" (letters, digits, . _ -). */
  witness: string;
  post: WitnessPost;
  /** Where refusals are recorded (default: `log`). */
  audit?: AuditSink;
  /** Interval between submissions, ms (set it no shorter than the report interval). */
  intervalMs: number;
  clock?: Clock;
  onLog?: (msg: string, fields?: Record<string, unknown>) => void;
}

export type SubmitResult =
  | { outcome: 'cosigned'; size: number; cosignedAt: number }
  | { outcome: 'refused'; status: number; reason: string }
  | { outcome: 'failed'; reason: string };

/**
 * @example
 * const w = new CheckpointWitnessing({ log, witness: 'aggregator-AGG1', post, intervalMs: 300_000 });
 * w.start();   // …
 * w.stop();
 */
export class CheckpointWitnessing {
  private readonly o: CheckpointWitnessingOptions;
  private readonly clock: Clock;
  private readonly audit: AuditSink;
  private readonly dir: string;
  private timer: TimerHandle | undefined;
  private inFlight: Promise<SubmitResult> | undefined;
  private stopped = false;
  private lastRefusal: string | undefined;
  /** The last result (status views, tests). */
  last: SubmitResult | undefined;

  constructor(o: CheckpointWitnessingOptions) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(o.witness)) throw new InvalidInputError(`witness label "${o.witness}" must be letters, digits, . _ - (it names files)`);
    if (!Number.isSafeInteger(o.intervalMs) || o.intervalMs < 1) throw new InvalidInputError(`witnessing interval ${o.intervalMs} ms must be a positive integer`);
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.audit = o.audit ?? o.log;
    this.dir = join(o.log.dir, 'witnessed');
  }

  /** The file holding the latest checkpoint this witness cosigned (what `erab audit verify --witness` takes). */
  get checkpointFile(): string {
    return join(this.dir, `${this.o.witness}.checkpoint`);
  }

  /** Submits once soon, then every interval, until stop(). */
  start(firstDelayMs = Math.min(1000, this.o.intervalMs)): void {
    const run = (): void => {
      if (this.stopped) return;
      void this.submit().finally(() => {
        if (!this.stopped) this.timer = this.clock.setTimeout(run, this.o.intervalMs);
      });
    };
    this.timer = this.clock.setTimeout(run, firstDelayMs);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One submission now (joins one already running). Never throws. */
  submit(): Promise<SubmitResult> {
    if (!this.inFlight) {
      this.inFlight = this.attempt().catch((e: unknown): SubmitResult => ({ outcome: 'failed', reason: describeError(e) })).then((r) => {
        this.inFlight = undefined;
        this.last = r;
        if (r.outcome === 'failed') this.o.onLog?.('audit checkpoint not witnessed; retrying at the next interval', { witness: this.o.witness, reason: r.reason });
        return r;
      });
    }
    return this.inFlight;
  }

  private async attempt(): Promise<SubmitResult> {
    const latest = this.o.log.checkpoint();
    if (!latest) return { outcome: 'failed', reason: 'the log has no checkpoint' };
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const witnessKey = await this.witnessKey();
    if ('refused' in witnessKey) return witnessKey.refused;
    // Submitted even when nothing changed: the witness refreshes its cosignature's time, and a log
    // restored from an old copy (with its old witnessed/ files) is still shown to the witness.
    const prev = this.readCosigned(witnessKey.key);
    let oldSize = prev && prev.size <= latest.size ? prev.size : 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const body = formatAddCheckpointRequest({ oldSize, proof: this.proof(oldSize, latest.size), note: latest.note });
      const r = await this.o.post(WITNESS_ADD_CHECKPOINT_PATH, body);
      if (r.status === 200) {
        const note = `${latest.note}${r.body}`;
        const check = verifyCosignature(note, witnessKey.key);
        if (!check.ok) return this.refused(r.status, `the witness's reply is not a valid cosignature: ${check.reason}`);
        writeFileAtomic(join(this.dir, `${this.o.witness}.sent`), this.dir, body);
        writeFileAtomic(this.checkpointFile, this.dir, note);
        this.lastRefusal = undefined;
        return { outcome: 'cosigned', size: latest.size, cosignedAt: check.timestamp };
      }
      if (r.status === 404 && attempt === 0) {
        // The witness does not know our log (its state was reset): present our key again.
        const reg = await this.o.post(WITNESS_LOG_KEY_PATH, `${this.o.log.verifierKey}\n`);
        if (reg.status !== 200) return this.refused(reg.status, `log key refused: ${reg.body.trim().slice(0, 200)}`);
        continue;
      }
      if (r.status === 409 && r.contentType.startsWith(TLOG_SIZE_CONTENT_TYPE)) {
        const known = /^(0|[1-9][0-9]{0,15})\n$/.exec(r.body);
        const size = known ? Number(known[1]) : Number.NaN;
        // The witness cosigned another size than we remember (we lost our file): prove from there.
        if (Number.isSafeInteger(size) && size <= latest.size && size !== oldSize) {
          oldSize = size;
          continue;
        }
        return this.refused(r.status, Number.isSafeInteger(size) && size > latest.size
          ? `the witness already cosigned size ${size} of this log, which now has only ${latest.size} records: the log went backwards`
          : `the witness refused size ${latest.size} from old size ${oldSize} (it holds ${r.body.trim().slice(0, 20)})`);
      }
      return this.refused(r.status, r.body.trim().slice(0, 200));
    }
    return this.refused(409, 'the witness kept answering with another size');
  }

  /** The witness's cosigner key: learnt on first contact (and our log key presented), then pinned. */
  private async witnessKey(): Promise<{ key: NoteVerifier } | { refused: SubmitResult }> {
    const path = join(this.dir, `${this.o.witness}.witness.vkey`);
    if (existsSync(path)) return { key: parseVerifierKey(readStoreFile(path, 16 * 1024).toString('utf8'), COSIGNATURE_V1_TYPE) };
    const r = await this.o.post(WITNESS_LOG_KEY_PATH, `${this.o.log.verifierKey}\n`);
    if (r.status !== 200) return { refused: this.refused(r.status, `log key refused: ${r.body.trim().slice(0, 200)}`) };
    let key: NoteVerifier;
    try {
      key = parseVerifierKey(r.body, COSIGNATURE_V1_TYPE);
    } catch (err) {
      return { refused: this.refused(r.status, `the witness answered with no cosigner key: ${(err as Error).message}`) };
    }
    writeFileAtomic(path, this.dir, `${r.body.trim()}\n`);
    this.audit.append({ actor: { kind: 'system', id: this.o.log.origin }, action: 'audit.witness.key_learnt', target: this.o.witness, outcome: 'success', details: { witnessKey: r.body.trim() } });
    return { key };
  }

  /** Size and root of our last cosigned checkpoint, if the file is there and carries the witness's valid cosignature. */
  private readCosigned(key: NoteVerifier): { size: number; rootHash: string } | undefined {
    if (!existsSync(this.checkpointFile)) return undefined;
    try {
      const note = readStoreFile(this.checkpointFile, 64 * 1024).toString('utf8');
      if (!verifyCosignature(note, key).ok) return undefined;
      const cp = parseCheckpointBody(parseNote(note).text);
      return { size: cp.size, rootHash: cp.rootHash.toString('hex') };
    } catch {
      return undefined;
    }
  }

  private proof(from: number, to: number): Buffer[] {
    if (from === 0 || from === to) return [];
    let p;
    try {
      p = consistencyProof(this.o.log.dir, { from, to });
    } catch (err) {
      // The old size may lie in the archived prefix: read the archive back for it.
      if (!(err instanceof InvalidInputError)) throw err;
      p = consistencyProof(this.o.log.dir, { from, to }, { includeArchive: true });
    }
    return p.proof.map((h) => Buffer.from(h, 'hex'));
  }

  private refused(status: number, reason: string): SubmitResult {
    const key = `${status} ${reason.replace(/\d+/g, '#')}`;
    if (key === this.lastRefusal) return { outcome: 'refused', status, reason };
    this.lastRefusal = key;
    this.audit.append({ actor: { kind: 'system', id: this.o.log.origin }, action: 'audit.witness.submit', target: this.o.witness, outcome: 'refused', reason, details: { status } });
    this.o.onLog?.('audit checkpoint refused by the witness', { witness: this.o.witness, status, reason });
    return { outcome: 'refused', status, reason };
  }
}
