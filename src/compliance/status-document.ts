/**
 * The JSON form of one run: what `erab compliance status --json` prints and what an operator
 * console serves (one shape for both).
 */
import type { Assessment } from './assess.js';
import type { Summary } from './summary.js';

export function statusDocument(run: { runId: number; assessment: Assessment; summary: Summary }) {
  const { assessment, summary } = run;
  return {
    runId: run.runId,
    at: new Date(summary.at).toISOString(),
    counts: summary.counts,
    failingKankoku: summary.kankoku.filter((c) => c.status === 'not-satisfied' || c.status === 'needs-decision').map((c) => c.control.id),
    changes: summary.changes,
    controls: assessment.controls.map((c) => ({
      id: c.control.id, catalog: c.control.catalog, label: c.control.label, title: c.control.title, level: c.control.appliedLevel,
      status: c.status, note: c.note,
      checks: c.checks.map((k) => ({ id: k.id, status: k.result.status, evidence: k.result.evidence.map((e) => ({ ...e, at: new Date(e.at).toISOString() })) })),
      decision: c.decision ? { ...c.decision, decidedAt: new Date(c.decision.decidedAt).toISOString(), reviewAt: new Date(c.decision.reviewAt).toISOString(), recordedAt: new Date(c.decision.recordedAt).toISOString() } : undefined,
    })),
  };
}
