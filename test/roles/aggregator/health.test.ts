/**
 * The aggregator's health and metrics on its operator endpoint (console), over real mutual TLS:
 * a gateway (our OpenADR VEN with a gateway certificate) registers and polls the R4 VTN; /metrics,
 * read by the Prometheus project's parser, shows it registered and its polls on interface R4; a
 * rogue gateway certificate outside the allow-list is counted by reason; /readyz checks the store
 * and the downstream listener.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVenEndpoint, type RunningVen } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { metricSample, metricsParserMissing, parseMetrics, pkiWorld, waiter, type MetricFamily, type PkiWorld } from '../../kit/index.js';

const waitFor = waiter({ timeoutMs: 30_000 });
let pki: PkiWorld<'agg' | 'gw' | 'rogue' | 'ops'>;
let agg: RunningAggregator;
let venStore: Store;
let ven: RunningVen;

before(async () => {
  pki = await pkiWorld({ agg: 'aggregator:AGG1', gw: 'gateway:GW1', rogue: 'gateway:GW9', ops: 'operator:prometheus' }, { prefix: 'erab-agg-health-' });
  agg = await startAggregator(parseAggregatorConfig({
    id: 'AGG1', tls: pki.tlsFiles('agg'),
    store: { url: join(pki.dir, 'agg.db') }, audit: { dir: join(pki.dir, 'audit') },
    downstream: { port: 0, allowList: { participants: ['gateway:GW1'] }, pollIntervalMs: 200 },
    console: { port: 0 },
    closedLoop: { intervalMs: 60_000 },
  }));
  venStore = await openStore({ url: join(pki.dir, 'gw.db'), migrations: openadrStoreMigrations });
  ven = await startVenEndpoint({
    venName: 'GW1', vtnUrl: `https://127.0.0.1:${agg.downstreamPort}`, profile: 'R4', material: await pki.material('gw'),
    expectVtn: { role: 'aggregator', id: 'AGG1' }, audit: new MemoryAuditSink(), store: venStore,
  });
});

after(async () => {
  await ven?.close();
  await venStore?.close();
  await agg?.stop();
  pki?.close();
});

function get(path: string): Promise<{ status: number; text: string }> {
  const c = pki.get('ops');
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: agg.consolePort, path, cert: c.certPem, key: c.keyPem, ca: pki.caPem, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
}

const scrape = async (): Promise<MetricFamily[]> => parseMetrics((await get('/metrics')).text);

test('the aggregator\'s /metrics shows registered gateways, R4 polls and refusals by reason', { skip: metricsParserMissing }, async () => {
  const families = await waitFor('GW1 registered and polling', async () => {
    const f = await scrape();
    const polls = metricSample(f, 'erab_oadr_request_duration_seconds_count', { interface: 'R4', service: 'OadrPoll', outcome: 'ok', role: 'aggregator' })?.value ?? 0;
    return metricSample(f, 'erab_gateways_registered')?.value === 1 && polls >= 2 ? f : undefined;
  });
  assert.equal(metricSample(families, 'erab_gateways_registered')?.labels.id, 'AGG1');
  const rogue = pki.get('rogue');
  await new Promise<void>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: agg.downstreamPort, cert: rogue.certPem, key: rogue.keyPem, ca: pki.caPem });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
  await waitFor('refusal counted', async () => metricSample(await scrape(), 'erab_refusals_total', { action: 'tls.refused', code: 'not_allow_listed' })?.value === 1);
  const ready = await get('/readyz');
  assert.equal(ready.status, 200, ready.text);
  assert.deepEqual(JSON.parse(ready.text), { ready: true, checks: { store: true, downstream_listener: true } });
});
