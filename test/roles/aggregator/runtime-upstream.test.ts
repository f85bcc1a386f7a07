/**
 * The upstream VEN of the aggregator against the OpenADR VTN engine in-process (the wire is
 * the real payload codec; TLS is covered by the end-to-end test), on a ManualClock: new event,
 * modification, modification the pool cannot meet, unsupported signal with its code, explicit
 * cancellation, and the TELEMETRY_USAGE values the TSO receives.
 */
import { test } from 'node:test';
import { openStore } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import type { OadrEvent } from '../../../src/protocols/openadr/event.js';
import type { OadrPeer, OadrTransport } from '../../../src/protocols/openadr/http.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import type { OadrReport } from '../../../src/protocols/openadr/report.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { MemoryVtnStore } from '../../../src/protocols/openadr/vtn-store.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { DispatchEngine } from '../../../src/roles/aggregator/runtime/engine.js';
import { Fleet } from '../../../src/roles/aggregator/runtime/fleet.js';
import { UpstreamParty } from '../../../src/roles/aggregator/runtime/upstream.js';
import { oadrEventOf } from '../../../src/roles/aggregator/runtime/oadr-adapter.js';
import type { TlsMaterial } from '../../../src/security/tls.js';

const T0 = Date.UTC(2026, 10, 24, 5, 0);

function link(vtn: Vtn, peer: OadrPeer): OadrTransport {
  return { post: (service, xml) => vtn.handle(service, Buffer.from(xml), peer), close() {} };
}

async function setup() {
  const clock = new ManualClock(T0 - 600_000);
  const audit = new MemoryAuditSink();
  const created: { eventID: string; mod: number; code: number; optType: string; description?: string | undefined }[] = [];
  const reports: OadrReport[] = [];
  const vtn = new Vtn({
    vtnID: 'TSO1', store: new MemoryVtnStore(), clock, audit, pollFreqMs: 10_000,
    hooks: { onReport: (_v, r) => reports.push(r) },
    onXml: (dir, service, xml) => {
      if (dir !== 'in' || service !== 'EiEvent') return;
      const m = decodePayload(xml).message;
      if (m.type !== 'oadrCreatedEvent') return;
      for (const r of m.eventResponses ?? []) created.push({ eventID: r.qualifiedEventID.eventID, mod: r.qualifiedEventID.modificationNumber, code: r.responseCode, optType: r.optType, description: r.responseDescription });
    },
  });
  await vtn.start();
  const cfg = parseAggregatorConfig({
    id: 'AGG1', tls: { certFile: 'c', keyFile: 'k', caFile: 'ca' },
    upstream: [{ name: 'tso', kind: 'tso', vtnUrl: 'https://127.0.0.1:1', expect: { role: 'tso', id: 'TSO1' }, reportMinPeriodMs: 60_000 }],
    closedLoop: { intervalMs: 15_000, graceMs: 30_000 },
  });
  const fleet = new Fleet();
  for (const id of ['b1', 'b2', 'b3']) {
    fleet.upsert({ id, venId: 'GW1', resourceClass: 'battery', ratedReduceW: 3000, ratedIncreaseW: 3000, capacityWh: 10_000, costPerKWh: 5 });
  }
  const sent: OadrEvent[] = [];
  const power = new Map<string, number>();
  const engine = new DispatchEngine({
    aggregatorId: 'AGG1', fleet, clock, audit, closedLoop: cfg.closedLoop, headroom: { mode: 'standby', fraction: 0 },
    downstream: { publish: (_ven, instruction) => { sent.push(oadrEventOf(instruction)); } },
  });
  /** Devices follow the latest set points (in force at `now`) and report. */
  const telemetry = () => {
    const now = clock.now();
    const last = sent.at(-1);
    for (const id of ['b1', 'b2', 'b3']) {
      let p = 0;
      if (last && last.descriptor.eventStatus !== 'cancelled' && now >= last.activePeriod.dtstart && now < last.activePeriod.dtstart + last.activePeriod.duration) {
        p = last.signals.find((s) => s.signalID === id)?.intervals[0]?.value ?? 0;
      }
      power.set(id, p);
      fleet.recordPower(id, p, epochMillis(now));
      fleet.recordStatus(id, { online: true, manualOverride: false, socPercent: 90 }, epochMillis(now));
    }
  };
  telemetry();
  const up = new UpstreamParty({
    party: cfg.upstream[0]!, aggregatorId: 'AGG1', material: undefined as unknown as TlsMaterial, engine, clock, audit, reportMinPeriodMs: 60_000,
    transport: link(vtn, { fingerprint: 'AA:BB:CC:DD:EE:FF:00:11:22:33', id: 'AGG1', role: 'aggregator' }),
    store: await openStore({ url: ':memory:', migrations: openadrStoreMigrations }),
  });
  await up.open();
  await up.ven.register();
  const poll = async () => { await up.ven.runOnce(); };
  const event = (eventID: string, values: number[], o: { signalName?: string; signalType?: string } = {}) => vtn.createEvent({
    eventID, marketContext: 'urn:erab:tso:TSO1:tertiary2', venIDs: ['AGG1'],
    activePeriod: { dtstart: epochMillis(T0), duration: millis(values.length * 1_800_000) },
    signals: [{
      signalName: (o.signalName ?? 'LOAD_DISPATCH') as 'LOAD_DISPATCH', signalType: (o.signalType ?? 'delta') as 'delta', signalID: 'S0',
      itemBase: { kind: 'powerReal', itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'k' },
      intervals: values.map((v, i) => ({ duration: millis(1_800_000), uid: String(i), value: v })),
    }],
  });
  return { clock, vtn, engine, up, poll, event, created, reports, sent, telemetry, audit };
}

