/**
 * Peer identity (OpenADR fingerprint, urn:erab SAN) and allow-list decisions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { AllowList } from '../../src/security/allow-list.js';
import {
  fingerprintFromSha256,
  identityFromCertificate,
  normalizeFingerprint,
  normalizeSerial,
  openadrFingerprint,
  parseParticipantUri,
  participantFromSubjectAltName,
} from '../../src/security/identity.js';
import type { CertificateAuthority, IssuedCertificate } from '../../src/security/pki/index.js';
import { pkiWorld, type PkiWorld } from '../kit/index.js';

describe('peer identity', () => {
  let world: PkiWorld<'gw'>;
  let ca: CertificateAuthority;
  let cert: IssuedCertificate;
  before(async () => {
    world = await pkiWorld({ gw: 'gateway:GW-0001' }, { prefix: 'erab-identity-' });
    ca = await world.authority();
    cert = world.certs.gw;
  });
  after(() => world?.close());

  it('the OpenADR fingerprint is the last 10 bytes of SHA-256 over the DER, upper-case, colon-separated', () => {
    const der = new X509Certificate(cert.certPem).raw;
    const hex = createHash('sha256').update(der).digest('hex').toUpperCase();
    const expected = hex.slice(-20).match(/../g)!.join(':');
    assert.equal(openadrFingerprint(der), expected);
    assert.equal(openadrFingerprint(der).length, 29);
    assert.equal(cert.identity.fingerprint, expected);
    assert.equal(cert.identity.sha256, hex.toLowerCase());
  });

  it('a known digest gives the known fingerprint', () => {
    // SHA-256 of the empty string.
    const sha = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    assert.equal(fingerprintFromSha256(sha), '93:4C:A4:95:99:1B:78:52:B8:55');
  });

  it('reads role and id from the SAN of PEM or DER', () => {
    const fromPem = identityFromCertificate(cert.certPem);
    const fromDer = identityFromCertificate(new X509Certificate(cert.certPem).raw);
    assert.deepEqual(fromPem, fromDer);
    assert.equal(fromPem.role, 'gateway');
    assert.equal(fromPem.id, 'GW-0001');
    assert.equal(fromPem.serial, cert.serial);
    assert.ok(fromPem.notAfter instanceof Date);
  });

  it('rejects a certificate without an erab identity and garbage input', () => {
    assert.throws(() => identityFromCertificate(ca.certPem), /no \(single\) urn:erab/);
    assert.throws(() => identityFromCertificate('not a cert'), /not a valid X\.509 certificate/);
    assert.throws(() => identityFromCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])), /not a valid X\.509 certificate/);
  });

  it('parses urn:erab URIs strictly', () => {
    assert.deepEqual(parseParticipantUri('urn:erab:tso:TSO1'), { role: 'tso', id: 'TSO1' });
    assert.equal(parseParticipantUri('urn:erab:king:X'), undefined);
    assert.equal(parseParticipantUri('urn:erab:tso:'), undefined);
    assert.equal(parseParticipantUri('urn:erab:tso:a/b'), undefined);
    assert.equal(parseParticipantUri('urn:erab:tso:TSO1:extra'), undefined);
    assert.deepEqual(participantFromSubjectAltName('DNS:localhost, URI:urn:erab:aggregator:A1'), { role: 'aggregator', id: 'A1' });
    assert.equal(participantFromSubjectAltName('URI:urn:erab:aggregator:A1, URI:urn:erab:tso:T1'), undefined, 'two identities are ambiguous');
    assert.equal(participantFromSubjectAltName(undefined), undefined);
  });

  it('normalises fingerprints and serials', () => {
    const fp = cert.identity.fingerprint;
    assert.equal(normalizeFingerprint(fp.toLowerCase().replaceAll(':', '')), fp);
    assert.equal(normalizeFingerprint(cert.identity.sha256), fp);
    assert.throws(() => normalizeFingerprint('AB:CD'), /10 bytes/);
    assert.equal(normalizeSerial('00:0a:BC'), 'ABC');
    assert.throws(() => normalizeSerial('xyz'), /not hexadecimal/);
  });
});

describe('allow-list', () => {
  const agg1 = { role: 'aggregator' as const, id: 'AGG1', fingerprint: '01:02:03:04:05:06:07:08:09:0A' };
  const gw = { role: 'gateway' as const, id: 'GW1', fingerprint: 'AA:BB:CC:DD:EE:FF:00:11:22:33' };

  it('admits nobody when empty', () => {
    const l = new AllowList({});
    assert.equal(l.admitsAnyone, false);
    assert.deepEqual(l.check(agg1), { allowed: false, reason: 'the allow-list of this listener is empty' });
  });

  it('admits an exact role:id, a bare id, or a pinned fingerprint', () => {
    assert.equal(new AllowList({ participants: ['aggregator:AGG1'] }).check(agg1).allowed, true);
    assert.equal(new AllowList({ participants: ['tso:AGG1'] }).check(agg1).allowed, false);
    assert.equal(new AllowList({ participants: ['AGG1'] }).check(agg1).allowed, true);
    assert.equal(new AllowList({ fingerprints: ['0102030405060708090a'] }).check(agg1).allowed, true);
    assert.equal(new AllowList({ fingerprints: ['0102030405060708090B'] }).check(agg1).allowed, false);
  });

  it('roles restrict the entries, or on their own admit the whole role', () => {
    const l = new AllowList({ roles: ['gateway'] });
    assert.equal(l.check(gw).allowed, true);
    const refused = l.check(agg1);
    assert.equal(refused.allowed, false);
    assert.match((refused as { reason: string }).reason, /role aggregator is not admitted/);
    assert.equal(new AllowList({ roles: ['tso'], participants: ['AGG1'] }).check(agg1).allowed, false);
  });

  it('anyCertifiedPeer admits everyone, only when written out', () => {
    assert.equal(new AllowList({ anyCertifiedPeer: true }).check(gw).allowed, true);
  });

  it('rejects malformed entries with the entry named', () => {
    assert.throws(() => new AllowList({ participants: ['king:X'] }), /"king:X"/);
    assert.throws(() => new AllowList({ participants: ['bad id'] }), /"bad id"/);
    assert.throws(() => new AllowList({ roles: ['king'] }), /role "king"/);
    assert.throws(() => new AllowList({ fingerprints: ['zz'] }), /fingerprint "zz"/);
  });
});
