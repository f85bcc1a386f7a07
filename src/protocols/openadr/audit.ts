/**
 * The audit interface the OpenADR stack reports security events to. It has the same shape as
 * `AuditSink` in src/security/audit/types.ts (structural typing lets the roles layer pass the real
 * tamper-evident log), but is declared here because protocols/ must not import security/.
 */
export interface OadrAuditRecord {
  actor: { kind: 'peer' | 'operator' | 'system'; id: string; role?: string | undefined; fingerprint?: string | undefined; address?: string | undefined };
  /** Dotted verb, e.g. "openadr.refused", "openadr.register". */
  action: string;
  target?: string | undefined;
  outcome: 'success' | 'failure' | 'refused';
  reason?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export interface OadrAuditSink {
  append(record: OadrAuditRecord): void;
}

/** Drops records (for benchmarks and tools that run without an audit log). */
export const nullAudit: OadrAuditSink = { append() {} };

/**
 * Removes what must not reach logs from a payload before `--log-xml` prints it: signature values,
 * embedded certificates and replay nonces (they are not secret keys, but they are credentials-like
 * material nobody needs in a log).
 */
export function redactXml(xml: string): string {
  return xml
    .replace(/(<(?:[\w-]+:)?SignatureValue[^>]*>)[^<]*/g, '$1[redacted]')
    .replace(/(<(?:[\w-]+:)?X509Certificate[^>]*>)[^<]*/g, '$1[redacted]')
    .replace(/(<(?:[\w-]+:)?nonce[^>]*>)[^<]*/g, '$1[redacted]');
}