test('upstream: new event, modification, impossible modification, unsupported signal, cancellation — each answered per OpenADR', async () => {
  const s = await setup();
  await s.event('E1', [-6]);
  await s.poll();
  assert.deepEqual(s.created.at(-1), { eventID: 'E1', mod: 0, code: 200, optType: 'optIn', description: undefined });
  assert.equal(s.engine.get('tso/E1')!.allocation.allocatedW[0], 6000);

  // The TSO raises the request: modification 1 → re-allocated to 9 kW.
  await s.vtn.modifyEvent('E1', { signals: [{ ...s.vtn.event('E1')!.signals[0]!, intervals: [{ duration: millis(1_800_000), uid: '0', value: -9 }] }] });
  await s.poll();
  assert.deepEqual(s.created.at(-1), { eventID: 'E1', mod: 1, code: 200, optType: 'optIn', description: undefined });
  assert.equal(s.engine.get('tso/E1')!.allocation.allocatedW[0], 9000);
  assert.equal(s.engine.get('tso/E1')!.plan.modificationNumber, 1);

  // Modification 2 asks for more than the pool: opt out with the figures; our instructions are withdrawn.
  await s.vtn.modifyEvent('E1', { signals: [{ ...s.vtn.event('E1')!.signals[0]!, intervals: [{ duration: millis(1_800_000), uid: '0', value: -50 }] }] });
  await s.poll();
  const last = s.created.at(-1)!;
  assert.equal(last.optType, 'optOut');
  assert.equal(last.mod, 2);
  assert.match(last.description!, /impossible: the pool can deliver 9\.0 kW of the requested 50\.0 kW/);
  assert.equal(s.engine.get('tso/E1')!.state, 'cancelled');
  assert.equal(s.sent.at(-1)!.descriptor.eventStatus, 'cancelled');

  // A signal the aggregator cannot allocate: 460 with the reason, optOut.
  await s.event('E2', [2], { signalName: 'SIMPLE', signalType: 'level' });
  await s.poll();
  const e2 = s.created.find((c) => c.eventID === 'E2')!;
  assert.equal(e2.code, 460);
  assert.equal(e2.optType, 'optOut');
  assert.match(e2.description!, /no LOAD_DISPATCH\/delta signal/);
  assert.ok(s.audit.records.some((r) => r.action === 'aggregator.event.refuse' && r.target === 'tso/E2'));

  // A fresh event, then the TSO cancels it.
  await s.event('E3', [-3]);
  await s.poll();
  assert.equal(s.engine.get('tso/E3')!.state, 'accepted');
  await s.vtn.cancelEvent('E3');
  await s.poll();
  assert.equal(s.engine.get('tso/E3')!.state, 'cancelled');
  s.up.stop();
});

test('upstream: TELEMETRY_USAGE at the interval the TSO asks carries delivered (signed like the delta), usage and baseline', async () => {
  const s = await setup();
  assert.equal(s.vtn.reportRequests('AGG1').length, 1, 'the TSO requested our TELEMETRY_USAGE at registration');
  const spec = s.vtn.reportRequests('AGG1')[0]!.request.reportSpecifier;
  assert.equal(spec.granularity, 60_000);
  assert.deepEqual(spec.specifierPayloads.map((p) => p.rID).sort(), ['baseline', 'delivered', 'usage']);
  await s.event('E1', [-4.5]);
  await s.poll();
  // Run into the event: devices follow, the closed loop measures, the VEN reports every minute.
  while (s.clock.now() < T0 + 600_000) {
    s.clock.advance(30_000);
    s.telemetry();
    await s.engine.tick();
    await s.poll();
  }
  const during = s.reports.flatMap((r) => r.intervals ?? []).filter((iv) => (iv.dtstart ?? 0) >= T0 + 60_000);
  assert.ok(during.length >= 5);
  for (const iv of during) {
    const v = (rID: string) => iv.payloads.find((p) => p.rID === rID)!.value as number;
    assert.equal(v('delivered'), -4500);
    assert.equal(v('baseline'), 0);
    assert.equal(v('usage'), -4500);
  }
  s.up.stop();
});
