/**
 * Backup and restore of a role (src/secops/backup) on both engines: backup → wipe → restore gives
 * the same rows and an audit log that verifies with the same root; a tampered, wrongly signed or
 * wrongly unlocked archive is refused, naming what failed, before anything is written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import { describeEachEngine, POSTGRES_TEST_URL, type StoreLocationHandle } from '../../store/harness.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations } from '../../../src/roles/aggregator/portfolio/tables.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { verifyAuditLog } from '../../../src/security/audit/verify.js';
import { createBackup, restoreBackup, type RoleBackupSpec } from '../../../src/secops/backup/backup.js';
import { decodeBackup } from '../../../src/secops/backup/container.js';
import { existingTables } from '../../../src/secops/backup/database.js';
import { IntegrityError, NotAuthorizedError } from '../../../src/core/errors.js';

const PASS = 'correct horse battery staple';
const CSV = [
  'resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,gateway_id,ven_id,class,name,capacity_w,capacity_wh,max_charge_w,max_discharge_w',
  'bat-1,site-1,Suzuki house,tokyo,"4-5-6 Minato, Tokyo",tokyo-t2,Tokyo,tertiary2,tepco-simple-dispatch,gw-1,ven-gw-1,battery,Battery,5000,9800,4000,4500',
  'pv-1,site-1,Suzuki house,tokyo,"4-5-6 Minato, Tokyo",tokyo-t2,Tokyo,tertiary2,tepco-simple-dispatch,gw-1,ven-gw-1,pv,Roof,4500,,,',
].join('\n');

let world: PkiWorld<'agg' | 'other'>;
let foreign: PkiWorld<'agg'>;
before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1', other: 'aggregator:AGG2' }, { prefix: 'erab-backup-' });
  foreign = await pkiWorld({ agg: 'aggregator:AGG1' }, { prefix: 'erab-backup-foreign-' });
});
after(() => {
  world.close();
  foreign.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function allRows(db: Kysely<any>, engine: string, schema: string | undefined): Promise<Record<string, unknown[]>> {
  const tables = engine === 'sqlite'
    ? (await sql<{ t: string }>`select name as t from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(db)).rows
    : (await sql<{ t: string }>`select table_name as t from information_schema.tables where table_schema = ${schema} order by table_name`.execute(db)).rows;
  const out: Record<string, unknown[]> = {};
  for (const { t } of tables) {
    if (t.endsWith('_lock')) continue; // the migrator's lock row
    const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(t)}`.execute(db)).rows;
    out[t] = rows.map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

async function wipeDatabase(loc: StoreLocationHandle): Promise<void> {
  if (loc.engine === 'sqlite') {
    for (const s of ['', '-wal', '-shm']) rmSync(loc.url + s, { force: true });
    return;
  }
  const c = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await c.connect();
  await c.query(`drop schema "${loc.schema}" cascade`);
  await c.end();
}

/** A role with a portfolio in its store and a few audited operations. */
async function role(fx: { location(): Promise<StoreLocationHandle> }, name: string): Promise<{ spec: RoleBackupSpec; loc: StoreLocationHandle }> {
  const loc = await fx.location();
  const auditDir = join(world.dir, `${name}-audit`);
  const audit = AuditLog.open({ dir: auditDir, origin: `erab.test/${name}/audit` });
  const store = await loc.open(portfolioMigrations);
  await new Portfolio(store, { audit }).importText(CSV, 'csv', 'fleet.csv', { kind: 'operator', id: 'alice' });
  for (let i = 0; i < 20; i++) audit.append({ actor: { kind: 'operator', id: 'alice' }, action: 'test.op', target: `t-${i}`, outcome: 'success' });
  audit.close();
  await store.close();
  const agg = world.get('agg');
  const keyCopy = join(world.dir, `${name}-tls.key`);
  writeFileSync(keyCopy, readFileSync(agg.files.keyFile), { mode: 0o600 });
  return {
    loc,
    spec: {
      role: 'aggregator', id: 'AGG1',
      database: loc.schema ? { url: loc.url, schema: loc.schema } : { url: loc.url },
      auditDir,
      tls: { certFile: agg.files.certFile, keyFile: keyCopy, caFile: world.caFile },
    },
  };
}

