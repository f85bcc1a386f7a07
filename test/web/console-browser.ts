/**
 * The console in a real browser for the web tests: Debian's chromium through playwright-core
 * (skipped with a message when it is not installed; .ci/run installs it), one browser context per
 * operator certificate.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CONSOLE_CSP } from '../../src/web/console-page.js';

export const CHROMIUM = process.env.ERAB_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The reason to skip a browser test, or false. */
export const SKIP_BROWSER: string | false = existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM}`;

/**
 * Opens the console at `origin` in a new context presenting `cert` (kept in `contexts` to close),
 * checks its Content-Security-Policy and waits for the live stream; no page error on the way.
 * @example const page = await openConsole(browser, origin, pki.certs.alice, 'ja-JP', contexts);
 */
export async function openConsole(browser: Browser, origin: string, cert: { certPem: string; keyPem: string }, locale: string, contexts: BrowserContext[]): Promise<Page> {
  const context = await browser.newContext({ locale, ignoreHTTPSErrors: true, clientCertificates: [{ origin, cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) }] });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const response = await page.goto(`${origin}/`);
  assert.equal(response?.status(), 200);
  assert.equal(response?.headers()['content-security-policy'], CONSOLE_CSP);
  await page.waitForSelector('#live.on', { timeout: 30_000 });
  assert.deepEqual(errors, []);
  return page;
}
