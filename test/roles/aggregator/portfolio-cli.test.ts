import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords } from '../../../src/security/audit/export.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-portfolio-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'aggregator.db');
// Reading the portfolio is an access to personal data: audited, under a policy that permits this account.
const accessAudit = join(dir, 'access-audit');
AuditLog.open({ dir: accessAudit, origin: 'erab.test/portfolio-cli/audit' }).close();
const accessPolicy = join(dir, 'access-policy.json');
writeFileSync(accessPolicy, JSON.stringify({ operators: { [userInfo().username]: ['read', 'export'] } }));

/** Runs `erab ...args` in a child process (its own stdout/stderr, real exit code). */
function erab(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./portfolio-cli-runner.js', import.meta.url)), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ERAB_AGGREGATOR_DB: '', ERAB_AGGREGATOR_AUDIT_DIR: accessAudit, ERAB_PRIVACY_ACCESS_POLICY: accessPolicy },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

const csv = [
  'resource_id,site_id,site_name,tso_area,pool_id,product,program,class,name,capacity_w,capacity_wh,maker_code',
  'bat-1,s1,Sato house,tokyo,tokyo-t2,tertiary2,tepco-sds,battery,Battery one,5000,9800,00007B',
  'bat-2,s1,Sato house,tokyo,tokyo-t2,,,battery,Battery two,3000,6500,',
  'wh-1,s2,Osaka flat,kansai,kansai-t1,tertiary1,kepco-sds,water_heater,EcoCute,1500,,',
].join('\n');

test('erab aggregator portfolio import, list, pools', async () => {
  const file = join(dir, 'fleet.csv');
  writeFileSync(file, csv);
  const imp = await erab('aggregator', 'portfolio', 'import', file, '--db', db);
  assert.equal(imp.code, 0, imp.err);
  assert.match(imp.out, /resources 3 new 0 updated/);

  const list = await erab('aggregator', 'portfolio', 'list', '--purpose', 'portfolio test', '--db', db, '--pool', 'tokyo-t2', '--json');
  assert.equal(list.code, 0, list.err);
  const page = JSON.parse(list.out) as { items: { id: string }[]; total: number };
  assert.deepEqual(page.items.map((r) => r.id), ['bat-1', 'bat-2']);
  assert.equal(page.total, 2);

  const text = await erab('aggregator', 'portfolio', 'list', '--purpose', 'portfolio test', '--db', db, '--class', 'water_heater');
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^ID\s+CLASS/m);
  assert.match(text.out, /wh-1\s+water_heater\s+s2\s+kansai-t1/);
  assert.match(text.out, /1 of 1 resources/);

  const search = await erab('aggregator', 'portfolio', 'list', '--purpose', 'portfolio test', '--db', db, '--search', '00007b', '--json');
  assert.deepEqual((JSON.parse(search.out) as { items: { id: string }[] }).items.map((r) => r.id), ['bat-1']);

  const paged = await erab('aggregator', 'portfolio', 'list', '--purpose', 'portfolio test', '--db', db, '--limit', '2');
  const cursor = /--cursor (\S+)/.exec(paged.out)?.[1];
  assert.ok(cursor, paged.out);
  const next = await erab('aggregator', 'portfolio', 'list', '--purpose', 'portfolio test', '--db', db, '--limit', '2', '--cursor', cursor, '--json');
  assert.deepEqual((JSON.parse(next.out) as { items: { id: string }[] }).items.map((r) => r.id), ['wh-1']);

  const exported = await erab('aggregator', 'portfolio', 'export', '--purpose', 'portfolio test', '--db', db, '--pool', 'kansai-t1');
  assert.equal(exported.code, 0, exported.err);
  assert.match(exported.out, /^resource_id,site_id,/);
  assert.match(exported.out, /\r\nwh-1,s2,Osaka flat,kansai,,kansai-t1,/);
  assert.equal(exported.out.trim().split('\r\n').length, 2);

  const pools = await erab('aggregator', 'portfolio', 'pools', '--db', db);
  assert.equal(pools.code, 0, pools.err);
  assert.match(pools.out, /tokyo-t2\s+tokyo\s+tertiary2\s+tepco-sds\s+resources 2\s+reduce 8\.0 kW/);
});

