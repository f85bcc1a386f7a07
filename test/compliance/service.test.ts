/**
 * The compliance service end to end on a live deployment: runs kept in the store (SQLite and
 * PostgreSQL), decisions with their rules and audit records, changes since the previous run, the
 * OSCAL documents validated with ajv, and the signed bilingual report.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '../../src/security/audit/log.js';
import { readRecords } from '../../src/security/audit/export.js';
import { ComplianceService } from '../../src/compliance/service.js';
import { CATALOGS } from '../../src/compliance/catalog.js';
import { verifyReport } from '../../src/compliance/report.js';
import { assessmentResults, systemSecurityPlan } from '../../src/compliance/oscal.js';
import { describeEachEngine } from '../store/harness.js';
import { deployment, type Deployment } from './deployment.js';
import { subsetValidators } from './oscal-subset.js';

let d: Deployment;
before(async () => { d = await deployment(); });
after(async () => { await d.close(); });

const DAY = 86_400_000;

describeEachEngine('compliance history and decisions', (fx) => {
  test('runs are kept; a decision is audited, judges its control, and shows as a change since the previous run', async () => {
    const loc = await fx.location();
    const auditDir = join(d.dir, `compliance-audit-${fx.engine}`);
    mkdirSync(auditDir, { recursive: true });
    const audit = AuditLog.open({ dir: auditDir, origin: 'erab.test/compliance' });
    const profile = d.profile({ store: loc.openOptions.url });
    let now = Date.parse('2026-12-01T00:00:00Z');
    const s = await ComplianceService.open(profile, { audit, now: () => now, ...(loc.schema ? { schema: loc.schema } : {}) });
    try {
      const first = await s.run();
      const c23 = first.assessment.controls.find((c) => c.control.id === 'jk-2-3')!;
      assert.equal(c23.status, 'needs-decision');
      assert.equal(c23.control.appliedLevel, '推奨');

      // The rules of a decision.
      const base = { approver: 'Sato', decidedAt: now, reviewAt: now + 365 * DAY };
      await assert.rejects(s.decide({ ...base, controlId: 'jk-2-3', kind: 'not-adopted' }), /needs its reason/);
      await assert.rejects(s.decide({ ...base, controlId: 'jk-2-1', kind: 'not-adopted', reason: 'small site' }), /勧告 item cannot be not adopted/);
      await assert.rejects(s.decide({ ...base, controlId: 'jk-3-1', kind: 'implemented-by-process' }), /reference to the procedure/);
      await assert.rejects(s.decide({ ...base, controlId: 'jk-99', kind: 'implemented-by-process', reference: 'x' }), /no such control/);
      await assert.rejects(s.decide({ ...base, controlId: 'jk-3-1', kind: 'implemented-by-process', reference: 'x', reviewAt: now - DAY }), /review date/);
      const id = await s.decide({ ...base, controlId: 'jk-2-3', kind: 'not-adopted', reason: '教育は親会社の年次研修で実施 / covered by the group training' });
      await s.decide({ ...base, controlId: 'jk-2-1', kind: 'implemented-by-process', reference: 'SEC-ORG-001 体制規程 v3' });

      now += DAY;
      const second = await s.run();
      assert.equal(second.assessment.controls.find((c) => c.control.id === 'jk-2-3')!.status, 'not-adopted');
      assert.equal(second.assessment.controls.find((c) => c.control.id === 'jk-2-1')!.status, 'implemented-by-process');
      assert.deepEqual(second.summary.changes.map((c) => `${c.controlId}:${c.from}->${c.to}`).sort(),
        ['jk-2-1:needs-decision->implemented-by-process', 'jk-2-3:needs-decision->not-adopted']);
      assert.ok(second.runId > first.runId);

      // Past its review date a decision no longer decides.
      now += 366 * DAY;
      const third = await s.run();
      const expired = third.assessment.controls.find((c) => c.control.id === 'jk-2-3')!;
      assert.equal(expired.status, 'needs-decision');
      assert.match(expired.note, new RegExp(`decision ${id} passed its review date`));
    } finally {
      await s.close();
      audit.close();
    }
    const records = [...readRecords(auditDir)].flatMap((l) => (l.record ? [l.record] : []));
    const decide = records.filter((r) => r.action === 'compliance.decide');
    assert.equal(decide.filter((r) => r.outcome === 'refused').length, 5);
    assert.equal(decide.filter((r) => r.outcome === 'success').length, 2);
    assert.ok(decide.every((r) => r.actor.id === 'Sato'));
  });
});

test('the catalogs, the SSP and the assessment results validate against the OSCAL 1.1.2 schemas of test/fixtures/oscal', async () => {
  const v = subsetValidators();
  for (const key of ['erab', 'jikayou'] as const) assert.ok(v.catalog(CATALOGS[key]), `${key}: ${JSON.stringify(v.catalog.errors)}`);
  const audit = AuditLog.open({ dir: join(d.dir, 'audit-oscal'), origin: 'erab.test/oscal' });
  const s = await ComplianceService.open(d.profile({ store: join(d.dir, 'oscal.db') }), { audit });
  try {
    const r = await s.run();
    const ssp = systemSecurityPlan(s.profile, r.assessment);
    const ar = assessmentResults(s.profile, r.assessment);
    assert.ok(v.ssp(ssp), JSON.stringify(v.ssp.errors?.slice(0, 5)));
    assert.ok(v.ar(ar), JSON.stringify(v.ar.errors?.slice(0, 5)));
    // The schemas do reject a broken document (a validation that cannot fail proves nothing).
    const broken = structuredClone(ar) as { 'assessment-results': { results: { findings: { target: { status: { state: string } } }[] }[] } };
    broken['assessment-results'].results[0]!.findings[0]!.target.status.state = 'passed';
    assert.equal(v.ar(broken), false);
    assert.equal(v.ssp({ 'system-security-plan': { ...(ssp as { 'system-security-plan': object })['system-security-plan'], uuid: 'nope' } }), false);
  } finally { await s.close(); audit.close(); }
});

test('the report is bilingual, shows level/status/evidence per item, and its detached ECDSA signature verifies (and fails when edited)', async () => {
  const audit = AuditLog.open({ dir: join(d.dir, 'audit-report'), origin: 'erab.test/report' });
  const s = await ComplianceService.open(d.profile({ store: join(d.dir, 'report.db') }), { audit });
  const out = join(d.dir, 'report-out');
  mkdirSync(out, { recursive: true });
  try {
    await s.writeOutputs(out, await s.run());
  } finally { await s.close(); audit.close(); }
  assert.deepEqual(readdirSync(out).sort(), ['assessment-results.json', 'report-signer.pem', 'report.html', 'report.html.sig', 'ssp.json']);
  const html = readFileSync(join(out, 'report.html'));
  const text = html.toString('utf8');
  for (const s of ['セキュリティ対策状況報告', 'Compliance report', '相互認証、通信の暗号化により保護すること（勧告）', 'R1 (TSO ↔ aggregator)', 'tls.r1', '判断未記録', '@media print']) assert.ok(text.includes(s), `report shows ${s}`);
  const sig = readFileSync(join(out, 'report.html.sig'), 'utf8');
  const cert = readFileSync(join(out, 'report-signer.pem'), 'utf8');
  assert.equal(verifyReport(html, sig, cert), true);
  assert.equal(verifyReport(Buffer.from(text.replace('充足', '未充足')), sig, cert), false);
});

test('the report shows what changed since the previous report, not since the previous run', async () => {
  const audit = AuditLog.open({ dir: join(d.dir, 'audit-changes'), origin: 'erab.test/changes' });
  let now = Date.parse('2026-12-01T00:00:00Z');
  const s = await ComplianceService.open(d.profile({ store: join(d.dir, 'changes.db') }), { audit, now: () => now });
  const out1 = join(d.dir, 'changes-1'); const out2 = join(d.dir, 'changes-2');
  mkdirSync(out1); mkdirSync(out2);
  try {
    await s.writeOutputs(out1, await s.run());
    assert.match(readFileSync(join(out1, 'report.html'), 'utf8'), /前回から変更なし/);
    await s.decide({ controlId: 'jk-10-4', kind: 'implemented-by-process', reference: 'TRAIN-2026 訓練計画', approver: 'Sato', decidedAt: now, reviewAt: now + 365 * DAY });
    now += DAY;
    await s.run(); // a status run in between: the report still compares with the last report
    now += DAY;
    const third = await s.run();
    assert.deepEqual(third.summary.changes, [], 'nothing changed since the previous run');
    await s.writeOutputs(out2, third);
  } finally { await s.close(); audit.close(); }
  const html = readFileSync(join(out2, 'report.html'), 'utf8');
  assert.match(html, /第10-4条: needs-decision → implemented-by-process/);
  assert.match(html, /TRAIN-2026 訓練計画/);
});
