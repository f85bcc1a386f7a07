import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidInputError } from '../../../src/core/errors.js';
import { epochMillis, wattHours, watts, type EpochMillis } from '../../../src/core/units.js';
import { allocate, energyBudgetWh, type AllocatableResource, type AllocationRequest } from '../../../src/roles/aggregator/allocation/index.js';
import { closedLoopStep, type DeliveryReading, type ResponseTracking } from '../../../src/roles/aggregator/closed-loop/index.js';

const T0 = Date.UTC(2026, 6, 15, 4, 0); // 13:00 JST
const MIN = 60_000;
const HALF = 30 * MIN;
const at = (m: number): EpochMillis => epochMillis(T0 + m * MIN);

const request: AllocationRequest = {
  eventId: 'evt',
  direction: 'reduce',
  intervals: [
    { start: at(0), end: at(30), targetW: watts(3000) },
    { start: at(30), end: at(60), targetW: watts(3000) },
  ],
};

const load = (id: string, w: number, cost: number): AllocatableResource => ({ id, resourceClass: 'load', maxReduceW: watts(w), maxIncreaseW: watts(0), costPerKWh: cost });
const pool: AllocatableResource[] = [
  load('a', 1500, 1),
  load('b', 1500, 2),
  load('c', 1000, 3),
  // 3000 Wh − 2000 Wh reserve = 1000 Wh for the rest of the event.
  { id: 'd', resourceClass: 'battery', maxReduceW: watts(2000), maxIncreaseW: watts(2000), storage: { socWh: wattHours(3000), capacityWh: wattHours(10000), reserveWh: wattHours(2000) }, costPerKWh: 4 },
];

const reading = (resourceId: string, m: number, w: number): DeliveryReading => ({ resourceId, at: at(m), deliveredW: watts(w) });

test('initial allocation for the scenario: a and b instructed, c holds the 10 % standby', () => {
  const alloc = allocate(request, pool);
  assert.deepEqual(alloc.instructions.map((i) => [i.resourceId, i.powerW, i.standbyW.map((s) => Math.round(s))]), [
    ['a', [1500, 1500], [0, 0]],
    ['b', [1500, 1500], [0, 0]],
    ['c', [0, 0], [300, 300]],
  ]);
});

test('a silent resource is marked after 3 misses; its power goes to standby first, then merit order, within energy from now', () => {
  let allocation = allocate(request, pool);
  let tracking: ResponseTracking | undefined;
  const steps = [];
  for (const m of [2, 3, 4]) {
    const step = closedLoopStep({ request, allocation, resources: pool, readings: [reading('a', m, 1500)], now: at(m), ...(tracking ? { tracking } : {}) });
    steps.push(step);
    allocation = step.allocation;
    tracking = step.tracking;
  }
  // Steps 1 and 2: b has no telemetry → misses 1, 2; not yet marked, nothing re-dispatched.
  assert.equal(steps[0]!.tracking.misses.get('b'), 1);
  assert.equal(steps[1]!.tracking.misses.get('b'), 2);
  assert.deepEqual(steps[1]!.changed, []);
  assert.equal(steps[1]!.deliveredW, 1500);
  assert.equal(steps[1]!.shortfallW, 1500);
  // Step 3 (13:04): b marked; gap = 3000 − 1500 (a) = 1500 W in both intervals.
  const s3 = steps[2]!;
  assert.deepEqual(s3.newlyNonResponding, ['b']);
  assert.deepEqual(s3.changed, ['b', 'c', 'd']);
  // Standby c first at its full 1000 W; then d (battery) 500 W: energy 500 W × (26 + 30) min
  // = 466.7 Wh ≤ 1000 Wh above reserve.
  const m = new Map(s3.allocation.instructions.map((i) => [i.resourceId, i.powerW]));
  assert.deepEqual(m.get('a'), [1500, 1500]);
  assert.equal(m.has('b'), false); // withdrawn from the current interval on
  assert.deepEqual(m.get('c'), [1000, 1000]);
  assert.deepEqual(m.get('d'), [500, 500]);
  assert.deepEqual(s3.redispatchedW, [1500, 1500]);
  assert.deepEqual(s3.uncoveredW, [0, 0]);
  assert.deepEqual(s3.allocation.allocatedW, [3000, 3000]);
  assert.equal(s3.allocation.meetsTarget, true);
});

