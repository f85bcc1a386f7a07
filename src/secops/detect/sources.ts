/**
 * Where observations come from, each with a cursor that survives a restart:
 * - {@link AuditTail}: the role's audit log segments (src/security/audit/store.ts layout), read
 *   incrementally by byte offset; the cursor is the last record index evaluated.
 * - {@link TelemetrySource}: the gateway telemetry the aggregator stored (table
 *   openadr_vtn_report, one row per OpenADR report); the cursor is the last row id.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { listSegments, readAnchor } from '../../security/audit/store.js';
import { toNumber } from '../../store/schema.js';
import { observeAuditLine, peekAuditLine, type Observation } from './observation.js';

/** Most bytes read from the audit log per poll (bounds one batch's memory and latency). */
const AUDIT_READ_BYTES = 1024 * 1024;

/**
 * Reads audit records appended after `cursor` (the index of the last record evaluated; -1 =
 * none). Records archived by retention before they were read are skipped (and counted).
 * @example
 * const tail = new AuditTail(dir, savedCursor);
 * tail.read((line, index, action) => ...); tail.cursor
 */
export class AuditTail {
  private segFirst = -1;
  private offset = 0;
  /** Records that retention archived before this tail read them. */
  skipped = 0;

  constructor(readonly dir: string, public cursor: number) {}

  /**
   * Calls `each` for every complete new line, in index order, and advances the cursor. `wants`
   * decides from the action alone whether the line is worth parsing. Returns the lines read.
   */
  read(wants: (action: string) => boolean, each: (o: Observation) => void, maxBytes = AUDIT_READ_BYTES): number {
    let n = 0;
    for (;;) {
      if (!this.positioned()) return n;
      const path = `${this.dir}/segments/${String(this.segFirst).padStart(12, '0')}.jsonl`;
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch {
        this.segFirst = -1; // archived under us: find our place again
        continue;
      }
      let size: number;
      let chunk: Buffer;
      try {
        size = fstatSync(fd).size;
        const len = Math.min(size - this.offset, maxBytes);
        chunk = Buffer.allocUnsafe(Math.max(0, len));
        if (len > 0) readSync(fd, chunk, 0, len, this.offset);
      } finally {
        closeSync(fd);
      }
      if (chunk.length > 0) {
        // Only whole lines: a record being written is read at the next poll.
        const last = chunk.lastIndexOf(0x0a);
        if (last >= 0) {
          const text = chunk.toString('utf8', 0, last);
          this.offset += last + 1;
          let start = 0;
          while (start <= text.length) {
            let end = text.indexOf('\n', start);
            if (end < 0) end = text.length;
            const line = text.slice(start, end);
            start = end + 1;
            if (line.length === 0) continue;
            const peek = peekAuditLine(line);
            if (!peek || peek.index <= this.cursor) continue;
            this.cursor = peek.index;
            n++;
            if (!wants(peek.action)) continue;
            const o = observeAuditLine(line);
            if (o) each(o);
          }
          return n; // more may be waiting: the caller reads again
        }
      }
      // At the end of this segment: is there a later one?
      const next = listSegments(this.dir).segments.find((s) => s.first > this.segFirst);
      if (!next || this.offset < size) return n;
      this.segFirst = next.first;
      this.offset = 0;
    }
  }

  /** Finds the segment holding record cursor+1 (after start, restart or retention). */
  private positioned(): boolean {
    if (this.segFirst >= 0) return true;
    if (!existsSync(`${this.dir}/segments`)) return false;
    const segs = listSegments(this.dir).segments;
    if (segs.length === 0) return false;
    const base = readAnchor(this.dir)?.size ?? 0;
    if (this.cursor + 1 < base) {
      this.skipped += base - (this.cursor + 1);
      this.cursor = base - 1;
    }
    let seg = segs[0]!;
    for (const s of segs) if (s.first <= this.cursor + 1) seg = s;
    this.segFirst = seg.first;
    this.offset = 0; // lines at or below the cursor are skipped by index
    return true;
  }
}

interface ReportRow { id: unknown; ven_id: string; received_at: unknown; data: string }
interface StoredPayload { rID?: unknown; value?: unknown }
interface StoredInterval { dtstart?: unknown; payloads?: StoredPayload[] }

/** Metric of a report data point, from its rID suffix (the gateway's naming, src/roles/gateway/inventory.ts). */
const METRICS: [string, string][] = [['/power', 'telemetry.power'], ['/soc', 'telemetry.soc'], ['/stored', 'telemetry.stored']];

/** The observations of one stored report: `telemetry.report` for the gateway, one per numeric point. */
export function observeReport(id: number, venId: string, receivedAt: number, data: string): Observation[] {
  const out: Observation[] = [{ source: 'telemetry', seq: id, time: receivedAt, type: 'telemetry.report', ven: venId }];
  let report: { dtstart?: unknown; intervals?: StoredInterval[] };
  try {
    report = JSON.parse(data) as typeof report;
  } catch {
    return out;
  }
  for (const iv of Array.isArray(report.intervals) ? report.intervals : []) {
    const t = typeof iv.dtstart === 'number' ? iv.dtstart : typeof report.dtstart === 'number' ? report.dtstart : receivedAt;
    for (const p of Array.isArray(iv.payloads) ? iv.payloads : []) {
      if (typeof p.rID !== 'string' || typeof p.value !== 'number') continue;
      const m = METRICS.find(([suffix]) => p.rID!.toString().endsWith(suffix));
      if (!m) continue;
      out.push({ source: 'telemetry', seq: id, time: t, type: m[1], ven: venId, resource: p.rID.slice(0, -m[0].length), value: p.value });
    }
  }
  return out;
}

/**
 * Reads telemetry reports stored after `cursor` (a row id of openadr_vtn_report). A store without
 * that table (a role that keeps no telemetry) yields nothing.
 */
export class TelemetrySource {
  private missing = false;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(private readonly db: Kysely<any>, public cursor: number) {}

  async read(each: (o: Observation) => void, limit = 2000): Promise<number> {
    if (this.missing) return 0;
    let rows: ReportRow[];
    try {
      rows = await this.db.selectFrom('openadr_vtn_report').select(['id', 'ven_id', 'received_at', 'data'])
        .where('id', '>', this.cursor).orderBy('id').limit(limit).execute() as ReportRow[];
    } catch (err) {
      if (/openadr_vtn_report/.test(String((err as Error).message)) && /no such table|does not exist/.test(String((err as Error).message))) {
        this.missing = true;
        return 0;
      }
      throw err;
    }
    for (const r of rows) {
      const id = toNumber(r.id, 'openadr_vtn_report.id');
      for (const o of observeReport(id, r.ven_id, toNumber(r.received_at, 'openadr_vtn_report.received_at'), r.data)) each(o);
      this.cursor = id;
    }
    return rows.length;
  }
}
