/**
 * The refusals an operator meets below src/cli — the incident book and its leak clock
 * (secops/incidents/book.ts, leak.ts), the drills (drill.ts, drill-outage.ts, drill-forged.ts),
 * the operator client (roles/common/operator-client.ts) and the compliance service
 * (compliance/service.ts, demo-profile.ts) — on the `erab:` line in the CLI's language (issue 16):
 * Japanese under ja_JP.UTF-8, English under C.UTF-8 and with `--lang en` (the English text is the
 * error's own message, unchanged), with exit code 1, as real `erab` processes. A case that needs a
 * state (an open incident, a declared leak) makes it first with `erab` in the run's own folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pkiWorld } from '../kit/index.js';
import { erabInLocale } from './erab-in-locale.js';

const erab = erabInLocale;

type InDir<T> = T | ((dir: string) => T);
const inDir = <T>(v: InDir<T>, dir: string): T => (typeof v === 'function' ? (v as (d: string) => T)(dir) : v);

interface Case {
  args: InDir<string[]>;
  /** `erab` commands run first in the same folder, each to succeed (the state the refusal needs). */
  setup?: (dir: string) => string[][];
  /** Files the run needs, written first into its folder: name → content. */
  files?: (dir: string) => Record<string, string>;
  /** The whole `erab: ` line, or its beginning when `prefix`. */
  ja: InDir<string>;
  en: InDir<string>;
  prefix?: boolean;
}

/** Each case under ja_JP.UTF-8, C.UTF-8 and --lang en, each in a folder of its own under `base`, exit code 1 every time. */
async function check(base: string, cases: Case[]): Promise<void> {
  let n = 0;
  const run = async (c: Case, lang: string, extra: string[]): Promise<{ dir: string; r: Awaited<ReturnType<typeof erab>> }> => {
    const dir = join(base, `run-${n++}`);
    mkdirSync(dir);
    for (const [name, content] of Object.entries(c.files?.(dir) ?? {})) writeFileSync(join(dir, name), content);
    for (const s of c.setup?.(dir) ?? []) {
      const r = await erab(s, 'C.UTF-8');
      assert.equal(r.code, 0, `setup erab ${s.join(' ')}: ${r.err}`);
    }
    return { dir, r: await erab([...inDir(c.args, dir), ...extra], lang) };
  };
  for (const c of cases) {
    const what = `erab ${inDir(c.args, '<dir>').join(' ')}`;
    const runs = await Promise.all([run(c, 'ja_JP.UTF-8', []), run(c, 'C.UTF-8', []), run(c, 'ja_JP.UTF-8', ['--lang', 'en'])]);
    runs.forEach(({ dir, r }, i) => {
      const label = ['ja', 'en', '--lang en'][i]!;
      const want = `erab: ${inDir(i === 0 ? c.ja : c.en, dir)}`;
      assert.equal(r.code, 1, `${what} (${label}): ${r.err}`);
      if (c.prefix) assert.ok(r.said.startsWith(want), `${what} (${label}): ${r.err}`);
      else assert.equal(r.said, want, `${what} (${label}): ${r.err}`);
    });
  }
}

/** The options of the incident desk in `dir` (its own store and audit log). */
const desk = (dir: string): string[] => ['--db', join(dir, 'incidents.db'), '--audit-dir', join(dir, 'audit')];
const opened = (dir: string): string[][] => [['incident', 'open', '--title', 'rogue peer at R4', '--operator', 'op-sato', ...desk(dir)]];
const leakDeclared = (dir: string): string[][] => [...opened(dir), ['incident', 'leak', '1', '--known-at', '2026-12-01T10:00:00+09:00', '--operator', 'op-sato', ...desk(dir)]];

