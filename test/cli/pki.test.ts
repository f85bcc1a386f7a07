/**
 * `erab pki` as an operator runs it: a separate process, exit codes (0 ok, 1 failure, 2 usage),
 * files it writes, and certificates it makes used across a real mutual-TLS connection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { clientTlsOptions, loadTlsMaterial } from '../../src/security/tls.js';
import { request, startEchoServer } from '../security/tls-helpers.js';

const mainJs = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const runner = `import(${JSON.stringify(mainJs)}).then((m) => m.main(['node', 'erab', ...process.argv.slice(1)])).then((c) => { process.exitCode = c; });`;

interface Run { code: number; stdout: string; stderr: string }

/** Runs `erab <args>` in a child process. */
function erab(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
    execFile(process.execPath, ['--input-type=module', '-e', runner, '--', ...args], { env: childEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('erab pki (CLI)', () => {
  let root: string;
  let dir: string;
  let passFile: string;
  const noPass = { ERAB_CA_PASSPHRASE: undefined };

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'erab-cli-pki-'));
    dir = join(root, 'pki');
    passFile = join(root, 'pass.txt');
    writeFileSync(passFile, 's3cret passphrase\n', { mode: 0o600 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('--help works on the group and on every command', async () => {
    const group = await erab(['pki', '--help']);
    assert.equal(group.code, 0);
    for (const sub of ['init', 'issue', 'revoke', 'crl', 'list', 'rotate']) {
      assert.match(group.stdout, new RegExp(`\\b${sub}\\b`));
      const r = await erab(['pki', sub, '--help']);
      assert.equal(r.code, 0, `${sub} --help`);
      assert.match(r.stdout, /--dir/);
    }
  });

  it('init creates a passphrase-protected CA (exit 0)', async () => {
    const r = await erab(['pki', 'init', '--dir', dir, '--passphrase-file', passFile], noPass);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(encrypted\)/);
    assert.match(readFileSync(join(dir, 'ca', 'ca.key'), 'utf8'), /ENCRYPTED PRIVATE KEY/);
    assert.equal(statSync(join(dir, 'ca', 'ca.key')).mode & 0o777, 0o600);
    const again = await erab(['pki', 'init', '--dir', dir, '--passphrase-file', passFile], noPass);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  });

  it('issue writes a 0600 key, prints the fingerprint and never the key', async () => {
    for (const [role, id, alg] of [['tso', 'TSO1', 'ec'], ['aggregator', 'AGG1', 'rsa'], ['aggregator', 'AGG2', 'ec']] as const) {
      const r = await erab(['pki', 'issue', '--dir', dir, '--role', role, '--id', id, '--algorithm', alg], { ERAB_CA_PASSPHRASE: 's3cret passphrase' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /fingerprint\s+([0-9A-F]{2}:){9}[0-9A-F]{2}/);
      assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY|s3cret/);
      assert.equal(statSync(join(dir, 'issued', `${role}-${id}`, 'key.pem')).mode & 0o777, 0o600);
    }
  });

  it('a wrong or missing passphrase fails with exit 1 and a clear message', async () => {
    const wrong = await erab(['pki', 'issue', '--dir', dir, '--role', 'gateway', '--id', 'GW1'], { ERAB_CA_PASSPHRASE: 'nope' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /ca\.key: wrong passphrase/);
    const none = await erab(['pki', 'issue', '--dir', dir, '--role', 'gateway', '--id', 'GW1'], noPass);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /passphrase is required/);
  });

  it('usage errors exit 2', async () => {
    const cases: string[][] = [
      ['pki', 'issue', '--dir', dir, '--role', 'tso'],                       // no --id
      ['pki', 'issue', '--dir', dir, '--role', 'king', '--id', 'X'],         // bad role
      ['pki', 'issue', '--dir', dir, '--role', 'tso', '--id', 'bad id'],     // bad id
      ['pki', 'issue', '--dir', dir, '--role', 'tso', '--id', 'T', '--days', 'ten'],
      ['pki', 'issue', '--dir', dir, '--role', 'tso', '--id', 'T', '--algorithm', 'dsa'],
      ['pki', 'revoke', '--dir', dir],                                       // no target
      ['pki', 'revoke', '--dir', dir, '--serial', 'AB', '--role', 'tso', '--id', 'T'],
      ['pki', 'revoke', '--dir', dir, '--serial', 'AB', '--reason', 'boredom'],
      ['pki', 'nosuchcommand'],
    ];
    for (const args of cases) {
      const r = await erab(args, { ERAB_CA_PASSPHRASE: 's3cret passphrase' });
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
    }
  });

  it('failures exit 1: duplicate issue, unknown serial, missing PKI', async () => {
    const env = { ERAB_CA_PASSPHRASE: 's3cret passphrase' };
    assert.equal((await erab(['pki', 'issue', '--dir', dir, '--role', 'tso', '--id', 'TSO1'], env)).code, 1);
    assert.equal((await erab(['pki', 'revoke', '--dir', dir, '--serial', 'ABCDEF'], env)).code, 1);
    const missing = await erab(['pki', 'list', '--dir', join(root, 'none')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /erab pki init/);
  });

  it('list, revoke, crl and rotate', async () => {
    const env = { ERAB_CA_PASSPHRASE: 's3cret passphrase' };
    const listed = await erab(['pki', 'list', '--dir', dir, '--json']);
    assert.equal(listed.code, 0);
    const rows = JSON.parse(listed.stdout) as { serial: string; role: string; id: string; fingerprint: string; notAfter: string; status: string }[];
    assert.deepEqual(rows.map((r) => `${r.role}:${r.id}:${r.status}`), ['tso:TSO1:valid', 'aggregator:AGG1:valid', 'aggregator:AGG2:valid']);
    const table = await erab(['pki', 'list', '--dir', dir]);
    assert.match(table.stdout, /^SERIAL\s+ROLE\s+ID\s+ALG\s+FINGERPRINT\s+NOT AFTER\s+STATUS/);
    assert.ok(table.stdout.includes(rows[0]!.fingerprint));

    const agg2 = rows[2]!;
    const rev = await erab(['pki', 'revoke', '--dir', dir, '--serial', agg2.serial, '--reason', 'keyCompromise'], env);
    assert.equal(rev.code, 0, rev.stderr);
    const crl = await erab(['pki', 'crl', '--dir', dir, '--passphrase-file', passFile], { ERAB_CA_PASSPHRASE: undefined });
    assert.equal(crl.code, 0, crl.stderr);
    assert.match(crl.stdout, /1 revoked certificate/);

    const rot = await erab(['pki', 'rotate', '--dir', dir, '--role', 'aggregator', '--id', 'AGG1'], env);
    assert.equal(rot.code, 0, rot.stderr);
    assert.match(rot.stdout, new RegExp(`revoked\\s+${rows[1]!.serial} \\(superseded\\)`));
    const after = JSON.parse((await erab(['pki', 'list', '--dir', dir, '--json'])).stdout) as typeof rows;
    assert.deepEqual(after.map((r) => `${r.id}:${r.status}`), ['TSO1:valid', 'AGG1:revoked', 'AGG2:revoked', 'AGG1:valid']);
  });

  it('certificates made by erab pki work across a real mutual-TLS connection, and its CRL refuses the revoked one', async () => {
    const files = (role: string, id: string) => ({
      certFile: join(dir, 'issued', `${role}-${id}`, 'cert.pem'),
      keyFile: join(dir, 'issued', `${role}-${id}`, 'key.pem'),
      caFile: join(dir, 'ca', 'ca.crt'),
      crlFile: join(dir, 'crl.pem'),
    });
    const audit = new MemoryAuditSink();
    const srv = await startEchoServer({
      material: await loadTlsMaterial(files('tso', 'TSO1')), profile: 'R1', audit,
      allowList: { roles: ['aggregator'] },
    });
    try {
      const ok = await request(srv.port, clientTlsOptions(await loadTlsMaterial(files('aggregator', 'AGG1')), 'R1', { expect: { role: 'tso', id: 'TSO1' } }));
      assert.equal(ok.status, 200, ok.error);
      assert.equal((JSON.parse(ok.body!) as { id: string }).id, 'AGG1');
      // AGG2 was revoked by `erab pki revoke` above: its own files still load, the VTN refuses it.
      const revoked = await loadTlsMaterial(files('aggregator', 'AGG2'));
      const out = await request(srv.port, clientTlsOptions(revoked, 'R1'));
      assert.equal(out.status, undefined);
      const rec = audit.records.find((r) => r.action === 'tls.refused');
      assert.equal(rec?.details?.code, 'revoked');
      assert.equal(rec?.actor.fingerprint, revoked.identity.fingerprint);
    } finally {
      await srv.close();
    }
  });
});
