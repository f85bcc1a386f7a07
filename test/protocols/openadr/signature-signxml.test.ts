/**
 * Signatures in the forms other OpenADR implementations write, checked without Python:
 *  - payloads signed by the real signxml through openleadr-python (./signxml-fixtures, made once by
 *    ./interop/make_signxml_fixtures.py): the ReplayProtect reference designates the ds:Object,
 *    inclusive or exclusive c14n (with an InclusiveNamespaces PrefixList, with comments), RSA-SHA256
 *    and ECDSA-SHA256 as r||s;
 *  - payloads signed here with xml-crypto whose ReplayProtect reference designates the
 *    ds:SignatureProperty, the ds:SignatureProperties or the ds:Object;
 * each accepted as it is and refused after every wrapping move we know for its form.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { ManualClock } from '../../../src/core/clock.js';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { OadrError } from '../../../src/protocols/openadr/errors.js';
import { NonceCache, openadrFingerprint, verifyPayload } from '../../../src/protocols/openadr/signature.js';
import { encodePayload } from '../../../src/protocols/openadr/payload.js';
import { samples } from './fixtures.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

// Fixtures stay in test/ (tsc only compiles .ts); resolve them from the compiled file's location.
const fixtureDir = join(fileURLToPath(new URL('.', import.meta.url)).replace(/\/(?:dist|\.build\/[^/]+)\/test\//, '/test/'), 'signxml-fixtures');
const fixture = (name: string): string => readFileSync(join(fixtureDir, name), 'utf8');
const RSA_PEM = fixture('signer-rsa.pem');
const EC_PEM = fixture('signer-ec.pem');
const FIXTURES: { name: string; cert: string; type: string }[] = [
  { name: 'openleadr-rsa-poll.xml', cert: RSA_PEM, type: 'oadrPoll' },
  { name: 'openleadr-rsa-createdEvent.xml', cert: RSA_PEM, type: 'oadrCreatedEvent' },
  { name: 'signxml-ecdsa-exc-prefixlist-createdEvent.xml', cert: EC_PEM, type: 'oadrCreatedEvent' },
  { name: 'signxml-rsa-exc-comments-poll.xml', cert: RSA_PEM, type: 'oadrPoll' },
];

/** A clock at the payload's own ReplayProtect timestamp, so a committed fixture stays fresh. */
const clockAt = (xml: string): ManualClock => new ManualClock(Date.parse(/<dsp:timestamp>([^<]+)</.exec(xml)?.[1] ?? 'x'));
const check = (xml: string, cert: string, nonces = new NonceCache(300_000)) => verifyPayload(xml, { signerCertificatePem: cert, clock: clockAt(xml), nonces });

function refused(xml: string, cert: string, pattern: RegExp): void {
  try {
    check(xml, cert);
  } catch (err) {
    assert.ok(err instanceof OadrError, String(err));
    assert.equal(err.responseCode, 463, err.message);
    assert.match(err.message, pattern);
    return;
  }
  assert.fail(`expected a refusal matching ${pattern}`);
}

/** The ds:Object that signxml writes, as a string, and the document without it. */
const objectOf = (xml: string): string => /<ds:Object Id="prop">[^]*?<\/ds:Object>/.exec(xml)?.[0] ?? assert.fail('no ds:Object');
const signedObjectOf = (xml: string): string => /<oadr:oadrSignedObject[^]*<\/oadr:oadrSignedObject>/.exec(xml)?.[0] ?? assert.fail('no oadrSignedObject');

test('payloads signed by the real signxml (openleadr-python) verify: reference to the ds:Object, RSA and ECDSA, inclusive and exclusive c14n', () => {
  for (const f of FIXTURES) {
    const xml = fixture(f.name);
    assert.match(xml, /<ds:Reference URI="#prop">/, `${f.name} references the ds:Object`);
    const v = check(xml, f.cert);
    assert.equal(v.message.type, f.type, f.name);
    assert.equal((v.message as { venID?: string }).venID, 'ven-1', f.name);
    assert.equal(v.signer.fingerprint, openadrFingerprint(f.cert));
    assert.match(v.signedObjectXml, /^<oadr:oadrSignedObject/);
    assert.match(v.nonce, /^[0-9a-f]{32}$/);
  }
  const ev = check(fixture('openleadr-rsa-createdEvent.xml'), RSA_PEM).message;
  assert.equal(ev.type === 'oadrCreatedEvent' && ev.eventResponses?.[0]?.optType, 'optIn');
});

