/**
 * `erab compliance` as an operator runs it, in its own process, on a live deployment: status
 * (terminal and --json, exit code follows the 勧告 items), decide, report, controls; a profile file
 * with CLI overrides.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deployment, type Deployment } from './deployment.js';
import { erab } from './erab-cli.js';

let d: Deployment;
let profileFile: string;
before(async () => {
  d = await deployment();
  profileFile = join(d.dir, 'compliance.json');
  const p = d.profile();
  writeFileSync(profileFile, JSON.stringify({ ...p, store: join(d.dir, 'cli.db'), audit: { dir: join(d.dir, 'cli-audit') } }));
});
after(async () => { await d.close(); });

test('status prints counts per level and the 勧告 items failing first with evidence; exit 1 while a 勧告 item needs a decision', async () => {
  const r = await erab(['compliance', 'status', '--profile', profileFile]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^勧告\s+\d+/m);
  assert.match(r.stdout, /^推奨\s+\d+/m);
  const lines = r.stdout.split('\n');
  const first = lines.findIndex((l) => l.startsWith('  ✓'));
  const lastFail = lines.map((l, i) => (l.startsWith('  ✗') ? i : -1)).reduce((a, b) => Math.max(a, b));
  assert.ok(lastFail >= 0 && first > lastFail, 'failing 勧告 items come before the satisfied ones');
  assert.match(r.stdout, /✓ §3\.3\.1 R1-1 R1 相互認証・通信の暗号化 — satisfied/);
  assert.match(r.stdout, /tls\.r1: .*valid/);
  assert.match(r.stdout, /✗ 第2-1条 体制 — needs-decision/);
});

test('--json gives every applicable control with level, status and evidence; --kubun C overrides the profile', async () => {
  const r = await erab(['compliance', 'status', '--profile', profileFile, '--kubun', 'C', '--json']);
  const out = JSON.parse(r.stdout) as { failingKankoku: string[]; counts: Record<string, { total: number }>; controls: { id: string; level: string; status: string; checks: { evidence: unknown[] }[] }[] };
  assert.equal(out.controls.find((c) => c.id === 'jk-2-1')!.level, '推奨');
  assert.ok(out.controls.find((c) => c.id === 'erab-3.3.3-1')!.checks.every((k) => k.evidence.length > 0));
  assert.equal(out.counts['勧告']!.total, out.controls.filter((c) => c.level === '勧告').length);
  assert.deepEqual(out.failingKankoku, out.controls.filter((c) => c.level === '勧告' && (c.status === 'not-satisfied' || c.status === 'needs-decision')).map((c) => c.id));
  assert.ok(!out.failingKankoku.includes('jk-2-1'), 'jk-2-1 is 推奨 for 区分C');
});

test('decide records a decision that status then shows; bad decisions are refused with the rule', async () => {
  const bad = await erab(['compliance', 'decide', '--profile', profileFile, '--control', 'jk-9-1', '--kind', 'not-adopted', '--approver', 'Sato', '--review', '2027-12-01']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /needs its reason/);
  const ok = await erab(['compliance', 'decide', '--profile', profileFile, '--control', 'jk-9-1', '--kind', 'compensating-control', '--approver', 'Sato', '--review', '2099-12-01', '--compensating', 'サーバ室は入館カードで管理 / badge-controlled server room']);
  assert.equal(ok.code, 0, ok.stderr);
  const r = await erab(['compliance', 'status', '--profile', profileFile, '--json']);
  assert.equal((JSON.parse(r.stdout) as { controls: { id: string; status: string }[] }).controls.find((c) => c.id === 'jk-9-1')!.status, 'compensating-control');
});

test('report writes the OSCAL documents and the signed HTML; controls lists how each item is judged', async () => {
  const out = join(d.dir, 'cli-report');
  const r = await erab(['compliance', 'report', '--profile', profileFile, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['ssp.json', 'assessment-results.json', 'report.html', 'report.html.sig']) assert.ok(existsSync(join(out, f)), f);
  const c = await erab(['compliance', 'controls', '--participant', 'X', '--role', 'tso']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /erab-3\.3\.1-2\s+勧告\s+§3\.3\.1 R1-2 .*peers\.r1-specified/);
  assert.match(c.stdout, /erab-4\.1\.2-2\s+推奨\s.*needs decision/);
  const u = await erab(['compliance', 'status']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /--profile or --participant and --role/);
});

test('--demo assesses a participant of an erab demo work folder from its own config', async () => {
  const { mkdirSync, copyFileSync } = await import('node:fs');
  const demo = join(d.dir, 'demo');
  mkdirSync(join(demo, 'AGG-A'), { recursive: true });
  copyFileSync(d.files.aggregator, join(demo, 'AGG-A', 'config.json'));
  const r = await erab(['compliance', 'status', '--demo', demo, '--json']);
  const out = JSON.parse(r.stdout) as { controls: { id: string; status: string }[] };
  assert.equal(out.controls.find((c) => c.id === 'erab-3.3.3-1')!.status, 'satisfied');
  assert.ok(!out.controls.some((c) => c.id.startsWith('jk-')), 'no 区分 given: the private-facility guideline does not apply');
  assert.ok(existsSync(join(demo, 'compliance', 'AGG-A.db')), 'history kept in the demo folder');
  const missing = await erab(['compliance', 'status', '--demo', join(d.dir, 'nowhere')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /not found: is .* an erab demo work folder/);
});

test('the demo summary part: counts per level and the failing 勧告 items with their failing checks; a folder that is no demo gives an error, not a throw', async () => {
  const { mkdirSync, copyFileSync } = await import('node:fs');
  const { demoCompliance, formatDemoCompliance } = await import('../../src/compliance/demo-status.js');
  const demo = join(d.dir, 'demo-summary');
  mkdirSync(join(demo, 'AGG-A'), { recursive: true });
  copyFileSync(d.files.aggregator, join(demo, 'AGG-A', 'config.json'));
  const c = await demoCompliance(demo);
  assert.equal(c.error, undefined);
  assert.equal(c.participant, 'AGG-A');
  assert.ok((c.counts!['勧告']?.['total'] ?? 0) > 0 && (c.counts!['推奨']?.['total'] ?? 0) > 0, JSON.stringify(c.counts));
  // The organisational 勧告 items wait for a decision; the technical ones hold on this deployment.
  assert.ok(c.failingKankoku!.some((f) => f.id === 'erab-3.5-iii' && f.status === 'needs-decision'), JSON.stringify(c.failingKankoku, null, 1));
  assert.ok(!c.failingKankoku!.some((f) => f.id === 'erab-3.3.3-1'), 'R4 holds');
  const text = formatDemoCompliance(c);
  assert.match(text, /^compliance \(AGG-A, erab compliance status --demo <dir>\):\n  勧告: \d+ items — /);
  assert.match(text, /✗ §3\.5.* — needs-decision/);
  // Widening the R4 allow-list makes R4 fail, with the check's evidence under it.
  d.editConfig('aggregator', (cfg) => { cfg.downstream.allowList.anyCertifiedPeer = true; });
  copyFileSync(d.files.aggregator, join(demo, 'AGG-A', 'config.json'));
  d.editConfig('aggregator', (cfg) => { delete cfg.downstream.allowList.anyCertifiedPeer; });
  const wide = await demoCompliance(demo);
  const r4 = wide.failingKankoku!.find((f) => f.id === 'erab-3.3.3-1');
  assert.equal(r4?.status, 'not-satisfied');
  assert.ok(r4!.failingChecks.some((k) => k.startsWith('peers.r4-allow-list: ')), JSON.stringify(r4!.failingChecks));
  const none = await demoCompliance(join(d.dir, 'nowhere'));
  assert.match(none.error!, /not found: is .* an erab demo work folder/);
  assert.match(formatDemoCompliance(none), /^compliance \(AGG-A\): could not be assessed: /);
});

test('erab aggregator run --compliance-profile: a broken profile or interval stops the start-up, naming it', async () => {
  const broken = join(d.dir, 'broken-profile.json');
  writeFileSync(broken, JSON.stringify({ participant: { id: 'AGG1' }, roles: ['aggregator'], backups: { maxAgeHours: 26 } }));
  const r = await erab(['aggregator', 'run', '--config', d.files.aggregator, '--compliance-profile', broken]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /broken-profile\.json/);
  assert.match(r.stderr, /backups\.dir/);
  const i = await erab(['aggregator', 'run', '--config', d.files.aggregator, '--compliance-profile', profileFile, '--compliance-interval-min', '0']);
  assert.notEqual(i.code, 0);
  assert.match(i.stderr, /--compliance-interval-min must be a number of minutes from 1 to 10080, got "0"/);
});
