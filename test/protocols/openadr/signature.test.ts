import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { OadrError } from '../../../src/protocols/openadr/errors.js';
import { NonceCache, openadrFingerprint, signPayload, verifyPayload } from '../../../src/protocols/openadr/signature.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import { samples } from './fixtures.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

let ecVtn: IssuedCertificate;
let rsaVtn: IssuedCertificate;
let other: IssuedCertificate;

let world: PkiWorld<'ecVtn' | 'rsaVtn' | 'other'> | undefined;
before(async () => {
  world = await pkiWorld({ ecVtn: 'tso:TSO1', rsaVtn: { role: 'aggregator', id: 'AGG1', algorithm: 'rsa' }, other: 'tso:EVIL' }, { prefix: 'erab-signature-' });
  ({ ecVtn, rsaVtn, other } = world.certs);
});
after(() => world?.close());

const key = (c: IssuedCertificate) => ({ privateKeyPem: c.keyPem, certificatePem: c.certPem });

function refused(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OadrError, String(err));
    assert.equal(err.responseCode, 463, err.message);
    assert.match(err.message, pattern);
    return;
  }
  assert.fail('expected a refusal');
}

test('signs every payload type (ECDSA and RSA) and verify returns what was signed and by whom', () => {
  const clock = new ManualClock();
  const nonces = new NonceCache(300_000);
  for (const cert of [ecVtn, rsaVtn]) {
    for (const m of Object.values(samples)) {
      const xml = signPayload(m, key(cert), { clock });
      assert.ok(decodePayload(xml).hasSignature);
      const v = verifyPayload(xml, { signerCertificatePem: cert.certPem, clock, nonces });
      assert.deepEqual(v.message, m);
      assert.equal(v.signer.fingerprint, openadrFingerprint(cert.certPem));
      assert.equal(v.signer.fingerprint, cert.identity.fingerprint);
      assert.equal(v.timestamp, clock.now());
      assert.match(v.signedObjectXml, /^<oadr:oadrSignedObject/);
    }
  }
  const xml = signPayload(samples.oadrDistributeEvent, key(ecVtn), { clock });
  assert.match(xml, /<ds:Signature[^>]*><ds:SignedInfo>/);
  assert.match(xml, /Algorithm="http:\/\/www.w3.org\/2001\/04\/xmldsig-more#ecdsa-sha256"/);
  assert.match(xml, /<ds:Reference URI="#oadrSignedObject">/);
  assert.match(xml, /<dsp:ReplayProtect xmlns:dsp="http:\/\/openadr.org\/oadr-2.0b\/2012\/07\/xmldsig-properties"><dsp:timestamp>/);
  assert.ok(xml.indexOf('<ds:Signature') < xml.indexOf('<oadr:oadrSignedObject'));
});

test('wrong signer certificate, tampered content and replays are refused', () => {
  const clock = new ManualClock();
  const nonces = new NonceCache(300_000);
  const xml = signPayload(samples.oadrDistributeEvent, key(ecVtn), { clock });
  refused(() => verifyPayload(xml, { signerCertificatePem: other.certPem, clock, nonces: new NonceCache(300_000) }), /signature/);
  const tampered = xml.replace('<ei:value>120</ei:value>', '<ei:value>9999</ei:value>');
  refused(() => verifyPayload(tampered, { signerCertificatePem: ecVtn.certPem, clock, nonces: new NonceCache(300_000) }), /digest|signature|validate/i);
  verifyPayload(xml, { signerCertificatePem: ecVtn.certPem, clock, nonces });
  refused(() => verifyPayload(xml, { signerCertificatePem: ecVtn.certPem, clock, nonces }), /replay/);
  // too old / from the future
  const late = new ManualClock(clock.now() + 10 * 60_000);
  refused(() => verifyPayload(xml, { signerCertificatePem: ecVtn.certPem, clock: late, nonces: new NonceCache(300_000) }), /outside/);
  const early = new ManualClock(clock.now() - 10 * 60_000);
  refused(() => verifyPayload(xml, { signerCertificatePem: ecVtn.certPem, clock: early, nonces: new NonceCache(300_000) }), /outside/);
  // unsigned payload
  refused(() => verifyPayload(xml.replace(/<ds:Signature[^]*<\/ds:Signature>/, ''), { signerCertificatePem: ecVtn.certPem, clock, nonces }), /not signed/);
  // the KeyInfo certificate is never trusted: a message signed by EVIL with EVIL's cert in KeyInfo fails against TSO1
  const evil = signPayload(samples.oadrDistributeEvent, key(other), { clock });
  refused(() => verifyPayload(evil, { signerCertificatePem: ecVtn.certPem, clock, nonces: new NonceCache(300_000) }), /signature/);
});

