/**
 * The dispatch engine's running events in the store (event-book.ts), on SQLite and PostgreSQL:
 * a second engine over the same store — a restarted or standby aggregator, whose fleet has no
 * fresh telemetry yet — answers the party's re-sent event with the same optIn without
 * allocating it again, keeps the original pre-event baselines, continues the downstream
 * modification numbers, and knows which events are over. Without the book it opts out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { epochMillis, watts } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { DispatchEngine } from '../../../src/roles/aggregator/runtime/engine.js';
import { EventBook } from '../../../src/roles/aggregator/runtime/event-book.js';
import { Fleet } from '../../../src/roles/aggregator/runtime/fleet.js';
import { aggregatorMigrations } from '../../../src/roles/aggregator/runtime/r4-workers.js';
import type { DispatchPlan, GatewayInstruction } from '../../../src/roles/aggregator/runtime/dispatch-types.js';
import { describeEachEngine } from '../../store/harness.js';

const T0 = Date.UTC(2026, 10, 24, 5, 0);
const cfg = parseAggregatorConfig({
  id: 'AGG1', tls: { certFile: 'c', keyFile: 'k', caFile: 'ca' },
  closedLoop: { intervalMs: 15_000, graceMs: 30_000, missesToMark: 2, telemetryMaxAgeMs: 60_000 },
});
const DEVICES = ['b1', 'b2', 'b3', 'b4'];

/** One aggregator process: its fleet (no telemetry yet), the gateways' inbox, its engine. */
function process1(clock: ManualClock, book?: EventBook) {
  const fleet = new Fleet();
  DEVICES.forEach((id, i) => fleet.upsert({ id, venId: i < 2 ? 'gw1' : 'gw2', resourceClass: 'battery', ratedReduceW: 3000, ratedIncreaseW: 3000, capacityWh: 10_000, reservePercent: 20, costPerKWh: i + 1 }));
  const published: GatewayInstruction[] = [];
  const audit = new MemoryAuditSink();
  const engine = new DispatchEngine({ aggregatorId: 'AGG1', fleet, clock, audit, downstream: { publish: (_v, i) => { published.push(i); } }, closedLoop: cfg.closedLoop, headroom: cfg.headroom, ...(book ? { book } : {}) });
  /** Every device reports `w(id)` now. */
  const telemetry = (w: (id: string) => number) => {
    for (const id of DEVICES) {
      fleet.recordPower(id, w(id), epochMillis(clock.now()));
      fleet.recordStatus(id, { online: true, manualOverride: false, socPercent: 80 }, epochMillis(clock.now()));
    }
  };
  return { fleet, published, audit, engine, telemetry };
}

const plan = (mod = 0, targetW = 4000): DispatchPlan => ({
  key: 'tso/E1', party: 'tso', eventId: 'E1', modificationNumber: mod, marketContext: 'urn:tso', direction: 'reduce',
  intervals: [{ start: epochMillis(T0), end: epochMillis(T0 + 1_800_000), targetW: watts(targetW) }],
  start: epochMillis(T0), end: epochMillis(T0 + 1_800_000), responseRequired: true, testEvent: false,
});

