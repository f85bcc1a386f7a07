/**
 * The operator console in a real browser (Debian's chromium through playwright-core): the
 * aggregator's operator endpoint serves the page over mutual TLS, the browser presents an
 * operator certificate, and the page draws the target vs delivered curve of a running event.
 * Skipped with a message when chromium is not installed (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CHROMIUM_MISSING, erabWorld, launchChromium, operatorContext } from '../kit/index.js';
import { CONSOLE_CSP } from '../../src/web/console-page.js';

test('the console draws target vs delivered for a running event, for an operator certificate', { timeout: 180_000, skip: CHROMIUM_MISSING }, async () => {
  // `erab aggregator run`, `erab gateway run` and two `erab device site` batteries, as processes.
  // Both batteries are 100 % of this tiny fleet: let one operator command it without a second approval.
  const world = await erabWorld({ prefix: 'erab-console-', operators: { alice: 'operator' }, gateways: [{ id: 'GW1', homes: 2, admit: true }], aggregator: { approvals: { maxSingleOperatorFleetPercent: 100 } } });
  const browser = await launchChromium().catch(async (e: Error) => { await world.stop(); throw e; });
  try {
    // A small operator command runs at once (under the two-person threshold) and becomes an event with a series.
    const ids = await world.onlineBatteries('alice', 'GW1', 2);
    const submitted = await world.api('alice', 'POST', '/commands', { action: 'reduce', powerW: 4000, resources: ids, durationMs: 600_000, reason: 'console test' });
    assert.equal(submitted.status, 200, submitted.text);
    const origin = world.origin;
    const context = await operatorContext(browser, { origin, cert: world.pki.get('alice') });
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
    // The series grows by a sample per closed-loop interval, sent by the live feed: a page opened
    // right after the command may first draw a single sample (once in CI), so wait for a line.
    const targetPoints = () => page.getAttribute('section.event svg polyline[data-series="targetW"]', 'points');
    await page.waitForFunction(() => ((globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string | null } | null } }).document
      .querySelector('section.event svg polyline[data-series="targetW"]')?.getAttribute('points') ?? '').trim().split(' ').length >= 2, undefined, { timeout: 30_000 })
      .catch(() => undefined);
    const target = await targetPoints();
    assert.ok(target && target.trim().split(' ').length >= 2, `the target curve has points: "${target}"`);
    assert.equal(await page.textContent('#who'), 'AGG1');
    assert.equal(await page.textContent('#error'), '', 'the page refreshed without errors');
    await page.screenshot({ path: process.env.ERAB_CONSOLE_SCREENSHOT ?? join(world.dir, 'console.png'), fullPage: true });
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
    await browser.close();
    await world.stop();
  }
});
