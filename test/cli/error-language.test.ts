/**
 * The errors an operator meets, in the CLI's language (issue 16): a configuration file that
 * `erab config check` refuses (each problem as path and rule), and the PKI commands' refusals —
 * Japanese under a Japanese locale, English with `--lang en` or an English locale; the English
 * text is the error's own message; and a running aggregator's refusal of `erab aggregator approve`
 * and of `erab aggregator devices` with a bad query parameter
 * (the API's keyed body) in the CLI's language. Real `erab` processes (the compiled CLI, test kit
 * spawnErab; the aggregator as `erab aggregator run`, test kit erabWorld).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeInLanguage, ErabError, explain, NotAuthorizedError } from '../../src/core/errors.js';
import { loadSchedule } from '../../src/roles/tso/schedule.js';
import { loadRules } from '../../src/secops/detect/rules.js';
import { ERROR_MESSAGES } from '../../src/core/error-messages.js';
import { erabWorld } from '../kit/index.js';
import { erabInLocale } from './erab-in-locale.js';

const erab = erabInLocale;

test('every error key has a text in both languages with the same placeholders', () => {
  const leaves = (node: unknown, prefix = ''): [string, string][] => Object.entries(node as Record<string, unknown>)
    .flatMap(([k, v]) => (typeof v === 'string' ? [[`${prefix}${k}`, v] as [string, string]] : leaves(v, `${prefix}${k}.`)));
  const en = new Map(leaves(ERROR_MESSAGES.en));
  const ja = new Map(leaves(ERROR_MESSAGES.ja));
  assert.deepEqual([...ja.keys()].sort(), [...en.keys()].sort());
  const holes = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
  for (const [key, text] of en) {
    // A Japanese text may leave out a placeholder the English sentence needs (the verb), never add one
    // (but for `{{xJa}}` in place of `{{x}}`: a value that is itself text, given in Japanese).
    for (const h of holes(ja.get(key)!)) assert.ok(holes(text).includes(h!.replace(/Ja$/, '')), `${key}: {{${h}}} only in ja`);
    assert.doesNotMatch(ja.get(key)!, /^[\x20-\x7e]*$/, `${key}: the Japanese text is ASCII only`);
  }
  const e = new NotAuthorizedError(explain('command.sameOperator', { verb: 'approve', operator: 'alice', id: 'c1' }));
  assert.equal(e.message, 'approve: operator alice submitted command c1; a second, different operator must approve it (自家用GL 7-1-2)');
  assert.equal(describeInLanguage(e, 'en'), e.message);
  assert.equal(describeInLanguage(e, 'ja'), 'コマンド c1 は運用者 alice が登録したものです。別の二人目の運用者が承認してください（自家用GL 7-1-2）');
  assert.equal(describeInLanguage(new Error('plain'), 'ja'), 'plain', 'an error without a key falls back to its message');
});

test('erab config check: the refused file, each problem\'s path and rule, in ja and en', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-err-lang-'));
  try {
    const file = join(dir, 'gateway.json');
    writeFileSync(file, JSON.stringify({ gatewayId: 42, colour: 'blue' }));
    const ja = await erab(['config', 'check', 'gateway', '--config', file], 'ja_JP.UTF-8');
    assert.equal(ja.code, 1, ja.err);
    assert.match(ja.err, new RegExp(`^erab: 設定ファイル ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} に誤りがあります:\\n`));
    assert.match(ja.err, /^ {2}- gatewayId: 文字列を指定してください（数値が指定されています）$/m);
    assert.match(ja.err, /^ {2}- tls: 必須の項目がありません（オブジェクト）$/m);
    assert.match(ja.err, /^ {2}- \(root\): 認識されていないキー: "colour"$/m);
    assert.doesNotMatch(ja.err, /is invalid|Invalid input|Unrecognized/);
    const en = await erab(['config', 'check', 'gateway', '--config', file, '--lang', 'en'], 'ja_JP.UTF-8');
    assert.equal(en.code, 1, en.err);
    assert.match(en.err, /^erab: configuration file \S+ is invalid:\n/);
    assert.match(en.err, /^ {2}- gatewayId: Invalid input: expected string, received number$/m);
    assert.match(en.err, /^ {2}- tls: Invalid input: expected object, received undefined$/m);
    assert.match(en.err, /^ {2}- \(root\): Unrecognized key: "colour"$/m);
    assert.equal(en.err.split('\n').length, ja.err.split('\n').length, 'the same problems in both');
    const notJson = join(dir, 'broken.json');
    writeFileSync(notJson, '{');
    assert.match((await erab(['config', 'check', 'gateway', '--config', notJson], 'ja_JP.UTF-8')).err, /^erab: 設定ファイル \S+ は正しい JSON ではありません: /);
    assert.match((await erab(['config', 'check', 'gateway', '--config', notJson], 'C.UTF-8')).err, /^erab: configuration file \S+ is not valid JSON: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('erab pki: argument and passphrase refusals in ja and en, with their exit codes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-err-lang-'));
  try {
    const both = await erab(['pki', 'revoke', '--dir', dir, '--serial', '01', '--role', 'gateway', '--id', 'GW1'], 'ja_JP.UTF-8');
    assert.equal(both.code, 2, both.err);
    assert.equal(both.err, 'erab: --serial か、--role と --id の組か、どちらか一方を指定してください\n');
    const bothEn = await erab(['pki', 'revoke', '--dir', dir, '--serial', '01', '--role', 'gateway', '--id', 'GW1'], 'en_US.UTF-8');
    assert.equal(bothEn.code, 2);
    assert.equal(bothEn.err, 'erab: give either --serial or --role with --id, not both\n');

    const empty = join(dir, 'empty.pass');
    writeFileSync(empty, '');
    const ja = await erab(['pki', 'init', '--dir', join(dir, 'pki'), '--passphrase-file', empty], 'ja_JP.UTF-8');
    assert.equal(ja.code, 1, ja.err);
    assert.equal(ja.err, `erab: パスフレーズファイル ${empty} が空です\n`);
    const en = await erab(['pki', 'init', '--dir', join(dir, 'pki'), '--passphrase-file', empty, '--lang', 'en'], 'ja_JP.UTF-8');
    assert.equal(en.err, `erab: passphrase file ${empty} is empty\n`);

    const lone = await erab(['pki', 'issue', '--dir', dir, '--role', 'operator', '--id', 'alice', '--p12-passphrase-file', empty, '--lang', 'ja'], 'C.UTF-8');
    assert.equal(lone.code, 2, lone.err);
    assert.equal(lone.err, 'erab: --p12-passphrase-file には --p12 <ファイル> が必要です\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('erab aggregator approve by the operator who submitted the command, and erab aggregator devices with a query the console refuses: the running aggregator\'s refusal in ja and en, exit 1', { timeout: 180_000 }, async () => {
  const world = await erabWorld({ prefix: 'erab-err-lang-approve-', operators: { bob: 'approver' }, portfolio: false });
  try {
    // bob (an approver) submits a command for the whole fleet: it is held for a second operator.
    const held = await world.api('bob', 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: 'fleet', durationMs: 600_000, reason: 'drill' });
    assert.equal(held.status, 202, held.text);
    const id = held.json.record.id as string;
    const bob = world.pki.get('bob').files;
    const approve = (lang: string, locale: string) => erab(['aggregator', 'approve', id, '--url', world.origin, '--cert', bob.certFile, '--key', bob.keyFile, '--ca', world.pki.caFile, '--aggregator', 'AGG1', '--lang', lang], locale);

    const ja = await approve('ja', 'C.UTF-8');
    assert.equal(ja.code, 1, ja.err);
    assert.equal(ja.err, `erab: 拒否されました（HTTP 403）: コマンド ${id} は運用者 bob が登録したものです。別の二人目の運用者が承認してください（自家用GL 7-1-2）\n`);
    assert.equal(ja.out, '');
    const en = await approve('en', 'ja_JP.UTF-8');
    assert.equal(en.code, 1, en.err);
    assert.equal(en.err, `erab: refused (HTTP 403): approve: operator bob submitted command ${id}; a second, different operator must approve it (自家用GL 7-1-2)\n`);

    // The aggregator refused both and still holds the command.
    const rec = await world.api('bob', 'GET', `/api/commands/${encodeURIComponent(id)}`);
    assert.equal(rec.json.state, 'held', rec.text);
    const refused = world.auditRecords('aggregator').filter((r) => r.action === 'console.commands.approve' && r.actor.id === 'bob');
    assert.deepEqual(refused.map((r) => r.outcome), ['refused', 'refused']);

    // A query the console refuses (request.badQuery): the parameter and its rule in the CLI's language.
    const devices = (args: string[], lang: string) => erab(['aggregator', 'devices', ...args, '--url', world.origin, '--cert', bob.certFile, '--key', bob.keyFile, '--ca', world.pki.caFile, '--aggregator', 'AGG1', '--lang', lang], 'C.UTF-8');
    const tooMany = await devices(['--limit', '900'], 'ja');
    assert.equal(tooMany.code, 1, tooMany.err);
    assert.equal(tooMany.err, 'erab: 拒否されました（HTTP 400）: クエリパラメーター「limit」: 大きすぎる値: 数値は500以下である必要があります\n');
    const tooManyEn = await devices(['--limit', '900'], 'en');
    assert.equal(tooManyEn.err, 'erab: refused (HTTP 400): query parameter "limit": Too big: expected number to be <=500\n');
    const bogus = await devices(['--cursor', 'bogus'], 'ja');
    assert.equal(bogus.err, 'erab: 拒否されました（HTTP 400）: クエリパラメーター「cursor」: この一覧が返したカーソルではありません（nextCursor を受け取ったまま指定してください）\n');
  } finally {
    await world.stop();
  }
});

test('a TSO schedule file and detection rules: refusals keyed, each problem\'s path and rule in ja and en', () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-err-lang-files-'));
  const refusal = (f: () => unknown): ErabError => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof ErabError, String(e));
      return e;
    }
    assert.fail('not refused');
  };
  try {
    const schedule = join(dir, 'schedule.json');
    writeFileSync(schedule, JSON.stringify({ dispatches: 'tomorrow' }));
    const s = refusal(() => loadSchedule(schedule, Date.now()));
    assert.equal(s.key, 'config.scheduleInvalid');
    assert.match(describeInLanguage(s, 'en'), new RegExp(`^schedule file ${schedule.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is invalid:\\n {2}- dispatches: `));
    assert.match(describeInLanguage(s, 'ja'), /^スケジュールファイル \S+ に誤りがあります:\n {2}- dispatches: 配列を指定してください/);

    const rulesFile = join(dir, 'rules.json');
    writeFileSync(rulesFile, JSON.stringify({ version: 2, rules: [] }));
    const r = refusal(() => loadRules({ file: rulesFile }));
    assert.match(describeInLanguage(r, 'ja'), /^\S+rules\.json の検知ルールに誤りがあります:\n {2}- version: /);
    writeFileSync(rulesFile, '{ not json');
    assert.match(describeInLanguage(refusal(() => loadRules({ file: rulesFile })), 'ja'), /^検知ルールファイル \S+rules\.json: /);

    const unknown = refusal(() => loadRules({ overrides: { 'no-such-rule': { enabled: false } } }));
    assert.match(describeInLanguage(unknown, 'en'), /^detection rule override "no-such-rule": no such rule \(known: /);
    assert.match(describeInLanguage(unknown, 'ja'), /^検知ルールの上書き「no-such-rule」: そのようなルールはありません（あるのは /);
    const badOverride = refusal(() => loadRules({ overrides: { 'mtls-refusals-from-source': { severity: 'extreme' } } }));
    assert.match(describeInLanguage(badOverride, 'ja'), /^検知ルールの上書き設定に誤りがあります:\n {2}- mtls-refusals-from-source\.severity: /);
    const breaking = refusal(() => loadRules({ overrides: { 'mtls-refusals-from-source': { params: { count: 0 } } } }));
    assert.equal(breaking.key, 'config.overrideInvalid', breaking.message);
    assert.match(describeInLanguage(breaking, 'ja'), /^検知ルールの上書き「mtls-refusals-from-source」に誤りがあります:\n {2}- /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
