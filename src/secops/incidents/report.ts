/**
 * The incident report (自家用GL 10-3 報告: what happened, when it was found, what was affected,
 * what was done, the evidence): one JSON document and a readable HTML page (ja or en) from the
 * same object, so the page never says something the JSON does not.
 */
import { formatJst } from '../../core/jst.js';
import type { IncidentWithTimeline, TimelineEntry } from './book.js';
import type { LeakStatus } from './leak.js';

export interface IncidentReport {
  format: 'erab-incident-report';
  version: 1;
  generatedAt: string;
  guideline: string[];
  incident: {
    id: number; title: string; severity: string; status: string; drill: boolean;
    openedBy: string; openedAt: string; updatedAt: string;
  };
  /** The alerts that led to it, with their rule and evidence records (audit index and leaf hash, or telemetry row). */
  detection: { at: string; source?: unknown; ruleId: unknown; key: unknown; count: unknown; description: unknown; guideline: unknown; evidence: unknown }[];
  actions: { at: string; actor: string; step: unknown; outcome: unknown; summary: string }[];
  timeline: { at: string; actor: string; kind: string; summary: string; details: Record<string, unknown> }[];
  /** A personal-data leak: the legal clock of the report to the PPC (./leak.ts). */
  leak?: {
    discoveredAt: string; unauthorisedPurpose: boolean; reported: { preliminary: string | null; final: string | null };
    deadlines: { name: string; days: number; due: string; state: string }[];
  };
}

const iso = (t: number): string => new Date(t).toISOString();

/** @example writeFileSync('incident-3.json', JSON.stringify(buildReport(await book.show(3)), null, 2)); */
export function buildReport(inc: IncidentWithTimeline, now = Date.now(), leak?: LeakStatus): IncidentReport {
  const alerts = inc.timeline.filter((e) => e.kind === 'alert');
  const actions = inc.timeline.filter((e) => e.kind === 'action');
  return {
    format: 'erab-incident-report', version: 1, generatedAt: iso(now),
    guideline: ['自家用電気工作物に係るサイバーセキュリティ確保のための実施ガイドライン 10-3', 'ERAB サイバーセキュリティガイドライン 4.1.3'],
    incident: {
      id: inc.id, title: inc.title, severity: inc.severity, status: inc.status, drill: inc.drill,
      openedBy: inc.openedBy, openedAt: iso(inc.openedAt), updatedAt: iso(inc.updatedAt),
    },
    detection: alerts.map((e) => ({
      at: iso(e.at), source: e.details.source, ruleId: e.details.ruleId, key: e.details.key, count: e.details.count,
      description: e.details.description, guideline: e.details.guideline, evidence: e.details.evidence ?? [],
    })),
    actions: actions.map((e) => ({ at: iso(e.at), actor: e.actor, step: e.details.step, outcome: e.details.outcome, summary: e.summary })),
    timeline: inc.timeline.map((e: TimelineEntry) => ({ at: iso(e.at), actor: e.actor, kind: e.kind, summary: e.summary, details: e.details })),
    ...(leak ? {
      leak: {
        discoveredAt: iso(leak.discoveredAt), unauthorisedPurpose: leak.unauthorisedPurpose,
        reported: { preliminary: leak.reported.preliminary === null ? null : iso(leak.reported.preliminary), final: leak.reported.final === null ? null : iso(leak.reported.final) },
        deadlines: leak.deadlines.map((d) => ({ name: d.name, days: d.days, due: iso(d.due), state: d.state })),
      },
    } : {}),
  };
}

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const LABELS = {
  ja: {
    title: 'セキュリティインシデント報告書', drill: '訓練', overview: '概要', id: 'インシデント番号', subject: '件名', severity: '重大度', status: '状態',
    openedBy: '起票者', openedAt: '起票日時', updatedAt: '最終更新', detection: '検知した事象と証跡', rule: '検知ルール', key: '対象', count: '回数',
    evidence: '証跡', actions: '実施した対応', timeline: '経緯', at: '日時 (日本時間)', actor: '実施者', kind: '種別', summary: '内容', outcome: '結果', none: 'なし',
    basis: '根拠', leak: '個人情報の漏えい等 — 個人情報保護委員会への報告', knownAt: '事態を知った日時', deadline: '報告', due: '期限 (日本時間)', state: '状況',
  },
  en: {
    title: 'Security incident report', drill: 'DRILL', overview: 'Overview', id: 'Incident', subject: 'Title', severity: 'Severity', status: 'Status',
    openedBy: 'Opened by', openedAt: 'Opened at', updatedAt: 'Last update', detection: 'What was detected, with evidence', rule: 'Rule', key: 'Key', count: 'Count',
    evidence: 'Evidence', actions: 'Actions taken', timeline: 'Timeline', at: 'Time (JST)', actor: 'Actor', kind: 'Kind', summary: 'What', outcome: 'Outcome', none: 'none',
    basis: 'Basis', leak: 'Personal-data leak — reports to the PPC', knownAt: 'Known since', deadline: 'Report', due: 'Due (JST)', state: 'State',
  },
} as const;

