import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDS, planDemo, timingsFor } from '../../../src/roles/demo/layout.js';
import { meanDelivery, withinTolerance } from '../../../src/roles/demo/summary.js';

const base = { dir: '/tmp/x', sites: 20, speed: 60, net: 77, tsoPort: 0, sitesPerHost: 8 };

test('the layout splits sites between the two aggregators and groups them into host processes', () => {
  const l = planDemo(base);
  assert.equal(l.sites.length, 20);
  assert.equal(l.sites.filter((s) => s.aggregator === IDS.aggregators[0]).length, 10);
  assert.equal(l.sites[0]!.aggregator, IDS.aggregators[0], 'site 1 (the security act) belongs to AGG-A');
  assert.deepEqual(l.hosts.map((h) => `${h.kind}:${h.sites.length}`), ['devices:8', 'devices:8', 'devices:4', 'gateways:8', 'gateways:8', 'gateways:4']);
  const addresses = l.sites.flatMap((s) => [s.controllerAddress, s.deviceAddress]).concat(l.unknownDevice.address);
  assert.equal(new Set(addresses).size, addresses.length, 'every ECHONET Lite node has its own address');
  assert.ok(addresses.every((a) => a.startsWith('127.77.') && !a.endsWith('.0') && !a.endsWith('.255')));
  assert.equal(new Set(l.sites.map((s) => s.serial)).size, 20);
});

test('bad options are refused with the option named', () => {
  assert.throws(() => planDemo({ ...base, sites: 1 }), /--sites 1 must be an integer from 2/);
  assert.throws(() => planDemo({ ...base, speed: 0 }), /--speed 0 must be a number from 1 to 600/);
  assert.throws(() => planDemo({ ...base, net: 0 }), /--net 0/);
  assert.throws(() => planDemo({ ...base, tsoPort: 70000 }), /--tso-port 70000/);
});

test('timings are chosen in real time and stated in simulated time, within the schemas', () => {
  const small = timingsFor(20, 60);
  assert.equal(small.gatewayPollMs, 60_000, '1 s real at x60');
  assert.equal(small.upstreamReportMs, 60_000, 'the TSO asks for one report per simulated minute');
  const big = timingsFor(1000, 60);
  assert.ok(big.gatewayPollMs > small.gatewayPollMs, 'a large fleet polls less often');
  for (const t of [small, big, timingsFor(1000, 1), timingsFor(2, 600)]) {
    for (const [k, v] of Object.entries(t)) assert.ok(v > 0 && v <= 3_600_000, `${k} = ${v}`);
  }
});

test('delivery is averaged over the window; a silent aggregator counts as delivering nothing', () => {
  const s = [
    { t: 0, requestedW: 1000, deliveredW: 0 },
    { t: 10, requestedW: 1000, deliveredW: 950 },
    { t: 20, requestedW: 1000, deliveredW: null },
    { t: 30, requestedW: 1000, deliveredW: 1000 },
  ];
  assert.deepEqual(meanDelivery(s, 10, 40), { requestedW: 1000, deliveredW: 650, count: 3 });
  assert.equal(meanDelivery(s, 100, 200).deliveredW, null);
  assert.equal(withinTolerance(1000, 900), true);
  assert.equal(withinTolerance(1000, 899), false);
  assert.equal(withinTolerance(1000, null), false);
});
