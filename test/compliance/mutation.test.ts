/**
 * One mutation per automatic check: change the one setting or state the check reads, see exactly
 * that check (and the controls it judges) flip to not satisfied, undo it, see them flip back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assess, checkContext } from '../../src/compliance/assess.js';
import { builtinRegistry } from '../../src/compliance/checks/index.js';
import { checksFor } from '../../src/compliance/mapping.js';
import type { ComplianceProfile } from '../../src/compliance/profile.js';
import type { CheckRegistry } from '../../src/compliance/registry.js';
import { deployment, type Deployment } from './deployment.js';

let d: Deployment;
before(async () => { d = await deployment(); });
after(async () => { await d.close(); });

interface Snapshot { checks: Map<string, string>; controls: Map<string, string> }
async function snapshot(profile: ComplianceProfile = d.profile(), registry = builtinRegistry()): Promise<Snapshot> {
  const a = await assess(profile, registry, new Map(), { now: Date.now() });
  return { checks: new Map([...a.checks].map(([k, v]) => [k, v.status])), controls: new Map(a.controls.map((c) => [c.control.id, c.status])) };
}
const diff = (a: Map<string, string>, b: Map<string, string>) => [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();

/** Baseline, mutate, expect exactly `checkId` (and its satisfied controls) to fail, undo, expect the baseline again. */
const mutated = new Set<string>();
async function flips(checkId: string, mutate: () => void | Promise<void>, undo: () => void | Promise<void>, profiles?: { mutated?: () => ComplianceProfile; registry?: () => CheckRegistry }) {
  mutated.add(checkId);
  const registry = profiles?.registry ?? builtinRegistry;
  const base = await snapshot(d.profile(), registry());
  assert.equal(base.checks.get(checkId), 'satisfied', `${checkId} is satisfied on the baseline deployment`);
  await mutate();
  const bad = await snapshot(profiles?.mutated?.() ?? d.profile(), registry());
  try {
    assert.deepEqual(diff(base.checks, bad.checks), [checkId], 'only this check changed');
    assert.equal(bad.checks.get(checkId), 'not-satisfied');
    // Satisfied technical items fail; organisational items waiting for a decision fail too (a supporting check fails).
    const expected = [...base.controls].filter(([id, s]) => (s === 'satisfied' || s === 'needs-decision') && checksFor(id).includes(checkId)).map(([id]) => id).sort();
    assert.ok(expected.length > 0, `${checkId} judges at least one applicable control`);
    assert.deepEqual(diff(base.controls, bad.controls), expected, 'exactly the controls this check judges flipped');
    for (const id of expected) assert.equal(bad.controls.get(id), 'not-satisfied');
  } finally {
    await undo();
  }
  const back = await snapshot(d.profile(), registry());
  assert.deepEqual(diff(base.checks, back.checks), [], 'every check is back');
  assert.deepEqual(diff(base.controls, back.controls), [], 'every control is back');
}

/** Satisfied only on a PostgreSQL store (an active/standby pair): its mutation test is in postgres-checks.test.ts. */
const POSTGRES_ONLY = ['continuity.active-standby'];

/** One check on its own, at `now` (a later time than the deployment's, say). */
async function runCheck(id: string, profile: ComplianceProfile = d.profile(), now = Date.now()) {
  const ctx = checkContext(profile, { now });
  try { return await builtinRegistry().run(id, ctx); } finally { await ctx.close(); }
}

test('baseline: every built-in check is satisfied (active/standby needs PostgreSQL)', async () => {
  const a = await assess(d.profile(), builtinRegistry(), new Map(), { now: Date.now() });
  for (const [id, r] of a.checks) {
    if (POSTGRES_ONLY.includes(id)) {
      assert.equal(r.status, 'not-satisfied', id);
      assert.match(r.evidence[0]!.observed, /a single process \(standby not enabled\)/);
    } else {
      assert.equal(r.status, 'satisfied', `${id}: ${JSON.stringify(r.evidence)}`);
      assert.ok(r.evidence.length > 0 && r.evidence.every((e) => e.source && e.observed && e.at > 0), `${id} gives evidence`);
    }
  }
});

