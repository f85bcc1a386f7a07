/**
 * The dispatch engine with a ManualClock and in-memory gateways that apply the set points they
 * receive (one resource is broken and ignores them): acceptance, impossible and overlapping
 * events, closed-loop re-dispatch, delivered power and the series, cancellation, operator
 * commands. The network path is covered by the end-to-end test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { epochMillis, watts } from '../../../src/core/units.js';
import type { OadrEvent } from '../../../src/protocols/openadr/event.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { ApprovalBook } from '../../../src/roles/aggregator/runtime/approvals.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { DispatchEngine, gatewayCopyId } from '../../../src/roles/aggregator/runtime/engine.js';
import { Fleet } from '../../../src/roles/aggregator/runtime/fleet.js';
import type { DispatchPlan, GatewayInstruction } from '../../../src/roles/aggregator/runtime/dispatch-types.js';
import { oadrEventOf } from '../../../src/roles/aggregator/runtime/oadr-adapter.js';

const T0 = Date.UTC(2026, 10, 24, 5, 0);
const cfg = parseAggregatorConfig({
  id: 'AGG1', tls: { certFile: 'c', keyFile: 'k', caFile: 'ca' },
  closedLoop: { intervalMs: 15_000, graceMs: 30_000, missesToMark: 2, telemetryMaxAgeMs: 60_000 },
});

/**
 * Gateways that hold the latest event copy per VEN and drive each device to its set point. They
 * receive what the downstream VTN would send: the engine's instruction through the OpenADR adapter.
 */
class FakeGateways {
  readonly events = new Map<string, OadrEvent>();
  readonly published: { venId: string; event: OadrEvent }[] = [];
  readonly broken = new Set<string>();
  /** Resources that only follow from this instant on (slow to respond). */
  readonly slowUntil = new Map<string, number>();
  publish(venId: string, instruction: GatewayInstruction): void {
    const event = oadrEventOf(instruction);
    this.published.push({ venId, event });
    this.events.set(venId, event);
  }
  /** Net power each device holds at `now` (0 = idle outside events). */
  powers(now: number, devices: readonly string[]): Map<string, number> {
    const out = new Map(devices.map((d) => [d, 0]));
    for (const e of this.events.values()) {
      if (e.descriptor.eventStatus === 'cancelled') continue;
      let t = e.activePeriod.dtstart as number;
      for (const s of e.signals) {
        const id = s.target?.resourceID?.[0];
        if (!id || this.broken.has(id) || now < (this.slowUntil.get(id) ?? 0)) continue;
        t = e.activePeriod.dtstart;
        for (const iv of s.intervals) {
          if (t <= now && now < t + iv.duration!) out.set(id, iv.value);
          t += iv.duration!;
        }
      }
    }
    return out;
  }
}

function setup() {
  const clock = new ManualClock(T0 - 120_000);
  const audit = new MemoryAuditSink();
  const fleet = new Fleet();
  const devices = ['b1', 'b2', 'b3', 'b4'];
  devices.forEach((id, i) => {
    fleet.upsert({ id, venId: i < 2 ? 'gw1' : 'gw2', resourceClass: 'battery', ratedReduceW: 3000, ratedIncreaseW: 3000, capacityWh: 10_000, reservePercent: 20, costPerKWh: i + 1 });
  });
  const gws = new FakeGateways();
  const engine = new DispatchEngine({ aggregatorId: 'AGG1', fleet, clock, audit, downstream: gws, closedLoop: cfg.closedLoop, headroom: cfg.headroom });
  /** Telemetry: every device reports its power and SoC now. */
  const report = () => {
    const now = clock.now();
    for (const [id, p] of gws.powers(now, devices)) {
      fleet.recordPower(id, p, epochMillis(now));
      fleet.recordStatus(id, { online: true, manualOverride: false, socPercent: 80 }, epochMillis(now));
    }
  };
  report();
  return { clock, audit, fleet, gws, engine, report, devices };
}

