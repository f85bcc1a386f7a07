/**
 * The update package parser against malformed and hostile input: each is refused with an error
 * naming the input and the rule, before any content is used.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { buildManifest, compareVersions, MAX_PACKAGE_BYTES, openPackage, signPackage } from '../../../src/endpoints/openadr/update-package.js';
import type { StoredCertificate } from '../../../src/security/pki/store.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

let world: PkiWorld;
let signer: StoredCertificate;
let trust: Parameters<typeof openPackage>[1];
let good: string;

before(async () => {
  world = await pkiWorld({}, { prefix: 'erab-pkg-format-' });
  signer = await world.store.issue({ role: 'aggregator', id: 'AGG1', usage: 'code-signing' });
  trust = { cas: [new X509Certificate(world.caPem)], signer: { role: 'aggregator', id: 'AGG1' } };
  const files = new Map([['fw.bin', Buffer.from('image')]]);
  good = signPackage(buildManifest({ packageId: 'p', version: '1.2.3', target: { kind: 'device', deviceClass: 'battery' } }, files), files, signer);
});
after(() => world?.close());

const mutate = (fn: (p: Record<string, any>) => void): string => {
  const p = JSON.parse(good) as Record<string, any>;
  fn(p);
  return JSON.stringify(p);
};

test('a valid package opens; versions order numerically', () => {
  const p = openPackage(good, trust);
  assert.equal(p.manifest.version, '1.2.3');
  assert.equal(p.files.get('fw.bin')!.toString(), 'image');
  assert.ok(compareVersions('1.10', '1.9') > 0);
  assert.equal(compareVersions('2.0', '2.0.0'), 0);
});

test('malformed and hostile packages are refused with the rule they break', () => {
  const cases: [string, string, RegExp][] = [
    ['oversized', ' '.repeat(MAX_PACKAGE_BYTES + 1), /larger than 16777216 bytes/],
    ['not JSON', '{"format":', /update package is not valid JSON/],
    ['wrong format', mutate((p) => { p.format = 'zip'; }), /field format/],
    ['unknown field', mutate((p) => { p.extra = 1; }), /update package: field \(root\)/],
    ['version not numeric', mutate((p) => { p.manifest.version = '1.0-beta'; }), /manifest: field version: must be a dotted numeric version/],
    ['path in a file name', mutate((p) => { p.manifest.files[0].name = '../etc/passwd'; }), /field files\.0\.name: must be a relative path of plain names/],
    ['unsigned extra file', mutate((p) => { p.files['evil.sh'] = 'ZXZpbA=='; }), /file evil\.sh is not in the signed manifest/],
    ['missing file', mutate((p) => { delete p.files['fw.bin']; }), /file fw\.bin listed in the manifest is missing/],
    ['signature not a JWS', mutate((p) => { p.signature = 'abc'; }), /not a detached compact JWS/],
    ['alg none', mutate((p) => { const [, , s] = p.signature.split('.'); p.signature = `${Buffer.from('{"alg":"none","typ":"erab-update+jws","x5c":[]}').toString('base64url')}..${s}`; }), /signature algorithm none is not ES256/],
    ['wrong typ', mutate((p) => { const [h, , s] = p.signature.split('.'); const hd = JSON.parse(Buffer.from(h, 'base64url').toString()); hd.typ = 'erab-release+jws'; p.signature = `${Buffer.from(JSON.stringify(hd)).toString('base64url')}..${s}`; }), /signature type erab-release\+jws is not erab-update\+jws/],
  ];
  for (const [name, text, rule] of cases) assert.throws(() => openPackage(text, trust), rule, name);
});

test('a signer from a foreign CA is refused even when the signature is intact', async () => {
  const other = await pkiWorld({}, { prefix: 'erab-pkg-foreign-' });
  try {
    const foreign = await other.store.issue({ role: 'aggregator', id: 'AGG1', usage: 'code-signing' });
    const files = new Map([['fw.bin', Buffer.from('image')]]);
    const text = signPackage(buildManifest({ packageId: 'p', version: '9.0.0', target: { kind: 'device' } }, files), files, foreign);
    assert.throws(() => openPackage(text, trust), /is not issued by a trusted CA/);
  } finally {
    other.close();
  }
});
