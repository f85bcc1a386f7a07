/**
 * `erab vuln` as an operator runs it, in a child process, against the aggregator's store on
 * SQLite and on PostgreSQL: portfolio import → maker → feed import (with matching) → findings →
 * risk acceptance → CycloneDX export; a hostile feed is refused with exit code 1.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERAB_BIN, REPO_ROOT } from '../repo.js';
import { freshDatabase, postgresUnreachable } from '../store/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-vuln-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const FEEDS = join(REPO_ROOT, 'test', 'fixtures', 'feeds');

function erab(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ERAB_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ERAB_AGGREGATOR_DB: '', ERAB_AGGREGATOR_AUDIT_DIR: '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

const fleet = [
  'resource_id,site_id,site_name,tso_area,gateway_id,ven_id,class,name,capacity_w,capacity_wh,max_charge_w,max_discharge_w,maker_code,product_code,serial_number,firmware_version',
  'bat-in,site-a,A house,tokyo,gw-a,ven-a,battery,BT,3000,6000,3000,3000,00007B,BT-100,SN1,1.2.3',
  'bat-out,site-b,B house,tokyo,gw-b,ven-b,battery,BT,3000,6000,3000,3000,00007B,BT-100,SN2,1.2.4',
].join('\n');

async function scenario(db: string): Promise<void> {
  const csv = join(dir, 'fleet.csv');
  writeFileSync(csv, fleet);
  assert.equal((await erab('aggregator', 'portfolio', 'import', csv, '--db', db)).code, 0);
  const maker = await erab('vuln', 'maker', '00007B', 'example_energy', '--name', 'Example Energy', '--db', db);
  assert.equal(maker.code, 0, maker.err);
  const imp = await erab('vuln', 'import', join(FEEDS, 'nvd-cve-2.0.json'), '--format', 'nvd', '--db', db);
  assert.equal(imp.code, 0, imp.err);
  assert.match(imp.out, /3 records, 3 new, 0 updated, 0 unchanged/);
  assert.match(imp.out, /findings: 1 new/);
  const again = await erab('vuln', 'import', join(FEEDS, 'nvd-cve-2.0.json'), '--format', 'nvd', '--db', db);
  assert.match(again.out, /3 records, 0 new, 0 updated, 3 unchanged/);
  assert.match(again.out, /findings: 0 new/);

  const list = await erab('vuln', 'findings', '--json', '--db', db);
  assert.equal(list.code, 0, list.err);
  const findings = JSON.parse(list.out) as { id: string; asset: { id: string }; advisory: { uid: string }; confidence: string; status: string }[];
  assert.deepEqual(findings.map((f) => [f.asset.id, f.advisory.uid, f.confidence, f.status]), [['device:bat-in', 'nvd:CVE-2026-10001', 'high', 'open']]);

  const noReason = await erab('vuln', 'accept', findings[0]!.id, '--approver', 'ciso', '--expires', '30d', '--db', db);
  assert.notEqual(noReason.code, 0);
  assert.match(noReason.err, /--reason/);
  const acc = await erab('vuln', 'accept', findings[0]!.id, '--reason', 'isolated segment', '--approver', 'ciso', '--expires', '30d', '--db', db);
  assert.equal(acc.code, 0, acc.err);
  const text = await erab('vuln', 'findings', '--status', 'risk_accepted', '--db', db);
  assert.match(text.out, /F-[0-9a-f]+\s+risk_accepted\s+8\.8\s+yes\s+high\/cpe\s+nvd:CVE-2026-10001\s+device:bat-in/);

  const hostile = join(dir, 'hostile.xml');
  writeFileSync(hostile, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>');
  const bad = await erab('vuln', 'import', hostile, '--format', 'jvn', '--db', db);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /feed .*hostile\.xml: XML with a DOCTYPE .* is refused; nothing imported/);
  const imports = await erab('vuln', 'imports', '--db', db);
  assert.equal(imports.out.trim().split('\n').length, 3, 'header + two recorded imports, the refused one not recorded');
  assert.match(imports.out.split('\n')[1]!, /^\d+\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00\s/, 'imported at, in JST');
  assert.equal((JSON.parse((await erab('vuln', 'imports', '--json', '--db', db)).out) as unknown[]).length, 2, '--json for scripts');

  const bom = join(dir, 'bom.json');
  const inv = await erab('vuln', 'inventory', '--cyclonedx', bom, '--db', db);
  assert.equal(inv.code, 0, inv.err);
  const doc = JSON.parse(readFileSync(bom, 'utf8')) as { specVersion: string; components: { 'bom-ref': string; components?: { version: string }[] }[] };
  assert.equal(doc.specVersion, '1.6');
  assert.equal(doc.components.find((c) => c['bom-ref'] === 'device:bat-in')?.components?.[0]?.version, '1.2.3');
}

test('erab vuln on SQLite', async () => {
  await scenario(join(dir, 'aggregator.db'));
});

test('erab vuln on PostgreSQL', { skip: postgresUnreachable }, async () => {
  const pg = await freshDatabase('erab_vuln_');
  try {
    await scenario(pg.url);
  } finally {
    await pg.drop();
  }
});
