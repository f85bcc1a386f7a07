/**
 * Interop with an independent OpenADR 2.0b implementation, openleadr-python, run beside ours as an
 * external peer over real mutual TLS (certificates from our CA):
 *   1. openleadr's VEN against our VTN: registration, event + optIn, TELEMETRY_USAGE reports;
 *   2. our VEN against openleadr's VTN: registration, event + optIn, reports;
 * each run twice: unsigned, and signed both ways with the real signxml (every payload either side
 * sends is signed, and each side verifies the other's and would drop what does not verify).
 * Runs only when ERAB_OPENLEADR_DIR points at an openleadr-python checkout (the folder holding
 * the `openleadr` package, tested at v0.5.34) and ERAB_PYTHON (default /usr/bin/python3) has
 * aiohttp, lxml, jinja2, apscheduler, xmltodict (Debian: python3-aiohttp python3-lxml
 * python3-jinja2 python3-apscheduler python3-xmltodict). The signed runs also need
 * ERAB_SIGNXML_DIR: a signxml checkout (v3.2.1, the version openleadr 0.5.34 pins; Debian:
 * python3-cryptography python3-openssl), put on PYTHONPATH; without it they skip and the unsigned
 * runs use ./interop/shim in its place. See the README developer section for the commands.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore } from '../../../src/store/store.js';
import { pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { startVenEndpoint } from '../../../src/endpoints/openadr/ven-endpoint.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';

const OPENLEADR = process.env.ERAB_OPENLEADR_DIR;
const SIGNXML = process.env.ERAB_SIGNXML_DIR;
const PYTHON = process.env.ERAB_PYTHON ?? '/usr/bin/python3';
// Sources stay in test/ (tsc only compiles .ts); resolve them from the compiled file's location.
const interopDir = (() => {
  const compiled = fileURLToPath(new URL('.', import.meta.url));
  const src = compiled.replace(/\/(?:dist|\.build\/[^/]+)\/test\//, '/test/');
  return join(src, 'interop');
})();

function skipReason(): string | undefined {
  if (!OPENLEADR) return 'set ERAB_OPENLEADR_DIR to an openleadr-python checkout to run the interop check';
  if (!existsSync(join(OPENLEADR, 'openleadr', '__init__.py'))) return `${OPENLEADR} has no openleadr package`;
  const r = spawnSync(PYTHON, ['-c', 'import aiohttp, lxml, jinja2, apscheduler, xmltodict'], { encoding: 'utf8' });
  if (r.status !== 0) return `${PYTHON} lacks openleadr's dependencies: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  return undefined;
}
const skip = skipReason();

function signedSkipReason(): string | undefined {
  if (skip) return skip;
  if (!SIGNXML) return 'set ERAB_SIGNXML_DIR to a signxml checkout (v3.2.1) to run the signed interop check';
  const r = spawnSync(PYTHON, ['-c', 'import signxml.verifier'], { encoding: 'utf8', env: pythonEnv(true) });
  if (r.status !== 0) return `${PYTHON} cannot import signxml from ${SIGNXML}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  return undefined;
}
/** The Python environment: the real signxml on PYTHONPATH for signed runs only. */
function pythonEnv(signed: boolean): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.PYTHONPATH;
  if (signed && SIGNXML) env.PYTHONPATH = SIGNXML;
  return env;
}
const signedSkip = signedSkipReason();

let dir = '';
let world: PkiWorld<'vtn' | 'ven' | 'ol-vtn' | 'ol-ven'> | undefined;
let ca: { certPem: string };
// Our side holds EC keys (we sign ECDSA-SHA256); openleadr's side RSA keys, because openleadr
// 0.5.34 configures signxml for RSA-SHA256 only. So each algorithm is verified by the other side.
let tso: IssuedCertificate;
let agg: IssuedCertificate;
let olVtn: IssuedCertificate;
let olVen: IssuedCertificate;
before(async () => {
  if (skip) return;
  world = await pkiWorld({
    vtn: 'tso:TSO1', ven: 'aggregator:AGG1',
    'ol-vtn': { role: 'tso', id: 'TSO1', algorithm: 'rsa' }, 'ol-ven': { role: 'aggregator', id: 'AGG1', algorithm: 'rsa' },
  }, { prefix: 'erab-openleadr-', flatFiles: true });
  dir = world.dir;
  ca = { certPem: world.caPem };
  ({ vtn: tso, ven: agg, 'ol-vtn': olVtn, 'ol-ven': olVen } = world.certs);
});

