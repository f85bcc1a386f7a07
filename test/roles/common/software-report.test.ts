/**
 * A role's own software (issue 13): read from the installation the process runs from (the npm
 * tree actually installed, dev dependencies left out), and the gateway's upload format refusing
 * hostile input with a message naming the field and the rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installRoot, readInstalledSoftware } from '../../../src/core/software.js';
import { MAX_SOFTWARE_REPORT_BYTES, parseSoftwareDocument, softwareDocument } from '../../../src/roles/common/software-report.js';
import { REPO_ROOT } from '../../repo.js';

test('the running installation: erab version, Node.js version and the installed npm tree without dev dependencies', async () => {
  const root = installRoot();
  assert.equal(root, REPO_ROOT);
  const r = await readInstalledSoftware(root, 'gateway');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
  assert.equal(r.erab.version, pkg.version);
  assert.equal(r.node, process.versions.node);
  const zod = JSON.parse(readFileSync(join(root, 'node_modules', 'zod', 'package.json'), 'utf8')) as { version: string };
  assert.ok(r.packages.some((p) => p.name === 'zod' && p.version === zod.version && p.purl === `pkg:npm/zod@${zod.version}`), 'zod as installed');
  assert.ok(r.erab.dependsOn.includes(`pkg:npm/zod@${zod.version}`));
  assert.ok(!r.packages.some((p) => p.name === 'typescript'), 'a dev dependency does not run in a role');
});

test('an installation with only the hidden lock file npm writes (node_modules/.package-lock.json) is read from it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-sw-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'erab', version: '3.1.4', dependencies: { a: '^1.0.0' } }));
    mkdirSync(join(dir, 'node_modules'));
    writeFileSync(join(dir, 'node_modules', '.package-lock.json'), JSON.stringify({
      name: 'erab', version: '3.1.4', lockfileVersion: 3,
      packages: { 'node_modules/a': { version: '1.2.0', dependencies: { '@s/b': '2' } }, 'node_modules/@s/b': { version: '2.0.1' }, 'node_modules/dev-only': { version: '9.0.0', dev: true } },
    }));
    const r = await readInstalledSoftware(dir, 'tso', '20.0.0');
    assert.deepEqual(r.erab, { name: 'erab', version: '3.1.4', purl: 'pkg:npm/erab@3.1.4', dependsOn: ['pkg:npm/a@1.2.0'] });
    assert.deepEqual(r.packages.map((p) => [p.purl, p.dependsOn]), [['pkg:npm/a@1.2.0', ['pkg:npm/%40s/b@2.0.1']], ['pkg:npm/%40s/b@2.0.1', []]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the upload format: built, read back, and hostile input refused naming the field and the rule', async () => {
  const doc = softwareDocument('GW1', await readInstalledSoftware(installRoot(), 'gateway'));
  assert.deepEqual(parseSoftwareDocument(JSON.stringify(doc), 'GW1'), doc);
  const refuse = (body: string, re: RegExp) => assert.throws(() => parseSoftwareDocument(body, 'GW1'), re);
  refuse('x'.repeat(MAX_SOFTWARE_REPORT_BYTES + 1), /software report from gateway "GW1": 524289 bytes, more than 524288/);
  refuse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, /software report from gateway "GW1": (\(document\): |not JSON)/);
  refuse('{"format":"erab-software/1"', /not JSON/);
  refuse(JSON.stringify({ ...doc, format: 'erab-software/2' }), /format: must be "erab-software\/1"/);
  refuse(JSON.stringify({ ...doc, node: '20; rm -rf /' }), /node: must be a semantic version/);
  refuse(JSON.stringify({ ...doc, packages: [{ name: 'Evil Name', version: '1.0.0' }] }), /packages\[0\]\.name: must be an npm package name/);
  refuse(JSON.stringify({ ...doc, packages: [{ name: 'a', version: '1.0.0', extra: 1 }] }), /packages\[0\]/);
  refuse(JSON.stringify({ ...doc, erab: { name: 'erab', version: '0.0.1' } }), /digest [0-9a-f]{64} does not match its content/);
  refuse(JSON.stringify({ ...doc, gatewayId: 'GW2' }), /names gateway "GW2" but was sent by gateway "GW1"/);
  const twice = softwareDocument('GW1', { role: 'gateway', erab: doc.erab as never, node: doc.node, packages: [] });
  const dup = { ...twice, packages: [{ name: 'a', version: '1.0.0' }, { name: 'a', version: '1.0.0' }] };
  const { createHash } = await import('node:crypto');
  const canon = JSON.stringify({ erab: { name: dup.erab.name, version: dup.erab.version }, node: dup.node, packages: dup.packages });
  refuse(JSON.stringify({ ...dup, digest: createHash('sha256').update(canon).digest('hex') }), /packages\[1\]: a@1\.0\.0 is listed twice/);
});
