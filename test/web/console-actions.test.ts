/**
 * The console's actions end to end in a real browser (Debian's chromium through playwright-core)
 * over mutual TLS, against real roles: an aggregator with a roles table, two gateways on real
 * OpenADR over TLS, each with a simulated ECHONET Lite battery on loopback UDP.
 *
 * - Two operators, two browser contexts, two certificates: alice (operator) submits a command
 *   over the two-person threshold; her page shows it held and refuses her own approval; bob
 *   (approver) approves it in his page (in Japanese); both pages see the event start, live.
 * - Cancel the event from the page: the battery on the simulated site leaves discharging and
 *   returns to its owner's mode.
 * - An over-capacity command (30 kW from a 3 kW battery) is shown as short, not green.
 * - A pending device admitted from the page comes online (needs the aggregator's admission relay).
 * Skipped with a message when chromium is not installed (.ci/run installs it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { systemClock } from '../../src/core/clock.js';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { parseAggregatorConfig } from '../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../src/roles/aggregator/runtime/aggregator.js';
import { Portfolio } from '../../src/roles/aggregator/portfolio/portfolio.js';
import { aggregatorMigrations } from '../../src/roles/aggregator/runtime/r4-workers.js';
import { openStore } from '../../src/store/store.js';
import { DeviceSite } from '../../src/roles/device/site.js';
import { StorageBattery } from '../../src/protocols/echonet/objects/storage-battery.js';
import { Gateway, gatewayConfigSchema } from '../../src/roles/gateway/gateway.js';
import { CONSOLE_CSP, consolePage } from '../../src/web/console-page.js';
import { pkiWorld, waiter, type PkiWorld } from '../kit/index.js';
import { operatorCall } from '../roles/common/operator-client.js';
import { REPO_ROOT } from '../repo.js';

const CHROMIUM = process.env.ERAB_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SKIP = existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM}`;
const until = waiter({ timeoutMs: 45_000, intervalMs: 100 });
const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
const GREEN = 'rgb(10, 107, 45)';

type Name = 'agg' | 'gw1' | 'gw2' | 'alice' | 'bob';
let pki: PkiWorld<Name>;
let agg: RunningAggregator;
let browser: Browser;
const audit = new MemoryAuditSink();
const gateways: Gateway[] = [];
const sites: DeviceSite[] = [];
const contexts: BrowserContext[] = [];

const origin = () => `https://127.0.0.1:${agg.consolePort}`;
const consoleAt = () => ({ port: agg.consolePort!, caPem: pki.caPem, server: { role: 'aggregator', id: 'AGG1' } });
const mode = (s: DeviceSite) => s.battery!.object.get(StorageBattery.props.operationMode) as string;

/** The console in a browser context of its own, with `who`'s operator certificate. */
async function open(who: 'alice' | 'bob', locale: string): Promise<Page> {
  const cert = pki.certs[who];
  const context = await browser.newContext({ locale, ignoreHTTPSErrors: true, clientCertificates: [{ origin: origin(), cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) }] });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const response = await page.goto(`${origin()}/`);
  assert.equal(response?.status(), 200);
  assert.equal(response?.headers()['content-security-policy'], CONSOLE_CSP);
  await page.waitForSelector('#live.on', { timeout: 30_000 });
  assert.deepEqual(errors, []);
  return page;
}

