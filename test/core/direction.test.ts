import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../src/core/errors.js';
import {
  DIRECTION_LABEL_JA, DISPATCH_DIRECTIONS, delivered, directionOfChange, directionSign, parseDirection, targetFrom,
} from '../../src/core/domain/direction.js';
import { planDispatch } from '../../src/roles/tso/products.js';
import { settle } from '../../src/roles/aggregator/settlement/delivered.js';
import { setpointFor, deliveredBy } from '../../src/roles/aggregator/runtime/fleet.js';
import { epochMillis } from '../../src/core/units.js';

test('the two directions, their market names and signs', () => {
  assert.deepEqual([...DISPATCH_DIRECTIONS], ['reduce', 'increase']);
  assert.equal(DIRECTION_LABEL_JA.reduce, '下げDR');
  assert.equal(DIRECTION_LABEL_JA.increase, '上げDR');
  assert.equal(directionSign('reduce'), -1);
  assert.equal(directionSign('increase'), 1);
  assert.equal(directionOfChange(-5), 'reduce');
  assert.equal(directionOfChange(5), 'increase');
});

test('target and delivered are inverse: aiming at the target delivers the magnitude, in both directions', () => {
  for (const d of DISPATCH_DIRECTIONS) {
    for (const [baseline, magnitude] of [[3000, 2000], [-500, 1500], [0, 0]] as const) {
      assert.equal(delivered(d, baseline, targetFrom(d, baseline, magnitude)), magnitude, `${d} ${baseline} ${magnitude}`);
    }
  }
  assert.equal(delivered('reduce', 3000, 1000), 2000);
  assert.equal(delivered('increase', 3000, 1000), -2000);
});

test('parseDirection names the field and the allowed values', () => {
  assert.equal(parseDirection('increase'), 'increase');
  assert.throws(() => parseDirection('up', 'plan.direction'), (e: unknown) => e instanceof InvalidInputError && e.message === 'plan.direction: "up" must be reduce or increase');
});

test('every layer that turns a direction into numbers agrees with the core definition', () => {
  // TSO plan validation, the aggregator's set points and the settlement use the same rule.
  assert.throws(() => planDispatch({ product: 'tertiary2', direction: 'down', quantityKw: 1, start: '2026-11-24T05:00:00Z', periods: 2, issuedAt: 0 }), /direction: "down" must be reduce or increase/);
  for (const d of DISPATCH_DIRECTIONS) {
    assert.equal(setpointFor(d, 1000, 400), targetFrom(d, 1000, 400));
    assert.equal(deliveredBy(d, 1000, 400), delivered(d, 1000, 400));
    const t = epochMillis(Date.parse('2026-07-15T04:00:00Z'));
    const s = settle({ eventId: 'E', resourceId: 'r', direction: d, komaStarts: [t], baselineWh: [1000], actualWh: [400] });
    assert.equal(s.komas[0]!.deliveredWh, delivered(d, 1000, 400));
  }
});
