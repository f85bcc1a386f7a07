import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planDispatch } from '../../../src/roles/tso/products.js';

const issuedAt = Date.parse('2026-11-24T04:00:00Z');

test('a 三次② reduction becomes consecutive 30-minute blocks in W', () => {
  const plan = planDispatch({ product: 'tertiary2', direction: 'reduce', quantityKw: [60, 45.5], start: '2026-11-24T05:00:00Z', periods: 2, issuedAt });
  assert.equal(plan.product.name, '三次調整力②');
  assert.deepEqual(plan.periods, [
    { start: Date.parse('2026-11-24T05:00:00Z'), quantityW: 60000 },
    { start: Date.parse('2026-11-24T05:30:00Z'), quantityW: 45500 },
  ]);
});

test('dedicated-line products are refused on the simple dispatch system', () => {
  assert.throws(() => planDispatch({ product: 'primary', direction: 'reduce', quantityKw: 1, start: '2026-11-24T05:00:00Z', periods: 1, issuedAt }), /needs a dedicated line/);
});

test('a lead time shorter than the response time is refused unless explicitly waived', () => {
  const req = { product: 'tertiary2', direction: 'reduce', quantityKw: 10, start: '2026-11-24T04:30:00Z', periods: 1, issuedAt };
  assert.throws(() => planDispatch(req), /lead time 30 min is shorter than 三次調整力②'s response time of 45 min/);
  assert.equal(planDispatch({ ...req, ignoreLeadTime: true }).periods.length, 1);
});

test('bad requests name the field and the rule', () => {
  const base = { product: 'tertiary1', direction: 'reduce', quantityKw: 10, start: '2026-11-24T05:00:00Z', periods: 1, issuedAt };
  assert.throws(() => planDispatch({ ...base, start: '2026-11-24T05:10:00Z' }), /start: .* not on a 30-minute block boundary/);
  assert.throws(() => planDispatch({ ...base, quantityKw: -5 }), /quantityKw\[0\]: -5 must be a positive/);
  assert.throws(() => planDispatch({ ...base, direction: 'sideways' }), /direction: "sideways"/);
  assert.throws(() => planDispatch({ ...base, periods: 0 }), /periods: 0/);
  assert.throws(() => planDispatch({ ...base, product: 'quaternary' }), /product: "quaternary"/);
  assert.throws(() => planDispatch({ ...base, start: 'tomorrow' }), /start: "tomorrow" is not a valid date-time/);
});
