/**
 * Minimisation at the aggregator's upstream interface: what reaches a TSO (event answers, opt
 * schedules, TELEMETRY_USAGE reports) is built from the runtime's resource specs and telemetry
 * only, so household names and addresses must never get into those specs. Property test over
 * generated portfolios (fast-check), imported into a real store, in clear and sealed at rest.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { openStore } from '../../../src/store/store.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations, type PortfolioTables } from '../../../src/roles/aggregator/portfolio/tables.js';
import { readPortfolioSpecs } from '../../../src/roles/aggregator/runtime/portfolio-source.js';
import { PersonalDataVault } from '../../../src/store/vault.js';
import { FileKeyring } from '../../../src/security/privacy/keyring.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-minimise-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The only fields a resource spec may carry to the dispatch side (ratings, pool, its gateway's VEN). */
const SPEC_FIELDS = new Set(['id', 'venId', 'resourceClass', 'ratedReduceW', 'ratedIncreaseW', 'capacityWh', 'reservePercent', 'costPerKWh', 'pool']);

const word = fc.stringMatching(/^[A-Za-z\u3040-\u30ff\u4e00-\u4e5f]{2,10}$/);
const household = fc.record({
  name: fc.tuple(word, word).map(([a, b]) => `${a} ${b} household`),
  address: fc.tuple(fc.integer({ min: 1, max: 99 }), word, word).map(([n, a, b]) => `${n}-${n}-${n} ${a}-cho ${b}`),
  resources: fc.array(fc.record({
    cls: fc.constantFrom('battery', 'ev', 'water_heater', 'aircon', 'pv'),
    kw: fc.integer({ min: 1, max: 20 }),
  }), { minLength: 1, maxLength: 3 }),
});

function csvOf(sites: { name: string; address: string; resources: { cls: string; kw: number }[] }[]): string {
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
  const rows = ['resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,gateway_id,ven_id,class,name,capacity_w,capacity_wh,max_charge_w,max_discharge_w,max_reduce_w,max_increase_w'];
  sites.forEach((s, i) => s.resources.forEach((r, j) => {
    const w = r.kw * 1000;
    const storage = r.cls === 'battery' || r.cls === 'ev';
    const [reduce, increase] = r.cls === 'pv' || r.cls === 'water_heater' ? ['0', w] : storage ? ['', ''] : [w, ''];
    rows.push([`r-${i}-${j}`, `site-${i}`, q(s.name), 'tokyo', q(s.address), 'tokyo-t2', 'Tokyo', 'tertiary2', 'tepco-sds', `gw-${i}`, `ven-${i}`, r.cls, `${r.cls} ${j}`,
      w, storage ? w * 2 : '', storage ? w : '', storage ? w : '', reduce, increase].join(','));
  }));
  return rows.join('\n');
}

test('no household name or address reaches the specs the upstream interface is built from', async () => {
  let n = 0;
  await fc.assert(fc.asyncProperty(fc.array(household, { minLength: 1, maxLength: 8 }), fc.boolean(), async (sites, sealed) => {
    const store = await openStore<PortfolioTables>({ url: join(dir, `p-${n++}.db`), migrations: portfolioMigrations });
    try {
      const vault = sealed ? new PersonalDataVault(new FileKeyring([randomBytes(32)])) : undefined;
      await new Portfolio(store, vault ? { vault } : {}).importText(csvOf(sites), 'csv', 'gen.csv', { kind: 'operator', id: 'prop' });
      const specs = await readPortfolioSpecs(store.db);
      assert.ok(specs.length > 0, 'the generated portfolio has dispatchable resources');
      for (const s of specs) {
        const extra = Object.keys(s).filter((k) => !SPEC_FIELDS.has(k));
        assert.deepEqual(extra, [], `a resource spec carries fields beyond what dispatch needs: ${extra.join(', ')}`);
      }
      const wire = JSON.stringify(specs);
      for (const h of sites) {
        for (const part of [h.name, h.address, ...h.name.split(' ').filter((w) => w.length >= 4 && w !== 'household')]) {
          assert.ok(!wire.includes(part), `"${part}" of a household reached the upstream-facing specs`);
        }
      }
    } finally {
      await store.close();
    }
  }), { numRuns: 25 });
});
