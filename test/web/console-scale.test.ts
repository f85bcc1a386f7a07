/**
 * The console with 100,000 devices behind 10,000 gateways, in a real browser (Debian's chromium
 * through playwright-core) over mutual TLS, against `erab aggregator run` as a separate process:
 * the first device page renders in under a second of the navigation's start (best of three
 * navigations, to drop a one-off load spike on a shared machine; the figures are printed), every
 * list arrives one server page at a time, the header reads a few counts (/api/summary), not the
 * world, and search and paging run on the server.
 * The store is filled before the aggregator starts: the portfolio (10,000 sites and gateways,
 * 100,000 batteries) by `erab aggregator portfolio import`, and 10,000 gateway registrations in its
 * downstream VTN's table, as if they had registered (registering 10,000 real gateways is the VTN's
 * own test); the aggregator reads both at start.
 * Skipped with a message when chromium is not installed (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { StoreVtnStore } from '../../src/endpoints/openadr/store.js';
import { epochMillis } from '../../src/core/units.js';
import { r4VtnId } from '../../src/roles/aggregator/runtime/downstream.js';
import { aggregatorMigrations } from '../../src/roles/aggregator/runtime/r4-workers.js';
import { openStore, type Store } from '../../src/store/store.js';
import { CHROMIUM_MISSING, erabWorld, launchChromium, operatorContext } from '../kit/index.js';

const DEVICES = 100_000;
const GATEWAYS = 10_000;
const venOf = (g: number) => `GW-${String(g).padStart(5, '0')}`;

/** The portfolio: a site and a gateway per venID, ten batteries behind each (device i behind gateway i mod 10,000). */
function portfolio(): object {
  return {
    format: 'erab-portfolio/1',
    sites: Array.from({ length: GATEWAYS }, (_, g) => ({ id: `S-${g}`, name: `Home ${g}`, tsoArea: 'tokyo' })),
    gateways: Array.from({ length: GATEWAYS }, (_, g) => ({ id: venOf(g), siteId: `S-${g}`, venId: venOf(g) })),
    resources: Array.from({ length: DEVICES }, (_, i) => ({
      id: `dev-${String(i).padStart(7, '0')}`, siteId: `S-${i % GATEWAYS}`, gatewayId: venOf(i % GATEWAYS),
      class: 'battery', capacityWh: 10_000, maxChargeW: 3000, maxDischargeW: 3000,
    })),
  };
}

/** 10,000 registrations in the downstream VTN's table (one transaction). */
async function registerGateways(storeUrl: string): Promise<void> {
  const store = await openStore({ url: storeUrl, migrations: aggregatorMigrations });
  try {
    await store.db.transaction().execute(async (trx) => {
      const vtn = new StoreVtnStore({ db: trx, dialect: store.dialect } as unknown as Store, r4VtnId('AGG1'));
      for (let g = 0; g < GATEWAYS; g++) {
        const fingerprint = g.toString(16).padStart(20, '0').replace(/(..)(?!$)/g, '$1:');
        await vtn.putRegistration({ venID: venOf(g), registrationID: `reg-${g}`, fingerprint, httpPullModel: true, xmlSignature: true, reportOnly: false, registeredAt: epochMillis(Date.now()) });
      }
    });
  } finally {
    await store.close();
  }
}

test('100,000 devices and 10,000 gateways: the first page renders in under 1 s of the navigation\'s start; lists are server pages; search and paging on the server', { timeout: 600_000, skip: CHROMIUM_MISSING }, async (t) => {
  const t0 = Date.now();
  const world = await erabWorld({ prefix: 'erab-console-scale-', operators: { alice: 'operator' }, portfolio: portfolio(), seed: registerGateways, readyMs: 300_000 });
  t.diagnostic(`world up in ${((Date.now() - t0) / 1000).toFixed(1)} s (portfolio import, registrations, aggregator start)`);
  const browser = await launchChromium().catch(async (e: Error) => { await world.stop(); throw e; });
  try {
  const summary = await world.api('alice', 'GET', '/api/summary');
    assert.equal(summary.status, 200, summary.text);
    assert.deepEqual([summary.json.resources.total, summary.json.gateways, summary.json.held], [DEVICES, GATEWAYS, 0]);
    assert.ok(summary.text.length < 1000, 'the header\'s counts are small');

    const origin = world.origin;
    const context = await operatorContext(browser, { origin, cert: world.pki.get('alice'), locale: 'en-US' });
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
    // Three navigations; the best counts (the first also pays for the TLS connection through
    // playwright's client-certificate proxy). Each figure is from the navigation's start.
    const runs: { firstRowAt: number; html: number }[] = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`${origin}/`);
      const firstRowAt = await (await page.waitForFunction(() => (globalThis as unknown as { firstRowAt?: number }).firstRowAt ?? false, undefined, { timeout: 30_000 })).jsonValue() as number;
      const timing = await page.evaluate(() => {
        const perf = (globalThis as unknown as { performance: { getEntriesByType(k: string): { name: string; startTime: number; connectEnd: number; requestStart: number; responseStart: number; responseEnd: number }[] } }).performance;
        const nav = perf.getEntriesByType('navigation')[0]!;
        const dev = perf.getEntriesByType('resource').find((e) => e.name.includes('/api/fleet/devices'));
        return { connected: Math.round(nav.connectEnd), asked: Math.round(nav.requestStart), firstByte: Math.round(nav.responseStart), html: Math.round(nav.responseEnd), devicesAsked: Math.round(dev?.startTime ?? -1), devicesAnswered: Math.round(dev?.responseEnd ?? -1) };
      });
      runs.push({ firstRowAt: Math.round(firstRowAt), ...timing });
      t.diagnostic(`navigation ${i + 1}: first device page rendered ${Math.round(firstRowAt)} ms after the navigation's start; connected ${timing.connected} ms, page asked ${timing.asked} ms, first byte ${timing.firstByte} ms, page in ${timing.html} ms, device page asked at ${timing.devicesAsked} ms, answered at ${timing.devicesAnswered} ms (load ${loadavg()[0]!.toFixed(1)})`);
    }
    const best = Math.min(...runs.map((r) => r.firstRowAt));
    t.diagnostic(`best of 3: ${best} ms`);
    assert.ok(best < 1000, `the first device page rendered ${best} ms after the navigation's start at best (${runs.map((r) => r.firstRowAt).join(', ')} ms)`);
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
    await world.stop();
  }
});