before(async () => {
  if (SKIP) return;
  pki = await pkiWorld({ agg: 'aggregator:AGG1', gw1: 'gateway:GW1', gw2: 'gateway:GW2', alice: 'operator:alice', bob: 'operator:bob' }, { prefix: 'erab-console-actions-' });
  const dbFile = join(pki.dir, 'aggregator.db');
  const pstore = await openStore({ url: dbFile, migrations: aggregatorMigrations });
  await new Portfolio(pstore).importText(JSON.stringify({
    format: 'erab-portfolio/1',
    pools: [{ id: 'tokyo-t2', tsoArea: 'tokyo', product: 'tertiary2', program: 'TSO1' }],
    sites: [{ id: 'site-1', name: 'Home 1', tsoArea: 'tokyo', poolId: 'tokyo-t2' }, { id: 'site-2', name: 'Home 2', tsoArea: 'tokyo', poolId: 'tokyo-t2' }],
    gateways: [{ id: 'GW1', siteId: 'site-1', venId: 'GW1' }, { id: 'GW2', siteId: 'site-2', venId: 'GW2' }],
  }), 'json', 'portfolio.json', { kind: 'operator', id: 'setup' });
  await pstore.close();
  const roles = { default: 'viewer', operators: { alice: 'operator', bob: 'approver' } } as const;
  agg = await startAggregator(parseAggregatorConfig({
    id: 'AGG1', tls: pki.tlsFiles('agg'), store: { url: dbFile },
    downstream: { host: '127.0.0.1', port: 0, allowList: { participants: ['gateway:GW1', 'gateway:GW2'] }, pollIntervalMs: 200, reportIntervalMs: 1000 },
    console: { port: 0, roles },
    closedLoop: { intervalMs: 500, telemetryMaxAgeMs: 5000 },
    statusIntervalMs: 200,
  }), { audit, clock: systemClock, consolePage: { html: consolePage('AGG1'), csp: CONSOLE_CSP } });
  for (const [i, name] of (['gw1', 'gw2'] as const).entries()) {
    const node = `${NET}.${2 * i + 2}`;
    sites.push(await DeviceSite.start({ address: node, speed: 1, tickMs: 100, serialPrefix: `UI${i}`, battery: { capacityWh: 10_000, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 80 } }));
    gateways.push(await Gateway.start(gatewayConfigSchema.parse({
      gatewayId: `GW${i + 1}`, database: join(pki.dir, `${name}.db`), tls: pki.tlsFiles(name),
      aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${agg.downstreamPort}`, certificateFile: pki.get('agg').files.certFile },
      echonet: { address: `${NET}.${2 * i + 1}`, devices: [node], pollMs: 500, timeoutMs: 2000, retries: 1 },
      telemetry: { minPeriodMs: 1000 }, engine: { tickMs: 200 },
      // GW1's battery is admitted by its allow-list; GW2's waits for an operator.
      admission: { allowList: i === 0 ? [{ serialNumber: 'UI0' }] : [] },
      operator: { port: 0, roles },
    }), { clock: systemClock, audit: new MemoryAuditSink() }));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  for (const g of gateways) await g.close().catch(() => {});
  for (const s of sites) await s.close().catch(() => {});
  await agg?.stop();
  pki?.close();
});

test('two operators: alice submits a command over the two-person threshold, bob approves it in his page; alice cancels the event in hers and the battery returns', { timeout: 180_000, skip: SKIP }, async () => {
  const b1 = await until('GW1\'s battery online', () => agg.fleet.all().find((s) => s.venId === 'GW1' && agg.engine.freshPower(s.id) !== undefined));
  const alicePage = await open('alice', 'en-US');
  const bobPage = await open('bob', 'ja-JP');
  // The battery is the whole fleet: one operator may not command it alone.
  const held = await operatorCall(consoleAt(), pki.certs.alice, 'POST', '/commands', { action: 'reduce', powerW: 2000, resources: [b1.id], durationMs: 600_000, reason: 'evening peak' });
  assert.equal(held.status, 202, held.text);
  const id = held.json.record.id as string;
  const row = `#held tr[data-id="${id}"]`;

  // Both pages list it from the live stream (no reload), with its details.
  await alicePage.waitForSelector(row, { timeout: 15_000 });
  await bobPage.waitForSelector(row, { timeout: 15_000 });
  const details = await bobPage.textContent(row) ?? '';
  assert.match(details, /alice/);
  assert.match(details, /下げ 2\.0 kW/);
  assert.match(details, /evening peak/);
  assert.match(await alicePage.textContent('#fleet') ?? '', /1 awaiting approval/);

  // alice may not approve her own command: the page says why, the command stays held.
  await alicePage.click(`${row} button.approve`);
  await alicePage.waitForSelector('#notice.bad', { timeout: 10_000 });
  assert.match(await alicePage.textContent('#notice') ?? '', /refused \(403\)/);
  assert.equal(agg.approvals.get(id)?.state, 'held');

  // bob approves in his page (Japanese): it runs, and both pages see the event.
  assert.equal(await bobPage.textContent(`${row} button.approve`), '承認');
  await bobPage.click(`${row} button.approve`);
  await bobPage.waitForSelector(`#recent tr[data-id="${id}"][data-state="executed"]`, { timeout: 15_000 });
  assert.equal(agg.approvals.get(id)?.approvedBy?.id, 'bob');
  assert.match(await bobPage.textContent(`#recent tr[data-id="${id}"] td.cstate`) ?? '', /実行済み/);
  assert.equal(await alicePage.$(row), null, 'the held row left alice\'s page too');
  const key = `operator/${id}`;
  const card = `section.event[data-key="${key}"]`;
  await alicePage.waitForSelector(card, { timeout: 15_000 });
  await bobPage.waitForSelector(card, { timeout: 15_000 });
  assert.match(await alicePage.textContent(`${card} p.origin`) ?? '', /operator command by alice, approved by bob: evening peak/);
  assert.match(await bobPage.textContent(`${card} p.origin`) ?? '', /運用者 alice（承認: bob）の指令: evening peak/);
  assert.equal(await alicePage.textContent(`${card} td[data-f="target"]`), '2.0 kW');

  // The battery discharges for it; alice cancels the event from her page; the battery returns.
  const site = sites[0]!;
  await until('the battery discharging for the command', () => mode(site) === 'discharging' || undefined);
  await alicePage.fill(`${card} input.reason-input`, 'peak over');
  await alicePage.click(`${card} button.cancel`);
  await until('the battery back in its owner\'s mode', () => mode(site) !== 'discharging' || undefined);
  await alicePage.waitForSelector(`${card}[data-state="cancelled"]`, { timeout: 15_000 });
  await bobPage.waitForSelector(`${card}[data-state="cancelled"]`, { timeout: 15_000 });
  assert.match(await bobPage.textContent(`${card} p.state`) ?? '', /^取消/);
  assert.equal(await alicePage.$(`${card} button.cancel`), null, 'a cancelled event has no Cancel button');
  assert.ok(audit.records.some((r) => r.action === 'console.api.event.cancel' && r.actor.id === 'alice' && r.outcome === 'success'));

  // The fleet: GW1's battery online and admitted; the gateways with the erab version they reported.
  await alicePage.waitForSelector(`#devices tr[data-id="${b1.id}"][data-online="true"]`, { timeout: 15_000 });
  await alicePage.click('#fleet-tabs button[data-tab="gateways"]');
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  for (let i = 0; i < 30 && (await alicePage.textContent('#gateways tr[data-id="GW1"] td:nth-child(6)').catch(() => null)) !== version; i++) {
    await alicePage.fill('#gateways-q', i % 2 ? 'GW' : 'gw'); // a new search reads the page again
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(await alicePage.textContent('#gateways tr[data-id="GW1"] td:nth-child(6)'), version);
});

test('an over-capacity command is shown as short, not green, in English and in Japanese', { timeout: 120_000, skip: SKIP }, async () => {
  const b1 = await until('GW1\'s battery online', () => agg.fleet.all().find((s) => s.venId === 'GW1' && agg.engine.freshPower(s.id) !== undefined));
  const alicePage = await open('alice', 'en-US');
  const bobPage = await open('bob', 'ja-JP');
  const held = await operatorCall(consoleAt(), pki.certs.alice, 'POST', '/commands', { action: 'reduce', powerW: 30_000, resources: [b1.id], durationMs: 600_000, reason: 'too much' });
  assert.equal(held.status, 202, held.text);
  const id = held.json.record.id as string;
  await bobPage.click(`#held tr[data-id="${id}"] button.approve`);
  const row = `#recent tr[data-id="${id}"][data-state="short"]`;
  await alicePage.waitForSelector(row, { timeout: 15_000 });
  await bobPage.waitForSelector(row, { timeout: 15_000 });
  assert.match(await alicePage.textContent(`${row} td.cstate`) ?? '', /^SHORT: \d\.\d kW of 30\.0 kW allocated \(2\d\.\d kW short\)$/);
  assert.match(await bobPage.textContent(`${row} td.cstate`) ?? '', /^不足: 30\.0 kW のうち \d\.\d kW を配分（2\d\.\d kW 不足）$/);
  for (const p of [alicePage, bobPage]) assert.notEqual(await p.$eval(`${row} td.cstate`, (e) => (globalThis as unknown as { getComputedStyle(x: unknown): { color: string } }).getComputedStyle(e).color), GREEN);
  assert.match(await bobPage.textContent('#notice') ?? '', /不足/);
  // Its event says what the fleet cannot cover.
  const card = `section.event[data-key="operator/${id}"]`;
  await alicePage.waitForSelector(`${card}.short`, { timeout: 15_000 });
  assert.match(await alicePage.textContent(`${card} p.reason`) ?? '', /^SHORT: 2\d\.\d kW the fleet cannot cover/);
  assert.match(await bobPage.textContent(`${card} p.reason`) ?? '', /^不足: フリートで賄えない 2\d\.\d kW/);
  await agg.engine.cancel(`operator/${id}`, 'test over');
});

test('admit a pending device and see it online', { timeout: 120_000, skip: SKIP }, async () => {
  const alicePage = await open('alice', 'en-US');
  await alicePage.fill('#devices-gateway', 'GW2');
  const pending = '#devices tr[data-admission="pending"]';
  await alicePage.waitForSelector(pending, { timeout: 30_000 });
  const id = await alicePage.getAttribute(pending, 'data-id');
  await alicePage.click(`${pending} button.admit`);
  await alicePage.waitForSelector(`#devices tr[data-id="${id}"][data-admission="admitted"][data-online="true"]`, { timeout: 45_000 });
  assert.equal(await alicePage.textContent(`#devices tr[data-id="${id}"] td.online`), 'online');
});
