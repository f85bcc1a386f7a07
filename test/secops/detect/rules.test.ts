/**
 * The rule file and its overrides are validated with messages that name the rule and field; the
 * audit tail follows the log across sealed segments and resumes at its cursor.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../../src/security/audit/log.js';
import { AuditTail, loadRules, parseRules, SHIPPED_RULES_FILE, type Observation } from '../../../src/secops/detect/index.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-detect-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('the shipped file holds every rule the issue asks for, each with ja and en descriptions and a guideline item', () => {
  const rules = loadRules();
  assert.deepEqual(rules.map((r) => r.id).sort(), ['audit-log-went-backwards', 'command-flood', 'command-refused-by-policy', 'delivery-far-from-instruction', 'device-identity-changed', 'forged-signature', 'gateway-silent', 'mtls-refusals-from-source', 'pv-output-at-night', 'refused-peer-retries', 'soc-jump']);
  assert.deepEqual([...new Set(rules.map((r) => r.kind))].sort(), ['absence', 'deviation', 'jump', 'range', 'sequence', 'threshold']);
  for (const r of rules) {
    assert.ok(r.description.ja.length > 0 && r.description.en.length > 0 && r.guideline.length > 0, r.id);
    assert.ok(r.enabled, r.id);
  }
  assert.equal(JSON.parse(readFileSync(SHIPPED_RULES_FILE, 'utf8')).version, 1, 'the file ships beside the compiled module');
});

it('a bad rule file is refused naming the rule index and field', () => {
  const base = JSON.parse(readFileSync(SHIPPED_RULES_FILE, 'utf8')) as { version: number; rules: Record<string, unknown>[] };
  const dup = { ...base, rules: [...base.rules, base.rules[0]!] };
  assert.throws(() => parseRules(dup), /rules\.11\.id: duplicate rule id "mtls-refusals-from-source"/);
  const badKind = { ...base, rules: [{ ...base.rules[0]!, kind: 'magic' }] };
  assert.throws(() => parseRules(badKind), /rules\.0\.kind/);
  const badField = { ...base, rules: [{ ...base.rules[0]!, groupBy: ['password'] }] };
  assert.throws(() => parseRules(badField), /rules\.0\.groupBy\.0/);
  assert.throws(() => parseRules({ ...base, version: 2 }), /version/);
  const file = join(dir, 'rules.json');
  writeFileSync(file, '{ not json');
  assert.throws(() => loadRules({ file }), /rules\.json/);
});

it('overrides tune thresholds by rule id; an unknown rule or a broken threshold is refused by name', () => {
  const rules = loadRules({ overrides: { 'command-flood': { params: { count: 500 } }, 'soc-jump': { enabled: false, severity: 'low' } } });
  const flood = rules.find((r) => r.id === 'command-flood')!;
  assert.equal(flood.kind === 'threshold' && flood.params.count, 500);
  assert.equal(flood.kind === 'threshold' && flood.params.windowMs, 60_000, 'other params kept');
  assert.equal(rules.find((r) => r.id === 'soc-jump')!.enabled, false);
  assert.throws(() => loadRules({ overrides: { 'no-such-rule': { enabled: false } } }), /"no-such-rule": no such rule/);
  assert.throws(() => loadRules({ overrides: { 'command-flood': { params: { count: 0 } } } }), /"command-flood" is invalid[^]*params\.count/);
  assert.throws(() => loadRules({ overrides: { 'command-flood': { thresholds: 3 } as never } }), /overrides are invalid/);
});

it('the audit tail follows the log across sealed segments and resumes after its cursor', () => {
  const logDir = join(dir, 'audit');
  const log = AuditLog.open({ dir: logDir, origin: 'erab.test/tail/audit', segmentMaxRecords: 10 });
  for (let i = 0; i < 35; i++) log.append({ actor: { kind: 'system', id: 's' }, action: i % 2 ? 'tls.refused' : 'openadr.register', target: `t${i}`, outcome: 'refused' });
  const seen: Observation[] = [];
  const tail = new AuditTail(logDir, -1);
  let total = 0;
  for (let n = tail.read(() => true, (o) => seen.push(o)); n > 0; n = tail.read(() => true, (o) => seen.push(o))) total += n;
  assert.equal(total, 35);
  assert.deepEqual(seen.map((o) => o.seq), Array.from({ length: 35 }, (_, i) => i));
  assert.equal(tail.cursor, 34);
  // Only wanted actions are parsed, but the cursor passes the others too.
  const again = new AuditTail(logDir, 21);
  const wanted: Observation[] = [];
  while (again.read((a) => a === 'tls.refused', (o) => wanted.push(o)) > 0);
  assert.deepEqual(wanted.map((o) => o.seq), [23, 25, 27, 29, 31, 33]);
  assert.equal(again.cursor, 34);
  for (let i = 35; i < 38; i++) log.append({ actor: { kind: 'system', id: 's' }, action: 'tls.refused', outcome: 'refused' });
  while (again.read((a) => a === 'tls.refused', (o) => wanted.push(o)) > 0);
  assert.deepEqual(wanted.slice(-3).map((o) => o.seq), [35, 36, 37]);
  log.close();
});
