/**
 * `erab gateway run --config <file>` as a real process: it starts, says it is ready, registers
 * with the aggregator's VTN over mutual TLS, and on SIGTERM stops cleanly (exit 0) with its
 * tamper-evident audit log closed. And a signed software package offered over R4 becomes the
 * current release, and the process stops and exits 75 so its launcher starts it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { openStore } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { main } from '../../../src/cli/main.js';
import { pkiWorld, waitFor } from '../../kit/index.js';
import { UpdateOffers } from '../../../src/endpoints/openadr/update-offers.js';
import { buildManifest, signPackage } from '../../../src/endpoints/openadr/update-package.js';
import { verifyPackageFile } from '../../../src/secops/updates/packaging.js';
import { SOFTWARE_RESTART_EXIT_CODE } from '../../../src/cli/commands/gateway.js';

const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;

/** `erab gateway run --config <file>` as a child process, its output collected. */
function gatewayRun(config: string): { child: ChildProcess; exited: Promise<number | null>; out: string; err: string } {
  const mainJs = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    `import(${JSON.stringify(mainJs)}).then(async (m) => { process.exitCode = await m.main(['node', 'erab', 'gateway', 'run', '--config', ${JSON.stringify(config)}]); })`,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ERAB_LOG_LEVEL: 'warn' } });
  const run = { child, exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))), out: '', err: '' };
  child.stdout!.on('data', (c: Buffer) => { run.out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { run.err += c.toString(); });
  return run;
}

async function cleanUp(child: ChildProcess, closables: { close(): Promise<unknown> }[], dir: string): Promise<void> {
  if (child.exitCode === null) child.kill('SIGKILL');
  for (const c of closables) await c.close();
  rmSync(dir, { recursive: true, force: true });
}

