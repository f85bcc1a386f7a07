/**
 * Health and metrics of a role across real mutual TLS: a TSO with a contracted aggregator (our
 * OpenADR VEN) polling it, scraped on its operator API with an operator certificate. /metrics is
 * parsed by the Prometheus project's own Python client parser (Debian python3-prometheus-client)
 * and, when Debian's prometheus is installed, scraped by a real Prometheus whose API is then
 * queried. Both are installed by .ci/run; without them the tests skip here and fail under CI=true. A refused TLS peer is counted by reason and
 * logged at warn (pino level 40).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVenEndpoint } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { tsoConfigSchema } from '../../../src/roles/tso/config.js';
import { startTso, type RunningTso } from '../../../src/roles/tso/tso.js';
import { freeLoopbackPort, metricSample as sample, metricsParserMissing as parserMissing, parseMetrics, pkiWorld, waiter, type MetricFamily, type PkiWorld } from '../../kit/index.js';

const waitFor = waiter({ timeoutMs: 20_000 });
let world: PkiWorld<'TSO1' | 'AGG1' | 'ROGUE' | 'OPS'>;
let tso: RunningTso;
const logLines: { level: number; msg: string; audit?: { action: string; code: string } }[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  world = await pkiWorld({ TSO1: 'tso:TSO1', AGG1: 'aggregator:AGG1', ROGUE: 'aggregator:ROGUE', OPS: 'operator:prometheus' }, { prefix: 'erab-health-' });
  const logger = pino({ level: 'info' }, new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line) as typeof logLines[number]);
      cb();
    },
  }));
  const config = tsoConfigSchema.parse({
    id: 'TSO1',
    tls: world.tlsFiles('TSO1'),
    listen: { port: 0 },
    store: { url: join(world.dir, 'tso.db') },
    audit: { dir: join(world.dir, 'audit') },
    contractedAggregators: [{ id: 'AGG1' }],
    pollIntervalMs: 100,
  });
  tso = await startTso(config, { logger });
  cleanups.push(() => tso.stop());
  const store = await openStore({ url: join(world.dir, 'agg1.db'), migrations: openadrStoreMigrations });
  const ven = await startVenEndpoint({
    venName: 'AGG1', vtnUrl: tso.vtn.url, material: await world.material('AGG1'), expectVtn: { role: 'tso', id: 'TSO1' },
    audit: new MemoryAuditSink(), store,
  });
  cleanups.push(async () => { await ven.close(); await store.close(); });
  await waitFor('AGG1 registered', () => tso.status().registered.includes('AGG1'));
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  world.close();
});

/** GET on the operator API with a participant's certificate. */
function get(who: 'OPS' | 'AGG1', path: string): Promise<{ status: number; type: string; text: string }> {
  const c = world.get(who);
  return new Promise((resolve, reject) => {
    https.get(new URL(path, tso.status().apiUrl), { cert: c.certPem, key: c.keyPem, ca: world.caPem, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
    }).on('error', reject);
  });
}

/** Scrapes /metrics as an operator and parses it with prometheus_client's text-format parser. */
async function scrape(): Promise<MetricFamily[]> {
  const r = await get('OPS', '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return parseMetrics(r.text);
}

const polls = (families: MetricFamily[]): number => sample(families, 'erab_oadr_request_duration_seconds_count', { service: 'OadrPoll', outcome: 'ok' })?.value ?? 0;

test('/metrics counts the VTN\'s polls per interface, parsed as Prometheus text over mutual TLS', { skip: parserMissing }, async () => {
  const first = polls(await scrape());
  const families = await waitFor('more polls', async () => {
    const f = await scrape();
    return polls(f) >= first + 3 ? f : undefined;
  });
  assert.equal(families.find((f) => f.name === 'erab_oadr_request_duration_seconds')?.type, 'histogram');
  const poll = sample(families, 'erab_oadr_request_duration_seconds_count', { service: 'OadrPoll' })!;
  assert.deepEqual({ interface: poll.labels.interface, role: poll.labels.role, id: poll.labels.id }, { interface: 'R1', role: 'tso', id: 'TSO1' });
  const gauge = (name: string) => sample(families, name)?.value ?? Number.NaN;
  assert.equal(gauge('erab_registered_participants'), 1);
  const days = gauge('erab_certificate_expiry_days');
  assert.ok(days > 300 && days < 10_000, `certificate expires in ${days} days`);
  assert.ok(gauge('erab_crl_age_seconds') >= 0, 'the CRL in force has an age');
  assert.ok(gauge('erab_audit_log_records') >= 1, 'audit log size');
  assert.ok(gauge('erab_vtn_queued_vens') >= 0, 'the VTN\'s poll queue');
  assert.ok(gauge('erab_nodejs_eventloop_lag_seconds') >= 0, 'Node\'s process metrics on a served registry');
});

test('a refused TLS peer is counted by reason and logged at warn', { skip: parserMissing }, async () => {
  const before = await scrape();
  const refused = (f: MetricFamily[]) => sample(f, 'erab_refusals_total', { action: 'tls.refused', code: 'not_allow_listed' })?.value ?? 0;
  const rogue = world.get('ROGUE');
  await new Promise<void>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: tso.vtn.port, cert: rogue.certPem, key: rogue.keyPem, ca: world.caPem });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
  await waitFor('refusal counted', async () => refused(await scrape()) === refused(before) + 1);
  const line = await waitFor('warn line', () => logLines.find((l) => l.audit?.action === 'tls.refused'));
  assert.equal(line.level, 40, 'pino warn');
  assert.match(line.msg, /tls\.refused refused/);
});

