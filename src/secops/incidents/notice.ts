/**
 * The security-incident notice (issue 14): the TSO's or retailer's contact is told of an incident
 * through the notify module's contacts, channels and recorded deliveries.
 */
import { z } from 'zod';
import { formatJst } from '../../core/jst.js';
import { ensureTemplate, type NoticeTemplate } from '../notify/templates.js';

export const incidentNoticeSchema = z.object({
  incidentId: z.number().int().positive(),
  title: z.string().min(1).max(300),
  severity: z.enum(['low', 'medium', 'high', 'critical']),
  status: z.string().min(1).max(20),
  openedAt: z.number().int(),
  /** What was done so far, one line each. */
  actions: z.array(z.string().max(500)).max(50),
  message: z.string().max(2000).optional(),
  drill: z.boolean(),
}).strict();
export type IncidentNoticeData = z.output<typeof incidentNoticeSchema>;

export const INCIDENT_NOTICE_TEMPLATE = 'security-incident';

const template: NoticeTemplate<IncidentNoticeData> = {
  id: INCIDENT_NOTICE_TEMPLATE,
  schema: incidentNoticeSchema,
  render(d, language) {
    const lines = (xs: readonly string[]): string => (xs.length ? xs.map((x) => `  - ${x}`).join('\n') : '  -');
    if (language === 'ja') {
      return {
        subject: `${d.drill ? '【訓練】' : ''}【セキュリティインシデント】#${d.incidentId} ${d.title}`,
        text: [
          d.drill ? 'これは訓練です。' : 'セキュリティインシデントが発生しました。',
          `インシデント番号: ${d.incidentId}`, `件名: ${d.title}`, `重大度: ${d.severity}`, `状態: ${d.status}`,
          `検知時刻: ${formatJst(d.openedAt)} (日本時間)`, '実施した対応:', lines(d.actions), ...(d.message ? ['', d.message] : []),
        ].join('\n'),
      };
    }
    return {
      subject: `${d.drill ? '[DRILL] ' : ''}[Security incident] #${d.incidentId} ${d.title}`,
      text: [
        d.drill ? 'This is a drill.' : 'A security incident has occurred.',
        `Incident: ${d.incidentId}`, `Title: ${d.title}`, `Severity: ${d.severity}`, `Status: ${d.status}`,
        `Opened: ${new Date(d.openedAt).toISOString()}`, 'Actions taken:', lines(d.actions), ...(d.message ? ['', d.message] : []),
      ].join('\n'),
    };
  },
};

/** Registers the template once per process (the notify module keeps one registry). */
export function ensureIncidentTemplate(): void {
  ensureTemplate(template);
}
