import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderView, sparkline } from '../../../src/roles/demo/view.js';

test('sparkline scales values to eight levels and leaves gaps for missing samples', () => {
  assert.equal(sparkline([0, 50, 100, null], 100), '▁▅█ ');
  assert.equal(sparkline([200], 100), '█', 'values above max are clamped');
});

test('the dashboard shows target vs delivered, the percentage and refusals', () => {
  const t0 = Date.UTC(2026, 10, 23, 5, 0); // 14:00 JST
  const text = renderView({
    title: 'erab demo',
    simTime: t0,
    speed: 60,
    participants: [{ name: 'tso', state: 'ready' }, { name: 'gw1', state: 'ready' }, { name: 'gw2', state: 'starting' }],
    events: [{
      id: 'ev1', issuer: 'tso', title: 'reduce 60 kW', state: 'active',
      samples: [{ t: t0, targetW: 60000, deliveredW: 30000 }, { t: t0 + 60000, targetW: 60000, deliveredW: 57000 }],
    }],
    refusals: [{ time: t0, by: 'tso', what: 'rogue-agg', reason: 'certificate not on the allow-list' }],
    notes: [],
  });
  assert.match(text, /sim 14:00 JST\s+x60/);
  assert.match(text, /ready 2\s+starting 1/);
  assert.match(text, /\[active\] tso ev1: reduce 60 kW 95%/);
  assert.match(text, /target\s+60\.0 kW \|██/);
  assert.match(text, /delivered\s+57\.0 kW \|▅█/);
  assert.match(text, /refusals: 1\n\s+✗ tso: rogue-agg — certificate not on the allow-list/);
});