function plan(o: Partial<DispatchPlan> & { targetW?: number; startIn?: number; minutes?: number } = {}): DispatchPlan {
  const start = T0 + (o.startIn ?? 0);
  const end = start + (o.minutes ?? 30) * 60_000;
  return {
    key: 'tso/E1', party: 'tso', eventId: 'E1', modificationNumber: 0, marketContext: 'urn:tso', direction: 'reduce',
    intervals: [{ start: epochMillis(start), end: epochMillis(end), targetW: watts(o.targetW ?? 6000) }],
    start: epochMillis(start), end: epochMillis(end), responseRequired: true, testEvent: false, ...o,
  };
}

test('engine: an event the pool can meet is accepted, split into per-gateway set points, and delivered', async () => {
  const { clock, engine, gws, report } = setup();
  const answer = await engine.offer(plan());
  assert.deepEqual(answer, { optType: 'optIn', code: 200 });
  // Merit order: b1 (cost 1) and b2 (cost 2) at 3 kW each, both behind gw1; standby on b3.
  assert.deepEqual([...gws.events.keys()], ['gw1']);
  const e = gws.events.get('gw1')!;
  assert.deepEqual(e.signals.map((s) => [s.target?.resourceID?.[0], s.signalName, s.signalType, s.intervals[0]!.value]), [
    ['b1', 'LOAD_DISPATCH', 'setpoint', -3000],
    ['b2', 'LOAD_DISPATCH', 'setpoint', -3000],
  ]);
  assert.equal(e.descriptor.eventStatus, 'far');
  assert.deepEqual(e.target.venID, ['gw1']);
  // Devices are asked to begin a minute early (x-eiRampUp) so the level holds from the block's start.
  assert.equal(e.activePeriod.rampUp, cfg.closedLoop.rampUpMs);
  assert.equal(cfg.closedLoop.rampUpMs, 60_000);
  const ev = engine.get('tso/E1')!;
  for (let i = 0; i < 12; i++) {
    clock.advance(15_000);
    report();
    await engine.tick();
  }
  assert.equal(ev.state, 'active');
  const s = engine.series.get('tso/E1');
  assert.ok(s.length >= 3);
  const last = s[s.length - 1]!;
  assert.equal(last.targetW, 6000);
  assert.equal(last.deliveredW, 6000);
  assert.equal(last.nonResponding, 0);
});

test('engine: a resource that ignores its set point is marked non-responding and its power re-dispatched', async () => {
  const { clock, engine, gws, report, audit } = setup();
  gws.broken.add('b1');
  assert.equal((await engine.offer(plan())).optType, 'optIn');
  const published = gws.published.length;
  for (let i = 0; i < 12; i++) {
    clock.advance(15_000);
    report();
    await engine.tick();
  }
  const ev = engine.get('tso/E1')!;
  assert.deepEqual(ev.nonResponding, ['b1']);
  assert.ok(gws.published.length > published, 'a modification went out');
  // b3 (behind gw2) took over b1's share; gw1 no longer instructs b1.
  const gw1 = gws.events.get('gw1')!;
  // b1 is released explicitly (SIMPLE level 0: back to its owner's mode), b2 keeps its set point.
  assert.deepEqual(gw1.signals.map((s) => `${s.signalID} ${s.signalName}/${s.signalType} ${s.intervals[0]!.value}`), ['b2 LOAD_DISPATCH/setpoint -3000', 'b1/release SIMPLE/level 0']);
  assert.ok(gws.events.get('gw2')!.signals.some((s) => s.signalID === 'b3'));
  assert.ok(gw1.descriptor.modificationNumber > 0);
  const last = engine.series.latest('tso/E1')!;
  assert.equal(last.deliveredW, 6000);
  assert.ok(audit.records.some((r) => r.action === 'aggregator.resource.non_responding' && r.target === 'b1'));
});

