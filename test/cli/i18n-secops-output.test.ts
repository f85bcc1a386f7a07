/**
 * The normal output of `erab incident`, `erab incident leak`, `erab drill` and `erab update` in
 * the CLI's language (issue 16): Japanese under ja_JP.UTF-8, English under C.UTF-8 and with
 * `--lang en` (the English lines as they always were) — as real `erab` processes, each in a
 * folder of its own (an incident desk: store and audit log), after the `erab` commands that make
 * the state the line reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { erabInLocale } from './erab-in-locale.js';

const erab = erabInLocale;

interface Case {
  args: (dir: string) => string[];
  setup?: (dir: string) => string[][];
  files?: (dir: string) => Record<string, string>;
  /** Anything else the run's folder needs first (a store written by the test itself). */
  prepare?: (dir: string) => Promise<void>;
  /** The whole stdout, or a pattern it must match. */
  ja: string | RegExp | ((dir: string) => string);
  en: string | RegExp | ((dir: string) => string);
}

/** Each case under ja_JP.UTF-8, C.UTF-8 and --lang en, each in a folder of its own, exit code 0. */
async function check(base: string, cases: Case[]): Promise<void> {
  let n = 0;
  const run = async (c: Case, lang: string, extra: string[]): Promise<{ dir: string; r: Awaited<ReturnType<typeof erab>> }> => {
    const dir = join(base, `run-${n++}`);
    mkdirSync(dir);
    for (const [name, content] of Object.entries(c.files?.(dir) ?? {})) writeFileSync(join(dir, name), content);
    await c.prepare?.(dir);
    for (const s of c.setup?.(dir) ?? []) {
      const r = await erab(s, 'C.UTF-8');
      assert.equal(r.code, 0, `setup erab ${s.join(' ')}: ${r.err}`);
    }
    return { dir, r: await erab([...c.args(dir), ...extra], lang) };
  };
  for (const c of cases) {
    const what = `erab ${c.args('<dir>').join(' ')}`;
    const runs = await Promise.all([run(c, 'ja_JP.UTF-8', []), run(c, 'C.UTF-8', []), run(c, 'ja_JP.UTF-8', ['--lang', 'en'])]);
    runs.forEach(({ dir, r }, i) => {
      const label = ['ja', 'en', '--lang en'][i]!;
      const want = i === 0 ? c.ja : c.en;
      assert.equal(r.code, 0, `${what} (${label}): ${r.err}`);
      if (want instanceof RegExp) assert.match(r.out, want, `${what} (${label})`);
      else assert.equal(r.out, typeof want === 'function' ? want(dir) : want, `${what} (${label})`);
    });
  }
}

const desk = (dir: string): string[] => ['--db', join(dir, 'incidents.db'), '--audit-dir', join(dir, 'audit')];
const opened = (dir: string): string[][] => [['incident', 'open', '--title', 'rogue peer at R4', '--operator', 'op-sato', ...desk(dir)]];

test('erab incident note, status and leak, erab drill list: their lines in ja and en', { timeout: 300_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-out-lang-incident-'));
  try {
    await check(base, [
      { args: (dir) => ['incident', 'note', '1', 'source is the lab scanner', '--operator', 'op-sato', ...desk(dir)], setup: opened, ja: 'メモを追加しました（#2）\n', en: 'noted (#2)\n' },
      { args: (dir) => ['incident', 'status', '1', 'contained', '--operator', 'op-sato', ...desk(dir)], setup: opened, ja: '#1 の状態は contained です\n', en: '#1 is contained\n' },
      {
        args: (dir) => ['incident', 'leak', '1', '--known-at', '2026-12-01T10:00:00+09:00', '--operator', 'op-sato', ...desk(dir)], setup: opened,
        ja: /^#1 を個人情報の漏えい等として登録しました。個人情報保護委員会への報告:\n {2}速報（目安 3 日）: 期限 \S+ — (残り \d+ 時間|\d+ 時間超過)\n {2}速報（期限 5 日）: 期限 .*\n {2}確報（30 日以内）: 期限 .*\n$/,
        en: /^#1 is a personal-data leak; reports to the PPC:\n {2}速報 preliminary \(3 days\): due \S+ — (\d+ h left|OVERDUE by \d+ h)\n {2}速報 preliminary \(5 days, limit\): due .*\n {2}確報 final \(30 days\): due .*\n$/,
      },
      {
        args: (dir) => ['incident', 'leak-report', '1', 'preliminary', '--at', '2026-12-02T10:00:00+09:00', '--operator', 'op-sato', ...desk(dir)],
        setup: (dir) => [...opened(dir), ['incident', 'leak', '1', '--known-at', '2026-12-01T10:00:00+09:00', '--operator', 'op-sato', ...desk(dir)]],
        ja: /^#1 の速報を記録しました:\n {2}速報（目安 3 日）: 期限 \S+ — 2026-12-02T10:00:00\+09:00 に報告済み\n/,
        en: /^preliminary report of #1 recorded:\n {2}速報 preliminary \(3 days\): due \S+ — reported 2026-12-02T10:00:00\+09:00\n/,
      },
      { args: (dir) => ['drill', 'list', ...desk(dir)], ja: '訓練の記録はありません\n', en: 'no drills\n' },
    ]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('erab update pack: its line in ja and en', { timeout: 120_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-out-lang-update-'));
  try {
    await check(base, [{
      args: (dir) => ['update', 'pack', '--id', 'site-config', '--package-version', '1.2.0', '--target', 'config', '--file', join(dir, 'site.json'), '--out', join(dir, 'pkg.json')],
      files: () => ({ 'site.json': '{"poll":30}\n' }),
      ja: (dir) => `site-config@1.2.0 をまとめました（ファイル 1 個、署名なし）: ${join(dir, 'pkg.json')}\n`,
      en: (dir) => `packed site-config@1.2.0 (1 file(s), unsigned): ${join(dir, 'pkg.json')}\n`,
    }]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('erab alerts ack: its line in ja and en', { timeout: 120_000 }, async () => {
  const { openStore } = await import('../../src/store/store.js');
  const { AlertBook, detectMigrations } = await import('../../src/secops/detect/alerts.js');
  const { loadRules } = await import('../../src/secops/detect/rules.js');
  const rule = loadRules()[0]!;
  const base = mkdtempSync(join(tmpdir(), 'erab-out-lang-alerts-'));
  try {
    await check(base, [{
      args: (dir) => ['alerts', 'ack', '1', '--operator', 'op-sato', '--db', join(dir, 'agg.db')],
      // One open alert in the run's store, as a role's detection records it.
      prepare: async (dir) => {
        const store = await openStore({ url: join(dir, 'agg.db'), migrations: detectMigrations });
        try {
          await new AlertBook(store).record(store.db, { rule, key: 'peer:R4-X', time: Date.now(), evidence: [], summary: 'a rogue peer' }, Date.now());
        } finally {
          await store.close();
        }
      },
      ja: `アラート #1（${rule.id}、peer:R4-X）を op-sato として確認しました。動作中のロールが次の検知の際に監査ログに記録します\n`,
      en: `acknowledged #1 (${rule.id}, peer:R4-X) as op-sato; to be audited by the running role at its next detection pass\n`,
    }]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
