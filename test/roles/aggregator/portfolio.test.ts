import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { ManualClock } from '../../../src/core/clock.js';
import { IntegrityError, InvalidInputError, NotAuthorizedError, PolicyRefusedError } from '../../../src/core/errors.js';
import type { EpochMillis } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import type { Store } from '../../../src/store/store.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations, type PortfolioTables } from '../../../src/roles/aggregator/portfolio/tables.js';
import { PortfolioImportError, type ImportIssue } from '../../../src/roles/aggregator/portfolio/import.js';
import { assetUrn, buildInventory, describeDataPoints } from '../../../src/roles/gateway/inventory.js';
import { exportPortfolioCsv } from '../../../src/roles/aggregator/portfolio/export.js';
import type { DeviceRecord } from '../../../src/roles/gateway/admission.js';
import { describeEachEngine } from '../../store/harness.js';
import { notDispatchableReason, toAllocatable } from '../../../src/roles/aggregator/portfolio/allocatable.js';
import { allocate, levelRequest } from '../../../src/roles/aggregator/allocation/allocate.js';
import type { WattHours, Watts } from '../../../src/core/units.js';

const operator = { kind: 'operator' as const, id: 'alice' };

const FLEET_CSV = [
  'resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,gateway_id,ven_id,class,name,capacity_w,capacity_wh,max_charge_w,max_discharge_w,max_reduce_w,backup_reserve_percent,comfort_min_c,comfort_max_c,maker_code,product_code,serial_number',
  'bat-001,site-001,Sato house,tokyo,"1-2-3 Chiyoda, Tokyo",tokyo-t2,Tokyo 三次②,tertiary2,tepco-simple-dispatch,gw-001,ven-gw-001,battery,蓄電池 living,5000,9800,4000,4500,,30,,,00007B,PANA-LJB1,SN0001',
  'pv-001,site-001,Sato house,tokyo,"1-2-3 Chiyoda, Tokyo",tokyo-t2,Tokyo 三次②,tertiary2,tepco-simple-dispatch,gw-001,ven-gw-001,pv,Roof PV,4500,,,,,,,,000005,SHARP-PV,SN0002',
  'ac-001,site-001,Sato house,tokyo,"1-2-3 Chiyoda, Tokyo",tokyo-t2,,,,gw-001,,aircon,"Aircon ""main""",2200,,,,1500,,24,28,,,',
  'wh-101,site-101,Kansai factory,kansai,,kansai-t1,Kansai 三次①,tertiary1,kepco-simple-dispatch,,,water_heater,EcoCute,1500,6000,,,,,,,,,',
  'load-101,site-101,Kansai factory,kansai,,kansai-t1,,,,,,load,Chiller,80000,,,,60000,,,,,,',
].join('\r\n');

async function open(fx: { location(): Promise<{ open<DB>(m: typeof portfolioMigrations): Promise<Store<DB>> }> }) {
  const loc = await fx.location();
  const store = await loc.open<PortfolioTables>(portfolioMigrations);
  return { loc, store };
}

function issuesOf(err: unknown): ImportIssue[] {
  assert.ok(err instanceof PortfolioImportError, `expected PortfolioImportError, got ${String(err)}`);
  return [...err.issues];
}

function hasIssue(issues: ImportIssue[], line: number | undefined, field: string, message: RegExp): void {
  assert.ok(
    issues.some((i) => i.line === line && i.field === field && message.test(i.message)),
    `no issue at line ${line} field ${field} matching ${message}; got:\n${issues.map((i) => `${i.line}: ${i.field}: ${i.message}`).join('\n')}`,
  );
}