test('engine: an impossible event is opted out with the figures, and nothing is sent', async () => {
  const { engine, gws } = setup();
  const a = await engine.offer(plan({ targetW: 20_000 }));
  assert.equal(a.optType, 'optOut');
  assert.equal(a.code, 200);
  assert.match(a.reason!, /impossible: the pool can deliver 12\.0 kW of the requested 20\.0 kW/);
  assert.equal(gws.published.length, 0);
  assert.equal(engine.recentRefusals().length, 1);
});

test('engine: an overlapping event of the same party is opted out; a modification replaces the allocation', async () => {
  const { engine, gws } = setup();
  assert.equal((await engine.offer(plan())).optType, 'optIn');
  const other = await engine.offer(plan({ key: 'tso/E2', eventId: 'E2', startIn: 10 * 60_000 }));
  assert.equal(other.optType, 'optOut');
  assert.match(other.reason!, /overlaps accepted event E1/);
  // Modification: 9 kW now → b1, b2, b3; gw2 gets a copy; modification numbers rise.
  const mod = await engine.offer(plan({ modificationNumber: 1, targetW: 9000 }));
  assert.equal(mod.optType, 'optIn');
  assert.ok(gws.events.get('gw2')!.signals.some((s) => s.signalID === 'b3'));
  assert.equal(gws.events.get('gw1')!.descriptor.modificationNumber, 1);
  // Cancel: every gateway gets a cancelled copy.
  assert.equal(await engine.cancel('tso/E1'), true);
  assert.equal(gws.events.get('gw1')!.descriptor.eventStatus, 'cancelled');
  assert.equal(gws.events.get('gw2')!.descriptor.eventStatus, 'cancelled');
});

test('engine: an approved fleet-wide operator command runs as an operator event; release cancels it', async () => {
  const { clock, engine, gws, fleet } = setup();
  const audit = new MemoryAuditSink();
  const book = new ApprovalBook(cfg.approvals, clock, audit, () => fleet.size);
  const out = book.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 100_000, resources: 'fleet', durationMs: 600_000, reason: 'drill' });
  assert.equal(out.state, 'held');
  await assert.rejects(engine.executeManual(out.record), /held; only approved/);
  const rec = book.approve(out.record.id, { id: 'bob', role: 'operator' });
  const r = await engine.executeManual(rec);
  // Partial is allowed for operators: everything the fleet has, with the shortfall stated.
  assert.equal(r.allocatedW, 12_000);
  assert.equal(r.shortfallW, 88_000);
  assert.equal(gws.events.get('gw2')!.descriptor.eventStatus, 'active');
  const rel = book.submit({ id: 'alice', role: 'operator' }, { action: 'release', powerW: 0, resources: ['b1'], durationMs: 0, reason: 'end drill' });
  await engine.executeManual(rel.record);
  assert.equal(gws.events.get('gw2')!.descriptor.eventStatus, 'cancelled');
});

