/**
 * The console's panels from the routes other modules contribute, in a real browser (Debian's
 * chromium through playwright-core) over mutual TLS, on an aggregator composed as `erab
 * aggregator run` composes it (secops and compliance attached): a peer from another CA knocks
 * on the downstream listener until detection raises an alert; the alerts panel lists it and an
 * operator acknowledges it from the page; the vulnerability findings and compliance panels show;
 * the incidents panel, whose route this aggregator does not serve, stays hidden; the refusals
 * view lists the rogue peer's TLS refusals; the audit log browser shows the log verified.
 * Skipped with a message when chromium is not installed (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { parseAggregatorConfig } from '../../src/roles/aggregator/runtime/config.js';
import { startAggregator } from '../../src/roles/aggregator/runtime/aggregator.js';
import { aggregatorSecops } from '../../src/cli/role-secops.js';
import { complianceProfileSchema } from '../../src/compliance/profile.js';
import { CONSOLE_CSP, consolePage } from '../../src/web/console-page.js';
import { request } from '../security/tls-helpers.js';
import { pkiWorld } from '../kit/index.js';

const CHROMIUM = process.env.ERAB_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('alerts (acknowledged from the page), findings and compliance panels; a panel whose route is absent hidden; TLS refusals; the audit log verified', { timeout: 180_000, skip: existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM}` }, async () => {
  const world = await pkiWorld({ agg: 'aggregator:AGG1', alice: 'operator:alice' }, { prefix: 'erab-console-panels-', flatFiles: true });
  const rogueWorld = await pkiWorld({ rogue: 'gateway:GW1' }, { prefix: 'erab-console-panels-rogue-', ca: { commonName: 'rogue CA' } });
  const input = {
    id: 'AGG1', tls: { certFile: join(world.dir, 'agg.pem'), keyFile: join(world.dir, 'agg.key'), caFile: join(world.dir, 'ca.pem') },
    store: { url: join(world.dir, 'agg.db') }, audit: { dir: join(world.dir, 'audit') },
    downstream: { port: 0, allowList: { participants: ['gateway:GW1'] } },
    console: { port: 0, roles: { default: 'viewer' as const, operators: { alice: 'security officer' as const } } },
  };
  const cfg = parseAggregatorConfig(input);
  writeFileSync(join(world.dir, 'agg.json'), JSON.stringify(input));
  const compliance = complianceProfileSchema.parse({
    participant: { id: 'AGG1' }, roles: ['aggregator'], configs: { aggregator: join(world.dir, 'agg.json') },
    store: join(world.dir, 'compliance.db'), audit: { dir: join(world.dir, 'compliance-audit') },
  });
  const secops = aggregatorSecops(cfg, { compliance });
  const agg = await startAggregator(cfg, { ...secops.deps, consolePage: { html: consolePage('AGG1'), csp: CONSOLE_CSP } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  try {
    const rogue = rogueWorld.certs.rogue;
    for (let i = 0; i < 10; i++) await request(agg.downstreamPort, { cert: rogue.certPem, key: rogue.keyPem, ca: world.caPem, checkServerIdentity: () => undefined }).catch(() => {});
    const origin = `https://127.0.0.1:${agg.consolePort}`;
    const context = await browser.newContext({ locale: 'en-US', ignoreHTTPSErrors: true, clientCertificates: [{ origin, cert: Buffer.from(world.certs.alice.certPem), key: Buffer.from(world.certs.alice.keyPem) }] });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`); });
    await page.goto(`${origin}/`);
    await page.waitForSelector('#live.on', { timeout: 30_000 });

    // The alert the rogue peer raised (the panel is read again every 30 s; a reload reads it now).
    let alertRow = null;
    for (let i = 0; i < 20 && !alertRow; i++) {
      alertRow = await page.waitForSelector('#alerts tbody tr, #alerts tr[data-id]', { timeout: 3000 }).catch(() => null);
      if (!alertRow) await page.reload();
    }
    assert.ok(alertRow, 'the alert is listed');
    assert.equal(await page.isVisible('#alerts'), true);
    const alertId = await alertRow.getAttribute('data-id');
    assert.match(await alertRow.textContent() ?? '', /open/);
    await page.click(`#alerts tr[data-id="${alertId}"] button.ack`);
    await page.waitForSelector(`#alerts tr[data-id="${alertId}"]:not(:has(button.ack))`, { timeout: 15_000 });
    assert.match(await page.textContent(`#alerts tr[data-id="${alertId}"]`) ?? '', /acknowledged by alice/);
    assert.match(await page.textContent('#notice') ?? '', new RegExp(`Alert ${alertId} acknowledged`));

    // Findings and compliance are served here; incidents are not: that panel stays hidden.
    await page.waitForSelector('#vuln:not([hidden])', { timeout: 15_000 });
    await page.waitForSelector('#compliance:not([hidden])', { timeout: 60_000 });
    assert.match(await page.textContent('#compliance .body') ?? '', /assessment \d+ at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00/);
    assert.equal(await page.isHidden('#incidents'), true);

    // The rogue peer's handshakes, refused at TLS, in the refusals view; the log verified.
    await page.selectOption('#refusals-kind', 'tls');
    await page.waitForSelector('#refusals tbody tr[data-kind="tls"]', { timeout: 15_000 });
    assert.match(await page.textContent('#refusals tbody tr[data-kind="tls"] td:nth-child(5)') ?? '', /TLS handshake/);
    assert.match(await page.textContent('#audit-verification') ?? '', /^verified ✓ \d+ records/);
    assert.equal(await page.getAttribute('#audit-verification', 'class'), 'good');
    await page.fill('#audit-action', 'secops.api.alert.ack');
    await page.waitForFunction(() => {
      const rows = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ textContent: string }> } }).document.querySelectorAll('#audit tbody tr');
      return rows.length > 0 && Array.from(rows).every((r) => r.textContent.includes('secops.api.alert.ack'));
    }, undefined, { timeout: 15_000 });
    assert.match(await page.textContent('#audit tbody tr') ?? '', /alice/);
    assert.deepEqual(errors, [], 'no script error and no refused request');
    await context.close();
  } finally {
    await browser.close();
    await agg.stop();
    await world.close();
    await rogueWorld.close();
  }
});