test('tls.r1: the TSO presenting an expired certificate fails R1', async () => {
  const old = await d.world.issue('tsoExpired', { role: 'tso', id: 'TSO1', validity: 'expired' });
  const orig = d.world.get('tso').files.certFile;
  await flips('tls.r1', () => d.editConfig('tso', (c) => { c.tls.certFile = old.files.certFile; }), () => d.editConfig('tso', (c) => { c.tls.certFile = orig; }));
});

test('tls.r2: the aggregator using an expired certificate towards the retailer fails R2', async () => {
  const old = await d.world.issue('aggExpiredR2', { role: 'aggregator', id: 'AGG1', validity: 'expired' });
  await flips('tls.r2', () => d.editConfig('aggregator', (c) => { c.upstream[1].tls = { certFile: old.files.certFile, keyFile: d.world.get('agg').files.keyFile }; }),
    () => d.editConfig('aggregator', (c) => { delete c.upstream[1].tls; }));
});

test('tls.r3: a certificate from another CA towards the coordinator fails R3', async () => {
  const { pkiWorld } = await import('../kit/index.js');
  const other = await pkiWorld({ a: 'aggregator:AGG1' });
  try {
    await flips('tls.r3', () => d.editConfig('aggregator', (c) => { c.upstream[2].tls = { certFile: other.get('a').files.certFile, keyFile: d.world.get('agg').files.keyFile }; }),
      () => d.editConfig('aggregator', (c) => { delete c.upstream[2].tls; }));
  } finally { await other.close(); }
});

test('tls.r4: the gateway presenting an expired certificate fails R4', async () => {
  const old = await d.world.issue('gwExpired', { role: 'gateway', id: 'GW1', validity: 'expired' });
  const orig = d.world.get('gw').files.certFile;
  await flips('tls.r4', () => d.editConfig('gateway', (c) => { c.tls.certFile = old.files.certFile; }), () => d.editConfig('gateway', (c) => { c.tls.certFile = orig; }));
});

test('crl.fresh: removing the CRL fails it', async () => {
  const crl = d.world.crlFile;
  await flips('crl.fresh', () => renameSync(crl, `${crl}.away`), () => renameSync(`${crl}.away`, crl));
});

test('keys.file-mode: a key file readable by group and others fails it', async () => {
  const key = d.world.get('gw').files.keyFile;
  await flips('keys.file-mode', () => chmodSync(key, 0o644), () => chmodSync(key, 0o600));
});

test('peers.r1-specified: an aggregator registered with the TSO but no longer contracted fails it', async () => {
  await flips('peers.r1-specified', () => d.editConfig('tso', (c) => { c.contractedAggregators = [{ id: 'AGG2' }]; }), () => d.editConfig('tso', (c) => { c.contractedAggregators = [{ id: 'AGG1' }]; }));
});

test('peers.r4-allow-list: widening the downstream allow-list to every certified peer fails it', async () => {
  await flips('peers.r4-allow-list', () => d.editConfig('aggregator', (c) => { c.downstream.allowList.anyCertifiedPeer = true; }), () => d.editConfig('aggregator', (c) => { delete c.downstream.allowList.anyCertifiedPeer; }));
});

test('peers.r5-admission: admitting devices by class alone fails it', async () => {
  await flips('peers.r5-admission', () => d.editConfig('gateway', (c) => { c.admission.allowList.push({ eoj: '027D01' }); }), () => d.editConfig('gateway', (c) => { c.admission.allowList.pop(); }));
});

test('signatures.r4: a gateway registered without XML signatures on R4 fails it', async () => {
  const set = (on: boolean) => d.aggStore.db.updateTable('openadr_vtn_registration')
    .set({ data: JSON.stringify({ registrationID: 'r1', venID: 'GW1', venName: 'GW1', xmlSignature: on, fingerprint: 'fp1' }) })
    .where('vtn_id', '=', 'AGG1-vtn').where('ven_id', '=', 'GW1').execute();
  await flips('signatures.r4', () => set(false).then(() => undefined), () => set(true).then(() => undefined));
});

