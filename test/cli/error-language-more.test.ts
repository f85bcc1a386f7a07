/**
 * More errors an operator meets, in the CLI's language (issue 16): the argument and file refusals
 * of `erab audit`, `backup`/`restore`, `privacy`, `notify`, `vuln`, `aggregator portfolio`,
 * `aggregator run`, `tso`, `gateway`, `openadr`, `demo` and `device` — Japanese under a Japanese
 * locale, English with `--lang en` or an English locale (the English text is the error's own
 * message, unchanged) — as real `erab` processes (the compiled CLI, test kit spawnErab); and the
 * roles' start-up refusals (a gateway or a device's Web API given another participant's
 * certificate, secret files, audit and witness key files readable by others, notify channels) in
 * both languages, in process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, describeInLanguage, ErabError } from '../../src/core/errors.js';
import { readSecretFile } from '../../src/core/config.js';
import { Gateway, acceleratedClock, gatewayConfigSchema, validateManagedConfig } from '../../src/roles/gateway/gateway.js';
import { parseSiteConfig } from '../../src/roles/device/site.js';
import { openSiteRuntime } from '../../src/roles/device/site-runtime.js';
import { nthAddress } from '../../src/roles/device/sites.js';
import { acquireLock, loadOrCreateSigner, LOCK_FILE } from '../../src/security/audit/store.js';
import { AuditWitness } from '../../src/security/audit/witness.js';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { AuditLog } from '../../src/security/audit/log.js';
import { buildChannels, notifyConfigSchema } from '../../src/secops/notify/config.js';
import { secopsCommand } from '../../src/cli/commands/aggregator-secops.js';
import { pkiWorld } from '../kit/index.js';
import { erabInLocale } from './erab-in-locale.js';

const erab = erabInLocale;

interface Case {
  args: string[];
  /** The whole `erab: ` line, or its beginning when `prefix` (an OS error's text follows). */
  ja: string;
  en: string;
  prefix?: boolean;
  /** The exit code: 1 (refused input), 2 for a usage error. */
  exit?: number;
}

/** Runs each case under ja_JP.UTF-8 and under C.UTF-8 (and once more with --lang en under the Japanese locale), with the case's exit code every time. */
async function check(cases: Case[]): Promise<void> {
  for (const c of cases) {
    const [ja, en, forced] = await Promise.all([erab(c.args, 'ja_JP.UTF-8'), erab(c.args, 'C.UTF-8'), erab([...c.args, '--lang', 'en'], 'ja_JP.UTF-8')]);
    const what = `erab ${c.args.join(' ')}`;
    for (const r of [ja, en, forced]) assert.equal(r.code, c.exit ?? 1, `${what}: ${r.err}`);
    if (c.prefix) {
      assert.ok(ja.said.startsWith(`erab: ${c.ja}`), `${what} (ja): ${ja.err}`);
      assert.ok(en.said.startsWith(`erab: ${c.en}`), `${what} (en): ${en.err}`);
    } else {
      assert.equal(ja.said, `erab: ${c.ja}`, `${what} (ja): ${ja.err}`);
      assert.equal(en.said, `erab: ${c.en}`, `${what} (en): ${en.err}`);
    }
    assert.equal(forced.said, en.said, `${what}: --lang en under a Japanese locale`);
  }
}

