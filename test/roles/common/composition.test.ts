/**
 * The composition hook roles offer to the modules above them (src/roles/common/composition.ts):
 * attachments start in order with the role's context, stop in reverse order, a failing one stops
 * those already started and fails the role's start-up; delivery samples reach subscribers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { attachAll, DeliveryFeed, type Attach, type RoleContext } from '../../../src/roles/common/composition.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { pkiWorld } from '../../kit/index.js';

const ctx = { role: 'tso', id: 'T1', onDeliverySample: () => () => {} } as unknown as RoleContext;

test('attachments start in order, stop in reverse; inventory changes reach each', async () => {
  const seen: string[] = [];
  const mk = (n: string): Attach => (c) => {
    seen.push(`start ${n} ${c.id}`);
    return { stop: () => { seen.push(`stop ${n}`); }, inventoryChanged: (g) => { seen.push(`inv ${n} ${g}`); } };
  };
  const a = await attachAll([mk('a'), () => undefined, mk('b')], ctx);
  a.inventoryChanged('GW1');
  await a.stop();
  assert.deepEqual(seen, ['start a T1', 'start b T1', 'inv a GW1', 'inv b GW1', 'stop b', 'stop a']);
});

test('a failing attachment stops the ones already started and passes its error on', async () => {
  const seen: string[] = [];
  await assert.rejects(attachAll([() => ({ stop: () => { seen.push('stop a'); } }), () => { throw new Error('detection.notify: smtp.host: required'); }], ctx), /detection\.notify: smtp\.host/);
  assert.deepEqual(seen, ['stop a']);
});

test('delivery samples reach every subscriber; a throwing one does not stop the others; unsubscribe works', () => {
  const feed = new DeliveryFeed();
  assert.equal(feed.wanted, false);
  const got: number[] = [];
  const off = feed.subscribe((s) => got.push(s.deliveredW));
  feed.subscribe(() => { throw new Error('bad subscriber'); });
  feed.publish({ key: 'tso/E1', t: 1, deliveredW: 5, instructedW: 10 });
  off();
  feed.publish({ key: 'tso/E1', t: 2, deliveredW: 6, instructedW: 10 });
  assert.deepEqual(got, [5]);
});

test('the aggregator hands attachments its store, audit log and clock, and a failing attachment fails its start-up (listeners closed)', async () => {
  const world = await pkiWorld({ agg: 'aggregator:AGG1' }, { prefix: 'erab-compose-' });
  const dir = mkdtempSync(join(tmpdir(), 'erab-compose-'));
  try {
    const cfg = parseAggregatorConfig({ id: 'AGG1', tls: world.tlsFiles('agg'), store: { url: join(dir, 'agg.db') }, audit: { dir: join(dir, 'audit') }, downstream: { port: 0 } });
    let got: RoleContext | undefined;
    let stopped = false;
    const agg = await startAggregator(cfg, { attach: [(c) => { got = c; return { stop: () => { stopped = true; } }; }] });
    assert.equal(got?.role, 'aggregator');
    assert.equal(got?.id, 'AGG1');
    assert.equal(got?.auditLog?.dir, cfg.audit.dir);
    assert.ok(got?.store.db, 'the open store');
    await agg.stop();
    assert.equal(stopped, true, 'stopped with the role');
    await assert.rejects(startAggregator(cfg, { attach: [() => { throw new Error('attach refused'); }] }), /attach refused/);
    // Nothing left listening or holding the store: it starts again.
    const again = await startAggregator(cfg);
    await again.stop();
  } finally {
    await world.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