test('signatures.r1: an aggregator registered with the TSO without XML signatures fails it', async () => {
  const set = (on: boolean) => d.tsoStore.db.updateTable('openadr_vtn_registration')
    .set({ data: JSON.stringify({ venID: 'AGG1', xmlSignature: on }) }).where('vtn_id', '=', 'TSO1').where('ven_id', '=', 'AGG1').execute().then(() => undefined);
  await flips('signatures.r1', () => set(false), () => set(true));
});

test('audit.verify: an edited audit record fails it', async () => {
  const dir = d.auditDirs.tso;
  const seg = readdirSync(dir, { recursive: true }).map(String).find((f) => f.endsWith('.jsonl'));
  assert.ok(seg, `a segment file in ${dir}: ${readdirSync(dir).join(', ')}`);
  const file = join(dir, seg);
  const original = readFileSync(file);
  await flips('audit.verify', () => writeFileSync(file, original.toString('utf8').replace('"i":2', '"i":7')), () => writeFileSync(file, original));
});

test('audit.witness: turning witnessing off fails it', async () => {
  await flips('audit.witness', () => d.editConfig('gateway', (c) => { c.audit.witnessIntervalMs = 0; }), () => d.editConfig('gateway', (c) => { c.audit.witnessIntervalMs = 300_000; }));
});

test('inventory.complete: a device without a firmware version fails it', async () => {
  const set = (v: string | null) => d.aggStore.db.updateTable('portfolio_resource').set({ firmware_version: v }).where('id', '=', 'D1').execute().then(() => undefined);
  await flips('inventory.complete', () => set(null), () => set('1.0.0'));
});

test('approvals.two-person: letting one operator command the whole fleet fails it', async () => {
  await flips('approvals.two-person', () => d.editConfig('aggregator', (c) => { c.approvals = { maxSingleOperatorFleetPercent: 100 }; }), () => d.editConfig('aggregator', (c) => { delete c.approvals; }));
});

test('profile.scope: a declared role without its configuration fails it', async () => {
  await flips('profile.scope', () => undefined, () => undefined, { mutated: () => d.profile({ roles: ['tso', 'aggregator', 'ems', 'retailer'] }) });
});

test('secops.findings-overdue: a high finding left open past its 30-day deadline fails it', async () => {
  const set = (days: number) => d.aggStore.db.updateTable('secops_finding').set({ first_found: Date.now() - days * 86_400_000 }).where('id', '=', 'F-high').execute().then(() => undefined);
  await flips('secops.findings-overdue', () => set(31), () => set(1));
});

test('secops.findings-overdue: an expired risk acceptance counts as overdue; the evidence names the finding', async () => {
  const set = (status: string, until: number | null) => d.aggStore.db.updateTable('secops_finding').set({ status, accepted_until: until }).where('id', '=', 'F-high').execute();
  await set('risk_accepted', Date.now() - 1000);
  try {
    const a = await assess(d.profile(), builtinRegistry(), new Map(), { now: Date.now() });
    const r = a.checks.get('secops.findings-overdue')!;
    assert.equal(r.status, 'not-satisfied');
    assert.match(r.evidence[0]!.observed, /1 findings, 0 open or notified, 1 past their deadline .*oldest: F-high \(nvd:CVE-2026-10001 on device:D0, risk_accepted\)/);
  } finally { await set('open', null); }
});

test('secops.feeds-recent: no advisory import for more than 7 days fails it', async () => {
  const set = (ageMs: number) => d.aggStore.db.updateTable('secops_feed_import').set({ imported_at: Date.now() - ageMs }).execute().then(() => undefined);
  await flips('secops.feeds-recent', () => set(8 * 86_400_000), () => set(3_600_000));
});

