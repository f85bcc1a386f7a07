/** How checks and decisions combine into a control's status (src/compliance/assess.ts judge). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge } from '../../src/compliance/assess.js';
import { applicableControls } from '../../src/compliance/profile.js';
import type { Decision } from '../../src/compliance/store.js';
import type { CheckResult } from '../../src/compliance/registry.js';

const NOW = Date.UTC(2026, 11, 1);
const controls = applicableControls({ roles: ['tso', 'aggregator', 'ems'], kubun: 'A' });
const c = (id: string) => controls.find((x) => x.id === id)!;
const fail: CheckResult = { status: 'not-satisfied', evidence: [{ source: 's', observed: 'o', at: NOW }] };
const pass: CheckResult = { status: 'satisfied', evidence: [{ source: 's', observed: 'o', at: NOW }] };
const na: CheckResult = { status: 'not-applicable', evidence: [] };
const decision = (kind: Decision['kind'], over: Partial<Decision> = {}): Decision => ({
  id: 1, controlId: 'x', kind, reference: 'DOC-1', reason: 'r', compensating: 'c', approver: 'Sato', decidedAt: NOW - 1, reviewAt: NOW + 1000, recordedAt: NOW - 1, ...over,
});

test('checks decide a technical control; one failing check fails it', () => {
  assert.equal(judge(c('erab-3.3.3-1'), [{ id: 'a', result: pass }, { id: 'b', result: pass }], undefined, NOW).status, 'satisfied');
  assert.equal(judge(c('erab-3.3.3-1'), [{ id: 'a', result: pass }, { id: 'b', result: fail }], undefined, NOW).status, 'not-satisfied');
  assert.equal(judge(c('erab-3.3.3-1'), [{ id: 'a', result: na }], undefined, NOW).status, 'not-applicable');
});

test('a failing 勧告 technical control is not rescued by a decision; a 推奨 one may be compensated or not adopted', () => {
  assert.equal(judge(c('erab-3.3.3-1'), [{ id: 'a', result: fail }], decision('compensating-control'), NOW).status, 'not-satisfied');
  assert.equal(judge(c('jk-6-2-4'), [{ id: 'a', result: fail }], decision('compensating-control'), NOW).status, 'compensating-control');
  assert.equal(judge(c('jk-6-2-4'), [{ id: 'a', result: fail }], decision('implemented-by-process'), NOW).status, 'not-satisfied');
});

test('an organisational control is judged by its decision, its supporting checks shown beside it', () => {
  const r = judge(c('erab-3.5-iii'), [{ id: 'secops.detection-rules', result: fail }], decision('implemented-by-process'), NOW);
  assert.equal(r.status, 'implemented-by-process');
  assert.match(r.note, /supporting checks failing: secops\.detection-rules/);
  assert.equal(judge(c('erab-3.5-iii'), [{ id: 'x', result: fail }], undefined, NOW).status, 'not-satisfied');
  const held = judge(c('erab-3.5-iii'), [{ id: 'secops.detection-rules', result: pass }], undefined, NOW);
  assert.deepEqual([held.status, held.note], ['needs-decision', '1 supporting check(s) satisfied; no decision recorded'], 'passing supporting checks do not replace the decision');
  assert.equal(judge(c('erab-3.5-iii'), [{ id: 'secops.detection-rules', result: pass }], decision('implemented-by-process'), NOW).status, 'implemented-by-process');
  assert.equal(judge(c('jk-2-1'), [], decision('not-adopted'), NOW).status, 'not-satisfied', 'a 勧告 item (区分A) not adopted, e.g. decided while the operator was 区分B');
  assert.equal(judge({ ...c('jk-2-1'), appliedLevel: '推奨' }, [], decision('not-adopted'), NOW).status, 'not-adopted');
});

test('no check and no live decision: needs a decision; a decision past its review date no longer counts', () => {
  assert.equal(judge(c('jk-9-1'), [], undefined, NOW).status, 'needs-decision');
  assert.equal(judge(c('jk-9-1'), [], decision('implemented-by-process'), NOW).status, 'implemented-by-process');
  const expired = judge(c('jk-9-1'), [], decision('implemented-by-process', { reviewAt: NOW - 1 }), NOW);
  assert.equal(expired.status, 'needs-decision');
  assert.match(expired.note, /passed its review date/);
});
