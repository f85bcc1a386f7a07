/**
 * The refusals of `erab incident`, `drill`, `aggregator status|command|devices|admit|quarantine|release`,
 * `alerts`, `device`, `update`, `compliance`, `pki` and `gateway repin` in the CLI's language
 * (issue 16): Japanese under a Japanese locale, English under C.UTF-8 and with `--lang en` (the
 * English text is the error's own message, unchanged), with the exit code they always had (2 for
 * a usage problem, 1 for refused input) — as real `erab` processes (the compiled CLI, test kit
 * spawnErab). Most are found before any file or network access; the incident desk's ones run
 * with a desk (store and audit log) of their own in a temporary folder, one per process, since
 * an audit log is appended by one process at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pkiWorld } from '../kit/index.js';
import { erabInLocale } from './erab-in-locale.js';

const erab = erabInLocale;

interface Case {
  /** The arguments; a function of a fresh folder when the command opens files there (an incident desk). */
  args: string[] | ((dir: string) => string[]);
  /** The whole `erab: ` line, or its beginning when `prefix`. */
  ja: string;
  en: string;
  prefix?: boolean;
  /** The exit code: 2 for a usage problem (the default here), 1 for refused input. */
  exit?: number;
}

/**
 * Runs each case under ja_JP.UTF-8, under C.UTF-8 and with --lang en under the Japanese locale,
 * with the case's exit code every time; each run gets a folder of its own under `base`.
 */
async function check(base: string, cases: Case[]): Promise<void> {
  let n = 0;
  const argsOf = (c: Case): string[] => {
    if (Array.isArray(c.args)) return c.args;
    const dir = join(base, `run-${n++}`);
    mkdirSync(dir);
    return c.args(dir);
  };
  for (const c of cases) {
    const shown = Array.isArray(c.args) ? c.args : c.args('<dir>');
    const what = `erab ${shown.join(' ')}`;
    const [ja, en, forced] = await Promise.all([erab(argsOf(c), 'ja_JP.UTF-8'), erab(argsOf(c), 'C.UTF-8'), erab([...argsOf(c), '--lang', 'en'], 'ja_JP.UTF-8')]);
    for (const r of [ja, en, forced]) assert.equal(r.code, c.exit ?? 2, `${what}: ${r.err}`);
    if (c.prefix) {
      assert.ok(ja.said.startsWith(`erab: ${c.ja}`), `${what} (ja): ${ja.err}`);
      assert.ok(en.said.startsWith(`erab: ${c.en}`), `${what} (en): ${en.err}`);
      assert.ok(forced.said.startsWith(`erab: ${c.en}`), `${what} (--lang en): ${forced.err}`);
    } else {
      assert.equal(ja.said, `erab: ${c.ja}`, `${what} (ja): ${ja.err}`);
      assert.equal(en.said, `erab: ${c.en}`, `${what} (en): ${en.err}`);
      assert.equal(forced.said, `erab: ${c.en}`, `${what} (--lang en): ${forced.err}`);
    }
  }
}

/** The options of the incident desk in `dir` (its own store and audit log). */
const desk = (dir: string): string[] => ['--db', join(dir, 'incidents.db'), '--audit-dir', join(dir, 'audit')];