test('secops.detection-rules: one shipped rule disabled by an override fails it', async () => {
  await flips('secops.detection-rules', () => d.editConfig('aggregator', (c) => { c.detection = { overrides: { 'command-flood': { enabled: false } } }; }),
    () => d.editConfig('aggregator', (c) => { delete c.detection; }));
  const a = await assess(d.profile(), builtinRegistry(), new Map(), { now: Date.now() });
  assert.match(a.checks.get('secops.detection-rules')!.evidence[0]!.observed, /^detection on, (\d+)\/\1 rules of the shipped rules enabled$/);
});

test('secops.detection-rules: switching detection off fails it', async () => {
  const a = () => assess(d.profile(), builtinRegistry(), new Map(), { now: Date.now() });
  d.editConfig('aggregator', (c) => { c.detection = { enabled: false }; });
  try {
    assert.match((await a()).checks.get('secops.detection-rules')!.evidence[0]!.observed, /switched OFF/);
  } finally { d.editConfig('aggregator', (c) => { delete c.detection; }); }
  assert.equal((await a()).checks.get('secops.detection-rules')!.status, 'satisfied');
});

test('audit.syslog: the TSO no longer streaming to a syslog collector fails it', async () => {
  await flips('audit.syslog', () => d.editConfig('tso', (c) => { delete c.syslog; }), () => d.editConfig('tso', (c) => { c.syslog = { host: '127.0.0.1', port: 6514 }; }));
});

test('monitoring.health: a gateway without its operator listener fails it', async () => {
  await flips('monitoring.health', () => d.editConfig('gateway', (c) => { delete c.operator; }), () => d.editConfig('gateway', (c) => { c.operator = { port: 0 }; }));
});

test('updates.signed: an aggregator without its update folder fails it', async () => {
  let dir = '';
  await flips('updates.signed', () => d.editConfig('aggregator', (c) => { dir = c.updates.dir; delete c.updates; }), () => d.editConfig('aggregator', (c) => { c.updates = { dir }; }));
});

test('updates.signed: a gateway that never asks for updates fails it', async () => {
  const a = () => assess(d.profile(), builtinRegistry(), new Map(), { now: Date.now() });
  d.editConfig('gateway', (c) => { c.updates = { checkMs: 0 }; });
  try {
    const r = (await a()).checks.get('updates.signed')!;
    assert.equal(r.status, 'not-satisfied');
    assert.ok(r.evidence.some((e) => /gateway GW1: NEVER asks for updates/.test(e.observed)), JSON.stringify(r.evidence));
  } finally { d.editConfig('gateway', (c) => { delete c.updates; }); }
  assert.equal((await a()).checks.get('updates.signed')!.status, 'satisfied');
});

test('secops.backups-recent: the only aggregator archive modified (it no longer verifies) fails it', async () => {
  const file = d.backups.files.aggregator;
  const original = readFileSync(file);
  const tampered = Buffer.from(original);
  tampered[tampered.length - 10]! ^= 0xff; // a byte of the last entry: its SHA-256 no longer matches the signed manifest
  // 事業継続 (erab-3.5-iv) also needs active/standby, which only a PostgreSQL pair satisfies (postgres-checks.test.ts): stood in for here.
  const withStandby = () => builtinRegistry().register({ id: 'continuity.active-standby', title: 'stand-in', reads: 'r', run: async (ctx) => ({ status: 'satisfied', evidence: [{ source: 'stand-in', observed: 'a pair', at: ctx.now }] }) }, { replace: true });
  await flips('secops.backups-recent', () => writeFileSync(file, tampered), () => writeFileSync(file, original), { registry: withStandby });
  const r = await runCheck('secops.backups-recent');
  assert.ok(r.evidence.some((e) => /aggregator:AGG1: newest verified backup made .*, \d+ min ago \(within 26 h\); signature, \d+ entries, key passphrase and audit log of 5 records verify$/.test(e.observed)), JSON.stringify(r.evidence));
});