test('erab audit, backup, restore and privacy: refused arguments and files in ja and en', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-err-lang-more-'));
  try {
    const nope = join(dir, 'nope');
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const agg = join(dir, 'aggregator.json');
    writeFileSync(agg, JSON.stringify({ id: 'AGG1', tls: { certFile: 'agg.pem', keyFile: 'agg.key', caFile: 'ca.pem' }, store: { url: join(dir, 'agg.db') }, audit: { dir: join(dir, 'audit') } }));
    const archive = join(dir, 'none.bak');
    // A log with two records swapped: the verdict's frame in the CLI's language (the finding as verify states it).
    const tampered = join(dir, 'tampered');
    const log = AuditLog.open({ dir: tampered, origin: 'erab.test/err-lang/audit' });
    for (let i = 0; i < 6; i++) log.append({ actor: { kind: 'system', id: 'test' }, action: 'test.step', target: `step-${i}`, outcome: 'success' });
    log.close();
    const segment = join(tampered, 'segments', '000000000000.jsonl');
    const lines = readFileSync(segment, 'utf8').split('\n');
    [lines[2], lines[3]] = [lines[3]!, lines[2]!];
    writeFileSync(segment, lines.join('\n'));
    const [tja, ten] = await Promise.all([erab(['audit', 'verify', '--dir', tampered], 'ja_JP.UTF-8'), erab(['audit', 'verify', '--dir', tampered], 'C.UTF-8')]);
    assert.equal(tja.code, 1, tja.err);
    assert.match(tja.said, new RegExp(`^erab: 監査ログ ${tampered.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} の検証に失敗しました: reordered record \\d`), tja.err);
    assert.match(ten.said, /^erab: audit log \S+ FAILED verification: reordered record \d/, ten.err);
    await check([
      { args: ['audit', 'verify', '--dir', nope], ja: `${nope}: 監査ログのディレクトリがありません`, en: `${nope}: no such audit log directory` },
      {
        args: ['audit', 'verify', '--dir', empty],
        ja: `${empty}: 監査ログのディレクトリではありません（segments/ も verifier.key もありません）`,
        en: `${empty}: not an audit log directory (no segments/ and no verifier.key)`,
      },
      {
        args: ['backup', '--role', 'aggregator', '--config', agg, '--out', join(dir, 'out.bak')],
        ja: 'バックアップのパスフレーズがありません: --passphrase-file を指定するか ERAB_BACKUP_PASSPHRASE を設定してください',
        en: 'no backup passphrase: give --passphrase-file or set ERAB_BACKUP_PASSPHRASE',
      },
      { args: ['restore', '--role', 'aggregator', '--config', agg, archive], ja: `アーカイブ ${archive} を読めません: ENOENT`, en: `cannot read archive ${archive}: ENOENT`, prefix: true },
      {
        args: ['privacy', 'rotate-key', '--db', join(dir, 'p.db')],
        ja: 'rotate-key には --kek-file（新しい鍵）と --previous-kek-file（古い鍵）が必要です',
        en: 'rotate-key needs --kek-file (the new key) and --previous-kek-file (the old one)',
      },
      {
        args: ['privacy', 'retention', '--db', join(dir, 'p.db'), '--personal-days', '0'],
        ja: '--personal-days は 1〜36500 の整数にしてください（指定された値: 0）',
        en: '--personal-days must be an integer 1..36500, got 0',
      },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('erab notify, vuln and aggregator portfolio: refused data, feed and audit directory in ja and en', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-err-lang-more-'));
  try {
    const notJson = join(dir, 'data.json');
    writeFileSync(notJson, '{ not json');
    const list = join(dir, 'list.json');
    writeFileSync(list, '[1, 2]');
    const db = join(dir, 'secops.db');
    const feed = join(dir, 'no-feed.json');
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const csv = join(dir, 'no-portfolio.csv');
    await check([
      { args: ['notify', 'send', '--config', join(dir, 'notify.json'), '--data', notJson, '--all'], ja: `--data ${notJson} は JSON ではありません: `, en: `--data ${notJson}: not JSON: `, prefix: true },
      { args: ['notify', 'send', '--config', join(dir, 'notify.json'), '--data', list, '--all'], ja: `--data ${list} は JSON のオブジェクトにしてください`, en: `--data ${list}: must be a JSON object` },
      {
        args: ['notify', 'send', '--config', join(dir, 'notify.json'), '--data', list],
        ja: '宛先を選んでください: --all か、--participant、--site、--role のいずれか',
        en: 'choose the recipients: --all, or any of --participant, --site, --role',
        exit: 2,
      },
      { args: ['vuln', 'accept', 'F-1', '--reason', 'r', '--approver', 'a', '--expires', 'someday', '--db', db], ja: '--expires「someday」は日付（2027-03-31、ISO 8601）でも期間（30d、12h）でもありません', en: '--expires "someday" is neither a date (2027-03-31, ISO 8601) nor a duration (30d, 12h)', exit: 2 },
      {
        args: ['vuln', 'history', 'device:bat-404', '--db', db],
        ja: '資産「device:bat-404」には履歴がありません（erab vuln inventory を参照してください）',
        en: 'asset "device:bat-404" has no history (see erab vuln inventory)',
      },
      { args: ['vuln', 'import', feed, '--format', 'nvd', '--db', db], ja: `${feed} を読めません: ENOENT`, en: `cannot read ${feed}: ENOENT`, prefix: true },
      {
        args: ['vuln', 'inventory', '--db', db, '--audit-dir', empty],
        // The cause (the log directory's missing verifier key) in the CLI's language too.
        ja: `--audit-dir ${empty} に監査ログがありません（erab audit で作成してください）: ${join(empty, 'verifier.key')}: ログのディレクトリに検証鍵がありません。--key で指定してください`,
        en: `--audit-dir ${empty}: no audit log there (create it with erab audit): ${join(empty, 'verifier.key')}: no verifier key in the log directory; pass --key`,
      },
      { args: ['notify', 'send', '--config', join(dir, 'notify.json'), '--data', empty, '--all'], ja: `--data ${empty} を読めません: 通常のファイルではありません`, en: `--data ${empty}: cannot read: not a regular file` },
      { args: ['aggregator', 'portfolio', 'import', csv, '--db', join(dir, 'portfolio.db'), '--audit-dir', empty], ja: `${csv} を読めません: ENOENT`, en: `cannot read ${csv}: ENOENT`, prefix: true },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('erab tso, gateway, aggregator run, openadr, demo host and device site: refused files and arguments in ja and en', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-err-lang-more-'));
  try {
    const cert = join(dir, 'no-operator.pem');
    const gw = join(dir, 'gateway.json');
    const database = join(dir, 'not-yet', 'gw.db');
    writeFileSync(gw, JSON.stringify({
      gatewayId: 'GW1', database, tls: { certFile: 'gw.pem', keyFile: 'gw.key', caFile: 'ca.pem' },
      aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:9', certificateFile: 'agg.pem' },
      echonet: { address: '127.0.0.1', devices: ['127.0.0.2'] }, admission: { allowList: [{ serialNumber: 'F1' }] },
    }));
    const host = join(dir, 'host.json');
    writeFileSync(host, JSON.stringify({ kind: 'toasters' }));
    const vtnCert = join(dir, 'no-vtn.pem');
    await check([
      {
        args: ['tso', 'dispatch', '--api', 'https://127.0.0.1:9', '--cert', cert, '--key', join(dir, 'k.pem'), '--ca', join(dir, 'ca.pem'), '--product', 'tertiary1', '--direction', 'reduce', '--kw', '1', '--start', '2030-01-01T00:00:00+09:00'],
        ja: `運用者の証明書 ${cert} を読めません: ENOENT`,
        en: `cannot read operator certificate ${cert}: ENOENT`,
      },
      { args: ['gateway', 'devices', '--config', gw], ja: `${database} にゲートウェイのデータベースがありません（データベースの指定は ${gw}）。先にゲートウェイを起動してください`, en: `no gateway database at ${database} (database in ${gw}); run the gateway first` },
      { args: ['gateway', 'software-rollback', '--config', gw], ja: `${gw}: updates.softwareDir が設定されていないため、戻すリリースがありません`, en: `${gw}: updates.softwareDir is not set; there is no release to roll back` },
      {
        args: ['aggregator', 'run', '--config', join(dir, 'aggregator.json'), '--compliance-interval-min', '0'],
        // A value the option's parser refuses: a usage error, the option and the value named first.
        ja: 'オプション --compliance-interval-min <n> の値「0」は使えません: --compliance-interval-min は 1 から 10080 までの分数にしてください（指定された値:「0」）',
        en: 'option \'--compliance-interval-min <n>\' argument \'0\' is invalid: --compliance-interval-min must be a number of minutes from 1 to 10080, got "0"',
        exit: 2,
      },
      { args: ['openadr', 'ven', '--cert', cert, '--key', cert, '--ca', cert, '--vtn-url', 'https://127.0.0.1:9', '--vtn-cert', vtnCert], ja: `--vtn-cert ${vtnCert} を読めません（ENOENT）`, en: `--vtn-cert ${vtnCert} cannot be read (ENOENT)` },
      { args: ['demo', 'host', '--config', host], ja: `${host}: kind は devices か gateways にしてください`, en: `${host}: kind must be devices or gateways` },
      { args: ['openadr', 'ven', '--cert', cert, '--key', cert, '--ca', cert, '--vtn-url', 'http://127.0.0.1:9'], ja: '--vtn-url は https:// の URL にしてください', en: '--vtn-url must be an https:// URL', exit: 2 },
      // A site configuration from the command line only: the source is named in the CLI's language.
      { args: ['device', 'site', '--address', '127.0.0.5', '--pcs', '--duration', '0.1'], ja: 'コマンドライン: 項目 pcs に誤りがあります: ', en: 'command line: pcs: ', prefix: true },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The error `f` throws (an ErabError), sync or async. */
async function refusal(f: () => unknown): Promise<ErabError> {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof ErabError, String(e));
    return e;
  }
  assert.fail('not refused');
}

test('role start-up refusals in ja and en: a gateway and a device\'s Web API with another participant\'s certificate, key files readable by others, secrets, notify channels', async () => {
  const pki = await pkiWorld({ gw: 'gateway:GW1', other: 'gateway:GW2', agg: 'aggregator:AGG1', tso: 'tso:TSO1' }, { prefix: 'erab-err-lang-roles-' });
  try {
    const config = (cert: 'gw' | 'other', aggregatorCertificate: string) => gatewayConfigSchema.parse({
      gatewayId: 'GW1', database: join(pki.dir, 'gw.db'), tls: pki.tlsFiles(cert), audit: { dir: join(pki.dir, 'gw-audit') },
      aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:9', certificateFile: aggregatorCertificate },
      echonet: { address: '127.0.0.1', port: 0, devices: [] }, admission: { allowList: [{ serialNumber: 'F1' }] },
    });
    const audit = new MemoryAuditSink();

    const other = await refusal(() => Gateway.start(config('other', pki.get('agg').files.certFile), { audit }));
    assert.ok(other instanceof ConfigError);
    const otherFile = pki.tlsFiles('other').certFile;
    assert.equal(describeInLanguage(other, 'en'), `tls.certFile ${otherFile} is issued to gateway:GW2, not gateway:GW1`);
    assert.equal(other.message, describeInLanguage(other, 'en'));
    assert.equal(describeInLanguage(other, 'ja'), `tls.certFile の証明書 ${otherFile} は gateway:GW2 に発行されたものです（必要なのは gateway:GW1 の証明書）`);

    const tsoAsAggregator = await refusal(() => Gateway.start(config('gw', pki.get('tso').files.certFile), { audit }));
    assert.equal(describeInLanguage(tsoAsAggregator, 'en'), 'aggregator.certificateFile is issued to tso:TSO1, not aggregator:AGG1');
    assert.equal(describeInLanguage(tsoAsAggregator, 'ja'), 'aggregator.certificateFile の証明書は tso:TSO1 に発行されたものです（必要なのは aggregator:AGG1 の証明書）');

    const missing = join(pki.dir, 'no-agg.pem');
    const unreadable = await refusal(() => Gateway.start(config('gw', missing), { audit }));
    assert.match(describeInLanguage(unreadable, 'en'), new RegExp(`^aggregator\\.certificateFile ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be read: ENOENT`));
    assert.match(describeInLanguage(unreadable, 'ja'), /^aggregator\.certificateFile の証明書 \S+no-agg\.pem を読めません: ENOENT/);

    // A configuration update the gateway refuses.
    const notJson = await refusal(() => validateManagedConfig('{', 'GW1'));
    assert.match(describeInLanguage(notJson, 'en'), /^the new configuration is not JSON \(/);
    assert.match(describeInLanguage(notJson, 'ja'), /^新しい設定が JSON ではありません（/);
    const wrongType = await refusal(() => validateManagedConfig(JSON.stringify({ gatewayId: 7 }), 'GW1'));
    assert.equal(describeInLanguage(wrongType, 'en'), 'the new configuration: field gatewayId: Invalid input: expected string, received number');
    assert.equal(describeInLanguage(wrongType, 'ja'), '新しい設定の項目 gatewayId に誤りがあります: 文字列を指定してください（数値が指定されています）');
    const valid = JSON.parse(JSON.stringify(config('gw', pki.get('agg').files.certFile))) as Record<string, unknown>;
    const another = await refusal(() => validateManagedConfig(JSON.stringify({ ...valid, gatewayId: 'GW2' }), 'GW1'));
    assert.equal(describeInLanguage(another, 'en'), 'the new configuration is for gateway GW2, not GW1');
    assert.equal(describeInLanguage(another, 'ja'), '新しい設定はゲートウェイ GW2 のものです。このゲートウェイは GW1 です');
    validateManagedConfig(JSON.stringify(valid), 'GW1'); // its own configuration passes

    const speed = await refusal(() => acceleratedClock(0));
    assert.equal(describeInLanguage(speed, 'ja'), '速度 0 は 1 から 10000 までにしてください');

    // A device's Web API with the gateway's certificate.
    const secretFile = join(pki.dir, 'gw1.secret');
    writeFileSync(secretFile, 's3cret-of-the-gateway\n', { mode: 0o600 });
    const site = parseSiteConfig({ address: '127.0.0.9', battery: {}, webApi: { tls: pki.tlsFiles('gw'), clients: [{ id: 'GW1', secretFile }] }, audit: { dir: join(pki.dir, 'site-audit') } });
    const device = await refusal(() => openSiteRuntime(site));
    assert.match(describeInLanguage(device, 'en'), /^webApi\.tls\.certFile \S+ is issued to gateway:GW1, not a device \(issue one with: erab pki issue --role device --id <id> --ip 127\.0\.0\.9\)$/);
    assert.match(describeInLanguage(device, 'ja'), /^webApi\.tls\.certFile の証明書 \S+ は gateway:GW1 に発行されたもので、機器の証明書ではありません（発行するには: erab pki issue --role device --id <id> --ip 127\.0\.0\.9）$/);
    const badSite = await refusal(() => parseSiteConfig({ address: '127.0.0.9', battery: { capacityWh: 'big' } }));
    assert.match(describeInLanguage(badSite, 'en'), /^site config: battery\.capacityWh: Invalid input: expected number, received string$/);
    assert.match(describeInLanguage(badSite, 'ja'), /^サイトの設定: 項目 battery\.capacityWh に誤りがあります: 数値を指定してください（文字列が指定されています）$/);
    assert.match(describeInLanguage(await refusal(() => nthAddress('300.1.2.3', 0)), 'ja'), /^「300\.1\.2\.3」は IPv4 アドレスではありません$/);

    // Secret files named by a configuration.
    const emptySecret = join(pki.dir, 'empty.secret');
    writeFileSync(emptySecret, '');
    const emptyErr = await refusal(() => readSecretFile(emptySecret, 'echonet.webApi.clientSecretFile'));
    assert.equal(describeInLanguage(emptyErr, 'en'), `echonet.webApi.clientSecretFile: ${emptySecret} is empty`);
    assert.equal(describeInLanguage(emptyErr, 'ja'), `echonet.webApi.clientSecretFile: ${emptySecret} が空です`);
    const noSecret = await refusal(() => readSecretFile(join(pki.dir, 'none.secret'), 'webApi.clients[0].secretFile'));
    assert.equal(describeInLanguage(noSecret, 'ja'), `webApi.clients[0].secretFile: ${join(pki.dir, 'none.secret')} を読めません（ENOENT）`);

    // Key files others can read: the audit log's signing key and a witness's key.
    const logDir = join(pki.dir, 'exposed-log');
    mkdirSync(logDir);
    loadOrCreateSigner(logDir, 'erab.test/exposed/audit');
    chmodSync(join(logDir, 'signing.key'), 0o644);
    const exposed = await refusal(() => loadOrCreateSigner(logDir, 'erab.test/exposed/audit'));
    assert.equal(describeInLanguage(exposed, 'en'), `${join(logDir, 'signing.key')}: the audit signing key is readable by group or others (mode 644); chmod 600 it`);
    assert.equal(describeInLanguage(exposed, 'ja'), `${join(logDir, 'signing.key')}: 監査ログの署名鍵がグループか他のユーザーから読める状態です（モード 644）。chmod 600 にしてください`);
    chmodSync(join(logDir, 'signing.key'), 0o600);
    const origin = await refusal(() => loadOrCreateSigner(logDir, 'erab.test/another/audit'));
    assert.match(describeInLanguage(origin, 'ja'), /: \S+exposed-log の監査ログはオリジン「erab\.test\/exposed\/audit」で作られたものです（指定されたのは「erab\.test\/another\/audit」）$/);
    // The audit log's append lock, already held.
    const release = acquireLock(logDir);
    try {
      const locked = await refusal(() => acquireLock(logDir));
      assert.equal(locked.code, 'audit_locked');
      assert.equal(describeInLanguage(locked, 'en'), `${logDir}: the audit log is already open for appending by this process (${join(logDir, LOCK_FILE)})`);
      assert.equal(describeInLanguage(locked, 'ja'), `${logDir}: 監査ログはこのプロセスがすでに追記用に開いています（${join(logDir, LOCK_FILE)}）`);
    } finally {
      release();
    }
    const witnessDir = join(pki.dir, 'witness');
    AuditWitness.open({ dir: witnessDir, name: 'erab.test/w/witness', audit });
    chmodSync(join(witnessDir, 'cosigner.key'), 0o640);
    const witness = await refusal(() => AuditWitness.open({ dir: witnessDir, name: 'erab.test/w/witness', audit }));
    assert.equal(describeInLanguage(witness, 'ja'), `${join(witnessDir, 'cosigner.key')}: 証人（witness）の鍵がグループか他のユーザーから読める状態です（モード 640）。chmod 600 にしてください`);

    // Notify channels: an SMTP password from a variable that is not set.
    const notify = notifyConfigSchema.parse({ smtp: { host: 'smtp.example.jp', from: 'erab@example.jp', user: 'erab', passwordEnv: 'ERAB_TEST_NO_SUCH_PASSWORD' } });
    const env = await refusal(() => buildChannels(notify, { env: {} }));
    assert.equal(describeInLanguage(env, 'en'), 'notify.smtp.passwordEnv: the environment variable ERAB_TEST_NO_SUCH_PASSWORD is not set');
    assert.equal(describeInLanguage(env, 'ja'), 'notify.smtp.passwordEnv: 環境変数 ERAB_TEST_NO_SUCH_PASSWORD が設定されていません');

    // A supervisor command before the aggregator's store is open.
    const early = await refusal(() => secopsCommand(undefined, 'vuln-import', {}));
    assert.equal(describeInLanguage(early, 'ja'), 'vuln-import: アグリゲーターのストアはまだ開かれていません');
    assert.equal(describeInLanguage(early, 'en'), 'vuln-import: the aggregator\'s store is not open yet');
  } finally {
    await pki.close();
  }
});
