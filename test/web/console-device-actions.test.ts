/**
 * The console's command form and device quarantine / release end to end in a real browser
 * (Debian's chromium through playwright-core) over mutual TLS, against real roles as separate
 * processes (test/kit erabWorld): `erab aggregator run` with a roles table, `erab gateway run` on
 * real OpenADR over TLS, and an `erab device site` battery on loopback UDP. The test sees them only
 * from outside: the browser, the console API (and the gateway's operator API), the battery's mode
 * read over ECHONET Lite, the audit logs on disk. Operators, each with a browser context and a
 * certificate of their own: alice (operator, English page), carol (security officer, Japanese
 * page), bob (approver), who meets the two-person rule in both languages, and dave (viewer).
 *
 * - alice submits a command from the form: for the whole fleet it is held for a second operator
 *   (the notice says so, the row appears under held commands); for the battery it is executed and
 *   the battery discharges. carol may not submit one (the notice says refused, in Japanese). A
 *   keyed refusal is read in the page's language: bob approving his own command sees the
 *   two-person rule in Japanese in his Japanese page and in English in his English page.
 * - carol quarantines the discharging battery from its row: the battery leaves discharging and the
 *   row says quarantined; alice may not (her row has no Quarantine; the API answers her 403). carol
 *   releases it: admitted and online.
 * - Each page shows only what its operator's role allows (GET /api/me), and names the operator and
 *   role in the header: the viewer no form and no action; the operator the form, Reject and Cancel;
 *   the approver Approve as well; the security officer Quarantine and nothing of commands.
 *
 * Stable selectors: the form #command-form with #command-action, #command-power (kW),
 * #command-resources, #command-duration (min), #command-reason, #command-submit; #notice
 * (.good/.bad) with data-command / data-device and data-state (the command's state, or the decision
 * sent); #held tr[data-id], #recent tr[data-id][data-state]; #devices
 * tr[data-id][data-admission][data-online][data-revision] with input.reason-input and
 * button.quarantine / button.release / button.admit / button.reject.
 * Skipped with a message when chromium is not installed (.ci/run installs it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { CHROMIUM_MISSING, consoleBrowser, erabWorld, waiter, type ConsoleBrowser, type ErabWorld } from '../kit/index.js';
import { operatorCall } from '../roles/common/operator-client.js';

const SKIP = CHROMIUM_MISSING;
const until = waiter({ timeoutMs: 45_000, intervalMs: 100 });

type Who = 'alice' | 'bob' | 'carol' | 'dave';
let world: ErabWorld;
let browser: ConsoleBrowser;

/** The battery's operation mode, read over ECHONET Lite UDP from its `erab device site` process. */
const mode = () => world.batteryMode(world.sites[0]!);

/** The console in a browser context of its own, with `who`'s operator certificate. */
function open(who: Who, locale: string): Promise<Page> {
  return browser.open({ origin: world.origin, cert: world.pki.get(who), locale });
}

