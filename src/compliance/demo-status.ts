/**
 * The compliance part of the `erab demo` summary: one participant of the work folder (AGG-A by
 * default) assessed like `erab compliance status --demo DIR`, run kept in the folder's compliance
 * store; counts per level and the failing 勧告 items with the checks that fail them.
 */
import { IDS } from '../roles/demo/layout.js';
import { demoProfile } from './demo-profile.js';
import { withComplianceService } from './service.js';
import { byLevel, isFailing } from './summary.js';

export interface DemoCompliance {
  participant: string;
  at?: string;
  /** Per level: total and per status. */
  counts?: Record<string, Record<string, number>>;
  /** 勧告 items not satisfied or awaiting a decision, with what their failing checks observed. */
  failingKankoku?: { id: string; label: string; title: string; status: string; failingChecks: string[] }[];
  /** Why the status could not be computed (the demo's verdict does not depend on it). */
  error?: string;
}

/** Never throws: a compliance run that cannot be made is reported in `error`. */
export async function demoCompliance(dir: string, opts: { participant?: string } = {}): Promise<DemoCompliance> {
  const participant = opts.participant ?? IDS.aggregators[0];
  try {
    const profile = demoProfile(dir, { participant });
    return await withComplianceService(profile, async (s) => {
      const { summary } = await s.run();
      return {
        participant,
        at: new Date(summary.at).toISOString(),
        counts: summary.counts as Record<string, Record<string, number>>,
        failingKankoku: summary.kankoku.filter((c) => isFailing(c.status)).map((c) => ({
          id: c.control.id, label: c.control.label, title: c.control.title, status: c.status,
          failingChecks: c.checks.filter((k) => k.result.status === 'not-satisfied').map((k) => `${k.id}: ${k.result.evidence.map((e) => e.observed).join('; ')}`),
        })),
      };
    });
  } catch (err) {
    return { participant, error: (err as Error).message };
  }
}

/** The lines `erab demo` prints under its summary. */
export function formatDemoCompliance(c: DemoCompliance): string {
  if (c.error) return `compliance (${c.participant}): could not be assessed: ${c.error}`;
  const lines = [`compliance (${c.participant}, erab compliance status --demo <dir>):`];
  for (const [level, row] of byLevel(c.counts ?? {})) {
    lines.push(`  ${level}: ${row.total} items — ${Object.entries(row).filter(([k]) => k !== 'total').map(([k, n]) => `${n} ${k}`).join(', ')}`);
  }
  const failing = c.failingKankoku ?? [];
  lines.push(failing.length ? `  failing 勧告 items (${failing.length}):` : '  every 勧告 item holds');
  for (const f of failing) {
    lines.push(`    ✗ ${f.label} ${f.title} — ${f.status}`);
    for (const k of f.failingChecks) lines.push(`        ${k}`);
  }
  return lines.join('\n');
}
