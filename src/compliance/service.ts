/**
 * The compliance service: opens the compliance store, runs assessments and keeps them, records
 * decisions (audited), and writes the OSCAL documents and the signed report. `erab compliance`
 * and the console call this; nothing else assembles these parts.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { AuditLog } from '../security/audit/log.js';
import type { AuditSink } from '../core/audit-port.js';
import { explain, inBoth, PolicyRefusedError } from '../core/errors.js';
import type { ErrorKey, ErrorParams } from '../core/error-messages.js';
import { openStore, type Store } from '../store/store.js';
import type { TlsProfile } from '../security/tls/profiles.js';
import { assess, type Assessment } from './assess.js';
import { allControls } from './catalog.js';
import { defaultRegistry } from './checks/index.js';
import { assessmentResults, systemSecurityPlan } from './oscal.js';
import { applicableControls, type ComplianceProfile } from './profile.js';
import type { CheckRegistry } from './registry.js';
import { renderReport, signReport } from './report.js';
import { complianceMigrations, controlHistory, currentDecisions, DECISION_KINDS, lastReportedRun, loadRun, recordDecision, recordReport, saveRun, type ComplianceTables, type DecisionKind } from './store.js';
import { summarize, type Summary } from './summary.js';

export interface DecisionInput {
  controlId: string; kind: DecisionKind; approver: string;
  reference?: string | undefined; reason?: string | undefined; compensating?: string | undefined;
  decidedAt: number; reviewAt: number;
}

export class ComplianceService {
  private constructor(
    readonly profile: ComplianceProfile,
    private readonly store: Store<ComplianceTables>,
    private readonly registry: CheckRegistry,
    private readonly audit: AuditSink,
    private readonly now: () => number,
  ) {}

  static async open(profile: ComplianceProfile, opts: { audit: AuditSink; registry?: CheckRegistry; now?: () => number; schema?: string }): Promise<ComplianceService> {
    const store = await openStore<ComplianceTables>({ url: profile.store, migrations: complianceMigrations, ...(opts.schema ? { schema: opts.schema } : {}) });
    return new ComplianceService(profile, store, opts.registry ?? defaultRegistry(), opts.audit, opts.now ?? Date.now);
  }

  /** Runs every applicable check, keeps the run, and returns it with the summary against the previous run. */
  async run(opts: { tlsProfiles?: Record<string, TlsProfile> } = {}): Promise<{ runId: number; assessment: Assessment; summary: Summary }> {
    const decisions = await currentDecisions(this.store.db);
    const assessment = await assess(this.profile, this.registry, decisions, { now: this.now(), ...(opts.tlsProfiles ? { tlsProfiles: opts.tlsProfiles } : {}) });
    const runId = await saveRun(this.store.db, {
      at: assessment.at, participant: this.profile.participant.id, profile: { roles: this.profile.roles, kubun: this.profile.kubun ?? null },
      checks: [...assessment.checks.entries()].map(([checkId, r]) => ({ checkId, status: r.status, evidence: r.evidence })),
      controls: assessment.controls.map((c) => ({ controlId: c.control.id, level: c.control.appliedLevel, status: c.status })),
    });
    const previous = await loadRun(this.store.db, { beforeId: runId });
    return { runId, assessment, summary: summarize(assessment, previous) };
  }

  /**
   * Records a decision. Refused: an unknown control; a control that does not apply to this
   * operator's roles and 区分 (status would never show it: most likely a mistyped id); not-adopted without a reason (the
   * private-facility guideline requires it for 推奨 items) or for a 勧告 item; implemented-by-process
   * without a procedure reference; compensating-control without a description; review before decision.
   */
  async decide(d: DecisionInput): Promise<number> {
    const control = allControls().find((c) => c.id === d.controlId);
    // The rule broken, in both languages; the audit log keeps the English one.
    const refuse = (rule: Extract<ErrorKey, `compliance.decision.${string}`>, params: ErrorParams = {}): never => {
      const why = inBoth(rule, params);
      this.audit.append({ actor: { kind: 'operator', id: d.approver }, action: 'compliance.decide', target: d.controlId, outcome: 'refused', reason: why.en });
      throw new PolicyRefusedError(explain('compliance.decisionRefused', { control: d.controlId, why: why.en, whyJa: why.ja }));
    };
    if (!control) refuse('compliance.decision.noControl');
    if (!applicableControls(this.profile).some((c) => c.id === d.controlId)) {
      const actors = control!.actors.length ? { actors: control!.actors.join(', '), actorsJa: control!.actors.join('、') } : (({ en, ja }) => ({ actors: en, actorsJa: ja }))(inBoth('compliance.decision.kubunOperators'));
      const roles = this.profile.roles.join(', ');
      if (this.profile.kubun) refuse('compliance.decision.notApplicable', { roles, kubun: this.profile.kubun, ...actors });
      else refuse('compliance.decision.notApplicableNoKubun', { roles, ...actors });
    }
    if (!DECISION_KINDS.includes(d.kind)) refuse('compliance.decision.badKind', { kinds: DECISION_KINDS.join(', ') });
    if (!d.approver.trim()) refuse('compliance.decision.noApprover');
    if (d.reviewAt <= d.decidedAt) refuse('compliance.decision.reviewBeforeDecision');
    if (d.kind === 'not-adopted') {
      if (!d.reason?.trim()) refuse('compliance.decision.noReason');
      const levels = [control!.level, ...(this.profile.kubun && control!.levelByKubun ? [control!.levelByKubun[this.profile.kubun]] : [])];
      if (levels.includes('勧告')) refuse('compliance.decision.kankokuNotAdopted');
    }
    if (d.kind === 'implemented-by-process' && !d.reference?.trim()) refuse('compliance.decision.noReference');
    if (d.kind === 'compensating-control' && !d.compensating?.trim()) refuse('compliance.decision.noCompensating');
    const id = await recordDecision(this.store.db, { ...d, reference: d.reference, reason: d.reason, compensating: d.compensating, recordedAt: this.now() });
    this.audit.append({
      actor: { kind: 'operator', id: d.approver }, action: 'compliance.decide', target: d.controlId, outcome: 'success',
      details: { decision: id, kind: d.kind, reference: d.reference, reason: d.reason, compensating: d.compensating, decidedAt: d.decidedAt, reviewAt: d.reviewAt },
    });
    return id;
  }

  /**
   * Writes ssp.json, assessment-results.json, report.html and report.html.sig (when a signing key is
   * configured) into `dir`. The report shows what changed since the previous report (not run).
   */
  async writeOutputs(dir: string, run: { runId: number; assessment: Assessment; summary: Summary }): Promise<string[]> {
    const lastReported = await lastReportedRun(this.store.db, run.runId);
    const previous = lastReported === undefined ? undefined : await loadRun(this.store.db, { id: lastReported });
    const r = { assessment: run.assessment, summary: summarize(run.assessment, previous) };
    const files: string[] = [];
    const put = (name: string, data: string | Buffer) => { const f = `${dir}/${name}`; writeFileSync(f, data); files.push(f); };
    put('ssp.json', JSON.stringify(systemSecurityPlan(this.profile, r.assessment), null, 2));
    put('assessment-results.json', JSON.stringify(assessmentResults(this.profile, r.assessment), null, 2));
    const html = Buffer.from(renderReport(this.profile, r.assessment, r.summary), 'utf8');
    put('report.html', html);
    if (this.profile.signing) {
      put('report.html.sig', signReport(html, readFileSync(this.profile.signing.keyFile, 'utf8')) + '\n');
      if (this.profile.signing.certFile) put('report-signer.pem', readFileSync(this.profile.signing.certFile));
    }
    await recordReport(this.store.db, { runId: run.runId, at: run.assessment.at, sha256: createHash('sha256').update(html).digest('hex'), signed: !!this.profile.signing });
    this.audit.append({ actor: { kind: 'system', id: 'compliance' }, action: 'compliance.report', target: dir, outcome: 'success', details: { files: files.map((f) => f.slice(dir.length + 1)) } });
    return files;
  }

  /** A control's status over the last runs, newest first. */
  history(controlId: string, limit = 20): Promise<{ runId: number; at: number; status: string }[]> {
    return controlHistory(this.store.db, controlId, limit);
  }

  async close(): Promise<void> { await this.store.close(); }
}

/** Opens the service with the profile's own audit log, runs `fn`, closes both. */
export async function withComplianceService<T>(profile: ComplianceProfile, fn: (s: ComplianceService) => Promise<T>): Promise<T> {
  mkdirSync(profile.audit.dir, { recursive: true });
  const audit = AuditLog.open({ dir: profile.audit.dir, origin: profile.audit.origin ?? `erab/${profile.participant.id}/compliance` });
  try {
    const service = await ComplianceService.open(profile, { audit });
    try {
      return await fn(service);
    } finally {
      await service.close();
    }
  } finally {
    audit.close();
  }
}