test('secops.backups-recent: a day and three hours later the same archives are too old; a new archive mends it, a broken newer one is named', async () => {
  const later = Date.now() + 27 * 3_600_000;
  const old = await runCheck('secops.backups-recent', d.profile(), later);
  assert.equal(old.status, 'not-satisfied');
  assert.ok(old.evidence.some((e) => /aggregator:AGG1: .*27\.\d h ago \(OLDER than 26 h\)/.test(e.observed)), JSON.stringify(old.evidence));
  assert.equal((await runCheck('secops.backups-recent', d.profile({ backups: { dir: d.backups.dir, passphraseFile: d.backups.passphraseFile, maxAgeHours: 28 } }), later)).status, 'satisfied', 'the age limit is the profile\'s');
  // Newer archives, one of them broken: the newest that verifies counts, the broken one is reported.
  const fresh = [await d.backup('aggregator'), await d.backup('tso')];
  const broken = await d.backup('aggregator');
  const { utimesSync, rmSync } = await import('node:fs');
  const bytes = readFileSync(broken);
  bytes[bytes.length - 10]! ^= 0xff;
  writeFileSync(broken, bytes);
  utimesSync(broken, new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
  try {
    const r = await runCheck('secops.backups-recent', d.profile(), Date.now() + 3_600_000);
    assert.equal(r.status, 'satisfied', JSON.stringify(r.evidence));
    const agg = r.evidence.find((e) => e.source === fresh[0])!;
    assert.match(agg.observed, /newer archive\(s\) that do NOT verify: .*aggregator-\d+\.erab-backup/);
  } finally {
    for (const f of [...fresh, broken]) rmSync(f);
  }
});

test('secops.backups-recent: no folder declared, no passphrase, or a wrong passphrase fails it', async () => {
  assert.match((await runCheck('secops.backups-recent', d.profile({ backups: undefined }))).evidence[0]!.observed, /no backup folder declared/);
  assert.match((await runCheck('secops.backups-recent', d.profile({ backups: { dir: d.backups.dir } }))).evidence[0]!.observed, /cannot be verified/);
  const wrong = join(d.dir, 'wrong-passphrase');
  writeFileSync(wrong, 'not the right passphrase', { mode: 0o600 });
  const r = await runCheck('secops.backups-recent', d.profile({ backups: { dir: d.backups.dir, passphraseFile: wrong } }));
  assert.equal(r.status, 'not-satisfied');
  assert.ok(r.evidence.every((e) => /no verified backup of (aggregator:AGG1|tso:TSO1); newer archive\(s\) that do NOT verify/.test(e.observed)), JSON.stringify(r.evidence));
});

test('secops.personal-data-encryption: a household name written in clear fails it', async () => {
  const row = await d.aggStore.db.selectFrom('portfolio_site').select('name').where('id', '=', 'S1').executeTakeFirstOrThrow();
  const set = (v: string) => d.aggStore.db.updateTable('portfolio_site').set({ name: v }).where('id', '=', 'S1').execute().then(() => undefined);
  await flips('secops.personal-data-encryption', () => set('Sato household'), () => set(row.name));
  await set('Sato household');
  try {
    const r = await runCheck('secops.personal-data-encryption');
    const store = r.evidence.find((e) => e.source.includes('aggregator AGG1'))!;
    assert.match(store.observed, /portfolio_site\.address: 1\/1 sealed, portfolio_site\.name: 0\/1 sealed; IN CLEAR: portfolio_site\.name \(1 values\)/);
    assert.ok(r.evidence.every((e) => !e.observed.includes('Sato')), 'no personal value in the evidence');
  } finally { await set(row.name); }
});

test('secops.personal-data-encryption: a key-encryption key others may read, none declared, or another key than the one wrapping the data keys fails it', async () => {
  const ok = await runCheck('secops.personal-data-encryption');
  assert.equal(ok.status, 'satisfied', JSON.stringify(ok.evidence));
  const { FileKeyring, newKekText } = await import('../../src/security/privacy/keyring.js');
  const id = FileKeyring.fromFiles(d.kekFile).currentKeyId;
  assert.ok(ok.evidence.some((e) => e.source === d.kekFile && e.observed === `key-encryption key ${id}, mode 0600`), JSON.stringify(ok.evidence));
  assert.ok(ok.evidence.some((e) => e.observed === `data keys per KEK: ${id}: 1`), JSON.stringify(ok.evidence));
  chmodSync(d.kekFile, 0o640);
  try {
    const loose = await assess(d.profile(), builtinRegistry(), new Map(), { now: Date.now() });
    assert.equal(loose.checks.get('secops.personal-data-encryption')!.status, 'not-satisfied');
    assert.match(loose.checks.get('secops.personal-data-encryption')!.evidence.find((e) => e.source === d.kekFile)!.observed, /mode 640 lets others read it/);
    assert.equal(loose.checks.get('keys.file-mode')!.status, 'satisfied', 'only the privacy check reads the KEK');
  } finally { chmodSync(d.kekFile, 0o600); }
  const none = await runCheck('secops.personal-data-encryption', d.profile({ privacy: undefined }));
  assert.equal(none.status, 'not-satisfied');
  assert.ok(none.evidence.some((e) => /no key-encryption key declared/.test(e.observed)));
  const other = join(d.dir, 'other-kek.key');
  writeFileSync(other, newKekText(), { mode: 0o600 });
  const wrong = await runCheck('secops.personal-data-encryption', d.profile({ privacy: { kekFile: other } }));
  assert.equal(wrong.status, 'not-satisfied');
  assert.ok(wrong.evidence.some((e) => /1 NOT under the declared key/.test(e.observed)), JSON.stringify(wrong.evidence));
});

/**
 * The gateway's admission store as the R5 check reads it: `put` records the one battery
 * 027D01-0123456789 at `address` in `state` (as the gateway writes it) and flushes; the table is
 * emptied after `body`.
 */
async function withGatewayDevice(body: (put: (address: string, state: 'admitted' | 'pending') => Promise<void>) => Promise<void>): Promise<void> {
  const { openStore } = await import('../../src/store/store.js');
  const { GATEWAY_DB_MIGRATIONS, SqlAdmissionStore } = await import('../../src/roles/gateway/persistence.js');
  const { epochMillis } = await import('../../src/core/units.js');
  const file = JSON.parse(readFileSync(d.files.gateway, 'utf8')).database as string;
  const gw = await openStore<any>({ url: file, migrations: GATEWAY_DB_MIGRATIONS }); // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    const admission = await SqlAdmissionStore.open(gw);
    await body(async (address, state) => {
      admission.save({
        deviceId: '027D01-0123456789', class: 'battery' as const, eoj: '027D01', address, state, revision: 2,
        identity: { identificationNumber: 'FE000006AABBCCDD', makerCode: '000006' }, firstSeen: epochMillis(Date.now() - 60_000), lastSeen: epochMillis(Date.now()),
      });
      await admission.flush();
    });
  } finally {
    await gw.db.deleteFrom('gateway_device').execute();
    await gw.close();
  }
}

