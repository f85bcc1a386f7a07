/**
 * Counts per level and status, the failing 勧告 items first, and what changed since the previous
 * run: what `erab compliance status` prints and the report shows.
 */
import type { Assessment, ControlAssessment, ControlStatus } from './assess.js';
import type { StoredRun } from './store.js';

export interface Change { controlId: string; label: string; from: string; to: string }
export interface Summary {
  at: number;
  counts: Record<string, Partial<Record<ControlStatus, number>> & { total: number }>;
  /** 勧告 items not satisfied (not-satisfied or needs-decision), then all other 勧告 items. */
  kankoku: ControlAssessment[];
  changes: Change[];
}

/** The order levels are shown in: the binding ones first. */
export const LEVEL_ORDER = ['勧告', '推奨', '参考', '記載なし', '-'];
export const byLevel = <T>(counts: Record<string, T>): [string, T][] => Object.entries(counts).sort(([a], [b]) => LEVEL_ORDER.indexOf(a) - LEVEL_ORDER.indexOf(b));

const FAILING: ReadonlySet<ControlStatus> = new Set(['not-satisfied', 'needs-decision']);
export const isFailing = (s: ControlStatus) => FAILING.has(s);

export function summarize(a: Assessment, previous: StoredRun | undefined): Summary {
  const counts: Summary['counts'] = {};
  for (const c of a.controls) {
    const k = c.control.appliedLevel;
    const row = (counts[k] ??= { total: 0 });
    row.total++;
    row[c.status] = (row[c.status] ?? 0) + 1;
  }
  const kankoku = a.controls.filter((c) => c.control.appliedLevel === '勧告')
    .sort((x, y) => Number(isFailing(y.status)) - Number(isFailing(x.status)));
  const changes: Change[] = [];
  if (previous) {
    for (const c of a.controls) {
      const before = previous.controls.get(c.control.id)?.status ?? '(not assessed)';
      if (before !== c.status) changes.push({ controlId: c.control.id, label: c.control.label, from: before, to: c.status });
    }
  }
  return { at: a.at, counts, kankoku, changes };
}

/** Terminal columns of `s`: CJK and full-width characters take two. */
function width(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}
const padEnd = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - width(s)));

/** The terminal form. */
export function formatSummary(s: Summary): string {
  const lines: string[] = [`compliance at ${new Date(s.at).toISOString()}`, ''];
  const statuses: ControlStatus[] = ['satisfied', 'not-satisfied', 'needs-decision', 'implemented-by-process', 'compensating-control', 'not-adopted', 'not-applicable'];
  lines.push(['level'.padEnd(8), 'total'.padStart(5), ...statuses.map((x) => x.padStart(x.length + 1))].join(' '));
  for (const [level, row] of byLevel(s.counts)) {
    lines.push([padEnd(level, 8), String(row.total).padStart(5), ...statuses.map((x) => String(row[x] ?? 0).padStart(x.length + 1))].join(' '));
  }
  lines.push('', '勧告 items (failing first):');
  for (const c of s.kankoku) {
    lines.push(`  ${isFailing(c.status) ? '✗' : '✓'} ${c.control.label} ${c.control.title} — ${c.status}: ${c.note}`);
    for (const k of c.checks) for (const e of k.result.evidence) lines.push(`      ${k.id}: ${e.source}: ${e.observed}`);
  }
  if (s.changes.length) {
    lines.push('', 'changed since the previous run:');
    for (const ch of s.changes) lines.push(`  ${ch.label}: ${ch.from} → ${ch.to}`);
  }
  return lines.join('\n');
}