test('engine: a command on a pool reaches only that pool\'s resources, and counts by the pool\'s share of the fleet', async () => {
  const { clock, engine, gws, fleet } = setup();
  for (const id of ['b3', 'b4']) fleet.upsert({ ...fleet.spec(id)!, pool: 'tokyo-t2' });
  fleet.upsert({ ...fleet.spec('b1')!, pool: 'kansai-t1' });
  assert.deepEqual([...fleet.pools()], [['kansai-t1', 1], ['tokyo-t2', 2]]);
  const audit = new MemoryAuditSink();
  const book = new ApprovalBook(cfg.approvals, clock, audit, () => fleet.size, (id) => fleet.spec(id) !== undefined, (p) => fleet.poolSize(p));
  // 2 of 4 resources: 50 % of the fleet, above the 20 % one operator may address alone.
  const out = book.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 5000, resources: { pool: 'tokyo-t2' }, durationMs: 600_000, reason: 'pool drill' });
  assert.equal(out.state, 'held');
  assert.match(out.record.needsSecondBecause!, /pool tokyo-t2: 2 resources are 50\.0 % of the fleet/);
  // One resource of four (kansai-t1, 25 %) is held as one id of four would be.
  const one = book.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 1000, resources: { pool: 'kansai-t1' }, durationMs: 600_000, reason: 'x' });
  const oneId = book.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 1000, resources: ['b1'], durationMs: 600_000, reason: 'x' });
  assert.deepEqual([one.state, oneId.state], ['held', 'held']);
  const permissive = new ApprovalBook({ ...cfg.approvals, maxSingleOperatorFleetPercent: 30 }, clock, audit, () => fleet.size, () => true, (p) => fleet.poolSize(p));
  assert.equal(permissive.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 1000, resources: { pool: 'kansai-t1' }, durationMs: 600_000, reason: 'x' }).state, 'approved');
  // An unknown pool is refused, naming it, in both languages.
  assert.throws(() => book.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 1000, resources: { pool: 'osaka-x' }, durationMs: 600_000, reason: 'x' }),
    (e: Error & { key?: string }) => e.key === 'command.unknownPool' && /pool "osaka-x" has no resource/.test(e.message));
  assert.ok(audit.records.some((r) => r.action === 'operator.command.submit' && r.outcome === 'refused' && /osaka-x/.test(r.reason ?? '')));
  const rec = book.approve(out.record.id, { id: 'bob', role: 'operator' });
  const r = await engine.executeManual(rec);
  assert.deepEqual([r.allocatedW, r.shortfallW], [5000, 0]);
  // Only gw2 (b3, b4) is instructed; gw1's b1 and b2 are not in the pool.
  assert.deepEqual([...gws.events.keys()], ['gw2']);
  assert.deepEqual(gws.events.get('gw2')!.signals.map((s) => s.target?.resourceID?.[0]).sort(), ['b3', 'b4']);
  assert.deepEqual([...engine.get(r.key)!.participants].sort(), ['b3', 'b4']);
});

test('engine: a command with a start is accepted at once, its gateways instructed for then, and active from its start', async () => {
  const { clock, engine, gws, report } = setup();
  const book = new ApprovalBook({ ...cfg.approvals, maxSingleOperatorFleetPercent: 100 }, clock, new MemoryAuditSink(), () => 4);
  const startAt = clock.now() + 30 * 60_000;
  const out = book.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 4000, resources: ['b1', 'b2'], durationMs: 3_600_000, startAt, reason: 'evening peak' });
  assert.equal(out.state, 'approved');
  const r = await engine.executeManual(out.record);
  const ev = engine.get(r.key)!;
  assert.equal(ev.state, 'accepted');
  assert.deepEqual([ev.plan.start, ev.plan.end], [startAt, startAt + 3_600_000]);
  assert.equal(gws.events.get('gw1')!.activePeriod.dtstart, startAt);
  assert.equal(gws.events.get('gw1')!.descriptor.eventStatus, 'far');
  // Before its start nothing moves; from its start it is active and delivered.
  clock.advance(15 * 60_000);
  report();
  await engine.tick();
  assert.equal(ev.state, 'accepted');
  clock.advance(startAt - clock.now());
  for (let i = 0; i < 6; i++) {
    clock.advance(15_000);
    report();
    await engine.tick();
  }
  assert.equal(ev.state, 'active');
  assert.equal(engine.series.latest(r.key)!.deliveredW, 4000);
});

