/**
 * `npm run bench -- openadr-codec [--seconds S]`: OpenADR 2.0b payloads parsed (hardened parse +
 * namespace resolution + typed decode) and serialized per second on one core, for the hot poll
 * path, a two-event oadrDistributeEvent and a telemetry oadrUpdateReport; plus XML signature
 * sign/verify rates (ECDSA P-256). Sample payloads are the conformance fixtures.
 */
import { performance } from 'node:perf_hooks';
import { XMLParser } from 'fast-xml-parser';
import { parseXml } from '../src/protocols/openadr/xml.js';
import { ManualClock } from '../src/core/clock.js';
import { decodePayload, encodePayload, type OadrMessage } from '../src/protocols/openadr/payload.js';
import { NonceCache, signPayload, verifyPayload } from '../src/protocols/openadr/signature.js';
import { CertificateAuthority } from '../src/security/pki/index.js';
import { samples } from '../test/protocols/openadr/fixtures.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const seconds = arg('seconds', 1.5);

function rate(fn: () => void): { perSec: number; usPerOp: number } {
  for (let i = 0; i < 200; i++) fn(); // warm-up
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    now = performance.now();
  }
  const ms = now - t0;
  return { perSec: (n / ms) * 1000, usPerOp: (ms * 1000) / n };
}

const cases: [string, OadrMessage][] = [
  ['oadrPoll', samples.oadrPoll],
  ['oadrResponse', samples.oadrResponse],
  ['oadrDistributeEvent (2 events)', samples.oadrDistributeEvent],
  ['oadrUpdateReport (telemetry)', samples.oadrUpdateReport],
  ['oadrRegisterReport (METADATA)', samples.oadrRegisterReport],
];

console.log(`OpenADR 2.0b codec, ${seconds}s per figure, node ${process.version}`);
console.log('payload                          bytes   parse/s  (µs)   serialize/s  (µs)');
for (const [name, m] of cases) {
  const xml = encodePayload(m);
  const buf = Buffer.from(xml);
  const p = rate(() => { decodePayload(buf); });
  const s = rate(() => { encodePayload(m); });
  console.log(`${name.padEnd(32)} ${String(buf.length).padStart(5)} ${Math.round(p.perSec).toString().padStart(9)} ${p.usPerOp.toFixed(1).padStart(6)} ${Math.round(s.perSec).toString().padStart(12)} ${s.usPerOp.toFixed(1).padStart(6)}`);
}

// Why xml.ts has its own single-pass parser: the same documents through fast-xml-parser
// (entities off, ordered tree, no namespace resolution or typed decode) versus our whole parse.
const fxp = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, processEntities: false, htmlEntities: false });
for (const [name, m] of [cases[0], cases[2]] as [string, OadrMessage][]) {
  const xml = encodePayload(m);
  const ours = rate(() => { parseXml(xml); });
  const theirs = rate(() => { fxp.parse(xml); });
  console.log(`tree only, ${name}: ours ${Math.round(ours.perSec)}/s (${ours.usPerOp.toFixed(1)} µs) vs fast-xml-parser ${Math.round(theirs.perSec)}/s (${theirs.usPerOp.toFixed(1)} µs)`);
}

const ca = await CertificateAuthority.create();
const cert = await ca.issue({ role: 'tso', id: 'BENCH' });
const key = { privateKeyPem: cert.keyPem, certificatePem: cert.certPem };
const clock = new ManualClock();
const signed = signPayload(samples.oadrDistributeEvent, key, { clock });
let k = 0;
const sg = rate(() => { signPayload(samples.oadrPoll, key, { clock }); });
const nonces = new NonceCache(300_000, 10_000_000);
const signedPolls: string[] = [];
for (let i = 0; i < 4000; i++) signedPolls.push(signPayload(samples.oadrPoll, key, { clock }));
const vf = rate(() => { verifyPayload(signedPolls[k++ % signedPolls.length] as string, { signerCertificatePem: cert.certPem, clock, nonces: new NonceCache(300_000) }); });
console.log(`XML signature (ECDSA P-256, exc-c14n, SHA-256): sign oadrPoll ${Math.round(sg.perSec)}/s (${sg.usPerOp.toFixed(0)} µs), verify ${Math.round(vf.perSec)}/s (${vf.usPerOp.toFixed(0)} µs); signed distribute ${signed.length} bytes`);
void nonces;
