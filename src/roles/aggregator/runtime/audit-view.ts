/**
 * The console's window on the role's audit log: pages of records newest first (optionally one
 * action or action prefix, e.g. `tls.` or `console.commands`), the log's own verification result
 * (Merkle chain, signed checkpoints: src/security/audit/verify.ts), and the refusals in it —
 * TLS handshakes refused by the allow-list (`tls.refused`) and every other `refused` outcome.
 *
 * The log on disk is read, never held in memory: segments are read newest first and the scan
 * stops once a page is full, or after AUDIT_SCAN_MAX records (the cursor then continues there). The verification reads the whole log, so its result is kept for
 * `verifyEveryMs` and recomputed on the next request after that.
 */
import { readAnchor, listSegments, readStoreFile } from '../../../security/audit/store.js';
import { parseRecordLine } from '../../../security/audit/record.js';
import { verifyAuditLog } from '../../../security/audit/verify.js';
import { AuditLog } from '../../../security/audit/log.js';
import { MemoryAuditSink, type AuditSink } from '../../../security/audit/types.js';

export interface AuditEntry {
  index: number;
  /** epoch ms (the page shows it in JST) */
  time: number;
  actor: { kind: string; id: string; role?: string | undefined; address?: string | undefined };
  action: string;
  target?: string | undefined;
  outcome: string;
  reason?: string | undefined;
}

export interface AuditVerification {
  /** true: chain and checkpoints verified; false: damage found; null: this sink is not a tamper-evident log. */
  ok: boolean | null;
  checkedAt: number;
  records?: number;
  checkpoints?: { total: number; valid: number };
  /** Records after the latest signed checkpoint. */
  unanchored?: number;
  problems: string[];
}

export interface AuditPage {
  items: AuditEntry[];
  nextCursor: string | null;
  verification: AuditVerification;
}

const entryOf = (r: { index: number; time: string | number; actor: AuditEntry['actor']; action: string; target?: string | undefined; outcome: string; reason?: string | undefined }): AuditEntry => ({
  index: r.index, time: typeof r.time === 'number' ? r.time : Date.parse(r.time), actor: { kind: r.actor.kind, id: r.actor.id, role: r.actor.role, address: r.actor.address },
  action: r.action, target: r.target, outcome: r.outcome, reason: r.reason,
});

/** Cursors are the index of the last record sent; the next page starts below it. */
const cursorOf = (index: number): string => `a${index}`;
function indexOf(cursor: string | undefined): number {
  if (cursor === undefined) return Number.MAX_SAFE_INTEGER;
  const m = /^a(\d{1,15})$/.exec(cursor);
  if (!m) throw new RangeError(`cursor "${cursor.slice(0, 40)}": not an audit cursor (a<index>, from nextCursor)`);
  return Number(m[1]);
}

/**
 * The most records one filtered page reads: a filter that matches little stops there and its
 * nextCursor continues below the last record read (the page may hold fewer items, even none).
 */
export const AUDIT_SCAN_MAX = 20_000;

export class AuditView {
  private verified: AuditVerification | undefined;

  constructor(private readonly sink: AuditSink, private readonly verifyEveryMs = 30_000) {}

  /** Records newest first, below `cursor`, whose action equals `action` or starts with it when it ends in '.'. */
  page(q: { limit: number; cursor?: string | undefined; action?: string | undefined; outcome?: string | undefined }): AuditPage {
    const before = indexOf(q.cursor);
    const wanted = (e: { action: string; outcome: string }) => (!q.action || (q.action.endsWith('.') ? e.action.startsWith(q.action) : e.action === q.action)) && (!q.outcome || e.outcome === q.outcome);
    const items: AuditEntry[] = [];
    let scanned = 0;
    let lastRead: number | undefined;
    for (const e of this.newestFirst(before)) {
      if (scanned++ >= AUDIT_SCAN_MAX) return { items, nextCursor: cursorOf(lastRead!), verification: this.verification() };
      lastRead = e.index;
      if (!wanted(e)) continue;
      items.push(e);
      if (items.length > q.limit) break;
    }
    const more = items.length > q.limit;
    const shown = items.slice(0, q.limit);
    return { items: shown, nextCursor: more ? cursorOf(shown[shown.length - 1]!.index) : null, verification: this.verification() };
  }

  /** The log's verification result (cached for verifyEveryMs). */
  verification(): AuditVerification {
    const now = Date.now();
    if (this.verified && now - this.verified.checkedAt < this.verifyEveryMs) return this.verified;
    if (this.sink instanceof AuditLog) {
      const r = verifyAuditLog(this.sink.dir);
      this.verified = {
        ok: r.ok, checkedAt: now, records: r.treeSize, checkpoints: { total: r.checkpoints.total, valid: r.checkpoints.valid }, unanchored: r.unanchored,
        problems: r.problems.slice(0, 10).map((p) => `${p.kind}: ${p.message}`),
      };
    } else {
      this.verified = { ok: null, checkedAt: now, problems: ['this role keeps its audit records in memory (no tamper-evident log to verify)'] };
    }
    return this.verified;
  }

  private *newestFirst(before: number): Generator<AuditEntry> {
    if (this.sink instanceof MemoryAuditSink) {
      const recs = this.sink.records;
      for (let i = Math.min(before, recs.length) - 1; i >= 0; i--) yield entryOf({ ...recs[i]!, index: i });
      return;
    }
    if (!(this.sink instanceof AuditLog)) return;
    const dir = this.sink.dir;
    const base = readAnchor(dir)?.size ?? 0;
    const segs = listSegments(dir).segments.filter((s) => s.first >= base && s.first < before).reverse();
    for (const seg of segs) {
      const lines = readStoreFile(seg.path).toString('utf8').split('\n');
      for (let i = lines.length - 1; i >= 0; i--) {
        if (!lines[i]) continue;
        const parsed = parseRecordLine(lines[i]!);
        if (parsed.ok && parsed.record.index < before) yield entryOf(parsed.record);
      }
    }
  }
}