test('approvals: a start in the past or more than 24 h ahead is refused; a held command whose start passed cannot be approved', async () => {
  const { clock, engine } = setup();
  const audit = new MemoryAuditSink();
  const book = new ApprovalBook(cfg.approvals, clock, audit, () => 4);
  const alice = { id: 'alice', role: 'operator' };
  const base = { action: 'reduce' as const, powerW: 1000, resources: 'fleet' as const, durationMs: 600_000, reason: 'x' };
  const now = clock.now();
  assert.throws(() => book.submit(alice, { ...base, startAt: now - 1000 }), (e: Error & { key?: string }) => e.key === 'command.startInPast');
  assert.throws(() => book.submit(alice, { ...base, startAt: now }), (e: Error & { key?: string }) => e.key === 'command.startInPast');
  assert.throws(() => book.submit(alice, { ...base, startAt: now + 24 * 3_600_000 + 1 }), (e: Error & { key?: string }) => e.key === 'command.startTooFar' && /more than 24 h ahead/.test(e.message));
  assert.throws(() => book.submit(alice, { ...base, startAt: 1.5 + now }), (e: Error & { key?: string }) => e.key === 'command.badStart');
  assert.equal(book.submit(alice, { ...base, startAt: now + 24 * 3_600_000 }).state, 'held');
  // Held (fleet-wide) with a start in 10 min; approved 11 min later (before its 15 min expiry): refused, and out of the held list.
  const late = book.submit(alice, { ...base, startAt: now + 10 * 60_000 });
  clock.advance(11 * 60_000);
  assert.throws(() => book.approve(late.record.id, { id: 'bob', role: 'operator' }),
    (e: Error & { key?: string }) => e.key === 'command.startPassed' && /has passed/.test(e.message) && e.message.includes(late.record.id));
  assert.equal(book.get(late.record.id)!.state, 'expired');
  assert.ok(audit.records.some((r) => r.action === 'operator.command.approve' && r.outcome === 'refused' && r.target === late.record.id));
  assert.ok(audit.records.some((r) => r.action === 'operator.command.expire' && r.target === late.record.id && /start .* passed/.test(r.reason ?? '')));
  // The engine refuses a start that has passed too (an approved record run late).
  const rec = { ...late.record, state: 'approved' as const };
  await assert.rejects(engine.executeManual(rec), (e: Error & { key?: string }) => e.key === 'command.startPassed');
});

test('an approved command the engine cannot send is failed with the reason, never left approved', async () => {
  const { clock, engine, gws } = setup();
  const book = new ApprovalBook({ ...cfg.approvals, maxSingleOperatorFleetPercent: 100 }, clock, new MemoryAuditSink(), () => 4);
  const out = book.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 2000, resources: ['b1'], durationMs: 600_000, reason: 'drill' });
  assert.equal(out.state, 'approved');
  gws.publish = () => { throw new Error('downstream store unavailable'); };
  const err = await engine.executeManual(out.record).then(() => undefined, (e: Error & { key?: string }) => e);
  assert.equal(err?.key, 'command.notAllocated', String(err));
  assert.match(err!.message, /instructions could not be sent to the gateways: downstream store unavailable/);
  book.markFailed(out.record.id, err!.message);
  const rec = book.get(out.record.id)!;
  assert.deepEqual([rec.state, rec.failure], ['failed', err!.message]);
  // Only an approved command can fail: a later mark changes nothing.
  book.markExecuted(out.record.id, { allocatedW: 2000, shortfallW: 0 });
  book.markFailed(out.record.id, 'again');
  assert.deepEqual([book.get(out.record.id)!.state, book.get(out.record.id)!.failure], ['failed', err!.message]);
});

