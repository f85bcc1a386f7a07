/**
 * The portfolio's admission-revision migration on an existing store: a gateway whose inventory
 * did not change would be skipped by its digest and leave the new column empty, so the migration
 * forgets the digests and the gateway's next upload fills the revisions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { openStore } from '../../../src/store/store.js';
import { portfolioMigrations, type PortfolioTables } from '../../../src/roles/aggregator/portfolio/tables.js';

test('0004 on a store with accepted inventories: the column is added empty and the digests are forgotten', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-admission-migration-'));
  try {
    const url = join(dir, 'aggregator.db');
    const before = portfolioMigrations.filter((m) => m.name !== '0004_aggregator_portfolio_admission_revision');
    assert.equal(before.length, portfolioMigrations.length - 1, 'the migration exists under its name');
    const old = await openStore({ url, migrations: before });
    const db = old.db as Kysely<Omit<PortfolioTables, 'portfolio_resource'> & { portfolio_resource: Omit<PortfolioTables['portfolio_resource'], 'admission_revision'> }>;
    await db.insertInto('portfolio_site').values({ id: 's1', name: 'Home', tso_area: 'tokyo', address: null, pool_id: null, name_index: null, created_at: 1, updated_at: 1 }).execute();
    await db.insertInto('portfolio_gateway').values({ id: 'GW1', site_id: 's1', ven_id: 'GW1', inventory_digest: 'ab'.repeat(32), inventory_at: 1, created_at: 1, updated_at: 1 }).execute();
    await db.insertInto('portfolio_resource').values({
      id: '027D01-aaaa', site_id: 's1', gateway_id: 'GW1', pool_id: null, class: 'battery', name: 'battery', capacity_w: null, capacity_wh: null,
      max_charge_w: null, max_discharge_w: null, max_reduce_w: null, max_increase_w: null, constraints: '{}', echonet_class: '027D01', maker_code: '00007B',
      product_code: null, serial_number: null, firmware_version: null, standard_version: null, installation_location: null, admission: 'pending', present: 1,
      source: 'inventory', search_text: '027d01-aaaa', created_at: 1, updated_at: 1,
    }).execute();
    await old.close();
    const upgraded = await openStore<PortfolioTables>({ url, migrations: portfolioMigrations });
    try {
      const gw = await upgraded.db.selectFrom('portfolio_gateway').select(['inventory_digest', 'inventory_at']).executeTakeFirstOrThrow();
      assert.deepEqual([gw.inventory_digest, Number(gw.inventory_at)], [null, 1], 'digest forgotten, the ordering of uploads kept');
      const r = await upgraded.db.selectFrom('portfolio_resource').select(['admission', 'admission_revision']).executeTakeFirstOrThrow();
      assert.deepEqual([r.admission, r.admission_revision], ['pending', null]);
    } finally {
      await upgraded.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
