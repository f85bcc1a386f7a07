/**
 * Which automatic checks judge which control. A control with no check here needs a recorded
 * decision (organisational items, and technical items erab does not implement); a control with
 * checks may also carry a decision (a compensating control for a failing 推奨 item, say).
 * The catalog-coverage test fails when a control is in neither list.
 *
 * 自家用GL 8-4(3) (patches applied, residual risk managed) is judged by the checks: erab keeps the
 * findings with their deadlines and audited risk acceptances, and delivers signed updates. 7-1(1)
 * (only predetermined programs) stays a decision: signed updates and the release manifest cover
 * erab and the devices it updates, not the rest of the host.
 *
 * ERAB §3.3.4 (R5, 推奨) is judged per device by transport.r5: which admitted devices the gateway
 * reaches how. Over ECHONET Lite/UDP it is not satisfied; the address/EOJ pinning may be recorded
 * as a compensating control.
 */
const TLS = ['tls.r1', 'tls.r2', 'tls.r3', 'tls.r4'];

export const CONTROL_CHECKS: Readonly<Record<string, readonly string[]>> = {
  'erab-3.2-2': ['secops.findings-overdue', 'secops.feeds-recent'],
  'erab-3.2-3': ['secops.feeds-recent'],
  'erab-3.3.1-1': ['tls.r1', 'signatures.r1', 'crl.fresh', 'keys.file-mode'],
  'erab-3.3.1-2': ['peers.r1-specified'],
  'erab-3.3.2-r2': ['tls.r2', 'crl.fresh', 'keys.file-mode'],
  'erab-3.3.2-r3': ['tls.r3', 'crl.fresh', 'keys.file-mode'],
  'erab-3.3.3-1': ['tls.r4', 'peers.r4-allow-list', 'signatures.r4', 'crl.fresh', 'keys.file-mode'],
  'erab-3.3.4-1': ['transport.r5'],
  'erab-3.4.2': ['secops.personal-data-encryption'],
  'erab-3.5-iii': ['secops.detection-rules', 'audit.syslog'],
  'erab-3.5-iv': ['secops.backups-recent', 'continuity.active-standby'],
  'erab-3.6-2': ['secops.findings-overdue', 'updates.signed'],
  'erab-4.1.3-1': ['secops.detection-rules', 'monitoring.health'],
  'erab-4.1.3-4': ['audit.verify', 'audit.witness', 'audit.syslog'],
  'erab-4.1.3-5': ['secops.feeds-recent'],
  'erab-t2-jiko-normal-3': ['audit.syslog'],
  'erab-t2-kanshi-normal-2': ['audit.verify', 'secops.detection-rules'],
  'erab-t2-unyo-normal-1': ['secops.detection-rules', 'monitoring.health'],
  'erab-t2-unyo-normal-2': ['secops.detection-rules'],
  'erab-t2-unyo-emergency-2': ['audit.syslog', 'audit.verify'],
  'jk-1-2': ['profile.scope'],
  'jk-1-3': ['profile.scope'],
  'jk-6-1-1': TLS,
  'jk-6-2-3': ['peers.r1-specified', 'peers.r4-allow-list', ...TLS],
  'jk-6-2-4': ['peers.r1-specified', 'peers.r4-allow-list', 'peers.r5-admission'],
  'jk-6-2-5': [...TLS, 'crl.fresh', 'signatures.r1', 'signatures.r4'],
  'jk-7-1-1': ['updates.signed'],
  'jk-7-1-2': ['approvals.two-person', 'signatures.r1', 'signatures.r4'],
  'jk-8-1-4': ['audit.verify', 'audit.witness', 'audit.syslog'],
  'jk-8-2-1': ['inventory.complete'],
  'jk-8-3-1': ['secops.personal-data-encryption', 'keys.file-mode'],
  'jk-8-4-1': ['secops.feeds-recent', 'secops.findings-overdue'],
  'jk-8-4-3': ['secops.findings-overdue', 'updates.signed'],
  'jk-10-1': ['audit.syslog', 'secops.detection-rules'],
};

/** Controls judged by a recorded decision (organisational, or not implemented by erab). */
export const DECISION_CONTROLS: ReadonlySet<string> = new Set([
  'erab-3.2-1', 'erab-3.2-2', 'erab-3.2-3', 'erab-3.4.1', 'erab-3.4.2',
  'erab-3.5-i', 'erab-3.5-ii', 'erab-3.5-iii', 'erab-3.5-iv', 'erab-3.5-targeted', 'erab-3.6-1', 'erab-3.6-2', 'erab-3.6-3',
  'erab-4.1-1', 'erab-4.1.1-1', 'erab-4.1.2-1', 'erab-4.1.2-2', 'erab-4.1.2-3', 'erab-4.1.3-1', 'erab-4.1.3-2', 'erab-4.1.3-3', 'erab-4.1.3-5',
  'jk-1-4', 'jk-2-1', 'jk-2-2', 'jk-2-3', 'jk-3-1', 'jk-3-2', 'jk-4-1', 'jk-5-1', 'jk-5-2',
  'jk-6-1-2', 'jk-6-2-1', 'jk-6-2-2', 'jk-6-2-6', 'jk-7-1-1', 'jk-8-1-1', 'jk-8-1-2', 'jk-8-1-3', 'jk-8-3-1', 'jk-8-4-2', 'jk-9-1',
  'jk-10-1', 'jk-10-2', 'jk-10-3', 'jk-10-4',
]);

/** Table 2 is an example of roles (参考): every cell not checked automatically needs a decision. */
export function needsDecision(controlId: string): boolean {
  return DECISION_CONTROLS.has(controlId) || (controlId.startsWith('erab-t2-') && !CONTROL_CHECKS[controlId]);
}
export function checksFor(controlId: string): readonly string[] {
  return CONTROL_CHECKS[controlId] ?? [];
}
