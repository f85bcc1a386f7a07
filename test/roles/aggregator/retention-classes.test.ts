/**
 * Retention per data class (issue 18 item 5; src/store/retention.ts and
 * src/roles/aggregator/portfolio/retention.ts): each class's period from the configuration
 * decides what goes — personal data first (a household's name and address, a contact's address
 * on a finished delivery), confidential records later (telemetry reports, fetched gateway
 * notices), operational records last (finished deliveries) — while what is still in use stays and
 * the audit log still verifies. The schedule of the running role is driven by an injected clock.
 * Both engines.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { describeEachEngine } from '../../store/harness.js';
import { manualClock, pkiWorld, T0, waitFor } from '../../kit/index.js';
import { startAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { openStore } from '../../../src/store/store.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations, type PortfolioTables } from '../../../src/roles/aggregator/portfolio/tables.js';
import { applyRetention, scheduleRetention } from '../../../src/roles/aggregator/portfolio/retention.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { openadrMigrations } from '../../../src/endpoints/openadr/store.js';
import { notifyMigrations } from '../../../src/secops/notify/tables.js';
import { composeMigrations } from '../../../src/store/migrations.js';
import { PersonalDataVault } from '../../../src/store/vault.js';
import { FileKeyring } from '../../../src/security/privacy/keyring.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { verifyAuditLog } from '../../../src/security/audit/verify.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-retention-classes-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86_400_000;

describeEachEngine('retention per data class', (fx) => {
  test('each class goes after its own period, what is in use stays, and the audit log verifies', async () => {
    const store = await (await fx.location()).open<PortfolioTables>(composeMigrations(portfolioMigrations, openadrMigrations, notifyMigrations));
    const db = store.db as Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const clock = manualClock(T0);
    const auditDir = join(dir, `audit-${fx.engine}`);
    const audit = AuditLog.open({ dir: auditDir, origin: `erab.test/retention-classes-${fx.engine}/audit` });
    const p = new Portfolio(store, { clock, audit, vault: new PersonalDataVault(new FileKeyring([randomBytes(32)])) });
    await p.importText([
      'resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,class,name,capacity_w,capacity_wh',
      'bat-1,s1,Mori household,tokyo,"1-1 Ota",tokyo-t2,Tokyo,tertiary2,tepco-sds,battery,Battery,5000,9800',
      'bat-2,s2,Kato household,tokyo,"2-2 Ota",tokyo-t2,Tokyo,tertiary2,tepco-sds,battery,Battery,5000,9800',
    ].join('\n'), 'csv', 'fleet.csv', { kind: 'operator', id: 'alice' });
    await sql`update portfolio_resource set present = 0 where id = 'bat-1'`.execute(db);
    // Records written at T0: a notice delivered to one contact, one still pending for another, a
    // telemetry report, a gateway notice fetched and one not yet fetched.
    await db.insertInto('notify_notice').values({ id: 'N-1', template: 'vulnerability', subject: null, data: '{}', issued_at: T0 }).execute();
    const delivery = (contact: number, status: string, address: string) => ({
      notice_id: 'N-1', contact_id: contact, channel: 'email', address, status, attempts: 1, last_attempt_at: T0,
      next_attempt_at: status === 'pending' ? T0 + DAY : null, lease_until: null, delivered_at: status === 'delivered' ? T0 : null, last_error: null,
    });
    await db.insertInto('notify_delivery').values([delivery(1, 'delivered', 'mori@household.example.jp'), delivery(2, 'pending', 'kato@household.example.jp')]).execute();
    await db.insertInto('openadr_vtn_report').values({ vtn_id: 'AGG1', ven_id: 'GW1', report_request_id: 'RR1', received_at: T0, data: '{"w":1200}' }).execute();
    const gatewayNotice = (delivery_id: number, acked_at: number | null) => ({
      delivery_id, ven_id: 'GW1', notice_id: 'N-1', template: 'vulnerability', issued_at: T0, language: 'ja', subject: 's', text: 't', content: '{}', queued_at: T0, acked_at,
    });
    await db.insertInto('notify_gateway_notice').values([gatewayNotice(101, T0), gatewayNotice(102, null)]).execute();

    const policy = parseAggregatorConfig({ id: 'AGG1', tls: { caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'k.pem' }, privacy: { retention: { personalDays: 30, confidentialDays: 90, operationalDays: 365 } } }).privacy!.retention;
    const run = () => applyRetention(p, store, policy, clock.now(), audit);
    const addresses = async () => (await db.selectFrom('notify_delivery').select(['contact_id', 'address']).orderBy('contact_id').execute()).map((r: { contact_id: number | string; address: string }) => [Number(r.contact_id), r.address]);
    const count = async (table: string) => Number((await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(db)).rows[0]!.n);

    clock.advance(20 * DAY);
    let r = await run();
    assert.deepEqual([r.sites, r.rows.map((x) => x.rows)], [[], [0, 0, 0, 0]], 'nothing is past any period yet');

    clock.advance(20 * DAY); // day 40: personal data past 30 days
    r = await run();
    assert.deepEqual(r.sites, ['s1'], "the site whose devices left has its personal data erased");
    assert.deepEqual((await p.listSites()).items.map((s) => [s.id, s.name, s.address]), [['s1', '(erased)', null], ['s2', 'Kato household', '2-2 Ota']]);
    assert.deepEqual(await addresses(), [[1, '(erased)'], [2, 'kato@household.example.jp']], "the finished delivery's address is blanked, the pending one kept");
    assert.deepEqual([await count('openadr_vtn_report'), await count('notify_gateway_notice')], [1, 2], 'confidential records kept until day 90');

    clock.advance(60 * DAY); // day 100: confidential past 90 days
    r = await run();
    assert.deepEqual([await count('openadr_vtn_report'), await count('notify_gateway_notice'), await count('notify_delivery')], [0, 1, 2], 'the report and the fetched notice go; the unfetched notice and the deliveries stay');

    clock.advance(300 * DAY); // day 400: operational past 365 days
    r = await run();
    assert.deepEqual(await addresses(), [[2, 'kato@household.example.jp']], 'the finished delivery record goes, the pending one stays');

    audit.close();
    const v = verifyAuditLog(auditDir);
    assert.ok(v.ok, JSON.stringify(v.problems));
    const records = [...readRecords(auditDir)].map((l) => l.record!);
    assert.equal(records.filter((x) => x.action === 'privacy.retention').length, 4, 'every application is audited');
    const text = JSON.stringify(records.filter((x) => x.action === 'privacy.retention' || x.action === 'personal-data.erase'));
    for (const personal of ['Mori household', '1-1 Ota', 'mori@household.example.jp']) assert.ok(!text.includes(personal), `${personal} is not in the audit log`);
    await store.close();
  });
});

test('the running role applies the periods on start and then every interval of its clock, never overlapping', async () => {
  const clock = manualClock(T0);
  const runs: number[] = [];
  let release: () => void = () => {};
  const stop = scheduleRetention({ intervalMs: DAY }, clock, async (now) => {
    runs.push(now);
    if (runs.length === 2) await new Promise<void>((res) => { release = res; });
  });
  clock.advance(0);
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(runs, [T0], 'applied on start');
  clock.advance(DAY);
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(runs, [T0, T0 + DAY], 'then after one interval');
  clock.advance(DAY); // the second application is still running: no third one yet
  await new Promise((res) => setImmediate(res));
  assert.equal(runs.length, 2);
  release();
  await new Promise((res) => setImmediate(res));
  clock.advance(DAY);
  await new Promise((res) => setImmediate(res));
  assert.equal(runs.length, 3, 'the next one follows the interval after the slow one ended');
  await stop();
  clock.advance(10 * DAY);
  await new Promise((res) => setImmediate(res));
  assert.equal(runs.length, 3, 'nothing after stop');
});

test('a retention period out of range is refused naming the field', () => {
  assert.throws(() => parseAggregatorConfig({ id: 'AGG1', tls: { caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'k.pem' }, privacy: { retention: { personalDays: 0 } } }), /privacy\.retention\.personalDays/);
});

test('a running aggregator with privacy.retention erases what expired on its own clock, and its audit log verifies', async () => {
  const world = await pkiWorld({ agg: 'aggregator:AGG1' }, { prefix: 'erab-retention-run-' });
  try {
    const url = join(dir, 'running-agg.db');
    const store = await openStore({ url, migrations: portfolioMigrations });
    await new Portfolio(store, { clock: manualClock(T0) }).importText([
      'resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,class,name,capacity_w,capacity_wh',
      'bat-1,s1,Mori household,tokyo,"1-1 Ota",tokyo-t2,Tokyo,tertiary2,tepco-sds,battery,Battery,5000,9800',
    ].join('\n'), 'csv', 'fleet.csv', { kind: 'operator', id: 'alice' });
    await sql`update portfolio_resource set present = 0`.execute(store.db);
    await store.close();
    const auditDir = join(dir, 'running-agg-audit');
    const cfg = parseAggregatorConfig({
      id: 'AGG1', tls: world.tlsFiles('agg'), store: { url }, audit: { dir: auditDir }, downstream: { port: 0 },
      privacy: { retention: { personalDays: 30, intervalMs: DAY } },
    });
    const clock = manualClock(T0 + 10 * DAY);
    const agg = await startAggregator(cfg, { clock });
    const siteName = async () => {
      const s = await openStore<PortfolioTables>({ url, migrations: portfolioMigrations, ignoreUnknownMigrations: true });
      try { return (await s.db.selectFrom('portfolio_site').select('name').where('id', '=', 's1').executeTakeFirstOrThrow()).name; } finally { await s.close(); }
    };
    try {
      const applications = () => [...readRecords(auditDir)].filter((l) => l.record?.action === 'privacy.retention').length;
      clock.advance(0); // the application on start: day 10, nothing expired
      await waitFor('the application on start', () => applications() === 1, 30_000);
      clock.advance(DAY); // day 11: the next daily one, still nothing
      await waitFor('the next daily application', () => applications() === 2, 30_000);
      assert.notEqual(await siteName(), '(erased)');
      clock.advance(24 * DAY); // the next one falls on day 12 (timers fire at their own time), still in the period
      await waitFor('the third application', () => applications() === 3, 30_000);
      assert.notEqual(await siteName(), '(erased)');
      clock.advance(DAY); // day 36: past the 30 days
      await waitFor('the site erased by the schedule', async () => (await siteName()) === '(erased)', 30_000);
    } finally {
      await agg.stop();
    }
    const v = verifyAuditLog(auditDir);
    assert.ok(v.ok, JSON.stringify(v.problems));
    const erased = [...readRecords(auditDir)].map((l) => l.record!).filter((r) => r.action === 'personal-data.erase');
    assert.deepEqual(erased.map((r) => [r.target, r.actor.id]), [['s1', 'retention']]);
  } finally {
    await world.close();
  }
});
