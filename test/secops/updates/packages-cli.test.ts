/**
 * Code-signing certificates in the PKI and the `erab update` commands, as an operator runs them
 * (real processes): `erab pki issue --usage code-signing`, pack → sign → verify → publish, and the
 * trust rules of a package signature (own key, codeSigning only, revocation).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import { openPackage } from '../../../src/endpoints/openadr/update-package.js';
import { RevocationList } from '../../../src/security/pki/crl.js';
import { CODE_SIGNING_EKU, signDetached } from '../../../src/security/pki/code-signing.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

const BIN = resolve('bin', 'erab.js');
let world: PkiWorld;

function erab(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: world.dir, env: { ...process.env, ERAB_NODE_TUNING: 'off' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1' }, { prefix: 'erab-pkg-cli-' });
});
after(() => world?.close());

test('erab pki issue --usage code-signing makes a second key for the aggregator with extKeyUsage codeSigning only', async () => {
  const r = await erab(['pki', 'issue', '--dir', world.pkiDir, '--role', 'aggregator', '--id', 'AGG1', '--usage', 'code-signing']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /issued aggregator AGG1 \(code-signing\)/);
  const dir = join(world.pkiDir, 'issued', 'aggregator-AGG1-code-signing');
  const cert = new X509Certificate(readFileSync(join(dir, 'cert.pem')));
  assert.deepEqual(cert.keyUsage, [CODE_SIGNING_EKU]);
  assert.equal(cert.subjectAltName, 'URI:urn:erab:aggregator:AGG1', 'no host names: it cannot serve TLS');
  assert.notEqual(readFileSync(join(dir, 'key.pem'), 'utf8'), world.get('agg').keyPem, 'a key distinct from the TLS key');
  const listed = world.store.list().filter((x) => x.id === 'AGG1' && x.status === 'valid');
  assert.deepEqual(listed.map((x) => x.usage ?? 'tls').sort(), ['code-signing', 'tls']);
  // A second one is refused like a second TLS certificate; rotate replaces it.
  const again = await erab(['pki', 'issue', '--dir', world.pkiDir, '--role', 'aggregator', '--id', 'AGG1', '--usage', 'code-signing']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already holds valid code-signing certificate/);
  const rotated = await erab(['pki', 'rotate', '--dir', world.pkiDir, '--role', 'aggregator', '--id', 'AGG1', '--usage', 'code-signing']);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /rotated aggregator AGG1 \(code-signing\)/);
  assert.equal(new X509Certificate(readFileSync(join(dir, 'cert.pem'))).keyUsage?.[0], CODE_SIGNING_EKU, 'the new one is a code-signing certificate too');
  assert.equal(world.store.list().filter((x) => x.id === 'AGG1' && x.status === 'valid' && (x.usage ?? 'tls') === 'tls').length, 1, 'the TLS certificate is untouched');
});

test('signing refuses a TLS certificate, so code is never signed with the TLS key', () => {
  const agg = world.get('agg');
  assert.throws(() => signDetached(Buffer.from('x'), { certPem: agg.certPem, keyPem: agg.keyPem }, 'erab-update+jws'), /no extKeyUsage codeSigning/);
});

test('erab update pack --target software packs a release tree by relative paths; sign and verify keep every path', async () => {
  const dir = join(world.pkiDir, 'issued', 'aggregator-AGG1-code-signing');
  const tree = join(world.dir, 'release-0.2.0');
  mkdirSync(join(tree, 'bin'), { recursive: true });
  mkdirSync(join(tree, 'dist', 'src'), { recursive: true });
  writeFileSync(join(tree, 'package.json'), JSON.stringify({ name: 'erab', version: '0.2.0' }));
  writeFileSync(join(tree, 'bin', 'erab.js'), 'console.log("0.2.0");\n');
  writeFileSync(join(tree, 'dist', 'src', 'main.js'), '// main\n');
  const mixed = await erab(['update', 'pack', '--id', 'erab-gw', '--package-version', '0.2.0', '--target', 'software', '--file', 'x', '--out', 'sw.unsigned.json']);
  assert.equal(mixed.code, 2, 'a usage error');
  assert.match(mixed.stderr, /--target software packs a release folder: give --tree <dir>/);
  const pack = await erab(['update', 'pack', '--id', 'erab-gw', '--package-version', '0.2.0', '--target', 'software', '--gateway', 'GW1', '--tree', tree, '--out', 'sw.unsigned.json']);
  assert.equal(pack.code, 0, pack.stderr);
  assert.match(pack.stdout, /packed erab-gw@0\.2\.0 \(3 file\(s\), unsigned\)/);
  const sign = await erab(['update', 'sign', '--in', 'sw.unsigned.json', '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'), '--out', 'sw.erabpkg.json']);
  assert.equal(sign.code, 0, sign.stderr);
  const verify = await erab(['update', 'verify', '--in', 'sw.erabpkg.json', '--ca', world.caFile, '--aggregator', 'AGG1']);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /valid: erab-gw@0\.2\.0 for \{"kind":"software","gatewayIds":\["GW1"\]\}.*3 file\(s\)/);
  const pkg = JSON.parse(readFileSync(join(world.dir, 'sw.erabpkg.json'), 'utf8')) as { manifest: { files: { name: string }[] } };
  assert.deepEqual(pkg.manifest.files.map((x) => x.name).sort(), ['bin/erab.js', 'dist/src/main.js', 'package.json']);
});

test('pack → sign → verify → publish with the erab update commands; a revoked signer is refused afterwards', async () => {
  const dir = join(world.pkiDir, 'issued', 'aggregator-AGG1-code-signing');
  writeFileSync(join(world.dir, 'firmware.bin'), 'battery firmware 2.0.0');
  const pack = await erab(['update', 'pack', '--id', 'battery-fw', '--package-version', '2.0.0', '--target', 'device', '--class', 'battery', '--maker', 'fffffe', '--file', 'firmware.bin', '--out', 'fw.unsigned.json']);
  assert.equal(pack.code, 0, pack.stderr);
  const sign = await erab(['update', 'sign', '--in', 'fw.unsigned.json', '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'), '--out', 'fw.erabpkg.json']);
  assert.equal(sign.code, 0, sign.stderr);
  const verify = await erab(['update', 'verify', '--in', 'fw.erabpkg.json', '--ca', world.caFile, '--crl', world.crlFile, '--aggregator', 'AGG1']);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /valid: battery-fw@2\.0\.0 .*"makerCode":"FFFFFE".*signed by aggregator:AGG1/);
  const wrong = await erab(['update', 'verify', '--in', 'fw.erabpkg.json', '--ca', world.caFile, '--aggregator', 'AGG2']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /signed by aggregator:AGG1, not by aggregator:AGG2/);
  const publish = await erab(['update', 'publish', '--in', 'fw.erabpkg.json', '--dir', 'updates', '--ca', world.caFile, '--crl', world.crlFile, '--aggregator', 'AGG1', '--gateway', 'GW1']);
  assert.equal(publish.code, 0, publish.stderr);
  const offers = JSON.parse(readFileSync(join(world.dir, 'updates', 'offers.json'), 'utf8')) as { offers: { packageId: string; gateways: string[] }[] };
  assert.deepEqual(offers.offers.map((o) => [o.packageId, o.gateways]), [['battery-fw', ['GW1']]]);

  // The signing key is compromised: revoked, the same package no longer verifies.
  const serial = world.store.list().find((x) => x.usage === 'code-signing' && x.status === 'valid')!.serial;
  await world.store.revoke({ serial }, 'keyCompromise');
  const cas = [new X509Certificate(world.caPem)];
  const crl = await RevocationList.fromFile(world.crlFile, cas);
  assert.throws(() => openPackage(readFileSync(join(world.dir, 'fw.erabpkg.json'), 'utf8'), { cas, crl, signer: { role: 'aggregator', id: 'AGG1' } }), /is revoked \(keyCompromise\)/);
});