describeEachEngine('event book', (fx) => {
  test('a second process resumes the running event from the store: same optIn, no re-allocation, original baselines', async () => {
    const loc = await fx.location();
    const clock = new ManualClock(T0 - 60_000);
    const s1 = await loc.open(aggregatorMigrations);
    const book1 = new EventBook(s1, 'AGG1');
    const first = process1(clock, book1);
    first.telemetry((id) => (id === 'b1' ? 500 : 200)); // pre-event consumption
    assert.equal((await first.engine.offer(plan())).optType, 'optIn');
    clock.advance(90_000);
    await first.engine.tick();
    const running = first.engine.get('tso/E1')!;
    assert.equal(running.state, 'active');
    // ---- the process dies (its book has written what it recorded)
    await book1.flush();
    const s2 = await loc.open(aggregatorMigrations);
    const book2 = new EventBook(s2, 'AGG1');
    const second = process1(clock, book2);
    second.engine.restore(await book2.load());
    const resumed = second.engine.get('tso/E1');
    assert.ok(resumed, 'the event came back');
    assert.equal(resumed.state, 'active');
    assert.deepEqual([...resumed.baselines].sort(), [...running.baselines].sort(), 'the original baselines');
    assert.deepEqual([...resumed.participants].sort(), [...running.participants].sort());
    assert.deepEqual([...resumed.vens].sort(), [...running.vens].sort());
    assert.equal(resumed.downstreamId, running.downstreamId);
    assert.equal(resumed.downstreamMod, running.downstreamMod);
    assert.deepEqual(resumed.allocation.allocatedW, running.allocation.allocatedW);
    assert.ok(second.audit.records.some((r) => r.action === 'aggregator.event.restore' && r.target === 'tso/E1'));

    // The TSO re-sends the event: answered from the running event, nothing new for the gateways.
    const again = await second.engine.offer(plan());
    assert.deepEqual(again, { optType: 'optIn', code: 200 });
    assert.equal(second.published.length, 0, 'no re-allocation');
    // Without the book the same process could only opt out: no fresh telemetry.
    const bare = process1(clock);
    const fresh = await bare.engine.offer(plan());
    assert.equal(fresh.optType, 'optOut');
    assert.match(fresh.reason ?? '', /no fresh telemetry/);

    // The restored loop measures for graceMs before judging: the minutes without telemetry
    // (two closed-loop passes, missesToMark 2) mark nobody non-responding.
    for (let i = 0; i < 2; i++) {
      clock.advance(cfg.closedLoop.intervalMs);
      await second.engine.tick();
    }
    assert.deepEqual(resumed.nonResponding, []);
    assert.equal(second.published.length, 0, 'nothing re-dispatched for want of telemetry');

    // Telemetry arrives: delivered against the ORIGINAL baselines (the devices follow their set points).
    const setpoint = new Map<string, number>();
    for (const i of first.published) for (const o of i.orders) if (o.kind === 'setpoint') setpoint.set(o.resourceId, o.setpointW[0]!);
    second.telemetry((id) => setpoint.get(id) ?? (id === 'b1' ? 500 : 200));
    assert.ok(Math.abs(second.engine.deliveredNow(resumed)! - 4000) < 1, `delivered ${second.engine.deliveredNow(resumed)}`);

    // A modification continues the downstream numbering (the gateways hold the old copies).
    assert.equal((await second.engine.offer(plan(1, 3000))).optType, 'optIn');
    assert.equal(second.engine.get('tso/E1')!.downstreamMod, running.downstreamMod + 1);
    assert.deepEqual([...second.engine.get('tso/E1')!.baselines].filter(([id]) => running.participants.has(id)).sort(),
      [...running.baselines].filter(([id]) => running.participants.has(id)).sort(), 'baselines kept across the modification');

    // Cancelled: a third process knows the event is over and does not run it.
    assert.ok(await second.engine.cancel('tso/E1'));
    await book2.flush();
    const s3 = await loc.open(aggregatorMigrations);
    const book3 = new EventBook(s3, 'AGG1');
    const third = process1(clock, book3);
    third.engine.restore(await book3.load());
    assert.equal(third.engine.get('tso/E1')!.state, 'cancelled');
    // Another aggregator id over the same store sees nothing of AGG1's.
    assert.deepEqual(await new EventBook(s3, 'AGG2').load(), []);
    for (const s of [s1, s2, s3]) await s.close();
  });

  test('a damaged row is skipped and logged, never half-restored', async () => {
    const loc = await fx.location();
    const s = await loc.open(aggregatorMigrations);
    await s.db.insertInto('aggregator_event' as never).values({ aggregator_id: 'AGG1', event_key: 'tso/X', data: '{"v":1,"plan":{}}', updated_at: 0 } as never).execute();
    const logged: string[] = [];
    const book = new EventBook(s, 'AGG1', (msg, f) => { logged.push(`${msg} ${JSON.stringify(f)}`); });
    assert.deepEqual(await book.load(), []);
    assert.match(logged.join('\n'), /stored event not restored.*tso\/X/);
    await s.close();
  });
});
