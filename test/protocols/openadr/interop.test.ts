/**
 * Interop with an independent OpenADR 2.0b implementation, openleadr-python, run beside ours as an
 * external peer over real mutual TLS (certificates from our CA):
 *   1. openleadr's VEN against our VTN: registration, event + optIn, TELEMETRY_USAGE reports;
 *   2. our VEN against openleadr's VTN: registration, event + optIn, reports.
 * Runs only when ERAB_OPENLEADR_DIR points at an openleadr-python checkout (the folder holding
 * the `openleadr` package) and /usr/bin/python3 has aiohttp, lxml, jinja2, apscheduler, xmltodict
 * (Debian: python3-aiohttp python3-lxml python3-jinja2 python3-apscheduler python3-xmltodict).
 * signxml is not packaged by Debian, so ./interop/shim stands in for it and both peers run with
 * XML signatures off. See the README developer section.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CertificateAuthority, type IssuedCertificate } from '../../../src/security/pki/index.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/roles/openadr/store.js';
import { startOpenadrVtn } from '../../../src/roles/openadr/vtn-server.js';
import { startOpenadrVen } from '../../../src/roles/openadr/ven-client.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';

const OPENLEADR = process.env.ERAB_OPENLEADR_DIR;
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

let dir = '';
let ca: CertificateAuthority;
let tso: IssuedCertificate;
let agg: IssuedCertificate;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'erab-openleadr-'));
  ca = await CertificateAuthority.create();
  tso = await ca.issue({ role: 'tso', id: 'TSO1' });
  agg = await ca.issue({ role: 'aggregator', id: 'AGG1' });
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  for (const [n, c] of [['vtn', tso], ['ven', agg]] as const) {
    writeFileSync(join(dir, `${n}.pem`), c.certPem);
    writeFileSync(join(dir, `${n}.key`), c.keyPem, { mode: 0o600 });
  }
});

function python(script: string, args: string[]): ChildProcess & { out: string } {
  const p = spawn(PYTHON, [join(interopDir, script), OPENLEADR as string, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { out: string };
  p.out = '';
  p.stdout?.on('data', (d: Buffer) => { p.out += d.toString(); });
  p.stderr?.on('data', (d: Buffer) => { p.out += d.toString(); });
  return p;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, log: () => string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('openleadr-python VEN ↔ erab VTN over mutual TLS: registration, event optIn, reports', { skip, timeout: 180_000 }, async () => {
  const store = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const audit = new MemoryAuditSink();
  const reports: string[] = [];
  const running = await startOpenadrVtn({
    vtnID: 'TSO1', material: await TlsMaterial.fromPem({ credentials: [{ certPem: tso.certPem, keyPem: tso.keyPem }], caPem: ca.certPem }),
    allowList: { participants: ['aggregator:AGG1'] }, audit, store,
    vtn: { pollFreqMs: 1000, hooks: { onReport: (_v, r) => reports.push(r.reportName ?? '') } },
  });
  const ven = python('openleadr_ven.py', [`${running.url}/OpenADR2/Simple/2.0b`, join(dir, 'ven.pem'), join(dir, 'ven.key'), join(dir, 'ca.pem'), 'AGG1']);
  try {
    await until('openleadr registered', () => running.vtn.registration('AGG1') !== undefined, () => ven.out);
    assert.equal(running.vtn.registration('AGG1')?.fingerprint, agg.identity.fingerprint);
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
  } finally {
    ven.kill();
    await running.close();
    await store.close();
  }
});

test('erab VEN ↔ openleadr-python VTN over mutual TLS: registration, event optIn, reports', { skip, timeout: 180_000 }, async () => {
  const der = new X509Certificate(agg.certPem).raw;
  const fp = [...createHash('sha256').update(der).digest().subarray(22)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const vtn = python('openleadr_vtn.py', [String(port), join(dir, 'vtn.pem'), join(dir, 'vtn.key'), join(dir, 'ca.pem'), 'AGG1', fp]);
  const store = await openStore({ url: ':memory:', migrations: openadrStoreMigrations });
  const audit = new MemoryAuditSink();
  try {
    await until('openleadr VTN listening', () => vtn.out.includes('running at'), () => vtn.out);
    const ven = await startOpenadrVen({
      venName: 'AGG1', vtnUrl: `https://127.0.0.1:${port}`, material: await TlsMaterial.fromPem({ credentials: [{ certPem: agg.certPem, keyPem: agg.keyPem }], caPem: ca.certPem }),
      audit, store, expectVtn: { role: 'tso', id: 'TSO1' },
      ven: {
        backoff: { initialMs: 200, maxMs: 2000 },
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
    } finally {
      await ven.close();
    }
  } finally {
    vtn.kill();
    await store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});
