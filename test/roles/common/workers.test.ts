/**
 * The worker-count setting: `erab openadr vtn --workers N` and the aggregator's
 * `downstream.workers` (the process pool itself is exercised across real processes by
 * test/roles/openadr/vtn-workers-kill.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { workerCount } from '../../../src/roles/common/workers.js';
import { aggregatorConfigSchema } from '../../../src/roles/aggregator/runtime/config.js';

test('--workers: 0 means one per core; negative, fractional or huge counts are refused with the field named', () => {
  assert.equal(workerCount(0), availableParallelism());
  assert.equal(workerCount(3), 3);
  for (const bad of [-1, 1.5, 257, Number.NaN]) assert.throws(() => workerCount(bad), /--workers must be an integer from 0 \(one per core\) to 256/);
  assert.throws(() => workerCount(-2, 'downstream.workers'), /^.*downstream\.workers must be/);
});

test('downstream.workers above 1 needs a PostgreSQL store; 1 is the default', () => {
  const base = { id: 'AGG1', tls: { certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem' } };
  assert.equal(aggregatorConfigSchema.parse(base).downstream.workers, 1);
  const sqlite = aggregatorConfigSchema.safeParse({ ...base, downstream: { workers: 4 } });
  assert.equal(sqlite.success, false);
  assert.match(JSON.stringify(sqlite.error?.issues), /postgres:\/\/ store\.url/);
  const pg = aggregatorConfigSchema.parse({ ...base, store: { url: 'postgres://agg@db/erab' }, downstream: { workers: 4 } });
  assert.equal(pg.downstream.workers, 4);
});