/** The OpenADR fingerprint (last 10 bytes of SHA-256 over the DER), as openleadr computes it. */
const fingerprintOf = (c: IssuedCertificate): string =>
  [...createHash('sha256').update(new X509Certificate(c.certPem).raw).digest().subarray(22)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

function python(script: string, args: string[], signed: boolean): ChildProcess & { out: string } {
  const p = spawn(PYTHON, [join(interopDir, script), OPENLEADR as string, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: pythonEnv(signed) }) as ChildProcess & { out: string };
  p.out = '';
  p.stdout?.on('data', (d: Buffer) => { p.out += d.toString(); });
  p.stderr?.on('data', (d: Buffer) => { p.out += d.toString(); });
  return p;
}

/** The kit's waitFor, showing the tail of the peer's output on timeout. */
const until = (what: string, cond: () => boolean | Promise<boolean>, log: () => string, ms = 120_000): Promise<unknown> =>
  waitFor(cond, { what, timeoutMs: ms, intervalMs: 100, context: () => log().slice(-3000) });

/** Lines of the peer's output that start with `word`. */
const lines = (out: string, word: string): string[] => out.split('\n').filter((l) => l.startsWith(`${word} `));
/** openleadr's own complaints about what we sent (logged at WARNING or above). */
const OPENLEADR_COMPLAINTS = /invalid signature|could not be parsed or validated|FingerprintMismatch|fingerprint was incorrect|did not match|Non-OK status|Traceback/i;

async function openleadrVenAgainstOurVtn(signed: boolean): Promise<void> {
  const store = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const audit = new MemoryAuditSink();
  const reports: string[] = [];
  const venCert = signed ? olVen : agg;
  const running = await startVtnEndpoint({
    vtnID: 'TSO1', material: await TlsMaterial.fromPem({ credentials: [{ certPem: tso.certPem, keyPem: tso.keyPem }], caPem: ca.certPem }),
    allowList: { participants: ['aggregator:AGG1'] }, audit, store,
    vtn: { pollFreqMs: 1000, hooks: { onReport: (_v, r) => reports.push(r.reportName ?? '') }, ...(signed ? { signatureMode: 'required' as const } : {}) },
  });
  const n = signed ? 'ol-ven' : 'ven';
  const ven = python('openleadr_ven.py', [`${running.url}/OpenADR2/Simple/2.0b`, join(dir, `${n}.pem`), join(dir, `${n}.key`), join(dir, 'ca.pem'), 'AGG1', ...(signed ? [fingerprintOf(tso)] : [])], signed);
  try {
    await until('openleadr registered', () => running.vtn.registration('AGG1') !== undefined, () => ven.out);
    assert.equal(running.vtn.registration('AGG1')?.fingerprint, venCert.identity.fingerprint);
    await running.vtn.createEvent({
      eventID: 'erab-1', marketContext: 'http://tso1/tertiary2',
      activePeriod: { dtstart: (Date.now() + 120_000) as EpochMillis, duration: (1_800_000) as Millis },
      signals: [{ signalName: 'simple', signalType: 'level', signalID: 's', intervals: [{ duration: (1_800_000) as Millis, uid: '0', value: 2 }] }],
    });
    await until('openleadr optIn', async () => (await running.vtn.eventOpts('erab-1')).some((o) => o.optType === 'optIn'), () => ven.out);
    assert.match(ven.out, /EVENT erab-1/);
    await until('openleadr TELEMETRY_USAGE report', () => reports.includes('TELEMETRY_USAGE'), () => ven.out);
    const refusals = audit.records.filter((r) => r.outcome !== 'success');
    assert.deepEqual(refusals.map((r) => r.reason), [], 'openleadr payloads were all accepted');
    if (signed) {
      // openleadr signed everything (our VTN requires it), and verified every reply of ours it used.
      assert.ok(!/signxml\/shim|interop\/shim/.test(lines(ven.out, 'SIGNXML').join('')), 'the real signxml, not the shim');
      assert.deepEqual(lines(ven.out, 'SENT').filter((l) => l !== 'SENT signed'), [], 'openleadr sent only signed payloads');
      const verified = lines(ven.out, 'VERIFIED').map((l) => l.split(' ')[1]);
      for (const t of ['oadrCreatedPartyRegistration', 'oadrDistributeEvent', 'oadrResponse']) assert.ok(verified.includes(`oadr:${t}`) || verified.includes(t), `openleadr verified our ${t}: ${verified.join(', ')}`);
    }
    assert.doesNotMatch(ven.out, OPENLEADR_COMPLAINTS);
  } finally {
    ven.kill();
    await running.close();
    await store.close();
  }
}

async function ourVenAgainstOpenleadrVtn(signed: boolean): Promise<void> {
  const vtnCert = signed ? olVtn : tso;
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const n = signed ? 'ol-vtn' : 'vtn';
  const vtn = python('openleadr_vtn.py', [String(port), join(dir, `${n}.pem`), join(dir, `${n}.key`), join(dir, 'ca.pem'), 'AGG1', fingerprintOf(agg), ...(signed ? ['signed'] : [])], signed);
  const store = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const audit = new MemoryAuditSink();
  try {
    await until('openleadr VTN listening', () => vtn.out.includes('running at'), () => vtn.out);
    const ven = await startVenEndpoint({
      venName: 'AGG1', vtnUrl: `https://127.0.0.1:${port}`, material: await TlsMaterial.fromPem({ credentials: [{ certPem: agg.certPem, keyPem: agg.keyPem }], caPem: ca.certPem }),
      audit, store, expectVtn: { role: 'tso', id: 'TSO1' },
      ...(signed ? { xmlSignature: true, vtnCertificatePem: vtnCert.certPem } : {}),
      ven: {
        backoff: { initialMs: 200, maxMs: 2000 },
        ...(signed ? { signatureMode: 'required' as const } : {}),
        reports: [{
          reportSpecifierID: 'erab-power', reportName: 'TELEMETRY_USAGE',
          descriptions: [{ rID: 'power', reportDataSource: { resourceID: ['battery-1'] }, reportType: 'usage', readingType: 'Direct Read', itemBase: powerRealItem('none'), samplingRate: { minPeriod: (2000) as Millis, maxPeriod: (2000) as Millis, onChange: false } }],
          read: () => 1500,
        }],
      },
    });
    try {
      await until('registered', () => ven.ven.registration !== undefined, () => vtn.out);
      assert.equal(ven.ven.registration?.vtnID, 'OL-VTN');
      await until('event opted in at openleadr', () => /OPT optIn/.test(vtn.out), () => vtn.out);
      await until('report at openleadr', () => /REPORT battery-1/.test(vtn.out), () => vtn.out);
      const refusals = audit.records.filter((r) => r.outcome !== 'success' && r.action.startsWith('openadr'));
      assert.deepEqual(refusals.map((r) => r.reason), [], 'openleadr payloads were all accepted');
      if (signed) {
        // Our VEN required and verified openleadr's signatures (any failure would be a refusal above);
        // openleadr verified ours on every payload naming our venID, and signed all its replies.
        assert.ok(!/shim/.test(lines(vtn.out, 'SIGNXML').join('')), 'the real signxml, not the shim');
        assert.deepEqual(lines(vtn.out, 'RECEIVED').filter((l) => l !== 'RECEIVED signed'), [], 'we sent only signed payloads');
        assert.deepEqual(lines(vtn.out, 'RESPONDED').filter((l) => l !== 'RESPONDED signed'), [], 'openleadr answered only signed');
      }
      assert.doesNotMatch(vtn.out, /Invalid Signature|incoming message had invalid signature|FingerprintMismatch|did not match|Traceback/i);
    } finally {
      await ven.close();
    }
  } finally {
    vtn.kill();
    await store.close();
  }
}

test('openleadr-python VEN ↔ erab VTN over mutual TLS: registration, event optIn, reports', { skip, timeout: 180_000 }, () => openleadrVenAgainstOurVtn(false));
test('erab VEN ↔ openleadr-python VTN over mutual TLS: registration, event optIn, reports', { skip, timeout: 180_000 }, () => ourVenAgainstOpenleadrVtn(false));
test('signed with the real signxml: openleadr-python VEN ↔ erab VTN, each verifying the other', { skip: signedSkip, timeout: 180_000 }, () => openleadrVenAgainstOurVtn(true));
test('signed with the real signxml: erab VEN ↔ openleadr-python VTN, each verifying the other', { skip: signedSkip, timeout: 180_000 }, () => ourVenAgainstOpenleadrVtn(true));

after(() => world?.close());