test('the incident book: not found, empty text, bad actor, backwards and closed, in ja and en', { timeout: 300_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-err-lang-book-'));
  try {
    await check(base, [
      { args: (dir) => ['incident', 'show', '99', ...desk(dir)], ja: 'インシデント 99 はありません', en: 'incident 99: no such incident' },
      { args: (dir) => ['incident', 'open', '--title', '   ', '--operator', 'op-sato', ...desk(dir)], ja: 'インシデントの件名を空にはできません', en: 'incident title must not be empty' },
      {
        args: (dir) => ['incident', 'note', '1', 'seen at R4', '--operator', 'op sato', ...desk(dir)], setup: opened,
        ja: '操作者「op sato」は英数字と . _ : @ - からなる 1〜128 文字にしてください', en: 'actor "op sato" must be 1..128 letters, digits or . _ : @ -',
      },
      {
        args: (dir) => ['incident', 'status', '1', 'open', '--operator', 'op-sato', ...desk(dir)], setup: opened,
        ja: 'インシデント 1 は open から open へ移せません（open → contained → resolved → closed の順に進むだけで、戻せません）',
        en: 'incident 1: cannot move from open to open (open → contained → resolved → closed, forward only)',
      },
      {
        args: (dir) => ['incident', 'note', '1', 'one more thing', '--operator', 'op-sato', ...desk(dir)],
        setup: (dir) => [...opened(dir), ['incident', 'close', '1', '--operator', 'op-sato', ...desk(dir)]],
        ja: 'インシデント 1 はクローズ済みです: タイムラインにはもう何も追加できません', en: 'incident 1 is closed: nothing more is added to its timeline',
      },
    ]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('the leak clock: a future time, not declared, declared twice, final first, reported twice, in ja and en', { timeout: 300_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-err-lang-leak-'));
  try {
    await check(base, [
      {
        args: (dir) => ['incident', 'leak', '1', '--known-at', '2099-01-01T00:00:00Z', '--operator', 'op-sato', ...desk(dir)], setup: opened,
        ja: '漏えい等が判明した時刻を未来にはできません（2099-01-01T00:00:00.000Z）', en: 'the leak cannot become known in the future (2099-01-01T00:00:00.000Z)',
      },
      {
        args: (dir) => ['incident', 'leak-report', '1', 'preliminary', '--operator', 'op-sato', ...desk(dir)], setup: opened,
        ja: 'インシデント 1 は個人情報の漏えい等として登録されていません（erab incident leak 1 --known-at ... で登録します）',
        en: 'incident 1 is not a declared personal-data leak (erab incident leak 1 --known-at ...)',
      },
      {
        args: (dir) => ['incident', 'leak', '1', '--known-at', '2026-12-01T10:00:00+09:00', '--operator', 'op-sato', ...desk(dir)], setup: leakDeclared,
        ja: 'インシデント 1 はすでに漏えい等として登録されています', en: 'incident 1 is already a declared leak',
      },
      {
        args: (dir) => ['incident', 'leak-report', '1', 'final', '--operator', 'op-sato', ...desk(dir)], setup: leakDeclared,
        ja: 'インシデント 1: 確報は速報の後です。先に速報を記録してください', en: 'incident 1: the final report (確報) follows the preliminary one (速報); record that first',
      },
      {
        args: (dir) => ['incident', 'leak-report', '1', 'preliminary', '--operator', 'op-sato', ...desk(dir)],
        setup: (dir) => [...leakDeclared(dir), ['incident', 'leak-report', '1', 'preliminary', '--at', '2026-12-02T10:00:00+09:00', '--operator', 'op-sato', ...desk(dir)]],
        ja: 'インシデント 1: 速報はすでに記録されています', en: 'incident 1: the preliminary report is already recorded',
      },
    ]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('the drills: a target that is no URL or not loopback, no PKI folder, no store, a process that is no aggregator, in ja and en', { timeout: 300_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-err-lang-drill-'));
  try {
    const run = (scenario: string, dir: string, url: string, more: string[] = []): string[] => ['drill', 'run', scenario, '--target', dir, '--url', url, '--alerts-db', join(dir, 'alerts.db'), '--out', join(dir, 'drill.json'), ...more, ...desk(dir)];
    await check(base, [
      { args: (dir) => run('rogue-peer', dir, 'nota url'), ja: '訓練の対象 URL「nota url」は URL ではありません', en: 'drill target URL "nota url" is not a URL' },
      {
        args: (dir) => run('rogue-peer', dir, 'https://10.0.0.1:8443'),
        ja: '訓練の対象 https://10.0.0.1:8443: 訓練で攻撃できるのはループバックアドレス（127.0.0.0/8、::1）だけです',
        en: 'drill target https://10.0.0.1:8443: only loopback addresses (127.0.0.0/8, ::1) may be attacked by a drill',
      },
      { args: (dir) => run('rogue-peer', dir, 'http://127.0.0.1:8443'), ja: '訓練の対象 http://127.0.0.1:8443 は https://host:port にしてください', en: 'drill target http://127.0.0.1:8443 must be https://host:port' },
      {
        args: (dir) => run('forged-command', dir, 'https://127.0.0.1:1'),
        ja: 'drill forged-command: 配備の PKI フォルダー（--pki）が必要です（偽造者は対象が受け入れる証明書を提示します）',
        en: 'drill forged-command: the deployment\'s PKI folder is needed (--pki): the forger presents a certificate the target admits',
      },
      { args: (dir) => run('revoked-gateway', dir, 'https://127.0.0.1:1'), ja: 'drill revoked-gateway: 配備の PKI フォルダー（--pki）が必要です', en: 'drill revoked-gateway: the deployment\'s PKI folder is needed (--pki)' },
      {
        args: (dir) => run('rogue-peer', dir, 'https://127.0.0.1:1'),
        ja: (dir) => `訓練: 参加者のストア ${join(dir, 'alerts.db')} がありません（参加者はこのストアで動いていますか？）`,
        en: (dir) => `drill: the participant's store ${join(dir, 'alerts.db')} does not exist (is it running, with this store?)`,
      },
      {
        args: (dir) => ['drill', 'run', 'aggregator-outage', '--target', dir, '--alerts-db', join(dir, 'alerts.db'), '--pid', '1', ...desk(dir)],
        ja: 'drill aggregator-outage: --pid は 1 より大きいプロセス ID にしてください（指定された値: 1）', en: 'drill aggregator-outage: --pid must be a process id above 1, got 1',
      },
      {
        // This test's own process: alive, and no aggregator.
        args: (dir) => ['drill', 'run', 'aggregator-outage', '--target', dir, '--alerts-db', join(dir, 'alerts.db'), '--pid', String(process.pid), ...desk(dir)],
        ja: `drill aggregator-outage: プロセス ${process.pid} は「erab aggregator run」ではありません（`,
        en: `drill aggregator-outage: process ${process.pid} is not "erab aggregator run" (`,
        prefix: true,
      },
    ]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('erab compliance: a folder that is no demo, and refused decisions, in ja and en', { timeout: 300_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'erab-err-lang-compliance2-'));
  try {
    // A profile of the run's own: its store and audit log in the run's folder.
    const profile = (dir: string): Record<string, string> => ({
      'profile.json': JSON.stringify({ participant: { id: 'TSO-1' }, roles: ['tso'], store: join(dir, 'c.db'), audit: { dir: join(dir, 'audit') } }),
    });
    const decide = (dir: string, control: string): string[] => ['compliance', 'decide', '--profile', join(dir, 'profile.json'), '--control', control, '--kind', 'implemented-by-process', '--reference', 'SOP-7', '--approver', 'sato', '--review', '2099-12-01'];
    await check(base, [
      {
        args: (dir) => ['compliance', 'status', '--demo', join(dir, 'nowhere')],
        ja: (dir) => `${join(dir, 'nowhere', 'AGG-A', 'config.json')} がありません: ${join(dir, 'nowhere')} は参加者 AGG-A のいる erab demo の作業フォルダーですか？`,
        en: (dir) => `${join(dir, 'nowhere', 'AGG-A', 'config.json')} not found: is ${join(dir, 'nowhere')} an erab demo work folder with participant AGG-A?`,
      },
      {
        args: (dir) => decide(dir, 'jk-99'), files: profile,
        ja: 'jk-99 についての判断は受け付けられません: カタログにそのコントロールはありません', en: 'decision on jk-99 refused: no such control in the catalogs',
      },
      {
        args: (dir) => decide(dir, 'jk-3-1'), files: profile,
        ja: 'jk-3-1 についての判断は受け付けられません: この事業者には適用されません（ロール tso、区分の宣言なし。対象は 区分のある事業者）',
        en: 'decision on jk-3-1 refused: it does not apply to this operator (roles tso, no 区分 declared; it is for operators with a 区分)',
      },
    ]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('the operator client: a gateway URL that is no URL or not https, in ja and en', { timeout: 120_000 }, async () => {
  const pki = await pkiWorld({ ops: 'operator:op-sato' });
  try {
    const ops = pki.get('ops');
    const repin = (gateway: string): string[] => ['gateway', 'repin', '--gateway', gateway, '--device', 'D1', '--address', '127.0.0.9', '--reason', 'new lease', '--cert', ops.files.certFile, '--key', ops.files.keyFile, '--ca', pki.caFile];
    await check(pki.dir, [
      { args: repin('gw-7'), ja: '運用者の URL「gw-7」は URL ではありません', en: 'operator URL "gw-7" is not a URL' },
      { args: repin('http://127.0.0.1:9464'), ja: '運用者の URL http://127.0.0.1:9464 は https://（相互 TLS）にしてください', en: 'operator URL http://127.0.0.1:9464 must be https:// (mutual TLS)' },
    ]);
  } finally {
    pki.close();
  }
});
