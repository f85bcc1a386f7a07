/**
 * `erab privacy retention` as an operator's timer runs it: the periods come from the aggregator's
 * configuration (privacy.retention), what expired goes, the run is audited and the audit log
 * verifies; without any period the command refuses, naming the options. Sites sealed together
 * are erased with --kek-file (the rest of their batch is re-sealed without them).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnErab } from '../kit/index.js';
import { openadrMigrations } from '../../src/endpoints/openadr/store.js';
import { portfolioMigrations, type PortfolioTables } from '../../src/roles/aggregator/portfolio/tables.js';
import { AuditLog } from '../../src/security/audit/log.js';
import { readRecords } from '../../src/security/audit/export.js';
import { verifyAuditLog } from '../../src/security/audit/verify.js';
import { composeMigrations } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/store.js';
import { Portfolio } from '../../src/roles/aggregator/portfolio/portfolio.js';
import { FileKeyring, newKekText } from '../../src/security/privacy/keyring.js';
import { PersonalDataVault } from '../../src/store/vault.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-privacy-retention-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86_400_000;

async function erab(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = spawnErab(args, { ...process.env, ERAB_AGGREGATOR_DB: '', ERAB_AGGREGATOR_AUDIT_DIR: '', ERAB_PRIVACY_KEK_FILE: '' });
  const [code] = (await once(p, 'exit')) as [number];
  return { code, out: p.out, err: p.err };
}

test('erab privacy retention applies the configured periods, audited, and refuses without any', async () => {
  const db = join(dir, 'aggregator.db');
  const audit = join(dir, 'audit');
  AuditLog.open({ dir: audit, origin: 'erab.test/agg/audit' }).close();
  const store = await openStore({ url: db, migrations: composeMigrations(portfolioMigrations, openadrMigrations) });
  const now = Date.now();
  await store.db.insertInto('openadr_vtn_report' as never).values([
    { vtn_id: 'AGG1', ven_id: 'GW1', report_request_id: 'RR1', received_at: now - 100 * DAY, data: '{}' },
    { vtn_id: 'AGG1', ven_id: 'GW1', report_request_id: 'RR1', received_at: now - 10 * DAY, data: '{}' },
  ] as never).execute();
  await store.close();
  const cfg = join(dir, 'aggregator.json');
  writeFileSync(cfg, JSON.stringify({ id: 'AGG1', tls: { caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'k.pem' }, privacy: { retention: { confidentialDays: 90 } } }));

  const none = await erab('privacy', 'retention', '--db', db, '--audit-dir', audit);
  assert.equal(none.code, 1);
  assert.match(none.err, /no retention period: give --personal-days, --confidential-days or --operational-days, or --config/);

  const dry = await erab('privacy', 'retention', '--db', db, '--config', cfg, '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /confidential openadr_vtn_report: 1 rows due to be deleted/);

  const run = await erab('privacy', 'retention', '--db', db, '--config', cfg, '--audit-dir', audit);
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /confidential openadr_vtn_report: 1 rows deleted/);
  const again = await erab('privacy', 'retention', '--db', db, '--config', cfg, '--audit-dir', audit);
  assert.match(again.out, /confidential openadr_vtn_report: 0 rows deleted/, 'the 10-day-old report stays');

  assert.ok(verifyAuditLog(audit).ok);
  const records = [...readRecords(audit)].map((l) => l.record!).filter((r) => r.action === 'privacy.retention');
  assert.equal(records.length, 2);
  assert.deepEqual((records[0]!.details as { rows: string[] }).rows, ['confidential openadr_vtn_report deleted 1']);
});

test('erab privacy retention erases a site sealed with others given the key; without it, refuses and keeps it', async () => {
  const db = join(dir, 'sealed.db');
  const audit = join(dir, 'sealed-audit');
  const kek = join(dir, 'kek.key');
  writeFileSync(kek, newKekText(), { mode: 0o600 });
  AuditLog.open({ dir: audit, origin: 'erab.test/agg/audit' }).close();
  const store = await openStore<PortfolioTables>({ url: db, migrations: portfolioMigrations });
  await new Portfolio(store, { vault: new PersonalDataVault(FileKeyring.fromFiles(kek)) }).importText([
    'resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,class,name,capacity_w,capacity_wh',
    'bat-1,s1,Mori household,tokyo,"1-1 Ota",tokyo-t2,Tokyo,tertiary2,tepco-sds,battery,Battery,5000,9800',
    'bat-2,s2,Kato household,tokyo,"2-2 Ota",tokyo-t2,Tokyo,tertiary2,tepco-sds,battery,Battery,5000,9800',
  ].join('\n'), 'csv', 'fleet.csv', { kind: 'operator', id: 'alice' });
  const old = Date.now() - 100 * DAY;
  await store.db.updateTable('portfolio_resource').set({ present: 0, updated_at: old }).where('id', '=', 'bat-1').execute();
  await store.db.updateTable('portfolio_site').set({ updated_at: old }).where('id', '=', 's1').execute();
  await store.close();

  const keyless = await erab('privacy', 'retention', '--db', db, '--personal-days', '30', '--audit-dir', audit);
  assert.equal(keyless.code, 1);
  assert.match(keyless.err, /erasing site:s1: .*needs the key-encryption key/);
  const run = await erab('privacy', 'retention', '--db', db, '--personal-days', '30', '--audit-dir', audit, '--kek-file', kek);
  assert.equal(run.code, 0, run.err);

  const after = await openStore({ url: db, migrations: portfolioMigrations });
  try {
    const sites = (await new Portfolio(after, { vault: new PersonalDataVault(FileKeyring.fromFiles(kek)) }).listSites()).items;
    assert.deepEqual(sites.map((s) => [s.id, s.name, s.address]), [['s1', '(erased)', null], ['s2', 'Kato household', '2-2 Ota']]);
  } finally {
    await after.close();
  }
  assert.ok(verifyAuditLog(audit).ok);
});
