/**
 * The TSO simple dispatch system end to end over real mutual TLS: a contracted aggregator (our
 * OpenADR VEN) registers, receives a 三次② dispatch as a LOAD_DISPATCH delta event and reports
 * delivered power; the TSO's requested-vs-delivered view per コマ follows. A rogue aggregator
 * whose certificate is valid but not contracted is refused and the refusal is audited.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scaledClock } from '../../../src/core/clock.js';
import type { VenEventInfo } from '../../../src/protocols/openadr/ven.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';
import type { CertificateAuthority } from '../../../src/security/pki/index.js';
import SwaggerParser from '@apidevtools/swagger-parser';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { openStore } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVenEndpoint, type RunningVen } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { tsoConfigSchema } from '../../../src/roles/tso/config.js';
import { startTso, type RunningTso } from '../../../src/roles/tso/tso.js';
import { KOMA_MS } from '../../../src/roles/tso/products.js';
import { pkiWorld, waiter, type PkiWorld } from '../../kit/index.js';

let world: PkiWorld<'TSO1' | 'AGG1' | 'ROGUE'> | undefined;
let dir = '';
let ca: CertificateAuthority;
const pem: Record<string, { certPem: string; keyPem: string }> = {};
let tso: RunningTso;
const cleanups: (() => Promise<void> | void)[] = [];

// Simulated time 60x: one minute of the grid per real second; the block starts 1 simulated minute in.
const realAnchor = Date.now();
const simAnchor = Math.ceil((realAnchor + 3 * 3600_000) / KOMA_MS) * KOMA_MS - 60_000;
const clock = scaledClock({ speed: 60, realAnchor, simAnchor });

/** The kit's waitFor with this file's budget. */
const waitFor = waiter({ timeoutMs: 20_000 });

before(async () => {
  world = await pkiWorld({ TSO1: 'tso:TSO1', AGG1: 'aggregator:AGG1', ROGUE: 'aggregator:ROGUE' }, { prefix: 'erab-tso-' });
  dir = world.dir;
  ca = await world.authority();
  for (const [id, c] of Object.entries(world.certs)) pem[id] = { certPem: c.certPem, keyPem: c.keyPem };
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'tso.pem'), pem.TSO1!.certPem);
  writeFileSync(join(dir, 'tso.key'), pem.TSO1!.keyPem, { mode: 0o600 });
  const config = tsoConfigSchema.parse({
    id: 'TSO1',
    tls: { certFile: join(dir, 'tso.pem'), keyFile: join(dir, 'tso.key'), caFile: join(dir, 'ca.pem') },
    listen: { port: 0 },
    store: { url: join(dir, 'tso.db') },
    audit: { dir: join(dir, 'audit') },
    contractedAggregators: [{ id: 'AGG1', contractedKw: 500 }],
    pollIntervalMs: 6_000,
    reportIntervalMs: 60_000,
  });
  tso = await startTso(config, { clock });
  cleanups.push(() => tso.stop());
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  world?.close();
});

async function aggregatorVen(id: string, events: VenEventInfo[], deliveredW: () => number): Promise<RunningVen> {
  const store = await openStore({ url: join(dir, `${id}.db`), migrations: openadrStoreMigrations });
  const ven = await startVenEndpoint({
    venName: id,
    vtnUrl: tso.vtn.url,
    material: await TlsMaterial.fromPem({ credentials: [pem[id]!], caPem: ca.certPem }),
    expectVtn: { role: 'tso', id: 'TSO1' },
    audit: new MemoryAuditSink(),
    store,
    clock,
    ven: {
      backoff: { initialMs: 60_000, maxMs: 120_000 },
      onEvent: (info) => { events.push(info); return 'optIn'; },
      reports: [{
        reportSpecifierID: `${id}-telemetry`, reportName: 'TELEMETRY_USAGE',
        descriptions: [{ rID: 'delivered', reportType: 'deltaUsage', readingType: 'Net', itemBase: powerRealItem(), samplingRate: { minPeriod: 60_000 as never, maxPeriod: 3_600_000 as never, onChange: false } }],
        read: () => deliveredW(),
      }],
    },
  });
  cleanups.push(async () => { await ven.close(); await store.close(); });
  return ven;
}