describeEachEngine('backup and restore', (fx) => {
  test('backup → wipe → restore gives the same rows, keys and a verifying audit log', async () => {
    const { spec, loc } = await role(fx, `r-${fx.engine}-1`);
    const before = await (async () => {
      const s = await loc.open(portfolioMigrations);
      try { return await allRows(s.db, loc.engine, loc.schema); } finally { await s.close(); }
    })();
    assert.ok((before.portfolio_site ?? []).length === 1, 'the portfolio is in the store');
    const logBefore = verifyAuditLog(spec.auditDir);
    assert.ok(logBefore.ok);
    const key = readFileSync(spec.tls.keyFile);

    const { archive } = await createBackup(spec, PASS);
    assert.ok(!archive.includes(key), 'the TLS key is not in the archive in clear');
    assert.ok(!archive.includes(readFileSync(join(spec.auditDir, 'signing.key'))), 'nor the audit signing key');

    await wipeDatabase(loc);
    rmSync(spec.auditDir, { recursive: true });
    rmSync(spec.tls.keyFile);

    const r = await restoreBackup(archive, 'a.erab-backup', spec, PASS);
    assert.equal(r.audit.treeSize, logBefore.treeSize);
    const s = await loc.open(portfolioMigrations);
    try {
      assert.deepEqual(await allRows(s.db, loc.engine, loc.schema), before);
    } finally {
      await s.close();
    }
    const logAfter = verifyAuditLog(spec.auditDir);
    assert.ok(logAfter.ok, JSON.stringify(logAfter.problems));
    assert.equal(logAfter.rootHash, logBefore.rootHash);
    assert.deepEqual(readFileSync(spec.tls.keyFile), key);
    assert.equal(statSync(spec.tls.keyFile).mode & 0o777, 0o600);
    // The restored log takes new records under its restored signing key.
    const log = AuditLog.open({ dir: spec.auditDir, origin: logAfter.origin });
    log.append({ actor: { kind: 'operator', id: 'alice' }, action: 'test.after-restore', outcome: 'success' });
    log.close();
    assert.ok(verifyAuditLog(spec.auditDir).ok);
  });

  test('a restore over live data is refused without --replace, and replaces with it', async () => {
    const { spec, loc } = await role(fx, `r-${fx.engine}-2`);
    const { archive } = await createBackup(spec, PASS);
    await assert.rejects(restoreBackup(archive, 'a', spec, PASS), /already holds \d+ tables.*--replace/);
    const s = await loc.open(portfolioMigrations);
    await sql`delete from portfolio_resource`.execute(s.db);
    await s.close();
    const r = await restoreBackup(archive, 'a', spec, PASS, { replace: true });
    assert.ok(r.previousAuditDir && existsSync(r.previousAuditDir), 'the old audit log is kept aside');
    const s2 = await loc.open(portfolioMigrations);
    try {
      const n = (await sql<{ n: number | string }>`select count(*) as n from portfolio_resource`.execute(s2.db)).rows[0]!.n;
      assert.equal(Number(n), 2);
    } finally {
      await s2.close();
    }
  });
});

describeEachEngine('backup refusals', (fx) => {
  test('a tampered entry, manifest, signer or passphrase is refused before anything is written', async () => {
    const { spec, loc } = await role(fx, 'refuse');
    const { archive } = await createBackup(spec, PASS);
    // Signed by another participant of our CA, or by a stranger's CA under our name.
    const other = world.get('other');
    const byOther = (await createBackup({ ...spec, id: 'AGG2', tls: { ...spec.tls, certFile: other.files.certFile, keyFile: other.files.keyFile } }, PASS)).archive;
    const stranger = foreign.get('agg');
    const byStranger = (await createBackup({ ...spec, tls: { certFile: stranger.files.certFile, keyFile: stranger.files.keyFile, caFile: foreign.caFile } }, PASS)).archive;
    await wipeDatabase(loc);
    rmSync(spec.auditDir, { recursive: true });
    const d = decodeBackup(archive, 'a');
    const seg = d.manifest.entries.find((e) => e.name.startsWith('audit/segments/'))!;
    // Flip one byte inside the audit segment.
    const tampered = Buffer.from(archive);
    let off = archive.length - d.manifest.entries.reduce((acc, e) => acc + e.size, 0);
    for (const e of d.manifest.entries) { if (e.name === seg.name) break; off += e.size; }
    tampered[off + 10]! ^= 0x01;
    await assert.rejects(restoreBackup(tampered, 't', spec, PASS), (e: unknown) => e instanceof IntegrityError && e.message.includes(`entry ${seg.name} was modified`));
    // An edited manifest (the entry's hash rewritten) breaks the signature.
    const forged = Buffer.from(archive.toString('latin1').replace(seg.sha256, '0'.repeat(64)), 'latin1');
    await assert.rejects(restoreBackup(forged, 'f', spec, PASS), /manifest signature does not verify/);
    await assert.rejects(restoreBackup(archive, 'p', spec, 'wrong passphrase!!'), (e: unknown) => e instanceof NotAuthorizedError && /keys\/tls\.key: cannot decrypt/.test(e.message));
    await assert.rejects(restoreBackup(byOther, 'o', spec, PASS), /signed by aggregator:AGG2, not by this role aggregator:AGG1/);
    await assert.rejects(restoreBackup(byStranger, 's', spec, PASS), /not issued by the CA/);
    await assert.rejects(restoreBackup(archive.subarray(0, archive.length - 1), 'cut', spec, PASS), /cut: not a valid erab-backup\/1 archive: truncated inside entry/);
    assert.deepEqual(await existingTables(spec.database), [], 'no database written');
    assert.ok(!existsSync(spec.auditDir), 'no audit log written');
    // The intact archive still restores.
    await restoreBackup(archive, 'a', spec, PASS);
    assert.ok(verifyAuditLog(spec.auditDir).ok);
  });

  test('a role whose audit log does not verify is not backed up', async () => {
    const { spec } = await role(fx, `broken-${fx.engine}`);
    const seg = join(spec.auditDir, 'segments', '000000000000.jsonl');
    writeFileSync(seg, readFileSync(seg, 'utf8').replace('"t-3"', '"t-X"'));
    await assert.rejects(createBackup(spec, PASS), /audit log .* does not verify: .*record 4/);
  });
});
