/**
 * Notice text in Japanese and English. A template validates its data, then renders a subject
 * and a plain-text body per language; the vulnerability notice is one template, a security
 * alert (issue 14) registers another with {@link registerTemplate}.
 */
import { z } from 'zod';
import { formatJst } from '../../core/jst.js';
import { InvalidInputError } from '../../core/errors.js';
import type { EpochMillis } from '../../core/units.js';
import type { Contact, Language, Notice, RenderedNotice } from './types.js';

/** Renders a notice of one kind. `render` receives data already validated by `schema`. */
export interface NoticeTemplate<D = unknown> {
  readonly id: string;
  readonly schema: z.ZodType<D>;
  render(data: D, language: Language, issuedAt: EpochMillis): { subject: string; text: string };
  /**
   * The part of a notice's data that concerns one recipient (what it is told, rendered and sent
   * as content); default: all of it. The notice keeps one id and one timestamp for everyone.
   */
  forRecipient?(data: D, recipient: Pick<Contact, 'participantId' | 'siteId'>): D;
}

const templates = new Map<string, NoticeTemplate<unknown>>();

/** Adds a template (a second one with the same id is refused). */
export function registerTemplate<D>(t: NoticeTemplate<D>): void {
  if (templates.has(t.id)) throw new InvalidInputError(`a notice template "${t.id}" is already registered`);
  templates.set(t.id, t as NoticeTemplate<unknown>);
}

/** Adds `t` unless a template with its id is already registered (modules that register on first use). */
export function ensureTemplate<D>(t: NoticeTemplate<D>): void {
  if (!templates.has(t.id)) registerTemplate(t);
}

/** The template of `id`; throws naming the known ones. */
export function noticeTemplate(id: string): NoticeTemplate<unknown> {
  const t = templates.get(id);
  if (!t) throw new InvalidInputError(`notice template "${id}" is unknown (known: ${[...templates.keys()].join(', ')})`);
  return t;
}

/** Validates a notice's data against its template; the error names the field and the rule. */
export function checkNoticeData(template: string, data: unknown): void {
  const r = noticeTemplate(template).schema.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InvalidInputError(`notice data for template "${template}": ${i?.path.join('.') || '(root)'}: ${i?.message ?? 'invalid'}`);
  }
}

/**
 * Renders `notice` for a recipient's language.
 * @example renderNotice(notice, 'ja').subject // "【脆弱性情報】JVNDB-2026-000123 ..."
 */
