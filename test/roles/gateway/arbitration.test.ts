import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparePrecedence, leadingClaim, type Claim } from '../../../src/roles/gateway/arbitration.js';
import { ORIGIN_PRIORITY, priorityOfOrigin } from '../../../src/roles/common/event-priority.js';

const claim = (eventID: string, priority: number | undefined, acceptedSeq: number): Claim => ({ eventID, priority, acceptedSeq });

test('precedence: TSO over retailer over coordinator over operator over no priority, whatever the acceptance order', () => {
  const tso = claim('tso', ORIGIN_PRIORITY.tso, 5);
  const retailer = claim('retailer', ORIGIN_PRIORITY.retailer, 1);
  const coordinator = claim('coordinator', ORIGIN_PRIORITY.coordinator, 2);
  const operator = claim('operator', ORIGIN_PRIORITY.operator, 0);
  const none = claim('foreign', undefined, -1);
  const zero = claim('zero', 0, -2);
  const sorted = [none, operator, zero, retailer, tso, coordinator].sort(comparePrecedence).map((c) => c.eventID);
  assert.deepEqual(sorted, ['tso', 'retailer', 'coordinator', 'operator', 'zero', 'foreign']);
  assert.equal(leadingClaim([operator, retailer, tso])?.eventID, 'tso');
  assert.equal(leadingClaim([operator, retailer])?.eventID, 'retailer');
  assert.equal(leadingClaim([]), undefined);
});

test('precedence: equal priority → earliest accepted; equal acceptance → eventID (a total order)', () => {
  assert.equal(leadingClaim([claim('late', 2, 7), claim('early', 2, 3)])?.eventID, 'early');
  assert.equal(leadingClaim([claim('b', undefined, 1), claim('a', 0, 1)])?.eventID, 'a');
  assert.ok(comparePrecedence(claim('x', 1, 1), claim('x', 1, 1)) === 0);
  // Not a priority: negative or non-finite values count as "none".
  assert.equal(leadingClaim([claim('neg', -1, 0), claim('nan', Number.NaN, 1), claim('p9', 9, 2)])?.eventID, 'p9');
});

test('origin priorities are the OpenADR ei:priority the aggregator sends (1 = highest)', () => {
  assert.deepEqual([priorityOfOrigin('tso'), priorityOfOrigin('retailer'), priorityOfOrigin('coordinator'), priorityOfOrigin('operator'), priorityOfOrigin(undefined)], [1, 2, 3, 4, undefined]);
});