function evidenceLine(e: Record<string, unknown>): string {
  const parts = [`${e.source ?? '?'}#${e.seq ?? '?'}`, e.time, e.type, e.leafHash ? `leaf ${String(e.leafHash).slice(0, 16)}…` : undefined, e.value !== undefined ? `value ${JSON.stringify(e.value)}` : undefined];
  return parts.filter((p) => p !== undefined).map(esc).join(' · ');
}

/** The readable page: self-contained (no script, inline style), every value escaped. */
export function renderReportHtml(r: IncidentReport, lang: 'ja' | 'en'): string {
  const L = LABELS[lang];
  const jst = (t: string): string => `${formatJst(Date.parse(t))}`;
  const desc = (d: unknown): string => (d && typeof d === 'object' ? String((d as Record<string, string>)[lang] ?? '') : '');
  const rows = (cells: string[][]): string => cells.map((c) => `<tr>${c.map((x) => `<td>${x}</td>`).join('')}</tr>`).join('\n');
  const detection = r.detection.length === 0 ? `<p>${L.none}</p>` : r.detection.map((d) => `
<section class="alert"><h3>${esc(d.ruleId)} — ${esc(d.key)}</h3>
<p>${esc(desc(d.description))}</p>
<p>${L.count}: ${esc(d.count)} · ${L.basis}: ${esc(Array.isArray(d.guideline) ? d.guideline.join(', ') : '')}${d.source ? ` · ${esc(d.source)}` : ''}</p>
<h4>${L.evidence}</h4><ul>${(Array.isArray(d.evidence) ? d.evidence : []).map((e) => `<li><code>${evidenceLine(e as Record<string, unknown>)}</code></li>`).join('')}</ul></section>`).join('\n');
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><title>${L.title} #${r.incident.id}</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3rem;text-align:left;vertical-align:top}.drill{background:#ffd;border:2px solid #c90;padding:.5rem;font-weight:bold}code{font-size:.85em;word-break:break-all}</style>
</head><body>
<h1>${L.title} #${r.incident.id}</h1>
${r.incident.drill ? `<p class="drill">${L.drill}</p>` : ''}
<h2>${L.overview}</h2>
<table>
${rows([[L.id, esc(r.incident.id)], [L.subject, esc(r.incident.title)], [L.severity, esc(r.incident.severity)], [L.status, esc(r.incident.status)],
    [L.openedBy, esc(r.incident.openedBy)], [L.openedAt, esc(jst(r.incident.openedAt))], [L.updatedAt, esc(jst(r.incident.updatedAt))], [L.basis, esc(r.guideline.join(' / '))]])}
</table>
${r.leak ? `<h2>${L.leak}</h2>
<p>${L.knownAt}: ${esc(jst(r.leak.discoveredAt))}${r.leak.unauthorisedPurpose ? ' (不正の目的 / unauthorised purpose: 60 days)' : ''}</p>
<table><tr><th>${L.deadline}</th><th>${L.due}</th><th>${L.state}</th></tr>
${rows(r.leak.deadlines.map((d) => [esc(`${d.name} (${d.days})`), esc(jst(d.due)), esc(d.state)]))}</table>` : ''}
<h2>${L.detection}</h2>
${detection}
<h2>${L.actions}</h2>
${r.actions.length === 0 ? `<p>${L.none}</p>` : `<table><tr><th>${L.at}</th><th>${L.actor}</th><th>${L.outcome}</th><th>${L.summary}</th></tr>
${rows(r.actions.map((a) => [esc(jst(a.at)), esc(a.actor), esc(a.outcome), esc(a.summary)]))}</table>`}
<h2>${L.timeline}</h2>
<table><tr><th>${L.at}</th><th>${L.actor}</th><th>${L.kind}</th><th>${L.summary}</th></tr>
${rows(r.timeline.map((e) => [esc(jst(e.at)), esc(e.actor), esc(e.kind), esc(e.summary)]))}
</table>
<p><small>${esc(r.generatedAt)}</small></p>
</body></html>
`;
}
