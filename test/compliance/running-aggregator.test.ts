/**
 * Compliance in the running aggregator, composed as `erab aggregator run --compliance-profile`
 * composes it (aggregatorSecops): the checks run at start and every interval on the role's clock,
 * each run is kept, a setting changed in between shows in the control's history over the
 * operator endpoint's mutual TLS, and the status route serves the scheduled run.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAggregatorConfig } from '../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../src/roles/aggregator/runtime/aggregator.js';
import { aggregatorSecops } from '../../src/cli/role-secops.js';
import { complianceProfileSchema } from '../../src/compliance/profile.js';
import { TlsMaterial, clientTlsOptions } from '../../src/security/tls.js';
import { manualClock, pkiWorld, waitFor, type ManualClock, type PkiWorld } from '../kit/index.js';

let world: PkiWorld<'agg' | 'alice'>;
let agg: RunningAggregator;
let clock: ManualClock;
let configFile: string;
const runs: { runId: number; at: number }[] = [];

before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1', alice: 'operator:alice' }, { prefix: 'erab-compliance-run-', flatFiles: true });
  const input = {
    id: 'AGG1',
    tls: { certFile: join(world.dir, 'agg.pem'), keyFile: join(world.dir, 'agg.key'), caFile: join(world.dir, 'ca.pem'), crlFile: world.crlFile },
    store: { url: join(world.dir, 'agg.db') },
    audit: { dir: join(world.dir, 'audit') },
    downstream: { port: 0, allowList: { participants: ['gateway:GW1'] } },
    console: { port: 0 },
  };
  configFile = join(world.dir, 'agg.json');
  writeFileSync(configFile, JSON.stringify(input));
  const compliance = complianceProfileSchema.parse({
    participant: { id: 'AGG1' }, roles: ['aggregator'], configs: { aggregator: configFile },
    store: join(world.dir, 'compliance.db'), audit: { dir: join(world.dir, 'compliance-audit') },
  });
  clock = manualClock(Date.now());
  const cfg = parseAggregatorConfig(input);
  const secops = aggregatorSecops(cfg, { compliance, complianceSchedule: { intervalMs: 3_600_000, onRun: (r) => runs.push(r) }, clock });
  agg = await startAggregator(cfg, { ...secops.deps, clock });
});
after(async () => {
  await agg?.stop();
  await world?.close();
});

async function get(path: string): Promise<{ status: number; json: any; text: string }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const material = await TlsMaterial.fromPem({ credentials: [{ certPem: world.certs.alice.certPem, keyPem: world.certs.alice.keyPem }], caPem: world.caPem });
  const tls = clientTlsOptions(material, 'console', { expect: { role: 'aggregator', id: 'AGG1' } });
  return new Promise((resolve, reject) => {
    https.get({ ...tls, host: '127.0.0.1', port: agg.consolePort!, path, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined, text }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

it('runs at start and every hour; widening the R4 allow-list between two runs shows in the history; the status route serves the scheduled run', async () => {
  await waitFor(() => runs.length === 1, { what: 'the run at start' });
  const first = await get('/api/compliance/history?control=erab-3.3.3-1');
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.json.runs.map((r: { status: string }) => r.status), ['satisfied'], first.text);

  const cfg = JSON.parse(readFileSync(configFile, 'utf8'));
  cfg.downstream.allowList.anyCertifiedPeer = true;
  writeFileSync(configFile, JSON.stringify(cfg));
  clock.advance(3_599_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(runs.length, 1, 'no run before the interval');
  clock.advance(1_000);
  await waitFor(() => runs.length === 2, { what: 'the scheduled run an hour later' });
  assert.equal(runs[1]!.at - runs[0]!.at, 3_600_000);

  const history = await get('/api/compliance/history?control=erab-3.3.3-1&limit=5');
  assert.equal(history.status, 200, history.text);
  assert.deepEqual(history.json.runs.map((r: { runId: number; status: string }) => [r.runId, r.status]), [[runs[1]!.runId, 'not-satisfied'], [runs[0]!.runId, 'satisfied']]);
  assert.equal(history.json.runs[0].at, new Date(runs[1]!.at).toISOString());

  const status = await get('/api/compliance/status');
  assert.equal(status.status, 200, status.text.slice(0, 300));
  assert.equal(status.json.runId, runs[1]!.runId, 'the scheduled run is served, not a new one');
  const r4 = status.json.controls.find((c: { id: string }) => c.id === 'erab-3.3.3-1');
  assert.match(JSON.stringify(r4.checks), /anyCertifiedPeer is on/);

  for (const [q, param] of [['', 'control'], ['?control=erab-3.3.3-1&limit=0', 'limit'], ['?control=erab-3.3.3-1&since=1', 'since']] as const) {
    const bad = await get(`/api/compliance/history${q}`);
    assert.equal(bad.status, 400, `${q}: ${bad.text}`);
    assert.equal(bad.json.parameter, param);
  }
});
