/**
 * `erab pki issue --p12`: a PKCS#12 file an operator imports into a browser. Checked with the
 * tools that will read it: Debian's `openssl pkcs12` (the right passphrase yields the same
 * certificate and key, a wrong one fails) and Node's TLS client (`pfx`), which presents it to a
 * mutual-TLS listener of our PKI. The passphrase never appears on the command line or in output.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createSecureContext } from 'node:tls';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { loadTlsMaterial } from '../../src/security/tls.js';
import { ERAB_BIN } from '../repo.js';
import { request, startEchoServer } from '../security/tls-helpers.js';

interface Run { code: number; stdout: string; stderr: string }

function erab(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ERAB_NODE_TUNING: 'off', ...env };
    delete childEnv.ERAB_CA_PASSPHRASE;
    if (!('ERAB_P12_PASSPHRASE' in env)) delete childEnv.ERAB_P12_PASSPHRASE;
    execFile(process.execPath, [ERAB_BIN, ...args], { env: childEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `openssl pkcs12 -in file -nodes` with the passphrase from a file (never argv). */
function opensslPkcs12(file: string, passFile: string, extra: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('openssl', ['pkcs12', '-in', file, '-passin', `file:${passFile}`, '-nodes', ...extra], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('erab pki issue --p12', () => {
  let root: string;
  let dir: string;
  const PASS = 'correct horse battery staple';
  let passFile: string;
  const issued = (role: string, id: string) => join(dir, 'issued', `${role}-${id}`);

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'erab-p12-'));
    dir = join(root, 'pki');
    passFile = join(root, 'p12-pass');
    writeFileSync(passFile, `${PASS}\n`, { mode: 0o600 });
    const init = await erab(['pki', 'init', '--dir', dir]);
    assert.equal(init.code, 0, init.stderr);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes a 0600 PKCS#12 that openssl opens with the passphrase, holding the same certificate and key', async () => {
    const p12 = join(root, 'alice.p12');
    const r = await erab(['pki', 'issue', '--dir', dir, '--role', 'operator', '--id', 'alice', '--p12', p12, '--p12-passphrase-file', passFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /PKCS#12\s+.*alice\.p12/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(PASS), 'the passphrase is not printed');
    assert.equal(statSync(p12).mode & 0o777, 0o600);

    const certs = opensslPkcs12(p12, passFile, ['-nokeys', '-clcerts']);
    assert.equal(certs.status, 0, certs.stderr);
    const fromP12 = new X509Certificate(certs.stdout.slice(certs.stdout.indexOf('-----BEGIN CERTIFICATE-----')));
    const issuedCert = new X509Certificate(readFileSync(join(issued('operator', 'alice'), 'cert.pem')));
    assert.ok(fromP12.raw.equals(issuedCert.raw), 'the same certificate');
    assert.match(certs.stdout, /friendlyName: erab operator alice/);

    const keys = opensslPkcs12(p12, passFile, ['-nocerts']);
    assert.equal(keys.status, 0, keys.stderr);
    const der = (pem: string | Buffer) => createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
    const keyPem = keys.stdout.slice(keys.stdout.indexOf('-----BEGIN PRIVATE KEY-----'));
    assert.ok(der(keyPem).equals(der(readFileSync(join(issued('operator', 'alice'), 'key.pem')))), 'the same private key');

    const cacerts = opensslPkcs12(p12, passFile, ['-nokeys', '-cacerts']);
    assert.equal(cacerts.status, 0, cacerts.stderr);
    const ca = new X509Certificate(readFileSync(join(dir, 'ca', 'ca.crt')));
    assert.ok(new X509Certificate(cacerts.stdout.slice(cacerts.stdout.indexOf('-----BEGIN CERTIFICATE-----'))).raw.equals(ca.raw), 'the CA travels with it');

    const wrong = join(root, 'wrong-pass');
    writeFileSync(wrong, 'not the passphrase\n');
    const refused = opensslPkcs12(p12, wrong, ['-nokeys']);
    assert.notEqual(refused.status, 0, 'a wrong passphrase fails');
    assert.match(refused.stderr, /mac verify|invalid password|error/i);
  });

  it('is accepted by a mutual-TLS listener when a client presents it (as a browser would)', async () => {
    const p12 = join(root, 'bob.p12');
    const r = await erab(['pki', 'issue', '--dir', dir, '--role', 'operator', '--id', 'bob', '--p12', p12], { ERAB_P12_PASSPHRASE: PASS });
    assert.equal(r.code, 0, r.stderr);
    const server = await erab(['pki', 'issue', '--dir', dir, '--role', 'aggregator', '--id', 'AGG1']);
    assert.equal(server.code, 0, server.stderr);
    const srv = await startEchoServer({
      material: await loadTlsMaterial({ certFile: join(issued('aggregator', 'AGG1'), 'cert.pem'), keyFile: join(issued('aggregator', 'AGG1'), 'key.pem'), caFile: join(dir, 'ca', 'ca.crt') }),
      profile: 'R4', audit: new MemoryAuditSink(), allowList: { roles: ['operator'] },
    });
    try {
      const ok = await request(srv.port, { pfx: readFileSync(p12), passphrase: PASS, ca: readFileSync(join(dir, 'ca', 'ca.crt')) });
      assert.equal(ok.status, 200, ok.error);
      assert.deepEqual({ ...(JSON.parse(ok.body!) as { role: string; id: string }) }.id, 'bob');
      assert.throws(() => createSecureContext({ pfx: readFileSync(p12), passphrase: 'wrong passphrase' }), /mac verify failure|bad decrypt|password/i, 'a wrong passphrase does not open it');
    } finally {
      await srv.close();
    }
  });

  it('refuses to write one without a passphrase, or with a short one, and issues nothing then', async () => {
    const p12 = join(root, 'carol.p12');
    const none = await erab(['pki', 'issue', '--dir', dir, '--role', 'operator', '--id', 'carol', '--p12', p12]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /passphrase/);
    assert.equal(existsSync(issued('operator', 'carol')), false, 'no certificate issued');
    assert.equal(existsSync(p12), false);

    const short = join(root, 'short');
    writeFileSync(short, 'abc\n');
    const tooShort = await erab(['pki', 'issue', '--dir', dir, '--role', 'operator', '--id', 'carol', '--p12', p12, '--p12-passphrase-file', short]);
    assert.equal(tooShort.code, 1);
    assert.match(tooShort.stderr, /at least 8 characters/);
    assert.equal(existsSync(issued('operator', 'carol')), false, 'no certificate issued');
  });

  it('erab pki p12 exports the current certificate of a participant, and refuses a revoked one', async () => {
    const out = join(root, 'alice-again.p12');
    writeFileSync(out, 'old content', { mode: 0o644 });
    const r = await erab(['pki', 'p12', '--dir', dir, '--id', 'alice', '--out', out], { ERAB_P12_PASSPHRASE: PASS });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600, 'an existing file is made private too');
    const certs = opensslPkcs12(out, passFile, ['-nokeys', '-clcerts']);
    assert.equal(certs.status, 0, certs.stderr);
    const fromP12 = new X509Certificate(certs.stdout.slice(certs.stdout.indexOf('-----BEGIN CERTIFICATE-----')));
    assert.ok(fromP12.raw.equals(new X509Certificate(readFileSync(join(issued('operator', 'alice'), 'cert.pem'))).raw));

    const nobody = await erab(['pki', 'p12', '--dir', dir, '--id', 'nobody', '--out', join(root, 'nobody.p12')], { ERAB_P12_PASSPHRASE: PASS });
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /no TLS certificate of operator nobody/);

    assert.equal((await erab(['pki', 'revoke', '--dir', dir, '--role', 'operator', '--id', 'alice', '--reason', 'keyCompromise'])).code, 0);
    const revoked = await erab(['pki', 'p12', '--dir', dir, '--id', 'alice', '--out', join(root, 'revoked.p12')], { ERAB_P12_PASSPHRASE: PASS });
    assert.equal(revoked.code, 1);
    assert.match(revoked.stderr, /is revoked/);
    assert.equal(existsSync(join(root, 'revoked.p12')), false);
  });
});
