/**
 * `erab backup` / `erab restore --role gateway` as real processes (issue 18 item 7): the gateway's
 * store (admitted devices, safe mode, notices), its audit log and its keys go into one signed
 * archive, read from the gateway's own configuration; backup → wipe → restore gives the same rows,
 * the same key and an audit log that verifies with the same root; an archive signed by another
 * gateway is refused before anything is written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { gatewayMigrations, saveSafeMode } from '../../../src/roles/gateway/persistence.js';
import { gatewayNoticeMigrations } from '../../../src/roles/gateway/notices.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { verifyAuditLog } from '../../../src/security/audit/verify.js';
import { composeMigrations } from '../../../src/store/migrations.js';
import { openStore } from '../../../src/store/store.js';
import { runErab } from '../incidents/run-erab.js';

const PASS = 'gateway backup passphrase 2026';
const MIGRATIONS = composeMigrations(openadrStoreMigrations, gatewayMigrations, gatewayNoticeMigrations);
let world: PkiWorld<'gw' | 'gw2' | 'agg'>;
before(async () => {
  world = await pkiWorld({ gw: 'gateway:GW1', gw2: 'gateway:GW2', agg: 'aggregator:AGG1' }, { prefix: 'erab-gateway-backup-' });
});
after(() => world.close());

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function allRows(db: Kysely<any>): Promise<Record<string, string[]>> {
  const tables = (await sql<{ t: string }>`select name as t from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(db)).rows;
  const out: Record<string, string[]> = {};
  for (const { t } of tables) out[t] = (await sql<Record<string, unknown>>`select * from ${sql.table(t)}`.execute(db)).rows.map((r) => JSON.stringify(r)).sort();
  return out;
}

function gatewayConfig(name: string, who: 'gw' | 'gw2'): { file: string; database: string; auditDir: string; keyFile: string } {
  const p = world.get(who);
  const database = join(world.dir, `${name}.db`);
  const auditDir = join(world.dir, `${name}-audit`);
  const keyFile = join(world.dir, `${name}-tls.key`);
  writeFileSync(keyFile, readFileSync(p.files.keyFile), { mode: 0o600 });
  const file = join(world.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({
    gatewayId: who === 'gw' ? 'GW1' : 'GW2', database, audit: { dir: auditDir },
    tls: { certFile: p.files.certFile, keyFile, caFile: world.caFile },
    aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:8444/OpenADR2/Simple/2.0b', certificateFile: world.get('agg').files.certFile, vtnId: 'vtn-AGG1' },
    echonet: { address: '127.0.0.1', devices: ['127.0.0.2'] },
  }));
  return { file, database, auditDir, keyFile };
}

test('erab backup and restore --role gateway: backup → wipe → restore gives the same store, key and a verifying audit log', async () => {
  const gw = gatewayConfig('gw1', 'gw');
  const store = await openStore({ url: gw.database, migrations: MIGRATIONS });
  await store.db.insertInto('gateway_device' as never).values([
    { device_id: 'dev-bat-1', record: JSON.stringify({ class: 'battery', state: 'admitted' }), updated_at: 1_764_979_200_000 },
    { device_id: 'dev-ev-1', record: JSON.stringify({ class: 'ev', state: 'quarantined' }), updated_at: 1_764_979_260_000 },
  ] as never).execute();
  await saveSafeMode(store, { by: 'operator:op-sato', reason: 'incident 3: rogue peer', since: 1_764_979_300_000 });
  await store.close();
  const audit = AuditLog.open({ dir: gw.auditDir, origin: 'erab/gateway-GW1/audit' });
  for (let i = 0; i < 12; i++) audit.append({ actor: { kind: 'system', id: 'GW1' }, action: 'gateway.test', target: `dev-${i}`, outcome: 'success' });
  audit.close();
  const before = await (async () => { const s = await openStore({ url: gw.database, migrations: MIGRATIONS }); try { return await allRows(s.db); } finally { await s.close(); } })();
  const logBefore = verifyAuditLog(gw.auditDir);
  assert.ok(logBefore.ok);
  const key = readFileSync(gw.keyFile);
  const env = { ...process.env, ERAB_BACKUP_PASSPHRASE: PASS };

  const archive = join(world.dir, 'gw1.erab-backup');
  const b = await runErab(['backup', '--role', 'gateway', '--config', gw.file, '--out', archive], env);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /backup of gateway:GW1 written to .*sqlite database, audit log erab\/gateway-GW1\/audit of 12 records \(verified\)/);
  assert.ok(!readFileSync(archive).includes(key), 'the TLS key is not in the archive in clear');

  for (const s of ['', '-wal', '-shm']) rmSync(gw.database + s, { force: true });
  rmSync(gw.auditDir, { recursive: true });
  rmSync(gw.keyFile);

  const r = await runErab(['restore', '--role', 'gateway', '--config', gw.file, archive], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /restored gateway:GW1 from .*audit log of 12 records \(verified\)/);
  const s = await openStore({ url: gw.database, migrations: MIGRATIONS });
  try {
    assert.deepEqual(await allRows(s.db), before, 'the same rows');
  } finally {
    await s.close();
  }
  const logAfter = verifyAuditLog(gw.auditDir);
  assert.ok(logAfter.ok, JSON.stringify(logAfter.problems));
  assert.equal(logAfter.rootHash, logBefore.rootHash);
  assert.deepEqual(readFileSync(gw.keyFile), key);
  assert.equal(statSync(gw.keyFile).mode & 0o777, 0o600);

  // Another gateway's configuration does not accept GW1's archive: the signer is checked first.
  const other = gatewayConfig('gw2', 'gw2');
  const refused = await runErab(['restore', '--role', 'gateway', '--config', other.file, archive], env);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /the archive is signed by gateway:GW1, not by this role gateway:GW2/);
  assert.ok(!existsSync(other.database), 'nothing written for the refused restore');
});