test('signature wrapping variants are refused', () => {
  const clock = new ManualClock();
  const fresh = () => new NonceCache(300_000);
  const opts = () => ({ signerCertificatePem: ecVtn.certPem, clock, nonces: fresh() });
  const signed = signPayload(samples.oadrPoll, key(ecVtn), { clock });
  const sigEnd = signed.indexOf('</ds:Signature>') + '</ds:Signature>'.length;
  const sigStart = signed.indexOf('<ds:Signature');
  const signature = signed.slice(sigStart, sigEnd);
  const original = signed.slice(sigEnd, signed.indexOf('</oadr:oadrPayload>'));
  const head = signed.slice(0, sigStart);
  const evilObject = original.replace('<ei:venID>ven-1</ei:venID>', '<ei:venID>ven-666</ei:venID>');

  // 1. evil object carries the same Id, original moved into a ds:Object inside the signature
  const w1 = head + signature.replace('</ds:Signature>', `<ds:Object>${original}</ds:Object></ds:Signature>`) + evilObject + '</oadr:oadrPayload>';
  assert.throws(() => verifyPayload(w1, opts()), (e: unknown) => e instanceof OadrError);
  // 2. evil object without Id, original hidden in a ds:Object
  const w2 = head + signature.replace('</ds:Signature>', `<ds:Object>${original}</ds:Object></ds:Signature>`) +
    evilObject.replace(' oadr:Id="oadrSignedObject"', '') + '</oadr:oadrPayload>';
  refused(() => verifyPayload(w2, opts()), /Id|not unique|no reference/);
  // 3. original hidden inside the evil payload's message element (unknown child ignored by the decoder)
  const w3 = head + signature + evilObject.replace(' oadr:Id="oadrSignedObject"', '').replace('</oadr:oadrPoll>', `${original}</oadr:oadrPoll>`) + '</oadr:oadrPayload>';
  refused(() => verifyPayload(w3, opts()), /Id|not unique|no reference/);
  // 4. two signed objects side by side
  const w4 = head + signature + original + evilObject.replace(' oadr:Id="oadrSignedObject"', '') + '</oadr:oadrPayload>';
  assert.throws(() => verifyPayload(w4, opts()), (e: unknown) => e instanceof OadrError);
  // 5. Id moved to another attribute flavour (ID) on the evil object, original signed object kept deeper
  const w5 = head + signature + evilObject.replace('oadr:Id=', 'ID=') + '</oadr:oadrPayload>';
  refused(() => verifyPayload(w5, opts()), /Id|not unique|no reference/);
  // 6. a second signature smuggled inside the payload
  const w6 = head + signature + original.replace('</oadr:oadrPoll>', `${signature}</oadr:oadrPoll>`) + '</oadr:oadrPayload>';
  refused(() => verifyPayload(w6, opts()), /exactly one ds:Signature/);
  // 7. signature that references only the ReplayProtect (drop the signed-object reference)
  const w7 = signed.replace(/<ds:Reference URI="#oadrSignedObject">[^]*?<\/ds:Reference>/, '');
  refused(() => verifyPayload(w7, opts()), /references|reference/);
  // 8. the unmodified document still verifies (the variants above really were the attacks)
  assert.equal(verifyPayload(signed, opts()).message.type, 'oadrPoll');
});

test('our fast canonicalisation equals xml-crypto\'s exclusive c14n for every payload, and generic documents still sign', async () => {
  const { DOMParser } = await import('@xmldom/xmldom');
  const { ExclusiveCanonicalization } = await import('xml-crypto');
  const { c14nOwn } = await import('../../../src/protocols/openadr/signature.js');
  const { encodePayload } = await import('../../../src/protocols/openadr/payload.js');
  const excl = new ExclusiveCanonicalization();
  const tricky = { ...samples.oadrCreatePartyRegistration, venName: ' a\r\nb & <c> "d" \t ' } as typeof samples.oadrCreatePartyRegistration;
  for (const m of [...Object.values(samples), tricky]) {
    const xml = encodePayload(m);
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const so = doc.getElementsByTagNameNS('http://openadr.org/oadr-2.0b/2012/07', 'oadrSignedObject')[0];
    assert.ok(so);
    const theirs = excl.process(so as never, {}).toString();
    const start = xml.indexOf('<oadr:oadrSignedObject');
    const ours = c14nOwn(xml.slice(start, xml.length - '</oadr:oadrPayload>'.length));
    assert.equal(ours, theirs, m.type);
  }
  // the tricky VEN name survives signing and verification
  const clock = new ManualClock();
  const v = verifyPayload(signPayload(tricky, key(ecVtn), { clock }), { signerCertificatePem: ecVtn.certPem, clock, nonces: new NonceCache(300_000) });
  assert.equal((v.message as unknown as { venName?: string }).venName, 'a\nb & <c> "d"');
  // a document that is not our own serialization (other prefixes, whitespace) takes the xml-crypto path and verifies too
  const foreign = encodePayload(samples.oadrPoll).replace('<oadr:oadrSignedObject', '\n  <oadr:oadrSignedObject');
  const { signXml } = await import('../../../src/protocols/openadr/signature.js');
  const signed = signXml(foreign, key(rsaVtn), { clock });
  assert.equal(verifyPayload(signed, { signerCertificatePem: rsaVtn.certPem, clock, nonces: new NonceCache(300_000) }).message.type, 'oadrPoll');
});

