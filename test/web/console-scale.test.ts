/**
 * The console with 100,000 devices behind 10,000 gateways, in a real browser (Debian's chromium
 * through playwright-core) over mutual TLS: the first device page renders in under a second of
 * the page's arrival (the bound for this browser test; figures come from
 * `npm run bench -- operator-api`), every list arrives one server page at a time, the header
 * reads a few counts (/api/summary), not the world, and search and paging run on the server.
 * The fleet is filled as the bench fills it: specs in the aggregator's fleet, and its downstream
 * answering 10,000 registrations (registering 10,000 real gateways is the VTN's own test).
 * Skipped with a message when chromium is not installed (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { systemClock } from '../../src/core/clock.js';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { parseAggregatorConfig } from '../../src/roles/aggregator/runtime/config.js';
import { startAggregator } from '../../src/roles/aggregator/runtime/aggregator.js';
import { CONSOLE_CSP, consolePage } from '../../src/web/console-page.js';
import { pkiWorld } from '../kit/index.js';
import { operatorCall } from '../roles/common/operator-client.js';

const CHROMIUM = process.env.ERAB_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DEVICES = 100_000;
const GATEWAYS = 10_000;

test('100,000 devices and 10,000 gateways: the first page renders in under 1 s of the page\'s arrival; lists are server pages; search and paging on the server', { timeout: 180_000, skip: existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM}` }, async (t) => {
  const pki = await pkiWorld({ agg: 'aggregator:AGG1', alice: 'operator:alice' }, { prefix: 'erab-console-scale-' });
  const agg = await startAggregator(parseAggregatorConfig({
    id: 'AGG1', tls: pki.tlsFiles('agg'), store: { url: join(pki.dir, 'agg.db') },
    downstream: { port: 0, allowList: { roles: ['gateway'] } }, console: { port: 0 },
  }), { audit: new MemoryAuditSink(), clock: systemClock, consolePage: { html: consolePage('AGG1'), csp: CONSOLE_CSP } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  try {
    const gateways = Array.from({ length: GATEWAYS }, (_, g) => ({ venId: `GW-${String(g).padStart(5, '0')}`, resources: DEVICES / GATEWAYS, lastReportAt: Date.now(), reports: 1, signed: true }));
    (agg.downstream as { gateways: () => typeof gateways }).gateways = () => gateways.map((g) => ({ ...g }));
    for (let i = 0; i < DEVICES; i++) {
      agg.fleet.upsert({ id: `dev-${String(i).padStart(7, '0')}`, venId: gateways[i % GATEWAYS]!.venId, resourceClass: 'battery', ratedReduceW: 3000, ratedIncreaseW: 3000, capacityWh: 10_000, costPerKWh: 5 });
    }
    const summary = await operatorCall({ port: agg.consolePort!, caPem: pki.caPem, server: { role: 'aggregator', id: 'AGG1' } }, pki.certs.alice, 'GET', '/api/summary');
    assert.equal(summary.status, 200, summary.text);
    assert.deepEqual([summary.json.resources.total, summary.json.gateways, summary.json.held], [DEVICES, GATEWAYS, 0]);
    assert.ok(summary.text.length < 1000, 'the header\'s counts are small');

    const origin = `https://127.0.0.1:${agg.consolePort}`;
    const context = await browser.newContext({ locale: 'en-US', ignoreHTTPSErrors: true, clientCertificates: [{ origin, cert: Buffer.from(pki.certs.alice.certPem), key: Buffer.from(pki.certs.alice.keyPem) }] });
    const page = await context.newPage();
    const answered: { path: string; bytes: number; items?: number }[] = [];
    page.on('response', async (r) => {
      const u = new URL(r.url());
      if (!u.pathname.startsWith('/api/') || u.pathname === '/api/events/stream') return;
      const body = await r.body().catch(() => Buffer.alloc(0));
      let items: number | undefined;
      try { items = (JSON.parse(body.toString()) as { items?: unknown[] }).items?.length; } catch { items = undefined; }
      answered.push({ path: u.pathname + u.search, bytes: body.length, ...(items !== undefined ? { items } : {}) });
    });
    const requested: string[] = [];
    page.on('request', (r) => requested.push(new URL(r.url()).pathname));
    // performance.now() counts from the navigation's start; a MutationObserver (added by the
    // browser's protocol, outside the page's CSP) notes when the first device row is in the DOM.
    await page.addInitScript(() => {
      const w = globalThis as unknown as { firstRowAt?: number; document: { querySelector(s: string): unknown; addEventListener(e: string, f: () => void): void; documentElement: unknown }; performance: { now(): number }; MutationObserver: new (f: () => void) => { observe(n: unknown, o: unknown): void; disconnect(): void } };
      const seen = new w.MutationObserver(() => {
        if (w.firstRowAt === undefined && w.document.querySelector('#devices tbody tr')) {
          w.firstRowAt = w.performance.now();
          seen.disconnect();
        }
      });
      seen.observe(w.document, { childList: true, subtree: true });
    });
    await page.goto(`${origin}/`);
    const firstRowAt = await (await page.waitForFunction(() => (globalThis as unknown as { firstRowAt?: number }).firstRowAt ?? false, undefined, { timeout: 30_000 })).jsonValue() as number;
    const timing = await page.evaluate(() => {
      const perf = (globalThis as unknown as { performance: { getEntriesByType(k: string): { name: string; startTime: number; responseEnd: number }[] } }).performance;
      const nav = perf.getEntriesByType('navigation')[0]!;
      const dev = perf.getEntriesByType('resource').find((e) => e.name.includes('/api/fleet/devices'));
      return { html: Math.round(nav.responseEnd), devicesAsked: Math.round(dev?.startTime ?? -1), devicesAnswered: Math.round(dev?.responseEnd ?? -1) };
    });
    t.diagnostic(`first device page rendered ${firstRowAt.toFixed(0)} ms after navigation (load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`);
    t.diagnostic(`page ${timing.html} ms, device page asked at ${timing.devicesAsked} ms, answered at ${timing.devicesAnswered} ms`);
    // The bound is on what the page does once its HTML is in: on this shared 2-core machine the
    // TLS connection through playwright's client-certificate proxy alone took 0.2-1.1 s under load.
    assert.ok(firstRowAt - timing.html < 1000, `first device page rendered ${(firstRowAt - timing.html).toFixed(0)} ms after the page arrived (${firstRowAt.toFixed(0)} ms after navigation)`);
    assert.equal(await page.locator('#devices tbody tr').count(), 50);
    assert.equal(await page.getAttribute('#devices tbody tr', 'data-id'), 'dev-0000000');
    await page.waitForSelector('#live.on');
    await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('#fleet')?.textContent.includes('100000'));
    assert.match(await page.textContent('#fleet') ?? '', /0 \/ 100000 resources online · 10000 gateways/);

    // Next page, then a search and a gateway filter: each one server page.
    await page.click('#devices .next');
    await page.waitForSelector('#devices tbody tr[data-id="dev-0000050"]');
    assert.equal(await page.textContent('#devices .count'), '51–100');
    await page.fill('#devices-q', 'dev-00999');
    await page.waitForSelector('#devices tbody tr[data-id="dev-0099900"]');
    assert.ok((await page.locator('#devices tbody tr').all()).length <= 50);
    await page.fill('#devices-q', '');
    await page.fill('#devices-gateway', 'GW-04242');
    await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('#devices tbody tr[data-id="dev-0004242"]').length === 1);
    assert.equal(await page.locator('#devices tbody tr').count(), 10, 'the ten devices of GW-04242');
    await page.click('#fleet-tabs button[data-tab="gateways"]');
    await page.waitForSelector('#gateways tbody tr[data-id="GW-00000"]');
    assert.equal(await page.locator('#gateways tbody tr').count(), 50);

    assert.ok(!requested.includes('/status'), 'the page never reads the whole status');
    const fleetAnswers = answered.filter((a) => a.path.startsWith('/api/fleet/'));
    assert.ok(fleetAnswers.length >= 4, JSON.stringify(answered));
    for (const a of answered) assert.ok((a.items ?? 0) <= 500 && a.bytes < 200_000, `${a.path}: ${a.items} items, ${a.bytes} bytes`);
    for (const a of fleetAnswers) assert.ok((a.items ?? 0) <= 50, `${a.path}: ${a.items} items`);
    await context.close();
  } finally {
    await browser.close();
    await agg.stop();
    pki.close();
  }
});
