/**
 * The console's panels from the routes other modules contribute, in a real browser (Debian's
 * chromium through playwright-core) over mutual TLS, on `erab aggregator run` as a separate
 * process with a compliance profile (secops and compliance attached as in production): a peer from another CA knocks
 * on the downstream listener until detection raises an alert; the alerts panel lists it and an
 * operator acknowledges it from the page; the vulnerability findings and compliance panels show;
 * the incidents panel, whose route this aggregator does not serve, stays hidden; the refusals
 * view lists the rogue peer's TLS refusals; the audit log browser shows the log verified.
 * Skipped with a message when chromium is not installed (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../security/tls-helpers.js';
import { CHROMIUM_MISSING, erabWorld, launchChromium, operatorPage, pkiWorld } from '../kit/index.js';

test('alerts (acknowledged from the page), findings and compliance panels; a panel whose route is absent hidden; TLS refusals; the audit log verified', { timeout: 240_000, skip: CHROMIUM_MISSING }, async () => {
  // `erab aggregator run` as a process, with a compliance profile (secops attach as they do in production).
  const world = await erabWorld({
    prefix: 'erab-console-panels-', operators: { alice: 'security officer', dave: 'viewer' }, portfolio: false,
    aggregator: { downstream: { host: '127.0.0.1', port: 0, allowList: { participants: ['gateway:GW1'] } } },
    aggregatorArgs: ({ dir, configFile }) => {
      const profile = join(dir, 'compliance.json');
      writeFileSync(profile, JSON.stringify({
        participant: { id: 'AGG1' }, roles: ['aggregator'], configs: { aggregator: configFile },
        store: join(dir, 'compliance.db'), audit: { dir: join(dir, 'compliance-audit') },
      }));
      return ['--compliance-profile', profile];
    },
  });
  const rogueWorld = await pkiWorld({ rogue: 'gateway:GW1' }, { prefix: 'erab-console-panels-rogue-', ca: { commonName: 'rogue CA' } });
  const browser = await launchChromium().catch(async (e: Error) => { await world.stop(); throw e; });
  try {
    const rogue = rogueWorld.certs.rogue;
    for (let i = 0; i < 10; i++) await request(world.aggregator.downstreamPort, { cert: rogue.certPem, key: rogue.keyPem, ca: world.pki.caPem, checkServerIdentity: () => undefined }).catch(() => {});
    const { context, page, errors } = await operatorPage(browser, { origin: world.origin, cert: world.pki.get('alice'), locale: 'en-US' });
    await page.goto(`${world.origin}/`);
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
    // A viewer sees the same open alert with no Acknowledge button (the server would refuse it too).
    const viewer = await operatorPage(browser, { origin: world.origin, cert: world.pki.get('dave'), locale: 'en-US' });
    await viewer.page.goto(`${world.origin}/`);
    await viewer.page.waitForSelector('#me', { timeout: 30_000 });
    await viewer.page.waitForSelector(`#alerts tr[data-id="${alertId}"]`, { timeout: 30_000 });
    assert.match(await viewer.page.textContent(`#alerts tr[data-id="${alertId}"]`) ?? '', /open/);
    assert.equal(await viewer.page.locator(`#alerts tr[data-id="${alertId}"] button.ack`).count(), 0, 'no Acknowledge for a viewer');
    assert.equal((await world.api('dave', 'POST', `/api/alerts/${encodeURIComponent(alertId!)}/ack`, {})).status, 403);
    assert.deepEqual(viewer.errors, []);
    await viewer.context.close();
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
    await world.stop();
    rogueWorld.close();
  }
});
