/**
 * Vulnerability notification end to end (issue 13, ERAB §3.2 and §3.6): the aggregator role
 * (startAggregator with the wiring `erab aggregator run` uses: secops tables, the gateway notice
 * board on R4, a running notifier, re-evaluation on inventory change), two gateways over real
 * mutual TLS from our PKI, each with a simulated battery over real UDP (site-1 firmware 1.0.0,
 * site-2 firmware 2.0.0), a real SMTP server (STARTTLS, AUTH) and a real webhook receiver.
 *
 * A CSAF advisory for firmware < 2.0.0 is imported: only site-1 has a finding. `notifyAdvisory`
 * (what `erab vuln notify` runs) reaches site-1's owner (e-mail + its gateway's notice board) and
 * the participant-level contacts (operator: e-mail + webhook; downstream aggregator: webhook),
 * never site-2's owner, all with ONE timestamp, recorded in the aggregator's audit log; the
 * finding is `notified`. A signed firmware 2.0.0 is offered and applied by GW1; the inventory
 * reports 2.0.0 and the finding becomes `patched` without anyone marking it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { ERAB_BIN } from '../repo.js';
import { AuditLog } from '../../src/security/audit/log.js';
import { readRecords } from '../../src/security/audit/export.js';
import { systemClock } from '../../src/core/clock.js';
import { openStore } from '../../src/store/store.js';
import { startAggregator, type RunningAggregator } from '../../src/roles/aggregator/runtime/aggregator.js';
import { parseAggregatorConfig } from '../../src/roles/aggregator/runtime/config.js';
import { aggregatorMigrations } from '../../src/roles/aggregator/runtime/r4-workers.js';
import { Portfolio } from '../../src/roles/aggregator/portfolio/portfolio.js';
import type { PortfolioTables } from '../../src/roles/aggregator/portfolio/tables.js';
import { UpdateOffers } from '../../src/endpoints/openadr/update-offers.js';
import { buildManifest, signPackage } from '../../src/endpoints/openadr/update-package.js';
import { verifyPackageFile } from '../../src/secops/updates/packaging.js';
import { DeviceSite } from '../../src/roles/device/site.js';
import { Gateway, gatewayConfigSchema } from '../../src/roles/gateway/gateway.js';
import { ContactRegistry, newWebhookSecret, notifyConfigSchema, type WebhookNoticeBody } from '../../src/secops/notify/index.js';
import { evaluateFindings, importFeed, listFindings, notifyAdvisory, syncInventoryFromPortfolio, type SecopsTables } from '../../src/secops/index.js';
import { secopsCommand, secopsWiring } from '../../src/cli/commands/aggregator-secops.js';
import { simulatedBatteryAdvisory } from '../../src/roles/demo/advisory.js';
import { pkiWorld, waitFor, type PkiWorld } from '../kit/index.js';
import { clientTlsOptions } from '../../src/security/tls.js';
import { httpsWitnessPost } from '../../src/roles/common/witnessing.js';
import { SOFTWARE_REPORT_PATH, softwareDocument } from '../../src/roles/common/software-report.js';
import { installRoot, readInstalledSoftware } from '../../src/core/software.js';
import { SMTP_PASS, SMTP_USER, startSmtp, startWebhookReceiver, type SmtpReceiver, type WebhookReceiver } from './notify/servers.js';

const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
const OPERATOR = { kind: 'operator', id: 'ciso' } as const;

interface Fixture {
  world: PkiWorld;
  dbFile: string;
  notifyFile: string;
  agg: RunningAggregator;
  audit: AuditLog;
  wiring: ReturnType<typeof secopsWiring>;
  smtp: SmtpReceiver;
  hooks: WebhookReceiver;
  sites: DeviceSite[];
  gws: Gateway[];
  offers: UpdateOffers;
}
let f: Fixture;
const secrets = new Map<string, string>();

function hook(port: number, name: string): { url: string; secret: string } {
  const secret = newWebhookSecret();
  secrets.set(`/hooks/${name}`, secret);
  return { url: `https://127.0.0.1:${port}/hooks/${name}`, secret };
}

const db = () => f.wiring.attached()!.store.db.withTables<SecopsTables & PortfolioTables>();

before(async () => {
  const world = await pkiWorld({ agg: 'aggregator:AGG1', gw1: 'gateway:GW1', gw2: 'gateway:GW2', mail: 'operator:MAIL1', hook: 'operator:HOOK1' }, { prefix: 'erab-vuln-e2e-' });
  const smtp = await startSmtp(world, 'mail');
  const hooks = await startWebhookReceiver(world, 'hook', ['aggregator:AGG1'], secrets);
  const dbFile = join(world.dir, 'aggregator.db');
  const pstore = await openStore({ url: dbFile, migrations: aggregatorMigrations });
  await new Portfolio(pstore).importText(JSON.stringify({
    format: 'erab-portfolio/1',
    pools: [{ id: 'tokyo-t2', tsoArea: 'tokyo', product: 'tertiary2', program: 'TSO1' }],
    sites: [{ id: 'site-1', name: 'Home 1', tsoArea: 'tokyo', poolId: 'tokyo-t2' }, { id: 'site-2', name: 'Home 2', tsoArea: 'tokyo', poolId: 'tokyo-t2' }],
    gateways: [{ id: 'GW1', siteId: 'site-1', venId: 'GW1' }, { id: 'GW2', siteId: 'site-2', venId: 'GW2' }],
  }), 'json', 'portfolio.json', { kind: 'operator', id: 'test' });
  await pstore.close();
  const agg1 = world.get('agg');
  const notify = notifyConfigSchema.parse({
    smtp: { host: '127.0.0.1', port: smtp.port, servername: 'localhost', from: 'security@agg1.example.jp', caFile: world.caFile, user: SMTP_USER, passwordEnv: 'TEST_SMTP_PASSWORD', timeoutMs: 10_000 },
    webhook: { caFile: world.caFile, certFile: agg1.files.certFile, keyFile: agg1.files.keyFile, timeoutMs: 10_000 },
    retry: { baseMs: 500, maxMs: 2000, pollMs: 300 },
  });
  const notifyFile = join(world.dir, 'notify.json');
  writeFileSync(notifyFile, JSON.stringify({ ...notify, smtp: { ...notify.smtp, timeoutMs: 10_000 } }));
  const wiring = secopsWiring({ notify, env: { TEST_SMTP_PASSWORD: SMTP_PASS }, reevaluateDelayMs: 200 });
  const audit = AuditLog.open({ dir: join(world.dir, 'agg-audit'), origin: 'erab/aggregator-AGG1/audit', checkpointIntervalMs: 0 });
  const updatesDir = join(world.dir, 'updates');
  const agg = await startAggregator(parseAggregatorConfig({
    id: 'AGG1', tls: world.tlsFiles('agg'), store: { url: dbFile }, audit: { dir: join(world.dir, 'agg-audit'), witnessIntervalMs: 0 },
    downstream: { host: '127.0.0.1', port: 0, allowList: { participants: ['gateway:GW1', 'gateway:GW2'] }, pollIntervalMs: 300, reportIntervalMs: 5000 },
    updates: { dir: updatesDir },
  }), { audit, clock: systemClock, ...wiring.deps });
  const sites: DeviceSite[] = [];
  const gws: Gateway[] = [];
  for (const [i, version] of [[1, '1.0.0'], [2, '2.0.0']] as const) {
    const node = `${NET}.${i * 10 + 2}`;
    const site = await DeviceSite.start({ address: node, serialPrefix: `SITE${i}`, battery: {}, firmware: { version } });
    sites.push(site);
    gws.push(await Gateway.start(gatewayConfigSchema.parse({
      gatewayId: `GW${i}`, database: join(world.dir, `gw${i}.db`), tls: world.tlsFiles(`gw${i}`),
      aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${agg.downstreamPort}`, certificateFile: agg1.files.certFile },
      echonet: { address: `${NET}.${i * 10 + 1}`, devices: [node], pollMs: 60_000, timeoutMs: 5000, retries: 1, firmwareEpcs: { FFFFFE: 0xf0 }, firmwareInstallEpcs: { FFFFFE: 0xf1 } },
      telemetry: { minPeriodMs: 5000 },
      admission: { allowList: [{ serialNumber: `SITE${i}` }] },
      audit: { dir: join(world.dir, `gw${i}-audit`), witnessIntervalMs: 0 },
      notices: { fetchIntervalMs: 200 },
      updates: { checkMs: 0, healthCheckMs: 300, configFile: join(world.dir, `managed-gw${i}.json`) },
    }), { clock: systemClock }));
  }
  f = { world, dbFile, notifyFile, agg, audit, wiring, smtp, hooks, sites, gws, offers: new UpdateOffers({ dir: updatesDir, audit, aggregatorId: 'AGG1' }) };
  await waitFor('both batteries in the aggregator\'s inventory', async () => {
    await syncInventoryFromPortfolio(db());
    const rows = await db().selectFrom('secops_asset').select(['site_id', 'version']).where('kind', '=', 'device').where('class', '=', 'battery').execute();
    return rows.length === 2 && rows.every((r) => r.version !== null);
  }, 30_000);
});

after(async () => {
  for (const g of f?.gws ?? []) await g.close().catch(() => {});
  await f?.agg?.stop().catch(() => {});
  for (const s of f?.sites ?? []) await s.close().catch(() => {});
  await f?.smtp?.close();
  await f?.hooks?.close();
  f?.audit?.close();
  f?.world?.close();
});

test('advisory → findings for affected sites only → one notice to every recipient → signed update → patched', { timeout: 120_000 }, async () => {
  // Contacts: site-1 and site-2 owners (e-mail + their gateway's EMS), participant-level operator and downstream aggregator.
  const contacts = new ContactRegistry(f.wiring.attached()!.store);
  await contacts.add({ participantId: 'AGG1', siteId: 'site-1', name: '山田 太郎', role: 'owner', language: 'ja', channels: { email: 'owner@site1.example.jp', gatewayVenId: 'GW1' } }, OPERATOR);
  await contacts.add({ participantId: 'AGG1', siteId: 'site-2', name: '佐藤 花子', role: 'owner', language: 'ja', channels: { email: 'owner@site2.example.jp', gatewayVenId: 'GW2' } }, OPERATOR);
  await contacts.add({ participantId: 'AGG1', name: 'AGG1 operations', role: 'operator', language: 'en', channels: { email: 'ops@agg1.example.jp', webhook: hook(f.hooks.port, 'ops') } }, OPERATOR);
  await contacts.add({ participantId: 'AGG2', name: 'Downstream AGG2', role: 'downstream-aggregator', language: 'en', channels: { webhook: hook(f.hooks.port, 'agg2') } }, OPERATOR);

  const csaf = simulatedBatteryAdvisory({ id: 'ERAB-SIM-2026-0001', cve: 'CVE-2026-49001', fixedVersion: '2.0.0' });
  await importFeed(db(), { format: 'csaf', bytes: Buffer.from(csaf), source: 'erab-sim-2026-0001.json', actor: OPERATOR, audit: f.audit });
  await evaluateFindings(db(), { audit: f.audit });
  const found = await listFindings(db(), { advisory: 'CVE-2026-49001' });
  assert.deepEqual(found.map((x) => [x.asset.siteId, x.asset.version, x.status]), [['site-1', '1.0.0', 'open']], 'only the battery on firmware 1.0.0 is affected');

  const r = await notifyAdvisory(db(), { notifier: f.wiring.attached()!.notifier, contacts }, 'CVE-2026-49001', { actor: OPERATOR, deadline: Date.UTC(2027, 0, 31), audit: f.audit });
  const iso = new Date(r.notice.issuedAt).toISOString();
  assert.deepEqual(r.sites, ['site-1']);
  assert.deepEqual(r.recipients.map((c) => c.name).sort(), ['AGG1 operations', 'Downstream AGG2', '山田 太郎']);
  assert.deepEqual(r.deliveries.map((d) => `${d.channel}:${d.address}`).sort(), [
    'email:ops@agg1.example.jp', 'email:owner@site1.example.jp', 'gateway:GW1',
    `webhook:https://127.0.0.1:${f.hooks.port}/hooks/agg2`, `webhook:https://127.0.0.1:${f.hooks.port}/hooks/ops`,
  ]);
  assert.equal((await listFindings(db(), { advisory: 'CVE-2026-49001' }))[0]!.status, 'notified');

  // E-mail over SMTP with STARTTLS and the one timestamp; site-2's owner gets nothing.
  await waitFor('two mails', () => f.smtp.mails.length >= 2, 20_000);
  assert.deepEqual(f.smtp.mails.flatMap((m) => m.to).sort(), ['ops@agg1.example.jp', 'owner@site1.example.jp']);
  for (const m of f.smtp.mails) {
    assert.ok(m.secure, 'sent under STARTTLS');
    assert.equal(m.headers.get('x-erab-notice-time'), iso);
  }
  const ja = f.smtp.mails.find((m) => m.to.includes('owner@site1.example.jp'))!;
  assert.match(ja.subject, /^【脆弱性情報】ERAB-SIM-2026-0001 /);
  assert.match(ja.body, /CVSS 基本値: 8\.1/);
  assert.match(ja.body, /影響を受けるサイト:\n {2}- site-1/);
  assert.match(ja.body, /2\.0\.0 以降へ更新/);
  // Webhooks, signed, same timestamp.
  await waitFor('two webhooks', () => f.hooks.hooks.length >= 2, 20_000);
  assert.deepEqual(f.hooks.hooks.map((h) => h.path).sort(), ['/hooks/agg2', '/hooks/ops']);
  for (const h of f.hooks.hooks) {
    assert.ok(h.signatureOk);
    assert.equal((JSON.parse(h.body) as WebhookNoticeBody).timestamp, iso);
  }
  // The site's EMS sees it through its gateway (R4); the other gateway gets nothing.
  const shown = await waitFor('the notice at GW1', async () => (await f.gws[0]!.notices()).find((n) => n.noticeId === r.notice.id) ?? false, 20_000);
  assert.equal(shown.issuedAt, r.notice.issuedAt);
  await waitFor('every delivery delivered (the gateway acknowledged)', async () => (await f.wiring.attached()!.notifier.deliveries({ noticeId: r.notice.id })).every((d) => d.status === 'delivered'), 20_000);
  assert.deepEqual(await f.gws[1]!.notices(), []);

  // The aggregator's audit log: the notice, each delivery with the one timestamp, the advisory notice, the finding notified.
  const records = [...readRecords(f.audit.dir)].map((l) => l.record!);
  const notice = records.find((x) => x.action === 'notify.notice' && x.target === r.notice.id)!;
  assert.equal((notice.details as { issuedAt: string }).issuedAt, iso);
  const delivered = records.filter((x) => x.action === 'notify.deliver' && (x.details as { noticeId: string }).noticeId === r.notice.id && x.outcome === 'success');
  assert.ok(delivered.length >= 5, `each delivery audited (${delivered.length})`);
  assert.ok(delivered.every((x) => (x.details as { issuedAt: string }).issuedAt === iso));
  assert.ok(records.some((x) => x.action === 'vuln.advisory.notify' && x.target === 'ERAB-SIM-2026-0001'));
  assert.ok(records.some((x) => x.action === 'vuln.finding.notified'));

  // The fix: a signed firmware 2.0.0 package (code-signing key, distinct from TLS), applied by GW1.
  const signer = await f.world.store.issue({ role: 'aggregator', id: 'AGG1', usage: 'code-signing' });
  const files = new Map([['firmware.bin', Buffer.from('simulated battery firmware 2.0.0\n')]]);
  const text = signPackage(buildManifest({ packageId: 'battery-fw', version: '2.0.0', target: { kind: 'device', deviceClass: 'battery', makerCode: 'FFFFFE' } }, files), files, { certPem: signer.certPem, keyPem: signer.keyPem });
  f.offers.publish(await verifyPackageFile(text, { caFile: f.world.caFile, aggregatorId: 'AGG1' }, 'battery-fw-2.0.0'), text);
  const applied = await f.gws[0]!.updater.check();
  assert.deepEqual(applied.map((x) => x.outcome), ['applied']);
  assert.equal(f.sites[0]!.firmware.get('battery')!.version(), '2.0.0');
  const patched = await waitFor('the finding patched after the inventory reports 2.0.0', async () => {
    const x = (await listFindings(db(), { advisory: 'CVE-2026-49001' }))[0];
    return x?.status === 'patched' ? x : false;
  }, 30_000);
  assert.equal(patched.statusBy, 'secops.matching');
  assert.ok([...readRecords(f.audit.dir)].some((l) => l.record?.action === 'vuln.finding.patched'));
});

function erab(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ERAB_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TEST_SMTP_PASSWORD: SMTP_PASS, ERAB_AGGREGATOR_DB: '', ERAB_AGGREGATOR_AUDIT_DIR: '', ERAB_NOTIFY_CONFIG: '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

test('erab vuln notify, run by an operator against the running aggregator\'s store, tells both sites; their gateways fetch it over R4', { timeout: 120_000 }, async () => {
  // The meters of both sites (firmware 1.0.0 and 2.0.0) are below 9.0.0.
  const csaf = simulatedBatteryAdvisory({ id: 'ERAB-SIM-2026-0002', cve: 'CVE-2026-49002', fixedVersion: '9.0.0', productCode: 'ERAB-METER' });
  await importFeed(db(), { format: 'csaf', bytes: Buffer.from(csaf), source: 'erab-sim-2026-0002.json', actor: OPERATOR });
  await evaluateFindings(db());
  assert.deepEqual((await listFindings(db(), { advisory: 'CVE-2026-49002' })).map((x) => x.asset.siteId).sort(), ['site-1', 'site-2']);
  const mailsBefore = f.smtp.mails.length;
  const unknown = await erab('vuln', 'notify', 'CVE-2099-0001', '--db', f.dbFile, '--notify-config', f.notifyFile);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /advisory CVE-2099-0001: no active finding/);
  const r = await erab('vuln', 'notify', 'CVE-2026-49002', '--db', f.dbFile, '--notify-config', f.notifyFile, '--deadline', '2027-02-28', '--operator', 'ciso', '--json');
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as { noticeId: string; issuedAt: string; sites: string[]; findings: number; recipients: number; deliveries: { channel: string; address: string; result: string }[] };
  assert.deepEqual(out.sites, ['site-1', 'site-2']);
  assert.equal(out.recipients, 4);
  assert.deepEqual(out.deliveries.filter((d) => d.channel !== 'gateway').map((d) => d.result), ['delivered', 'delivered', 'delivered', 'delivered', 'delivered']);
  assert.deepEqual(out.deliveries.filter((d) => d.channel === 'gateway').map((d) => `${d.address} ${d.result}`).sort(), ['GW1 queued for the gateway', 'GW2 queued for the gateway']);
  const mails = f.smtp.mails.slice(mailsBefore);
  assert.deepEqual(mails.flatMap((m) => m.to).sort(), ['ops@agg1.example.jp', 'owner@site1.example.jp', 'owner@site2.example.jp']);
  // The CLI prints the notice time in JST to the second; every channel carries the same instant.
  const sameInstant = (t: string | undefined | null): boolean => t !== undefined && t !== null && Math.floor(Date.parse(t) / 1000) * 1000 === Date.parse(out.issuedAt);
  assert.match(out.issuedAt, /\+09:00$/);
  assert.ok(mails.every((m) => sameInstant(m.headers.get('x-erab-notice-time'))));
  // Both sites' EMSs see it through the running aggregator's notice board, with the one timestamp.
  for (const gw of f.gws) {
    const n = await waitFor(`the notice at ${gw.config.gatewayId}`, async () => (await gw.notices()).find((x) => x.noticeId === out.noticeId) ?? false, 20_000);
    assert.ok(sameInstant(new Date(n.issuedAt).toISOString()), `${new Date(n.issuedAt).toISOString()} vs ${out.issuedAt}`);
  }
  assert.ok((await listFindings(db(), { advisory: 'CVE-2026-49002' })).every((x) => x.status === 'notified'));
  // The supervisor commands `erab aggregator run` answers (what a demo scene drives) read the same state.
  const viaCommand = await secopsCommand(f.wiring.attached(), 'vuln-findings', { advisory: 'CVE-2026-49002' }) as { status: string; siteId: string }[];
  assert.deepEqual(viaCommand.map((x) => `${x.siteId} ${x.status}`).sort(), ['site-1 notified', 'site-2 notified']);
  const deliveries = await secopsCommand(f.wiring.attached(), 'notify-deliveries', { noticeId: out.noticeId }) as { status: string }[];
  assert.equal(deliveries.length, 7);
  await assert.rejects(secopsCommand(f.wiring.attached(), 'vuln-import', { file: join(f.world.dir, 'missing.json'), format: 'xml' }), /format must be one of nvd, jvn, csaf/);
  // The table form lists recipients, channels and results.
  const again = await erab('vuln', 'notify', 'CVE-2026-49002', '--db', f.dbFile, '--notify-config', f.notifyFile);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /to 4 recipients of 2 sites/);
  assert.match(again.out, /CONTACT\s+NAME\s+SITE\s+CHANNEL\s+ADDRESS\s+RESULT/);
  assert.match(again.out, /site-2\s+email\s+owner@site2\.example\.jp\s+delivered/);
});

/** A CSAF 2.0 advisory for one npm package (purl, `vers:npm` range), written by us. */
function npmAdvisory(id: string, cve: string, name: string, range: string): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    document: {
      category: 'csaf_security_advisory', csaf_version: '2.0', lang: 'en', title: `${name} ${range}: a test vulnerability`,
      publisher: { category: 'vendor', name: 'erab tests', namespace: 'https://erab.invalid' },
      tracking: { id, status: 'final', version: '1', initial_release_date: at, current_release_date: at, revision_history: [{ number: '1', date: at, summary: 'first' }] },
    },
    product_tree: { branches: [{ category: 'vendor', name: 'npm', branches: [{ category: 'product_name', name, branches: [
      { category: 'product_version_range', name: `vers:npm/${range}`, product: { product_id: 'P1', name: `${name} ${range}`, product_identification_helper: { purl: `pkg:npm/${name}` } } },
    ] }] }] },
    vulnerabilities: [{ cve, title: 'test', product_status: { known_affected: ['P1'] }, scores: [{ products: ['P1'], cvss_v3: { version: '3.1', vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', baseScore: 9.8, baseSeverity: 'CRITICAL' } }] }],
  });
}

test('each role reports its own software: the aggregator records its own, each gateway uploads its own over R4, npm advisories match them by purl and range', { timeout: 60_000 }, async () => {
  const own = await readInstalledSoftware(installRoot(), 'gateway');
  // Both gateways uploaded theirs after registering (over the R4 mutual TLS), the aggregator recorded its own at start.
  const sw = await waitFor('both gateways\' software in the portfolio', async () => {
    const rows = await db().selectFrom('portfolio_gateway_software').selectAll().orderBy('gateway_id').execute();
    return rows.length === 2 ? rows : false;
  }, 20_000);
  assert.deepEqual(sw.map((r) => [r.gateway_id, r.erab_name, r.erab_version, r.node_version]), [['GW1', 'erab', own.erab.version, process.versions.node], ['GW2', 'erab', own.erab.version, process.versions.node]]);
  assert.equal((JSON.parse(sw[0]!.packages) as unknown[]).length, softwareDocument('GW1', own).packages.length);
  await syncInventoryFromPortfolio(db());
  const gwAsset = await db().selectFrom('secops_asset').selectAll().where('id', '=', 'gateway:GW1').executeTakeFirstOrThrow();
  assert.equal(gwAsset.version, own.erab.version, 'the gateway asset carries the erab version it runs');
  assert.equal(gwAsset.purl, `pkg:npm/erab@${own.erab.version}`);
  const zod = own.packages.find((p) => p.name === 'zod')!;
  const gwZod = await db().selectFrom('secops_asset').selectAll().where('id', '=', `software:gateway:GW2:pkg:npm/zod@${zod.version}`).executeTakeFirstOrThrow();
  assert.deepEqual([gwZod.kind, gwZod.site_id, gwZod.gateway_id, gwZod.parent_id], ['software', 'site-2', 'GW2', 'gateway:GW2']);
  assert.ok(await db().selectFrom('secops_asset').select('id').where('id', '=', `software:aggregator:pkg:npm/zod@${zod.version}`).executeTakeFirst(), 'the aggregator\'s own zod');

  // A gateway advisory by version range: erab < next major matches both gateways; erab < the running version matches none.
  const [major] = own.erab.version.split('.');
  await importFeed(db(), { format: 'csaf', bytes: Buffer.from(npmAdvisory('ERAB-GW-1', 'CVE-2026-49101', 'erab', `<${Number(major) + 1}.0.0`)), source: 'erab-gw-1.json', actor: OPERATOR });
  await importFeed(db(), { format: 'csaf', bytes: Buffer.from(npmAdvisory('ERAB-GW-2', 'CVE-2026-49102', 'erab', `<${own.erab.version}`)), source: 'erab-gw-2.json', actor: OPERATOR });
  // An npm dependency advisory for the zod installed: every role's copy matches.
  await importFeed(db(), { format: 'csaf', bytes: Buffer.from(npmAdvisory('ZOD-1', 'CVE-2026-49103', 'zod', `<=${zod.version}`)), source: 'zod-1.json', actor: OPERATOR });
  await evaluateFindings(db());
  const gwFindings = await listFindings(db(), { advisory: 'CVE-2026-49101' });
  assert.deepEqual(gwFindings.filter((x) => x.asset.kind === 'gateway').map((x) => `${x.asset.id} ${x.asset.siteId} ${x.confidence}`).sort(), ['gateway:GW1 site-1 high', 'gateway:GW2 site-2 high']);
  assert.deepEqual((await listFindings(db(), { advisory: 'CVE-2026-49102' })).filter((x) => x.asset.kind === 'gateway'), [], 'outside the range: no finding');
  const zodIds = (await listFindings(db(), { advisory: 'CVE-2026-49103' })).map((x) => x.asset.id).sort();
  assert.deepEqual(zodIds, [`software:aggregator:pkg:npm/zod@${zod.version}`, `software:gateway:GW1:pkg:npm/zod@${zod.version}`, `software:gateway:GW2:pkg:npm/zod@${zod.version}`]);

  // Hostile uploads over the real R4 listener, with GW1's own certificate: refused, nothing changed.
  const tls = clientTlsOptions(await f.world.material('gw1'), 'R4', { expect: { role: 'aggregator', id: 'AGG1' } });
  const t = httpsWitnessPost(`https://127.0.0.1:${f.agg.downstreamPort}`, tls);
  try {
    const good = softwareDocument('GW1', own);
    const cases: [string, string, number, RegExp][] = [
      ['not JSON', '{"format":', 400, /not JSON/],
      ['another gateway', JSON.stringify(softwareDocument('GW2', own)), 403, /names gateway "GW2" but was sent by gateway "GW1"/],
      ['digest', JSON.stringify({ ...good, erab: { name: 'erab', version: '99.0.0' } }), 400, /digest .* does not match/],
      ['bad name', JSON.stringify({ ...good, packages: [{ name: '../../etc', version: '1.0.0' }] }), 400, /packages\[0\]\.name: must be an npm package name/],
      ['too many', JSON.stringify({ ...good, packages: Array.from({ length: 5001 }, (_, i) => ({ name: `p${i}`, version: '1.0.0' })) }), 400, /at most 5000 packages/],
      ['oversized', JSON.stringify({ ...good, pad: 'x'.repeat(600 * 1024) }), 400, /more than 524288/],
    ];
    for (const [what, body, status, msg] of cases) {
      const r = await t.post(SOFTWARE_REPORT_PATH, body);
      assert.equal(r.status, status, `${what}: ${r.body}`);
      assert.match((JSON.parse(r.body) as { error: string }).error, msg, what);
    }
  } finally {
    t.close();
  }
  const after = await db().selectFrom('portfolio_gateway_software').select(['gateway_id', 'erab_version']).orderBy('gateway_id').execute();
  assert.deepEqual(after.map((r) => r.erab_version), [own.erab.version, own.erab.version]);
  assert.ok([...readRecords(f.audit.dir)].some((l) => l.record?.action === 'portfolio.software' && l.record.outcome === 'refused'), 'refusals audited');
});
