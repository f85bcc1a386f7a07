/**
 * Usage errors that commander detects (an unknown option or command, a missing argument or option
 * value, a required option left out, too many arguments, a value outside its choices, a value an
 * option's parser refuses) in the CLI's language: Japanese under a Japanese locale, English under
 * C.UTF-8 and with `--lang en`; each as one `erab: ` line and the `--help` hint, exit code 2 —
 * real `erab` processes (test kit spawnErab). Options that exclude each other (no erab command
 * declares any today) and several suggestions at once are checked on a program built the same way,
 * in process; and the shared option parsers (src/cli/option-values.ts): what each accepts, and the
 * key of what it refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ErabCommand, COMMANDER_SEAMS, similarNames } from '../../src/cli/command.js';
import { hostPort, integerFrom, integerIn, numberFrom, numberIn, OptionValueError, positiveNumber } from '../../src/cli/option-values.js';
import { setCliLanguage } from '../../src/cli/i18n.js';
import { erabInLocale } from './erab-in-locale.js';

const erab = erabInLocale;

interface Case {
  args: string[];
  /** Where `--lang en` goes for the forced run (default: at the end); before a value-less option at the end. */
  langAt?: number;
  ja: string;
  en: string;
}

const HINT = { ja: '（使い方は --help で表示されます）', en: '(add --help for usage)' };

/** Each case under ja_JP.UTF-8, C.UTF-8 and with --lang en under ja_JP.UTF-8: exactly its line and the hint on stderr, nothing on stdout, exit 2. */
async function check(cases: Case[]): Promise<void> {
  for (const c of cases) {
    const at = c.langAt ?? c.args.length;
    const forcedArgs = [...c.args.slice(0, at), '--lang', 'en', ...c.args.slice(at)];
    const [ja, en, forced] = await Promise.all([erab(c.args, 'ja_JP.UTF-8'), erab(c.args, 'C.UTF-8'), erab(forcedArgs, 'ja_JP.UTF-8')]);
    const what = `erab ${c.args.join(' ')}`;
    for (const r of [ja, en, forced]) {
      assert.equal(r.code, 2, `${what}: ${r.err}`);
      assert.equal(r.out, '', `${what}: nothing on stdout`);
    }
    assert.equal(ja.err, `erab: ${c.ja}\n${HINT.ja}\n`, `${what} (ja)`);
    assert.equal(en.err, `erab: ${c.en}\n${HINT.en}\n`, `${what} (en)`);
    assert.equal(forced.err, en.err, `${what}: --lang en under a Japanese locale`);
  }
}

