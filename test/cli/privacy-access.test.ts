/**
 * The access trail of personal data, as operators meet it: `portfolio list` and `export` need a
 * purpose and a permitted operator, every access (and every refusal) lands in the audit log, and
 * `erab privacy access-report --subject` answers who read a household's data, why and when.
 * The portfolio is sealed at rest with a key-encryption key throughout.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnErab } from '../kit/index.js';
import { AuditLog } from '../../src/security/audit/log.js';
import { readRecords } from '../../src/security/audit/export.js';
import { verifyAuditLog } from '../../src/security/audit/verify.js';
import { newKekText } from '../../src/security/privacy/keyring.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-privacy-access-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function erab(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = spawnErab(args, { ...process.env, ERAB_AGGREGATOR_DB: '', ERAB_AGGREGATOR_AUDIT_DIR: '', ERAB_PRIVACY_ACCESS_POLICY: '', ERAB_PRIVACY_KEK_FILE: '' });
  const [code] = (await once(p, 'exit')) as [number];
  return { code, out: p.out, err: p.err };
}

test('reads and exports need a permitted operator and a purpose, are audited, and are listed per subject', async () => {
  const db = join(dir, 'aggregator.db');
  const audit = join(dir, 'audit');
  AuditLog.open({ dir: audit, origin: 'erab.test/agg/audit' }).close();
  const kek = join(dir, 'kek.key');
  writeFileSync(kek, newKekText(), { mode: 0o600 });
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ operators: { alice: ['read', 'export', 'erase'], bob: ['read'] } }));
  const csv = join(dir, 'fleet.csv');
  writeFileSync(csv, [
    'resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,class,name,capacity_w,capacity_wh',
    'bat-1,s1,Ito household,tokyo,"7-7-7 Nerima",tokyo-t2,Tokyo,tertiary2,tepco-sds,battery,Battery,5000,9800',
    'bat-2,s2,Abe household,kansai,"8-8-8 Kita",kansai-t1,Kansai,tertiary1,kepco-sds,battery,Battery,5000,9800',
  ].join('\n'));
  const common = ['--db', db, '--audit-dir', audit, '--access-policy', policy];
  const imp = await erab('aggregator', 'portfolio', 'import', csv, '--db', db, '--kek-file', kek, '--audit-dir', audit, '--operator', 'alice');
  assert.equal(imp.code, 0, imp.err);

  const noPurpose = await erab('aggregator', 'portfolio', 'export', ...common, '--kek-file', kek, '--operator', 'alice');
  assert.notEqual(noPurpose.code, 0);
  assert.match(noPurpose.err, /--purpose is required/);

  const exp = await erab('aggregator', 'portfolio', 'export', ...common, '--kek-file', kek, '--operator', 'alice', '--purpose', 'contract renewal letters');
  assert.equal(exp.code, 0, exp.err);
  assert.match(exp.out, /bat-1,s1,Ito household,tokyo,7-7-7 Nerima,/);

  const bobExport = await erab('aggregator', 'portfolio', 'export', ...common, '--kek-file', kek, '--operator', 'bob', '--purpose', 'curious');
  assert.equal(bobExport.code, 1);
  assert.match(bobExport.err, /operator bob is not permitted to export personal data/);
  assert.equal(bobExport.out, '', 'nothing exported');
  const mallory = await erab('aggregator', 'portfolio', 'list', ...common, '--operator', 'mallory', '--site', 's1', '--purpose', 'looking around');
  assert.equal(mallory.code, 1);
  assert.match(mallory.err, /operator mallory is not permitted to read personal data/);

  const bobList = await erab('aggregator', 'portfolio', 'list', ...common, '--operator', 'bob', '--pool', 'kansai-t1', '--purpose', 'dispatch check', '--json');
  assert.equal(bobList.code, 0, bobList.err);

  const noPolicy = await erab('aggregator', 'portfolio', 'list', '--db', db, '--audit-dir', audit, '--operator', 'alice', '--purpose', 'anything');
  assert.equal(noPolicy.code, 1);
  assert.match(noPolicy.err, /no access policy is configured/);

  const access = [...readRecords(audit)].map((l) => l.record!).filter((r) => r.action.startsWith('personal-data.'));
  assert.deepEqual(access.map((r) => [r.actor.id, r.action, r.outcome]), [
    ['alice', 'personal-data.export', 'success'],
    ['bob', 'personal-data.export', 'refused'],
    ['mallory', 'personal-data.read', 'refused'],
    ['bob', 'personal-data.read', 'success'],
    ['alice', 'personal-data.read', 'refused'],
  ]);
  assert.deepEqual((access[0]!.details as { subjects: string[] }).subjects, ['s1', 's2']);
  const raw = [...readRecords(audit)].map((l) => l.line).join('\n');
  assert.ok(!raw.includes('Ito household') && !raw.includes('Nerima'), 'the audit log references subjects, never holds their data');
  assert.ok(verifyAuditLog(audit).ok);

  const report = await erab('privacy', 'access-report', '--subject', 's1', '--audit-dir', audit, '--json');
  assert.equal(report.code, 0, report.err);
  const entries = (JSON.parse(report.out) as { entries: { operator: string; action: string; outcome: string; purpose: string }[] }).entries;
  assert.deepEqual(entries.map((e) => [e.operator, e.action, e.outcome, e.purpose]), [
    ['alice', 'personal-data.export', 'success', 'contract renewal letters'],
    ['mallory', 'personal-data.read', 'refused', 'looking around'],
  ]);
  const s2 = await erab('privacy', 'access-report', '--subject', 's2', '--audit-dir', audit);
  assert.match(s2.out, /alice\s+personal-data\.export\s+success\s+purpose: contract renewal letters/);
  assert.match(s2.out, /bob\s+personal-data\.read\s+success\s+purpose: dispatch check/);
  assert.match(s2.out, /2 recorded accesses to s2/);

  // The household asks to be forgotten: bob may not, alice may; the audit log still verifies.
  const bobErase = await erab('aggregator', 'portfolio', 'erase', ...common, '--site', 's1', '--operator', 'bob', '--purpose', 'subject request #77');
  assert.equal(bobErase.code, 1);
  // s1 was sealed in one batch with s2: erasing re-seals s2 without s1, which takes the key.
  const keyless = await erab('aggregator', 'portfolio', 'erase', ...common, '--site', 's1', '--operator', 'alice', '--purpose', 'subject request #77');
  assert.equal(keyless.code, 1);
  assert.match(keyless.err, /erasing site:s1: .*needs the key-encryption key/);
  const erase = await erab('aggregator', 'portfolio', 'erase', ...common, '--kek-file', kek, '--site', 's1', '--operator', 'alice', '--purpose', 'subject request #77');
  assert.equal(erase.code, 0, erase.err);
  const after = await erab('aggregator', 'portfolio', 'export', ...common, '--kek-file', kek, '--operator', 'alice', '--purpose', 'check erasure');
  assert.equal(after.code, 0, after.err);
  assert.match(after.out, /bat-1,s1,\(erased\),tokyo,,/);
  assert.match(after.out, /bat-2,s2,Abe household,kansai,8-8-8 Kita,/);
  assert.ok(verifyAuditLog(audit).ok);
  const report1 = JSON.parse((await erab('privacy', 'access-report', '--subject', 's1', '--audit-dir', audit, '--json')).out) as { entries: { operator: string; action: string; outcome: string }[] };
  assert.deepEqual(report1.entries.slice(2).map((e) => [e.operator, e.action, e.outcome]), [
    ['bob', 'personal-data.erase', 'refused'],
    ['alice', 'personal-data.erase', 'failure'],
    ['alice', 'personal-data.erase', 'success'],
    ['alice', 'personal-data.export', 'success'],
  ]);
});

test('erab privacy new-kek, rotate-key and key-status: after a rotation the new key alone reads everything', async () => {
  const db = join(dir, 'rotate.db');
  const audit = join(dir, 'rotate-audit');
  AuditLog.open({ dir: audit, origin: 'erab.test/rotate/audit' }).close();
  const policy = join(dir, 'rotate-policy.json');
  writeFileSync(policy, JSON.stringify({ operators: { alice: ['export'] } }));
  const oldKek = join(dir, 'old.key');
  const newKek = join(dir, 'new.key');
  const made = await erab('privacy', 'new-kek', '--out', oldKek);
  assert.equal(made.code, 0, made.err);
  assert.equal((await erab('privacy', 'new-kek', '--out', oldKek)).code, 1, 'never overwrites a key');
  const madeNew = await erab('privacy', 'new-kek', '--out', newKek);
  const newId = /\(id ([0-9a-f]{16})\)/.exec(madeNew.out)?.[1];
  assert.ok(newId, madeNew.out);
  const csv = join(dir, 'rotate.csv');
  writeFileSync(csv, 'resource_id,site_id,site_name,tso_area,site_address,class,name,capacity_w,capacity_wh\nbat-9,s9,Ueno household,tokyo,"9-9 Taito",battery,Battery,5000,9800\n');
  assert.equal((await erab('aggregator', 'portfolio', 'import', csv, '--db', db, '--kek-file', oldKek)).code, 0);
  const rot = await erab('privacy', 'rotate-key', '--db', db, '--kek-file', newKek, '--previous-kek-file', oldKek);
  assert.equal(rot.code, 0, rot.err);
  // One data key: the batch keys derive from it (no keyed-hash key: nothing sealed carries one).
  assert.match(rot.out, /^1 data keys re-wrapped/);
  const status = JSON.parse((await erab('privacy', 'key-status', '--db', db)).out) as Record<string, number>;
  assert.deepEqual(status, { [newId]: 1 }, 'every data key is under the new key-encryption key');
  const exp = await erab('aggregator', 'portfolio', 'export', '--db', db, '--kek-file', newKek, '--audit-dir', audit, '--access-policy', policy, '--operator', 'alice', '--purpose', 'after rotation');
  assert.equal(exp.code, 0, exp.err);
  assert.match(exp.out, /bat-9,s9,Ueno household,tokyo,9-9 Taito,/);
  const stale = await erab('aggregator', 'portfolio', 'export', '--db', db, '--kek-file', oldKek, '--audit-dir', audit, '--access-policy', policy, '--operator', 'alice', '--purpose', 'old key');
  assert.equal(stale.code, 1);
  assert.match(stale.err, /does not hold/);
});