test('a refused OpenADR payload is counted under its action and response code', { skip: parserMissing }, async () => {
  const c = world.get('AGG1');
  const status = await new Promise<number>((resolve, reject) => {
    const req = https.request(new URL('/OpenADR2/Simple/2.0b/EiEvent', tso.vtn.url), {
      method: 'POST', cert: c.certPem, key: c.keyPem, ca: world.caPem, agent: false, headers: { 'content-type': 'application/xml' },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.end('<not-openadr/>');
  });
  assert.equal(status, 200, 'OpenADR answers a bad payload with an error response code inside a 200');
  const families = await waitFor('payload refusal counted', async () => {
    const f = await scrape();
    return f.flatMap((x) => x.samples).some((s) => s.name === 'erab_refusals_total' && s.labels.action === 'openadr.refused' && /^\d{3}$/.test(s.labels.code ?? '')) ? f : undefined;
  });
  assert.ok(families);
});

test('/healthz and /readyz answer operators; other certificates are refused', async () => {
  const health = await get('OPS', '/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.text), { alive: true, role: 'tso', id: 'TSO1' });
  const ready = await get('OPS', '/readyz');
  assert.equal(ready.status, 200, ready.text);
  assert.deepEqual(JSON.parse(ready.text), { ready: true, checks: { store: true, openadr_listener: true } });
  await assert.rejects(get('AGG1', '/metrics'), /socket hang up|ECONNRESET|EPIPE/);
});

const PROMETHEUS = '/usr/bin/prometheus';
test('a real Prometheus scrapes /metrics with an operator certificate', { skip: existsSync(PROMETHEUS) ? false : `${PROMETHEUS} is not installed (apt-get install prometheus)` }, async () => {
  const free = await freeLoopbackPort();
  const ops = world.get('OPS');
  const api = new URL(tso.status().apiUrl!);
  const cfg = join(world.dir, 'prometheus.yml');
  writeFileSync(cfg, [
    'global: { scrape_interval: 1s, scrape_timeout: 1s }',
    'scrape_configs:',
    '  - job_name: erab',
    '    scheme: https',
    `    tls_config: { ca_file: "${world.caFile}", cert_file: "${ops.files.certFile}", key_file: "${ops.files.keyFile}", server_name: localhost }`,
    `    static_configs: [ { targets: ["${api.host}"] } ]`,
  ].join('\n'));
  const prom: ChildProcess = spawn(PROMETHEUS, [
    `--config.file=${cfg}`, `--storage.tsdb.path=${join(world.dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${free}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  prom.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  try {
    const query = async (q: string) => {
      const res = await fetch(`http://127.0.0.1:${free}/api/v1/query?query=${encodeURIComponent(q)}`);
      return (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    };
    const up = await waitFor('target up', async () => {
      try {
        const r = await query('up{job="erab"}');
        return r.data.result[0]?.value[1] === '1' ? r : undefined;
      } catch { return undefined; }
    }, { timeoutMs: 30_000 }).catch((err: Error) => { throw new Error(`${err.message}; prometheus said: ${stderr}`); });
    assert.equal(up.data.result[0]!.metric.instance, api.host);
    const polls = await waitFor('poll count in Prometheus', async () => {
      const r = await query('erab_oadr_request_duration_seconds_count{service="OadrPoll",outcome="ok",role="tso",id="TSO1"}');
      return Number(r.data.result[0]?.value[1] ?? 0) > 0 ? r : undefined;
    });
    assert.equal(polls.data.result[0]!.metric.interface, 'R1');
  } finally {
    prom.kill('SIGTERM');
    await new Promise((resolve) => prom.once('exit', resolve));
  }
});
