/**
 * The audit port the OpenADR stack reports security events to: the one in core
 * (src/core/audit-port.ts), under the names this stack has always used. The roles layer passes
 * the real tamper-evident log, which implements it.
 */
import type { AuditRecordInput, AuditSink } from '../../core/audit-port.js';

export { nullAudit } from '../../core/audit-port.js';
export type OadrAuditRecord = AuditRecordInput;
export type OadrAuditSink = AuditSink;

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
