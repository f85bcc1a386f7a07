/**
 * The stored audit record and its canonical serialization.
 *
 * Each record is one line of a JSONL segment file. The Merkle leaf's entry bytes (RFC 9162 §2.1.1
 * `d(m)`) are exactly the UTF-8 bytes of that line without its terminating newline, so a verifier
 * hashes what it reads and never needs to re-serialize. The writer produces the line canonically:
 *
 *   {"i":<index>,"time":"<ISO 8601 UTC, ms>","actor":{…},"action":"…"[,"target":"…"],
 *    "outcome":"…"[,"reason":"…"][,"details":{…}],"prev":"<hex>"}
 *
 * - top-level fields in that fixed order, optional ones omitted when absent;
 * - nested objects (actor, details) with keys sorted by UTF-16 code unit, `undefined` dropped;
 * - no insignificant whitespace; strings escaped by JSON.stringify (so a line never holds a raw
 *   newline); numbers as JSON.stringify prints them, non-finite numbers as null;
 * - `i` is the record's index in the log (its leaf index) and `prev` the hex leaf hash of record
 *   i−1 (64 zeros for record 0).
 *
 * Why `i` and `prev` are in the record: the signed checkpoints prove THAT the log changed, but only
 * at checkpoint granularity. The index lets `verify` tell a deleted record (a gap), an inserted
 * one (an index that does not belong) and a reordering (an index found later) apart; the hash
 * chain through `prev` pinpoints an edited record (the next record's `prev` no longer matches it).
 * See ./verify.ts for the decision procedure.
 */
import type { AuditActor, AuditOutcome, AuditRecordInput } from './types.js';

export const ZERO_HASH_HEX = '0'.repeat(64);
const OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'refused'];
const ACTOR_KINDS: readonly AuditActor['kind'][] = ['peer', 'operator', 'system'];

/** A record as stored: the input plus its index, time and chain link. */
export interface AuditRecord extends AuditRecordInput {
  index: number;
  /** ISO 8601 UTC with milliseconds, e.g. 2026-01-01T00:00:00.000Z. */
  time: string;
  /** Hex leaf hash of the previous record (64 zeros for record 0). */
  prev: string;
}

const MAX_DEPTH = 16;

/** Canonical JSON of any value (sorted keys, no whitespace); unserializable values become strings. */
export function canonicalJson(value: unknown, depth = 0, seen: Set<object> = new Set()): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  const obj = value as object;
  if (depth >= MAX_DEPTH) return JSON.stringify('[too deep]');
  if (seen.has(obj)) return JSON.stringify('[circular]');
  if (obj instanceof Date) return JSON.stringify(Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString());
  if (obj instanceof Uint8Array) return JSON.stringify(Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64'));
  if (obj instanceof Error) return canonicalJson({ name: obj.name, message: obj.message }, depth + 1, seen);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      return `[${obj.map((v) => canonicalJson(v, depth + 1, seen) ?? 'null').join(',')}]`;
    }
    if (obj instanceof Map) return canonicalJson(Object.fromEntries(obj), depth + 1, seen);
    if (obj instanceof Set) return canonicalJson([...obj], depth + 1, seen);
    const keys = Object.keys(obj).sort();
    const parts: string[] = [];
    for (const k of keys) {
      const v = canonicalJson((obj as Record<string, unknown>)[k], depth + 1, seen);
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${v}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}

/** The canonical line (without newline) of a record: the Merkle leaf's entry bytes. */
export function serializeRecord(r: AuditRecord): string {
  // The actor's keys in canonical (sorted) order, written directly: this runs for every record.
  const a = r.actor;
  let actor = '{';
  if (a.address !== undefined) actor += `"address":${JSON.stringify(a.address)},`;
  if (a.fingerprint !== undefined) actor += `"fingerprint":${JSON.stringify(a.fingerprint)},`;
  actor += `"id":${JSON.stringify(a.id)},"kind":${JSON.stringify(a.kind)}`;
  if (a.role !== undefined) actor += `,"role":${JSON.stringify(a.role)}`;
  actor += '}';
  let s = `{"i":${r.index},"time":${JSON.stringify(r.time)},"actor":${actor},"action":${JSON.stringify(r.action)}`;
  if (r.target !== undefined) s += `,"target":${JSON.stringify(r.target)}`;
  s += `,"outcome":${JSON.stringify(r.outcome)}`;
  if (r.reason !== undefined) s += `,"reason":${JSON.stringify(r.reason)}`;
  if (r.details !== undefined) {
    const d = canonicalJson(r.details);
    if (d !== undefined) s += `,"details":${d}`;
  }
  s += `,"prev":${JSON.stringify(r.prev)}`;
  return `${s}}`;
}