test('fast verification of our own format computes exactly what xml-crypto computes, and refuses what it refuses', async () => {
  const { signatureChecks, signXml } = await import('../../../src/protocols/openadr/signature.js');
  const { encodePayload } = await import('../../../src/protocols/openadr/payload.js');
  const { createPublicKey } = await import('node:crypto');
  const clock = new ManualClock();
  for (const cert of [ecVtn, rsaVtn]) {
    const pub = createPublicKey(cert.certPem);
    for (const m of Object.values(samples)) {
      const xml = signPayload(m, key(cert), { clock });
      const fast = signatureChecks.verifyOwn(xml, pub);
      assert.ok(fast, `${m.type}: our own format takes the fast path`);
      assert.deepEqual(fast, signatureChecks.verifyGeneric(xml, pub), m.type);
    }
  }
  const pub = createPublicKey(ecVtn.certPem);
  const xml = signPayload(samples.oadrDistributeEvent, key(ecVtn), { clock });
  // Another signer's key, the other key type, a changed object, a changed ReplayProtect, a changed
  // SignedInfo (digest recomputed by the attacker) and a changed signature value: each refused.
  const refusedBoth = (doc: string, pattern: RegExp, k = pub): void => {
    refused(() => signatureChecks.verifyOwn(doc, k), pattern);
    assert.throws(() => signatureChecks.verifyGeneric(doc, k), (e: unknown) => e instanceof OadrError);
  };
  refusedBoth(xml, /signature value .* is incorrect/, createPublicKey(other.certPem));
  refused(() => signatureChecks.verifyOwn(xml, createPublicKey(rsaVtn.certPem)), /does not fit/);
  refusedBoth(xml.replace('<ei:value>120</ei:value>', '<ei:value>9999</ei:value>'), /digest/);
  refusedBoth(xml.replace(/<dsp:nonce>[0-9a-f]+<\/dsp:nonce>/, '<dsp:nonce>00</dsp:nonce>'), /digest/);
  const { createHash } = await import('node:crypto');
  const forged = xml.replace('<ei:value>120</ei:value>', '<ei:value>9999</ei:value>');
  const objStart = forged.indexOf('<oadr:oadrSignedObject');
  const { c14nOwn } = await import('../../../src/protocols/openadr/signature.js');
  const digest = createHash('sha256').update(c14nOwn(forged.slice(objStart, forged.length - '</oadr:oadrPayload>'.length))!).digest('base64');
  const withDigest = forged.replace(/(<ds:Reference URI="#oadrSignedObject">[^]*?<ds:DigestValue>)[^<]+/, `$1${digest}`);
  refusedBoth(withDigest, /signature value .* is incorrect/);
  refusedBoth(xml.replace(/<ds:SignatureValue>(.)/, (_m, c: string) => `<ds:SignatureValue>${c === 'A' ? 'B' : 'A'}`), /signature value .* is incorrect/);
  // Anything not in our exact format is left to xml-crypto (undefined), never half-checked.
  const foreign = signXml(encodePayload(samples.oadrPoll).replace('<oadr:oadrSignedObject', '\n  <oadr:oadrSignedObject'), key(ecVtn), { clock });
  assert.equal(signatureChecks.verifyOwn(foreign, pub), undefined);
  assert.equal(signatureChecks.verifyGeneric(foreign, pub).length, 2);
  assert.equal(signatureChecks.verifyOwn(xml.replace('<dsp:nonce>', '<dsp:nonce>&amp;'), pub), undefined);
});
