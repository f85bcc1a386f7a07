/**
 * A fleet of gateway certificates, fast: our CA issues one template certificate the normal way
 * (src/security/pki), then each gateway gets its own ECDSA P-256 key and a copy of the template
 * with its id, serial, public key and key identifier patched in (all fixed-length fields) and the
 * TBSCertificate signed again by the CA key. ~0.3 ms per gateway instead of ~10 ms through
 * @peculiar/x509, so 100,000 gateways take seconds, not a quarter of an hour. The set is cached
 * on disk between runs (it is test material: the CA key sits in the cache file).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FleetCreds {
  caPem: string;
  caKeyPem: string;
  server: { certPem: string; keyPem: string };
  gateways: { id: string; certPem: string; keyPem: string }[];
}

/** Gateway ids are fixed width, so every certificate has the template's layout. */
export const gatewayId = (i: number): string => `gw-${String(i).padStart(7, '0')}`;

const pem = (der: Buffer, label: string): string => `-----BEGIN ${label}-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
const unpem = (p: string): Buffer => Buffer.from(p.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');

/** DER length bytes. */
function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const seq = (...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x30]), derLen(body.length), body]);
};

/** [start, end) of the element at `at` (tag, length, contents). */
function element(der: Buffer, at: number): { start: number; contentStart: number; end: number } {
  let p = at + 1;
  let len = der[p++] as number;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | (der[p++] as number);
  }
  return { start: at, contentStart: p, end: p + len };
}

function replaceAll(buf: Buffer, from: Buffer, to: Buffer): number {
  if (from.length !== to.length) throw new Error('patch must keep the length');
  let n = 0;
  for (let i = buf.indexOf(from); i >= 0; i = buf.indexOf(from, i + to.length)) {
    to.copy(buf, i);
    n++;
  }
  return n;
}

/** Issues `count` gateway certificates (ids gatewayId(0..count-1)) from a template. */
export async function issueFleet(count: number, log: (s: string) => void = () => {}): Promise<FleetCreds> {
  const { CertificateAuthority } = await import('../../src/security/pki/index.js');
  const ca = await CertificateAuthority.create();
  const server = await ca.issue({ role: 'aggregator', id: 'BENCH-AGG' });
  const templateId = gatewayId(9_999_999);
  const template = await ca.issue({ role: 'gateway', id: templateId });
  const caKey = createPrivateKey(ca.exportKeyPem());
  const der = unpem(template.certPem);
  const outer = element(der, 0);
  const tbsEl = element(der, outer.contentStart);
  const tbs0 = der.subarray(tbsEl.start, tbsEl.end);
  const sigAlgEl = element(der, tbsEl.end);
  const sigAlg = der.subarray(sigAlgEl.start, sigAlgEl.end);
  const tplSpki = createPublicKey(template.certPem).export({ type: 'spki', format: 'der' });
  const tplPoint = tplSpki.subarray(tplSpki.length - 65);
  const tplSki = createHash('sha1').update(tplPoint).digest();
  const tplSerial = Buffer.from(template.serial, 'hex');
  const gateways: FleetCreds['gateways'] = [];
  const t0 = Date.now();
  for (let i = 0; i < count; i++) {
    const id = gatewayId(i);
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
    const point = spki.subarray(spki.length - 65);
    const tbs = Buffer.from(tbs0);
    const serial = randomBytes(tplSerial.length);
    serial[0] = ((serial[0] as number) & 0x6f) | 0x10;
    if (replaceAll(tbs, Buffer.from(templateId), Buffer.from(id)) < 2) throw new Error('template id not found twice (CN and SAN)');
    if (replaceAll(tbs, tplSerial, serial) !== 1) throw new Error('template serial not found');
    if (replaceAll(tbs, tplPoint, point) !== 1) throw new Error('template public key not found');
    replaceAll(tbs, tplSki, createHash('sha1').update(point).digest());
    const sig = sign('sha256', tbs, caKey);
    const cert = seq(tbs, sigAlg, Buffer.concat([Buffer.from([0x03]), derLen(sig.length + 1), Buffer.from([0]), sig]));
    gateways.push({ id, certPem: pem(cert, 'CERTIFICATE'), keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
    if (i > 0 && i % 20_000 === 0) log(`  ${i} certificates (${((Date.now() - t0) / i).toFixed(2)} ms each)`);
  }
  // One check through the real X.509 parser: signed by our CA, names the gateway.
  const first = gateways[0];
  if (first) {
    const x = new X509Certificate(first.certPem);
    if (!x.verify(createPublicKey(ca.certPem)) || !x.subject.includes(gatewayId(0))) throw new Error('patched certificate does not verify');
  }
  return { caPem: ca.certPem, caKeyPem: ca.exportKeyPem(), server: { certPem: server.certPem, keyPem: server.keyPem }, gateways };
}

/** The cached fleet of at least `count` gateways, or a new one (then cached). */
export async function fleetCreds(count: number, log: (s: string) => void): Promise<{ creds: FleetCreds; cached: boolean; ms: number }> {
  const dir = process.env.ERAB_BENCH_CACHE ?? join(tmpdir(), 'erab-bench-fleet');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const size of [count, 1_000_000, 100_000, 10_000, 2_000]) {
    const file = join(dir, `certs-${size}.json`);
    if (size >= count && existsSync(file)) {
      const t = Date.now();
      const creds = JSON.parse(readFileSync(file, 'utf8')) as FleetCreds;
      if (creds.gateways.length >= count && new X509Certificate(creds.caPem).validTo && Date.parse(new X509Certificate(creds.caPem).validTo) > Date.now() + 86_400_000) {
        return { creds: { ...creds, gateways: creds.gateways.slice(0, count) }, cached: true, ms: Date.now() - t };
      }
    }
  }
  const t = Date.now();
  const creds = await issueFleet(count, log);
  writeFileSync(join(dir, `certs-${count}.json`), JSON.stringify(creds), { mode: 0o600 });
  return { creds, cached: false, ms: Date.now() - t };
}