test('a partial deliverer (50 %) is counted at its observed share and the rest re-dispatched before it is marked', () => {
  const allocation = allocate(request, pool);
  const step = closedLoopStep({ request, allocation, resources: pool, readings: [reading('a', 2, 1500), reading('b', 2, 750)], now: at(2) });
  assert.deepEqual(step.newlyNonResponding, []);
  assert.equal(step.tracking.misses.get('b'), 1);
  // expected = 1500 + 1500 × 0.5 = 2250 → gap 750 per interval → standby c takes it; its standby is used up.
  const c = step.allocation.instructions.find((i) => i.resourceId === 'c')!;
  assert.deepEqual(c.powerW, [750, 750]);
  assert.deepEqual(c.standbyW, [0, 0]);
  assert.equal(step.shortfallW, 750);
});

test('a gap the pool cannot cover is reported as uncovered, not hidden', () => {
  const small = [load('a', 1500, 1), load('b', 1500, 2)];
  let allocation = allocate(request, small);
  let tracking: ResponseTracking | undefined;
  let step;
  for (const m of [2, 3, 4]) {
    step = closedLoopStep({ request, allocation, resources: small, readings: [reading('a', m, 1500)], now: at(m), ...(tracking ? { tracking } : {}) });
    allocation = step.allocation;
    tracking = step.tracking;
  }
  assert.deepEqual(step!.uncoveredW, [1500, 1500]);
  assert.deepEqual(step!.allocation.shortfallW, [1500, 1500]);
  assert.equal(step!.allocation.meetsTarget, false);
});

test('grace period, stale telemetry, before/after the event and bad input', () => {
  const allocation = allocate(request, pool);
  // 13:00:30 is inside the 60 s grace: silence is not a miss.
  const g = closedLoopStep({ request, allocation, resources: pool, readings: [], now: epochMillis(T0 + 30_000) });
  assert.equal(g.tracking.misses.get('b') ?? 0, 0);
  // A reading 3 min old is stale (max age 2 min): a miss.
  const s = closedLoopStep({ request, allocation, resources: pool, readings: [reading('a', 5, 1500), reading('b', 2, 1500)], now: at(5) });
  assert.equal(s.tracking.misses.get('b'), 1);
  assert.equal(closedLoopStep({ request, allocation, resources: pool, readings: [], now: at(-5) }).intervalIndex, -1);
  assert.equal(closedLoopStep({ request, allocation, resources: pool, readings: [], now: at(60) }).intervalIndex, -1);
  assert.throws(() => closedLoopStep({ request, allocation, resources: pool, readings: [{ resourceId: 'a', at: at(1), deliveredW: watts(Number.NaN) }], now: at(2) }), InvalidInputError);
  assert.throws(() => closedLoopStep({ request, allocation, resources: pool, readings: [], now: at(2), config: { missesToMark: 0 } }), /missesToMark/);
});

test('deterministic: the order of readings does not matter', () => {
  const allocation = allocate(request, pool);
  const rs = [reading('a', 2, 1500), reading('b', 1, 700), reading('b', 2, 600), reading('a', 1, 1400)];
  const x = closedLoopStep({ request, allocation, resources: pool, readings: rs, now: at(2) });
  const y = closedLoopStep({ request, allocation, resources: pool, readings: [...rs].reverse(), now: at(2) });
  assert.deepEqual(y, x);
});

