/**
 * R3: an aggregation coordinator above a resource aggregator, both the real aggregator role
 * over mutual TLS: TSO VTN → coordinator (upstream VEN, downstream VTN) → resource aggregator
 * (its upstream party is the coordinator). The coordinator dispatches the sub-aggregator as one
 * resource with its contracted capacity (LOAD_DISPATCH delta), the sub-aggregator allocates over
 * its own batteries, reports "delivered" up to the coordinator, which reports it to the TSO.
 *
 * The sub-aggregator's batteries are ideal devices driven by this test (they hold exactly the
 * set point the sub-aggregator computes); the gateway path is covered by runtime-e2e.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import type { OadrReport } from '../../../src/protocols/openadr/report.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { MemoryVtnStore } from '../../../src/protocols/openadr/vtn-store.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { setpointFor } from '../../../src/roles/aggregator/runtime/fleet.js';
import { pkiWorld, waiter } from '../../kit/index.js';
import { listenOadr } from '../../../src/endpoints/openadr/listener.js';

/** The kit's waitFor with this file's budget. */
const until = waiter({ timeoutMs: 30_000, intervalMs: 50 });

/** Ideal devices: each battery holds the set point of the running event that instructs it, else 0 W. */
function driveIdealDevices(agg: RunningAggregator): NodeJS.Timeout {
  return setInterval(() => {
    const now = Date.now();
    const target = new Map<string, number>();
    for (const ev of agg.engine.list()) {
      if (ev.state !== 'active') continue;
      const k = ev.plan.intervals.findIndex((iv) => iv.start <= now && now < iv.end);
      if (k < 0) continue;
      for (const ins of ev.allocation.instructions) {
        if (ins.powerW[k]! > 0 && !ev.nonResponding.includes(ins.resourceId)) {
          target.set(ins.resourceId, setpointFor(ev.plan.direction, ev.baselines.get(ins.resourceId) ?? 0, ins.powerW[k]!));
        }
      }
    }
    for (const s of agg.fleet.all()) {
      agg.fleet.recordPower(s.id, target.get(s.id) ?? 0, epochMillis(now));
      agg.fleet.recordStatus(s.id, { online: true, manualOverride: false, socPercent: 90 }, epochMillis(now));
    }
  }, 100);
}

