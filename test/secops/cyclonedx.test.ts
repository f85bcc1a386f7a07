/**
 * The inventory as CycloneDX 1.6: built by @cyclonedx/cyclonedx-library and validated against
 * the CycloneDX 1.6 JSON schema bundled with it (its strict JSON validator, ajv underneath).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { ManualClock } from '../../src/core/clock.js';
import { composeMigrations } from '../../src/store/migrations.js';
import { Portfolio } from '../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations, type PortfolioTables } from '../../src/roles/aggregator/portfolio/tables.js';
import { buildCycloneDx } from '../../src/secops/inventory/cyclonedx.js';
import { listAssets } from '../../src/secops/inventory/query.js';
import { readSoftwareReport, recordSoftware } from '../../src/secops/inventory/software.js';
import { setMaker, syncInventoryFromPortfolio } from '../../src/secops/inventory/sync.js';
import { secopsMigrations, type SecopsTables } from '../../src/secops/tables.js';
import { describeEachEngine } from '../store/harness.js';
import { REPO_ROOT } from '../repo.js';

type Cdx = { specVersion: string; bomFormat: string; metadata: { component: { name: string; version: string; purl: string } }; components: { type: string; name: string; version?: string; purl?: string; cpe?: string; 'bom-ref': string; components?: { type: string; version: string; cpe?: string }[]; properties?: { name: string; value: string }[] }[]; dependencies: { ref: string; dependsOn?: string[] }[] };

describeEachEngine('secops CycloneDX', (fx) => {
  test('devices with their firmware and erab with its npm dependency tree validate as CycloneDX 1.6', async () => {
    const store = await (await fx.location()).open<SecopsTables & PortfolioTables>(composeMigrations(portfolioMigrations, secopsMigrations));
    const clock = new ManualClock(Date.UTC(2026, 11, 1));
    await new Portfolio(store, { clock }).importText([
      'resource_id,site_id,site_name,tso_area,gateway_id,ven_id,class,name,capacity_w,capacity_wh,max_charge_w,max_discharge_w,maker_code,product_code,serial_number,firmware_version',
      'bat-1,site-a,佐藤邸,tokyo,gw-a,ven-a,battery,蓄電池,3000,6000,3000,3000,00007B,BT-100,SN-1,1.2.3',
      'bat-2,site-a,佐藤邸,tokyo,gw-a,ven-a,battery,no firmware known,3000,6000,3000,3000,00007B,BT-100,SN-2,',
    ].join('\n'), 'csv', 'fleet.csv', { kind: 'operator', id: 'alice' });
    await setMaker(store.db, '00007B', 'example_energy', 'Example Energy', clock.now());
    await syncInventoryFromPortfolio(store.db, { clock });
    const software = await readSoftwareReport(REPO_ROOT, 'aggregator');
    await recordSoftware(store.db, software, { clock });
    const json = buildCycloneDx(await listAssets(store.db, { presentOnly: true }), software, { timestamp: new Date(clock.now()) });

    const error = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(json);
    assert.equal(error, null, `CycloneDX 1.6 schema: ${JSON.stringify(error)}`);
    const bom = JSON.parse(json) as Cdx;
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    assert.equal(bom.metadata.component.name, 'erab');
    assert.equal(bom.metadata.component.purl, `pkg:npm/erab@${software.erab.version}`);

    const dev = bom.components.find((c) => c['bom-ref'] === 'device:bat-1');
    assert.ok(dev);
    assert.equal(dev.type, 'device');
    assert.deepEqual(dev.components?.map((c) => [c.type, c.version, c.cpe]), [['firmware', '1.2.3', 'cpe:2.3:o:example_energy:bt-100_firmware:1.2.3:*:*:*:*:*:*:*']]);
    const prop = (n: string) => dev.properties?.find((p) => p.name === n)?.value;
    assert.deepEqual([prop('erab:management_no'), prop('erab:site'), prop('erab:gateway'), prop('echonet:maker_code'), prop('echonet:product_code'), prop('erab:serial_number')], ['bat-1', 'site-a', 'gw-a', '00007B', 'BT-100', 'SN-1']);
    assert.equal(bom.components.find((c) => c['bom-ref'] === 'device:bat-2')?.components, undefined, 'no firmware component without a version');
    assert.ok(bom.components.some((c) => c.type === 'device' && c['bom-ref'] === 'gateway:gw-a'));

    const lib = bom.components.find((c) => c.type === 'library' && c.name === 'semver');
    assert.match(lib?.purl ?? '', /^pkg:npm\/semver@\d+\.\d+\.\d+$/);
    assert.ok(bom.components.some((c) => c.type === 'library' && c.purl?.startsWith('pkg:npm/%40cyclonedx/cyclonedx-library@')), 'scoped packages keep their namespace');
    assert.equal(bom.components.find((c) => c.type === 'platform')?.cpe, `cpe:2.3:a:nodejs:node.js:${process.versions.node}:*:*:*:*:*:*:*`);
    const erabDeps = bom.dependencies.find((d) => d.ref === bom.metadata.component.purl)?.dependsOn ?? [];
    assert.ok(erabDeps.some((d) => d.startsWith('pkg:npm/kysely@')), 'erab depends on kysely');
    assert.ok(!bom.components.some((c) => c.name === 'typescript'), 'dev dependencies do not run in a role: left out');
    await store.close();
  });
});
