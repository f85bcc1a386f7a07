/**
 * The CLI in Japanese and English: the language from `--lang`, else LC_ALL / LC_MESSAGES / LANG;
 * tables by default and `--json` for scripts (erab alerts rules, erab incident list/show), times in
 * JST with +09:00, the aggregator's status with コマ, and the failure line of a bug in both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { cliLanguage, setCliLanguage, t } from '../../src/cli/i18n.js';
import { formatSummary, type DemoSummary } from '../../src/roles/demo/summary.js';
import { failureLine } from '../../src/cli/failure.js';
import { displayWidth, formatTable } from '../../src/cli/table.js';
import { formatStatus } from '../../src/cli/aggregator-view.js';
import { fromJstFields } from '../../src/core/jst.js';
import type { AggregatorStatus } from '../../src/roles/aggregator/runtime/aggregator.js';
import { createLogger } from '../../src/core/logger.js';

/** Runs the erab CLI in-process with this LANG, capturing what it prints. */
async function erab(args: string[], lang = 'C.UTF-8'): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved = { LANG: process.env.LANG, LC_ALL: process.env.LC_ALL, LC_MESSAGES: process.env.LC_MESSAGES };
  process.env.LANG = lang;
  delete process.env.LC_ALL;
  delete process.env.LC_MESSAGES;
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string) => { out += c; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => { err += c; return true; }) as typeof process.stderr.write;
  const before = process.exitCode;
  try {
    return { code: await main(['node', 'erab', ...args]), out, err };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
    process.exitCode = before;
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

test('cliLanguage: --lang wins, then LC_ALL, LC_MESSAGES, LANG (ja_JP* → ja)', () => {
  assert.equal(cliLanguage(['alerts', 'list', '--lang', 'ja'], { LANG: 'en_US.UTF-8' }), 'ja');
  assert.equal(cliLanguage(['--lang=en', 'alerts'], { LANG: 'ja_JP.UTF-8' }), 'en');
  assert.equal(cliLanguage([], { LANG: 'ja_JP.UTF-8' }), 'ja');
  assert.equal(cliLanguage([], { LANG: 'ja' }), 'ja');
  assert.equal(cliLanguage([], { LC_ALL: 'C', LANG: 'ja_JP.UTF-8' }), 'en', 'LC_ALL overrides LANG');
  assert.equal(cliLanguage([], { LC_ALL: '', LC_MESSAGES: 'ja_JP.eucJP', LANG: 'C' }), 'ja');
  assert.equal(cliLanguage([], { LANG: 'jav_ID' }), 'en', 'Javanese is not Japanese');
  assert.equal(cliLanguage(['--', '--lang', 'ja'], {}), 'en', 'after -- it is an argument');
});

test('tables align Japanese headers by display width', () => {
  assert.equal(displayWidth('コマ'), 4);
  assert.equal(displayWidth('kW'), 2);
  const table = formatTable([{ header: '番号' }, { header: 'kW', right: true }], [['a', '1.0'], ['bbbbbb', '10.5']]);
  assert.equal(table, '番号      kW\na        1.0\nbbbbbb  10.5\n');
  assert.equal(formatTable([{ header: 'x' }], [], 'none'), 'none\n');
});

test('erab alerts rules: a table in the locale\'s language, --lang over LANG, --json for scripts', async () => {
  const ja = await erab(['alerts', 'rules'], 'ja_JP.UTF-8');
  assert.equal(ja.code, 0, ja.err);
  assert.match(ja.out.split('\n')[0]!, /^ルール\s+種類\s+重大度\s+説明\s+ガイドライン$/);
  const en = await erab(['alerts', 'rules', '--lang', 'en'], 'ja_JP.UTF-8');
  assert.match(en.out.split('\n')[0]!, /^rule\s+kind\s+severity\s+description\s+guideline$/);
  assert.equal(ja.out.split('\n').length, en.out.split('\n').length, 'the same rows in both');
  const json = await erab(['alerts', 'rules', '--json'], 'ja_JP.UTF-8');
  const rules = JSON.parse(json.out) as { id: string }[];
  assert.ok(rules.length > 0);
  for (const r of rules) assert.match(en.out, new RegExp(`^${r.id}\\s`, 'm'));
});

test('erab incident list/show: tables and lines in ja and en, opened in JST (+09:00), --json unchanged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-cli-i18n-'));
  const desk = ['--db', join(dir, 'incidents.db'), '--audit-dir', join(dir, 'audit')];
  try {
    const empty = await erab(['incident', 'list', ...desk], 'ja_JP.UTF-8');
    assert.equal(empty.out, 'インシデントはありません。\n');
    const opened = await erab(['incident', 'open', '--operator', 'alice', '--title', 'scan from 10.0.0.9', '--severity', 'high', '--json', ...desk]);
    assert.equal(opened.code, 0, opened.err);
    const id = (JSON.parse(opened.out) as { id: number }).id;
    const ja = await erab(['incident', 'list', ...desk], 'ja_JP.UTF-8');
    const [head, row] = ja.out.trimEnd().split('\n');
    assert.match(head!, /^番号\s+状態\s+重大度\s+件名\s+起票（JST）\s+起票者$/);
    assert.match(row!, new RegExp(`^#${id}\\s+open\\s+high\\s+scan from 10\\.0\\.0\\.9\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\+09:00\\s+alice$`));
    const en = await erab(['incident', 'list', ...desk, '--lang', 'en'], 'ja_JP.UTF-8');
    assert.match(en.out.split('\n')[0]!, /^no\.\s+status\s+severity\s+title\s+opened \(JST\)\s+by$/);
    const show = await erab(['incident', 'show', String(id), ...desk], 'ja_JP.UTF-8');
    assert.match(show.out, new RegExp(`^#${id} \\[open\\] high scan from 10\\.0\\.0\\.9（\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\+09:00 に alice が起票）`));
    const json = JSON.parse((await erab(['incident', 'list', ...desk, '--json'], 'ja_JP.UTF-8')).out) as { id: number; openedAt: number }[];
    assert.equal(json[0]!.id, id);
    assert.equal(typeof json[0]!.openedAt, 'number', 'scripts keep epoch milliseconds');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('aggregator status as tables: JST times, コマ, directions in the language', () => {
  const start = fromJstFields(2026, 12, 7, 17, 0);
  const status: AggregatorStatus = {
    id: 'AGG1', time: fromJstFields(2026, 12, 7, 17, 10, 5), downstreamPort: 8444,
    gateways: [{ venId: 'GW1', resources: 2, lastReportAt: fromJstFields(2026, 12, 7, 17, 10), reports: 12, signed: true }],
    resources: { total: 2, online: 2 },
    upstream: [{ name: 'tso-tokyo', kind: 'tso', registered: true, activeReports: 1, events: [] }],
    events: [{ key: 'tso-tokyo/E1', party: 'tso-tokyo', eventId: 'E1', modificationNumber: 0, state: 'active', direction: 'reduce', start, end: start + 3_600_000, targetW: 2000, instructedW: 2000, deliveredW: 1940, nonResponding: [], uncoveredW: 0, resources: 2, gateways: 1 }],
    refusals: [], pendingApprovals: 0,
  };
  setCliLanguage('ja');
  const ja = formatStatus(status);
  assert.match(ja, /^AGG1（2026-12-07T17:10:05\+09:00）· オンラインのリソース 2 \/ 2 · 承認待ち 0 件$/m);
  assert.match(ja, /GW1\s+2\s+2026-12-07T17:10:00\+09:00\s+12\s+はい/);
  // 17:00–18:00 JST is コマ 35 and 36.
  assert.match(ja, /tso-tokyo\/E1\s+下げ\s+2026-12-07T17:00:00\+09:00\s+2026-12-07T18:00:00\+09:00\s+35–36\s+2\.0\s+2\.0\s+1\.9\s+active\s+2/);
  setCliLanguage('en');
  const en = formatStatus(status);
  assert.match(en, /^AGG1 at 2026-12-07T17:10:05\+09:00 · resources online 2 \/ 2 · awaiting approval 0$/m);
  assert.match(en, /reduce \(下げ\)/);
  assert.match(en, /tso-tokyo\s+tso\s+yes/);
});

test('a bug\'s failure line in both languages, with its id', () => {
  const quiet = () => createLogger('test', 'silent');
  setCliLanguage('ja');
  assert.match(failureLine(new TypeError('boom'), quiet), /^予期しないエラー [0-9a-f]{8}: .*boom.*（erab の不具合です。errorId [0-9a-f]{8} のログ行に詳細があります）$/);
  setCliLanguage('en');
  assert.match(failureLine(new TypeError('boom'), quiet), /^unexpected error [0-9a-f]{8}: .*boom.* \(a bug in erab; the log line with errorId [0-9a-f]{8} has the details\)$/);
});

test('the demo summary in Japanese and in English (every sentence of it)', () => {
  const summary = {
    ok: true, startedAt: '2026-12-06T07:00:00.000Z', durationS: 312, sites: 20, speed: 60, workFolder: '/tmp/erab-demo',
    topology: ['TSO-TOKYO → AGG-A'], tolerance: 'mean delivered ≥ 90 %',
    events: [{ id: 'TSO-E1', issuer: 'tso', product: 'tertiary2 (三次調整力②)', direction: 'reduce', start: '2026-12-06T17:00:00+09:00', end: '2026-12-06T18:00:00+09:00', requestedKw: 50, deliveredKw: 49.5, percent: 99, withinTolerance: true,
      dispatches: [{ aggregator: 'AGG-A', eventId: 'TSO-E1-AGG-A', requestedKw: 25, deliveredKw: 24.8, percent: 99.2 }], samples: 10, issueToLastGatewayMs: 1500, gatewaysInstructed: 20, gatewaysWithCommand: 20, gatewaysBeforeStart: 20 }],
    security: { rogueAggregatorRefused: true, rogueRefusal: 'not contracted', forgedCommandRefused: true, forgedRefusal: 'GW-0001: bad signature', unknownDevicePending: true, unknownDevice: 'x', rogueAggregatorAlert: 'a', forgedCommandAlert: 'b', incident: 'incident #1 (contained)' },
    alerts: [], incidents: [{ id: 1, status: 'contained', title: 'rogue aggregator', alerts: [1], steps: ['revoke ROGUE-AGG'] }], vulnerability: { advisory: 'CVE-2026-0001', title: 't', sitesAffected: 20, findings: 20, notices: [{ aggregator: 'AGG-A', issuedAt: '2026-12-06T16:30:00+09:00', recipients: 10, deliveries: 10, delivered: 10 }], patched: 20, patchedSites: 20 },
    audit: { ok: true, participants: 26, verified: 26, failures: [], byParticipant: [] }, tsoEventToLastGatewayMs: 1500,
    machine: { cpus: 2, cpuModel: 'EPYC', memoryGb: 23.5, platform: 'linux', node: 'v20', loadAverage: [1] }, failures: [],
  } as unknown as DemoSummary;
  const english = formatSummary(summary);
  assert.match(english, /^erab demo: PASSED — 20 sites, x60, 312 s$/m);
  assert.match(english, /requested 50\.0 kW, delivered 49\.5 kW \(99\.0 %\)/);
  setCliLanguage('ja');
  const ja = formatSummary(summary, (key, vars) => t(`demoSummary.${key}`, vars ?? {}));
  assert.match(ja, /^erab demo: 合格 — 20 サイト、60 倍速、312 秒$/m);
  assert.match(ja, /指令 50\.0 kW、実績 49\.5 kW（99\.0 %）/);
  assert.match(ja, /2026-12-06T17:00:00\+09:00 → 2026-12-06T18:00:00\+09:00/);
  assert.match(ja, /アラートからインシデントを起票: incident #1/);
  assert.match(english, /incident opened from the alerts: incident #1/);
  assert.equal(ja.split('\n').length, english.split('\n').length, 'the same lines');
  // No English sentence left over (names, ids and figures aside).
  for (const word of ['requested', 'refused', 'pending', 'verified', 'machine:', 'work folder', 'notified', 'alerts raised']) assert.ok(!ja.includes(word), `"${word}" in: ${ja}`);
  setCliLanguage('en');
  assert.equal(formatSummary(summary, (key, vars) => t(`demoSummary.${key}`, vars ?? {})), english, 'the CLI\'s English is the summary\'s own');
});