test('engine: notReady says why a resource cannot be dispatched now; a short command names the resources left out and why', async () => {
  const { clock, engine, fleet, report } = setup();
  assert.equal(engine.notReady('b1'), undefined);
  assert.equal(engine.notReady('nope'), 'unknown resource');
  // b5: its first power reading made it online, its state of charge has not come yet (a later
  // report): a command on it alone finds nothing to dispatch, and says why.
  fleet.upsert({ id: 'b5', venId: 'gw2', resourceClass: 'battery', ratedReduceW: 3000, ratedIncreaseW: 3000, capacityWh: 10_000, reservePercent: 20, costPerKWh: 1 });
  assert.equal(engine.notReady('b5'), 'offline');
  fleet.recordPower('b5', 0, epochMillis(clock.now()));
  assert.equal(engine.notReady('b5'), 'state of charge unknown');
  fleet.recordStatus('b1', { manualOverride: true }, epochMillis(clock.now()));
  assert.equal(engine.notReady('b1'), 'under manual override');
  const book = new ApprovalBook({ ...cfg.approvals, maxSingleOperatorFleetPercent: 100 }, clock, new MemoryAuditSink(), () => fleet.size);
  const out = book.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 2000, resources: ['b1', 'b5'], durationMs: 600_000, reason: 'drill' });
  assert.equal(out.state, 'approved');
  const r = await engine.executeManual(out.record);
  assert.deepEqual([r.allocatedW, r.shortfallW, r.leftOut], [0, 2000, '1 under manual override, 1 state of charge unknown']);
  book.markExecuted(out.record.id, r);
  assert.deepEqual([book.get(out.record.id)!.state, book.get(out.record.id)!.leftOut], ['short', '1 under manual override, 1 state of charge unknown']);
  // Stale telemetry: ready again once it is fresh.
  clock.advance(cfg.closedLoop.telemetryMaxAgeMs + 1);
  assert.equal(engine.notReady('b2'), 'no fresh telemetry');
  report();
  assert.equal(engine.notReady('b2'), undefined);
});

test('engine: a slow resource\'s gap is re-dispatched, and the surplus is given back once it catches up', async () => {
  const { clock, engine, gws, report } = setup();
  assert.equal((await engine.offer(plan())).optType, 'optIn');
  // b1 only follows 50 s into the event: after the 30 s grace its gap goes to b3, and b1 catches
  // up before its second miss (missesToMark 2) would mark it.
  gws.slowUntil.set('b1', T0 + 50_000);
  const seen: number[] = [];
  for (let i = 0; i < 24; i++) {
    clock.advance(15_000);
    report();
    await engine.tick();
    seen.push(engine.series.latest('tso/E1')?.deliveredW ?? 0);
  }
  const ev = engine.get('tso/E1')!;
  assert.deepEqual(ev.nonResponding, [], 'slow is not dead: b1 was never marked');
  assert.ok(seen.some((d) => d > 6000), 'b1 caught up while b3 still delivered: over-delivery happened');
  assert.equal(engine.series.latest('tso/E1')!.deliveredW, 6000, 'surplus trimmed back to the target');
  assert.equal(ev.allocation.allocatedW[0], 6000);
});

test('engine: right after an event ends, its resources keep their pre-event baseline (recovery time)', async () => {
  const { clock, engine, report } = setup();
  assert.equal((await engine.offer(plan({ minutes: 2 }))).optType, 'optIn');
  // Telemetry until the last sample inside the event; the event then ends.
  while (clock.now() < T0 + 120_000) {
    clock.advance(15_000);
    if (clock.now() < T0 + 120_000) report();
    await engine.tick();
  }
  assert.equal(engine.get('tso/E1')!.state, 'completed');
  // Readings still show the discharge (the gateways have not restored yet): a new event must not
  // take −3000 W as b1/b2's baseline, which would leave them no room.
  const next = await engine.offer(plan({ key: 'tso/E2', eventId: 'E2', startIn: 10 * 60_000, targetW: 12_000 }));
  assert.equal(next.optType, 'optIn', next.reason);
});