/** A command's record, read from the console API. */
async function command(id: string): Promise<{ state: string; command: { powerW: number; durationMs: number; resources: string[] | 'fleet' } }> {
  const r = await world.api('alice', 'GET', `/api/commands/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** How many commands the aggregator holds (any state), read from the console API. */
async function commandCount(): Promise<number> {
  const r = await world.api('alice', 'GET', '/commands');
  assert.equal(r.status, 200, r.text);
  return (r.json as unknown[]).length;
}

/** A device's admission record at the gateway itself, read from GW1's operator API. */
async function atGateway(id: string): Promise<{ state: string; revision: number; online: boolean }> {
  const gw = world.gateways[0]!;
  const r = await operatorCall({ port: gw.operatorPort, caPem: world.pki.caPem, server: { role: 'gateway', id: gw.id } }, world.pki.get('carol'), 'GET', `/api/devices/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** Fills the command form and submits it. */
async function submitCommand(page: Page, c: { action: string; powerKw: string; resources?: string; pool?: string; startJst?: string; durationMin: string; reason: string }): Promise<void> {
  await page.selectOption('#command-action', c.action);
  await page.fill('#command-power', c.powerKw);
  // A pool chosen disables the resources field; no pool: the resources typed.
  await page.selectOption('#command-pool', c.pool ?? '');
  if (c.pool === undefined) await page.fill('#command-resources', c.resources ?? '');
  await page.fill('#command-duration', c.durationMin);
  await page.fill('#command-start', c.startJst ?? '');
  await page.fill('#command-reason', c.reason);
  await page.click('#command-submit');
}

before(async () => {
  if (SKIP) return;
  // GW1's battery is admitted by its allow-list. A command naming the battery may run on one
  // operator's word (a threshold of 100 % of the fleet); one for the whole fleet waits for a second.
  world = await erabWorld({
    prefix: 'erab-console-device-actions-', operators: { alice: 'operator', bob: 'approver', carol: 'security officer', dave: 'viewer' },
    gateways: [{ id: 'GW1', admit: true }],
    aggregator: { approvals: { maxSingleOperatorFleetPercent: 100 }, statusIntervalMs: 200 },
  });
  browser = await consoleBrowser();
});

after(async () => {
  await browser?.close();
  // Every role stops on SIGTERM with exit 0 (stop() fails naming the role otherwise).
  await world?.stop();
});

test('the command form: held for the whole fleet, executed for the battery (which discharges), refused for a security officer, the outcome in the notice in English and Japanese', { timeout: 180_000, skip: SKIP }, async () => {
  const battery = { id: (await world.onlineBatteries('alice', 'GW1'))[0]! };
  const alicePage = await open('alice', 'en-US');
  const carolPage = await open('carol', 'ja-JP');

  await submitCommand(alicePage, { action: 'reduce', powerKw: '1.5', resources: 'fleet', durationMin: '10', reason: 'fleet drill' });
  await alicePage.waitForSelector('#notice.good[data-state="held"]', { timeout: 15_000 });
  const heldId = await alicePage.getAttribute('#notice', 'data-command');
  assert.ok(heldId);
  assert.match(await alicePage.textContent('#notice') ?? '', new RegExp(`^Command ${heldId} held: it waits for a second, different operator \\(the command addresses the whole fleet\\)\\.$`));
  await alicePage.waitForSelector(`#held tr[data-id="${heldId}"]`, { timeout: 15_000 });
  assert.match(await alicePage.textContent(`#held tr[data-id="${heldId}"]`) ?? '', /reduce \(下げ\) 1\.5 kW · whole fleet · 10 min/);
  // The other page sees it from the live stream.
  await carolPage.waitForSelector(`#held tr[data-id="${heldId}"]`, { timeout: 15_000 });
  const held = await command(heldId);
  assert.deepEqual([held.state, held.command.powerW, held.command.durationMs, held.command.resources], ['held', 1500, 600_000, 'fleet']);

  await submitCommand(alicePage, { action: 'reduce', powerKw: '1', resources: battery.id, durationMin: '10', reason: 'battery drill' });
  await alicePage.waitForSelector('#notice.good[data-state="executed"]', { timeout: 15_000 });
  const ranId = await alicePage.getAttribute('#notice', 'data-command');
  assert.ok(ranId);
  assert.match(await alicePage.textContent('#notice') ?? '', new RegExp(`^Command ${ranId} executed: 1\\.0 kW allocated\\.$`));
  await alicePage.waitForSelector(`#recent tr[data-id="${ranId}"][data-state="executed"]`, { timeout: 15_000 });
  await carolPage.waitForSelector(`#recent tr[data-id="${ranId}"][data-state="executed"]`, { timeout: 15_000 });
  assert.deepEqual((await command(ranId)).command.resources, [battery.id]);
  await until('the battery discharging for the command', async () => (await mode()) === 'discharging' || undefined);

  // A security officer may not command: her page has no form, and says in Japanese which role it
  // needs; asked directly, the server refuses her (keyed, in Japanese for a Japanese client); nothing submitted.
  const before_ = await commandCount();
  assert.equal(await carolPage.isVisible('#command-form'), false, 'no command form for a security officer');
  assert.equal(await carolPage.textContent('#command-form-role'), '新しいコマンド: ロール operator が必要です。運用者 carol のロールは security officer です。');
  const refused = await world.api('carol', 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [battery.id], durationMs: 300_000, reason: '試験' });
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.json.error, /POST \/commands needs the role operator.*carol.*security officer/);
  assert.equal(await commandCount(), before_);
  assert.ok(world.auditRecords('aggregator').some((r) => r.action === 'console.commands.submit' && r.actor.id === 'carol' && r.outcome === 'refused'), 'the refusal is in the aggregator\'s audit log on disk');
  // A missing reason is the server's to refuse (a keyed refusal), shown in the page's language: English.
  await submitCommand(alicePage, { action: 'reduce', powerKw: '1', resources: battery.id, durationMin: '5', reason: '' });
  await alicePage.waitForSelector('#notice.bad', { timeout: 15_000 });
  assert.equal(await alicePage.textContent('#notice'), 'refused (400): manual command: reason must be given (1-500 characters); it is recorded in the audit log');
  assert.equal(await commandCount(), before_);

  // The two-person rule, keyed: bob (approver) may not approve his own command. His Japanese page
  // says so in Japanese (the API's key and params, not its English text), his English page in English.
  const own = await world.api('bob', 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: 'fleet', durationMs: 600_000, reason: 'own drill' });
  assert.equal(own.status, 202, own.text);
  const ownId = own.json.record.id as string;
  const bobJa = await open('bob', 'ja-JP');
  const bobEn = await open('bob', 'en-US');
  for (const p of [bobJa, bobEn]) await p.waitForSelector(`#held tr[data-id="${ownId}"] button.approve`, { timeout: 15_000 });
  await bobJa.click(`#held tr[data-id="${ownId}"] button.approve`);
  await bobJa.waitForSelector('#notice.bad', { timeout: 10_000 });
  assert.equal(await bobJa.textContent('#notice'), `拒否されました（403）: コマンド ${ownId} は運用者 bob が登録したものです。別の二人目の運用者が承認してください（自家用GL 7-1-2）`);
  await bobEn.click(`#held tr[data-id="${ownId}"] button.approve`);
  await bobEn.waitForSelector('#notice.bad', { timeout: 10_000 });
  assert.equal(await bobEn.textContent('#notice'), `refused (403): approve: operator bob submitted command ${ownId}; a second, different operator must approve it (自家用GL 7-1-2)`);
  assert.equal((await command(ownId)).state, 'held');
  // He withdraws it (its submitter may).
  const withdrawn = await world.api('bob', 'POST', `/commands/${encodeURIComponent(ownId)}/reject`, { reason: 'test over' });
  assert.equal(withdrawn.status, 200, withdrawn.text);

  // A pool of the fleet (the form's choices come from GET /api/fleet/pools) and a later start, typed
  // as JST in the datetime-local field: executed on one operator's word, its event accepted and
  // not yet active, the notice, the row and the event card saying when it starts (JST, コマ).
  await alicePage.waitForSelector('#command-pool option[value="tokyo-t2"]', { state: 'attached', timeout: 15_000 });
  const pools = await world.api('dave', 'GET', '/api/fleet/pools');
  assert.deepEqual(pools.json.items.map((p: { id: string }) => p.id), ['tokyo-t2'], pools.text);
  const startAt = Math.ceil((Date.now() + 40 * 60_000) / 60_000) * 60_000;
  const startIso = new Date(startAt + 9 * 3_600_000).toISOString().slice(0, 19) + '+09:00';
  const koma = Math.floor(((startAt + 9 * 3_600_000) % 86_400_000) / 1_800_000) + 1;
  await submitCommand(alicePage, { action: 'reduce', powerKw: '1', pool: 'tokyo-t2', startJst: startIso.slice(0, 16), durationMin: '30', reason: 'pool evening peak' });
  assert.equal(await alicePage.isDisabled('#command-resources'), true, 'a pool chosen replaces the resources typed');
  await alicePage.waitForSelector('#notice.good[data-state="executed"]', { timeout: 15_000 });
  const poolId = await alicePage.getAttribute('#notice', 'data-command');
  assert.ok(poolId && poolId !== ranId);
  assert.equal(await alicePage.textContent('#notice'), `Command ${poolId} executed: 1.0 kW allocated. It starts at ${startIso} (コマ ${koma}).`);
  const rec = (await world.api('alice', 'GET', `/api/commands/${encodeURIComponent(poolId)}`)).json;
  assert.deepEqual([rec.command.resources, rec.command.startAt], [{ pool: 'tokyo-t2' }, startAt]);
  await alicePage.waitForSelector(`#recent tr[data-id="${poolId}"][data-state="executed"]`, { timeout: 15_000 });
  assert.match(await alicePage.textContent(`#recent tr[data-id="${poolId}"]`) ?? '', new RegExp(`reduce \\(下げ\\) 1\\.0 kW · pool tokyo-t2 · 30 min · from ${startIso.replace(/\+/g, '\\+')} \\(コマ ${koma}\\)`));
  const card = `#events section[data-key="operator/${poolId}"]`;
  await alicePage.waitForSelector(`${card}[data-state="accepted"]`, { timeout: 15_000 });
  assert.match(await alicePage.textContent(`${card} .period`) ?? '', new RegExp(`^${startIso.replace(/\+/g, '\\+')} – .* · コマ ${koma}`));
  assert.match(await alicePage.textContent(`${card} .state`) ?? '', /^accepted/);
  // carol's Japanese page: accepted (受付済み) with its start too.
  await carolPage.waitForSelector(`${card}[data-state="accepted"]`, { timeout: 15_000 });
  assert.match(await carolPage.textContent(`#recent tr[data-id="${poolId}"]`) ?? '', new RegExp(`プール tokyo-t2 · 30 分 · ${startIso.replace(/\+/g, '\\+')} から（コマ ${koma}）`));
  const over = await world.api('alice', 'POST', `/api/events/${encodeURIComponent(`operator/${poolId}`)}/cancel`, { reason: 'test over' });
  assert.equal(over.status, 200, over.text);
});

