/**
 * Playbook steps (自家用GL 10-2 被害拡大防止, ERAB §4.1.3): each acts through the front door of
 * the part it changes, and the outcome goes to the incident's timeline (audited there) while the
 * part that acts audits its own side:
 *
 * - `revoke`     the participant's certificate is revoked and the CRL file rewritten (the PKI);
 *                every listener reloads its CRL and drops the live connection (security/tls/revocation.ts).
 *                A whole gateway is quarantined this way: it can no longer reach its aggregator.
 * - `safe-mode`  each gateway (a site; the fleet = every gateway given) ends its events, returns
 *                every device to the owner's mode and refuses events (gateway operator listener).
 * - `quarantine` one device behind a gateway is no longer controlled until admitted again.
 * - `notify`     the TSO's / retailer's contacts get the security-incident notice (secops/notify).
 */
import { describeError } from '../../core/errors.js';
import type { ParticipantRole } from '../../security/identity.js';
import type { RevocationReason } from '../../security/pki/authority.js';
import { openPki } from '../../security/pki/store.js';
import type { TlsMaterial } from '../../security/tls.js';
import type { Notifier } from '../notify/notifier.js';
import type { Contact } from '../notify/types.js';
import type { IncidentBook, TimelineEntry } from './book.js';
import { ensureIncidentTemplate, INCIDENT_NOTICE_TEMPLATE, type IncidentNoticeData } from './notice.js';
import { operatorCall } from '../../roles/common/operator-client.js';

export const PLAYBOOK_STEPS = ['revoke', 'safe-mode', 'leave-safe-mode', 'quarantine', 'notify'] as const;
export type PlaybookStepName = (typeof PLAYBOOK_STEPS)[number];

export type PlaybookStep =
  | { step: 'revoke'; pkiDir: string; passphrase?: string | undefined; role: ParticipantRole; id: string; reason: RevocationReason }
  | { step: 'safe-mode' | 'leave-safe-mode'; gateways: readonly string[]; material: TlsMaterial; reason: string }
  | { step: 'quarantine'; gateway: string; deviceId: string; material: TlsMaterial; reason: string }
  | { step: 'notify'; notifier: Notifier; recipients: readonly Contact[]; message?: string | undefined };

interface StepOutcome {
  ok: boolean;
  summary: string;
  details: Record<string, unknown>;
}

async function revoke(s: Extract<PlaybookStep, { step: 'revoke' }>): Promise<StepOutcome> {
  const pki = await openPki({ dir: s.pkiDir, ...(s.passphrase !== undefined ? { passphrase: s.passphrase } : {}) });
  const serials = await pki.revoke({ role: s.role, id: s.id }, s.reason);
  return { ok: true, summary: `revoked ${s.role}:${s.id} (${serials.join(', ')}, ${s.reason}); CRL rewritten`, details: { participant: `${s.role}:${s.id}`, serials, reason: s.reason, crlFile: pki.crlFile } };
}

async function onGateways(s: Extract<PlaybookStep, { step: 'safe-mode' | 'leave-safe-mode' }>): Promise<StepOutcome> {
  const path = s.step === 'safe-mode' ? '/safe-mode' : '/safe-mode/leave';
  // Every gateway is asked, even after one fails: a fleet half in safe mode is reported as such.
  const results = await Promise.all(s.gateways.map(async (url) => {
    try {
      const r = await operatorCall(s.material, url, 'POST', path, { reason: s.reason }, 'gateway');
      return r.status === 200 ? { gateway: url, ok: true, reply: r.json } : { gateway: url, ok: false, error: `HTTP ${r.status}: ${(r.json as { error?: string } | undefined)?.error ?? ''}` };
    } catch (e) {
      return { gateway: url, ok: false, error: describeError(e) };
    }
  }));
  const failed = results.filter((r) => !r.ok);
  const verb = s.step === 'safe-mode' ? "owner's safe mode on" : "owner's safe mode lifted on";
  return {
    ok: failed.length === 0,
    summary: `${verb} ${results.length - failed.length}/${results.length} gateway(s)${failed.length ? `; failed: ${failed.map((f) => f.gateway).join(', ')}` : ''}`,
    details: { reason: s.reason, gateways: results },
  };
}

async function quarantine(s: Extract<PlaybookStep, { step: 'quarantine' }>): Promise<StepOutcome> {
  const r = await operatorCall(s.material, s.gateway, 'POST', `/devices/${encodeURIComponent(s.deviceId)}/quarantine`, { reason: s.reason }, 'gateway');
  if (r.status !== 200) return { ok: false, summary: `device ${s.deviceId} at ${s.gateway}: HTTP ${r.status}`, details: { gateway: s.gateway, deviceId: s.deviceId, reply: r.json } };
  return { ok: true, summary: `device ${s.deviceId} quarantined at ${s.gateway}`, details: { gateway: s.gateway, deviceId: s.deviceId, reason: s.reason, reply: r.json } };
}

async function notify(s: Extract<PlaybookStep, { step: 'notify' }>, book: IncidentBook, incidentId: number, actor: string): Promise<StepOutcome> {
  ensureIncidentTemplate();
  const inc = await book.show(incidentId);
  const data: IncidentNoticeData = {
    incidentId, title: inc.title, severity: inc.severity, status: inc.status, openedAt: inc.openedAt, drill: inc.drill,
    actions: inc.timeline.filter((e) => e.kind === 'action').map((e) => e.summary.slice(0, 500)).slice(-50),
    ...(s.message ? { message: s.message } : {}),
  };
  const { notice, deliveries } = await s.notifier.notifyAll({ template: INCIDENT_NOTICE_TEMPLATE, subject: `incident-${incidentId}`, data }, s.recipients, { kind: 'operator', id: actor });
  const sent = deliveries.filter((d) => d.status === 'delivered').length;
  return {
    ok: sent > 0,
    summary: `notice ${notice.id} to ${s.recipients.length} contact(s): ${sent}/${deliveries.length} deliveries made at once${sent < deliveries.length ? ', the rest retried by the notifier' : ''}`,
    // The contact by id, never its address: the incident desk's timeline keeps no personal data
    // (the address stays sealed in the notify store; its errors already quote it as <address>).
    details: { noticeId: notice.id, deliveries: deliveries.map((d) => ({ contactId: d.contactId, channel: d.channel, status: d.status, error: d.lastError })) },
  };
}

/**
 * Runs one step for an incident and records its outcome in the timeline (a failure too).
 * @example await runStep(book, 3, 'op-sato', { step: 'revoke', pkiDir, role: 'gateway', id: 'GW7', reason: 'keyCompromise' });
 */
export async function runStep(book: IncidentBook, incidentId: number, actor: string, s: PlaybookStep): Promise<TimelineEntry> {
  await book.get(incidentId); // an unknown incident is refused before anything acts
  let out: StepOutcome;
  try {
    out = s.step === 'revoke' ? await revoke(s)
      : s.step === 'quarantine' ? await quarantine(s)
        : s.step === 'notify' ? await notify(s, book, incidentId, actor)
          : await onGateways(s);
  } catch (e) {
    out = { ok: false, summary: `failed: ${describeError(e)}`, details: {} };
  }
  return book.recordAction(incidentId, actor, s.step, out.ok ? 'success' : 'failure', out.summary, out.details);
}
