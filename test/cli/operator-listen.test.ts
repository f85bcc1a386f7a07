/**
 * `erab openadr vtn|ven --operator-listen`: the standalone tools, which have no operator API,
 * serve /healthz, /readyz and /metrics on a listener of their own (mutual TLS, operator
 * certificates), as separate processes. The VTN's poll counter grows as the VEN polls; a rogue
 * peer's refusal is counted by reason and its stderr line carries pino's warn level (40).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { join } from 'node:path';
import { metricSample, metricsParserMissing, parseMetrics, pkiWorld, spawnErab, waiter, type ErabProcess, type PkiWorld } from '../kit/index.js';

let world: PkiWorld<'vtn' | 'ven' | 'rogue' | 'ops'>;
const procs: ErabProcess[] = [];

function erab(args: string[]): ErabProcess {
  const p = spawnErab(args);
  procs.push(p);
  return p;
}

const until = (what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<unknown> =>
  waiter({ timeoutMs: ms, intervalMs: 100, context: () => procs.map((p) => p.out + p.err).join('\n----\n').slice(-4000) })(what, cond);

function get(base: string, path: string): Promise<{ status: number; text: string }> {
  const ops = world.get('ops');
  return new Promise((resolve, reject) => {
    https.get(new URL(path, base), { cert: ops.certPem, key: ops.keyPem, ca: world.caPem, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
}

before(async () => {
  world = await pkiWorld({ vtn: 'tso:TSO1', ven: 'aggregator:AGG1', rogue: 'aggregator:ROGUE', ops: 'operator:prometheus' }, { prefix: 'erab-operator-listen-', flatFiles: true });
});
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  world?.close();
});

test('standalone VTN and VEN serve health and metrics on --operator-listen', { skip: metricsParserMissing }, async () => {
  const d = world.dir;
  const tlsArgs = (n: string) => ['--cert', join(d, `${n}.pem`), '--key', join(d, `${n}.key`), '--ca', join(d, 'ca.pem')];
  const vtn = erab(['openadr', 'vtn', ...tlsArgs('vtn'), '--listen', '127.0.0.1:0', '--store', join(d, 'vtn.db'), '--vtn-id', 'TSO1',
    '--allow', 'aggregator:AGG1', '--poll-freq', '1', '--operator-listen', '127.0.0.1:0', '--operator', 'prometheus']);
  await until('VTN listening', () => /listening on https:\/\/127\.0\.0\.1:\d+/.test(vtn.out) && /metrics on https:/.test(vtn.out));
  const vtnUrl = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(vtn.out)![1]!;
  const vtnOps = /metrics on (https:\/\/127\.0\.0\.1:\d+)/.exec(vtn.out)![1]!;
  const ven = erab(['openadr', 'ven', ...tlsArgs('ven'), '--vtn-url', vtnUrl, '--ven-name', 'AGG1', '--store', join(d, 'ven.db'),
    '--expect-vtn', 'tso:TSO1', '--operator-listen', '127.0.0.1:0']);
  await until('VEN registered', () => ven.out.includes('registered as AGG1') && /metrics on https:/.test(ven.out));
  const venOps = /metrics on (https:\/\/127\.0\.0\.1:\d+)/.exec(ven.out)![1]!;

  const polls = async () => metricSample(parseMetrics((await get(vtnOps, '/metrics')).text), 'erab_oadr_request_duration_seconds_count', { service: 'OadrPoll', interface: 'R1', role: 'openadr-vtn' })?.value ?? 0;
  const first = await polls();
  await until('the VTN counts polls', async () => (await polls()) >= first + 2);

  const rogue = world.get('rogue');
  await new Promise<void>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: Number(new URL(vtnUrl).port), cert: rogue.certPem, key: rogue.keyPem, ca: world.caPem });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
  await until('refusal counted by reason', async () => metricSample(parseMetrics((await get(vtnOps, '/metrics')).text), 'erab_refusals_total', { action: 'tls.refused', code: 'not_allow_listed' })?.value === 1);
  const line = vtn.err.split('\n').find((l) => l.includes('"audit":"tls.refused"'))!;
  assert.equal((JSON.parse(line) as { level: number }).level, 40, 'a refusal is a warn line');

  assert.deepEqual(JSON.parse((await get(venOps, '/readyz')).text), { ready: true, checks: { store: true, registered: true } });
  assert.equal((await get(vtnOps, '/healthz')).status, 200);
  assert.equal((await get(vtnOps, '/nothing')).status, 404);
  vtn.kill('SIGTERM');
  ven.kill('SIGTERM');
});
