/**
 * The operator console in a real browser (Debian's chromium through playwright-core): the
 * aggregator's operator endpoint serves the page over mutual TLS, the browser presents an
 * operator certificate, and the page draws the target vs delivered curve of a running event.
 * Skipped with a message when chromium is not installed (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { systemClock } from '../../src/core/clock.js';
import { epochMillis } from '../../src/core/units.js';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { pkiWorld } from '../kit/index.js';
import { parseAggregatorConfig } from '../../src/roles/aggregator/runtime/config.js';
import { startAggregator } from '../../src/roles/aggregator/runtime/aggregator.js';
import { CONSOLE_CSP, consolePage } from '../../src/web/console-page.js';
import { consoleRefusalPage } from '../../src/web/refusal-page.js';

const CHROMIUM = process.env.ERAB_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('the console draws target vs delivered for a running event, for an operator certificate', { timeout: 120_000, skip: existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM}` }, async () => {
  const pki = await pkiWorld({ agg: 'aggregator:AGG1', alice: 'operator:alice' }, { prefix: 'erab-console-', flatFiles: true });
  const dir = pki.dir; // holds ca.pem, agg.pem, agg.key (flatFiles)
  const { alice } = pki.certs;
  const cfg = parseAggregatorConfig({
    id: 'AGG1', tls: { certFile: join(dir, 'agg.pem'), keyFile: join(dir, 'agg.key'), caFile: join(dir, 'ca.pem') },
    // Its own store: the default (aggregator.db in the working directory) kept the last run's events.
    store: { url: join(dir, 'agg.db') },
    downstream: { port: 0, allowList: { roles: ['gateway'] } },
    console: { port: 0 },
    closedLoop: { intervalMs: 200 },
    // Both batteries are 100 % of this tiny fleet: let one operator command it without a second approval.
    approvals: { maxSingleOperatorFleetPercent: 100 },
  });
  const portfolio = ['b1', 'b2'].map((id) => ({ id, venId: 'GW1', resourceClass: 'battery' as const, ratedReduceW: 3000, ratedIncreaseW: 3000, capacityWh: 10_000, costPerKWh: 5 }));
  const agg = await startAggregator(cfg, { audit: new MemoryAuditSink(), clock: systemClock, portfolio, consolePage: { html: consolePage('AGG1'), csp: CONSOLE_CSP, refused: consoleRefusalPage } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  let feeder: NodeJS.Timeout | undefined;
  try {
    const feed = (w: number) => {
      for (const id of ['b1', 'b2']) {
        agg.fleet.recordPower(id, w, epochMillis(Date.now()));
        agg.fleet.recordStatus(id, { online: true, manualOverride: false, socPercent: 90 }, epochMillis(Date.now()));
      }
    };
    feed(0);
    // A small operator command runs at once (under the two-person threshold) and becomes an event with a series.
    await agg.submitCommand({ id: 'alice', fingerprint: 'AA' }, { action: 'reduce', powerW: 4000, resources: ['b1', 'b2'], durationMs: 600_000, reason: 'console test' });
    feeder = setInterval(() => { feed(-2000); void agg.tick(); }, 150);

    const origin = `https://127.0.0.1:${agg.consolePort}`;
    const context = await browser.newContext({ ignoreHTTPSErrors: true, clientCertificates: [{ origin, cert: Buffer.from(alice.certPem), key: Buffer.from(alice.keyPem) }] });
    const page = await context.newPage();
    const response = await page.goto(`${origin}/`);
    assert.equal(response?.status(), 200);
    assert.equal(response?.headers()['content-security-policy'], CONSOLE_CSP);
    // 'attached', not 'visible': a flat curve (constant delivery) has an empty bounding box.
    await page.waitForSelector('section.event svg polyline[data-series="deliveredW"]', { state: 'attached', timeout: 30_000 });
    const delivered = await page.getAttribute('section.event svg polyline[data-series="deliveredW"]', 'points');
    assert.ok(delivered && delivered.split(' ').length >= 1, 'the delivered curve has points');
    const heading = await page.textContent('section.event h2');
    assert.match(heading ?? '', /reduce \(下げ\) 4\.0 kW/);
    const target = await page.getAttribute('section.event svg polyline[data-series="targetW"]', 'points');
    assert.ok(target && target.split(' ').length >= 2, 'the target curve has points');
    assert.equal(await page.textContent('#who'), 'AGG1');
    assert.equal(await page.textContent('#error'), '', 'the page refreshed without errors');
    await page.screenshot({ path: process.env.ERAB_CONSOLE_SCREENSHOT ?? join(dir, 'console.png'), fullPage: true });
    await context.close();

    // Without an operator certificate the browser reads why and what to do, not an empty reply.
    const anonymous = await browser.newContext({ ignoreHTTPSErrors: true });
    const refusedPage = await anonymous.newPage();
    const refused = await refusedPage.goto(`${origin}/`);
    assert.equal(refused?.status(), 403);
    assert.match(await refusedPage.textContent('body') ?? '', /運用者証明書が必要です[^]*erab pki issue --p12[^]*An operator certificate is required/);
    assert.equal(await refusedPage.$('#who'), null, 'nothing of the console is served');
    await anonymous.close();
  } finally {
    clearInterval(feeder);
    await browser.close();
    await agg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
