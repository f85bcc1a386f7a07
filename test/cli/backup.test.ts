/**
 * `erab backup` / `erab restore` as an operator runs them: separate processes, the role's
 * configuration file, the passphrase from a file, exit codes and messages.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pkiWorld, spawnErab, type PkiWorld } from '../kit/index.js';
import { openStore } from '../../src/store/store.js';
import { portfolioMigrations } from '../../src/roles/aggregator/portfolio/tables.js';
import { tsoMigrations } from '../../src/roles/tso/delivery.js';
import { AuditLog } from '../../src/security/audit/log.js';
import { verifyAuditLog } from '../../src/security/audit/verify.js';

let world: PkiWorld<'agg' | 'tso'>;
before(async () => { world = await pkiWorld({ agg: 'aggregator:AGG1', tso: 'tso:TSO1' }, { prefix: 'erab-backup-cli-' }); });
after(() => world.close());

async function erab(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = spawnErab(args);
  const [code] = (await once(p, 'exit')) as [number];
  return { code, out: p.out, err: p.err };
}

test('erab backup, restore --check, restore after a wipe, and a tampered archive refused', async () => {
  const dir = world.dir;
  const db = join(dir, 'aggregator.db');
  const auditDir = join(dir, 'audit');
  const agg = world.get('agg');
  const config = join(dir, 'aggregator.json');
  writeFileSync(config, JSON.stringify({ id: 'AGG1', tls: { certFile: agg.files.certFile, keyFile: agg.files.keyFile, caFile: world.caFile }, store: { url: db }, audit: { dir: auditDir } }));
  const pass = join(dir, 'pass.txt');
  writeFileSync(pass, 'a long enough passphrase\n', { mode: 0o600 });
  await (await openStore({ url: db, migrations: portfolioMigrations })).close();
  const log = AuditLog.open({ dir: auditDir, origin: 'erab.test/agg1/audit' });
  for (let i = 0; i < 5; i++) log.append({ actor: { kind: 'operator', id: 'bob' }, action: 'test.op', outcome: 'success' });
  log.close();
  const root = verifyAuditLog(auditDir).rootHash;

  const out = join(dir, 'agg.erab-backup');
  const b = await erab(['backup', '--role', 'aggregator', '--config', config, '--out', out, '--passphrase-file', pass]);
  assert.equal(b.code, 0, b.err);
  assert.match(b.out, /backup of aggregator:AGG1 written to .*audit log erab\.test\/agg1\/audit of 5 records \(verified\)/);
  const again = await erab(['backup', '--role', 'aggregator', '--config', config, '--out', out, '--passphrase-file', pass]);
  assert.notEqual(again.code, 0);
  assert.match(again.err, /exists/);

  const check = await erab(['restore', '--role', 'aggregator', '--config', config, out, '--check', '--passphrase-file', pass]);
  assert.equal(check.code, 0, check.err);
  assert.match(check.out, /intact; signed by aggregator:AGG1/);

  const bytes = readFileSync(out);
  const bad = Buffer.from(bytes);
  bad[bad.length - 1]! ^= 0xff; // inside the last entry
  const badFile = join(dir, 'bad.erab-backup');
  writeFileSync(badFile, bad);
  rmSync(db);
  rmSync(auditDir, { recursive: true });
  const refused = await erab(['restore', '--role', 'aggregator', '--config', config, badFile, '--passphrase-file', pass]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /entry \S+ was modified/);
  assert.ok(!existsSync(db) && !existsSync(auditDir), 'nothing written');

  const r = await erab(['restore', '--role', 'aggregator', '--config', config, out, '--passphrase-file', pass]);
  assert.equal(r.code, 0, r.err);
  assert.equal(verifyAuditLog(auditDir).rootHash, root);
  assert.ok(existsSync(db));
});

test('erab backup and restore of a TSO', async () => {
  const dir = join(world.dir, 'tso');
  const db = join(dir, 'tso.db');
  const auditDir = join(dir, 'audit');
  const tso = world.get('tso');
  const config = join(world.dir, 'tso.json');
  writeFileSync(config, JSON.stringify({ id: 'TSO1', tls: { certFile: tso.files.certFile, keyFile: tso.files.keyFile, caFile: world.caFile }, store: { url: db }, audit: { dir: auditDir } }));
  const pass = join(world.dir, 'tso-pass.txt');
  writeFileSync(pass, 'another long passphrase\n', { mode: 0o600 });
  mkdirSync(dir);
  await (await openStore({ url: db, migrations: tsoMigrations })).close();
  const log = AuditLog.open({ dir: auditDir, origin: 'erab.test/tso1/audit' });
  log.append({ actor: { kind: 'operator', id: 'carol' }, action: 'test.op', outcome: 'success' });
  log.close();
  const out = join(world.dir, 'tso.erab-backup');
  const b = await erab(['backup', '--role', 'tso', '--config', config, '--out', out, '--passphrase-file', pass]);
  assert.equal(b.code, 0, b.err);
  assert.match(b.out, /backup of tso:TSO1 written/);
  // The aggregator's configuration cannot restore the TSO's archive.
  const aggConfig = join(world.dir, 'aggregator.json');
  const wrong = await erab(['restore', '--role', 'aggregator', '--config', aggConfig, out, '--check', '--passphrase-file', pass]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /signed by tso:TSO1, not by this role aggregator:AGG1/);
  rmSync(dir, { recursive: true });
  const r = await erab(['restore', '--role', 'tso', '--config', config, out, '--passphrase-file', pass]);
  assert.equal(r.code, 0, r.err);
  assert.ok(verifyAuditLog(auditDir).ok);
  assert.ok(existsSync(db));
});
