/**
 * The PKI on disk: file modes, the passphrase-protected CA key, issue / list / revoke / CRL /
 * rotate, and clear errors for broken files. Certificates and CRLs are also checked with
 * OpenSSL (through node's X509Certificate and a TLS secure context), not only by our parser.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, RevocationList, initCa, openPki, parseCertificates, parseCrls, type PkiStore } from '../../src/security/pki/index.js';
import { identityFromCertificate } from '../../src/security/identity.js';
import { x509 } from '../../src/security/pki/x509.js';

const DAY = 86_400_000;

function mode(file: string): number {
  return statSync(file).mode & 0o777;
}

describe('PKI store', () => {
  let root: string;
  before(() => { root = mkdtempSync(join(tmpdir(), 'erab-pki-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('init creates an ECDSA P-256 CA with CA basic constraints and keyCertSign+cRLSign', async () => {
    const pki = await initCa({ dir: join(root, 'a') });
    const ca = new X509Certificate(readFileSync(pki.caCertFile));
    assert.equal(ca.ca, true);
    assert.equal(ca.publicKey.asymmetricKeyType, 'ec');
    assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const parsed = new x509.X509Certificate(readFileSync(pki.caCertFile, 'utf8'));
    const bc = parsed.getExtension(x509.BasicConstraintsExtension)!;
    assert.equal(bc.ca, true);
    assert.equal(bc.critical, true);
    const ku = parsed.getExtension(x509.KeyUsagesExtension)!;
    assert.ok(ku.usages & x509.KeyUsageFlags.keyCertSign);
    assert.ok(ku.usages & x509.KeyUsageFlags.cRLSign);
    assert.ok(existsSync(pki.crlFile), 'an empty CRL is published at init');
    assert.equal(parseCrls(readFileSync(pki.crlFile, 'utf8'), 'crl')[0]!.entries.length, 0);
  });

  it('refuses to overwrite an existing CA', async () => {
    await assert.rejects(initCa({ dir: join(root, 'a') }), /already exists/);
  });

  it('writes private keys with mode 0600 (PKCS#8 PEM) and key folders 0700', async () => {
    const pki = await openPki({ dir: join(root, 'a') });
    const c = await pki.issue({ role: 'gateway', id: 'GW-1' });
    assert.equal(mode(c.files.keyFile), 0o600);
    assert.equal(mode(pki.caKeyFile), 0o600);
    assert.equal(mode(c.files.dir), 0o700);
    assert.equal(mode(join(pki.dir, 'ca')), 0o700);
    assert.match(readFileSync(c.files.keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(readFileSync(pki.caKeyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    // no temp files left behind by the atomic writes
    assert.deepEqual(readdirSync(c.files.dir).sort(), ['cert.pem', 'chain.pem', 'key.pem']);
  });

  it('issues a participant certificate: SAN urn:erab, localhost, serverAuth+clientAuth, chains to the CA', async () => {
    const pki = await openPki({ dir: join(root, 'a') });
    const c = await pki.issue({ role: 'aggregator', id: 'AGG-7', dns: ['vtn.example.test'], ip: ['127.0.0.2'] });
    const cert = new X509Certificate(readFileSync(c.files.certFile));
    const ca = new X509Certificate(readFileSync(pki.caCertFile));
    assert.ok(cert.verify(ca.publicKey), 'signed by the CA');
    assert.ok(cert.checkIssued(ca));
    assert.equal(cert.ca, false);
    assert.match(cert.subjectAltName!, /URI:urn:erab:aggregator:AGG-7/);
    assert.match(cert.subjectAltName!, /DNS:vtn\.example\.test/);
    assert.match(cert.subjectAltName!, /IP Address:127\.0\.0\.2/);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(cert.checkHost('vtn.example.test'), 'vtn.example.test');
    const id = identityFromCertificate(readFileSync(c.files.certFile, 'utf8'));
    assert.deepEqual({ role: id.role, id: id.id }, { role: 'aggregator', id: 'AGG-7' });
    assert.equal(readFileSync(c.files.chainFile, 'utf8'), readFileSync(c.files.certFile, 'utf8') + readFileSync(pki.caCertFile, 'utf8'));
    const defaults = await pki.issue({ role: 'aggregator', id: 'AGG-8' });
    const d = new X509Certificate(defaults.certPem);
    assert.equal(d.checkHost('localhost'), 'localhost');
    assert.equal(d.checkIP('127.0.0.1'), '127.0.0.1');
  });

  it('issues a device certificate (urn:erab:device:<id>, a Web API node) that the index keeps across a reopen', async () => {
    const dir = join(root, 'device');
    const c = await (await initCa({ dir })).issue({ role: 'device', id: 'HOME-42-BAT', ip: ['127.0.0.9'] });
    assert.match(new X509Certificate(c.certPem).subjectAltName!, /URI:urn:erab:device:HOME-42-BAT/);
    assert.deepEqual([identityFromCertificate(c.certPem).role, identityFromCertificate(c.certPem).id], ['device', 'HOME-42-BAT']);
    const again = await openPki({ dir });
    assert.deepEqual(again.list().map((r) => [r.role, r.id, r.status]), [['device', 'HOME-42-BAT', 'valid']]);
  });

  it('issues RSA 2048 on request, with keyEncipherment for TLS_RSA suites', async () => {
    const pki = await openPki({ dir: join(root, 'a') });
    const c = await pki.issue({ role: 'tso', id: 'TSO-RSA', algorithm: 'rsa' });
    const cert = new X509Certificate(c.certPem);
    assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    const ku = new x509.X509Certificate(c.certPem).getExtension(x509.KeyUsagesExtension)!;
    assert.ok(ku.usages & x509.KeyUsageFlags.keyEncipherment);
    assert.equal(createPrivateKey(readFileSync(c.files.keyFile)).asymmetricKeyType, 'rsa');
  });

  it('refuses a second valid certificate for the same participant (rotate instead)', async () => {
    const pki = await openPki({ dir: join(root, 'a') });
    await assert.rejects(pki.issue({ role: 'gateway', id: 'GW-1' }), /already holds valid certificate .* rotate/);
  });

  it('rejects bad roles, ids, names and validity', async () => {
    const pki = await openPki({ dir: join(root, 'a') });
    await assert.rejects(pki.issue({ role: 'admin', id: 'X' }), /role "admin" is not one of/);
    await assert.rejects(pki.issue({ role: 'gateway', id: 'has space' }), /participant id "has space" must match/);
    await assert.rejects(pki.issue({ role: 'gateway', id: 'G', dns: ['bad name'] }), /DNS name "bad name"/);
    await assert.rejects(pki.issue({ role: 'gateway', id: 'G', ip: ['300.1.1.1'] }), /IP address "300.1.1.1"/);
    await assert.rejects(pki.issue({ role: 'gateway', id: 'G', days: 0 }), /between 1 and 3650/);
  });

  it('lists certificates with serial, role, id, fingerprint, notAfter and status (valid, expired, revoked)', async () => {
    const pki = await initCa({ dir: join(root, 'list') });
    const ok = await pki.issue({ role: 'tso', id: 'T1' });
    const old = await pki.issue({ role: 'tso', id: 'T2', notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
    const gone = await pki.issue({ role: 'tso', id: 'T3' });
    await pki.revoke({ serial: gone.serial }, 'cessationOfOperation');
    const rows = pki.list();
    assert.deepEqual(rows.map((r) => [r.serial, r.id, r.status]), [
      [ok.serial, 'T1', 'valid'],
      [old.serial, 'T2', 'expired'],
      [gone.serial, 'T3', 'revoked'],
    ]);
    assert.equal(rows[0]!.fingerprint, ok.identity.fingerprint);
    assert.equal(rows[2]!.reason, 'cessationOfOperation');
    // an expired participant may be issued again
    const again = await pki.issue({ role: 'tso', id: 'T2' });
    assert.equal(pki.list().find((r) => r.serial === again.serial)!.status, 'valid');
    assert.ok(existsSync(join(pki.dir, 'archive', `${old.serial}.pem`)), 'the replaced certificate is archived');
  });

  it('revoke rewrites a CRL that OpenSSL accepts and that names the serial and reason', async () => {
    const pki = await initCa({ dir: join(root, 'crl') });
    const c = await pki.issue({ role: 'retailer', id: 'R1' });
    const before = parseCrls(readFileSync(pki.crlFile, 'utf8'), 'crl')[0]!;
    const serials = await pki.revoke({ role: 'retailer', id: 'R1' }, 'keyCompromise');
    assert.deepEqual(serials, [c.serial]);
    const crlPem = readFileSync(pki.crlFile, 'utf8');
    const crl = parseCrls(crlPem, 'crl')[0]!;
    assert.ok(crl.thisUpdate >= before.thisUpdate);
    assert.equal(crl.entries.length, 1);
    assert.equal(crl.entries[0]!.serialNumber.toUpperCase(), c.serial);
    assert.equal(crl.entries[0]!.reason, x509.X509CrlReason.keyCompromise);
    assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(readFileSync(pki.caCertFile, 'utf8')) }));
    const list = await RevocationList.fromFile(pki.crlFile, [new X509Certificate(readFileSync(pki.caCertFile))]);
    assert.equal(list.lookup(c.serial)?.reason, 'keyCompromise');
    // OpenSSL itself parses it (a secure context refuses malformed CRLs)
    const tls = await import('node:tls');
    assert.doesNotThrow(() => tls.createSecureContext({ ca: readFileSync(pki.caCertFile), crl: crlPem }));
    await assert.rejects(pki.revoke({ serial: c.serial }), /already revoked/);
    await assert.rejects(pki.revoke({ serial: 'ABCDEF' }), /no certificate with serial ABCDEF/);
  });

  it('crl increments the CRL number on every write', async () => {
    const pki = await openPki({ dir: join(root, 'crl') });
    const numberOf = (): bigint => {
      const ext = parseCrls(readFileSync(pki.crlFile, 'utf8'), 'crl')[0]!.extensions.find((e) => e.type === '2.5.29.20')!;
      const v = new Uint8Array(ext.value);
      return BigInt(`0x${Buffer.from(v.subarray(2)).toString('hex')}`);
    };
    const n1 = numberOf();
    const r = await pki.writeCrl({ days: 7 });
    assert.equal(BigInt(r.crlNumber), n1 + 1n);
    assert.equal(numberOf(), n1 + 1n);
    const crl = parseCrls(readFileSync(pki.crlFile, 'utf8'), 'crl')[0]!;
    assert.equal(Math.round((crl.nextUpdate!.getTime() - crl.thisUpdate.getTime()) / DAY), 7);
  });

  it('rotate issues a new key and certificate first, then revokes the old one as superseded', async () => {
    const pki = await initCa({ dir: join(root, 'rot') });
    const first = await pki.issue({ role: 'gateway', id: 'GW-9', algorithm: 'rsa', dns: ['gw9.local'] });
    const oldKey = readFileSync(first.files.keyFile, 'utf8');
    const next = await pki.rotate({ role: 'gateway', id: 'GW-9' });
    assert.equal(next.replaced, first.serial);
    assert.notEqual(next.serial, first.serial);
    assert.notEqual(readFileSync(next.files.keyFile, 'utf8'), oldKey, 'a new key pair');
    assert.equal(next.algorithm, 'rsa', 'keeps the algorithm');
    assert.match(new X509Certificate(next.certPem).subjectAltName!, /DNS:gw9\.local/, 'keeps the names');
    assert.equal(mode(next.files.keyFile), 0o600);
    const rows = pki.list();
    assert.equal(rows.find((r) => r.serial === first.serial)!.status, 'revoked');
    assert.equal(rows.find((r) => r.serial === first.serial)!.reason, 'superseded');
    assert.equal(rows.find((r) => r.serial === next.serial)!.status, 'valid');
    const list = await RevocationList.fromFile(pki.crlFile, [new X509Certificate(readFileSync(pki.caCertFile))]);
    assert.equal(list.lookup(first.serial)?.reason, 'superseded');
    assert.equal(list.lookup(next.serial), undefined);
    await assert.rejects(pki.rotate({ role: 'gateway', id: 'NOBODY' }), /no valid certificate to rotate/);
  });

  it('concurrent issues from one process all land in the index', async () => {
    const pki = await initCa({ dir: join(root, 'many') });
    const t0 = Date.now();
    const issued = await Promise.all(Array.from({ length: 40 }, (_, i) => pki.issue({ role: 'gateway', id: `GW-${i}` })));
    const ms = Date.now() - t0;
    assert.equal(pki.list().length, 40);
    assert.equal(new Set(issued.map((c) => c.serial)).size, 40);
    assert.ok(ms < 30_000, `40 certificates took ${ms} ms`);
  });
});

describe('PKI CA passphrase', () => {
  let root: string;
  before(() => { root = mkdtempSync(join(tmpdir(), 'erab-pkipass-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('encrypts the CA key and works with the right passphrase', async () => {
    await initCa({ dir: join(root, 'p'), passphrase: 'correct horse' });
    const text = readFileSync(join(root, 'p', 'ca', 'ca.key'), 'utf8');
    assert.match(text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.throws(() => createPrivateKey(text), 'not usable without the passphrase');
    const pki = await openPki({ dir: join(root, 'p'), passphrase: 'correct horse' });
    const c = await pki.issue({ role: 'operator', id: 'alice' });
    assert.ok(new X509Certificate(c.certPem).verify(new X509Certificate(readFileSync(pki.caCertFile)).publicKey));
  });

  it('a wrong passphrase fails clearly, naming the key file', async () => {
    const pki = await openPki({ dir: join(root, 'p'), passphrase: 'wrong' });
    await assert.rejects(pki.issue({ role: 'operator', id: 'bob' }), (e: Error) =>
      e.message.includes(join(root, 'p', 'ca', 'ca.key')) && /wrong passphrase/.test(e.message));
  });

  it('a missing passphrase says one is required; listing needs none', async () => {
    const pki = await openPki({ dir: join(root, 'p') });
    await assert.rejects(pki.revoke({ role: 'operator', id: 'alice' }), /encrypted; a passphrase is required/);
    assert.equal(pki.list().length, 1);
  });

  it('in-memory CA round-trips through an encrypted PEM', async () => {
    const ca = await CertificateAuthority.create({ algorithm: 'rsa' });
    const again = await CertificateAuthority.fromPem(ca.certPem, ca.exportKeyPem('pw'), { passphrase: 'pw' });
    const c = await again.issue({ role: 'tso', id: 'T' });
    assert.ok(new X509Certificate(c.certPem).verify(new X509Certificate(ca.certPem).publicKey));
    await assert.rejects(CertificateAuthority.fromPem(ca.certPem, ca.exportKeyPem('pw'), { passphrase: 'nope' }), /wrong passphrase/);
  });
});

describe('PKI broken files', () => {
  let root: string;
  let pki: PkiStore;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'erab-pkibad-'));
    pki = await initCa({ dir: join(root, 'p') });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('a malformed CA certificate is named in the error', async () => {
    const keep = readFileSync(pki.caCertFile, 'utf8');
    writeFileSync(pki.caCertFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    try {
      const fresh = await openPki({ dir: pki.dir });
      await assert.rejects(fresh.issue({ role: 'tso', id: 'X' }), (e: Error) => e.message.includes(pki.caCertFile) && /not a valid X\.509 certificate/.test(e.message));
    } finally {
      writeFileSync(pki.caCertFile, keep);
    }
  });

  it('a CA key that is not PEM is named in the error', async () => {
    const keep = readFileSync(pki.caKeyFile, 'utf8');
    writeFileSync(pki.caKeyFile, 'garbage');
    try {
      const fresh = await openPki({ dir: pki.dir });
      await assert.rejects(fresh.writeCrl(), (e: Error) => e.message.includes(pki.caKeyFile) && /no PEM block/.test(e.message));
    } finally {
      writeFileSync(pki.caKeyFile, keep, { mode: 0o600 });
    }
  });

  it('a CA key of another CA is refused', async () => {
    const keep = readFileSync(pki.caKeyFile, 'utf8');
    const other = await CertificateAuthority.create();
    writeFileSync(pki.caKeyFile, other.exportKeyPem());
    try {
      const fresh = await openPki({ dir: pki.dir });
      await assert.rejects(fresh.writeCrl(), /does not belong to the certificate/);
    } finally {
      writeFileSync(pki.caKeyFile, keep, { mode: 0o600 });
    }
  });

  it('a corrupt index names the file and the field', async () => {
    const keep = readFileSync(pki.indexFile, 'utf8');
    try {
      writeFileSync(pki.indexFile, '{not json');
      await assert.rejects(openPki({ dir: pki.dir }), (e: Error) => e.message.includes(pki.indexFile) && /not valid JSON/.test(e.message));
      writeFileSync(pki.indexFile, JSON.stringify({ ...JSON.parse(keep), crlNumber: -1 }));
      await assert.rejects(openPki({ dir: pki.dir }), /field crlNumber/);
    } finally {
      writeFileSync(pki.indexFile, keep);
    }
  });

  it('a missing PKI folder says to run init', async () => {
    await assert.rejects(openPki({ dir: join(root, 'none') }), /run "erab pki init"/);
  });

  it('a malformed CRL is named in the error', async () => {
    const bad = join(root, 'bad.crl');
    writeFileSync(bad, '-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n');
    await assert.rejects(RevocationList.fromFile(bad, []), (e: Error) => e.message.includes(bad) && /not valid base64/.test(e.message));
  });

  it('hostile PEM is refused quickly with the rule named (no regex blow-up)', () => {
    const many = '-----BEGIN CERTIFICATE-----\n'.repeat(150_000); // ~4 MB of unterminated blocks
    const t0 = Date.now();
    assert.throws(() => parseCertificates(many, 'hostile.pem'), /hostile\.pem: PEM block "CERTIFICATE" #1 is not terminated/);
    assert.ok(Date.now() - t0 < 2000, 'linear time');
    assert.throws(() => parseCertificates('-----BEGIN CERTIFICATE-----\nAAAA\n', 'cut.pem'), /cut\.pem: .* has no END line/);
    assert.throws(() => parseCertificates('-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n', 'mix.pem'), /mix\.pem: .* ends with "-----END X509 CRL-----"/);
    assert.throws(() => parseCertificates('-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n', 'crl.pem'), /crl\.pem: PEM block #1 is "X509 CRL", expected "CERTIFICATE"/);
  });
});