test('property: after re-dispatch no resource exceeds its cap or its energy from now; marked ones get nothing', () => {
  const arbRes = (id: string) =>
    fc.record({ w: fc.integer({ min: 0, max: 4000 }), cost: fc.integer({ min: 0, max: 9 }), bat: fc.boolean(), soc: fc.integer({ min: 0, max: 8000 }) }).map(
      (x): AllocatableResource =>
        x.bat
          ? { id, resourceClass: 'battery', maxReduceW: watts(x.w), maxIncreaseW: watts(x.w), storage: { socWh: wattHours(x.soc), capacityWh: wattHours(8000), reserveWh: wattHours(1000) }, costPerKWh: x.cost }
          : load(id, x.w, x.cost),
    );
  const arb = fc.record({
    pool: fc.integer({ min: 1, max: 12 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbRes(`r${i}`)))),
    target: fc.integer({ min: 0, max: 15000 }),
    behaviour: fc.array(fc.constantFrom<'follow' | 'silent' | 'half'>('follow', 'silent', 'half'), { minLength: 12, maxLength: 12 }),
  });
  fc.assert(
    fc.property(arb, ({ pool: p, target, behaviour }) => {
      const req: AllocationRequest = { ...request, intervals: request.intervals.map((iv) => ({ ...iv, targetW: watts(target) })) };
      let allocation = allocate(req, p);
      let tracking: ResponseTracking | undefined;
      let now = at(0);
      for (const m of [2, 3, 4, 31, 32]) {
        now = at(m);
        const k = m < 30 ? 0 : 1;
        const readings = allocation.instructions.flatMap((ins, idx) => {
          const b = behaviour[idx % behaviour.length]!;
          if (b === 'silent') return [];
          return [reading(ins.resourceId, m, b === 'half' ? ins.powerW[k]! / 2 : ins.powerW[k]!)];
        });
        const step = closedLoopStep({ request: req, allocation, resources: p, readings, now, ...(tracking ? { tracking } : {}) });
        allocation = step.allocation;
        tracking = step.tracking;
        for (const id of step.nonResponding) {
          const ins = allocation.instructions.find((i) => i.resourceId === id);
          if (ins) for (let j = k; j < 2; j++) assert.equal(ins.powerW[j], 0, `${id} is non-responding but instructed`);
        }
        for (const ins of allocation.instructions) {
          const r = p.find((x) => x.id === ins.resourceId)!;
          let energy = 0;
          for (let j = k; j < 2; j++) {
            assert.ok(ins.powerW[j]! <= r.maxReduceW + 1e-6, `${r.id} above cap`);
            const from = j === k ? now : req.intervals[j]!.start;
            energy += (ins.powerW[j]! * (req.intervals[j]!.end - from)) / 3_600_000;
          }
          assert.ok(energy <= energyBudgetWh(r, 'reduce') + 1e-6, `${r.id}: ${energy} Wh from now exceeds its budget`);
        }
        for (let j = k; j < 2; j++) assert.ok(step.uncoveredW[j]! >= 0);
      }
    }),
    { numRuns: 200 },
  );
});

test('an opt out is a shortfall at once: withdrawn and re-dispatched without misses, also before the event starts', () => {
  const allocation = allocate(request, pool);
  // Before the event: nothing to judge, so without an opt out nothing happens…
  const idle = closedLoopStep({ request, allocation, resources: pool, readings: [], now: at(-5) });
  assert.equal(idle.intervalIndex, -1);
  assert.deepEqual(idle.changed, []);
  // …but b's gateway refused its instruction: b's 1500 W go to c (standby first), then d.
  const s = closedLoopStep({ request, allocation, resources: pool, readings: [], now: at(-5), optedOut: new Set(['b']) });
  assert.deepEqual(s.newlyNonResponding, [], 'an opt out is not a miss');
  assert.deepEqual(s.nonResponding, ['b']);
  assert.ok(s.changed.includes('b') && s.changed.includes('c'), `changed: ${s.changed.join(', ')}`);
  const by = new Map(s.allocation.instructions.map((i) => [i.resourceId, i.powerW]));
  assert.deepEqual(by.get('b') ?? [0, 0], [0, 0]);
  assert.deepEqual(s.allocation.allocatedW.map(Math.round), [3000, 3000], 'the whole target is instructed again');
  assert.deepEqual(s.uncoveredW, [0, 0]);
  // During the event: the same, at once (no 3 misses), and only from now.
  const d = closedLoopStep({ request, allocation, resources: pool, readings: [reading('a', 2, 1500), reading('b', 2, 0)], now: at(2), optedOut: new Set(['b']) });
  assert.deepEqual(d.nonResponding, ['b']);
  assert.equal(Math.round(d.redispatchedW[0]!), 1500);
});