test('a contracted aggregator registers, receives the dispatch and its delivery shows per コマ', async () => {
  const events: VenEventInfo[] = [];
  let delivered = 0;
  await aggregatorVen('AGG1', events, () => delivered);
  await waitFor('AGG1 registered', () => tso.status().registered.includes('AGG1'));

  const start = simAnchor + 60_000;
  const issued = await tso.dispatch({ product: 'tertiary2', direction: 'reduce', quantityKw: 50, start, periods: 1, ignoreLeadTime: true });
  assert.deepEqual(issued.venIDs, ['AGG1'], 'default recipients: every registered contracted aggregator');
  assert.equal(issued.marketContext, 'urn:erab:tso:TSO1:tertiary2');
  const info = await waitFor('event at AGG1', () => events[0]);
  const signal = info.event.signals[0]!;
  assert.equal(signal.signalName, 'LOAD_DISPATCH');
  assert.equal(signal.signalType, 'delta');
  assert.equal(signal.intervals[0]!.value, -50, '50 kW reduction as a negative kW delta');
  await waitFor('optIn recorded', () => tso.ledger.dispatch(issued.eventId)?.opts.AGG1?.optType === 'optIn');

  delivered = -48_000; // the aggregator delivers 48 kW of the 50 kW reduction
  const view = await waitFor('two delivered samples in the block', () => {
    const v = tso.view(issued.eventId)!;
    return v.periods[0]!.samples >= 2 ? v : undefined;
  });
  assert.equal(view.periods[0]!.requestedW, 50_000);
  assert.ok(view.periods[0]!.deliveredW! > 40_000 && view.periods[0]!.deliveredW! <= 48_000, `delivered ${view.periods[0]!.deliveredW} W`);
  assert.equal(tso.status().dispatches[0]!.requestedNowW, 50_000);
});

test('dispatch input is validated against the registry and the product rules', async () => {
  const start = simAnchor + 60_000 + KOMA_MS;
  await assert.rejects(tso.dispatch({ product: 'tertiary2', direction: 'reduce', quantityKw: 10, start, periods: 1, ignoreLeadTime: true, to: ['ROGUE'] }), /ROGUE is not a contracted aggregator/);
  await assert.rejects(tso.dispatch({ product: 'dr', direction: 'reduce', quantityKw: 10, start, periods: 1 }), /product: dr is not offered by a tso/);
  await assert.rejects(tso.dispatch({ product: 'primary', direction: 'reduce', quantityKw: 10, start, periods: 1 }), /dedicated line/);
});

test('a rogue aggregator with a valid certificate that is not contracted is refused and audited', async () => {
  const events: VenEventInfo[] = [];
  await aggregatorVen('ROGUE', events, () => 0);
  const refusal = await waitFor('refusal of ROGUE', () => tso.status().refusals.find((r) => r.who === 'ROGUE'));
  assert.match(refusal.reason, /allow-list|contracted|not/);
  assert.ok(!tso.status().registered.includes('ROGUE'));
  assert.equal(events.length, 0);
});

