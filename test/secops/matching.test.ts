/**
 * Inventory × advisories on both engines: the portfolio (as the aggregator stores it) is read
 * into the inventory, the fixture feeds imported, and findings checked — CPE range in and out,
 * the name fallback at lower confidence, the CSAF model-number range, purl for erab's own
 * packages — then the finding lifecycle: risk acceptance that expires and reopens, a firmware
 * update that patches, every step in the audit log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/core/audit-port.js';
import { ManualClock } from '../../src/core/clock.js';
import { composeMigrations } from '../../src/store/migrations.js';
import { Portfolio } from '../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations, type PortfolioTables } from '../../src/roles/aggregator/portfolio/tables.js';
import { importFeed, listImports } from '../../src/secops/feeds/import.js';
import { setMaker, syncInventoryFromPortfolio } from '../../src/secops/inventory/sync.js';
import { assetHistory, listAssets } from '../../src/secops/inventory/query.js';
import { recordSoftware, type SoftwareReport } from '../../src/secops/inventory/software.js';
import { acceptRisk, evaluateFindings, findingId, markNotified, setFindingStatus } from '../../src/secops/matching/findings.js';
import { findingsByAdvisory, listFindings } from '../../src/secops/matching/query.js';
import { secopsMigrations, type SecopsTables } from '../../src/secops/tables.js';
import { describeEachEngine } from '../store/harness.js';
import { waitFor } from '../kit/index.js';
import { InventoryReevaluator } from '../../src/secops/matching/reevaluate.js';
import type { EvaluateResult } from '../../src/secops/matching/findings.js';
import { REPO_ROOT } from '../repo.js';

const FEEDS = join(REPO_ROOT, 'test', 'fixtures', 'feeds');
const operator = { kind: 'operator' as const, id: 'alice' };
const HEAD = 'resource_id,site_id,site_name,tso_area,gateway_id,ven_id,class,name,capacity_w,capacity_wh,max_charge_w,max_discharge_w,maker_code,product_code,serial_number,firmware_version';
const row = (id: string, site: string, gw: string, cls: string, maker: string, product: string, fw: string) =>
  `${id},${site},House ${site},tokyo,${gw},ven-${gw},${cls},${id} unit,3000,${cls === 'battery' ? '6000,3000,3000' : ',,'},${maker},${product},SN-${id},${fw}`;
const FLEET = [
  HEAD,
  row('bat-in', 'site-a', 'gw-a', 'battery', '00007B', 'BT-100', '1.2.3'), // NVD range [1.0.0, 1.2.4)
  row('bat-edge', 'site-b', 'gw-b', 'battery', '00007B', 'BT-100', '1.2.4'), // the first fixed version
  row('bat-new', 'site-b', 'gw-b', 'battery', '00007B', 'BT-100', '1.10.0'), // 1.10 > 1.2.4 numerically
  row('sb-1', 'site-a', 'gw-a', 'battery', '000099', 'SB-7', 'Ver.2.0.0'), // JVN "2.0.0 およびそれ以前", maker not mapped
  row('pvh-old', 'site-c', 'gw-c', 'pv', '0000AA', 'PVH-55', '3.1.9'), // CSAF vers:generic/>=3.0|<3.2.1, no CPE
  row('pvh-fixed', 'site-c', 'gw-c', 'pv', '0000AA', 'PVH-55', '3.2.1'),
].join('\n');

describeEachEngine('secops matching', (fx) => {
  async function world() {
    const store = await (await fx.location()).open<SecopsTables & PortfolioTables>(composeMigrations(portfolioMigrations, secopsMigrations));
    const clock = new ManualClock(Date.UTC(2026, 11, 1, 0, 0, 0));
    const audit = new MemoryAuditSink();
    const portfolio = new Portfolio(store, { clock });
    await portfolio.importText(FLEET, 'csv', 'fleet.csv', operator);
    await setMaker(store.db, '00007B', 'example_energy', 'Example Energy', clock.now());
    const db = store.db;
    await syncInventoryFromPortfolio(db, { clock, audit });
    for (const [f, format] of [['nvd-cve-2.0.json', 'nvd'], ['vuldef-detail.xml', 'jvn'], ['csaf-2.0.json', 'csaf']] as const) {
      await importFeed(db, { format, bytes: readFileSync(join(FEEDS, f)), source: f, clock });
    }
    return { store, db, clock, audit, portfolio };
  }
  const pairs = async (db: Awaited<ReturnType<typeof world>>['db']) =>
    (await listFindings(db)).map((f) => `${f.asset.id} ${f.advisory.uid} ${f.confidence}/${f.matchKind} ${f.status}`).sort();

  test('inventory from the portfolio: sites, gateways and devices with management number, CPE and history', async () => {
    const { store, db, clock, portfolio } = await world();
    const assets = await listAssets(db);
    assert.deepEqual(assets.filter((a) => a.kind === 'gateway').map((a) => [a.id, a.site_id, a.parent_id]), [
      ['gateway:gw-a', 'site-a', 'participant:site:site-a'], ['gateway:gw-b', 'site-b', 'participant:site:site-b'], ['gateway:gw-c', 'site-c', 'participant:site:site-c'],
    ]);
    const bat = assets.find((a) => a.id === 'device:bat-in')!;
    assert.deepEqual([bat.management_no, bat.site_id, bat.gateway_id, bat.class, bat.maker_code, bat.product_code, bat.serial_number, bat.version, bat.cpe], [
      'bat-in', 'site-a', 'gw-a', 'battery', '00007B', 'BT-100', 'SN-bat-in', '1.2.3', 'cpe:2.3:o:example_energy:bt-100_firmware:1.2.3:*:*:*:*:*:*:*',
    ]);
    assert.equal(assets.find((a) => a.id === 'device:sb-1')!.cpe, null, 'no CPE without a known maker vendor');
    assert.equal(assets.filter((a) => a.kind === 'participant').length, 3);
    // A firmware update reaches the history.
    clock.advance(60_000);
    await portfolio.importText(`resource_id,site_id,gateway_id,class,firmware_version\nbat-in,site-a,gw-a,battery,1.2.4`, 'csv', 'fw.csv', operator);
    const r = await syncInventoryFromPortfolio(db, { clock });
    assert.deepEqual([r.added, r.changed, r.missing], [0, 1, 0]);
    const h = await assetHistory(db, 'device:bat-in');
    assert.deepEqual(h.map((c) => [c.field, c.oldValue, c.newValue]), [
      ['created', null, '1.2.3'], ['version', '1.2.3', '1.2.4'],
      ['cpe', 'cpe:2.3:o:example_energy:bt-100_firmware:1.2.3:*:*:*:*:*:*:*', 'cpe:2.3:o:example_energy:bt-100_firmware:1.2.4:*:*:*:*:*:*:*'],
    ]);
    await store.close();
  });

  test('a firmware inside the CPE range is found, outside is not; the name fallback and model numbers match with lower confidence', async () => {
    const { store, db, clock, audit } = await world();
    const r = await evaluateFindings(db, { clock, audit });
    assert.deepEqual(await pairs(db), [
      'device:bat-in nvd:CVE-2026-10001 high/cpe open',
      'device:pvh-old csaf:TTK-2026-0007 medium/model open',
      'device:sb-1 jvn:JVNDB-2026-000201 low/name open',
    ]);
    assert.equal(r.opened, 3);
    const [f] = await listFindings(db, { advisory: 'CVE-2026-10001' });
    assert.ok(f);
    assert.deepEqual([f.cvssScore, f.cvssVector, f.knownExploited, f.affectedRange, f.matchedVersion, f.asset.siteId, f.asset.gatewayId], [
      8.8, 'CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', true, '>=1.0.0 <1.2.4', '1.2.3', 'site-a', 'gw-a',
    ]);
    assert.match(f.fix ?? '', /Apply mitigations/);
    // Once the maker's CPE vendor is known, the JVN CPE 2.2 name matches exactly: same finding, higher confidence.
    await setMaker(db, '000099', 'sample-denki', 'サンプル電機', clock.now());
    await syncInventoryFromPortfolio(db, { clock });
    const again = await evaluateFindings(db, { clock, audit });
    assert.deepEqual([again.opened, again.updated], [0, 1]);
    assert.ok((await pairs(db)).includes('device:sb-1 jvn:JVNDB-2026-000201 high/cpe open'));
    assert.equal((await listFindings(db)).length, 3, 'no duplicate on re-evaluation');
    await store.close();
  });

  test("erab's own packages are matched by purl", async () => {
    const { store, db, clock } = await world();
    const report: SoftwareReport = {
      role: 'aggregator', node: '20.20.2',
      erab: { name: 'erab', version: '0.1.0', purl: 'pkg:npm/erab@0.1.0', dependsOn: ['pkg:npm/semver@7.5.1'] },
      packages: [{ name: 'semver', version: '7.5.1', purl: 'pkg:npm/semver@7.5.1', dependsOn: [] }, { name: 'zod', version: '4.0.0', purl: 'pkg:npm/zod@4.0.0', dependsOn: [] }],
    };
    await recordSoftware(db, report, { clock });
    // A second role on the same store, its name a prefix-lookalike with a LIKE wildcard in it.
    await recordSoftware(db, { ...report, role: 'aggregator_2' }, { clock });
    await recordSoftware(db, report, { clock });
    assert.equal((await listAssets(db, { kind: 'participant', presentOnly: true })).filter((a) => a.class === 'role').length, 2, 'each role keeps its own participant asset');
    assert.equal((await listAssets(db, { kind: 'software', presentOnly: true })).length, 8, 'erab, node and two packages, per role');
    await evaluateFindings(db, { clock });
    assert.ok((await pairs(db)).includes('software:aggregator:pkg:npm/semver@7.5.1 csaf:TTK-2026-0007 high/purl open'));
    assert.ok((await pairs(db)).includes('software:aggregator_2:pkg:npm/semver@7.5.1 csaf:TTK-2026-0007 high/purl open'));
    // Upgrading semver to 7.5.2 (outside vers:npm/<7.5.2) patches it.
    await recordSoftware(db, { ...report, packages: [{ name: 'semver', version: '7.5.2', purl: 'pkg:npm/semver@7.5.2', dependsOn: [] }] }, { clock });
    const r = await evaluateFindings(db, { clock });
    assert.equal(r.closed, 1, 'the old package is gone from the inventory');
    assert.ok(!(await pairs(db)).some((p) => p.includes('semver@7.5.2')));
    await store.close();
  });

  test('a risk acceptance expires and the finding reopens; a firmware update patches; every step audited', async () => {
    const { store, db, clock, audit, portfolio } = await world();
    await evaluateFindings(db, { clock, audit });
    const id = findingId('device:bat-in', 'nvd:CVE-2026-10001');
    await setFindingStatus(db, [id], 'notified', { actor: operator, reason: 'told the owner' }, { clock, audit });
    await assert.rejects(acceptRisk(db, [id], { actor: operator, reason: 'isolated network', approver: '', expires: clock.now() + 3_600_000 }, { clock, audit }), /needs an approver/);
    await assert.rejects(acceptRisk(db, [id], { actor: operator, reason: 'isolated network', approver: 'ciso', expires: clock.now() - 1 }, { clock, audit }), /expiry in the future/);
    await acceptRisk(db, [id], { actor: operator, reason: 'segment isolated until the vendor ships 1.2.4', approver: 'ciso', expires: clock.now() + 3_600_000 }, { clock, audit });
    let [f] = await listFindings(db, { assetId: 'device:bat-in' });
    assert.equal(f?.status, 'risk_accepted');
    assert.deepEqual(f?.acceptance, { reason: 'segment isolated until the vendor ships 1.2.4', approver: 'ciso', until: clock.now() + 3_600_000 });

    clock.advance(30 * 60_000);
    assert.equal((await evaluateFindings(db, { clock, audit })).expired, 0, 'not yet');
    clock.advance(31 * 60_000);
    assert.equal((await evaluateFindings(db, { clock, audit })).expired, 1);
    [f] = await listFindings(db, { assetId: 'device:bat-in' });
    assert.equal(f?.status, 'open');
    assert.match(f?.statusReason ?? '', /risk acceptance by ciso expired at/);

    // A move the lifecycle does not allow is refused.
    await setFindingStatus(db, [id], 'closed', { actor: operator, reason: 'false positive?' }, { clock, audit });
    await assert.rejects(setFindingStatus(db, [id], 'notified', { actor: operator }, { clock, audit }), /is closed: it cannot move to notified/);
    await setFindingStatus(db, [id], 'open', { actor: operator, reason: 'not a false positive after all' }, { clock, audit });

    // The gateway reports 1.2.4: the matcher moves the finding to patched.
    await portfolio.importText(`resource_id,site_id,gateway_id,class,firmware_version\nbat-in,site-a,gw-a,battery,1.2.4`, 'csv', 'fw.csv', operator);
    await syncInventoryFromPortfolio(db, { clock });
    const r = await evaluateFindings(db, { clock, audit });
    assert.equal(r.patched, 1);
    [f] = await listFindings(db, { assetId: 'device:bat-in' });
    assert.equal(f?.status, 'patched');
    assert.match(f?.statusReason ?? '', /now at version 1\.2\.4, outside >=1\.0\.0 <1\.2\.4/);

    const trail = audit.records.filter((a) => a.target === id).map((a) => `${a.action} ${a.actor.id}`);
    assert.deepEqual(trail, [
      'vuln.finding.open secops.matching', 'vuln.finding.notified alice', 'vuln.finding.risk_accepted alice',
      'vuln.finding.open secops.matching', 'vuln.finding.closed alice', 'vuln.finding.open alice', 'vuln.finding.patched secops.matching',
    ]);
    const accepted = audit.records.find((a) => a.action === 'vuln.finding.risk_accepted');
    assert.equal(accepted?.details?.approver, 'ciso');
    await store.close();
  });

  test('findings of one advisory grouped by site and gateway (for notification)', async () => {
    const { store, db, clock } = await world();
    await evaluateFindings(db, { clock });
    const groups = await findingsByAdvisory(db, 'TTK-2026-0007');
    assert.deepEqual(groups.map((g) => [g.siteId, g.gateways.map((x) => [x.gatewayId, x.findings.map((f) => f.asset.id)])]), [['site-c', [['gw-c', ['device:pvh-old']]]]]);
    assert.deepEqual(await findingsByAdvisory(db, 'CVE-2026-10002'), [], 'awaiting analysis: nobody affected yet');
    const byCve = await findingsByAdvisory(db, 'CVE-2026-20201');
    assert.deepEqual(byCve.map((g) => [g.siteId, g.gateways.flatMap((x) => x.findings.map((f) => f.advisory.uid))]), [['site-a', ['jvn:JVNDB-2026-000201']]], 'a CVE id finds the JVN advisory that carries it');
    await markNotified(db, byCve.flatMap((g) => g.gateways.flatMap((x) => x.findings.map((f) => f.id))), { kind: 'system', id: 'secops.notify' }, { clock });
    assert.equal((await listFindings(db, { advisory: 'JVNDB-2026-000201' }))[0]?.status, 'notified');
    await store.close();
  });

  test('an inventory change re-evaluates once after the delay, however many gateways report meanwhile', async () => {
    const { store, db, clock, portfolio } = await world();
    await evaluateFindings(db, { clock });
    const results: EvaluateResult[] = [];
    const r = new InventoryReevaluator(db, { clock, delayMs: 30_000, onResult: (x) => results.push(x) });
    await portfolio.importText(`resource_id,site_id,gateway_id,class,firmware_version\nbat-in,site-a,gw-a,battery,1.2.4`, 'csv', 'fw.csv', operator);
    r.changed();
    r.changed();
    r.changed();
    clock.advance(29_000);
    assert.equal(results.length, 0, 'not before the delay');
    clock.advance(1_000);
    await waitFor('the re-evaluation', () => results.length === 1, 10_000);
    assert.equal(results[0]?.patched, 1, 'the reported firmware 1.2.4 patches the finding');
    clock.advance(60_000);
    assert.equal(results.length, 1, 'three changes, one evaluation');
    const [f] = await listFindings(db, { assetId: 'device:bat-in' });
    assert.equal(f?.status, 'patched');
    await r.stop();
    await store.close();
  });

  test('keyset pages (afterId, order by id) of assets, findings and imports list every row once on this engine', async () => {
    const { store, db, clock } = await world();
    await evaluateFindings(db, { clock });
    const pages = async <T>(fetch: (after: T | undefined) => Promise<T[]>): Promise<T[]> => {
      const out: T[] = [];
      for (let page = await fetch(undefined); page.length > 0; page = await fetch(out[out.length - 1])) out.push(...page);
      return out;
    };
    const assets = (await listAssets(db)).map((a) => a.id);
    assert.deepEqual(await pages<string>(async (after) => (await listAssets(db, { limit: 2, ...(after ? { afterId: after } : {}) })).map((a) => a.id)), assets);
    const findings = (await listFindings(db, { order: 'id' })).map((f) => f.id);
    assert.ok(findings.length >= 3, findings.join(', '));
    assert.deepEqual(await pages<string>(async (after) => (await listFindings(db, { order: 'id', limit: 1, ...(after ? { afterId: after } : {}) })).map((f) => f.id)), findings);
    assert.deepEqual([...findings].sort(), [...(await listFindings(db)).map((f) => f.id)].sort(), 'the same findings as by CVSS');
    const imports = (await listImports(db)).map((i) => Number(i.id));
    assert.deepEqual(await pages<number>(async (after) => (await listImports(db, 1, after)).map((i) => Number(i.id))), imports);
    await store.close();
  });

  test('a re-evaluator without a result callback still evaluates (the finding is patched)', async () => {
    const { store, db, clock, portfolio } = await world();
    await evaluateFindings(db, { clock });
    const r = new InventoryReevaluator(db, { clock, delayMs: 1_000 });
    await portfolio.importText(`resource_id,site_id,gateway_id,class,firmware_version\nbat-in,site-a,gw-a,battery,1.2.4`, 'csv', 'fw.csv', operator);
    r.changed();
    clock.advance(1_000);
    await waitFor('the finding patched', async () => (await listFindings(db, { assetId: 'device:bat-in' }))[0]?.status === 'patched', 10_000);
    await r.stop();
    await store.close();
  });
});