test('signxml payloads: tampering, the wrong signer, a replay and weaker algorithms are refused', () => {
  for (const f of FIXTURES) {
    const xml = fixture(f.name);
    refused(xml.replace('<ei:venID>ven-1</ei:venID>', '<ei:venID>ven-2</ei:venID>'), f.cert, /digest|differs/);
    refused(xml.replace(/<dsp:nonce>[0-9a-f]+</, '<dsp:nonce>00000000000000000000000000000000<'), f.cert, /digest/);
    refused(xml.replace(/(<dsp:timestamp>[^<]*?)(\d)(Z<)/, (_m, a: string, d: string, z: string) => `${a}${(Number(d) + 1) % 10}${z}`), f.cert, /digest/);
    const other = f.cert === RSA_PEM ? EC_PEM : RSA_PEM;
    refused(xml, other, /does not fit/);
    const nonces = new NonceCache(300_000);
    check(xml, f.cert, nonces);
    assert.throws(() => check(xml, f.cert, nonces), /replay/);
    refused(xml.replace(/xmldsig-more#(rsa|ecdsa)-sha256/, 'xmldsig#$1-sha1'), f.cert, /signature method .* is not allowed/);
    refused(xml.replace(/(<ds:DigestMethod Algorithm=")[^"]+/, '$1http://www.w3.org/2000/09/xmldsig#sha1'), f.cert, /digest method .* is not allowed/);
    refused(xml.replace(/(<ds:Reference URI="#prop"><ds:Transforms><ds:Transform Algorithm=")[^"]+"/, '$1http://www.w3.org/TR/1999/REC-xpath-19991116"'), f.cert, /canonicalization .* is not allowed/);
  }
  // ECDSA: signxml writes r||s (XML Signature 1.1 §6.4.3); the same value DER-encoded is refused.
  const ec = fixture('signxml-ecdsa-exc-prefixlist-createdEvent.xml');
  const raw = Buffer.from(/<ds:SignatureValue>([^<]+)/.exec(ec)?.[1] ?? '', 'base64');
  assert.equal(raw.length, 64, 'P-256 r||s');
  const int = (b: Buffer): Buffer => { let i = 0; while (i < b.length - 1 && b[i] === 0 && (b[i + 1] as number) < 0x80) i++; const t = b.subarray(i); return (t[0] as number) >= 0x80 ? Buffer.concat([Buffer.from([0]), t]) : t; };
  const r = int(raw.subarray(0, 32));
  const s = int(raw.subarray(32));
  const der = Buffer.concat([Buffer.from([0x30, r.length + s.length + 4, 0x02, r.length]), r, Buffer.from([0x02, s.length]), s]);
  refused(ec.replace(/<ds:SignatureValue>[^<]+/, `<ds:SignatureValue>${der.toString('base64')}`), EC_PEM, /signature value .* is incorrect/);
});

test('signxml payloads: wrapping moves around the ds:Object and the signed object are refused', () => {
  for (const f of FIXTURES) {
    const xml = fixture(f.name);
    const obj = objectOf(xml);
    const fresh = (o: string): string => o.replace(/<dsp:nonce>[0-9a-f]+</, '<dsp:nonce>ffffffffffffffffffffffffffffffff<');
    // 1. the signed ds:Object moved out of the signature (into KeyInfo), where xml-crypto still finds it by Id
    refused(xml.replace(obj, '').replace('</ds:X509Data></ds:KeyInfo>', `</ds:X509Data>${obj}</ds:KeyInfo>`), f.cert, /does not designate a ds:Object of the ds:Signature/);
    // 2. a duplicated Id: an evil copy with a fresh nonce before the signed one
    refused(xml.replace(obj, fresh(obj) + obj), f.cert, /Id "prop" is carried by 2 elements/);
    // 3. an extra SignatureProperty with a fresh ReplayProtect outside the signed subtree (its own ds:Object)
    refused(xml.replace(obj, obj + fresh(obj).replace('Id="prop"', 'Id="evil"').replace('Id="myid"', 'Id="evil2"')), f.cert, /exactly one dsp:ReplayProtect in the payload, found 2/);
    // 4. ... or inside the signed ds:Object's SignatureProperties, but not in the signed bytes (digest)
    const extraProp = /<ds:SignatureProperty [^]*<\/ds:SignatureProperty>/.exec(fresh(obj))?.[0].replace('Id="myid"', 'Id="evil2"') ?? '';
    refused(xml.replace('</ds:SignatureProperties>', `${extraProp}</ds:SignatureProperties>`), f.cert, /exactly one dsp:ReplayProtect/);
    // 5. the ReplayProtect moved out of the referenced ds:Object into an unreferenced one
    const rp = /<dsp:ReplayProtect[^]*<\/dsp:ReplayProtect>/.exec(obj)?.[0] ?? '';
    refused(xml.replace(obj, obj.replace(rp, '') + `<ds:Object><ds:SignatureProperties><ds:SignatureProperty Target="#x">${rp}</ds:SignatureProperty></ds:SignatureProperties></ds:Object>`), f.cert, /outside the element its reference designates/);
    // 6. classic wrapping: the signed oadrSignedObject hidden in a ds:Object of the signature, an evil one processed
    const so = signedObjectOf(xml);
    const evil = so.replace(/ oadr:Id="oadrSignedObject"/, '').replace('<ei:venID>ven-1</ei:venID>', '<ei:venID>ven-666</ei:venID>');
    refused(xml.replace(so, evil).replace('</ds:Signature>', `<ds:Object>${so}</ds:Object></ds:Signature>`), f.cert, /oadrSignedObject has no Id|no reference/);
    // 7. ... or the evil one carrying the same Id
    refused(xml.replace(so, evil.replace('<oadr:oadrSignedObject', '<oadr:oadrSignedObject oadr:Id="oadrSignedObject"')).replace('</ds:Signature>', `<ds:Object>${so}</ds:Object></ds:Signature>`), f.cert, /carried by 2 elements/);
    // 8. the ds:Object reference pointed at the oadrSignedObject too (two references to one element)
    refused(xml.replace('URI="#prop"', 'URI="#oadrSignedObject"'), f.cert, /does not designate/);
    // the unmodified fixture still verifies: the refusals above were the attacks
    assert.ok(check(xml, f.cert));
  }
});

// ------------------------------------------------------------ forms signed here with xml-crypto

let rsa: IssuedCertificate;
let ec: IssuedCertificate;
let world: PkiWorld<'rsa' | 'ec'> | undefined;
before(async () => {
  world = await pkiWorld({ rsa: { role: 'aggregator', id: 'AGG1', algorithm: 'rsa' }, ec: 'aggregator:AGG2' }, { prefix: 'erab-signxml-' });
  ({ rsa, ec } = world.certs);
});
after(() => world?.close());

const ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256';
/** ECDSA-SHA256 signing for xml-crypto, value as r||s (XML Signature 1.1 §6.4.3). */
class EcdsaP1363 {
  getSignature(signedInfo: string, key: KeyObject): string {
    return cryptoSign('sha256', Buffer.from(signedInfo), { key, dsaEncoding: 'ieee-p1363' }).toString('base64');
  }
  getAlgorithmName(): string {
    return ECDSA_SHA256;
  }
}
type Target = 'SignatureProperty' | 'SignatureProperties' | 'Object';

/**
 * Signs our oadrPoll with xml-crypto, the ReplayProtect reference designating `target`, the
 * canonicalization `c14n` for SignedInfo and both references. An independent signer for the
 * forms signxml does not write.
 */
function signWith(cert: IssuedCertificate, target: Target, c14n: string, clock: ManualClock): string {
  const ts = new Date(clock.now()).toISOString();
  const ids: Record<Target, string> = { Object: '', SignatureProperties: '', SignatureProperty: '' };
  ids[target] = ` Id="rp-${target}"`;
  const content = `<ds:SignatureProperties${ids.SignatureProperties}><ds:SignatureProperty${ids.SignatureProperty} Target="#sig">` +
    `<dsp:ReplayProtect xmlns:dsp="http://openadr.org/oadr-2.0b/2012/07/xmldsig-properties"><dsp:timestamp>${ts}</dsp:timestamp>` +
    `<dsp:nonce>n-${target}-${c14n.length}-${cert.identity.id}</dsp:nonce></dsp:ReplayProtect></ds:SignatureProperty></ds:SignatureProperties>`;
  const key = createPrivateKey(cert.keyPem);
  const ecdsa = key.asymmetricKeyType === 'ec';
  const sx = new SignedXml({
    privateKey: key, publicCert: cert.certPem, canonicalizationAlgorithm: c14n,
    signatureAlgorithm: ecdsa ? ECDSA_SHA256 : 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    getKeyInfoContent: SignedXml.getKeyInfoContent,
    objects: [{ content, attributes: target === 'Object' ? { Id: 'rp-Object' } : {} }],
  });
  if (ecdsa) (sx.SignatureAlgorithms as Record<string, unknown>)[ECDSA_SHA256] = EcdsaP1363;
  sx.addReference({ xpath: `/*/*[local-name(.)='oadrSignedObject']`, digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256', transforms: [c14n], uri: '#oadrSignedObject' });
  sx.addReference({ xpath: `//*[@Id='rp-${target}']`, digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256', transforms: [c14n], uri: `#rp-${target}` });
  sx.computeSignature(encodePayload(samples.oadrPoll), { prefix: 'ds', location: { reference: `/*/*[local-name(.)='oadrSignedObject']`, action: 'before' } });
  return sx.getSignedXml();
}

const C14NS = [
  'http://www.w3.org/2001/10/xml-exc-c14n#',
  'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments',
];

test('the ReplayProtect reference may designate the ds:SignatureProperty, the ds:SignatureProperties or the ds:Object, with any allowed c14n', () => {
  const clock = new ManualClock();
  for (const cert of [rsa, ec]) {
    for (const target of ['SignatureProperty', 'SignatureProperties', 'Object'] as const) {
      for (const c14n of C14NS) {
        const xml = signWith(cert, target, c14n, clock);
        assert.match(xml, new RegExp(`<ds:Reference URI="#rp-${target}">`));
        const v = verifyPayload(xml, { signerCertificatePem: cert.certPem, clock, nonces: new NonceCache(300_000) });
        assert.equal(v.message.type, 'oadrPoll', `${target} ${c14n}`);
        assert.equal(v.nonce, `n-${target}-${c14n.length}-${cert.identity.id}`);
      }
    }
  }
});

test('each reference form refuses: a moved Object, a duplicated Id, an extra SignatureProperty outside the signed subtree', () => {
  const clock = new ManualClock();
  const opts = (cert: IssuedCertificate) => ({ signerCertificatePem: cert.certPem, clock, nonces: new NonceCache(300_000) });
  const no = (xml: string, cert: IssuedCertificate, pattern: RegExp): void => {
    assert.throws(() => verifyPayload(xml, opts(cert)), (e: unknown) => e instanceof OadrError && e.responseCode === 463 && pattern.test(e.message), pattern.source);
  };
  for (const cert of [rsa, ec]) {
    for (const target of ['SignatureProperty', 'SignatureProperties', 'Object'] as const) {
      const xml = signWith(cert, target, C14NS[0] as string, clock);
      const obj = /<ds:Object[^]*<\/ds:Object>/.exec(xml)?.[0] ?? assert.fail('no ds:Object');
      const fresh = (o: string): string => o.replace(/<dsp:nonce>[^<]+</, '<dsp:nonce>fresh<');
      const el = new RegExp(`<ds:${target}[ >][^]*</ds:${target}>`).exec(obj)?.[0] ?? assert.fail(`no ${target}`);
      // the designated element moved out of the signature's ds:Object (into KeyInfo)
      no(xml.replace(el, '').replace('</ds:KeyInfo>', `${el}</ds:KeyInfo>`), cert, /does not designate|exactly one dsp:ReplayProtect|outside/);
      // the whole ds:Object moved after the signed object, out of the signature
      assert.throws(() => verifyPayload(xml.replace(obj, '').replace('</oadr:oadrPayload>', `${obj}</oadr:oadrPayload>`), opts(cert)), OadrError);
      // a duplicated Id on an evil copy with a fresh nonce
      no(xml.replace(obj, fresh(obj).replace(/<ds:Object>/, '<ds:Object Id="x">') + obj), cert, /carried by 2 elements/);
      // an extra SignatureProperty with a fresh ReplayProtect in another ds:Object (outside the signed subtree)
      no(xml.replace(obj, obj + fresh(obj).replace(/ Id="rp-[A-Za-z]+"/, '')), cert, /exactly one dsp:ReplayProtect/);
      // the designated element emptied, its ReplayProtect moved to an unreferenced SignatureProperty beside it
      const rp = /<dsp:ReplayProtect[^]*<\/dsp:ReplayProtect>/.exec(xml)?.[0] ?? '';
      if (target === 'SignatureProperty') {
        no(xml.replace(rp, '').replace('</ds:SignatureProperties>', `<ds:SignatureProperty Target="#sig">${rp}</ds:SignatureProperty></ds:SignatureProperties>`), cert, /outside the element its reference designates/);
      }
      assert.equal(verifyPayload(xml, opts(cert)).message.type, 'oadrPoll', `${target} unmodified`);
    }
  }
});