function str(v: unknown): v is string {
  return typeof v === 'string';
}

/** Checks the caller's record before it is written; returns a list of problems (empty = fine). */
export function checkRecordInput(r: AuditRecordInput): string[] {
  const problems: string[] = [];
  if (typeof r !== 'object' || r === null) return ['record must be an object'];
  const a = r.actor as unknown as Record<string, unknown> | undefined;
  if (typeof a !== 'object' || a === null) problems.push('actor must be an object');
  else {
    if (!ACTOR_KINDS.includes(a.kind as AuditActor['kind'])) problems.push(`actor.kind must be one of ${ACTOR_KINDS.join('|')}`);
    if (!str(a.id) || a.id.length === 0) problems.push('actor.id must be a non-empty string');
    for (const k of ['role', 'fingerprint', 'address'] as const) if (a[k] !== undefined && !str(a[k])) problems.push(`actor.${k} must be a string`);
  }
  if (!str(r.action) || r.action.length === 0) problems.push('action must be a non-empty string');
  if (!OUTCOMES.includes(r.outcome)) problems.push(`outcome must be one of ${OUTCOMES.join('|')}`);
  if (r.target !== undefined && !str(r.target)) problems.push('target must be a string');
  if (r.reason !== undefined && !str(r.reason)) problems.push('reason must be a string');
  if (r.details !== undefined && (typeof r.details !== 'object' || r.details === null || Array.isArray(r.details))) problems.push('details must be an object');
  return problems;
}

/**
 * Makes a malformed record storable instead of refusing it: an audit event must not be lost (or
 * crash the listener that reports it) because a caller filled a field wrongly. Each repaired field
 * is named in `details.inputProblems`, so the defect stays visible in the log itself.
 */
export function repairRecordInput(r: AuditRecordInput, problems: readonly string[]): AuditRecordInput {
  const raw = (typeof r === 'object' && r !== null ? r : {}) as Partial<Record<keyof AuditRecordInput, unknown>>;
  const a = (typeof raw.actor === 'object' && raw.actor !== null ? raw.actor : {}) as Record<string, unknown>;
  const text = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : typeof v === 'string' ? v : canonicalJson(v) ?? String(v));
  const actor: AuditActor = {
    kind: ACTOR_KINDS.includes(a.kind as AuditActor['kind']) ? (a.kind as AuditActor['kind']) : 'system',
    id: str(a.id) && a.id.length > 0 ? a.id : 'unknown',
    ...(a.role !== undefined ? { role: text(a.role) } : {}),
    ...(a.fingerprint !== undefined ? { fingerprint: text(a.fingerprint) } : {}),
    ...(a.address !== undefined ? { address: text(a.address) } : {}),
  };
  const details = typeof raw.details === 'object' && raw.details !== null && !Array.isArray(raw.details) ? (raw.details as Record<string, unknown>) : raw.details === undefined ? {} : { value: raw.details };
  return {
    actor,
    action: str(raw.action) && raw.action.length > 0 ? raw.action : 'unknown',
    outcome: OUTCOMES.includes(raw.outcome as AuditOutcome) ? (raw.outcome as AuditOutcome) : 'failure',
    ...(raw.target !== undefined ? { target: text(raw.target) } : {}),
    ...(raw.reason !== undefined ? { reason: text(raw.reason) } : {}),
    details: { ...details, inputProblems: [...problems] },
  };
}

export type ParsedLine = { ok: true; record: AuditRecord } | { ok: false; error: string };

/** Parses and validates one stored line (structure only; hashes are checked by the verifier). */
export function parseRecordLine(line: string): ParsedLine {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `not JSON (${(err as Error).message})` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (typeof o.i !== 'number' || !Number.isSafeInteger(o.i) || o.i < 0) return { ok: false, error: 'field "i" (record index) is missing or not a non-negative integer' };
  if (!str(o.time) || Number.isNaN(Date.parse(o.time))) return { ok: false, error: 'field "time" is missing or not an ISO 8601 time' };
  if (!str(o.prev) || !/^[0-9a-f]{64}$/.test(o.prev)) return { ok: false, error: 'field "prev" is missing or not 64 hex digits' };
  const problems = checkRecordInput(o as unknown as AuditRecordInput);
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  const record: AuditRecord = {
    index: o.i,
    time: o.time,
    prev: o.prev,
    actor: o.actor as AuditActor,
    action: o.action as string,
    outcome: o.outcome as AuditOutcome,
    ...(o.target !== undefined ? { target: o.target as string } : {}),
    ...(o.reason !== undefined ? { reason: o.reason as string } : {}),
    ...(o.details !== undefined ? { details: o.details as Record<string, unknown> } : {}),
  };
  return { ok: true, record };
}