test('a security officer quarantines the discharging battery from its row (it leaves discharging, the row says quarantined) and releases it (admitted, online); an operator may not', { timeout: 180_000, skip: SKIP }, async () => {
  const battery = { id: (await world.onlineBatteries('alice', 'GW1'))[0]! };
  if ((await mode()) !== 'discharging') {
    // Run on its own: a command for the battery first.
    const r = await world.api('alice', 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [battery.id], durationMs: 600_000, reason: 'drill' });
    assert.equal(r.status, 200, r.text);
  }
  await until('the battery discharging', async () => (await mode()) === 'discharging' || undefined);
  const alicePage = await open('alice', 'en-US');
  const carolPage = await open('carol', 'ja-JP');
  const row = `#devices tr[data-id="${battery.id}"]`;
  await carolPage.waitForSelector(`${row}[data-admission="admitted"]`, { timeout: 15_000 });
  assert.equal(await carolPage.$(`${row} button.release`), null, 'an admitted device has no Release');
  assert.equal(await carolPage.textContent(`${row} button.quarantine`), '隔離する');
  const revision = Number(await carolPage.getAttribute(row, 'data-revision'));
  assert.equal((await atGateway(battery.id)).revision, revision, 'the page shows the gateway\'s revision');

  // alice (operator) may not: her row has no Quarantine; asked directly, the server refuses her; nothing changes.
  await alicePage.waitForSelector(`${row}[data-admission="admitted"]`, { timeout: 15_000 });
  assert.equal(await alicePage.$(`${row} button.quarantine`), null, 'no Quarantine for an operator');
  const refused = await world.api('alice', 'POST', `/api/fleet/devices/${encodeURIComponent(battery.id)}/quarantine`, { reason: 'not hers' });
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.json.error, /needs the role security officer/);
  assert.equal(await mode(), 'discharging');
  assert.equal((await atGateway(battery.id)).state, 'admitted');

  await carolPage.fill(`${row} input.reason-input`, '侵害の疑い');
  await carolPage.click(`${row} button.quarantine`);
  await carolPage.waitForSelector(`#notice.good[data-state="quarantine"][data-device="${battery.id}"]`, { timeout: 15_000 });
  assert.match(await carolPage.textContent('#notice') ?? '', new RegExp(`^機器 ${battery.id}: 隔離をゲートウェイ GW1 に送りました（イベント admission-`));
  await until('the battery no longer discharging', async () => (await mode()) !== 'discharging' || undefined);
  await carolPage.waitForSelector(`${row}[data-admission="quarantined"][data-revision="${revision + 1}"]`, { timeout: 45_000 });
  assert.equal(await carolPage.textContent(`${row} td.admission`), '隔離中');
  await alicePage.waitForSelector(`${row}[data-admission="quarantined"]`, { timeout: 45_000 });
  assert.equal(await alicePage.textContent(`${row} td.admission`), 'quarantined');
  assert.equal(await carolPage.$(`${row} button.quarantine`), null, 'a quarantined device has no Quarantine');
  assert.deepEqual([(await atGateway(battery.id)).state, (await atGateway(battery.id)).revision], ['quarantined', revision + 1]);
  // Both sides wrote it down on disk: carol's decision at the aggregator; at GW1 the decision the aggregator signed and relayed.
  assert.ok(world.auditRecords('aggregator').some((r) => r.action === 'aggregator.device.quarantine' && r.actor.id === 'carol' && r.reason === '侵害の疑い'));
  assert.ok(world.auditRecords('GW1').some((r) => r.action === 'gateway.device.quarantined' && r.target === battery.id && r.actor.id === 'aggregator:AGG1'));
  await new Promise((r) => setTimeout(r, 1500));
  assert.notEqual(await mode(), 'discharging', 'the event still running does not command a quarantined battery');

  await carolPage.fill(`${row} input.reason-input`, '確認済み');
  await carolPage.click(`${row} button.release`);
  await carolPage.waitForSelector(`#notice.good[data-state="release"][data-device="${battery.id}"]`, { timeout: 15_000 });
  assert.match(await carolPage.textContent('#notice') ?? '', new RegExp(`リビジョン ${revision + 1} での隔離解除をゲートウェイ GW1 に送りました`));
  await carolPage.waitForSelector(`${row}[data-admission="admitted"][data-online="true"][data-revision="${revision + 2}"]`, { timeout: 45_000 });
  assert.equal(await carolPage.textContent(`${row} td.online`), 'オンライン');
  await alicePage.waitForSelector(`${row}[data-admission="admitted"][data-online="true"]`, { timeout: 45_000 });
  assert.deepEqual([(await atGateway(battery.id)).state, (await atGateway(battery.id)).revision], ['admitted', revision + 2]);
  assert.ok(world.auditRecords('aggregator').some((r) => r.action === 'aggregator.device.release' && r.actor.id === 'carol' && r.reason === '確認済み'));
});