test('R3: the coordinator dispatches a resource aggregator below it; delivery flows back up to the TSO', { timeout: 120_000 }, async () => {
  const pki = await pkiWorld({ tso: 'tso:TSO1', COORD: 'aggregator:COORD', AGG1: 'aggregator:AGG1' }, { prefix: 'erab-agg-r3-', flatFiles: true });
  const dir = pki.dir; // holds ca.pem, COORD.pem/.key, AGG1.pem/.key (flatFiles)
  const audit = new MemoryAuditSink();
  const ca = { certPem: pki.caPem };
  const tsoCert = pki.certs.tso;
  const tlsOf = (id: string) => ({ certFile: join(dir, `${id}.pem`), keyFile: join(dir, `${id}.key`), caFile: join(dir, 'ca.pem') });

  const received: OadrReport[] = [];
  const tsoVtn = new Vtn({ vtnID: 'TSO1-VTN', store: new MemoryVtnStore(), clock: systemClock, audit, pollFreqMs: 200, hooks: { onReport: (_v, r) => received.push(r) } });
  await tsoVtn.start();
  const tso = await listenOadr(tsoVtn.handle, {
    material: await TlsMaterial.fromPem({ credentials: [{ certPem: tsoCert.certPem, keyPem: tsoCert.keyPem }], caPem: ca.certPem }),
    profile: 'R1', allowList: { participants: ['aggregator:COORD'] }, audit, host: '127.0.0.1', port: 0, listener: 'tso:R1', maxBodyBytes: 1 << 20,
  });
  let coord: RunningAggregator | undefined;
  let sub: RunningAggregator | undefined;
  let devices: NodeJS.Timeout | undefined;
  try {
    coord = await startAggregator(parseAggregatorConfig({
      id: 'COORD', tls: tlsOf('COORD'), store: { url: ':memory:' },
      downstream: { port: 0, allowList: { participants: ['aggregator:AGG1'] }, pollIntervalMs: 200, reportIntervalMs: 1000, aggregators: [{ id: 'AGG1', reduceW: 9000 }] },
      upstream: [{ name: 'tso', kind: 'tso', vtnUrl: `https://127.0.0.1:${tso.port}`, expect: { role: 'tso', id: 'TSO1' }, pollIntervalMs: 200, reportMinPeriodMs: 2000 }],
      closedLoop: { intervalMs: 500, graceMs: 8000, telemetryMaxAgeMs: 5000 },
    }), { audit, clock: systemClock });
    sub = await startAggregator(parseAggregatorConfig({
      id: 'AGG1', tls: tlsOf('AGG1'), store: { url: ':memory:' },
      downstream: { port: 0, allowList: { roles: ['gateway'] } },
      upstream: [{ name: 'coord', kind: 'coordinator', vtnUrl: `https://127.0.0.1:${coord.downstreamPort}`, expect: { role: 'aggregator', id: 'COORD' }, pollIntervalMs: 200, reportMinPeriodMs: 1000 }],
      closedLoop: { intervalMs: 500, graceMs: 4000, telemetryMaxAgeMs: 3000 },
    }), {
      audit, clock: systemClock,
      portfolio: ['b1', 'b2', 'b3'].map((id) => ({ id, venId: 'GWX', resourceClass: 'battery' as const, ratedReduceW: 3000, ratedIncreaseW: 3000, capacityWh: 10_000, costPerKWh: 5 })),
    });
    devices = driveIdealDevices(sub);

    await until('coordinator registered at the TSO', () => tsoVtn.registration('COORD'));
    await until('sub-aggregator registered and known as one 9 kW resource', () => {
      const r = coord!.fleet.spec('AGG1');
      return r?.aggregate && r.ratedReduceW === 9000 && coord!.engine.freshPower('AGG1') === 0 ? r : undefined;
    });
    await until('TSO requested the coordinator\'s telemetry', () => tsoVtn.reportRequests('COORD').some((r) => r.state === 'active'));

    const start = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    await tsoVtn.createEvent({
      eventID: 'EVT-1', marketContext: 'urn:erab:tso:TSO1:tertiary2', venIDs: ['COORD'],
      activePeriod: { dtstart: epochMillis(start), duration: millis(20_000) },
      signals: [{ signalName: 'LOAD_DISPATCH', signalType: 'delta', signalID: 'S0', itemBase: { kind: 'powerReal', itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'k' }, intervals: [{ duration: millis(20_000), uid: '0', value: -6 }] }],
    });
    assert.equal((await until('TSO sees the coordinator opt in', async () => (await tsoVtn.eventOpts('EVT-1'))[0])).optType, 'optIn');
    // The coordinator's instruction reached the sub-aggregator as an upstream event of its own.
    const subEvent = await until('sub-aggregator accepted the coordinator\'s event', () => sub!.engine.list().find((e) => e.plan.party === 'coord'));
    assert.equal(subEvent.plan.direction, 'reduce');
    assert.equal(subEvent.plan.intervals[0]!.targetW, 6000);
    assert.equal(subEvent.allocation.allocatedW[0], 6000);

    // Delivery flows up: the sub measures 6 kW, reports it; the coordinator counts it and reports to the TSO.
    await until('coordinator measures the delivery', () => {
      const e = coord!.status().events.find((x) => x.key === 'tso/EVT-1');
      return e && e.deliveredW !== null && Math.abs(e.deliveredW - 6000) <= 300 ? e : undefined;
    }, 20_000);
    const reported = await until('TSO receives the delivery', () => {
      const xs = received.flatMap((r) => r.intervals ?? []).filter((iv) => (iv.dtstart ?? 0) >= start)
        .map((iv) => iv.payloads.find((p) => p.rID === 'delivered')?.value as number).filter((v) => Math.abs(v + 6000) <= 300);
      return xs.length > 0 ? xs : undefined;
    }, 20_000);
    assert.ok(reported.every((v) => v < 0), 'reported as a negative delta (a reduction)');
  } finally {
    if (devices) clearInterval(devices);
    await sub?.stop();
    await coord?.stop();
    await tso.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