test('engine: events of different parties share the pool without double-booking; a party only sees its pools', async () => {
  const { clock, audit, fleet, gws } = setup();
  // b1, b2 in pool "tokyo-t2" (the TSO's), b3, b4 in "tokyo-dr" (the retailer's).
  for (const s of fleet.all()) fleet.upsert({ ...s, pool: s.id === 'b1' || s.id === 'b2' ? 'tokyo-t2' : 'tokyo-dr' });
  const pools: Record<string, string[]> = { tso: ['tokyo-t2', 'tokyo-dr'], retailer: ['tokyo-dr'], coordinator: ['tokyo-t2', 'tokyo-dr'] };
  const engine = new DispatchEngine({
    aggregatorId: 'AGG1', fleet, clock, audit, downstream: gws, closedLoop: cfg.closedLoop, headroom: { mode: 'standby', fraction: 0 },
    eligible: (party, spec) => (pools[party] ?? []).includes(spec.pool ?? ''),
  });
  // The TSO takes 6 kW: cheapest first, b1 and b2.
  assert.equal((await engine.offer(plan())).optType, 'optIn');
  // The retailer (its pool only: b3, b4) can still have 6 kW at the same time…
  const r1 = await engine.offer(plan({ key: 'retailer/R1', party: 'retailer', eventId: 'R1', targetW: 6000 }));
  assert.equal(r1.optType, 'optIn', r1.reason);
  assert.deepEqual(engine.get('retailer/R1')!.allocation.instructions.map((i) => i.resourceId).sort(), ['b3', 'b4']);
  // …but a third party in the window finds nothing left: every battery is committed.
  const c1 = await engine.offer(plan({ key: 'coordinator/C1', party: 'coordinator', eventId: 'C1', targetW: 1000, startIn: 60_000, minutes: 10 }));
  assert.equal(c1.optType, 'optOut');
  assert.match(c1.reason!, /can deliver 0\.0 kW of the requested 1\.0 kW/);
  // A second event of the same party in its own window is refused as an overlap (modify instead).
  const r2 = await engine.offer(plan({ key: 'retailer/R2', party: 'retailer', eventId: 'R2', targetW: 1000, startIn: 60_000, minutes: 10 }));
  assert.match(r2.reason!, /overlaps accepted event R1/);
  // After the window the pool is free again; a party without pools sees no resource at all.
  assert.equal((await engine.offer(plan({ key: 'coordinator/C2', party: 'coordinator', eventId: 'C2', targetW: 12_000, startIn: 31 * 60_000 }))).optType, 'optIn');
  const x = await engine.offer(plan({ key: 'nobody/X1', party: 'nobody', eventId: 'X1', targetW: 1000, startIn: 31 * 60_000 }));
  assert.match(x.reason!, /\(0 usable resources of 4\)/);
});

test('engine: when instructions cannot be sent, the event is opted out and what was sent is withdrawn', async () => {
  const { clock, audit, fleet, report } = setup();
  report();
  const sent: { venId: string; status: string }[] = [];
  const engine = new DispatchEngine({
    aggregatorId: 'AGG1', fleet, clock, audit, closedLoop: cfg.closedLoop, headroom: { mode: 'standby', fraction: 0 },
    downstream: {
      publish(venId, instruction) {
        const e = oadrEventOf(instruction);
        if (venId === 'gw2' && e.descriptor.eventStatus !== 'cancelled') throw new Error('store unavailable');
        sent.push({ venId, status: e.descriptor.eventStatus });
      },
    },
  });
  const a = await engine.offer(plan({ targetW: 9000 }));
  assert.equal(a.optType, 'optOut');
  assert.match(a.reason!, /could not be sent to the gateways: store unavailable/);
  assert.equal(engine.get('tso/E1')!.state, 'cancelled');
  assert.deepEqual(sent, [{ venId: 'gw1', status: 'far' }, { venId: 'gw1', status: 'cancelled' }]);
});

