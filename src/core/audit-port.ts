/**
 * The audit port: the shape of an audit record and the sink every layer appends to. It lives in
 * core so that protocol stacks (ECHONET Lite, OpenADR) can report security events without
 * importing security/: the tamper-evident Merkle log (src/security/audit/log.ts) implements
 * AuditSink, and code that only reports events depends on this interface, not on the storage.
 */

/** Who did it: a TLS peer (by certificate identity), an operator, or erab itself. */
export interface AuditActor {
  kind: 'peer' | 'operator' | 'system';
  /** Participant id (from the certificate's urn:erab:<role>:<id>), operator id, or component name. */
  id: string;
  role?: string | undefined;
  /** Certificate fingerprint (OpenADR colon-separated form) when the actor presented one. */
  fingerprint?: string | undefined;
  /** Network address, e.g. "127.0.0.1:53422". */
  address?: string | undefined;
}

export type AuditOutcome = 'success' | 'failure' | 'refused';

export interface AuditRecordInput {
  actor: AuditActor;
  /** Dotted verb, e.g. "tls.handshake", "openadr.register", "pki.issue", "gateway.command". */
  action: string;
  /** What it was done to: a participant, device, event id, file... */
  target?: string | undefined;
  outcome: AuditOutcome;
  /** Why, in words, for refusals and failures. Never a secret. */
  reason?: string | undefined;
  /** Extra structured detail (no secrets). */
  details?: Record<string, unknown> | undefined;
}

/** Where audit records go. Appending must not throw for a well-formed record. */
export interface AuditSink {
  append(record: AuditRecordInput): void;
}

/** Drops records (benchmarks and tools that run without an audit log). */
export const nullAudit: AuditSink = { append() {} };

/** A sink that keeps records in memory (tests, and components started without a log). */
export class MemoryAuditSink implements AuditSink {
  readonly records: (AuditRecordInput & { time: number })[] = [];
  append(record: AuditRecordInput): void {
    this.records.push({ ...record, time: Date.now() });
  }
}