test('transport.r5: a device admitted over ECHONET Lite/UDP (no mutual authentication or encryption) fails it; the evidence says how each device is reached', async () => {
  await withGatewayDevice(async (put) => {
    const lan = '192.168.1.20';
    await put(lan, 'pending');
    const pending = await runCheck('transport.r5');
    assert.equal(pending.status, 'satisfied', 'a device held pending is not controlled');
    assert.match(pending.evidence[1]!.observed, /^0 admitted of 1 devices seen$/);
    await flips('transport.r5', () => put(lan, 'admitted'), () => put(lan, 'pending'));
    await put(lan, 'admitted');
    const r = await runCheck('transport.r5');
    assert.match(r.evidence[0]!.observed, /^ECHONET Lite controller bound on 127\.0\.0\.1:3610 only/);
    assert.match(r.evidence[1]!.observed, /1 admitted of 1 devices seen; 1 over echonet-lite-udp: 027D01-0123456789 pinned to 192\.168\.1\.20 EOJ 027D01; 1 reached WITHOUT mutual authentication or encryption/);
    // A 推奨 item: the pinning may be recorded as the compensating control.
    const a = await assess(d.profile(), builtinRegistry(), new Map([['erab-3.3.4-1', { id: 9, controlId: 'erab-3.3.4-1', kind: 'compensating-control' as const, reference: undefined, reason: undefined, compensating: 'address/EOJ pinning, spoofed-source events', approver: 'Sato', decidedAt: Date.now() - 1, reviewAt: Date.now() + 86_400_000, recordedAt: Date.now() }]]), { now: Date.now() });
    assert.equal(a.controls.find((c) => c.control.id === 'erab-3.3.4-1')!.status, 'compensating-control');
  });
});

