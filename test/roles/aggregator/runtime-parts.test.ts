/**
 * The running aggregator's pure parts: configuration, the two-person rule, event intake,
 * series bookkeeping and the mapping of resources to allocation inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../src/core/clock.js';
import { ConfigError, InvalidInputError, NotAuthorizedError, PolicyRefusedError } from '../../../src/core/errors.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import type { OadrEvent } from '../../../src/protocols/openadr/event.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { ApprovalBook, secondOperatorReason } from '../../../src/roles/aggregator/runtime/approvals.js';
import { aggregatorConfigSchema, loadAggregatorConfig, parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { Fleet, deliveredBy, setpointFor, toAllocatable, whyNotUsable, type ResourceSpec } from '../../../src/roles/aggregator/runtime/fleet.js';
import { planFromEvent } from '../../../src/roles/aggregator/runtime/intake.js';
import { SeriesBook } from '../../../src/roles/aggregator/runtime/series.js';

const T0 = Date.UTC(2026, 10, 24, 5, 0);
const tls = { certFile: 'a.pem', keyFile: 'a.key', caFile: 'ca.pem' };

// ---------------------------------------------------------------- config

test('config: defaults are secure (empty downstream allow-list, two-person thresholds) and complete', () => {
  const c = parseAggregatorConfig({ id: 'AGG1', tls });
  assert.equal(c.store.url, 'aggregator.db');
  assert.deepEqual(c.downstream.allowList, {});
  assert.equal(c.approvals.maxSingleOperatorW, 50_000);
  assert.equal(c.closedLoop.missesToMark, 3);
  assert.equal(c.headroom.mode, 'standby');
  assert.deepEqual(c.upstream, []);
});

test('config: a file with a bad field names the file, the field and the rule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agg-cfg-'));
  const f = join(dir, 'agg.json');
  writeFileSync(f, JSON.stringify({
    id: 'AGG1', tls,
    upstream: [{ name: 'tso', kind: 'tso', vtnUrl: 'http://127.0.0.1:1', expect: { role: 'tso', id: 'TSO1' } }],
  }));
  assert.throws(() => loadAggregatorConfig(f, {}), (e: Error) => e instanceof ConfigError && e.message.includes(f) && e.message.includes('upstream.0.vtnUrl') && e.message.includes('https'));
});

test('config: duplicate upstream names and unknown keys are refused', () => {
  const party = { name: 'tso', kind: 'tso', vtnUrl: 'https://127.0.0.1:9', expect: { role: 'tso', id: 'TSO1' } } as const;
  assert.throws(() => parseAggregatorConfig({ id: 'AGG1', tls, upstream: [party, party] }), /duplicate upstream party name "tso"/);
  assert.equal(aggregatorConfigSchema.safeParse({ id: 'AGG1', tls, colour: 'blue' }).success, false);
  assert.throws(() => parseAggregatorConfig({ id: 'bad id!', tls }), /id: must be 1-64/);
});

test('config: environment overrides the file (ERAB_CLOSED_LOOP__INTERVAL_MS)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agg-cfg-'));
  const f = join(dir, 'agg.json');
  writeFileSync(f, JSON.stringify({ id: 'AGG1', tls }));
  const c = loadAggregatorConfig(f, { ERAB_CLOSED_LOOP__INTERVAL_MS: '500' });
  assert.equal(c.closedLoop.intervalMs, 500);
});

// ---------------------------------------------------------------- approvals

const alice = { id: 'alice', role: 'operator', fingerprint: 'AA:AA:AA:AA:AA:AA:AA:AA:AA:AA' };
const bob = { id: 'bob', role: 'operator', fingerprint: 'BB:BB:BB:BB:BB:BB:BB:BB:BB:BB' };
const approvalsCfg = { maxSingleOperatorW: 50_000, maxSingleOperatorFleetPercent: 20, expiresAfterMs: 60_000 };

test('approvals: a small command runs on one operator; a fleet-wide one waits for a second, different operator', () => {
  const clock = new ManualClock(T0);
  const audit = new MemoryAuditSink();
  const book = new ApprovalBook(approvalsCfg, clock, audit, () => 100);
  const small = book.submit(alice, { action: 'reduce', powerW: 5000, resources: ['b1', 'b2'], durationMs: 60_000, reason: 'test' });
  assert.equal(small.state, 'approved');
  const big = book.submit(alice, { action: 'reduce', powerW: 5000, resources: 'fleet', durationMs: 60_000, reason: 'drill' });
  assert.equal(big.state, 'held');
  assert.match(big.record.needsSecondBecause!, /whole fleet/);
  // The submitter cannot approve their own command, even under another id with the same certificate.
  assert.throws(() => book.approve(big.record.id, alice), NotAuthorizedError);
  assert.throws(() => book.approve(big.record.id, { id: 'alice2', role: 'operator', fingerprint: alice.fingerprint }), NotAuthorizedError);
  // A non-operator certificate cannot approve.
  assert.throws(() => book.approve(big.record.id, { id: 'gw1', role: 'gateway' }), NotAuthorizedError);
  const rec = book.approve(big.record.id, bob);
  assert.equal(rec.state, 'approved');
  assert.equal(rec.approvedBy?.id, 'bob');
  // Approving twice is refused.
  assert.throws(() => book.approve(big.record.id, { id: 'carol', role: 'operator' }), PolicyRefusedError);
  const actions = audit.records.map((r) => `${r.action}:${r.outcome}:${r.actor.id}`);
  assert.deepEqual(actions, [
    'operator.command.submit:success:alice',
    'operator.command.submit:success:alice',
    'operator.command.approve:refused:alice',
    'operator.command.approve:refused:alice2',
    'operator.command.approve:refused:gw1',
    'operator.command.approve:success:bob',
    'operator.command.approve:refused:carol',
  ]);
});

test('approvals: thresholds on power and fleet share; held commands expire', () => {
  assert.match(secondOperatorReason({ action: 'reduce', powerW: 80_000, resources: ['a'], durationMs: 1, reason: 'x' }, approvalsCfg, 100)!, /80\.0 kW exceeds .* 50\.0 kW/);
  assert.match(secondOperatorReason({ action: 'reduce', powerW: 1000, resources: ['a', 'b', 'c'], durationMs: 1, reason: 'x' }, approvalsCfg, 10)!, /30\.0 % of the fleet/);
  assert.equal(secondOperatorReason({ action: 'reduce', powerW: 1000, resources: ['a', 'b'], durationMs: 1, reason: 'x' }, approvalsCfg, 10), undefined);
  const clock = new ManualClock(T0);
  const audit = new MemoryAuditSink();
  const book = new ApprovalBook(approvalsCfg, clock, audit, () => 10);
  const held = book.submit(alice, { action: 'increase', powerW: 90_000, resources: ['a'], durationMs: 60_000, reason: 'absorb PV' });
  clock.advance(60_001);
  assert.equal(book.get(held.record.id)?.state, 'expired');
  assert.throws(() => book.approve(held.record.id, bob), /expired/);
  assert.ok(audit.records.some((r) => r.action === 'operator.command.expire'));
});

test('approvals: malformed commands and non-operators are refused and audited', () => {
  const audit = new MemoryAuditSink();
  const book = new ApprovalBook(approvalsCfg, new ManualClock(T0), audit, () => 10);
  assert.throws(() => book.submit(alice, { action: 'reduce', powerW: -1, resources: ['a'], durationMs: 1000, reason: 'x' }), InvalidInputError);
  assert.throws(() => book.submit(alice, { action: 'reduce', powerW: 1, resources: [], durationMs: 1000, reason: 'x' }), /non-empty/);
  assert.throws(() => book.submit(alice, { action: 'reduce', powerW: 1, resources: ['a'], durationMs: 1000, reason: ' ' }), /reason/);
  assert.throws(() => book.submit({ id: 'gw', role: 'gateway' }, { action: 'reduce', powerW: 1, resources: ['a'], durationMs: 1000, reason: 'x' }), NotAuthorizedError);
  assert.equal(audit.records.filter((r) => r.outcome === 'refused').length, 4);
});

// ---------------------------------------------------------------- intake

function event(o: { mod?: number; values?: number[]; durMin?: number[]; signalName?: string; signalType?: string; scale?: 'k' | 'none'; ven?: string[]; start?: number; duration?: number; status?: string } = {}): OadrEvent {
  const durMin = o.durMin ?? [30];
  const values = o.values ?? [-60];
  return {
    descriptor: {
      eventID: 'E1', modificationNumber: o.mod ?? 0, marketContext: 'urn:tso:tertiary2', createdDateTime: epochMillis(T0 - 3_600_000),
      eventStatus: (o.status ?? 'far') as 'far',
    },
    activePeriod: { dtstart: epochMillis(o.start ?? T0), duration: millis(o.duration ?? durMin.reduce((a, b) => a + b, 0) * 60_000) },
    signals: [{
      signalName: (o.signalName ?? 'LOAD_DISPATCH') as 'LOAD_DISPATCH', signalType: (o.signalType ?? 'delta') as 'delta', signalID: 's0',
      itemBase: { kind: 'powerReal', itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: o.scale ?? 'k' },
      intervals: values.map((v, k) => ({ duration: millis(durMin[k]! * 60_000), uid: String(k), value: v })),
    }],
    target: o.ven ? { venID: o.ven } : {},
    responseRequired: 'always',
  };
}
const ctx = { party: 'tso', venId: 'VEN-AGG1', marketContexts: [] as string[], now: T0 - 600_000 };

test('intake: a LOAD_DISPATCH delta in kW becomes a reduce plan in W over consecutive intervals', () => {
  const r = planFromEvent(event({ values: [-60, -40], durMin: [30, 30] }), ctx);
  assert.ok(r.ok);
  assert.equal(r.plan.direction, 'reduce');
  assert.deepEqual(r.plan.intervals.map((i) => [i.start - T0, i.end - T0, i.targetW]), [[0, 1_800_000, 60_000], [1_800_000, 3_600_000, 40_000]]);
  assert.equal(r.plan.key, 'tso/E1');
  const up = planFromEvent(event({ values: [25], scale: 'none' }), ctx);
  assert.ok(up.ok && up.plan.direction === 'increase' && up.plan.intervals[0]!.targetW === 25);
});

test('intake: malformed, unsupported, mistargeted and stale events get the OpenADR code and a reason', () => {
  const code = (e: OadrEvent, c = ctx) => { const r = planFromEvent(e, c); return r.ok ? 200 : r.refusal.code; };
  assert.equal(code(event({ signalName: 'SIMPLE', signalType: 'level' })), 460);
  assert.equal(code(event({ values: [-10, 10], durMin: [30, 30] })), 454); // changes direction
  assert.equal(code(event({ durMin: [30], duration: 3_600_000 })), 454); // durations do not add up
  assert.equal(code(event({ duration: 0, durMin: [0] })), 454); // open-ended
  assert.equal(code(event({ ven: ['SOMEONE-ELSE'] })), 462);
  assert.equal(code(event({ ven: ['VEN-AGG1'] })), 200);
  assert.equal(code(event({ start: T0 - 7_200_000 })), 450); // already over
  assert.equal(code(event(), { ...ctx, marketContexts: ['urn:tso:tertiary1'] }), 452);
  const bad = event();
  bad.signals[0]!.itemBase = { kind: 'energyReal', itemDescription: 'RealEnergy', itemUnits: 'Wh' };
  assert.equal(code(bad), 454);
});

// ---------------------------------------------------------------- series

test('series: samples are bounded, ordered, and the time-weighted mean is exact', () => {
  const s = new SeriesBook({ maxSamples: 3, maxEvents: 2 });
  const sample = (t: number, d: number | null) => ({ t, targetW: 100, deliveredW: d, instructedW: 100, instructedResources: 1, nonResponding: 0 });
  s.record('a', sample(0, 50));
  s.record('a', sample(1000, 100));
  s.record('a', sample(3000, null));
  // mean over [0, 3000): 50 for 1 s, 100 for 2 s
  assert.equal(s.meanDelivered('a', 0, 3000), (50 * 1000 + 100 * 2000) / 3000);
  s.record('a', sample(500, 1)); // out of order: ignored
  s.record('a', sample(4000, 10));
  assert.deepEqual(s.get('a').map((x) => x.t), [1000, 3000, 4000]);
  s.record('b', sample(0, 1));
  s.record('c', sample(0, 1));
  assert.deepEqual(s.keys(), ['b', 'c']);
  assert.equal(s.meanDelivered('zzz', 0, 1), undefined);
});

// ---------------------------------------------------------------- fleet mapping

const battery: ResourceSpec = { id: 'b1', venId: 'gw1', resourceClass: 'battery', ratedReduceW: 3000, ratedIncreaseW: 2000, capacityWh: 10_000, reservePercent: 30, costPerKWh: 5 };

test('fleet: a battery maps to allocation limits relative to its baseline, with SoC and reserve', () => {
  const live = { online: true, manualOverride: false, socPercent: 80 };
  const idle = toAllocatable(battery, live, 0, 'reduce')!;
  assert.equal(idle.maxReduceW, 3000);
  assert.equal(idle.maxIncreaseW, 2000);
  assert.equal(idle.storage!.socWh, 8000);
  assert.equal(idle.storage!.reservePercent, 30);
  // Charging at 1 kW before the event: it can stop charging and then discharge.
  const charging = toAllocatable(battery, live, 1000, 'reduce')!;
  assert.equal(charging.maxReduceW, 4000);
  assert.equal(charging.maxIncreaseW, 1000);
  // Power committed to another event is not offered twice.
  assert.equal(toAllocatable(battery, live, 0, 'reduce', { alreadyCommittedW: 1000 })!.maxReduceW, 2000);
  // Offline, manual override, unknown SoC, unknown baseline, non-set-point class: not usable.
  assert.equal(toAllocatable(battery, { ...live, online: false }, 0, 'reduce'), undefined);
  assert.equal(toAllocatable(battery, { ...live, manualOverride: true }, 0, 'reduce'), undefined);
  assert.equal(toAllocatable(battery, { online: true, manualOverride: false }, 0, 'reduce'), undefined);
  assert.equal(toAllocatable(battery, live, undefined, 'reduce'), undefined);
  assert.equal(toAllocatable({ ...battery, resourceClass: 'pv' }, live, 0, 'reduce'), undefined);
  // Learned from its gateway, before the status that gives its set-point limits: not usable yet, and said so.
  const unrated = { ...battery, ratedReduceW: 0, ratedIncreaseW: 0 };
  assert.equal(toAllocatable(unrated, live, 0, 'reduce'), undefined);
  assert.equal(whyNotUsable(unrated, live, 0), 'power limits not known yet');
  assert.equal(whyNotUsable(battery, live, 0), undefined);
  assert.equal(toAllocatable({ ...battery, ratedReduceW: 0 }, live, 0, 'increase')!.maxIncreaseW, 2000, 'an increase-only resource is still usable');
});

test('fleet: set points and delivered power follow the sign convention', () => {
  assert.equal(setpointFor('reduce', 200, 3000), -2800);
  assert.equal(setpointFor('increase', -500, 1500), 1000);
  assert.equal(deliveredBy('reduce', 200, -2800), 3000);
  assert.equal(deliveredBy('increase', -500, 1000), 1500);
  const f = new Fleet();
  f.upsert(battery);
  f.recordPower('b1', -1000, epochMillis(T0));
  f.recordPower('b1', 5, epochMillis(T0 - 1)); // late report ignored
  assert.equal(f.freshPower('b1', T0 + 10, 100), -1000);
  assert.equal(f.freshPower('b1', T0 + 1000, 100), undefined);
  f.recordStatus('b1', { socPercent: 140 }, epochMillis(T0)); // out of range ignored
  assert.equal(f.state('b1')!.socPercent, undefined);
  f.recordPower('unknown', 1, epochMillis(T0));
  assert.equal(f.size, 1);
});
