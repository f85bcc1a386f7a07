/**
 * Mutual TLS across real sockets with certificates from erab's own PKI: who gets in, who is
 * refused, that every refusal is in the audit sink with the presented fingerprint, that the
 * OpenADR 2.0b suites negotiate, and that sessions resume.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import type { PkiStore, StoredCertificate } from '../../src/security/pki/index.js';
import { TlsMaterial, clientTlsOptions, loadTlsMaterial, OPENADR_SUITES } from '../../src/security/tls.js';
import type { PeerIdentity } from '../../src/security/identity.js';
import { request, startEchoServer, type RunningServer } from './tls-helpers.js';
import { pkiWorld, type PkiWorld } from '../kit/index.js';

const DAY = 86_400_000;

describe('mutual TLS listener (R1 profile, certificates from erab PKI)', () => {
  let world: PkiWorld;
  let pki: PkiStore;
  let audit: MemoryAuditSink;
  let srv: RunningServer;
  let vtnMaterial: TlsMaterial;
  let certs: Record<string, StoredCertificate> = {};
  const materials: Record<string, TlsMaterial> = {};

  before(async () => {
    world = await pkiWorld({
      tso: 'tso:TSO1',
      tsoRsa: { role: 'tso', id: 'TSO1-RSA', algorithm: 'rsa' },
      agg1: 'aggregator:AGG1',
      aggRsa: { role: 'aggregator', id: 'AGG-RSA', algorithm: 'rsa' },
      agg2: 'aggregator:AGG2',
      revoked: 'aggregator:AGG-REVOKED',
      expired: { role: 'aggregator', id: 'AGG-EXPIRED', validity: 'expired' },
    }, { prefix: 'erab-tls-' });
    pki = world.store;
    certs = world.certs;
    for (const [k, c] of Object.entries(certs)) materials[k] = await loadTlsMaterial(c.files);

    // The VTN holds an ECDSA and an RSA certificate, as an OpenADR VTN serving both kinds of VEN.
    vtnMaterial = await loadTlsMaterial({ ...certs.tso!.files, extra: [{ certFile: certs.tsoRsa!.files.certFile, keyFile: certs.tsoRsa!.files.keyFile }] });
    audit = new MemoryAuditSink();
    srv = await startEchoServer({
      material: vtnMaterial,
      profile: 'R1',
      audit,
      listener: 'tso:R1',
      allowList: { participants: ['aggregator:AGG1', 'aggregator:AGG-RSA', 'aggregator:AGG-REVOKED', 'aggregator:AGG-EXPIRED'] },
    });
  });

  after(async () => {
    await srv?.close();
    world?.close();
  });

  /** The refusal records for a fingerprint (undefined fingerprint = none presented). */
  function refusalsFor(fingerprint: string | undefined) {
    return audit.records.filter((r) => r.action === 'tls.refused' && r.actor.fingerprint === fingerprint);
  }

  it('admits an allow-listed aggregator and shows its identity to the handler', async () => {
    const out = await request(srv.port, clientTlsOptions(materials.agg1!, 'R1', { expect: { role: 'tso', id: 'TSO1' } }));
    assert.equal(out.error, undefined);
    assert.equal(out.status, 200);
    const peer = JSON.parse(out.body!) as PeerIdentity;
    assert.equal(peer.role, 'aggregator');
    assert.equal(peer.id, 'AGG1');
    assert.equal(peer.fingerprint, certs.agg1!.identity.fingerprint);
    assert.match(peer.fingerprint, /^([0-9A-F]{2}:){9}[0-9A-F]{2}$/);
    assert.equal(out.protocol, 'TLSv1.3');
  });

  it('refuses a certificate from an unrelated CA and audits its fingerprint', async () => {
    const rogueCa = await pkiWorld({ rogue: 'aggregator:AGG1' }, { ca: { commonName: 'rogue CA' } }); // same claimed identity
    after(() => rogueCa.close());
    const rogue = rogueCa.certs.rogue;
    const before = srv.seen;
    const out = await request(srv.port, {
      cert: rogue.certPem, key: rogue.keyPem, ca: vtnMaterial.caPem, checkServerIdentity: () => undefined,
    });
    assert.equal(out.status, undefined, 'no HTTP response for a refused peer');
    assert.equal(srv.seen, before, 'handler never ran');
    const recs = refusalsFor(rogue.identity.fingerprint);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.details?.code, 'untrusted_chain');
    assert.equal(recs[0]!.outcome, 'refused');
    assert.equal(recs[0]!.target, 'tso:R1');
    assert.match(recs[0]!.actor.address!, /^127\.0\.0\.1:\d+$/);
    assert.equal(recs[0]!.actor.id, 'unknown', 'a rogue certificate is not attributed to the participant it claims');
    assert.equal(recs[0]!.details?.claimed, 'aggregator:AGG1');
  });

  it('refuses an expired certificate', async () => {
    const out = await request(srv.port, clientTlsOptions(materials.expired!, 'R1'));
    assert.equal(out.status, undefined);
    const recs = refusalsFor(certs.expired!.identity.fingerprint);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.details?.code, 'expired');
    assert.equal(recs[0]!.actor.id, 'AGG-EXPIRED');
  });

  it('refuses a certificate once it is revoked and the CRL reloaded, without a restart', async () => {
    const ok = await request(srv.port, clientTlsOptions(materials.revoked!, 'R1'));
    assert.equal(ok.status, 200, 'admitted before revocation');
    await pki.revoke({ role: 'aggregator', id: 'AGG-REVOKED' }, 'keyCompromise');
    await vtnMaterial.reloadCrl();
    const out = await request(srv.port, clientTlsOptions(materials.revoked!, 'R1'));
    assert.equal(out.status, undefined);
    const recs = refusalsFor(certs.revoked!.identity.fingerprint);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.details?.code, 'revoked');
    assert.match(recs[0]!.reason!, /keyCompromise/);
  });

  it('refuses a valid certificate that is not on the allow-list', async () => {
    const out = await request(srv.port, clientTlsOptions(materials.agg2!, 'R1'));
    assert.equal(out.status, undefined);
    const recs = refusalsFor(certs.agg2!.identity.fingerprint);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.details?.code, 'not_allow_listed');
    assert.equal(recs[0]!.actor.role, 'aggregator');
    assert.equal(recs[0]!.actor.id, 'AGG2');
  });

  it('refuses a client that presents no certificate', async () => {
    const n = refusalsFor(undefined).length;
    const out = await request(srv.port, { ca: vtnMaterial.caPem });
    assert.equal(out.status, undefined);
    const recs = refusalsFor(undefined).slice(n);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.details?.code, 'no_certificate');
  });

  it('a flood of refusals from one address is audited up to the limit, then counted into the next record', async () => {
    const { ManualClock } = await import('../../src/core/clock.js');
    const clock = new ManualClock(Date.now());
    const floodAudit = new MemoryAuditSink();
    const flood = await startEchoServer({
      material: vtnMaterial, profile: 'R1', audit: floodAudit, listener: 'tso:R1-flood', clock,
      allowList: { participants: ['aggregator:AGG1'] }, refusalAudit: { perAddress: 3, windowMs: 60_000 },
    });
    try {
      for (let i = 0; i < 7; i++) assert.equal((await request(flood.port, { ca: vtnMaterial.caPem })).status, undefined);
      const refused = () => floodAudit.records.filter((r) => r.action === 'tls.refused');
      assert.equal(refused().length, 3, 'three records in the window, four refusals only counted');
      assert.ok(refused().every((r) => r.details?.suppressed === undefined));
      // Still refused, never served, while not recorded:
      assert.equal(flood.seen, 0);
      clock.advance(60_000);
      await request(flood.port, { ca: vtnMaterial.caPem });
      assert.equal(refused().length, 4);
      assert.equal(refused()[3]!.details?.suppressed, 4, 'the next window\'s first record says how many were left out');
      assert.equal(refused()[3]!.details?.code, 'no_certificate');
    } finally {
      await flood.close();
    }
  });

  it('refuses TLS 1.1 at the handshake and audits it', async () => {
    const n = audit.records.length;
    const out = await request(srv.port, clientTlsOptions(materials.agg1!, 'R1', {
      minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0',
    }));
    assert.equal(out.connected, false);
    assert.match(`${out.errorCode} ${out.error}`, /PROTOCOL_VERSION|protocol version|unsupported protocol/i);
    const recs = audit.records.slice(n).filter((r) => r.action === 'tls.refused');
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.details?.code, 'handshake_failed');
    assert.match(recs[0]!.reason!, /unsupported protocol/);
    assert.match(recs[0]!.actor.address!, /^127\.0\.0\.1:\d+$/);
  });

  for (const [openssl, iana, key] of [
    ['ECDHE-ECDSA-AES128-SHA256', OPENADR_SUITES['ECDHE-ECDSA-AES128-SHA256'], 'agg1'],
    ['AES128-SHA256', OPENADR_SUITES['AES128-SHA256'], 'aggRsa'],
  ] as const) {
    it(`negotiates the OpenADR 2.0b suite ${iana} over TLS 1.2`, async () => {
      const out = await request(srv.port, clientTlsOptions(materials[key]!, 'R1', { expect: { role: 'tso' }, maxVersion: 'TLSv1.2', ciphers: openssl }));
      assert.equal(out.error, undefined);
      assert.equal(out.protocol, 'TLSv1.2');
      assert.equal(out.cipher, iana);
      assert.equal(out.status, 200);
      assert.equal((JSON.parse(out.body!) as PeerIdentity).id, certs[key]!.id);
    });
  }

  it('prefers an AEAD suite when an OpenADR peer offers one', async () => {
    const out = await request(srv.port, clientTlsOptions(materials.agg1!, 'R1', { maxVersion: 'TLSv1.2' }));
    assert.equal(out.cipher, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
  });

  it('resumes a session (TLS 1.3 ticket) and still authenticates the peer', async () => {
    const first = await request(srv.port, clientTlsOptions(materials.agg1!, 'R1'));
    assert.ok(first.session, 'server issued a session ticket');
    assert.equal(first.reused, false);
    const second = await request(srv.port, clientTlsOptions(materials.agg1!, 'R1', { session: first.session! }));
    assert.equal(second.reused, true);
    assert.equal((JSON.parse(second.body!) as PeerIdentity).fingerprint, certs.agg1!.identity.fingerprint);
  });

  it('resumes a TLS 1.2 session too', async () => {
    const opts = clientTlsOptions(materials.agg1!, 'R1', { maxVersion: 'TLSv1.2' });
    const first = await request(srv.port, opts);
    assert.ok(first.session);
    const second = await request(srv.port, { ...opts, session: first.session! });
    assert.equal(second.reused, true);
    assert.equal(second.status, 200);
  });

  it('checks revocation on resumed sessions as well', async () => {
    const c = await pki.issue({ role: 'aggregator', id: 'AGG-RESUME' });
    const m = await loadTlsMaterial(c.files);
    srv.handle.authenticator.setAllowList({ participants: ['aggregator:AGG1', 'aggregator:AGG-RESUME'] });
    const first = await request(srv.port, clientTlsOptions(m, 'R1'));
    assert.equal(first.status, 200);
    await pki.revoke({ serial: c.serial }, 'keyCompromise');
    await vtnMaterial.reloadCrl();
    const second = await request(srv.port, clientTlsOptions(m, 'R1', { session: first.session! }));
    assert.equal(second.status, undefined);
    const recs = refusalsFor(c.identity.fingerprint);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.details?.code, 'revoked');
  });

  it('refuses everyone while the CRL is past its nextUpdate (fail closed)', async () => {
    const ca = await pki.authority();
    const stale = await ca.signCrl([], { crlNumber: 9999, thisUpdate: new Date(Date.now() - 10 * DAY), days: 1 });
    const current = vtnMaterial.revocation;
    await vtnMaterial.reloadCrl(stale);
    try {
      const out = await request(srv.port, clientTlsOptions(materials.agg1!, 'R1'));
      assert.equal(out.status, undefined);
      const recs = refusalsFor(certs.agg1!.identity.fingerprint);
      assert.equal(recs.at(-1)!.details?.code, 'crl_stale');
    } finally {
      vtnMaterial.setRevocation(current);
    }
  });

  it('every refusal record names the listener and carries the fingerprint of what was presented', () => {
    const refusals = audit.records.filter((r) => r.action === 'tls.refused');
    assert.ok(refusals.length >= 8);
    for (const r of refusals) {
      assert.equal(r.target, 'tso:R1');
      assert.equal(r.outcome, 'refused');
      assert.ok(r.reason);
      const code = r.details?.code;
      if (code !== 'no_certificate' && code !== 'handshake_failed') assert.match(r.actor.fingerprint!, /^([0-9A-F]{2}:){9}[0-9A-F]{2}$/);
    }
  });
});