test('transport.r5: a device the gateway reaches over the ECHONET Lite Web API (its https:// address, as the gateway records it) satisfies it; the same device at a UDP address does not', async () => {
  await withGatewayDevice(async (put) => {
    // What the gateway writes for a Web API node: the base URL is the pinned address (src/roles/gateway/echonet-site.ts).
    const webApi = 'https://203.0.113.7:8443';
    await put(webApi, 'admitted');
    // The baseline (satisfied) has the Web API device admitted; moving it to a UDP address fails exactly R5.
    await flips('transport.r5', () => put('203.0.113.7', 'admitted'), () => put(webApi, 'admitted'));
    const r = await runCheck('transport.r5');
    assert.equal(r.status, 'satisfied');
    assert.match(r.evidence[1]!.observed, /^1 admitted of 1 devices seen; 1 over echonet-lite-web-api \(mutual TLS\): 027D01-0123456789 pinned to https:\/\/203\.0\.113\.7:8443 EOJ 027D01$/);
    await put('203.0.113.7', 'admitted');
    const udp = await runCheck('transport.r5');
    assert.equal(udp.status, 'not-satisfied');
    assert.match(udp.evidence[1]!.observed, /1 over echonet-lite-udp: 027D01-0123456789 pinned to 203\.0\.113\.7 EOJ 027D01; 1 reached WITHOUT/);
  });
});

test('a module may replace a check by id; the controls follow the replacement', async () => {
  const base = await snapshot();
  const registry = builtinRegistry();
  const fake = { id: 'continuity.active-standby', title: 't', reads: 'r', run: async (ctx: { now: number }) => ({ status: 'satisfied' as const, evidence: [{ source: 's', observed: 'pair', at: ctx.now }] }) };
  assert.throws(() => registry.register(fake), /already registered/);
  registry.register(fake, { replace: true });
  const now = await snapshot(d.profile(), registry);
  assert.deepEqual(diff(base.checks, now.checks), ['continuity.active-standby']);
  // erab-3.5-iv (事業継続, organisational): backups hold, active/standby does not on SQLite → not satisfied; with both → its decision.
  assert.equal(base.controls.get('erab-3.5-iv'), 'not-satisfied');
  assert.equal(now.controls.get('erab-3.5-iv'), 'needs-decision', 'the control follows the replaced check (then waits for its decision)');
});

test('every built-in check has its mutation test above (PostgreSQL-only ones in postgres-checks)', () => {
  const builtin = builtinRegistry().all().map((c) => c.id).filter((id) => !POSTGRES_ONLY.includes(id)).sort();
  assert.deepEqual(builtin.filter((id) => !mutated.has(id)), []);
  assert.ok(builtin.length >= 22, `${builtin.length} built-in checks`);
});

test('reading never creates a role database: a store that does not exist yet is reported as such', async () => {
  const { existsSync } = await import('node:fs');
  const missing = join(d.dir, 'not-yet', 'aggregator.db');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(d.dir, 'not-yet'), { recursive: true });
  let orig = '';
  d.editConfig('aggregator', (c) => { orig = c.store.url; c.store.url = missing; });
  try {
    const a = await assess(d.profile(), builtinRegistry(), new Map(), { now: Date.now() });
    assert.equal(a.checks.get('inventory.complete')!.status, 'not-satisfied');
    assert.match(a.checks.get('signatures.r4')!.evidence[0]!.observed, /no store or registrations table yet/);
    assert.equal(existsSync(missing), false, 'the check created no database');
  } finally {
    d.editConfig('aggregator', (c) => { c.store.url = orig; });
  }
});
