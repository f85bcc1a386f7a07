/**
 * Reading records back out: iterate the live segments, format them as JSONL or as RFC 5424 syslog
 * messages for a SIEM (自家用GL 8-1-4: logs are collected and reviewed).
 *
 * RFC 5424 §6: SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]
 *   HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
 * - PRI = facility × 8 + severity (§6.2.1); the severity follows the outcome
 *   (success → 6 informational, refused → 4 warning, failure → 3 error).
 * - TIMESTAMP is the record's time (RFC 3339, UTC, "Z") (§6.2.3).
 * - MSGID is the record's action (≤ 32 printable US-ASCII, §6.2.7).
 * - STRUCTURED-DATA is one SD-ELEMENT `[erab@32473 …]` (§6.3): SD-ID in the name@<private
 *   enterprise number> form of §6.3.2; 32473 is the example number RFC 5612 reserves for
 *   documentation, so deployments with their own enterprise number should substitute it.
 *   PARAM-VALUEs escape '"', '\' and ']' with a backslash (§6.3.3).
 * - MSG is UTF-8 with a BOM when it is not plain ASCII (§6.4).
 */
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { parseRecordLine, type AuditRecord } from './record.js';
import { listSegments, readAnchor, readStoreFile } from './store.js';
import type { AuditOutcome } from './types.js';

export interface StoredLine {
  /** The line exactly as stored (no newline). */
  line: string;
  record: AuditRecord | undefined;
  file: string;
  lineNo: number;
}

/** Every live record line in order (unreadable lines come with `record: undefined`). */
export function* readRecords(dir: string): Generator<StoredLine> {
  const base = readAnchor(dir)?.size ?? 0;
  for (const seg of listSegments(dir).segments) {
    if (seg.first < base) continue;
    const text = readStoreFile(seg.path).toString('utf8');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (let i = 0; i < lines.length; i++) {
      const parsed = parseRecordLine(lines[i]!);
      yield { line: lines[i]!, record: parsed.ok ? parsed.record : undefined, file: join('segments', seg.name), lineNo: i + 1 };
    }
  }
}

/** The last `n` stored lines (reads segments newest first, stops when it has enough). */
export function tailRecords(dir: string, n: number): StoredLine[] {
  const base = readAnchor(dir)?.size ?? 0;
  const segs = listSegments(dir).segments.filter((s) => s.first >= base).reverse();
  const out: StoredLine[] = [];
  for (const seg of segs) {
    if (out.length >= n) break;
    const lines = readStoreFile(seg.path).toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const take = lines.slice(Math.max(0, lines.length - (n - out.length)));
    const first = lines.length - take.length;
    const mapped = take.map((line, i) => {
      const parsed = parseRecordLine(line);
      return { line, record: parsed.ok ? parsed.record : undefined, file: join('segments', seg.name), lineNo: first + i + 1 };
    });
    out.unshift(...mapped);
  }
  return out;
}

export const SYSLOG_FACILITIES = {
  auth: 4, authpriv: 10, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

const SEVERITY: Record<AuditOutcome, number> = { success: 6, refused: 4, failure: 3 };

export interface SyslogOptions {
  facility?: SyslogFacility;
  hostname?: string;
  appName?: string;
  /** SD-ID of the structured data element (default erab@32473). */
  sdId?: string;
}

/**
 * RFC 5424 §6.3.3: inside PARAM-VALUE, '"', '\' and ']' MUST be escaped with '\'. Control
 * characters are allowed by the RFC but would break line-oriented transports and files, so they are
 * written as the two or six visible characters \n, \r, \t, \u00XX (a backslash before any other
 * character is, per §6.3.3, read as two ordinary characters, so nothing is lost or misparsed).
 */
export function escapeSdParam(v: string): string {
  // eslint-disable-next-line no-control-regex
  return v.replace(/["\\\]]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** PRINTUSASCII (%d33-126) only, at most `max` characters, NILVALUE when empty (§6). */
function headerField(v: string | undefined, max: number): string {
  const clean = (v ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean.length > 0 ? clean : '-';
}

/** One record as one RFC 5424 line (no trailing newline). */
export function toSyslog(r: AuditRecord, opts: SyslogOptions = {}): string {
  const facility = SYSLOG_FACILITIES[opts.facility ?? 'authpriv'];
  if (facility === undefined) throw new InvalidInputError(`unknown syslog facility "${opts.facility}"; use one of ${Object.keys(SYSLOG_FACILITIES).join(', ')}`);
  const pri = facility * 8 + SEVERITY[r.outcome];
  const host = headerField(opts.hostname ?? osHostname(), 255);
  const app = headerField(opts.appName ?? 'erab', 48);
  const msgid = headerField(r.action, 32);
  const params: [string, string | undefined][] = [
    ['index', String(r.index)],
    ['actorKind', r.actor.kind],
    ['actor', r.actor.id],
    ['actorRole', r.actor.role],
    ['fingerprint', r.actor.fingerprint],
    ['address', r.actor.address],
    ['action', r.action],
    ['target', r.target],
    ['outcome', r.outcome],
  ];
  const sd = `[${opts.sdId ?? 'erab@32473'}${params.filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${escapeSdParam(v!)}"`).join('')}]`;
  let msg = `${r.action} ${r.outcome}${r.target !== undefined ? ` target=${r.target}` : ''}${r.reason !== undefined ? `: ${r.reason}` : ''}`;
  // One message per line: control characters (newlines included) become spaces.
  // eslint-disable-next-line no-control-regex
  msg = msg.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  // eslint-disable-next-line no-control-regex
  const bom = /[^\x00-\x7f]/.test(msg) ? '\uFEFF' : '';
  return `<${pri}>1 ${r.time} ${host} ${app} - ${msgid} ${sd} ${bom}${msg}`;
}