test('commander\'s usage errors in ja and en: unknown option and command (with a suggestion), missing argument and value, required option, too many arguments, choices', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-err-lang-usage-'));
  try {
    const cfg = join(dir, 'gateway.json');
    writeFileSync(cfg, '{}');
    await check([
      { args: ['alerts', 'rules', '--jsn'], ja: 'オプション --jsn はありません（--json のことですか？）', en: 'unknown option \'--jsn\' (did you mean --json?)' },
      { args: ['alerts', 'rules', '--zzzzzz'], ja: 'オプション --zzzzzz はありません', en: 'unknown option \'--zzzzzz\'' },
      { args: ['alertz'], ja: 'コマンド「erab alertz」はありません（alerts のことですか？）', en: 'unknown command \'erab alertz\' (did you mean alerts?)' },
      { args: ['alerts', 'lst'], ja: 'コマンド「erab alerts lst」はありません（list のことですか？）', en: 'unknown command \'erab alerts lst\' (did you mean list?)' },
      { args: ['config', 'check', '--config', cfg], ja: '必須の引数「role」がありません', en: 'missing required argument \'role\'' },
      { args: ['pki', 'issue', '--days'], langAt: 2, ja: 'オプション --days <n> に値がありません', en: 'option \'--days <n>\' argument missing' },
      { args: ['config', 'check', 'gateway'], ja: '必須のオプション --config <file> が指定されていません', en: 'required option \'--config <file>\' not specified' },
      { args: ['alerts', 'rules', 'extra'], ja: 'erab alerts rules の引数が多すぎます（0 個まで、指定されたのは 1 個）', en: 'too many arguments for \'erab alerts rules\': expected 0, got 1' },
      {
        args: ['alerts', 'list', '--status', 'closed'],
        ja: 'オプション --status <status> の値「closed」は使えません: 使える値は open, acknowledged, all です',
        en: 'option \'--status <status>\' argument \'closed\' is invalid: allowed choices are open, acknowledged, all',
      },
      {
        args: ['config', 'check', 'toaster', '--config', cfg],
        ja: '引数「role」の値「toaster」は使えません: 使える値は tso, aggregator, gateway, site, notify です',
        en: 'argument \'role\' value \'toaster\' is invalid: allowed choices are tso, aggregator, gateway, site, notify',
      },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('option values the parsers refuse, in ja and en: the option, the value and the rule', { timeout: 180_000 }, async () => {
  await check([
    // erab demo is a group (demo host, demo participant) that runs the demo itself: it takes --lang too.
    {
      args: ['demo', '--sites', '1'],
      ja: 'オプション --sites <n> の値「1」は使えません: --sites は 2〜5000 の整数にしてください',
      en: 'option \'--sites <n>\' argument \'1\' is invalid: --sites must be an integer from 2 to 5000',
    },
    {
      args: ['pki', 'issue', '--days', '0'],
      ja: 'オプション --days <n> の値「0」は使えません: --days は 1〜3650 の整数にしてください',
      en: 'option \'--days <n>\' argument \'0\' is invalid: --days must be an integer from 1 to 3650',
    },
    {
      args: ['audit', 'prove', '--index', '-1'],
      ja: 'オプション --index <n> の値「-1」は使えません: --index は 0 以上の整数にしてください',
      en: 'option \'--index <n>\' argument \'-1\' is invalid: --index must be a whole number ≥ 0',
    },
    {
      args: ['device', 'site', '--peer', 'gateway.local'],
      ja: 'オプション --peer <address[:port]> の値「gateway.local」は使えません: 「gateway.local」は IPv4 アドレス（ポート 1〜65535 を付けてもよい）ではありません。例: 127.0.0.1:3610',
      en: 'option \'--peer <address[:port]>\' argument \'gateway.local\' is invalid: "gateway.local" is not an IPv4 address with an optional port 1–65535, e.g. 127.0.0.1:3610',
    },
    {
      args: ['device', 'site', '--speed', 'fast'],
      ja: 'オプション --speed <x> の値「fast」は使えません: --speed は 0 より大きい数値にしてください',
      en: 'option \'--speed <x>\' argument \'fast\' is invalid: --speed must be a number > 0',
    },
    {
      args: ['openadr', 'vtn', '--listen', 'localhost'],
      ja: 'オプション --listen <host:port> の値「localhost」は使えません: --listen は host:port（ポートは 65535 まで）にしてください。例: 127.0.0.1:8443',
      en: 'option \'--listen <host:port>\' argument \'localhost\' is invalid: --listen must be host:port with a port up to 65535, e.g. 127.0.0.1:8443',
    },
    {
      args: ['aggregator', 'devices', '--limit', '0'],
      ja: 'オプション --limit <n> の値「0」は使えません: --limit は 0 より大きい数値にしてください',
      en: 'option \'--limit <n>\' argument \'0\' is invalid: --limit must be a number > 0',
    },
    {
      args: ['gateway', 'run', '--operator-port', '70000'],
      ja: 'オプション --operator-port <port> の値「70000」は使えません: --operator-port は 0〜65535 の整数にしてください',
      en: 'option \'--operator-port <port>\' argument \'70000\' is invalid: --operator-port must be an integer from 0 to 65535',
    },
  ]);
});

test('--help is the same under both locales and says nothing of errors', async () => {
  const [ja, en] = await Promise.all([erab(['alerts', 'rules', '--help'], 'ja_JP.UTF-8'), erab(['alerts', 'rules', '--help'], 'C.UTF-8')]);
  assert.equal(ja.code, 0, ja.err);
  assert.equal(ja.out, en.out);
  assert.match(en.out, /^Usage: erab alerts rules \[options\]\n/);
  assert.equal(ja.err, '');
});

test('options that exclude each other, in ja and en (a program of ErabCommands, in process), and the commander methods erab renders through still exist', () => {
  for (const m of COMMANDER_SEAMS) assert.equal(typeof (Command.prototype as unknown as Record<string, unknown>)[m], 'function', `commander no longer has ${m}`);
  const run = (lang: 'ja' | 'en'): { err: string; code: string } => {
    setCliLanguage(lang);
    let err = '';
    const program = new ErabCommand('erab').exitOverride().configureOutput({ writeErr: (s) => { err += s; }, writeOut: () => {} });
    program.command('export')
      .addOption(new Option('--to <host:port>', 'syslog collector').conflicts('out'))
      .option('--out <file>', 'file')
      .action(() => {});
    try {
      program.parse(['node', 'erab', 'export', '--to', 'a:1', '--out', 'f']);
    } catch (e) {
      assert.ok(e instanceof CommanderError);
      return { err, code: e.code };
    }
    assert.fail('not refused');
  };
  const ja = run('ja');
  assert.equal(ja.code, 'commander.conflictingOption');
  assert.equal(ja.err, 'erab: オプション --to <host:port> と --out <file> は同時に指定できません\n');
  assert.equal(run('en').err, 'erab: option \'--to <host:port>\' cannot be used with option \'--out <file>\'\n');
});

test('several suggestions for an unknown option, in ja and en (in process)', () => {
  const run = (lang: 'ja' | 'en'): string => {
    setCliLanguage(lang);
    let err = '';
    const program = new ErabCommand('erab').exitOverride().configureOutput({ writeErr: (s) => { err += s; }, writeOut: () => {} });
    program.command('listen').option('--part <p>', 'a part').option('--port <p>', 'a port').action(() => {});
    assert.throws(() => program.parse(['node', 'erab', 'listen', '--prt', '1']), (e: unknown) => e instanceof CommanderError && e.code === 'commander.unknownOption');
    return err;
  };
  assert.equal(run('ja'), 'erab: オプション --prt はありません（--part, --port のどれかのことですか？）\n');
  assert.equal(run('en'), 'erab: unknown option \'--prt\' (did you mean one of --part, --port?)\n');
  assert.deepEqual(similarNames('demoo', ['demo', 'device', 'drill']), ['demo']);
  assert.deepEqual(similarNames('--zzzzzz', ['--json', '--lang']), []);
});

test('the shared option parsers: what each accepts, and the keyed rule of what it refuses', () => {
  const refusal = (f: () => unknown): OptionValueError => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof OptionValueError, String(e));
      return e;
    }
    assert.fail('not refused');
  };
  const port = integerIn('--port', 0, 65535);
  assert.equal(port('3610'), 3610);
  assert.equal(integerIn('--maker-code', 0, 0xffffff)('0xFFFFFE'), 0xfffffe, 'ECHONET Lite codes in hex');
  for (const bad of ['', ' 1', '1.5', '1e3', '65536', '-1', 'abc']) {
    const e = refusal(() => port(bad));
    assert.equal(e.key, 'cli.option.integerRange', bad);
    assert.equal(e.message, '--port must be an integer from 0 to 65535');
  }
  assert.equal(integerFrom('--index', 0)('0'), 0);
  assert.equal(refusal(() => integerFrom('--index', 0)('-1')).key, 'cli.option.integerAtLeast');
  assert.equal(numberIn('--speed', 1, 600)('2.5'), 2.5);
  assert.equal(refusal(() => numberIn('--speed', 1, 600)('601')).key, 'cli.option.numberRange');
  assert.equal(numberFrom('--max-age-days', 0)('.5'), 0.5);
  assert.equal(positiveNumber('--duration')('0.1'), 0.1);
  for (const bad of ['0', '-2', 'Infinity', '']) assert.equal(refusal(() => positiveNumber('--duration')(bad)).key, 'cli.option.positiveNumber', bad);
  assert.deepEqual(hostPort('--listen')('[::1]:8443'), { host: '::1', port: 8443 });
  assert.equal(refusal(() => hostPort('--listen')('127.0.0.1:70000')).message, '--listen must be host:port with a port up to 65535, e.g. 127.0.0.1:8443');
});
