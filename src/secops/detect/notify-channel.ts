/**
 * Alerts through the notification channels of src/secops/notify (e-mail, webhook): an
 * `AlertChannel` over a Notifier, with a `security-alert` notice template in Japanese and English.
 * De-duplication and the rate limit stay in detection (an alert reaches this channel once); the
 * notifier records every delivery, audits it and retries a failed one from its table until it
 * is delivered, so a mail server that is down when the alert is raised still gets it later.
 *
 * @example
 * const channel = new NotifyAlertChannel(createNotifier(store, notifyConfig, { audit }), alertRecipients(store, { roles: ['operator', 'security'] }));
 * await startDetection({ store, auditLog, rules, channels: [channel] });
 */
import { z } from 'zod';
import { formatJst } from '../../core/jst.js';
import type { AuditActor } from '../../core/audit-port.js';
import type { Store } from '../../store/store.js';
import { ContactRegistry } from '../notify/contacts.js';
import type { Notifier } from '../notify/notifier.js';
import { ensureTemplate, type NoticeTemplate } from '../notify/templates.js';
import type { Contact } from '../notify/types.js';
import type { Alert } from './alerts.js';
import type { AlertChannel, DeliveryResult } from './channels.js';

export const ALERT_TEMPLATE = 'security-alert';

/** Text an attacker influences (a key, a summary) on one bounded line: no header or line injection. */
const oneLine = (s: string, max = 500): string => s.replace(/[\r\n\t\u0000-\u001f\u007f]+/g, ' ').slice(0, max);
const line = z.string().min(1).max(500).refine((s) => !/[\r\n]/.test(s), 'must be one line');

export const alertNoticeSchema = z.object({
  participant: line,
  alertId: z.number().int().positive(),
  ruleId: line,
  key: line,
  severity: z.enum(['low', 'medium', 'high', 'critical']),
  description: z.object({ ja: line, en: line }),
  summary: line,
  guideline: z.array(line).max(50),
  count: z.number().int().positive(),
  firstAt: z.number().int().nonnegative(),
  lastAt: z.number().int().nonnegative(),
  evidence: z.number().int().nonnegative(),
});
export type AlertNoticeData = z.output<typeof alertNoticeSchema>;

const SEVERITY = { ja: { low: '低', medium: '中', high: '高', critical: '緊急' }, en: { low: 'Low', medium: 'Medium', high: 'High', critical: 'Critical' } } as const;
const utc = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const alertTemplate: NoticeTemplate<AlertNoticeData> = {
  id: ALERT_TEMPLATE,
  schema: alertNoticeSchema,
  render(d, language, issuedAt) {
    if (language === 'ja') {
      return {
        subject: `【セキュリティ警報】[${SEVERITY.ja[d.severity]}] ${d.participant}: ${d.description.ja} (${d.key})`,
        text: [
          `${d.participant} の検知ルールが警報を発しました。内容を確認し、必要な対応をしてください。`,
          '',
          `警報番号: ${d.alertId}`,
          `ルール: ${d.ruleId} (${d.description.ja})`,
          `重要度: ${SEVERITY.ja[d.severity]}`,
          `対象: ${d.key}`,
          `概要: ${d.summary}`,
          `発生回数: ${d.count}`,
          `最初の発生: ${formatJst(d.firstAt)} (日本時間)`,
          `最後の発生: ${formatJst(d.lastAt)} (日本時間)`,
          `証跡: ${d.evidence} 件 (erab alerts list で確認、erab audit prove で証明)`,
          `関連するガイドライン項目: ${d.guideline.join(', ')}`,
          '',
          `確認後は erab alerts ack ${d.alertId} --operator <担当者> で確認済みにしてください。`,
          `通知日時: ${formatJst(issuedAt)} (日本時間)`,
        ].join('\n'),
      };
    }
    return {
      subject: `[Security alert] [${SEVERITY.en[d.severity]}] ${d.participant}: ${d.description.en} (${d.key})`,
      text: [
        `A detection rule of ${d.participant} raised an alert. Please review it and respond.`,
        '',
        `Alert: ${d.alertId}`,
        `Rule: ${d.ruleId} (${d.description.en})`,
        `Severity: ${SEVERITY.en[d.severity]}`,
        `Key: ${d.key}`,
        `Summary: ${d.summary}`,
        `Firings: ${d.count}`,
        `First: ${utc(d.firstAt)}`,
        `Latest: ${utc(d.lastAt)}`,
        `Evidence: ${d.evidence} record(s) (erab alerts list; erab audit prove)`,
        `Guideline items: ${d.guideline.join(', ')}`,
        '',
        `Acknowledge with: erab alerts ack ${d.alertId} --operator <you>`,
        `Notified at: ${utc(issuedAt)}`,
      ].join('\n'),
    };
  },
};

/** Registers the alert template once (the template registry refuses a second one with an id). */
export function registerAlertTemplate(): void {
  ensureTemplate(alertTemplate);
}
registerAlertTemplate();

/** The notice data of `alert` raised at `participant`. */
export function alertNoticeData(alert: Alert, participant: string): AlertNoticeData {
  return {
    participant: oneLine(participant),
    alertId: alert.id,
    ruleId: oneLine(alert.ruleId),
    key: oneLine(alert.key),
    severity: alert.severity,
    description: { ja: oneLine(alert.description.ja), en: oneLine(alert.description.en) },
    summary: oneLine(alert.summary),
    guideline: alert.guideline.map((g) => oneLine(g, 100)),
    count: alert.count,
    firstAt: alert.firstAt,
    lastAt: alert.lastAt,
    evidence: alert.evidence.length,
  };
}

/** Who receives alerts: contacts with one of `roles`, plus those listed by id. */
export interface AlertRecipients {
  roles: readonly string[];
  contactIds?: readonly number[];
}

/** Looks the recipients up at each alert, so a contact added while the role runs is told too. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function alertRecipients(store: Store<any>, r: AlertRecipients): () => Promise<Contact[]> {
  const contacts = new ContactRegistry(store);
  return async () => (await contacts.list()).filter((c) => r.roles.includes(c.role) || (r.contactIds ?? []).includes(c.id));
}

/** Sends each alert as a `security-alert` notice to every recipient on each of their channels. */
export class NotifyAlertChannel implements AlertChannel {
  readonly name = 'notify';
  private readonly actor: AuditActor;
  constructor(private readonly notifier: Notifier, private readonly recipients: () => Promise<Contact[]>, private readonly participant: string) {
    this.actor = { kind: 'system', id: `${participant}/detect` };
  }

  async deliver(alert: Alert): Promise<DeliveryResult> {
    const to = await this.recipients();
    if (to.length === 0) return { ok: false, error: 'no alert recipients (contacts with an alert role or listed by id)' };
    const { notice, deliveries } = await this.notifier.notifyAll(
      { template: ALERT_TEMPLATE, subject: `${alert.ruleId} ${oneLine(alert.key, 100)}`, data: alertNoticeData(alert, this.participant) }, to, this.actor);
    const failed = deliveries.filter((d) => d.status !== 'delivered');
    // Failed deliveries stay pending in the notifier's table and are retried there.
    if (failed.length === deliveries.length) return { ok: false, error: `notice ${notice.id}: no delivery succeeded yet (retried): ${failed.map((d) => `${d.channel} ${d.lastError ?? ''}`.trim()).join('; ')}` };
    return { ok: true, ...(failed.length > 0 ? { error: `notice ${notice.id}: ${failed.length} of ${deliveries.length} deliveries pending retry` } : {}) };
  }
}