test('a bad import exits 1, prints every problem with file:line, and imports nothing', async () => {
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, ['resource_id,site_id,site_name,tso_area,class,capacity_w', 'x-1,s9,New,tokyo,battery,abc', 'x-2,s9,New,tokyo,fridge,100'].join('\n'));
  const r = await erab('aggregator', 'portfolio', 'import', bad, '--db', db);
  assert.equal(r.code, 1);
  assert.match(r.err, /bad\.csv:2: capacity_w: must be a number of watts/);
  assert.match(r.err, /bad\.csv:3: class: must be one of/);
  assert.match(r.err, /2 problems, nothing imported/);
  const list = await erab('aggregator', 'portfolio', 'list', '--purpose', 'portfolio test', '--db', db, '--site', 's9', '--json');
  assert.equal((JSON.parse(list.out) as { total: number }).total, 0);
});

test('usage errors exit 2; unreadable files and stores exit 1 with the reason', async () => {
  assert.equal((await erab('aggregator', 'portfolio', 'import')).code, 2);
  assert.equal((await erab('aggregator', 'portfolio', 'list', '--purpose', 'portfolio test', '--db', db, '--class', 'fridge')).code, 2);
  assert.equal((await erab('aggregator', 'portfolio', 'list', '--purpose', 'portfolio test', '--db', db, '--limit', '0')).code, 2);
  const noExt = join(dir, 'fleet.txt');
  writeFileSync(noExt, csv);
  const fmt = await erab('aggregator', 'portfolio', 'import', noExt, '--db', db);
  assert.equal(fmt.code, 2);
  assert.match(fmt.err, /--format csv\|json/);
  assert.equal((await erab('aggregator', 'portfolio', 'import', noExt, '--db', db, '--format', 'csv')).code, 0);

  const missing = await erab('aggregator', 'portfolio', 'import', join(dir, 'nope.csv'), '--db', db);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /cannot read .*nope\.csv: .*ENOENT/);
  const store = await erab('aggregator', 'portfolio', 'list', '--purpose', 'portfolio test', '--db', 'postgres://erab:hunter2@127.0.0.1:1/x');
  assert.equal(store.code, 1);
  assert.match(store.err, /cannot connect to PostgreSQL at postgres:\/\/erab:\*\*\*@127\.0\.0\.1:1\/x/);
  assert.doesNotMatch(store.err, /hunter2/);
  const help = await erab('aggregator', 'portfolio', '--help');
  assert.equal(help.code, 0);
  assert.match(help.out, /import/);
});

test('an import is attributed to the operator and recorded in the audit log, refusals too', async () => {
  const auditDir = join(dir, 'audit');
  AuditLog.open({ dir: auditDir, origin: 'erab.test/aggregator/audit' }).close();
  const file = join(dir, 'fleet2.csv');
  writeFileSync(file, csv);
  const ok = await erab('aggregator', 'portfolio', 'import', file, '--db', join(dir, 'audited.db'), '--audit-dir', auditDir, '--operator', 'alice');
  assert.equal(ok.code, 0, ok.err);
  const bad = join(dir, 'bad2.csv');
  writeFileSync(bad, 'resource_id,site_id,class\nx,nosite,load\n');
  const refused = await erab('aggregator', 'portfolio', 'import', bad, '--db', join(dir, 'audited.db'), '--audit-dir', auditDir, '--operator', 'bob');
  assert.equal(refused.code, 1);
  const records = [...readRecords(auditDir)].map((l) => l.record).filter((r) => r?.action === 'portfolio.import');
  assert.deepEqual(records.map((r) => [r?.actor.kind, r?.actor.id, r?.outcome]), [['operator', 'alice', 'success'], ['operator', 'bob', 'refused']]);
  assert.match(String(records[0]?.target), /fleet2\.csv$/);
  const noLog = await erab('aggregator', 'portfolio', 'import', file, '--db', join(dir, 'audited.db'), '--audit-dir', join(dir, 'no-audit'));
  assert.equal(noLog.code, 1);
  assert.match(noLog.err, /no audit log there/);
});
