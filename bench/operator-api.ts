/**
 * `npm run bench -- operator-api [--devices N (100000)] [--gateways G (10000)] [--runs R (200)]`
 *
 * The console's fleet pages with N devices behind G gateways: the server-side work of one request
 * (query parsing, keyset page, filter, view), timed in process through the console's own route
 * handlers — the TLS and HTTP cost per request does not depend on the fleet's size, the page does.
 * Cases: first page; a page deep in the list (cursor); a search that matches few devices (a scan);
 * one gateway's devices; online devices; a gateways page with a search. Median, p99 and max ms of R
 * runs after a warm-up, the first request after a fleet change (the sorted index is rebuilt), and
 * the machine's load.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { consoleRoutes } from '../src/roles/aggregator/runtime/console.js';
import type { RunningAggregator } from '../src/roles/aggregator/runtime/aggregator.js';
import { Fleet } from '../src/roles/aggregator/runtime/fleet.js';
import type { ApiRoute } from '../src/roles/common/operator-api.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = arg('devices', 100_000);
const G = arg('gateways', 10_000);
const RUNS = arg('runs', 200);

const fleet = new Fleet();
const gateways = Array.from({ length: G }, (_, g) => ({ venId: `GW-${String(g).padStart(5, '0')}`, resources: 0, lastReportAt: Date.now(), reports: 1, signed: true }));
for (let i = 0; i < N; i++) {
  const gw = gateways[i % G]!;
  gw.resources++;
  fleet.upsert({ id: `dev-${String(i).padStart(7, '0')}`, venId: gw.venId, resourceClass: 'battery', ratedReduceW: 3000, ratedIncreaseW: 3000, capacityWh: 10_000, costPerKWh: 5 });
}
// Only the parts the fleet pages read; the routes' other handlers are not called here.
const agg = { id: 'BENCH', fleet, downstream: { gateways: () => gateways.map((g) => ({ ...g })) } } as unknown as RunningAggregator;
const { routes } = consoleRoutes(agg, { online: (id) => id.charCodeAt(id.length - 1) % 2 === 0 });
const route = (path: string): ApiRoute => routes.find((r) => r.method === 'GET' && r.path === path)!;

async function call(path: string, query: string): Promise<{ items: unknown[]; nextCursor: string | null }> {
  const r = route(path);
  const search = new URLSearchParams(query);
  const raw = Object.fromEntries(search);
  const parsed = r.query!.parse(raw);
  return await r.handle({ operator: { id: 'bench', role: 'operator', fingerprint: '' }, role: 'viewer', params: {}, query: search, args: parsed, body: undefined, audit: { append() {} }, raw: {} as never }) as { items: unknown[]; nextCursor: string | null };
}

async function time(label: string, path: string, query: () => string): Promise<void> {
  await call(path, query()); // warm-up
  const ms: number[] = [];
  let items = 0;
  for (let i = 0; i < RUNS; i++) {
    const q = query();
    const t0 = performance.now();
    items = (await call(path, q)).items.length;
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const at = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(2);
  console.log(`${label.padEnd(44)} median ${at(0.5).padStart(7)} ms   p99 ${at(0.99).padStart(7)} ms   max ${ms[ms.length - 1]!.toFixed(2).padStart(7)} ms   (${items} items)`);
}

console.log(`operator-api fleet pages: ${N} devices behind ${G} gateways, ${RUNS} runs each; node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
let t0 = performance.now();
await call('/api/fleet/devices', 'limit=100');
console.log(`${'first page after a fleet change (index built)'.padEnd(44)} ${(performance.now() - t0).toFixed(2)} ms`);
const deep = await call('/api/fleet/devices', `limit=500&cursor=${Buffer.from('dev-0050000').toString('base64url').replace(/^/, 'k')}`);
await time('devices: first page (100)', '/api/fleet/devices', () => 'limit=100');
await time('devices: a page from the middle (100)', '/api/fleet/devices', () => `limit=100&cursor=${deep.nextCursor!}`);
await time('devices: search (q=dev-00999, 100 match)', '/api/fleet/devices', () => 'q=dev-00999&limit=100');
await time('devices: one gateway (gateway=GW-04242)', '/api/fleet/devices', () => 'gateway=GW-04242&limit=100');
await time('devices: online=true (100)', '/api/fleet/devices', () => 'online=true&limit=100');
await time('gateways: first page (100)', '/api/fleet/gateways', () => 'limit=100');
await time('gateways: search (q=gw-0424)', '/api/fleet/gateways', () => 'q=gw-0424&limit=100');
fleet.upsert({ id: 'dev-new', venId: 'GW-00000', resourceClass: 'battery', ratedReduceW: 1, ratedIncreaseW: 1, costPerKWh: 1 });
t0 = performance.now();
await call('/api/fleet/devices', 'limit=100');
console.log(`${'first page after one more device (re-sort)'.padEnd(44)} ${(performance.now() - t0).toFixed(2)} ms`);
