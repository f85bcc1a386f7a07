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

/** The terminal form. */
export function formatSummary(s: Summary): string {
  const lines: string[] = [`compliance at ${new Date(s.at).toISOString()}`, ''];
  const statuses: ControlStatus[] = ['satisfied', 'not-satisfied', 'needs-decision', 'implemented-by-process', 'compensating-control', 'not-adopted', 'not-applicable'];
  lines.push(['level'.padEnd(8), 'total'.padStart(5), ...statuses.map((x) => x.padStart(x.length + 1))].join(' '));
  for (const [level, row] of Object.entries(s.counts)) {
    lines.push([level.padEnd(8 - (level.length > 2 ? 0 : 2)), String(row.total).padStart(5), ...statuses.map((x) => String(row[x] ?? 0).padStart(x.length + 1))].join(' '));
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