test('engine: a gateway\'s per-resource opt out is a shortfall: re-dispatched at once (before the start), the resource released, never marked non-responding', async () => {
  const { clock, engine, gws, report, audit } = setup();
  assert.equal((await engine.offer(plan({ origin: 'tso' }))).optType, 'optIn');
  const gw1 = gws.events.get('gw1')!;
  assert.equal(gw1.descriptor.priority, 1, 'a TSO event goes out with OpenADR priority 1');
  assert.deepEqual([...gws.events.keys()], ['gw1']);
  // gw1's policy refuses b1's 3 kW: it accepts the event and opts b1 out (oadrCreateOpt).
  const copy = gatewayCopyId(gw1.descriptor.eventID, 'gw1');
  assert.deepEqual(await engine.declined('gw1', copy, ['b1'], 'gateway opted out: x-max-discharge-power'), ['b1']);
  assert.ok(clock.now() < T0, 'before the event starts');
  const now1 = gws.events.get('gw1')!;
  assert.deepEqual(now1.signals.map((s) => `${s.signalID} ${s.signalName}/${s.signalType} ${s.intervals[0]!.value}`), ['b2 LOAD_DISPATCH/setpoint -3000', 'b1/release SIMPLE/level 0']);
  assert.ok(now1.descriptor.modificationNumber > gw1.descriptor.modificationNumber);
  assert.ok(gws.events.get('gw2')!.signals.some((s) => s.signalID === 'b3' && s.intervals[0]!.value === -3000), 'b3 (gw2) takes b1\'s share');
  assert.ok(audit.records.some((r) => r.action === 'aggregator.resource.opt_out' && r.target === 'b1'));
  // The same opt out again, or one for an unknown copy, changes nothing.
  assert.deepEqual(await engine.declined('gw1', copy, ['b1'], 'again'), []);
  assert.deepEqual(await engine.declined('gw1', 'AGG1.unknown.gw1', ['b2'], 'x'), []);
  gws.broken.add('b1'); // it really does not follow
  for (let i = 0; i < 12; i++) {
    clock.advance(15_000);
    report();
    await engine.tick();
  }
  assert.equal(engine.series.latest('tso/E1')!.deliveredW, 6000);
  assert.ok(!audit.records.some((r) => r.action === 'aggregator.resource.non_responding'), 'the opt out was handled before any miss');
});

test('engine: a gateway\'s opt out of its whole copy moves every resource it held elsewhere; the copy is cancelled', async () => {
  const { engine, gws } = setup();
  assert.equal((await engine.offer(plan({ targetW: 3000 }))).optType, 'optIn');
  const gw1 = gws.events.get('gw1')!;
  const held = gw1.signals.map((s) => s.signalID);
  assert.deepEqual(held, ['b1']);
  assert.deepEqual(await engine.declined('gw1', gatewayCopyId(gw1.descriptor.eventID, 'gw1'), undefined, 'gateway opted out of the event'), ['b1']);
  assert.equal(gws.events.get('gw1')!.descriptor.eventStatus, 'cancelled');
  const gw2 = gws.events.get('gw2')!;
  assert.deepEqual(gw2.signals.filter((s) => s.signalName === 'LOAD_DISPATCH').map((s) => s.intervals[0]!.value).reduce((a, b) => a + b, 0), -3000);
});

test('engine: the gateway events carry the origin as OpenADR priority: retailer 2, operator 4, none for an unknown origin', async () => {
  const { engine, gws, fleet, clock } = setup();
  await engine.offer(plan({ key: 'retailer/R1', party: 'retailer', origin: 'retailer', eventId: 'R1', targetW: 3000 }));
  assert.equal(gws.events.get('gw1')!.descriptor.priority, 2);
  await engine.cancel('retailer/R1');
  await engine.offer(plan({ key: 'x/X1', party: 'x', eventId: 'X1', targetW: 3000 }));
  assert.equal(gws.published.at(-1)!.event.descriptor.priority, undefined);
  await engine.cancel('x/X1');
  const book = new ApprovalBook(cfg.approvals, clock, new MemoryAuditSink(), () => fleet.size);
  const held = book.submit({ id: 'alice', role: 'operator' }, { action: 'reduce', powerW: 1000, resources: ['b1'], durationMs: 600_000, reason: 'test' });
  await engine.executeManual(held.state === 'approved' ? held.record : book.approve(held.record.id, { id: 'bob', role: 'operator' }));
  assert.equal(gws.published.at(-1)!.event.descriptor.priority, 4);
});