describe('mutual TLS client: verifying the server', () => {
  let world: PkiWorld<'tso' | 'agg'>;
  let srv: RunningServer;
  let agg: TlsMaterial;
  let pki: PkiStore;
  let tso: StoredCertificate;
  const audit = new MemoryAuditSink();

  before(async () => {
    world = await pkiWorld({ tso: 'tso:TSO1', agg: 'aggregator:AGG1' }, { prefix: 'erab-tlsc-' });
    pki = world.store;
    tso = world.certs.tso;
    agg = await world.material('agg');
    srv = await startEchoServer({ material: await world.material('tso'), profile: 'R1', audit: new MemoryAuditSink(), allowList: { roles: ['aggregator'] } });
  });
  after(async () => {
    await srv?.close();
    world?.close();
  });

  it('connects when the server is the expected participant (role, id, pinned fingerprint)', async () => {
    const out = await request(srv.port, clientTlsOptions(agg, 'R1', { expect: { role: 'tso', id: 'TSO1', fingerprint: tso.identity.fingerprint } }));
    assert.equal(out.error, undefined);
    assert.equal(out.status, 200);
  });

  it('refuses a server that is another participant, and audits it', async () => {
    const out = await request(srv.port, clientTlsOptions(agg, 'R1', { expect: { role: 'tso', id: 'TSO2' }, audit }));
    assert.equal(out.connected, false);
    assert.match(out.error!, /expected id TSO2/);
    assert.equal(audit.records.at(-1)!.action, 'tls.server_refused');
    assert.equal(audit.records.at(-1)!.actor.fingerprint, tso.identity.fingerprint);
  });

  it('refuses a server of the wrong role', async () => {
    const out = await request(srv.port, clientTlsOptions(agg, 'R1', { expect: { role: ['retailer', 'aggregator'] } }));
    assert.match(out.error!, /server is a tso/);
  });

  it('refuses a server whose certificate is revoked', async () => {
    const m = await loadTlsMaterial(pki.files('aggregator', 'AGG1'));
    const other = await pki.issue({ role: 'tso', id: 'TSO-OLD' });
    const old = await startEchoServer({ material: await loadTlsMaterial(other.files), profile: 'R1', audit: new MemoryAuditSink(), allowList: { roles: ['aggregator'] } });
    try {
      await pki.revoke({ serial: other.serial });
      await m.reloadCrl();
      const out = await request(old.port, clientTlsOptions(m, 'R1'));
      assert.equal(out.connected, false);
      assert.match(out.error!, /revoked/);
    } finally {
      await old.close();
    }
  });

  it('refuses a server certificate from an unrelated CA', async () => {
    const rogueCa = await pkiWorld({ rogue: 'tso:TSO1' });
    after(() => rogueCa.close());
    const mat = await rogueCa.material('rogue');
    const fake = await startEchoServer({ material: mat, profile: 'R1', audit: new MemoryAuditSink(), allowList: { anyCertifiedPeer: true } });
    try {
      const out = await request(fake.port, clientTlsOptions(agg, 'R1', { expect: { role: 'tso', id: 'TSO1' } }));
      assert.equal(out.connected, false);
      assert.match(`${out.errorCode}`, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    } finally {
      await fake.close();
    }
  });
});

describe('loadTlsMaterial errors name the file and the problem', () => {
  let world: PkiWorld<'gw'>;
  let dir: string;
  let pki: PkiStore;
  let c: StoredCertificate;
  before(async () => {
    world = await pkiWorld({ gw: 'gateway:GW1' }, { prefix: 'erab-tlsm-' });
    dir = world.dir;
    pki = world.store;
    c = world.certs.gw;
  });
  after(() => world?.close());

  it('missing file', async () => {
    await assert.rejects(loadTlsMaterial({ ...c.files, certFile: join(dir, 'nope.pem') }), /certificate file .*nope\.pem does not exist/);
  });
  it('malformed certificate', async () => {
    const bad = join(dir, 'bad.pem');
    writeFileSync(bad, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await assert.rejects(loadTlsMaterial({ ...c.files, certFile: bad }), (e: Error) => e.message.includes(bad) && /not a valid X\.509 certificate/.test(e.message));
  });
  it('not PEM at all', async () => {
    const bad = join(dir, 'text.pem');
    writeFileSync(bad, 'hello');
    await assert.rejects(loadTlsMaterial({ ...c.files, caFile: bad }), (e: Error) => e.message.includes(bad) && /no PEM block/.test(e.message));
  });
  it('key that does not match the certificate', async () => {
    const other = await pki.issue({ role: 'gateway', id: 'GW2' });
    await assert.rejects(loadTlsMaterial({ ...c.files, keyFile: other.files.keyFile }), (e: Error) => e.message.includes(other.files.keyFile) && /does not hold the private key/.test(e.message));
  });
  it('malformed key', async () => {
    const bad = join(dir, 'badkey.pem');
    writeFileSync(bad, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    await assert.rejects(loadTlsMaterial({ ...c.files, keyFile: bad }), (e: Error) => e.message.includes(bad) && /not a valid private key/.test(e.message));
  });
  it('malformed CRL', async () => {
    const bad = join(dir, 'bad.crl');
    writeFileSync(bad, '-----BEGIN X509 CRL-----\nMAMCAQA=\n-----END X509 CRL-----\n');
    await assert.rejects(loadTlsMaterial({ ...c.files, crlFile: bad }), (e: Error) => e.message.includes(bad) && /not a valid X\.509 CRL/.test(e.message));
  });
  it('CRL signed by another CA', async () => {
    const foreign = await pkiWorld();
    after(() => foreign.close());
    const other = await foreign.authority();
    const crl = join(dir, 'other.crl');
    writeFileSync(crl, await other.signCrl([], { crlNumber: 1 }));
    await assert.rejects(loadTlsMaterial({ ...c.files, crlFile: crl }), (e: Error) => e.message.includes(crl) && /not signed by any configured CA/.test(e.message));
  });
  it('the private key is never enumerable on the loaded material', async () => {
    const m = await loadTlsMaterial(c.files);
    assert.ok(m.credentials[0]!.keyPem.includes('PRIVATE KEY'));
    assert.ok(!JSON.stringify(m.credentials).includes('PRIVATE KEY'));
  });
});

describe('mutual TLS listener operations', () => {
  let world: PkiWorld;
  let pki: PkiStore;
  before(async () => {
    world = await pkiWorld({ agg: 'aggregator:AGG1', gw: 'gateway:GW1' }, { prefix: 'erab-tlsops-' });
    pki = world.store;
  });
  after(() => world?.close());

  it('reload() picks up a rotated server certificate without a restart', async () => {
    const gw = await loadTlsMaterial(pki.files('gateway', 'GW1'));
    const agg = await loadTlsMaterial(pki.files('aggregator', 'AGG1'));
    const srv = await startEchoServer({ material: agg, profile: 'R4', audit: new MemoryAuditSink(), allowList: { roles: ['gateway'] } });
    try {
      const fingerprintSeen = async (): Promise<string> => {
        let fp = '';
        const opts = clientTlsOptions(gw, 'R4', { expect: { role: 'aggregator', id: 'AGG1' } });
        const check = opts.checkServerIdentity!;
        const out = await request(srv.port, { ...opts, checkServerIdentity: (h, c) => { fp = c.fingerprint256.slice(-29); return check(h, c); } });
        assert.equal(out.status, 200, out.error);
        return fp;
      };
      const before = await fingerprintSeen();
      assert.equal(before, agg.identity.fingerprint);
      const rotated = await pki.rotate({ role: 'aggregator', id: 'AGG1' });
      await srv.handle.reload();
      assert.equal(await fingerprintSeen(), rotated.identity.fingerprint);
      // the reload also brought the new CRL: the superseded certificate is now revoked
      assert.ok(agg.revocation.lookup(rotated.replaced));
    } finally {
      await srv.close();
    }
  });

  it('watchCrl() applies "revoke" to a running listener by itself', async () => {
    const c = await pki.issue({ role: 'gateway', id: 'GW-WATCH' });
    const agg = await loadTlsMaterial(pki.files('aggregator', 'AGG1'));
    const audit = new MemoryAuditSink();
    const srv = await startEchoServer({ material: agg, profile: 'R4', audit, allowList: { roles: ['gateway'] } });
    const reloaded: number[] = [];
    let notify: () => void = () => undefined;
    const stop = agg.watchCrl({ intervalMs: 50, onReload: (l) => { reloaded.push(l.size); notify(); } });
    try {
      const gw = await loadTlsMaterial(c.files);
      assert.equal((await request(srv.port, clientTlsOptions(gw, 'R4'))).status, 200);
      const seen = new Promise<void>((resolve) => { notify = resolve; });
      await pki.revoke({ serial: c.serial });
      await seen;
      const out = await request(srv.port, clientTlsOptions(gw, 'R4'));
      assert.equal(out.status, undefined);
      assert.equal(audit.records.at(-1)!.details?.code, 'revoked');
    } finally {
      stop();
      await srv.close();
    }
  });

  it('a peer that never finishes the handshake is cut off and audited', async () => {
    const agg = await loadTlsMaterial(pki.files('aggregator', 'AGG1'));
    const audit = new MemoryAuditSink();
    const srv = await startEchoServer({ material: agg, profile: 'R4', audit, allowList: { roles: ['gateway'] }, handshakeTimeout: 300 });
    try {
      const { connect } = await import('node:net');
      await new Promise<void>((resolve) => {
        const s = connect(srv.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('close', () => resolve());
      });
      const rec = audit.records.find((r) => r.action === 'tls.refused');
      assert.equal(rec?.details?.code, 'handshake_failed');
      assert.match(rec!.reason!, /timed out|TIMEOUT/i);
    } finally {
      await srv.close();
    }
  });
});

describe('mutual TLS through node:https with keep-alive agents', () => {
  it('two identities sharing one https.Agent never share a connection', async () => {
    const world = await pkiWorld({ agg: 'aggregator:AGG1', gw1: 'gateway:GW1', gw2: 'gateway:GW2' }, { prefix: 'erab-tlsagent-' });
    const pki = world.store;
    const https = await import('node:https');
    const gw1 = await world.material('gw1');
    const gw2 = await world.material('gw2');
    const srv = await startEchoServer({ material: await loadTlsMaterial(pki.files('aggregator', 'AGG1')), profile: 'R4', audit: new MemoryAuditSink(), allowList: { roles: ['gateway'] } });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (m: TlsMaterial): Promise<string> => new Promise((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: srv.port, path: '/', agent, ...clientTlsOptions(m, 'R4', { expect: { role: 'aggregator' } }) }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve((JSON.parse(body) as PeerIdentity).id));
      }).on('error', reject);
    });
    try {
      assert.deepEqual([await get(gw1), await get(gw2), await get(gw1), await get(gw2)], ['GW1', 'GW2', 'GW1', 'GW2']);
    } finally {
      agent.destroy();
      await srv.close();
      world.close();
    }
  });
});

