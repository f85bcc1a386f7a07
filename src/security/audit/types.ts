/**
 * The audit record shape and sink. They are defined in core (src/core/audit-port.ts), the port
 * every layer shares; this module re-exports them for the security layer and existing callers.
 * The Merkle-tree log itself (./log.ts) implements AuditSink.
 */
export { MemoryAuditSink, nullAudit, type AuditActor, type AuditOutcome, type AuditRecordInput, type AuditSink } from '../../core/audit-port.js';