/** One request to the operator API with a client certificate; resolves status + JSON or the socket error. */
function apiCall(certId: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown } | { error: string }> {
  const url = new URL(path, tso.status().apiUrl);
  return new Promise((resolve) => {
    const req = https.request(url, { method, cert: pem[certId]!.certPem, key: pem[certId]!.keyPem, ca: ca.certPem, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', (err) => resolve({ error: err.message }));
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

test('the operator API admits operator certificates only and validates its input', async () => {
  const op = await ca.issue({ role: 'operator', id: 'OP1' });
  pem.OP1 = { certPem: op.certPem, keyPem: op.keyPem };
  const ok = await apiCall('OP1', 'GET', '/api/status');
  assert.ok('status' in ok && ok.status === 200);
  assert.deepEqual((ok.json as { registered: string[] }).registered.includes('AGG1'), true);

  const bad = await apiCall('OP1', 'POST', '/api/dispatches', '{ not json');
  assert.ok('status' in bad && bad.status === 400);
  assert.match((bad.json as { error: string }).error, /not valid JSON/);
  const badField = await apiCall('OP1', 'POST', '/api/dispatches', { product: 'tertiary2', direction: 'reduce', quantityKw: 'lots', start: 0, periods: 1 });
  assert.ok('status' in badField && badField.status === 400);
  assert.match((badField.json as { error: string }).error, /quantityKw: must be a number/);

  const start = new Date(simAnchor + 60_000 + 2 * KOMA_MS).toISOString();
  const created = await apiCall('OP1', 'POST', '/api/dispatches', { product: 'tertiary2', direction: 'reduce', quantityKw: [30, 20], start, periods: 2, ignoreLeadTime: true });
  assert.ok('status' in created && created.status === 201, JSON.stringify(created));
  const view = created.json as { eventId: string; periods: { requestedW: number }[] };
  assert.deepEqual(view.periods.map((p) => p.requestedW), [30_000, 20_000]);
  const listed = await apiCall('OP1', 'GET', '/api/dispatches');
  assert.ok('status' in listed && (listed.json as { eventId: string }[]).some((d) => d.eventId === view.eventId));
  const one = await apiCall('OP1', 'GET', `/api/dispatches/${view.eventId}`);
  assert.ok('status' in one && one.status === 200 && (one.json as { eventId: string }).eventId === view.eventId);
  const cancelled = await apiCall('OP1', 'DELETE', `/api/dispatches/${view.eventId}`);
  assert.ok('status' in cancelled && cancelled.status === 200, JSON.stringify(cancelled));
  assert.equal((cancelled.json as { state: string }).state, 'cancelled');
  const missing = await apiCall('OP1', 'DELETE', '/api/dispatches/no-such-event');
  assert.ok('status' in missing && missing.status === 404);
  const doc = await apiCall('OP1', 'GET', '/openapi.json');
  assert.ok('status' in doc && doc.status === 200);
  await SwaggerParser.validate(doc.json as never);

  const notOperator = await apiCall('AGG1', 'GET', '/api/status');
  assert.ok('error' in notOperator || notOperator.status >= 400, 'an aggregator certificate cannot use the operator API');
  await waitFor('API refusal audited', () => tso.status().refusals.find((r) => r.who === 'AGG1'));
});

test('erab tso dispatch and status talk to the API with an operator certificate', async () => {
  writeFileSync(join(dir, 'op.pem'), pem.OP1!.certPem);
  writeFileSync(join(dir, 'op.key'), pem.OP1!.keyPem, { mode: 0o600 });
  const api = ['--api', tso.status().apiUrl!, '--cert', join(dir, 'op.pem'), '--key', join(dir, 'op.key'), '--ca', join(dir, 'ca.pem')];
  const start = new Date(simAnchor + 60_000 + 4 * KOMA_MS).toISOString();
  const ok = await runCli(['tso', 'dispatch', ...api, '--product', 'tertiary1', '--direction', 'reduce', '--kw', '15', '--start', start, '--json']);
  const usage = await runCli(['tso', 'dispatch', ...api, '--product', 'tertiary1', '--direction', 'reduce', '--kw', 'x', '--start', start]);
  const failure = await runCli(['tso', 'dispatch', ...api, '--product', 'tertiary1', '--direction', 'sideways', '--kw', '1', '--start', start]);
  const code = ok.code;
  const out = [ok.stdout];
  assert.equal(code, 0, out.join(''));
  assert.equal((JSON.parse(out.join('')) as { product: string }).product, 'tertiary1');
  assert.equal(usage.code, 2, usage.stderr);
  assert.match(usage.stderr, /--kw: "x" is not a number/);
  assert.equal(failure.code, 1);
  assert.match(failure.stderr, /400 direction: "sideways" must be reduce or increase/);
  // A refusal the API answers with a message key is printed in the operator's language.
  const unknownJa = await runCli(['tso', 'cancel', 'no-such-dispatch', ...api, '--lang', 'ja']);
  assert.equal(unknownJa.code, 1);
  assert.match(unknownJa.stderr, /404 指令 no-such-dispatch はありません/);
  const unknownEn = await runCli(['tso', 'cancel', 'no-such-dispatch', ...api, '--lang', 'en']);
  assert.match(unknownEn.stderr, /404 no dispatch no-such-dispatch/);
});

/** Runs the compiled CLI in a child process (its stdout must not mix with the test reporter's). */
function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const mainUrl = new URL('../../../src/cli/main.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(mainUrl)}); process.exitCode = await m.main(['node', 'erab', ...process.argv.slice(1)]);`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