describeEachEngine('aggregator portfolio', (fx) => {
  test('CSV import creates pools, sites, gateways and resources with class defaults', async () => {
    const { store } = await open(fx);
    const audit = new MemoryAuditSink();
    const p = new Portfolio(store, { audit, clock: new ManualClock() });
    const s = await p.importText(FLEET_CSV, 'csv', 'fleet.csv', operator);
    assert.deepEqual(s, {
      pools: { created: 2, updated: 0 }, sites: { created: 2, updated: 0 },
      gateways: { created: 1, updated: 0 }, resources: { created: 5, updated: 0 },
    });
    const bat = await p.getResource('bat-001');
    assert.ok(bat);
    assert.equal(bat.name, '蓄電池 living');
    assert.equal(bat.poolId, 'tokyo-t2');
    assert.equal(bat.gatewayId, 'gw-001');
    assert.equal(bat.maxReduceW, 4500, 'battery reduce defaults to its discharge limit');
    assert.equal(bat.maxIncreaseW, 4000, 'battery increase defaults to its charge limit');
    assert.equal(bat.capacityWh, 9800);
    assert.deepEqual(bat.constraints, { backupReservePercent: 30 });
    assert.equal(bat.makerCode, '00007B');
    const pv = await p.getResource('pv-001');
    assert.equal(pv?.maxReduceW, 0, 'PV cannot reduce net consumption');
    assert.equal(pv?.maxIncreaseW, 4500, 'PV can curtail its whole output');
    const ac = await p.getResource('ac-001');
    assert.equal(ac?.name, 'Aircon "main"');
    assert.deepEqual(ac?.constraints, { comfortBand: { minC: 24, maxC: 28 } });
    const acIncreaseW = ac?.maxIncreaseW ?? 0;
    assert.ok(acIncreaseW > 0, 'an air conditioner can take up (上げ)');
    const pools = await p.listPools();
    assert.deepEqual(pools.map((x) => [x.id, x.tsoArea, x.product, x.resources, x.reduceW, x.increaseW]), [
      ['kansai-t1', 'kansai', 'tertiary1', 2, 61500, 1500],
      // The air conditioner takes up (上げ, pre-cooling) as well as shedding: its increase counts too.
      ['tokyo-t2', 'tokyo', 'tertiary2', 3, 4500 + 0 + 1500, 4000 + 4500 + acIncreaseW],
    ]);
    const sites = await p.listSites();
    assert.deepEqual(sites.items.map((x) => [x.id, x.tsoArea, x.address]), [['site-001', 'tokyo', '1-2-3 Chiyoda, Tokyo'], ['site-101', 'kansai', null]]);
    assert.deepEqual(audit.records.map((r) => [r.action, r.outcome, r.actor.id]), [['portfolio.import', 'success', 'alice']]);

    // Importing the same file again changes nothing but the timestamps: everything is "updated".
    const again = await p.importText(FLEET_CSV, 'csv', 'fleet.csv', operator);
    assert.deepEqual(again.resources, { created: 0, updated: 5 });
    assert.deepEqual(again.sites, { created: 0, updated: 2 });
    assert.equal((await p.listResources()).total, 5);
    await store.close();
  });

  test('a bad CSV is refused whole, every problem named by line and column', async () => {
    const { store } = await open(fx);
    const p = new Portfolio(store);
    const csv = [
      'resource_id,site_id,site_name,tso_area,pool_id,product,program,gateway_id,class,capacity_w,capacity_wh,max_reduce_w,max_charge_w,comfort_min_c,comfort_max_c',
      'ok-1,s1,Site one,tokyo,tk,tertiary2,prog,,battery,3000,5000,,,,', // line 2: valid
      'bad-2,s1,Site one,tokyo,,,,,battery,abc,5000,,,,', // line 3: capacity_w not a number
      'bad-3,s1,Site one,tokyo,,,,,fridge,100,,,,,', // line 4: class
      'bad-4,s2,Site two,tokyo,ks,tertiary1,prog,,load,100,,,,,', // line 5: pool ks defined in kansai? no: defined with tokyo here
      'bad-5,s3,Site three,kansai,tk,,,,load,100,,,,,', // line 6: pool tk is tokyo, site kansai
      'bad-6,s1,Site one,tokyo,,,,gw-x,pv,100,,50,,,', // line 7: pv reduce > 0 and unknown gateway
      'bad-7,s1,Site one,tokyo,,,,,battery,3000,0,,,,', // line 8: battery with 0 Wh
      'bad-8,s1,Site one,tokyo,,,,,aircon,2000,,,,28,24', // line 9: comfort band inverted
      'bad-9,s1,Site ONE,tokyo,,,,,load,100,,,,,', // line 10: site defined differently
      'bad-10,s1,Site one,tokyo,,,,,battery,3000,5000,,4000,,', // line 11: charge > capacity
      'ok-1,s1,Site one,tokyo,,,,,load,100,,,,,', // line 12: duplicate resource id
      'bad-12,nosite,,,,,,,load,100,,,,,', // line 13: unknown site
    ].join('\n');
    const err = await p.importText(csv, 'csv', 'bad.csv', operator).catch((e: unknown) => e);
    const issues = issuesOf(err);
    hasIssue(issues, 3, 'capacity_w', /number of watts/);
    hasIssue(issues, 4, 'class', /one of battery/);
    hasIssue(issues, 7, 'max_reduce_w', /must be 0 for pv/);
    hasIssue(issues, 8, 'capacity_wh', /must be > 0 for class battery/);
    hasIssue(issues, 9, 'comfort_max_c', /minC must be below maxC/);
    hasIssue(issues, 10, 'site_name', /site "s1" is defined differently than on line 2 \(name: "Site one" vs "Site ONE"\)/);
    hasIssue(issues, 11, 'max_charge_w', /exceeds the resource's capacityW/);
    hasIssue(issues, 12, 'resource_id', /appears twice \(first on line 2\)/);
    assert.match((err as Error).message, /^bad\.csv: \d+ problems, nothing imported/);
    // Nothing at all was written, not even the valid row.
    assert.equal((await p.listResources()).total, 0);
    assert.equal((await p.listPools()).length, 0);

    // Reference errors are found once the field errors are fixed.
    const refs = [
      'resource_id,site_id,site_name,tso_area,pool_id,product,program,gateway_id,class,capacity_w,max_reduce_w',
      'r1,s1,Site one,tokyo,tk,tertiary2,prog,,load,100,',
      'r2,s3,Site three,kansai,tk,,,,load,100,',
      'r3,s1,Site one,tokyo,,,,g1,load,100,',
      'r4,nosite,,,,,,,load,100,',
      'r5,s1,Site one,tokyo,nopool,,,,load,100,',
      'r6,s3,Site three,kansai,,,,g1,load,100,',
    ].join('\n');
    const refIssues = issuesOf(await p.importText(refs, 'csv', 'refs.csv', operator).catch((e: unknown) => e));
    hasIssue(refIssues, 3, 'pool_id', /pool "tk" is in TSO area tokyo, the site "s3" is in kansai/);
    hasIssue(refIssues, 5, 'site_id', /site "nosite" does not exist/);
    hasIssue(refIssues, 6, 'pool_id', /pool "nopool" does not exist/);
    hasIssue(refIssues, 7, 'site_id', /gateway "g1" is defined differently than on line 4 \(siteId: "s1" vs "s3"\)/);
    hasIssue(refIssues, 7, 'gateway_id', /gateway "g1" is at site "s1", not "s3"/);
    assert.equal(refIssues.length, 5, refIssues.map((i) => i.message).join('\n'));
    assert.equal((await p.listResources()).total, 0);
    await store.close();
  });

  test('malformed CSV structure and unknown columns are refused with the line', async () => {
    const { store } = await open(fx);
    const p = new Portfolio(store);
    const cases: [string, number, RegExp][] = [
      ['resource_id,site_id,class\nr1,s1,"load\n', 2, /quoted field is not closed/],
      ['resource_id,site_id,class\nr1,s1,lo"ad\n', 2, /quote inside an unquoted field/],
      ['resource_id,site_id,class\nr1,s1\n', 2, /2 fields, the header has 3/],
      ['resource_id,site_id,class\nr1,"s1"x,load\n', 2, /after a closing quote/],
    ];
    for (const [csv, line, re] of cases) {
      const issues = issuesOf(await p.importText(csv, 'csv', 'x.csv', operator).catch((e: unknown) => e));
      hasIssue(issues, line, '(file)', re);
    }
    const unknown = issuesOf(await p.importText('resource_id,site_id,class,capacity_kw\n', 'csv', 'x.csv', operator).catch((e: unknown) => e));
    hasIssue(unknown, 1, 'capacity_kw', /unknown column/);
    const missing = issuesOf(await p.importText('resource_id,site_id\n', 'csv', 'x.csv', operator).catch((e: unknown) => e));
    hasIssue(missing, 1, 'class', /required column is missing/);
    const empty = issuesOf(await p.importText('', 'csv', 'x.csv', operator).catch((e: unknown) => e));
    hasIssue(empty, undefined, '(file)', /empty/);
    await store.close();
  });

  test('JSON import, with errors located by path and line', async () => {
    const { store } = await open(fx);
    const p = new Portfolio(store);
    const doc = {
      format: 'erab-portfolio/1',
      pools: [{ id: 'chubu-t2', name: 'Chubu', tsoArea: 'chubu', product: 'tertiary2', program: 'chuden-sds' }],
      sites: [{ id: 'b-1', name: 'Nagoya office', tsoArea: 'chubu', poolId: 'chubu-t2' }],
      gateways: [{ id: 'bems-1', siteId: 'b-1', venId: 'ven-bems-1' }],
      resources: [
        { id: 'ahu-1', siteId: 'b-1', gatewayId: 'bems-1', class: 'load', name: 'AHU 1', capacityW: 30000, maxReduceW: 20000, constraints: { maxReductionMinutes: 120 } },
        { id: 'ev-1', siteId: 'b-1', class: 'ev', capacityW: 6000, capacityWh: 40000, maxDischargeW: 6000, constraints: { backupReservePercent: 50 } },
      ],
    };
    const text = JSON.stringify(doc, null, 2);
    const s = await p.importText(text, 'json', 'fleet.json', operator);
    assert.deepEqual(s.resources, { created: 2, updated: 0 });
    const ahu = await p.getResource('ahu-1');
    assert.equal(ahu?.poolId, 'chubu-t2', "a resource without a pool joins its site's pool");
    assert.equal(ahu?.maxReduceW, 20000);
    assert.equal((await p.listGateways())[0]?.venId, 'ven-bems-1');

    const bad = structuredClone(doc) as unknown as Record<string, unknown[]>;
    (bad.resources![1] as Record<string, unknown>).capacityWh = -5;
    (bad.resources![0] as Record<string, unknown>).colour = 'red';
    bad.sites!.push({ id: 'b-2', name: 'x', tsoArea: 'mars' });
    const badText = JSON.stringify(bad, null, 2);
    const issues = issuesOf(await p.importText(badText, 'json', 'bad.json', operator).catch((e: unknown) => e));
    const lineOf = (needle: string) => badText.slice(0, badText.indexOf(needle)).split('\n').length - 1; // the '{' line before the needle
    hasIssue(issues, lineOf('"id": "ev-1"'), 'resources[1].capacityWh', /≥ 0/);
    hasIssue(issues, lineOf('"id": "ahu-1"'), 'resources[0]', /colour/);
    hasIssue(issues, lineOf('"id": "b-2"'), 'sites[1].tsoArea', /one of hokkaido/);

    const syntax = issuesOf(await p.importText('{\n  "pools": [\n    {,}\n  ]\n}', 'json', 's.json', operator).catch((e: unknown) => e));
    hasIssue(syntax, 3, '(file)', /not valid JSON/);
    const wrongFormat = issuesOf(await p.importText('{"format":"other/2"}', 'json', 'f.json', operator).catch((e: unknown) => e));
    hasIssue(wrongFormat, 1, 'format', /erab-portfolio\/1/);
    const unknownGw = '{"resources": [\n  {"id": "ahu-2", "siteId": "b-1", "gatewayId": "bems-404", "class": "load"},\n  {"id": "ahu-3", "siteId": "b-1", "gatewayId": "bems-1", "class": "load"}\n]}';
    const gwIssues = issuesOf(await p.importText(unknownGw, 'json', 'g.json', operator).catch((e: unknown) => e));
    hasIssue(gwIssues, 2, 'resources[0].gatewayId', /gateway "bems-404" does not exist/);
    assert.equal(gwIssues.length, 1);
    await store.close();
  });

  test('a later import can reference what an earlier one created', async () => {
    const { store } = await open(fx);
    const p = new Portfolio(store);
    await p.importText(FLEET_CSV, 'csv', 'fleet.csv', operator);
    const more = ['resource_id,site_id,pool_id,gateway_id,class,capacity_w', 'load-002,site-001,tokyo-t2,gw-001,load,1200'].join('\n');
    const s = await p.importText(more, 'csv', 'more.csv', operator);
    // A CSV row naming a gateway (re)defines it at the row's site: here unchanged, counted as updated.
    assert.deepEqual(s, { pools: { created: 0, updated: 0 }, sites: { created: 0, updated: 0 }, gateways: { created: 0, updated: 1 }, resources: { created: 1, updated: 0 } });
    assert.equal((await p.getResource('load-002'))?.maxReduceW, 1200);
    await store.close();
  });

  test('a failure while writing rolls the whole import back', async () => {
    const { store } = await open(fx);
    const p = new Portfolio(store);
    // A trigger that fails on the last resource, after pools, sites and gateways were written.
    if (store.dialect === 'sqlite') {
      await sql`create trigger boom before insert on portfolio_resource when new.id = 'load-101' begin select raise(abort, 'boom'); end`.execute(store.db);
    } else {
      await sql`create function boom() returns trigger language plpgsql as $$ begin if new.id = 'load-101' then raise exception 'boom'; end if; return new; end $$`.execute(store.db);
      await sql`create trigger boom before insert on portfolio_resource for each row execute function boom()`.execute(store.db);
    }
    await assert.rejects(p.importText(FLEET_CSV, 'csv', 'fleet.csv', operator), /boom/);
    assert.equal((await p.listPools()).length, 0);
    assert.equal((await p.listSites()).total, 0);
    assert.equal((await p.listGateways()).length, 0);
    assert.equal((await p.listResources()).total, 0);
    await store.close();
  });

  test('list and search filter by pool, site, class and text, with stable pagination', async () => {
    const { store } = await open(fx);
    const p = new Portfolio(store);
    const rows = ['resource_id,site_id,site_name,tso_area,pool_id,product,program,class,name,capacity_w,capacity_wh,maker_code,product_code'];
    for (let i = 0; i < 250; i++) {
      const cls = i % 2 === 0 ? 'battery' : 'load';
      const id = `r-${String(i).padStart(4, '0')}`;
      rows.push(`${id},site-${i % 5},Site ${i % 5},tokyo,${i < 200 ? 'pool-a' : 'pool-b'},tertiary2,prog,${cls},Unit ${i},3000,${cls === 'battery' ? 6000 : ''},${i === 7 ? '00007B' : ''},${i === 7 ? 'Nichicon_ESS%1' : ''}`);
    }
    await p.importText(rows.join('\n'), 'csv', 'many.csv', operator);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await p.listResources({ limit: 100, ...(cursor ? { cursor } : {}) });
      assert.equal(page.total, 250);
      seen.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.equal(new Set(seen).size, 250);
    assert.deepEqual(seen, [...seen].sort());

    assert.equal((await p.listResources({ poolId: 'pool-b' })).total, 50);
    assert.equal((await p.listResources({ poolId: 'pool-a', class: 'battery' })).total, 100);
    assert.equal((await p.listResources({ siteId: 'site-3', class: 'load' })).total, 25);
    const byMaker = await p.listResources({ search: 'nichicon' });
    assert.deepEqual(byMaker.items.map((r) => r.id), ['r-0007']);
    assert.deepEqual((await p.listResources({ search: 'ESS%1' })).items.map((r) => r.id), ['r-0007'], 'LIKE wildcards in the text are literal');
    assert.equal((await p.listResources({ search: '%' })).total, 1, 'only the one with a literal %');
    assert.equal((await p.listResources({ search: 'nichicon%' })).total, 0);
    assert.equal((await p.listResources({ search: 'n_chicon' })).total, 0, '_ is not a wildcard');
    assert.equal((await p.listResources({ search: 'UNIT 12' })).total, 11, 'Unit 12, 120..129');
    await assert.rejects(p.listResources({ limit: 0 }), InvalidInputError);
    await assert.rejects(p.listResources({ cursor: 'not a cursor!' }), /cursor/);
    await assert.rejects(p.listResources({ class: 'fridge' as never }), /class/);
    await store.close();
  });

  test('gateway inventory uploads add, update and retire devices, keeping operator data', async () => {
    const { store } = await open(fx);
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
    const audit = new MemoryAuditSink();
    const p = new Portfolio(store, { clock, audit });
    await p.importText(FLEET_CSV, 'csv', 'fleet.csv', operator);

    const rec = (deviceId: string, cls: DeviceRecord['class'], eoj: string, serial: string): DeviceRecord => ({
      deviceId, class: cls, eoj, address: '192.0.2.10', identity: { makerCode: '00007b', productCode: 'ESS-H', serialNumber: serial },
      state: 'admitted', revision: 1, firstSeen: clock.now(), lastSeen: clock.now(),
    });
    const gw = { gatewayId: 'gw-001', venId: 'ven-gw-001' };
    const devices = [rec('027D01-aaaa', 'battery', '027D01', 'SN-A'), rec('028801-bbbb', 'meter', '028801', 'SN-M')];
    const doc1 = buildInventory(gw, devices, new Map([['027D01-aaaa', { firmwareVersion: '1.0.0', standardVersion: 'J', installationLocation: 'garden' }]]), clock.now());
    const r1 = await p.acceptInventory({ gatewayId: 'gw-001' }, JSON.parse(JSON.stringify(doc1)));
    // The three resources imported behind gw-001 under other ids are not in its inventory.
    assert.deepEqual({ ...r1, digest: undefined }, { gatewayId: 'gw-001', digest: undefined, unchanged: false, added: 2, updated: 0, missing: 3 });
    assert.equal((await p.getResource('bat-001'))?.present, false);
    const bat = await p.getResource('027D01-aaaa');
    assert.ok(bat);
    assert.equal(bat.siteId, 'site-001');
    assert.equal(bat.poolId, null, "site-001 has no default pool (CSV import), so a discovered device awaits the operator's pool");
    assert.equal(bat.source, 'inventory');
    assert.equal(bat.echonetClass, '027D01');
    assert.equal(bat.firmwareVersion, '1.0.0');
    assert.equal(bat.installationLocation, 'garden');
    assert.equal(bat.admission, 'admitted');
    assert.equal(bat.admissionRevision, 1, 'the revision an admission decision names');
    assert.equal(bat.name, 'battery (garden)');
    const meter = await p.getResource('028801-bbbb');
    assert.equal(meter?.maxReduceW, 0);

    // The operator completes the battery's data by import; a later upload keeps it.
    await p.importText(['resource_id,site_id,pool_id,gateway_id,class,capacity_w,capacity_wh,backup_reserve_percent', '027D01-aaaa,site-001,tokyo-t2,gw-001,battery,3000,6500,40'].join('\n'), 'csv', 'fix.csv', operator);
    assert.equal((await p.getResource('027D01-aaaa'))?.firmwareVersion, '1.0.0', 'an import never blanks discovered data');
    clock.advance(60_000);
    const doc2 = buildInventory(gw, [devices[0]!], new Map([['027D01-aaaa', { firmwareVersion: '1.1.0', standardVersion: 'J', installationLocation: 'garden' }]]), clock.now());
    const r2 = await p.acceptInventory({ gatewayId: 'gw-001' }, JSON.parse(JSON.stringify(doc2)));
    assert.equal(r2.updated, 1);
    assert.equal(r2.missing, 1, 'the meter is no longer listed');
    const bat2 = await p.getResource('027D01-aaaa');
    assert.equal(bat2?.firmwareVersion, '1.1.0');
    assert.equal(bat2?.capacityWh, 6500);
    assert.equal(bat2?.poolId, 'tokyo-t2');
    assert.deepEqual(bat2?.constraints, { backupReservePercent: 40 });
    assert.equal((await p.getResource('028801-bbbb'))?.present, false);
    assert.equal((await p.listResources({ gatewayId: 'gw-001', presentOnly: true })).items.some((r) => r.id === '028801-bbbb'), false);
    assert.deepEqual((await p.listResources({ search: '1.1.0' })).items.map((r) => r.id), ['027D01-aaaa'], 'found by firmware version');

    // The same document again: nothing to do.
    assert.equal((await p.acceptInventory({ gatewayId: 'gw-001' }, JSON.parse(JSON.stringify(doc2)))).unchanged, true);
    // The old one replayed: refused (it would hide the firmware update from vulnerability matching).
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-001' }, JSON.parse(JSON.stringify(doc1))), /not newer than the accepted one/);
    assert.equal((await p.getResource('027D01-aaaa'))?.firmwareVersion, '1.1.0');
    const accepted = audit.records.filter((r) => r.action === 'portfolio.inventory');
    assert.deepEqual(accepted.map((r) => r.outcome), ['success', 'success', 'refused']);
    assert.equal(accepted[0]?.actor.kind, 'peer');
    await store.close();
  });

  test('hostile or mistaken inventory uploads are refused and change nothing', async () => {
    const { store } = await open(fx);
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
    const p = new Portfolio(store, { clock });
    await p.importText(FLEET_CSV, 'csv', 'fleet.csv', operator);
    // A second gateway at the Kansai site.
    await p.importText('{"gateways":[{"id":"gw-101","siteId":"site-101","venId":"ven-gw-101"}]}', 'json', 'gw.json', operator);
    const dev = (id: string): DeviceRecord => ({
      deviceId: id, class: 'battery', eoj: '027D01', address: '192.0.2.20', identity: { makerCode: '000005', serialNumber: id },
      state: 'pending', revision: 0, firstSeen: clock.now(), lastSeen: clock.now(),
    });
    const mk = (g: { gatewayId: string; venId: string }, ids: string[], at: number = clock.now()) =>
      JSON.parse(JSON.stringify(buildInventory(g, ids.map(dev), new Map(), at as EpochMillis))) as Record<string, unknown>;

    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-999' }, mk({ gatewayId: 'gw-999', venId: 'v' }, ['x-1'])), PolicyRefusedError);
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-101' }, mk({ gatewayId: 'gw-001', venId: 'ven-gw-001' }, ['x-1'])), (e: unknown) => e instanceof NotAuthorizedError && /names gateway "gw-001" but was sent by gateway "gw-101"/.test(e.message));
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-101' }, mk({ gatewayId: 'gw-101', venId: 'ven-other' }, ['x-1'])), /names venID "ven-other"/);
    const tampered = mk({ gatewayId: 'gw-101', venId: 'ven-gw-101' }, ['x-1']);
    ((tampered.devices as Record<string, unknown>[])[0]!).firmwareVersion = '9.9.9';
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-101' }, tampered), IntegrityError);
    // bat-001 belongs to gw-001 at site-001: gw-101 cannot take it over.
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-101' }, mk({ gatewayId: 'gw-101', venId: 'ven-gw-101' }, ['bat-001'])), /lists resources of another gateway or site: bat-001/);
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-101' }, mk({ gatewayId: 'gw-101', venId: 'ven-gw-101' }, ['x-1'], clock.now() + 3600_000)), /in the future/);
    const malformed = mk({ gatewayId: 'gw-101', venId: 'ven-gw-101' }, ['x-1']);
    ((malformed.devices as Record<string, unknown>[])[0]!).makerCode = 'nothex';
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-101' }, malformed), /devices\[0\]\.makerCode: must be 6 hex digits/);
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-101' }, { format: 'erab-inventory/1', devices: 'x' }), InvalidInputError);
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-101' }, 'not an object'), InvalidInputError);
    const big = { ...mk({ gatewayId: 'gw-101', venId: 'ven-gw-101' }, []), devices: Array.from({ length: 10_001 }, () => ({})) };
    await assert.rejects(p.acceptInventory({ gatewayId: 'gw-101' }, big), /at most 10000 devices/);
    assert.equal((await p.listResources({ gatewayId: 'gw-101' })).total, 0);
    assert.equal((await p.getResource('bat-001'))?.gatewayId, 'gw-001');
    await store.close();
  });

  test('a pool becomes allocation input: only dispatchable resources, with their limits and owner reserve', async () => {
    const { store } = await open(fx);
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
    const p = new Portfolio(store, { clock });
    await p.importText(FLEET_CSV, 'csv', 'fleet.csv', operator);
    // bat-001: 9800 Wh, reserve 30 %, discharge 4500 W; pv-001 cannot reduce; ac-001 reduce 1500 W.
    const pool = await p.poolResources('tokyo-t2');
    assert.deepEqual(pool.map((r) => r.id), ['ac-001', 'bat-001', 'pv-001']);
    const live = new Map([['bat-001', { socWh: 5000 as WattHours }]]);
    const resources = pool.map((r) => toAllocatable(r, live.get(r.id))).filter((x) => x !== undefined);
    assert.equal(resources.length, 3);
    const bat = resources.find((r) => r.id === 'bat-001');
    assert.deepEqual(bat?.storage, { capacityWh: 9800, socWh: 5000, reservePercent: 30 });
    assert.equal(bat?.maxReduceW, 4500);
    assert.equal(notDispatchableReason(pool.find((r) => r.id === 'bat-001')!), 'stored energy unknown');

    // One hour: the battery can give (5000 − 2940) Wh = 2060 W on average, the aircon 1500 W.
    const t0 = clock.now();
    const ok = allocate(levelRequest('e1', 'reduce', 3500 as Watts, t0, (t0 + 3600_000) as typeof t0), resources, { headroom: { mode: 'standby', fraction: 0 } });
    assert.equal(ok.meetsTarget, true);
    const given = new Map(ok.instructions.map((i) => [i.resourceId, i.powerW[0]!]));
    assert.ok((given.get('bat-001') ?? 0) <= 2060 + 1e-6, `battery kept its reserve: ${given.get('bat-001')}`);
    assert.ok((given.get('ac-001') ?? 0) <= 1500 + 1e-6);
    assert.equal(given.get('pv-001') ?? 0, 0);
    const tooMuch = allocate(levelRequest('e2', 'reduce', 4000 as Watts, t0, (t0 + 3600_000) as typeof t0), resources, { headroom: { mode: 'standby', fraction: 0 } });
    assert.equal(tooMuch.meetsTarget, false, 'the reserve makes 4 kW for an hour impossible');

    // A device the gateway reports as pending is never allocated.
    const dev: DeviceRecord = {
      deviceId: '027D02-cccc', class: 'battery', eoj: '027D02', address: '192.0.2.30', identity: { makerCode: '00007B', serialNumber: 'P' },
      state: 'pending', revision: 0, firstSeen: clock.now(), lastSeen: clock.now(),
    };
    await p.acceptInventory({ gatewayId: 'gw-001' }, JSON.parse(JSON.stringify(buildInventory({ gatewayId: 'gw-001', venId: 'ven-gw-001' }, [dev], new Map(), clock.now()))));
    await p.importText(['resource_id,site_id,pool_id,gateway_id,class,capacity_w,capacity_wh', '027D02-cccc,site-001,tokyo-t2,gw-001,battery,3000,5000'].join('\n'), 'csv', 'p.csv', operator);
    const pending = await p.getResource('027D02-cccc');
    assert.equal(notDispatchableReason(pending!, { socWh: 4000 as WattHours }), 'device is pending at its gateway');
    assert.equal(toAllocatable(pending!, { socWh: 4000 as WattHours }), undefined);
    // The other gateway resources of the fleet file are no longer in gw-001's inventory.
    assert.deepEqual((await p.poolResources('tokyo-t2')).map((r) => r.id), ['027D02-cccc']);
    await store.close();
  });

  test('devices declared in a gateway\'s METADATA registration (asset URNs) are upserted the same way', async () => {
    const { store } = await open(fx);
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
    const audit = new MemoryAuditSink();
    const p = new Portfolio(store, { clock, audit });
    await p.importText(FLEET_CSV, 'csv', 'fleet.csv', operator);
    const records: DeviceRecord[] = [
      { deviceId: '027D01-aaaa', class: 'battery', eoj: '027D01', address: '192.0.2.10', identity: { makerCode: '00007b', productCode: 'ESS;H=1', serialNumber: 'SN A' }, state: 'admitted', revision: 2, firstSeen: clock.now(), lastSeen: clock.now() },
      { deviceId: '026B01-dddd', class: 'water_heater', eoj: '026B01', address: '192.0.2.11', identity: { makerCode: '000005' }, state: 'quarantined', revision: 3, firstSeen: clock.now(), lastSeen: clock.now() },
    ];
    const doc = buildInventory({ gatewayId: 'gw-001', venId: 'gw-001' }, records, new Map([['027D01-aaaa', { firmwareVersion: '2.0', installationLocation: 'garden' }]]), clock.now());
    // What the downstream VTN sees: one entry per data point, the asset URN on each.
    const urns = new Map(doc.devices.map((d) => [d.resourceId, assetUrn(d)]));
    const declared = describeDataPoints(doc.devices.map((d) => ({ deviceId: d.resourceId, class: d.class }))).map((dp) => ({ resourceId: dp.resourceID, asset: urns.get(dp.resourceID) }));
    declared.push({ resourceId: 'no-asset', asset: undefined });
    const r = await p.acceptDeclaredAssets({ gatewayId: 'gw-001' }, declared);
    assert.equal(r.added, 2);
    assert.equal(r.undescribed, 1);
    const bat = await p.getResource('027D01-aaaa');
    assert.equal(bat?.productCode, 'ESS;H=1', 'percent-encoded values decode');
    assert.equal(bat?.serialNumber, 'SN A');
    assert.equal(bat?.firmwareVersion, '2.0');
    assert.equal(bat?.echonetClass, '027D01');
    assert.equal((await p.getResource('026B01-dddd'))?.admission, 'quarantined');
    assert.deepEqual([bat?.admissionRevision, (await p.getResource('026B01-dddd'))?.admissionRevision], [2, 3], 'each revision from its asset URN');
    assert.equal((await p.acceptDeclaredAssets({ gatewayId: 'gw-001' }, declared)).unchanged, true, 'a re-registration with the same devices changes nothing');

    await assert.rejects(p.acceptDeclaredAssets({ gatewayId: 'gw-001' }, [{ resourceId: 'x', asset: 'urn:other:1' }]), /resource "x": not an erab asset URN/);
    await assert.rejects(p.acceptDeclaredAssets({ gatewayId: 'gw-001' }, [{ resourceId: 'x', asset: 'urn:erab:asset:027D01;class=toaster;maker=00007B;state=admitted;rev=1' }]), /resource "x": class/);
    await assert.rejects(p.acceptDeclaredAssets({ gatewayId: 'gw-001' }, [{ resourceId: 'x', asset: 'urn:erab:asset:027D01;class=battery;class=pv' }]), /not an erab asset URN/);
    await assert.rejects(p.acceptDeclaredAssets({ gatewayId: 'gw-404' }, declared), PolicyRefusedError);
    assert.equal((await p.getResource('027D01-aaaa'))?.firmwareVersion, '2.0');
    assert.deepEqual(audit.records.filter((x) => x.action === 'portfolio.inventory').map((x) => x.outcome), ['success', 'refused', 'refused', 'refused', 'refused']);
    await store.close();
  });

  test('an export imports back into an empty store as the same portfolio', async () => {
    const { store } = await open(fx);
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
    const p = new Portfolio(store, { clock });
    await p.importText(FLEET_CSV, 'csv', 'fleet.csv', operator);
    await p.importText(JSON.stringify({
      pools: [{ id: 'chubu-t2', tsoArea: 'chubu', product: 'tertiary2', program: 'chuden, "sds"' }],
      sites: [{ id: 'b-1', name: 'Nagoya\noffice'.replace('\n', ' '), tsoArea: 'chubu', address: 'Naka-ku, "3F"' }],
      resources: [{ id: 'ahu-1', siteId: 'b-1', poolId: 'chubu-t2', class: 'aircon', capacityW: 3000.5, constraints: { comfortBand: { minC: 25, maxC: 28.5 }, maxReductionMinutes: 90 } }],
    }), 'json', 'more.json', operator);
    const dev: DeviceRecord = { deviceId: '027D01-eeee', class: 'battery', eoj: '027D01', address: '192.0.2.9', identity: { makerCode: '00007B', productCode: 'P,1', serialNumber: 'S"1' }, state: 'admitted', revision: 1, firstSeen: clock.now(), lastSeen: clock.now() };
    await p.acceptInventory({ gatewayId: 'gw-001' }, JSON.parse(JSON.stringify(buildInventory({ gatewayId: 'gw-001', venId: 'ven-gw-001' }, [dev], new Map([['027D01-eeee', { firmwareVersion: '1.0', standardVersion: 'J' }]]), clock.now()))));

    let csv = '';
    const n = await exportPortfolioCsv(store.db, (t) => { csv += t; });
    assert.equal(n, 7);
    const copy = await (await fx.location()).open<PortfolioTables>(portfolioMigrations);
    const q = new Portfolio(copy, { clock });
    await q.importText(csv, 'csv', 'export.csv', operator);
    const strip = (r: Awaited<ReturnType<Portfolio['listResources']>>['items'][number]) => ({ ...r, createdAt: 0, updatedAt: 0, source: '', admission: null, admissionRevision: null, echonetClass: null, present: true });
    assert.deepEqual((await q.listResources()).items.map(strip), (await p.listResources()).items.map(strip));
    assert.deepEqual((await q.listPools()).map((x) => [x.id, x.tsoArea, x.product, x.program, x.name]), (await p.listPools()).map((x) => [x.id, x.tsoArea, x.product, x.program, x.name]));
    assert.deepEqual((await q.listSites()).items.map((x) => [x.id, x.name, x.address, x.tsoArea]), (await p.listSites()).items.map((x) => [x.id, x.name, x.address, x.tsoArea]));
    let only = '';
    assert.equal(await exportPortfolioCsv(store.db, (t) => { only += t; }, { poolId: 'chubu-t2' }), 1);
    assert.match(only, /^resource_id,/);
    assert.match(only, /\r\nahu-1,b-1,/);
    await copy.close();
    await store.close();
  });

  test('free text that a spreadsheet would run as a formula is refused', async () => {
    const { store } = await open(fx);
    const p = new Portfolio(store);
    const issues = issuesOf(await p.importText('resource_id,site_id,site_name,tso_area,class,name\nr1,s1,=1+2,tokyo,load,@SUM(1)\n', 'csv', 'f.csv', operator).catch((e: unknown) => e));
    hasIssue(issues, 2, 'site_name', /formula/);
    hasIssue(issues, 2, 'name', /formula/);
    await store.close();
  });
});
