/**
 * The checks that count rows in a role's store give the same verdicts when the aggregator's store
 * is PostgreSQL (JSON read with the PostgreSQL operators, not SQLite's json_extract).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { assess } from '../../src/compliance/assess.js';
import { builtinRegistry } from '../../src/compliance/checks/index.js';
import { freshDatabase, postgresUnreachable } from '../store/harness.js';
import { deployment } from './deployment.js';

const skip = postgresUnreachable && !process.env.CI ? `PostgreSQL unreachable: ${postgresUnreachable}` : false;

test('signatures.r4 and inventory.complete read a PostgreSQL store', { skip }, async () => {
  const db = await freshDatabase('erab_compliance_');
  const d = await deployment({ aggStoreUrl: db.url, gateways: 50 });
  after(async () => { await d.close(); await db.drop(); });
  const status = async () => {
    const a = await assess(d.profile(), builtinRegistry(), new Map(), { now: Date.now() });
    return { sig: a.checks.get('signatures.r4')!, inv: a.checks.get('inventory.complete')! };
  };
  let s = await status();
  assert.equal(s.sig.status, 'satisfied', JSON.stringify(s.sig.evidence));
  assert.match(s.sig.evidence[0]!.observed, /50 gateways registered, 0 without XML signatures/);
  assert.equal(s.inv.status, 'satisfied');
  await d.aggStore.db.updateTable('openadr_vtn_registration').set({ data: JSON.stringify({ venID: 'GW7', xmlSignature: false }) }).where('ven_id', '=', 'GW7').execute();
  await d.aggStore.db.updateTable('portfolio_resource').set({ installation_location: null }).where('id', '=', 'D3').execute();
  s = await status();
  assert.equal(s.sig.status, 'not-satisfied');
  assert.match(s.sig.evidence[0]!.observed, /50 gateways registered, 1 without XML signatures/);
  assert.equal(s.inv.status, 'not-satisfied');
  assert.match(s.inv.evidence[0]!.observed, /50 present devices, 1 missing/);
});

test('continuity.active-standby: an aggregator pair over PostgreSQL satisfies it; back to a single process fails it, nothing else changes', { skip }, async () => {
  const db = await freshDatabase('erab_compliance_');
  const d = await deployment({ aggStoreUrl: db.url, gateways: 3 });
  after(async () => { await d.close(); await db.drop(); });
  const run = async () => {
    const a = await assess(d.profile(), builtinRegistry(), new Map(), { now: Date.now() });
    return { checks: new Map([...a.checks].map(([k, v]) => [k, v])), controls: new Map(a.controls.map((c) => [c.control.id, c])) };
  };
  const single = await run();
  assert.equal(single.checks.get('continuity.active-standby')!.status, 'not-satisfied');
  d.editConfig('aggregator', (c) => { c.standby = { enabled: true, leaseTtlMs: 5000 }; c.downstream.workers = 2; });
  const pair = await run();
  const r = pair.checks.get('continuity.active-standby')!;
  assert.equal(r.status, 'satisfied', JSON.stringify(r.evidence));
  assert.match(r.evidence[0]!.observed, /aggregator AGG1: active\/standby, a standby takes over 5000 ms after .*; 2 R4 workers/);
  const changed = [...pair.checks.keys()].filter((k) => pair.checks.get(k)!.status !== single.checks.get(k)!.status);
  assert.deepEqual(changed, ['continuity.active-standby'], 'only this check changed');
  // 事業継続 (§3.5 (iv)) is an organisational item: the check supports its decision and is shown beside it.
  assert.ok(pair.controls.get('erab-3.5-iv')!.checks.some((c) => c.id === 'continuity.active-standby' && c.result.status === 'satisfied'));
  d.editConfig('aggregator', (c) => { delete c.standby; c.downstream.workers = 1; });
  assert.equal((await run()).checks.get('continuity.active-standby')!.status, 'not-satisfied');
});
