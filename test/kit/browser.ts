/**
 * Debian's chromium through playwright-core, for the console's browser tests: where it is, why a
 * test skips without it, how it is launched, and a browser context that presents an operator's
 * client certificate to the console's origin (mutual TLS).
 *
 * @example
 * test('...', { skip: CHROMIUM_MISSING }, async () => {
 *   const browser = await launchChromium();
 *   const { page, errors } = await operatorPage(browser, { origin: world.origin, cert: world.pki.certs.alice, locale: 'ja-JP' });
 * });
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CONSOLE_CSP } from '../../src/web/console-page.js';

/** The browser's executable: $ERAB_CHROMIUM or /usr/bin/chromium. */
export const CHROMIUM = process.env.ERAB_CHROMIUM ?? '/usr/bin/chromium';

/** A test's `skip`: false when chromium is installed, else the reason (.ci/run installs it). */
export const CHROMIUM_MISSING: false | string = existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM}`;

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches headless chromium (no sandbox, no background traffic). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

export interface OperatorPageOptions {
  /** The console's origin, e.g. `https://127.0.0.1:9444`. */
  origin: string;
  /** The operator's certificate and key (PEM), presented to `origin` only. */
  cert: { certPem: string; keyPem: string };
  /** The browser's language (it sends Accept-Language from it), e.g. `ja-JP`. */
  locale?: string;
}

/** A browser context of its own with the operator's client certificate. */
export function operatorContext(browser: Browser, o: OperatorPageOptions): Promise<BrowserContext> {
  return browser.newContext({
    ...(o.locale ? { locale: o.locale } : {}),
    ignoreHTTPSErrors: true,
    clientCertificates: [{ origin: o.origin, cert: Buffer.from(o.cert.certPem), key: Buffer.from(o.cert.keyPem) }],
  });
}

/**
 * A page in a new operator context; `errors` collects the page's script errors, console errors
 * (except the browser's own failed favicon load) and answers ≥ 400 (except /favicon.ico).
 */
export async function operatorPage(browser: Browser, o: OperatorPageOptions): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await operatorContext(browser, o);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`); });
  return { context, page, errors };
}

/** One browser for a test file's console pages: each `open` a context of its own, all closed at the end. */
export interface ConsoleBrowser {
  /**
   * The console at `origin` with the operator's certificate, checked as an operator's browser
   * would meet it: 200, the console's Content-Security-Policy, the live stream on, the operator
   * read (GET /api/me: the header names the operator, the actions shown are the role's), no page error.
   */
  open(o: OperatorPageOptions): Promise<Page>;
  close(): Promise<void>;
}

/** @example const b = await consoleBrowser(); const page = await b.open({ origin, cert, locale: 'ja-JP' }); … await b.close(); */
export async function consoleBrowser(): Promise<ConsoleBrowser> {
  const browser = await launchChromium();
  const contexts: BrowserContext[] = [];
  return {
    async open(o) {
      const { context, page, errors } = await operatorPage(browser, o);
      contexts.push(context);
      const response = await page.goto(`${o.origin}/`);
      assert.equal(response?.status(), 200);
      assert.equal(response?.headers()['content-security-policy'], CONSOLE_CSP);
      await page.waitForSelector('#live.on', { timeout: 30_000 });
      await page.waitForSelector('#me[data-role]', { timeout: 30_000 });
      assert.deepEqual(errors, []);
      return page;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close();
    },
  };
}
