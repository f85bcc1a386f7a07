/**
 * Personal fields at rest (src/store/vault.ts through the portfolio): unreadable in the raw
 * database, readable and searchable through the vault, still readable after a key rotation (also
 * while it runs), unreadable for good after a site is shredded (its batch re-sealed without it),
 * and rows sealed in the older per-field format (enc1) still readable and searchable by keyed hash.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
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
    for (const r of rows) assert.match(`${r.name} ${r.address}`, /^enc2:\S+ enc2:\S+$/);
    const sites = await allSites(p);
    assert.deepEqual(sites.map((s) => s.name).sort(), [...NAMES].sort());
    assert.equal(sites.find((s) => s.id === 'site-3')!.address, '3-1-1 Setagaya Secret-Street');
    assert.deepEqual((await p.listSites({ search: 'household tanaka-7' })).items.map((s) => s.id), ['site-7']);
    // Sealed names match by substring, like names in clear, page by page.
    const page1 = await p.listSites({ search: 'TANAKA-1', limit: 5 });
    assert.equal(page1.total, 11);
    const page2 = await p.listSites({ search: 'TANAKA-1', limit: 5, cursor: page1.nextCursor! });
    const page3 = await p.listSites({ search: 'TANAKA-1', limit: 5, cursor: page2.nextCursor! });
    assert.deepEqual([...page1.items, ...page2.items, ...page3.items].map((s) => s.name).sort(), NAMES.filter((n) => n.includes('Tanaka-1')).sort());
    assert.equal(page3.nextCursor, undefined);
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
    assert.equal(n, 1, 'the data key the batch keys derive from (no keyed-hash key yet: nothing carries one)');
    assert.deepEqual(during, before);
    const newOnly = FileKeyring.fromFiles(kekNew);
    assert.deepEqual(await PersonalDataVault.keysByKek(store.db), { [newOnly.currentKeyId]: 1 });
    const after = new Portfolio(store, { vault: new PersonalDataVault(newOnly) });
    assert.deepEqual(await allSites(after), before);
    assert.deepEqual((await after.listSites({ search: 'Household Tanaka-12' })).items.map((s) => s.id), ['site-12']);
    await assert.rejects(new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekOld)) }).listSites(), /does not hold/);
  });

  test('shredding a site makes its fields unreadable; a sealed value moved to another site does not decrypt', async () => {
    const loc = await fx.location();
    const store = await loc.open<PortfolioTables>(portfolioMigrations);
    const vault = new PersonalDataVault(FileKeyring.fromFiles(kekOld));
    const p = new Portfolio(store, { vault });
    await p.importText(csv, 'csv', 'fleet.csv', operator);
    const batchBefore = await store.db.selectFrom('privacy_sealed_batch').selectAll().executeTakeFirstOrThrow();
    // The batch is shared with 29 other sites: re-sealing them needs the key.
    await assert.rejects(PersonalDataVault.shred(store.db, siteSubject('site-1')), /erasing site:site-1: .*needs the key-encryption key/);
    assert.ok(await vault.shred(store.db, siteSubject('site-1')));
    const batchAfter = await store.db.selectFrom('privacy_sealed_batch').selectAll().executeTakeFirstOrThrow();
    assert.equal(batchAfter.id, batchBefore.id, 'the references of the other sites stay valid');
    assert.notEqual(batchAfter.salt, batchBefore.salt, 'a fresh key');
    assert.ok(!(JSON.parse(batchAfter.subjects) as string[]).includes('site:site-1'));
    const fresh = new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekOld)) });
    const opened = await allSites(fresh);
    const s1 = opened.find((s) => s.id === 'site-1')!;
    assert.deepEqual([s1.name, s1.address], ['', null]);
    assert.deepEqual(opened.filter((s) => s.id !== 'site-1').map((s) => s.name).sort(), NAMES.filter((n) => n !== 'Household Tanaka-1').sort());
    // The copy of the batch taken before the erasure does not open under the salt now stored.
    await sql`update privacy_sealed_batch set sealed = ${batchBefore.sealed}`.execute(store.db);
    await assert.rejects(new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekOld)) }).listSites(), (e: unknown) => e instanceof IntegrityError && /does not decrypt/.test(e.message));
    await sql`update privacy_sealed_batch set sealed = ${batchAfter.sealed}`.execute(store.db);
    const s2 = await store.db.selectFrom('portfolio_site').select('name').where('id', '=', 'site-2').executeTakeFirstOrThrow();
    await sql`update portfolio_site set name = ${s2.name} where id = 'site-3'`.execute(store.db);
    await assert.rejects(fresh.listSites(), (e: unknown) => e instanceof IntegrityError && /name of site:site-3 does not decrypt/.test(e.message));
  });

  test('rows sealed in format 1 (a key per site, a seal per field) stay readable, searchable and shreddable', async () => {
    const loc = await fx.location();
    const store = await loc.open<PortfolioTables>(portfolioMigrations);
    const keyring = FileKeyring.fromFiles(kekOld);
    const vault = new PersonalDataVault(keyring);
    const p = new Portfolio(store, { vault });
    await p.importText(csv, 'csv', 'fleet.csv', operator);
    // Rewrite site-4 as format 1 wrote it, from its documented construction (not the vault's code).
    const row = await store.db.selectFrom('privacy_data_key').select(['kek_id', 'wrapped']).where('name', '=', 'fields').executeTakeFirstOrThrow();
    const root = await keyring.unwrap(row.kek_id, Buffer.from(row.wrapped, 'base64'));
    const subject = siteSubject('site-4');
    const salt = randomBytes(16).toString('base64');
    const key = createHmac('sha256', root).update(`erab-subject-key/1\0${subject}\0${salt}`).digest();
    const seal = (field: string, value: string): string => {
      const nonce = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, nonce);
      c.setAAD(Buffer.from(`erab-field/1\0${subject}\0${field}`, 'utf8'));
      const body = Buffer.concat([c.update(value, 'utf8'), c.final()]);
      return `enc1:${Buffer.concat([nonce, c.getAuthTag(), body]).toString('base64')}`;
    };
    await store.db.insertInto('privacy_subject_key').values({ subject, salt, created_at: Date.now() }).execute();
    const nameIndex = await vault.blindIndex(store.db, 'portfolio_site.name', 'Old-Format Ito');
    await store.db.updateTable('portfolio_site').set({ name: seal('name', 'Old-Format Ito'), address: seal('address', '4-4 Old Street'), name_index: nameIndex }).where('id', '=', 'site-4').execute();
    const reader = new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekOld)) });
    const s4 = (await allSites(reader)).find((s) => s.id === 'site-4')!;
    assert.deepEqual([s4.name, s4.address], ['Old-Format Ito', '4-4 Old Street']);
    assert.deepEqual((await reader.listSites({ search: 'old-format ito' })).items.map((s) => s.id), ['site-4']);
    assert.ok(await vault.shred(store.db, subject));
    const gone = (await allSites(new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kekOld)) }))).find((s) => s.id === 'site-4')!;
    assert.deepEqual([gone.name, gone.address], ['', null]);
  });
});

test('a key-encryption key file that others can read is refused', () => {
  const f = join(dir, 'loose.key');
  writeFileSync(f, newKekText(), { mode: 0o644 });
  assert.throws(() => FileKeyring.fromFiles(f), /mode 644 lets others read it; chmod 600/);
});