test('erab incident: refused arguments in ja and en', { timeout: 180_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-err-lang-incident-'));
  try {
    await check(base, [
      { args: ['incident', 'open', '--operator', 'op-sato'], ja: '--alert <id>（--alerts-db と一緒に）か --title を指定してください', en: 'give --alert <id> (with --alerts-db) or --title' },
      {
        args: ['incident', 'open', '--operator', 'op-sato', '--alert', '7'],
        ja: '--alert には --alerts-db <url>（アラートを出したロールのストア）が必要です',
        en: '--alert needs --alerts-db <url> (the store of the role that raised it)',
      },
      {
        args: ['incident', 'status', '3', 'finished', '--operator', 'op-sato'],
        ja: '状態は open, contained, resolved, closed のいずれかにしてください',
        en: 'status must be one of open, contained, resolved, closed',
      },
      {
        args: ['incident', 'act', '3', 'reboot', '--operator', 'op-sato'],
        ja: '手順は revoke, safe-mode, leave-safe-mode, quarantine, notify のいずれかにしてください',
        en: 'step must be one of revoke, safe-mode, leave-safe-mode, quarantine, notify',
      },
      {
        args: (dir) => ['incident', 'show', 'x7', ...desk(dir)],
        ja: 'インシデント番号は正の整数にしてください（指定された値:「x7」）',
        en: 'incident id must be a positive integer, got "x7"',
      },
      {
        args: (dir) => ['incident', 'act', '3', 'revoke', '--operator', 'op-sato', ...desk(dir)],
        ja: 'revoke: 失効させる証明書を --pki <dir>、--role、--id で指定してください',
        en: 'revoke: --pki <dir>, --role and --id name the certificate to revoke',
      },
      {
        args: (dir) => ['incident', 'act', '3', 'safe-mode', '--operator', 'op-sato', ...desk(dir)],
        ja: '--gateway <運用者の URL>（複数指定可）か --fleet <{"gateways": [...]} を書いたファイル> を指定してください',
        en: 'give --gateway <operator URL> (repeatable) or --fleet <file with {"gateways": [...]}>',
      },
      {
        args: (dir) => ['incident', 'act', '3', 'notify', '--operator', 'op-sato', '--notify-db', join(dir, 'notify.db'), '--all', '--site', 'S1', ...desk(dir)],
        ja: 'notify: --all、--participant、--site、--recipient-role のうち一つだけを指定してください',
        en: 'notify: give exactly one of --all, --participant, --site, --recipient-role',
      },
      // The leak's legal clock (incident-leak.ts).
      {
        args: ['incident', 'leak', '3', '--known-at', '2026-12-01 10:00', '--operator', 'op-sato'],
        ja: '--known-at はオフセット付きの ISO 8601 時刻にしてください（例: 2026-12-01T10:00:00+09:00、指定された値:「2026-12-01 10:00」）',
        en: '--known-at must be an ISO 8601 time with its offset, e.g. 2026-12-01T10:00:00+09:00, got "2026-12-01 10:00"',
      },
      {
        args: ['incident', 'leak', '3', '--known-at', '2026-13-45T10:00:00+09:00', '--operator', 'op-sato'],
        ja: '--known-at「2026-13-45T10:00:00+09:00」は正しい時刻ではありません',
        en: '--known-at "2026-13-45T10:00:00+09:00" is not a valid time',
      },
      { args: ['incident', 'leak-report', '3', 'interim', '--operator', 'op-sato'], ja: '報告の種類は preliminary, final のいずれかにしてください', en: 'report must be one of preliminary, final' },
      {
        args: ['incident', 'leak-remind', '--notify-db', join(base, 'n.db'), '--all', '--participant', 'AGG-A'],
        ja: '--all、--participant、--recipient-role のうち一つだけを指定してください',
        en: 'give exactly one of --all, --participant, --recipient-role',
      },
    ]);
    // The desk's audit log cannot be opened: a file stands where its folder would be (exit 2, as before).
    const blocked = join(base, 'blocked');
    writeFileSync(blocked, 'not a folder');
    const [ja, en] = await Promise.all([erab(['incident', 'list', '--db', join(base, 'l.db'), '--audit-dir', blocked], 'ja_JP.UTF-8'), erab(['incident', 'list', '--db', join(base, 'l2.db'), '--audit-dir', blocked], 'C.UTF-8')]);
    assert.equal(ja.code, 2, ja.err);
    assert.equal(en.code, 2, en.err);
    assert.ok(ja.said.startsWith(`erab: --audit-dir ${blocked} の監査ログを開けません: `), ja.err);
    assert.ok(en.said.startsWith(`erab: --audit-dir ${blocked}: `), en.err);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('erab drill and erab alerts: refused arguments in ja and en', { timeout: 180_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-err-lang-drill-'));
  try {
    const nowhere = join(base, 'nowhere');
    await check(base, [
      {
        args: ['drill', 'run', 'meteor', '--target', nowhere],
        ja: 'シナリオは rogue-peer, revoked-gateway, flood, forged-command, aggregator-outage のいずれかにしてください',
        en: 'scenario must be one of rogue-peer, revoked-gateway, flood, forged-command, aggregator-outage',
      },
      { args: ['drill', 'run', 'rogue-peer', '--target', nowhere, '--attempts', '0'], ja: '--attempts は 1〜1000 にしてください（指定された値: 0）', en: '--attempts must be 1..1000, got 0' },
      { args: ['drill', 'run', 'rogue-peer', '--target', nowhere, '--wait', '4000'], ja: '--wait は 0〜3600 秒にしてください（指定された値: 4000）', en: '--wait must be 0..3600 seconds, got 4000' },
      {
        args: ['drill', 'run', 'aggregator-outage', '--target', nowhere],
        ja: 'aggregator-outage: 一時停止する `erab aggregator run` のプロセスを --pid で指定してください',
        en: 'aggregator-outage: give --pid, the `erab aggregator run` process to pause',
      },
      { args: ['drill', 'run', 'flood', '--target', nowhere, '--pid', '42'], ja: '--pid は aggregator-outage 専用です（flood には使えません）', en: '--pid is for aggregator-outage only, not flood' },
      {
        args: ['drill', 'run', 'rogue-peer', '--target', nowhere],
        ja: `--target ${nowhere}: デモのフォルダーでも、config.json のある参加者のフォルダーでもありません。--url と --alerts-db を指定してください`,
        en: `--target ${nowhere}: neither a demo folder nor a participant folder with config.json; give --url and --alerts-db`,
      },
      { args: ['drill', 'show', '0'], ja: '訓練番号は正の整数にしてください（指定された値:「0」）', en: 'drill number must be a positive integer, got "0"' },
      { args: (dir) => ['drill', 'show', '5', ...desk(dir)], ja: '訓練 5 はありません', en: 'drill 5: no such drill' },
      { args: ['alerts', 'list', '--limit', '0'], ja: '--limit は 1〜10000 の整数にしてください（指定された値: 0）', en: '--limit must be an integer 1..10000, got 0' },
      { args: ['alerts', 'ack', 'seven', '--operator', 'op-sato'], ja: 'アラート番号は正の整数にしてください（指定された値:「seven」）', en: 'alert id must be a positive integer, got "seven"' },
    ]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('erab aggregator (the operator console), device, update, compliance and pki: refused arguments in ja and en', { timeout: 180_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-err-lang-console-'));
  try {
    // The files are never read: every refusal comes first.
    const conn = (url: string) => ['--url', url, '--cert', join(base, 'op.pem'), '--key', join(base, 'op.key'), '--ca', join(base, 'ca.pem')];
    const ok = conn('https://127.0.0.1:9443');
    await check(base, [
      { args: ['aggregator', 'status', ...conn('nowhere')], ja: '--url:「nowhere」は URL ではありません', en: '--url: "nowhere" is not a URL' },
      { args: ['aggregator', 'status', ...conn('http://127.0.0.1:9443')], ja: '--url は https:// にしてください（相互 TLS）', en: '--url must be https:// (mutual TLS)' },
      {
        args: ['aggregator', 'command', ...ok, '--action', 'reduce', '--reason', 'evening peak'],
        ja: 'reduce と increase には --power-kw と --duration-min が必要です',
        en: '--power-kw and --duration-min are required for reduce and increase',
      },
      {
        args: ['aggregator', 'command', ...ok, '--action', 'release', '--pool', 'p1', '--resources', 'fleet', '--reason', 'done'],
        ja: '--pool と --resources はどちらか一方だけを指定してください',
        en: '--pool and --resources: give one of them',
      },
      {
        args: ['aggregator', 'devices', ...ok, '--state', 'lost'],
        ja: '--state は admitted, pending, quarantined, rejected のいずれかにしてください（指定された値:「lost」）',
        en: '--state must be one of admitted, pending, quarantined, rejected, got "lost"',
      },
      { args: ['aggregator', 'admit', 'D1', ...ok, '--revision', '1.5'], ja: '--revision は整数にしてください（指定された値:「1.5」）', en: '--revision must be a whole number, got "1.5"' },
      { args: ['aggregator', 'quarantine', 'D1', ...ok, '--reason', ' '], ja: '--reason を空にはできません（監査ログに記録されます）', en: '--reason must not be empty (it is recorded in the audit log)' },
      // erab device: the simulated homes' options.
      {
        args: ['device', 'sites', '--count', '1', '--base-address', '127.0.0.1', '--battery', 'big'],
        ja: '--battery「big」は A[:B]（数値）の形にしてください',
        en: '--battery "big" is not in the form A[:B] (numbers)',
      },
      { args: ['device', 'sites', '--count', '1', '--base-address', '127.0.0.1', '--ev-hours', '18-8'], ja: '--ev-hours には --ev が必要です', en: '--ev-hours needs --ev' },
      {
        args: ['device', 'sites', '--count', '1', '--base-address', '127.0.0.1', '--ev', '--ev-hours', 'evening'],
        ja: '--ev-hours「evening」は 開始時-終了時（例: 18-8）の形にしてください',
        en: '--ev-hours "evening" is not FROM-TO in hours (e.g. 18-8)',
      },
      { args: ['device', 'sites', '--count', '1', '--base-address', '127.0.0.1', '--start', 'tomorrow'], ja: '--start「tomorrow」は ISO 8601 の日時ではありません', en: '--start "tomorrow" is not an ISO 8601 instant' },
      // erab update pack: which files go with which target.
      {
        args: ['update', 'pack', '--id', 'p', '--package-version', '1.0.0', '--target', 'software', '--out', join(base, 'p.json')],
        ja: '--target software はリリースのフォルダーをまとめます: --tree <dir> を指定してください（--file は指定しないでください）',
        en: '--target software packs a release folder: give --tree <dir> (and no --file)',
      },
      {
        args: ['update', 'pack', '--id', 'p', '--package-version', '1.0.0', '--target', 'config', '--class', 'battery', '--file', join(base, 'f'), '--out', join(base, 'p.json')],
        ja: '--class、--maker、--product は --target device 用です',
        en: '--class, --maker and --product belong to --target device',
      },
      // erab compliance: the profile.
      {
        args: ['compliance', 'status'],
        ja: 'コンプライアンスのプロファイルに誤りがあります: participant: 必須の項目がありません（オブジェクト）、roles: 必須の項目がありません（配列）（--profile か、--participant と --role を指定してください）',
        en: 'compliance profile: participant: Invalid input: expected object, received undefined; roles: Invalid input: expected array, received undefined (give --profile or --participant and --role)',
      },
      { args: ['compliance', 'status', '--demo', base, '--profile', join(base, 'profile.json')], ja: '--profile か --demo のどちらか一方を指定してください', en: 'give either --profile or --demo' },
      // erab pki: the participant named by --role and --id (refused input, exit 2 as a usage problem).
      {
        args: ['pki', 'issue', '--dir', join(base, 'pki'), '--role', 'gateway', '--id', 'GW 1'],
        ja: '参加者 ID「GW 1」は ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ に合う形（英数字と . _ - で 1〜64 文字）にしてください',
        en: 'participant id "GW 1" must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (1-64 letters, digits, . _ -)',
      },
    ]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('erab compliance decide: a date that is not YYYY-MM-DD, in ja and en', { timeout: 120_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-err-lang-compliance-'));
  try {
    await check(base, [{
      args: ['compliance', 'decide', '--participant', 'AGG-A', '--role', 'aggregator', '--store', join(base, 'c.db'), '--control', 'jk-2-3', '--kind', 'implemented-by-process', '--approver', 'sato', '--review', '2027/03/31', '--date', '31.12.2026'],
      ja: '--date は YYYY-MM-DD の日付にしてください（指定された値:「31.12.2026」）',
      en: '--date must be a date YYYY-MM-DD, got "31.12.2026"',
    }]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('erab gateway repin: a gateway that closes the connection is reported in ja and en', { timeout: 120_000 }, async () => {
  const pki = await pkiWorld({ ops: 'operator:op-sato' });
  try {
    const ops = pki.get('ops');
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const args = ['gateway', 'repin', '--gateway', 'https://127.0.0.1:1', '--device', 'D1', '--address', '127.0.0.9', '--reason', 'new lease', '--cert', ops.files.certFile, '--key', ops.files.keyFile, '--ca', pki.caFile];
    const [ja, en, forced] = await Promise.all([erab(args, 'ja_JP.UTF-8'), erab(args, 'C.UTF-8'), erab([...args, '--lang', 'en'], 'ja_JP.UTF-8')]);
    for (const r of [ja, en, forced]) assert.equal(r.code, 1, r.err);
    assert.match(ja.err, /^repin は拒否されました: https:\/\/127\.0\.0\.1:1 が接続を切りました（.*ECONNREFUSED.*）。運用者の証明書しか受け付けません\n$/, ja.err);
    assert.match(en.err, /^repin refused: https:\/\/127\.0\.0\.1:1 closed the connection \(.*ECONNREFUSED.*\); it accepts operator certificates only\n$/, en.err);
    assert.equal(forced.err, en.err);
  } finally {
    pki.close();
  }
});