test('each page shows only the actions its operator\'s role allows (GET /api/me), and the operator and role in the header', { timeout: 180_000, skip: SKIP }, async () => {
  const battery = { id: (await world.onlineBatteries('alice', 'GW1'))[0]! };
  // What the server says of dave (viewer), and of carol at the gateway's own operator listener.
  const me = await world.api('dave', 'GET', '/api/me');
  assert.equal(me.status, 200, me.text);
  assert.deepEqual([me.json.id, me.json.role, me.json.grants], ['dave', 'viewer', ['viewer']]);
  assert.equal(me.json.needs['POST /commands/:id/approve'], 'approver');
  assert.equal(me.json.needs['POST /api/fleet/devices/:id/quarantine'], 'security officer');
  assert.equal(me.json.needs['POST /commands'], 'operator');
  assert.ok(world.auditRecords('aggregator').some((r) => r.action === 'api.me' && r.actor.id === 'dave' && r.outcome === 'success'), '/api/me is audited');
  const gw = world.gateways[0]!;
  const atGw = await operatorCall({ port: gw.operatorPort, caPem: world.pki.caPem, server: { role: 'gateway', id: gw.id } }, world.pki.get('carol'), 'GET', '/api/me');
  assert.equal(atGw.status, 200, atGw.text);
  assert.equal(atGw.json.id, 'carol');
  assert.ok(atGw.json.grants.includes(atGw.json.role));

  // A held command (the whole fleet) and a running event (the battery), for the rows' buttons.
  const held = await world.api('alice', 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: 'fleet', durationMs: 600_000, reason: 'roles drill' });
  assert.equal(held.status, 202, held.text);
  const heldRow = `#held tr[data-id="${held.json.record.id as string}"]`;
  const ran = await world.api('alice', 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [battery.id], durationMs: 600_000, reason: 'roles drill' });
  assert.equal(ran.status, 200, ran.text);
  assert.ok(['executed', 'short'].includes(ran.json.record.state), ran.text);
  // Any running event (this one, or the battery's from an earlier test that still runs).
  const card = 'section.event[data-state="active"]';
  const deviceRow = `#devices tr[data-id="${battery.id}"][data-admission="admitted"]`;

  const expected: Record<Who, { role: string; form: boolean; approve: boolean; reject: boolean; cancel: boolean; quarantine: boolean }> = {
    dave: { role: 'viewer', form: false, approve: false, reject: false, cancel: false, quarantine: false },
    alice: { role: 'operator', form: true, approve: false, reject: true, cancel: true, quarantine: false },
    bob: { role: 'approver', form: true, approve: true, reject: true, cancel: true, quarantine: false },
    carol: { role: 'security officer', form: false, approve: false, reject: false, cancel: false, quarantine: true },
  };
  for (const [who, want] of Object.entries(expected) as [Who, (typeof expected)[Who]][]) {
    const page = await open(who, 'en-US');
    assert.equal(await page.textContent('#me'), `operator ${who} · role ${want.role}`);
    assert.deepEqual([await page.getAttribute('#me', 'data-id'), await page.getAttribute('#me', 'data-role')], [who, want.role]);
    for (const sel of [heldRow, card, deviceRow]) await page.waitForSelector(sel, { timeout: 30_000 });
    const has = async (sel: string) => (await page.$(sel)) !== null;
    const shown = {
      role: want.role,
      form: await page.isVisible('#command-form'),
      approve: await has(`${heldRow} button.approve`),
      reject: await has(`${heldRow} button.reject`),
      cancel: await has(`${card} button.cancel`),
      quarantine: await has(`${deviceRow} button.quarantine`),
    };
    assert.deepEqual(shown, want, `${who}'s page`);
    // Without a form, the page says which role a command needs; with one, it does not.
    assert.equal(await page.isVisible('#command-form-role'), !want.form);
    if (!want.form) assert.equal(await page.textContent('#command-form-role'), `New command: needs the role operator; operator ${who} has the role ${want.role}.`);
    // No reason box where there is nothing to give a reason for.
    assert.equal(await has(`${deviceRow} input.reason-input`), want.quarantine);
  }
  // The viewer's page in Japanese: the header and the note in Japanese.
  const daveJa = await open('dave', 'ja-JP');
  assert.equal(await daveJa.textContent('#me'), '運用者 dave · ロール viewer');
  assert.equal(await daveJa.textContent('#command-form-role'), '新しいコマンド: ロール operator が必要です。運用者 dave のロールは viewer です。');

  const withdrawn = await world.api('alice', 'POST', `/commands/${encodeURIComponent(held.json.record.id as string)}/reject`, { reason: 'test over' });
  assert.equal(withdrawn.status, 200, withdrawn.text);
});
