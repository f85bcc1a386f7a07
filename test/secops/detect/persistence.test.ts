/**
 * Detection state across restarts, alert de-duplication, rate limiting and acknowledgement, on
 * SQLite and PostgreSQL: rule state and cursors are committed with the alerts, so a pattern that
 * straddles a restart is still seen and records already evaluated never raise an alert twice;
 * an acknowledgement is audited, also when it was made while another process held the log.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { detectMigrations, InProcessChannel, loadRules, startDetection, type RuleOverrides } from '../../../src/secops/detect/index.js';
import { request, startEchoServer } from '../../security/tls-helpers.js';
import { describeEachEngine } from '../../store/harness.js';
import { pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';

let world: PkiWorld<'agg'>;
let rogueWorld: PkiWorld<'rogue'>;
let root: string;
before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1' }, { prefix: 'erab-detect-p-' });
  rogueWorld = await pkiWorld({ rogue: 'gateway:GW1' }, { prefix: 'erab-detect-p-rogue-', ca: { commonName: 'rogue CA' } });
  root = mkdtempSync(join(tmpdir(), 'erab-detect-p-'));
});
after(async () => {
  await world?.close();
  await rogueWorld?.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
const refusal = (actor: string) => ({ actor: { kind: 'system' as const, id: actor }, action: 'gateway.command', target: 'E1', outcome: 'refused' as const, reason: 'signature does not verify' });

describeEachEngine('detection state, dedup, rate limit and ack', (fx) => {
  it('restart keeps the rule state and cursor: 5 refusals before and 5 after a restart make one alert; a further restart raises nothing again', async () => {
    const loc = await fx.location();
    const log = AuditLog.open({ dir: join(root, `p-${++n}`, 'audit'), origin: `erab.test/p-${n}/audit` });
    const srv = await startEchoServer({ material: await world.material('agg'), profile: 'R4', audit: log, listener: 'AGG1:R4', allowList: { participants: ['gateway:GW1'] } });
    const rogue = rogueWorld.certs.rogue;
    const knock = async (times: number) => {
      for (let i = 0; i < times; i++) await request(srv.port, { cert: rogue.certPem, key: rogue.keyPem, ca: world.caPem, checkServerIdentity: () => undefined });
    };
    const start = async (inbox: InProcessChannel) => startDetection({ store: await loc.open(detectMigrations), auditLog: log, rules: loadRules(), channels: [inbox], pollMs: 25 });
    try {
      const inbox1 = new InProcessChannel();
      const d1 = await start(inbox1);
      await knock(5);
      await waitFor(() => d1.stats().auditCursor >= 4, { what: 'the 5 refusals evaluated' });
      await d1.runOnce();
      await d1.stop();
      assert.equal(inbox1.received.filter((a) => a.ruleId === 'mtls-refusals-from-source').length, 0);

      const inbox2 = new InProcessChannel();
      const d2 = await start(inbox2);
      await knock(5);
      const a = await waitFor(() => inbox2.received.find((x) => x.ruleId === 'mtls-refusals-from-source'), { what: 'the alert after the restart' });
      assert.equal(a.key, '127.0.0.1');
      const cursor = d2.stats().auditCursor;
      await d2.stop();

      const inbox3 = new InProcessChannel();
      const d3 = await start(inbox3);
      await d3.runOnce();
      assert.equal(d3.stats().auditCursor, cursor, 'resumes at the cursor');
      assert.deepEqual(inbox3.received, [], 'nothing raised or delivered again');
      const stored = await d3.alerts.list({ ruleId: 'mtls-refusals-from-source' });
      assert.equal(stored.length, 1);
      assert.equal(stored[0]!.count, 1);
      assert.equal(stored[0]!.delivery, 'sent');
      assert.equal(stored[0]!.deliveries[0]!.channel, 'in-process');
      await d3.stop();
    } finally {
      await srv.close();
      log.close();
    }
  });

  it('after a crash the records since the last state commit are evaluated again without raising or counting an alert twice', async () => {
    const loc = await fx.location();
    const log = AuditLog.open({ dir: join(root, `p-${++n}`, 'audit'), origin: `erab.test/p-${n}/audit` });
    const inbox1 = new InProcessChannel();
    // State and cursor are committed only at start here (as if the process died before its next state commit).
    const d1 = await startDetection({ store: await loc.open(detectMigrations), auditLog: log, rules: loadRules(), channels: [inbox1], pollMs: 60_000, stateEveryMs: 3_600_000 });
    const inbox2 = new InProcessChannel();
    let d2: Awaited<ReturnType<typeof startDetection>> | undefined;
    try {
      log.append(refusal('A'));
      await d1.runOnce();
      await d1.settled();
      assert.deepEqual(inbox1.received.map((a) => [a.ruleId, a.count]), [['command-refused-by-policy', 1]]);
      // A second process on the same store starts from the old cursor: it reads the refusal again.
      d2 = await startDetection({ store: await loc.open(detectMigrations), auditLog: log.dir, rules: loadRules(), channels: [inbox2], pollMs: 60_000 });
      assert.equal(d2.stats().auditCursor, 0, 'the record was evaluated again');
      await d2.settled();
      assert.deepEqual(inbox2.received, [], 'not delivered again');
      const stored = await d2.alerts.list();
      assert.deepEqual(stored.map((a) => [a.ruleId, a.count]), [['command-refused-by-policy', 1]], 'not counted again');
      log.append(refusal('A'));
      await d2.runOnce();
      assert.equal((await d2.alerts.list())[0]!.count, 2, 'a new refusal still counts');
    } finally {
      await d2?.stop();
      await d1.stop();
      log.close();
    }
  });

  it('rate limit per rule: past maxAlertsPerHour new alerts are stored as suppressed, not delivered', async () => {
    const loc = await fx.location();
    const log = AuditLog.open({ dir: join(root, `p-${++n}`, 'audit'), origin: `erab.test/p-${n}/audit` });
    const overrides: RuleOverrides = { 'command-refused-by-policy': { maxAlertsPerHour: 2 } };
    const inbox = new InProcessChannel();
    const d = await startDetection({ store: await loc.open(detectMigrations), auditLog: log, rules: loadRules({ overrides }), channels: [inbox], pollMs: 25 });
    try {
      for (const actor of ['A', 'B', 'C', 'A']) log.append(refusal(actor));
      await d.runOnce();
      await d.settled();
      const all = await d.alerts.list({ ruleId: 'command-refused-by-policy' });
      assert.deepEqual(all.map((x) => [x.key, x.count, x.delivery]).reverse(), [['A', 2, 'sent'], ['B', 1, 'sent'], ['C', 1, 'suppressed']]);
      assert.deepEqual(inbox.received.map((x) => x.key), ['A', 'B']);
    } finally {
      await d.stop();
      log.close();
    }
  });

  it('an acknowledgement is audited with the operator as actor; one made without the log is audited by the running service', async () => {
    const loc = await fx.location();
    const dir = join(root, `p-${++n}`, 'audit');
    const log = AuditLog.open({ dir, origin: `erab.test/p-${n}/audit` });
    const inbox = new InProcessChannel();
    const store = await loc.open(detectMigrations);
    const d = await startDetection({ store, auditLog: log, rules: loadRules(), channels: [inbox], pollMs: 25 });
    try {
      log.append(refusal('A'));
      log.append(refusal('B'));
      await d.runOnce();
      const [b, a] = await d.alerts.list();
      const acked = await d.alerts.acknowledge(a!.id, 'op-sato', 'known test', log);
      assert.equal(acked.status, 'acknowledged');
      await assert.rejects(d.alerts.acknowledge(a!.id, 'op-tanaka', undefined, log), /already acknowledged by op-sato/);
      await assert.rejects(d.alerts.acknowledge(a!.id, 'op with spaces', undefined, log), /operator/);
      // The CLI's path: the log is held by the running role, so the ack is stored for it to audit.
      const other = await loc.open(detectMigrations);
      const { AlertBook } = await import('../../../src/secops/detect/alerts.js');
      await new AlertBook(other).acknowledge(b!.id, 'op-suzuki', undefined);
      await waitFor(() => [...readRecords(dir)].some((l) => l.record?.action === 'detect.alert.acknowledge' && l.record.actor.id === 'op-suzuki'), { what: 'the deferred ack audited' });
      const acks = [...readRecords(dir)].filter((l) => l.record?.action === 'detect.alert.acknowledge').map((l) => l.record!);
      assert.deepEqual(acks.map((r) => [r.actor.kind, r.actor.id, r.target]), [['operator', 'op-sato', `alert:${a!.id}`], ['operator', 'op-suzuki', `alert:${b!.id}`]]);
      assert.equal(acks[0]!.details?.note, 'known test');
      await d.runOnce();
      assert.equal([...readRecords(dir)].filter((l) => l.record?.action === 'detect.alert.acknowledge').length, 2, 'audited once');
      assert.equal((await d.alerts.list({ status: 'open' })).length, 0);
    } finally {
      await d.stop();
      log.close();
    }
  });
});
