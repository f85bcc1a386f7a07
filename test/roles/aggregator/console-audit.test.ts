/**
 * The console's audit log browser and refusals view over real mutual TLS, against the
 * aggregator's own tamper-evident audit log on disk (no injected sink): GET /api/audit pages
 * the log newest first with its verification result, filters by action (or a prefix) and by
 * outcome; GET /api/refusals lists a gateway certificate refused at the console's TLS handshake
 * (kind tls) and an operator refused by the role table (kind request). The view's verification
 * turns red for a record edited on disk.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { AuditLog } from '../../../src/security/audit/log.js';
import { AUDIT_SCAN_MAX, AuditView } from '../../../src/roles/aggregator/runtime/audit-view.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { operatorCall } from '../common/operator-client.js';

let pki: PkiWorld<'agg' | 'gw9' | 'alice' | 'vera'>;
let agg: RunningAggregator;
const consoleAt = () => ({ port: agg.consolePort!, caPem: pki.caPem, server: { role: 'aggregator', id: 'AGG1' } });

before(async () => {
  pki = await pkiWorld({ agg: 'aggregator:AGG1', gw9: 'gateway:GW9', alice: 'operator:alice', vera: 'operator:vera' }, { prefix: 'erab-console-audit-' });
  agg = await startAggregator(parseAggregatorConfig({
    id: 'AGG1', tls: pki.tlsFiles('agg'), store: { url: join(pki.dir, 'agg.db') }, audit: { dir: join(pki.dir, 'audit') },
    downstream: { host: '127.0.0.1', port: 0, allowList: { roles: ['gateway'] } },
    console: { port: 0, roles: { default: 'viewer', operators: { alice: 'administrator' } } },
  }), { clock: systemClock });
});

after(async () => {
  await agg?.stop();
  pki?.close();
});

test('GET /api/audit: newest first, paged, filtered, with the log verified', async () => {
  const { alice, vera } = pki.certs;
  for (let i = 0; i < 3; i++) assert.equal((await operatorCall(consoleAt(), alice, 'GET', '/status')).status, 200);
  const all = await operatorCall(consoleAt(), vera, 'GET', '/api/audit?limit=3');
  assert.equal(all.status, 200, all.text);
  assert.equal(all.json.items.length, 3, all.text);
  const idx = all.json.items.map((e: { index: number }) => e.index);
  assert.deepEqual(idx, [...idx].sort((a: number, b: number) => b - a), 'newest first');
  assert.equal(all.json.verification.ok, true, JSON.stringify(all.json.verification));
  assert.ok(all.json.verification.records >= 3);
  const next = await operatorCall(consoleAt(), vera, 'GET', `/api/audit?limit=3&cursor=${all.json.nextCursor}`);
  assert.ok(next.json.items.every((e: { index: number }) => e.index < idx[2]), 'the next page is older');
  const byAction = await operatorCall(consoleAt(), vera, 'GET', '/api/audit?action=console.status');
  assert.ok(byAction.json.items.length >= 1);
  assert.ok(byAction.json.items.every((e: { action: string }) => e.action === 'console.status'));
  assert.ok(byAction.json.items.some((e: { actor: { id: string } }) => e.actor.id === 'alice'));
  const prefix = await operatorCall(consoleAt(), vera, 'GET', '/api/audit?action=aggregator.');
  assert.ok(prefix.json.items.some((e: { action: string }) => e.action === 'aggregator.start'));
  const bad = await operatorCall(consoleAt(), vera, 'GET', '/api/audit?cursor=zz');
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /cursor/);
});

test('GET /api/refusals: a certificate refused at the TLS handshake and a request refused by role', async () => {
  const { gw9, vera } = pki.certs;
  // A gateway's certificate is not an operator's: the console's allow-list refuses the handshake.
  await operatorCall(consoleAt(), gw9, 'GET', '/status').then(() => assert.fail('a gateway certificate reached the console'), () => {});
  // vera is a viewer: submitting a command is refused (403) and audited.
  const refused = await operatorCall(consoleAt(), vera, 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: 'fleet', durationMs: 60_000, reason: 'not mine to give' });
  assert.equal(refused.status, 403, refused.text);
  const tls = await operatorCall(consoleAt(), vera, 'GET', '/api/refusals?kind=tls');
  assert.equal(tls.status, 200, tls.text);
  const gwRefusal = tls.json.items.find((r: { by: string }) => r.by.includes('GW9'));
  assert.ok(gwRefusal, JSON.stringify(tls.json.items));
  assert.equal(gwRefusal.kind, 'tls');
  assert.ok(gwRefusal.reason.length > 0);
  const every = await operatorCall(consoleAt(), vera, 'GET', '/api/refusals');
  const kinds = new Set(every.json.items.map((r: { kind: string }) => r.kind));
  assert.ok(kinds.has('tls') && kinds.has('request'), JSON.stringify(every.json.items));
  const roleRefusal = every.json.items.find((r: { kind: string; by: string }) => r.kind === 'request' && r.by.startsWith('vera'));
  assert.ok(roleRefusal, 'the viewer refused by role is listed');
});

test('the audit view: a record edited on disk turns the verification red', () => {
  const dir = join(pki.dir, 'edited-audit');
  const log = AuditLog.open({ dir, origin: 'erab/test/audit' });
  try {
    for (let i = 0; i < 4; i++) log.append({ actor: { kind: 'operator', id: 'alice' }, action: 'console.status', outcome: 'success' });
    const view = new AuditView(log, 0);
    assert.equal(view.verification().ok, true);
    assert.deepEqual(view.page({ limit: 2 }).items.map((e) => e.index), [3, 2]);
    // Someone rewrites who did record 1, behind the log's back: the chain no longer holds.
    const seg = join(dir, 'segments', readdirSync(join(dir, 'segments')).sort()[0]!);
    writeFileSync(seg, readFileSync(seg, 'utf8').replace(/("i":1,.*?"id":)"alice"/, '$1"mallory"'));
    const v = view.verification();
    assert.equal(v.ok, false);
    assert.match(v.problems.join('; '), /edited/);
  } finally {
    log.close();
  }
});

test('the audit view: a filter that matches little stops after AUDIT_SCAN_MAX records and its cursor continues there', () => {
  const sink = new MemoryAuditSink();
  sink.append({ actor: { kind: 'operator', id: 'alice' }, action: 'needle', outcome: 'success' });
  for (let i = 0; i < AUDIT_SCAN_MAX + 5; i++) sink.append({ actor: { kind: 'system', id: 'x' }, action: 'hay', outcome: 'success' });
  const view = new AuditView(sink);
  const first = view.page({ limit: 10, action: 'needle' });
  assert.deepEqual(first.items, []);
  assert.equal(first.nextCursor, 'a6', 'continues below the last record read');
  const second = view.page({ limit: 10, action: 'needle', cursor: first.nextCursor! });
  assert.deepEqual([second.items.map((e) => [e.index, e.action]), second.nextCursor], [[[0, 'needle']], null]);
  assert.equal(second.verification.ok, null, 'a memory sink is not a tamper-evident log');
});
