/**
 * Signed updates end to end (自家用GL 7-1, ERAB §3.6): the aggregator role (startAggregator, its R4
 * VTN on real mutual TLS with certificates from our PKI, `updates.dir` configured) offers packages
 * through its update routes; an in-process gateway learns the offers, downloads, verifies and
 * applies them to a simulated battery over real UDP (ECHONET Lite maker EPCs 0xF0/0xF1), and the
 * aggregator's portfolio inventory shows the new firmware version the gateway registers again.
 *
 * In order on one fixture: tampered → refused, device untouched; signed by another aggregator →
 * refused; signed with the aggregator's TLS key → refused; valid → applied and seen by the
 * aggregator; downgrade → refused; a firmware that boots into a fault → rolled back.
 */
import { aggregatorMigrations } from '../../../src/roles/aggregator/runtime/r4-workers.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, sign as signBytes } from 'node:crypto';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore } from '../../../src/store/store.js';
import { systemClock } from '../../../src/core/clock.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations } from '../../../src/roles/aggregator/portfolio/index.js';
import { UpdateOffers } from '../../../src/endpoints/openadr/update-offers.js';
import { buildManifest, sha256Hex, signPackage, type UpdateTarget } from '../../../src/endpoints/openadr/update-package.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import type { StoredCertificate } from '../../../src/security/pki/store.js';
import { confirmRelease, pendingRelease, rollbackRelease } from '../../../src/roles/gateway/software-release.js';
import { importOneHome, pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';

const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
const CONTROLLER = `${NET}.1`;
const NODE = `${NET}.2`;
const BATTERY: UpdateTarget = { kind: 'device', deviceClass: 'battery', makerCode: 'FFFFFE' };

interface Fixture {
  world: PkiWorld;
  signer: StoredCertificate;
  otherSigner: StoredCertificate;
  agg: RunningAggregator;
  dbFile: string;
  vtnAudit: MemoryAuditSink;
  offers: UpdateOffers;
  updatesDir: string;
  site: DeviceSite;
  gw: Gateway;
  audit: MemoryAuditSink;
  battery: string;
}
let f: Fixture;
/** Versions the gateway asked to restart into (its launcher would start `current`). */
const restarts: string[] = [];

function firmwarePackage(version: string, signer: StoredCertificate, packageId = 'battery-fw'): string {
  const files = new Map([['firmware.bin', Buffer.from(`simulated battery firmware ${version}\n`)]]);
  return signPackage(buildManifest({ packageId, version, target: BATTERY }, files), files, { certPem: signer.certPem, keyPem: signer.keyPem });
}

function configPackage(version: string, config: unknown): string {
  const files = new Map([['gateway.json', Buffer.from(JSON.stringify(config, null, 2))]]);
  return signPackage(buildManifest({ packageId: 'gw-config', version, target: { kind: 'config', gatewayIds: ['GW1'] } }, files), files, { certPem: f.signer.certPem, keyPem: f.signer.keyPem });
}

/** Offers `text` as it is (as an attacker holding the aggregator's update folder would). */
function offerRaw(text: string, packageId: string, version: string, target: UpdateTarget = BATTERY): void {
  mkdirSync(join(f.updatesDir, 'packages'), { recursive: true });
  writeFileSync(join(f.updatesDir, 'packages', `${packageId}-${version}.erabpkg.json`), text);
  const offer = { packageId, version, target, sha256: sha256Hex(text), size: Buffer.byteLength(text), publishedAt: new Date().toISOString() };
  writeFileSync(f.offers.offersFile, JSON.stringify({ offers: [offer] }));
}

const batteryFirmware = () => f.site.firmware.get('battery')!.version();
const fault = () => f.site.battery!.object.get(f.site.battery!.object.definition.props.faultStatus as never) as string;

/** The firmware version the aggregator's portfolio inventory holds for a resource (read over a second connection). */
async function aggregatorSees(resourceId: string): Promise<string | undefined> {
  const store = await openStore({ url: f.dbFile, migrations: aggregatorMigrations, ignoreUnknownMigrations: true });
  try {
    return (await new Portfolio(store).getResource(resourceId))?.firmwareVersion ?? undefined;
  } finally {
    await store.close();
  }
}

before(async () => {
  const world = await pkiWorld({ agg: 'aggregator:AGG1', other: 'aggregator:AGG2', gwCert: 'gateway:GW1' }, { prefix: 'erab-updates-' });
  const signer = await world.store.issue({ role: 'aggregator', id: 'AGG1', usage: 'code-signing' });
  const otherSigner = await world.store.issue({ role: 'aggregator', id: 'AGG2', usage: 'code-signing' });
  const vtnAudit = new MemoryAuditSink();
  const updatesDir = join(world.dir, 'updates');
  const offers = new UpdateOffers({ dir: updatesDir, audit: new MemoryAuditSink(), aggregatorId: 'AGG1' });
  // The portfolio lists the gateway's site; its devices come from the gateway's inventory.
  const dbFile = join(world.dir, 'aggregator.db');
  await importOneHome(dbFile, 'updates-portfolio.json');
  const agg = await startAggregator(parseAggregatorConfig({
    id: 'AGG1', tls: world.tlsFiles('agg'), store: { url: dbFile }, audit: { dir: join(world.dir, 'agg-audit') },
    downstream: { port: 0, allowList: { participants: ['gateway:GW1'] }, pollIntervalMs: 1000, reportIntervalMs: 5000 },
    updates: { dir: updatesDir },
  }), { audit: vtnAudit, clock: systemClock });
  const site = await DeviceSite.start({ address: NODE, serialPrefix: 'SITEA', battery: {}, firmware: { version: '1.0.0', faultyVersions: ['3.0.0'] } });
  const audit = new MemoryAuditSink();
  const config = gatewayConfigSchema.parse({
    gatewayId: 'GW1',
    database: join(world.dir, 'gateway.db'),
    tls: world.tlsFiles('gwCert'),
    aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${agg.downstreamPort}`, certificateFile: world.get('agg').files.certFile },
    echonet: { address: CONTROLLER, devices: [NODE], pollMs: 60_000, timeoutMs: 5000, retries: 1, firmwareEpcs: { FFFFFE: 0xf0 }, firmwareInstallEpcs: { FFFFFE: 0xf1 } },
    telemetry: { minPeriodMs: 5000 },
    admission: { allowList: [{ serialNumber: 'SITEA' }] },
    audit: { witnessIntervalMs: 0 },
    updates: { checkMs: 0, healthCheckMs: 300, configFile: join(world.dir, 'managed-gateway.json'), softwareDir: join(world.dir, 'gw-software') },
  });
  const gw = await Gateway.start(config, { audit, onSoftwareSwitched: (v) => restarts.push(v) });
  const battery = gw.admission.list().find((r) => r.class === 'battery')!.deviceId;
  f = { world, signer, otherSigner, agg, dbFile, vtnAudit, offers, updatesDir, site, gw, audit, battery };
  await waitFor('the aggregator\'s inventory shows firmware 1.0.0', async () => (await aggregatorSees(battery)) === '1.0.0', 20_000);
});

after(async () => {
  await f?.gw?.close();
  await f?.agg?.stop();
  await f?.site?.close();
  f?.world?.close();
});

test('a tampered update package is refused by the gateway and the device is untouched', async () => {
  const good = firmwarePackage('2.0.0', f.signer);
  const pkg = JSON.parse(good) as { files: Record<string, string> };
  pkg.files['firmware.bin'] = Buffer.from('simulated battery firmware 2.0.0 with a backdoor\n').toString('base64');
  offerRaw(JSON.stringify(pkg), 'battery-fw', '2.0.0');
  const results = await f.gw.updater.check();
  assert.equal(results.length, 1);
  assert.equal(results[0]!.outcome, 'refused');
  assert.match(results[0]!.reason!, /firmware\.bin does not match its SHA-256 in the signed manifest/);
  assert.equal(batteryFirmware(), '1.0.0');
  assert.ok(f.audit.records.some((r) => r.action === 'gateway.update.refused' && r.outcome === 'refused'));
  assert.ok(!f.audit.records.some((r) => r.action === 'gateway.update.apply'), 'nothing was applied');
  // The aggregator got the result over R4 and audited it.
  const reported = await waitFor('result at the aggregator', () => f.offers.results().find((r) => r.outcome === 'refused'));
  assert.equal(reported.gatewayId, 'GW1');
  assert.ok(f.vtnAudit.records.some((r) => r.action === 'aggregator.update.result' && r.outcome === 'refused'));

  // The manifest itself altered (a newer version claimed) breaks the signature.
  const m = JSON.parse(good) as { manifest: { version: string } };
  m.manifest.version = '9.0.0';
  offerRaw(JSON.stringify(m), 'battery-fw', '9.0.0');
  const [r2] = await f.gw.updater.check();
  assert.equal(r2!.outcome, 'refused');
  assert.match(r2!.reason!, /signature does not match the signed content/);
  assert.equal(batteryFirmware(), '1.0.0');
});

test('a package signed by another aggregator, or with the aggregator\'s TLS key, is refused', async () => {
  offerRaw(firmwarePackage('2.0.0', f.otherSigner, 'battery-fw-other'), 'battery-fw-other', '2.0.0');
  const [r] = await f.gw.updater.check();
  assert.equal(r!.outcome, 'refused');
  assert.match(r!.reason!, /signed by aggregator:AGG2, not by aggregator:AGG1/);

  // Forged with the TLS key and certificate (signDetached itself refuses them, so by hand).
  const good = JSON.parse(firmwarePackage('2.0.0', f.signer, 'battery-fw-tls')) as { signature: string };
  const agg = f.world.get('agg');
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'erab-update+jws', x5c: [new (await import('node:crypto')).X509Certificate(agg.certPem).raw.toString('base64')] })).toString('base64url');
  const parsed = JSON.parse(firmwarePackage('2.0.0', f.signer, 'battery-fw-tls')) as { manifest: unknown; signature: string };
  const { canonicalJson } = await import('../../../src/security/audit/record.js');
  const input = `${header}.${Buffer.from(canonicalJson(parsed.manifest)!).toString('base64url')}`;
  const sig = signBytes('sha256', Buffer.from(input), { key: createPrivateKey(agg.keyPem), dsaEncoding: 'ieee-p1363' });
  parsed.signature = `${header}..${sig.toString('base64url')}`;
  assert.notEqual(parsed.signature, good.signature);
  offerRaw(JSON.stringify(parsed), 'battery-fw-tls', '2.0.0');
  const [r2] = await f.gw.updater.check();
  assert.equal(r2!.outcome, 'refused');
  assert.match(r2!.reason!, /no extKeyUsage codeSigning/);
  assert.equal(batteryFirmware(), '1.0.0');
});

test('a valid package updates the simulated battery\'s firmware and the aggregator sees the new version', async () => {
  const text = firmwarePackage('2.0.0', f.signer);
  const { openPackage } = await import('../../../src/endpoints/openadr/update-package.js');
  const verified = openPackage(text, { cas: (await f.world.material('agg')).caCerts, signer: { role: 'aggregator', id: 'AGG1' } });
  f.offers.publish(verified, text);
  const results = await f.gw.updater.check();
  assert.deepEqual(results.map((r) => [r.deviceId, r.outcome, r.previousVersion, r.installedVersion]), [[f.battery, 'applied', '1.0.0', '2.0.0']]);
  assert.equal(batteryFirmware(), '2.0.0');
  const actions = f.audit.records.filter((r) => r.target === f.battery || String(r.target).startsWith('battery-fw@2.0.0')).map((r) => r.action);
  for (const a of ['gateway.update.offered', 'gateway.update.downloaded', 'gateway.update.verified', 'gateway.update.apply', 'gateway.update.applied']) assert.ok(actions.includes(a), `${a} audited (have ${actions.join(', ')})`);
  await waitFor('the aggregator\'s inventory shows firmware 2.0.0', async () => (await aggregatorSees(f.battery)) === '2.0.0', 20_000);
  await waitFor('applied result at the aggregator', () => f.offers.results().find((r) => r.outcome === 'applied' && r.deviceId === f.battery));
  // Offered again: already handled, nothing happens.
  assert.deepEqual(await f.gw.updater.check(), []);
});

test('a downgrade is refused and the device keeps its version', async () => {
  offerRaw(firmwarePackage('1.5.0', f.signer), 'battery-fw', '1.5.0');
  const [r] = await f.gw.updater.check();
  assert.equal(r!.outcome, 'refused');
  assert.match(r!.reason!, /downgrade refused: .* runs 2\.0\.0, the package is 1\.5\.0/);
  assert.equal(batteryFirmware(), '2.0.0');
});

test('a firmware that fails its health check is rolled back to the previous version', async () => {
  offerRaw(firmwarePackage('3.0.0', f.signer), 'battery-fw', '3.0.0');
  const [r] = await f.gw.updater.check();
  assert.equal(r!.outcome, 'rolled-back', r!.reason);
  assert.match(r!.reason!, /fault/);
  assert.equal(batteryFirmware(), '2.0.0');
  assert.equal(fault(), 'noFault');
  const actions = f.audit.records.filter((x) => x.target === f.battery).map((x) => x.action);
  assert.ok(actions.includes('gateway.update.health_check_failed'));
  assert.ok(actions.includes('gateway.update.rolled_back'));
  await waitFor('rolled-back result at the aggregator', () => f.offers.results().find((x) => x.outcome === 'rolled-back'));
});

test('a configuration package replaces the managed file atomically; an invalid one is rolled back; an older one refused', async () => {
  const file = f.gw.config.updates.configFile!;
  const base = { gatewayId: 'GW1', tls: f.world.tlsFiles('gwCert'), aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:8444', certificateFile: f.world.get('agg').files.certFile } };
  const target: UpdateTarget = { kind: 'config', gatewayIds: ['GW1'] };
  offerRaw(configPackage('1', { ...base, groups: ['tokyo'] }), 'gw-config', '1', target);
  const [r1] = await f.gw.updater.check();
  assert.equal(r1!.outcome, 'applied', r1!.reason);
  assert.deepEqual((JSON.parse(readFileSync(file, 'utf8')) as { groups: string[] }).groups, ['tokyo']);

  // A configuration for another gateway fails the health check: the previous file is back.
  offerRaw(configPackage('2', { ...base, gatewayId: 'GW9' }), 'gw-config', '2', target);
  const [r2] = await f.gw.updater.check();
  assert.equal(r2!.outcome, 'rolled-back');
  assert.match(r2!.reason!, /for gateway GW9, not GW1/);
  assert.deepEqual((JSON.parse(readFileSync(file, 'utf8')) as { groups: string[] }).groups, ['tokyo']);

  offerRaw(configPackage('0.9', { ...base, groups: ['old'] }), 'gw-config', '0.9', target);
  const [r3] = await f.gw.updater.check();
  assert.equal(r3!.outcome, 'refused');
  assert.match(r3!.reason!, /downgrade refused: configuration 1 is installed/);
  assert.deepEqual((JSON.parse(readFileSync(file, 'utf8')) as { groups: string[] }).groups, ['tokyo']);
});

/** A small erab release: package.json, a launcher that answers --version, one nested file. */
function softwarePackage(version: string, opts: { healthy?: boolean; packageVersion?: string } = {}): string {
  const launcher = opts.healthy === false
    ? "process.stderr.write('cannot start: missing module\\n'); process.exit(1);\n"
    : "const { readFileSync } = require('node:fs'); const { join } = require('node:path');\nif (process.argv[2] === '--version') console.log(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version);\n";
  const files = new Map([
    ['package.json', Buffer.from(JSON.stringify({ name: 'erab', version: opts.packageVersion ?? version }))],
    ['bin/erab.js', Buffer.from(`#!/usr/bin/env node\n${launcher}`)],
    ['dist/src/cli/main.js', Buffer.from(`// erab ${version}\n`)],
  ]);
  return signPackage(buildManifest({ packageId: 'erab-gateway', version, target: { kind: 'software', gatewayIds: ['GW1'] } }, files), files, { certPem: f.signer.certPem, keyPem: f.signer.keyPem });
}

const SOFTWARE: UpdateTarget = { kind: 'software', gatewayIds: ['GW1'] };

test('a gateway software package: staged, checked by running it, made current and the gateway restarts into it; tampered, downgraded or unhealthy ones change nothing', async () => {
  const dir = f.gw.config.updates.softwareDir!;
  const current = () => (existsSync(join(dir, 'current')) ? readlinkSync(join(dir, 'current')) : undefined);
  // Tampered: one byte of the launcher changed after signing.
  const tampered = JSON.parse(softwarePackage('0.2.0')) as { files: Record<string, string> };
  tampered.files['bin/erab.js'] = Buffer.from(`${Buffer.from(tampered.files['bin/erab.js']!, 'base64').toString()}require('node:child_process');\n`).toString('base64');
  offerRaw(JSON.stringify(tampered), 'erab-gateway', '0.2.0', SOFTWARE);
  const [t] = await f.gw.updater.check();
  assert.equal(t!.outcome, 'refused');
  assert.match(t!.reason!, /bin\/erab\.js/);
  assert.equal(current(), undefined, 'nothing installed');
  assert.ok(!existsSync(join(dir, 'releases', '0.2.0')));

  // Older than the erab this process runs (0.1.0 from package.json): a downgrade.
  offerRaw(softwarePackage('0.0.9'), 'erab-gateway', '0.0.9', SOFTWARE);
  const [d] = await f.gw.updater.check();
  assert.equal(d!.outcome, 'refused');
  assert.match(d!.reason!, /downgrade refused: erab 0\.1\.0 is installed, the package is 0\.0\.9/);

  // A package whose package.json names another version than the signed manifest.
  offerRaw(softwarePackage('0.2.0', { packageVersion: '9.9.9' }), 'erab-gateway', '0.2.0', SOFTWARE);
  const [w] = await f.gw.updater.check();
  assert.equal(w!.outcome, 'refused');
  assert.match(w!.reason!, /package\.json at the package's version \(0\.2\.0\)/);

  // A real apply: the release on disk, current switched, the restart asked for, the aggregator told.
  offerRaw(softwarePackage('0.2.0'), 'erab-gateway', '0.2.0', SOFTWARE);
  const [a] = await f.gw.updater.check();
  assert.equal(a!.outcome, 'applied', a!.reason);
  assert.deepEqual([a!.previousVersion, a!.installedVersion], ['0.1.0', '0.2.0']);
  assert.equal(current(), join('releases', '0.2.0'));
  assert.equal(readFileSync(join(dir, 'current', 'dist', 'src', 'cli', 'main.js'), 'utf8'), '// erab 0.2.0\n');
  assert.deepEqual(restarts, ['0.2.0']);
  assert.equal(pendingRelease(dir)?.version, '0.2.0');
  await waitFor('applied software result at the aggregator', () => f.offers.results().find((x) => x.packageId === 'erab-gateway' && x.outcome === 'applied'));

  // Downgrade below the installed release, and a release that does not start: current stays 0.2.0.
  offerRaw(softwarePackage('0.1.5'), 'erab-gateway', '0.1.5', SOFTWARE);
  const [d2] = await f.gw.updater.check();
  assert.match(d2!.reason!, /downgrade refused: erab 0\.2\.0 is installed/);
  offerRaw(softwarePackage('0.3.0', { healthy: false }), 'erab-gateway', '0.3.0', SOFTWARE);
  const [u] = await f.gw.updater.check();
  assert.equal(u!.outcome, 'rolled-back');
  assert.match(u!.reason!, /not healthy: bin\/erab\.js --version failed/);
  assert.equal(current(), join('releases', '0.2.0'));
  assert.ok(!existsSync(join(dir, 'releases', '0.3.0')), 'the unhealthy release is removed');
  assert.deepEqual(restarts, ['0.2.0'], 'no restart for a refused or rolled-back package');
  const actions = f.audit.records.filter((x) => x.target === `software:${dir}`).map((x) => x.action);
  for (const a of ['gateway.update.apply', 'gateway.update.applied', 'gateway.update.health_check_failed', 'gateway.update.rolled_back']) assert.ok(actions.includes(a), a);

  // After the restart the new release confirms itself; a launcher can roll back to the one before.
  assert.equal(confirmRelease(dir, '0.1.0'), 'not-running');
  assert.equal(confirmRelease(dir, '0.2.0'), 'confirmed');
  assert.equal(pendingRelease(dir), undefined);
  offerRaw(softwarePackage('0.4.0'), 'erab-gateway', '0.4.0', SOFTWARE);
  assert.equal((await f.gw.updater.check())[0]!.outcome, 'applied');
  assert.equal(rollbackRelease(dir), '0.2.0');
  assert.equal(current(), join('releases', '0.2.0'));
});

test('a package file name that climbs out of the release folder is refused before anything is signed or written', () => {
  for (const name of ['../evil.js', 'bin/../../evil.js', '/etc/passwd', 'bin//x', '.hidden']) {
    assert.throws(() => buildManifest({ packageId: 'erab-gateway', version: '1.0.0', target: SOFTWARE }, new Map([[name, Buffer.from('x')]])), /relative path of plain names/, name);
  }
});