describe('session resumption across VTN workers', () => {
  it('a session from one worker resumes on another that shares the ticket keys, and not on one that does not', async () => {
    const world = await pkiWorld({ vtn: 'tso:TSO1', ven: 'aggregator:AGG1' }, { prefix: 'erab-tlsworkers-' });
    const vtn = await world.material('vtn');
    const ven = await world.material('ven');
    const { randomBytes } = await import('node:crypto');
    const ticketKeys = randomBytes(48);
    const common = { material: vtn, profile: 'R1' as const, audit: new MemoryAuditSink(), allowList: { roles: ['aggregator'] } };
    const a = await startEchoServer({ ...common, ticketKeys });
    const b = await startEchoServer({ ...common, ticketKeys });
    const c = await startEchoServer({ ...common });
    try {
      const first = await request(a.port, clientTlsOptions(ven, 'R1'));
      assert.ok(first.session);
      const onB = await request(b.port, clientTlsOptions(ven, 'R1', { session: first.session! }));
      assert.equal(onB.reused, true);
      assert.equal((JSON.parse(onB.body!) as PeerIdentity).id, 'AGG1');
      const onC = await request(c.port, clientTlsOptions(ven, 'R1', { session: first.session! }));
      assert.equal(onC.reused, false, 'other ticket keys: full handshake');
      assert.equal(onC.status, 200);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
      world.close();
    }
  });
});