test('erab gateway run: ready, registered over mutual TLS, clean stop on SIGTERM', { timeout: 120_000 }, async () => {
  const pki = await pkiWorld({}, { prefix: 'erab-gw-run-' });
  const agg = await pki.issue('agg', 'aggregator:AGG1');
  const gw = await pki.issue('gw', 'gateway:GW1');
  const store = await openStore({ url: join(pki.dir, 'vtn.db'), migrations: openadrStoreMigrations });
  const vtn = await startVtnEndpoint({
    vtnID: 'vtn-AGG1', profile: 'R4', allowList: { participants: ['gateway:GW1'] }, audit: new MemoryAuditSink(), store,
    material: await TlsMaterial.fromPem({ credentials: [{ certPem: agg.certPem, keyPem: agg.keyPem }], caPem: pki.caPem }),
    vtn: { pollFreqMs: 500 },
  });
  const site = await DeviceSite.start({ address: `${NET}.2`, serialPrefix: 'RUNA', battery: {} });
  const config = join(pki.dir, 'gateway.json');
  writeFileSync(config, JSON.stringify({
    gatewayId: 'GW1',
    database: join(pki.dir, 'gateway.db'),
    audit: { dir: join(pki.dir, 'audit') },
    tls: { certFile: gw.files.certFile, keyFile: gw.files.keyFile, caFile: pki.caFile },
    aggregator: { id: 'AGG1', vtnUrl: vtn.url, certificateFile: agg.files.certFile },
    echonet: { address: `${NET}.1`, devices: [`${NET}.2`], pollMs: 1000 },
    admission: { allowList: [{ serialNumber: 'RUNA' }] },
  }));
  const run = gatewayRun(config);
  const { child, exited } = run;
  try {
    const ready = await waitFor('ready line', () => {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${run.err}`);
      return run.out.split('\n').find((l) => l.startsWith('{"ready"'));
    }, 60_000).catch((e: Error) => { throw new Error(`${e.message}; stdout: ${run.out.slice(0, 500)}; stderr: ${run.err.slice(0, 1500)}`); });
    assert.deepEqual(JSON.parse(ready), { ready: 'gateway', gatewayId: 'GW1', devices: 2 });
    await waitFor('registration at the VTN', () => vtn.vtn.registration('GW1'), 60_000);
    assert.equal(vtn.vtn.registration('GW1')?.xmlSignature, true);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, run.err);
    // The audit log it wrote verifies.
    let verifyOut = '';
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    const capture = ((c: string | Uint8Array) => { verifyOut += String(c); return true; }) as typeof process.stdout.write;
    process.stdout.write = capture;
    process.stderr.write = capture;
    let code: number;
    try {
      code = await main(['node', 'erab', 'audit', 'verify', '--dir', join(pki.dir, 'audit')]);
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
    assert.equal(code, 0, verifyOut);
  } finally {
    await cleanUp(child, [vtn, site, store], pki.dir);
  }
});

test('erab gateway run: a signed software package offered over R4 becomes current and the process exits 75 for its launcher to start it', { timeout: 120_000 }, async () => {
  const pki = await pkiWorld({}, { prefix: 'erab-gw-sw-' });
  const agg = await pki.issue('agg', 'aggregator:AGG1');
  const gw = await pki.issue('gw', 'gateway:GW1');
  const signer = await pki.store.issue({ role: 'aggregator', id: 'AGG1', usage: 'code-signing' });
  const offers = new UpdateOffers({ dir: join(pki.dir, 'updates'), audit: new MemoryAuditSink(), aggregatorId: 'AGG1' });
  const files = new Map([
    ['package.json', Buffer.from(JSON.stringify({ name: 'erab', version: '0.2.0' }))],
    ['bin/erab.js', Buffer.from("if (process.argv[2] === '--version') console.log('0.2.0');\n")],
  ]);
  const text = signPackage(buildManifest({ packageId: 'erab-gateway', version: '0.2.0', target: { kind: 'software' } }, files), files, { certPem: signer.certPem, keyPem: signer.keyPem });
  offers.publish(await verifyPackageFile(text, { caFile: pki.caFile, aggregatorId: 'AGG1' }, 'erab-gateway-0.2.0'), text);
  const store = await openStore({ url: join(pki.dir, 'vtn.db'), migrations: openadrStoreMigrations });
  const vtn = await startVtnEndpoint({
    vtnID: 'vtn-AGG1', profile: 'R4', allowList: { participants: ['gateway:GW1'] }, audit: new MemoryAuditSink(), store,
    material: await TlsMaterial.fromPem({ credentials: [{ certPem: agg.certPem, keyPem: agg.keyPem }], caPem: pki.caPem }),
    vtn: { pollFreqMs: 500 }, routes: offers.routes(),
  });
  const site = await DeviceSite.start({ address: `${NET}.12`, serialPrefix: 'RUNB', battery: {} });
  const softwareDir = join(pki.dir, 'software');
  const config = join(pki.dir, 'gateway.json');
  writeFileSync(config, JSON.stringify({
    gatewayId: 'GW1', database: join(pki.dir, 'gateway.db'), audit: { dir: join(pki.dir, 'audit') },
    tls: { certFile: gw.files.certFile, keyFile: gw.files.keyFile, caFile: pki.caFile },
    aggregator: { id: 'AGG1', vtnUrl: vtn.url, certificateFile: agg.files.certFile },
    echonet: { address: `${NET}.11`, devices: [`${NET}.12`], pollMs: 1000 },
    admission: { allowList: [{ serialNumber: 'RUNB' }] },
    updates: { checkMs: 500, softwareDir },
  }));
  const run = gatewayRun(config);
  const { child, exited } = run;
  try {
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 90_000))]);
    assert.equal(code, SOFTWARE_RESTART_EXIT_CODE, run.err.slice(-2000));
    assert.equal(readlinkSync(join(softwareDir, 'current')), join('releases', '0.2.0'));
    assert.equal(JSON.parse(readFileSync(join(softwareDir, 'pending.json'), 'utf8')).version, '0.2.0', 'waiting for the new release to confirm itself');
    assert.deepEqual(offers.results().map((r) => [r.packageId, r.outcome, r.installedVersion]), [['erab-gateway', 'applied', '0.2.0']]);
  } finally {
    await cleanUp(child, [vtn, site, store], pki.dir);
  }
});
