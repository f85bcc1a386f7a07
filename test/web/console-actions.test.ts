/**
 * The console's actions end to end in a real browser (Debian's chromium through playwright-core)
 * over mutual TLS, against real roles as separate processes (test/kit erabWorld): `erab aggregator
 * run` with a roles table and a SQLite store, two `erab gateway run` on real OpenADR over TLS, each
 * with an `erab device site` battery on loopback UDP. The test sees them only from outside: the
 * browser, the console API, each battery's mode read over ECHONET Lite, the audit logs on disk.
 *
 * - Two operators, two browser contexts, two certificates: alice (operator) submits a command
 *   over the two-person threshold; her page shows it held and refuses her own approval; bob
 *   (approver) approves it in his page (in Japanese); both pages see the event start, live.
 * - Cancel the event from the page: the battery on the simulated site leaves discharging and
 *   returns to its owner's mode.
 * - An over-capacity command (30 kW from a 3 kW battery) is shown as short, not green.
 * - A pending device admitted from the page comes online (the aggregator's admission relay).
 * Skipped with a message when chromium is not installed (.ci/run installs it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { CHROMIUM_MISSING, consoleBrowser, erabWorld, waiter, type ConsoleBrowser, type ErabWorld } from '../kit/index.js';
import { REPO_ROOT } from '../repo.js';

const SKIP = CHROMIUM_MISSING;
const until = waiter({ timeoutMs: 45_000, intervalMs: 100 });
const GREEN = 'rgb(10, 107, 45)';

let world: ErabWorld;
let browser: ConsoleBrowser;

/** The console in a browser context of its own, with `who`'s operator certificate. */
function open(who: 'alice' | 'bob', locale: string): Promise<Page> {
  return browser.open({ origin: world.origin, cert: world.pki.get(who), locale });
}

/** A command's record, read from the console API. */
async function command(id: string): Promise<{ state: string; approvedBy?: { id: string } }> {
  const r = await world.api('alice', 'GET', `/api/commands/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

before(async () => {
  if (SKIP) return;
  // GW1's battery is admitted by its allow-list; GW2's waits for an operator.
  world = await erabWorld({ prefix: 'erab-console-actions-', operators: { alice: 'operator', bob: 'approver' }, gateways: [{ id: 'GW1', admit: true }, { id: 'GW2' }] });
  browser = await consoleBrowser();
});

after(async () => {
  await browser?.close();
  // Every role stops on SIGTERM with exit 0 (stop() fails naming the role otherwise).
  await world?.stop();
});

test('two operators: alice submits a command over the two-person threshold, bob approves it in his page; alice cancels the event in hers and the battery returns', { timeout: 180_000, skip: SKIP }, async () => {
  const b1 = { id: (await world.onlineBatteries('alice', 'GW1'))[0]! };
  const alicePage = await open('alice', 'en-US');
  const bobPage = await open('bob', 'ja-JP');
  // The battery is the whole fleet: one operator may not command it alone.
  const held = await world.api('alice', 'POST', '/commands', { action: 'reduce', powerW: 2000, resources: [b1.id], durationMs: 600_000, reason: 'evening peak' });
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

  // alice (operator) may not approve: her page offers no Approve (only Reject, which she may), and
  // the server refuses her still when asked directly; the command stays held.
  assert.equal(await alicePage.$(`${row} button.approve`), null, 'no Approve for an operator');
  assert.ok(await alicePage.$(`${row} button.reject`), 'an operator may reject (withdraw) a held command');
  const refused = await world.api('alice', 'POST', `/commands/${id}/approve`, {});
  assert.equal(refused.status, 403, refused.text);
  assert.equal((await command(id)).state, 'held');

  // bob approves in his page (Japanese): it runs, and both pages see the event.
  assert.equal(await bobPage.textContent(`${row} button.approve`), '承認');
  await bobPage.click(`${row} button.approve`);
  await bobPage.waitForSelector(`#recent tr[data-id="${id}"][data-state="executed"]`, { timeout: 15_000 });
  assert.equal((await command(id)).approvedBy?.id, 'bob');
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
  const site = world.sites[0]!;
  await until('the battery discharging for the command', async () => (await world.batteryMode(site)) === 'discharging' || undefined);
  await alicePage.fill(`${card} input.reason-input`, 'peak over');
  await alicePage.click(`${card} button.cancel`);
  await until('the battery back in its owner\'s mode', async () => (await world.batteryMode(site)) !== 'discharging' || undefined);
  await alicePage.waitForSelector(`${card}[data-state="cancelled"]`, { timeout: 15_000 });
  await bobPage.waitForSelector(`${card}[data-state="cancelled"]`, { timeout: 15_000 });
  assert.match(await bobPage.textContent(`${card} p.state`) ?? '', /^取消/);
  assert.equal(await alicePage.$(`${card} button.cancel`), null, 'a cancelled event has no Cancel button');
  assert.ok(world.auditRecords('aggregator').some((r) => r.action === 'console.api.event.cancel' && r.actor.id === 'alice' && r.outcome === 'success'), 'the cancel is in the aggregator\'s audit log on disk');

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
  const b1 = { id: (await world.onlineBatteries('alice', 'GW1'))[0]! };
  const alicePage = await open('alice', 'en-US');
  const bobPage = await open('bob', 'ja-JP');
  const held = await world.api('alice', 'POST', '/commands', { action: 'reduce', powerW: 30_000, resources: [b1.id], durationMs: 600_000, reason: 'too much' });
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
  const cancelled = await world.api('alice', 'POST', `/api/events/${encodeURIComponent(`operator/${id}`)}/cancel`, { reason: 'test over' });
  assert.equal(cancelled.status, 200, cancelled.text);
});

test('admit a pending device and see it online', { timeout: 120_000, skip: SKIP }, async () => {
  const alicePage = await open('alice', 'en-US');
  await alicePage.fill('#devices-gateway', 'GW2');
  const pending = '#devices tr[data-admission="pending"]';
  await alicePage.waitForSelector(pending, { timeout: 30_000 });
  const id = await alicePage.getAttribute(pending, 'data-id');
  assert.deepEqual(world.auditRecords('GW2').filter((r) => r.action === 'gateway.device.admitted'), [], 'nothing admitted at GW2 yet');
  await alicePage.click(`${pending} button.admit`);
  await alicePage.waitForSelector(`#devices tr[data-id="${id}"][data-admission="admitted"][data-online="true"]`, { timeout: 45_000 });
  assert.equal(await alicePage.textContent(`#devices tr[data-id="${id}"] td.online`), 'online');
  // Both sides wrote it down on disk: alice's request at the aggregator; at GW2 the decision the
  // aggregator signed and relayed (the gateway knows the aggregator, not its operators).
  assert.ok(world.auditRecords('aggregator').some((r) => r.action === 'console.api.device.admit' && r.actor.id === 'alice' && r.outcome === 'success'));
  const admitted = world.auditRecords('GW2').filter((r) => r.action === 'gateway.device.admitted');
  assert.equal(admitted.length, 1, JSON.stringify(admitted));
  assert.deepEqual(admitted[0]!.actor, { kind: 'operator', id: 'aggregator:AGG1' });
});
