/**
 * The test kit itself: a PKI world's certificates work over a real mutual-TLS handshake and its
 * revoked, expired and foreign ones are refused; files are where and how the loader wants them;
 * waitFor says what it waited for and what it last saw; the clocks are src's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { clientTlsOptions, type TlsMaterial } from '../../src/security/tls.js';
import { parseCrls } from '../../src/security/pki/index.js';
import { ManualClock } from '../../src/core/clock.js';
import { startEchoServer, request, type RunningServer } from '../security/tls-helpers.js';
import { acceleratedClock, manualClock, pkiWorld, sleep, waitFor, waiter, WaitTimeoutError, type PkiWorld } from './index.js';

describe('pkiWorld', () => {
  let world: PkiWorld<'tso' | 'agg' | 'rsa' | 'gone' | 'old' | 'early' | 'wide' | 'tsoRsa'>;
  let srv: RunningServer;
  let tsoMaterial: TlsMaterial;
  const audit = new MemoryAuditSink();

  before(async () => {
    world = await pkiWorld({
      tso: 'tso:TSO1',
      tsoRsa: { role: 'tso', id: 'TSO1', algorithm: 'rsa' }, // a second certificate of the same participant
      agg: 'aggregator:AGG1',
      rsa: { role: 'aggregator', id: 'AGG2', algorithm: 'rsa' },
      gone: { role: 'aggregator', id: 'AGG3', revoked: 'keyCompromise' },
      old: { role: 'aggregator', id: 'AGG4', validity: 'expired' },
      early: { role: 'aggregator', id: 'AGG5', validity: 'not-yet-valid' },
      wide: { role: 'retailer', id: 'RET1', dns: ['vtn.example.test'], ip: ['127.0.0.2'] },
    }, { prefix: 'erab-kit-' });
    tsoMaterial = await world.material('tso', { extra: ['tsoRsa'] });
    srv = await startEchoServer({ material: tsoMaterial, profile: 'R1', audit, allowList: { roles: ['aggregator'] } });
  });
  after(async () => {
    await srv?.close();
    world?.close();
  });

  it('issues certificates that pass a real mutual-TLS handshake, ECDSA and RSA', async () => {
    for (const name of ['agg', 'rsa'] as const) {
      const out = await request(srv.port, clientTlsOptions(await world.material(name), 'R1', { expect: { role: 'tso', id: 'TSO1' } }));
      assert.equal(out.status, 200, `${name}: ${out.error ?? ''}`);
      assert.equal(JSON.parse(out.body!).id, world.certs[name].id);
    }
    assert.equal(world.certs.rsa.algorithm, 'rsa');
    assert.equal(world.certs.tsoRsa.algorithm, 'rsa');
    assert.equal(world.certs.tsoRsa.indexed, false);
  });

  it('a revoked participant is in the CRL file and refused; expired and not-yet-valid ones are refused', async () => {
    const crl = parseCrls(readFileSync(world.crlFile, 'utf8'), world.crlFile)[0]!;
    assert.ok(crl.entries.some((e) => e.serialNumber.toUpperCase() === world.certs.gone.serial), 'the CRL lists the revoked serial');
    for (const [name, code] of [['gone', 'revoked'], ['old', 'expired'], ['early', 'not_yet_valid']] as const) {
      const out = await request(srv.port, clientTlsOptions(await world.material(name), 'R1'));
      assert.equal(out.status, undefined, `${name} must be refused`);
      const rec = audit.records.find((r) => r.action === 'tls.refused' && r.actor.fingerprint === world.certs[name].identity.fingerprint);
      assert.ok(rec, `${name}: refusal audited`);
      assert.equal(rec.details?.code, code);
    }
  });

  it('a revoke after start reaches the CRL file; a certificate of a foreign CA is refused', async () => {
    const late = await world.issue('late', 'aggregator:AGG6');
    const m = await world.material('late');
    assert.equal((await request(srv.port, clientTlsOptions(m, 'R1'))).status, 200);
    await world.revoke('late', 'keyCompromise');
    await tsoMaterial.reloadCrl();
    assert.equal((await request(srv.port, clientTlsOptions(m, 'R1'))).status, undefined, 'refused once revoked');
    const foreign = await pkiWorld({ agg: 'aggregator:AGG1' }, { ca: { commonName: 'foreign CA' } });
    try {
      const out = await request(srv.port, { cert: foreign.certs.agg.certPem, key: foreign.certs.agg.keyPem, ca: world.caPem, checkServerIdentity: () => undefined });
      assert.equal(out.status, undefined, 'a foreign CA\'s certificate is refused');
    } finally {
      foreign.close();
    }
  });

  it('writes keys 0600, adds extra SANs, removes its folder on close; a CA passphrase encrypts the CA key', async () => {
    assert.equal(statSync(world.certs.agg.files.keyFile).mode & 0o777, 0o600);
    const x = new X509Certificate(world.certs.wide.certPem);
    assert.match(x.subjectAltName ?? '', /DNS:vtn\.example\.test/);
    assert.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.2/);
    assert.match(x.subjectAltName ?? '', /DNS:localhost/);
    const locked = await pkiWorld({ gw: { role: 'gateway', id: 'GW1', keyMode: 0o644 } }, { ca: { passphrase: 'pass phrase', algorithm: 'rsa' } });
    assert.match(readFileSync(locked.caKeyFile, 'utf8'), /ENCRYPTED PRIVATE KEY/);
    assert.equal(statSync(locked.certs.gw.files.keyFile).mode & 0o777, 0o644);
    await assert.rejects(locked.material('gw'), /chmod 600/);
    locked.close();
    assert.equal(existsSync(locked.dir), false);
    await assert.rejects(pkiWorld({ x: 'admin:X' as never }), /must be "role:id"/);
  });
});

describe('waitFor', () => {
  it('resolves with the first truthy value, sync or async', async () => {
    let n = 0;
    assert.equal(await waitFor(() => (++n >= 3 ? n : undefined), { what: 'three polls', intervalMs: 1 }), 3);
    assert.deepEqual(await waitFor('an async value', async () => ({ ok: true })), { ok: true });
  });

  it('on timeout names what it awaited and the last value it saw', async () => {
    let n = 0;
    await assert.rejects(
      waitFor(() => ++n < 0, { what: 'the impossible', timeoutMs: 60, intervalMs: 10 }),
      (err: Error) => {
        assert.ok(err instanceof WaitTimeoutError);
        assert.match(err.message, /^timed out after 60 ms waiting for the impossible; last value: false$/);
        return true;
      },
    );
    await assert.rejects(waitFor('a registration', () => undefined, 30), /timed out after 30 ms waiting for a registration; last value: undefined/);
    await assert.rejects(waitFor(() => 0, { what: 'x', timeoutMs: 20, context: () => 'process said: boom' }), /last value: 0\nprocess said: boom$/);
  });

  it('gives up early when failIf says so, and passes a predicate\'s error through', async () => {
    const started = Date.now();
    await assert.rejects(waitFor(() => false, { what: 'the VTN listening', timeoutMs: 10_000, failIf: () => 'exit 1' }), /gave up \(exit 1\) waiting for the VTN listening/);
    assert.ok(Date.now() - started < 5000);
    await assert.rejects(waitFor(() => { throw new Error('broken predicate'); }, { what: 'x' }), /broken predicate/);
  });

  it('waiter() gives other defaults to the same function', async () => {
    const until = waiter({ timeoutMs: 40, context: () => 'ctx' });
    await assert.rejects(until('y', () => null), /timed out after 40 ms waiting for y; last value: null\nctx/);
    await assert.rejects(until(() => '', { what: 'z', timeoutMs: 20 }), /timed out after 20 ms waiting for z; last value: ''\nctx/);
  });
});

describe('clocks', () => {
  it('manualClock is src\'s ManualClock; acceleratedClock runs src\'s scaled time', async () => {
    const m = manualClock(1000);
    assert.ok(m instanceof ManualClock);
    let fired = false;
    m.setTimeout(() => { fired = true; }, 500);
    m.advance(500);
    assert.ok(fired);
    const fast = acceleratedClock(60, Date.UTC(2026, 0, 1));
    assert.equal(fast.speed, 60);
    const t0 = fast.now();
    await sleep(100);
    assert.ok(fast.now() - t0 >= 3000, `×60 for 100 real ms advanced ${fast.now() - t0} ms`);
  });
});