export function renderNotice(notice: Pick<Notice, 'template' | 'data' | 'issuedAt'>, language: Language): RenderedNotice {
  const t = noticeTemplate(notice.template);
  const r = t.schema.safeParse(notice.data);
  if (!r.success) throw new InvalidInputError(`notice data for template "${notice.template}": ${r.error.issues[0]?.path.join('.') || '(root)'}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return { language, ...t.render(r.data, language, notice.issuedAt) };
}

/**
 * The notice as one recipient receives it: its data narrowed by the template's `forRecipient`
 * (a site's contact is not told about other sites), same id and timestamp.
 */
export function noticeFor(notice: Notice, recipient: Pick<Contact, 'participantId' | 'siteId'>): Notice {
  const t = noticeTemplate(notice.template);
  if (!t.forRecipient) return notice;
  const r = t.schema.safeParse(notice.data);
  if (!r.success) return notice; // renderNotice refuses it, naming the field
  return { ...notice, data: t.forRecipient(r.data, recipient) as Record<string, unknown> };
}

const line = z.string().min(1).max(500).refine((s) => !/[\r\n]/.test(s), 'must be one line');

/** Data of a vulnerability notice (ERAB guideline §3.2 countermeasure information). */
export const vulnerabilityNoticeSchema = z.object({
  advisoryId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, 'an advisory id such as JVNDB-2026-000123 or CVE-2026-12345'),
  title: line,
  /** Affected products (maker, model, versions), in the advisory's words. */
  affectedProducts: z.array(line).min(1).max(200),
  /** Affected sites of this recipient (site ids or names). */
  affectedSites: z.array(line).max(10_000).default([]),
  cvss: z.object({ score: z.number().min(0).max(10), vector: z.string().max(200).optional() }),
  countermeasure: z.string().min(1).max(4000),
  /** Deadline for the countermeasure, epoch ms. */
  deadline: z.number().int().positive(),
  url: z.url().optional(),
  /**
   * Per affected site: the participants it belongs to and its affected products. With it, each
   * recipient is told only its own sites (`forRecipient`); the field itself is never sent.
   */
  siteScopes: z.array(z.object({ site: line, participants: z.array(line).max(100), products: z.array(line).max(200) })).max(10_000).optional(),
  /** The notifying participant: its participant-level contacts are told every affected site. */
  notifierId: line.optional(),
});
export type VulnerabilityNoticeData = z.input<typeof vulnerabilityNoticeSchema>;

function severity(score: number, language: Language): string {
  // CVSS v3/v4 qualitative rating scale.
  const level = score === 0 ? 0 : score < 4 ? 1 : score < 7 ? 2 : score < 9 ? 3 : 4;
  return (language === 'ja' ? ['なし', '注意', '警告', '重要', '緊急'] : ['None', 'Low', 'Medium', 'High', 'Critical'])[level]!;
}

const utc = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const vulnerabilityTemplate: NoticeTemplate<z.output<typeof vulnerabilityNoticeSchema>> = {
  id: 'vulnerability',
  schema: vulnerabilityNoticeSchema,
  render(d, language, issuedAt) {
    const cvss = `${d.cvss.score.toFixed(1)} (${severity(d.cvss.score, language)})${d.cvss.vector ? ` ${d.cvss.vector}` : ''}`;
    const list = (xs: readonly string[]): string => xs.map((x) => `  - ${x}`).join('\n');
    if (language === 'ja') {
      return {
        subject: `【脆弱性情報】${d.advisoryId} ${d.title}`,
        text: [
          'ご利用の機器・ソフトウェアに関する脆弱性対策情報をお知らせします。',
          '',
          `勧告ID: ${d.advisoryId}`,
          `件名: ${d.title}`,
          `CVSS 基本値: ${cvss}`,
          '影響を受ける製品:',
          list(d.affectedProducts),
          ...(d.affectedSites.length ? ['影響を受けるサイト:', list(d.affectedSites)] : []),
          '対策:',
          d.countermeasure,
          `対応期限: ${formatJst(d.deadline)} (日本時間)`,
          ...(d.url ? [`詳細: ${d.url}`] : []),
          '',
          `通知日時: ${formatJst(issuedAt)} (日本時間)`,
        ].join('\n'),
      };
    }
    return {
      subject: `[Vulnerability] ${d.advisoryId} ${d.title}`,
      text: [
        'This is vulnerability countermeasure information about equipment or software you use.',
        '',
        `Advisory: ${d.advisoryId}`,
        `Title: ${d.title}`,
        `CVSS base score: ${cvss}`,
        'Affected products:',
        list(d.affectedProducts),
        ...(d.affectedSites.length ? ['Affected sites:', list(d.affectedSites)] : []),
        'Countermeasure:',
        d.countermeasure,
        `Deadline: ${utc(d.deadline)}`,
        ...(d.url ? [`Details: ${d.url}`] : []),
        '',
        `Notified at: ${utc(issuedAt)}`,
      ].join('\n'),
    };
  },
  forRecipient(d, who) {
    const { siteScopes, notifierId, ...shared } = d;
    if (!siteScopes) return d;
    // A site's contact: that site. A participant-level contact: its participant's sites (all of
    // them for the notifying participant's own people).
    const mine = siteScopes.filter((s) => (who.siteId ? s.site === who.siteId : who.participantId === notifierId || s.participants.includes(who.participantId)));
    const products = [...new Set(mine.flatMap((s) => s.products))];
    // Products not tied to a site (erab's own software) concern every recipient.
    const unsited = d.affectedProducts.filter((p) => !siteScopes.some((s) => s.products.includes(p)));
    const affectedProducts = [...new Set([...products, ...unsited])];
    return { ...shared, affectedSites: mine.map((s) => s.site), affectedProducts: affectedProducts.length > 0 ? affectedProducts : d.affectedProducts };
  },
};

registerTemplate(vulnerabilityTemplate);
