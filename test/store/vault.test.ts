/**
 * Personal fields at rest (src/store/vault.ts through the portfolio): unreadable in the raw
 * database, readable through the vault, searchable by keyed hash, still readable after a key
 * rotation (also while it runs), unreadable for good after a site's data key is shredded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import { describeEachEngine, POSTGRES_TEST_URL } from './harness.js';
import { Portfolio } from '../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations, siteSubject, type PortfolioTables } from '../../src/roles/aggregator/portfolio/tables.js';
import { exportPortfolioCsv } from '../../src/roles/aggregator/portfolio/export.js';
import { FileKeyring, newKekText } from '../../src/security/privacy/keyring.js';
import { PersonalDataVault } from '../../src/store/vault.js';
import { IntegrityError } from '../../src/core/errors.js';

const NAMES = Array.from({ length: 30 }, (_, i) => `Household Tanaka-${i}`);
const csv = [
  'resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,class,name,capacity_w,capacity_wh,max_charge_w,max_discharge_w',
  ...NAMES.map((n, i) => `bat-${i},site-${i},${n},tokyo,"${i}-1-1 Setagaya Secret-Street",tokyo-t2,Tokyo,tertiary2,tepco-simple-dispatch,battery,Battery,5000,9800,4000,4500`),
].join('\n');
const operator = { kind: 'operator' as const, id: 'alice' };

let dir: string;
let kekOld: string;
let kekNew: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'erab-vault-'));
  kekOld = join(dir, 'old.key');
  kekNew = join(dir, 'new.key');
  writeFileSync(kekOld, newKekText(), { mode: 0o600 });
  writeFileSync(kekNew, newKekText(), { mode: 0o600 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function rawSites(engine: string, db: Kysely<PortfolioTables>, url: string, schema: string | undefined): Promise<string> {
  if (engine === 'sqlite') {
    return ['', '-wal'].map((s) => (existsSync(url + s) ? readFileSync(url + s).toString('latin1') : '')).join('');
  }
  const c = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await c.connect();
  try {
    return JSON.stringify((await c.query(`select * from "${schema}".portfolio_site`)).rows);
  } finally {
    await c.end();
  }
  void db;
}

async function allSites(p: Portfolio): Promise<{ id: string; name: string; address: string | null }[]> {
  return (await p.listSites({ limit: 1000 })).items.map((s) => ({ id: s.id, name: s.name, address: s.address }));
}

describeEachEngine('personal data at rest', (fx) => {
  test('site names and addresses are sealed in the database, readable through the vault, searchable exactly', async () => {
    const loc = await fx.location();
    const store = await loc.open<PortfolioTables>(portfolioMigrations);
    const vault = new PersonalDataVault(FileKeyring.fromFiles(kekOld));
    const p = new Portfolio(store, { vault });
    await p.importText(csv, 'csv', 'fleet.csv', operator);
    const rows = await store.db.selectFrom('portfolio_site').select(['name', 'address']).execute();
    assert.equal(rows.length, 30);
    for (const r of rows) assert.match(`${r.name} ${r.address}`, /^enc1:\S+ enc1:\S+$/);
    const sites = await allSites(p);
    assert.deepEqual(sites.map((s) => s.name).sort(), [...NAMES].sort());
    assert.equal(sites.find((s) => s.id === 'site-3')!.address, '3-1-1 Setagaya Secret-Street');
    assert.deepEqual((await p.listSites({ search: 'household tanaka-7' })).items.map((s) => s.id), ['site-7']);
    let out = '';
    await exportPortfolioCsv(store.db, (t) => { out += t; }, {}, vault);
    assert.match(out, /site-5,Household Tanaka-5,tokyo,5-1-1 Setagaya Secret-Street,/);
    // Without the key nothing personal is shown, not even as ciphertext.
    await assert.rejects(new Portfolio(store).listSites(), /encrypted personal data: give the key-encryption key/);
    await store.close();
    const raw = await rawSites(loc.engine, store.db, loc.url, loc.schema);
    assert.ok(raw.length > 0);
    assert.ok(!raw.includes('Tanaka') && !raw.includes('Secret-Street'), 'no name or address in the raw database');
  });

  test('a key rotation, while readers keep reading, leaves every record readable under the new key alone', async () => {
    const loc = await fx.location();
    const store = await loc.open<PortfolioTables>(portfolioMigrations);
    await new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekOld)) }).importText(csv, 'csv', 'fleet.csv', operator);
    const before = await allSites(new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekOld)) }));
    const rotating = new PersonalDataVault(FileKeyring.fromFiles(kekNew, [kekOld]));
    const reader = new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekNew, [kekOld]), { cacheSize: 1 }) });
    const [n, during] = await Promise.all([rotating.rotate(store.db), allSites(reader)]);
    assert.equal(n, 2, 'the subject-key root and the blind-index key');
    assert.deepEqual(during, before);
    const newOnly = FileKeyring.fromFiles(kekNew);
    assert.deepEqual(await PersonalDataVault.keysByKek(store.db), { [newOnly.currentKeyId]: 2 });
    const after = new Portfolio(store, { vault: new PersonalDataVault(newOnly) });
    assert.deepEqual(await allSites(after), before);
    assert.deepEqual((await after.listSites({ search: 'Household Tanaka-2' })).items.map((s) => s.id), ['site-2']);
    await assert.rejects(new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekOld)) }).listSites(), /does not hold/);
  });

  test('shredding a site makes its fields unreadable; a sealed value moved to another site does not decrypt', async () => {
    const loc = await fx.location();
    const store = await loc.open<PortfolioTables>(portfolioMigrations);
    const vault = new PersonalDataVault(FileKeyring.fromFiles(kekOld));
    const p = new Portfolio(store, { vault });
    await p.importText(csv, 'csv', 'fleet.csv', operator);
    assert.ok(await vault.shred(store.db, siteSubject('site-1')));
    const fresh = new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekOld)) });
    const s1 = (await allSites(fresh)).find((s) => s.id === 'site-1')!;
    assert.deepEqual([s1.name, s1.address], ['', null]);
    const s2 = await store.db.selectFrom('portfolio_site').select('name').where('id', '=', 'site-2').executeTakeFirstOrThrow();
    await sql`update portfolio_site set name = ${s2.name} where id = 'site-3'`.execute(store.db);
    await assert.rejects(fresh.listSites(), (e: unknown) => e instanceof IntegrityError && /name of site:site-3 does not decrypt/.test(e.message));
  });
});

test('a key-encryption key file that others can read is refused', () => {
  const f = join(dir, 'loose.key');
  writeFileSync(f, newKekText(), { mode: 0o644 });
  assert.throws(() => FileKeyring.fromFiles(f), /mode 644 lets others read it; chmod 600/);
});
