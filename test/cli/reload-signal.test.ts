/**
 * SIGHUP asks a long-running `erab` process to reload, never to stop: a real `erab openadr vtn`
 * (spawned through bin/erab.js, as a user runs it) reloads its CRL and certificate on SIGHUP, keeps
 * serving, audits the reload, and then refuses a peer the reloaded CRL revokes. `erab device site`
 * (no TLS) survives SIGHUP too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { PkiStore, StoredCertificate } from '../../src/security/pki/index.js';
import { clientTlsOptions, loadTlsMaterial } from '../../src/security/tls.js';
import { request } from '../security/tls-helpers.js';
import { ERAB_BIN } from '../repo.js';
import { pkiWorld, waitFor, type PkiWorld } from '../kit/index.js';

type Proc = ChildProcess & { out: string; err: string };

function erab(args: string[]): Proc {
  const p = spawn(process.execPath, [ERAB_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ERAB_LOG_LEVEL: 'info' } }) as Proc;
  p.out = '';
  p.err = '';
  p.stdout?.on('data', (d: Buffer) => { p.out += d.toString(); });
  p.stderr?.on('data', (d: Buffer) => { p.err += d.toString(); });
  return p;
}

/** The kit's waitFor on process `p`: gives up when it exits, and shows the tail of its output. */
const until = (what: string, cond: () => boolean, p: Proc, ms = 60_000): Promise<unknown> => waitFor(cond, {
  what, timeoutMs: ms, intervalMs: 50,
  failIf: () => (p.exitCode !== null || p.signalCode !== null) && `exit ${p.exitCode} ${p.signalCode ?? ''}`,
  context: () => (p.out + p.err).slice(-4000),
});

const exited = (p: ChildProcess): Promise<number | null> => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(p.exitCode) : p.once('exit', (c) => r(c))));

let world: PkiWorld<'vtn' | 'agg'>;
let pki: PkiStore;
let vtn: StoredCertificate;
let agg: StoredCertificate;

before(async () => {
  world = await pkiWorld({ vtn: 'tso:TSO1', agg: 'aggregator:AGG1' }, { prefix: 'erab-sighup-' });
  pki = world.store;
  ({ vtn, agg } = world.certs);
});
after(() => world?.close());

test('SIGHUP to erab openadr vtn reloads (audited) instead of exiting; erab pki revoke takes effect without a restart', async () => {
  const f = vtn.files;
  const p = erab(['openadr', 'vtn', '--cert', f.certFile, '--key', f.keyFile, '--ca', f.caFile, '--crl', f.crlFile,
    '--listen', '127.0.0.1:0', '--store', ':memory:', '--vtn-id', 'TSO1', '--allow', 'aggregator:AGG1']);
  try {
    await until('VTN listening', () => /listening on https:\/\/127\.0\.0\.1:\d+/.test(p.out), p);
    const port = Number(/listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(p.out)![1]);

    p.kill('SIGHUP');
    await until('reload audited', () => /"audit":"tls\.crl_reloaded"/.test(p.err) && /"audit":"tls\.credentials_reloaded"/.test(p.err), p, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(p.exitCode, null, 'still running after SIGHUP');
    assert.equal(p.signalCode, null, 'not killed by SIGHUP');
    // The CRL's number and age are logged at start and on the reload.
    assert.match(p.err, /"msg":"CRL loaded"/);
    assert.match(p.err, /"crlNumber":"1".*"ageSeconds":\d+.*"msg":"CRL reloaded \(signal\)"/);

    const material = await loadTlsMaterial(agg.files);
    const ok = await request(port, clientTlsOptions(material, 'R1', { expect: { role: 'tso', id: 'TSO1' } }));
    assert.equal(ok.error, undefined, 'a valid peer is still served after the reload');
    assert.equal(ok.connected, true);

    // A second SIGHUP is a reload too (no "second signal kills" rule for it).
    p.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(p.exitCode, null);

    // Revocation reaches the running VTN without a restart (its CRL file is watched).
    await pki.revoke({ role: 'aggregator', id: 'AGG1' }, 'keyCompromise');
    await until('reload of the revoked CRL', () => /"crlNumber":"2"/.test(p.err), p, 5000);
    const refused = await request(port, clientTlsOptions(material, 'R1', { expect: { role: 'tso', id: 'TSO1' } }));
    assert.equal(refused.status, undefined, 'the revoked peer gets no answer');
    assert.match(p.err, /"audit":"tls\.refused","outcome":"refused","actor":"AGG1"/);

    p.kill('SIGTERM');
    assert.equal(await exited(p), 0);
  } finally {
    p.kill('SIGKILL');
  }
});

test('SIGHUP does not stop erab device site (no TLS to reload)', async () => {
  const p = erab(['device', 'site', '--address', '127.3.7.2', '--port', '0', '--battery']);
  try {
    await until('site started', () => /"instances"/.test(p.out), p);
    p.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(p.exitCode, null, 'still running after SIGHUP');
    assert.equal(p.signalCode, null, 'not killed by SIGHUP');
    p.kill('SIGTERM');
    assert.equal(await exited(p), 0);
  } finally {
    p.kill('SIGKILL');
  }
});
