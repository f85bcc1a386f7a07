/**
 * erab's own integrity at start (自家用GL 7-1): an installed copy of erab (bin/, dist/src,
 * package.json, copied from this build) gets a signed release manifest with `erab release
 * manifest`; a role started from it (`erab gateway run`, a real process) checks its files first.
 * A modified file stops it with an error naming the file; the override starts it and leaves an
 * audit record; a tree without a manifest (a development checkout) starts and says it did not check.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readRecords } from '../../../src/security/audit/export.js';
import type { StoredCertificate } from '../../../src/security/pki/store.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

const REPO = resolve('.');
let world: PkiWorld;
let install: string;
let signer: StoredCertificate;

function erab(root: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'erab.js'), ...args], {
      cwd: world.dir, env: { ...process.env, ERAB_NODE_TUNING: 'off', ERAB_ALLOW_MODIFIED_CODE: '', ERAB_ALLOW_MODIFIED_CODE_REASON: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', fail);
    child.on('close', (code) => { clearTimeout(timer); done({ code: code ?? -1, stdout, stderr }); });
  });
}

/** Copies this build as an installed package would be laid out. */
function installCopy(name: string): string {
  const root = join(world.dir, name);
  cpSync(join(REPO, 'bin'), join(root, 'bin'), { recursive: true });
  cpSync(join(REPO, 'dist', 'src'), join(root, 'dist', 'src'), { recursive: true, filter: (s) => !s.endsWith('.map') && !s.endsWith('.d.ts') });
  cpSync(join(REPO, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

before(async () => {
  world = await pkiWorld({}, { prefix: 'erab-release-' });
  signer = await world.store.issue({ role: 'operator', id: 'release', usage: 'code-signing' });
  install = installCopy('installed');
  const r = await erab(install, ['release', 'manifest', '--root', install, '--sign-cert', signer.files.certFile, '--sign-key', signer.files.keyFile, '--ship-ca', world.caFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(install, 'dist', 'release-manifest.json')));
  writeFileSync(join(world.dir, 'bad-config.json'), '{}');
});

after(() => world?.close());

test('an intact installed release passes its check and the role goes on to read its configuration', async () => {
  const v = await erab(install, ['release', 'verify', '--root', install]);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /intact: erab .*signed by operator:release/);
  const r = await erab(install, ['gateway', 'run', '--config', 'bad-config.json']);
  assert.match(r.stderr, /code integrity verified/);
  assert.match(r.stderr, /gatewayId/, 'stopped by its configuration, not by the integrity check');
});

test('a modified installed file stops a role at start, naming the file', async () => {
  const modified = join(install, 'dist', 'src', 'roles', 'gateway', 'policy.js');
  appendFileSync(modified, '\n// patched in the field\n');
  const r = await erab(install, ['gateway', 'run', '--config', 'bad-config.json']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /modified code: dist\/src\/roles\/gateway\/policy\.js does not match the signed release manifest/);
  assert.doesNotMatch(r.stderr, /gatewayId/, 'the configuration was never read');
  // An added file counts too.
  writeFileSync(join(install, 'dist', 'src', 'backdoor.js'), 'export {};\n');
  const r2 = await erab(install, ['tso', 'run', '--config', 'bad-config.json']);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /and 1 more file/);
});

test('the override starts the modified role and leaves an audit record with the reason', async () => {
  const auditDir = join(world.dir, 'integrity-audit');
  const noReason = await erab(install, ['gateway', 'run', '--config', 'bad-config.json'], { ERAB_ALLOW_MODIFIED_CODE: '1', ERAB_INTEGRITY_AUDIT_DIR: auditDir });
  assert.match(noReason.stderr, /modified code/, 'the override needs a reason');
  const r = await erab(install, ['gateway', 'run', '--config', 'bad-config.json'], {
    ERAB_ALLOW_MODIFIED_CODE: '1', ERAB_ALLOW_MODIFIED_CODE_REASON: 'vendor hotfix ticket 42', ERAB_INTEGRITY_AUDIT_DIR: auditDir,
  });
  assert.match(r.stderr, /MODIFIED CODE started under the audited override/);
  assert.match(r.stderr, /gatewayId/, 'it went on to its configuration');
  const records = [...readRecords(auditDir)].map((l) => l.record!);
  const rec = records.find((x) => x.action === 'release.integrity.override');
  assert.ok(rec, 'override audited');
  assert.equal(rec.reason, 'vendor hotfix ticket 42');
  assert.equal(rec.target, 'gateway run');
  assert.ok((rec.details as { modified: string[] }).modified.includes('dist/src/roles/gateway/policy.js'));
});

test('without a release manifest (a development checkout) a role starts and logs that integrity was not checked', async () => {
  const dev = installCopy('checkout');
  const r = await erab(dev, ['gateway', 'run', '--config', 'bad-config.json']);
  assert.match(r.stderr, /code integrity was NOT checked/);
  assert.match(r.stderr, /gatewayId/);
});
