/**
 * What the detection rules look at: one flat record per audit record or telemetry point, so a
 * rule reads a field by name without knowing where it came from. Flat on purpose: the engine
 * evaluates 100,000+ of these a second.
 */
import { leafHash } from '../../security/audit/merkle.js';

/** The fields a rule may match on or group by (see rules.ts). */
export const OBSERVATION_FIELDS = ['type', 'outcome', 'actorId', 'actorIp', 'actorRole', 'certificate', 'target', 'code', 'reason', 'ven', 'resource'] as const;
export type ObservationField = (typeof OBSERVATION_FIELDS)[number];

export interface Observation {
  source: 'audit' | 'telemetry' | 'feed';
  /** Position in its source: the audit record index, the telemetry row id, a feed counter. */
  seq: number;
  /** When it happened, epoch ms (the record's time, the sample's time). */
  time: number;
  /** Audit action (e.g. "tls.refused") or telemetry metric ("telemetry.power", "telemetry.soc", ...). */
  type: string;
  outcome?: string | undefined;
  actorId?: string | undefined;
  /** Actor address without its port (one source even when it reconnects). */
  actorIp?: string | undefined;
  actorRole?: string | undefined;
  /** SHA-256 of the peer's certificate (details.sha256), else its fingerprint. */
  certificate?: string | undefined;
  target?: string | undefined;
  /** details.code of a refusal (revoked, untrusted_chain, ...). */
  code?: string | undefined;
  reason?: string | undefined;
  /** Telemetry: the gateway (venID) and the resource the point belongs to. */
  ven?: string | undefined;
  resource?: string | undefined;
  value?: number | undefined;
  /** Deviation: what `value` should have been (the instruction). */
  reference?: number | undefined;
  /** Audit: the stored line, so evidence can name its RFC 9162 leaf hash. */
  line?: string | undefined;
}

/** One piece of evidence attached to an alert. */
export interface Evidence {
  source: Observation['source'];
  seq: number;
  time: string;
  type: string;
  /** Audit: hex RFC 9162 leaf hash of the record (what `erab audit prove` proves inclusion of). */
  leafHash?: string | undefined;
  key?: string | undefined;
  value?: number | undefined;
  reference?: number | undefined;
  reason?: string | undefined;
}

export function evidenceOf(o: Observation): Evidence {
  return {
    source: o.source,
    seq: o.seq,
    time: new Date(o.time).toISOString(),
    type: o.type,
    ...(o.line !== undefined ? { leafHash: leafHash(o.line).toString('hex') } : {}),
    ...(o.resource !== undefined ? { key: o.resource } : o.actorId !== undefined ? { key: o.actorId } : {}),
    ...(o.value !== undefined ? { value: o.value } : {}),
    ...(o.reference !== undefined ? { reference: o.reference } : {}),
    ...(o.reason !== undefined ? { reason: o.reason.slice(0, 300) } : {}),
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** "127.0.0.1:5342" → "127.0.0.1", "[::1]:5342" → "::1". */
export function ipOf(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (m) return m[1];
  const i = address.lastIndexOf(':');
  return i > 0 && address.indexOf(':') === i ? address.slice(0, i) : address;
}

/**
 * The observation of one stored audit line, or undefined when the line is not a record. The
 * caller has already checked (cheaply, see actionOfLine) that some rule wants its action.
 */
export function observeAuditLine(line: string): Observation | undefined {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof r !== 'object' || r === null || typeof r.i !== 'number' || typeof r.action !== 'string') return undefined;
  const actor = (typeof r.actor === 'object' && r.actor !== null ? r.actor : {}) as Record<string, unknown>;
  const details = (typeof r.details === 'object' && r.details !== null ? r.details : {}) as Record<string, unknown>;
  const address = str(actor.address);
  return {
    source: 'audit',
    seq: r.i,
    time: Date.parse(str(r.time) ?? '') || 0,
    type: r.action,
    outcome: str(r.outcome),
    actorId: str(actor.id),
    actorIp: ipOf(address),
    actorRole: str(actor.role),
    certificate: str(details.sha256) ?? str(actor.fingerprint),
    target: str(r.target),
    code: str(details.code),
    reason: str(r.reason),
    line,
  };
}

const ACTION_MARK = '"action":"';

/**
 * The record index and action of a canonical audit line without parsing it (./record.ts writes
 * `{"i":<n>,"time":…,"actor":{…},"action":"…"`): most records interest no rule and are skipped
 * for the price of two indexOf. Undefined when the line does not look canonical.
 */
export function peekAuditLine(line: string): { index: number; action: string } | undefined {
  if (!line.startsWith('{"i":')) return undefined;
  const comma = line.indexOf(',', 5);
  const index = Number(line.slice(5, comma));
  const a = line.indexOf(ACTION_MARK, comma);
  if (!Number.isSafeInteger(index) || a < 0) return undefined;
  const end = line.indexOf('"', a + ACTION_MARK.length);
  if (end < 0) return undefined;
  return { index, action: line.slice(a + ACTION_MARK.length, end) };
}
