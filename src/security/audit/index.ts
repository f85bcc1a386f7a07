/**
 * The audit log's public surface. Code that only reports events needs `AuditSink` from ./types.js;
 * the role that owns a log opens an {@link AuditLog}; auditors use verify and the proofs.
 */
export type { AuditActor, AuditOutcome, AuditRecordInput, AuditSink } from './types.js';
export { MemoryAuditSink } from './types.js';
export { AuditLog, type AuditLogOptions, type AppendResult, type CheckpointInfo } from './log.js';
export { verifyAuditLog, type VerifyOptions, type VerifyResult, type VerifyProblem, type TamperFinding, type TamperKind } from './verify.js';
export { inclusionProof, consistencyProof, type InclusionProof, type ConsistencyProof } from './proofs.js';
export { enforceRetention, planRetention, type RetentionPolicy, type RetentionReport } from './retention.js';
export { readRecords, tailRecords, toSyslog, escapeSdParam, type SyslogOptions, type SyslogFacility } from './export.js';
export { parseVerifierKey, formatVerifierKey, openNote, signNote, type NoteVerifier } from './note.js';
export { leafHash, nodeHash, verifyInclusion, verifyConsistency, EMPTY_ROOT } from './merkle.js';
export { parseCheckpointBody, type Checkpoint } from './checkpoint.js';
export { resolveVerifierKey, readStoredVerifierKey } from './store.js';
export type { AuditRecord } from './record.js';
export { auditConfigSchema, auditRetentionSchema, openAuditLog, syslogStreamConfigSchema, syslogTarget, type AuditConfig, type SyslogStreamConfig } from './config.js';
export { octetCountingFrame, parseOctetCountingFrames, sendSyslogOverTls, SyslogTlsStream, type SyslogStreamOptions, type SyslogTlsTarget } from './syslog-tls.js';
