/**
 * Incident response across real processes: a running aggregator (real mutual TLS, detection on),
 * `erab drill run rogue-peer` as a separate process attacking its R4 listener with a certificate
 * from another CA, the alert it raises, an incident opened from that alert with its report, and
 * the playbook's revocation step (`erab incident act … revoke`) dropping a gateway's live
 * connection. Plus the incident book itself on SQLite and PostgreSQL, audited.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import type { AggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { aggregatorSecops } from '../../../src/cli/role-secops.js';

/** The aggregator as `erab aggregator run` composes it: detection and the secops tables attached. */
const startComposed = (cfg: AggregatorConfig): Promise<RunningAggregator> => startAggregator(cfg, { ...aggregatorSecops(cfg).deps });
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { IncidentBook, incidentMigrations } from '../../../src/secops/incidents/index.js';
import { describeEachEngine } from '../../store/harness.js';
import { pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';
import { runErab } from './run-erab.js';

describeEachEngine('incident book', (fx) => {
  test('an incident moves forward only, keeps its timeline, and every change is audited', async () => {
    const store = await (await fx.location()).open(incidentMigrations);
    const world = await pkiWorld({}, { prefix: 'erab-incident-book-' });
    const audit = AuditLog.open({ dir: join(world.dir, 'audit'), origin: 'erab-incidents' });
    try {
      const book = new IncidentBook(store, audit);
      const inc = await book.open({ title: 'suspicious command burst', severity: 'high', by: 'op-sato' });
      await book.note(inc.id, 'op-tanaka', 'source is GW7');
      await book.setStatus(inc.id, 'contained', 'op-sato', 'GW7 revoked');
      await assert.rejects(book.setStatus(inc.id, 'open', 'op-sato'), /cannot move from contained to open/);
      await book.setStatus(inc.id, 'closed', 'op-sato');
      await assert.rejects(book.note(inc.id, 'op-sato', 'late'), /is closed/);
      await assert.rejects(book.note(inc.id, 'op sato', 'x'), /actor "op sato"/);
      await assert.rejects(book.open({ title: '', by: 'op-sato' }), /title must not be empty/);
      const shown = await book.show(inc.id);
      assert.equal(shown.status, 'closed');
      assert.deepEqual(shown.timeline.map((e) => [e.kind, e.actor]), [['opened', 'op-sato'], ['note', 'op-tanaka'], ['status', 'op-sato'], ['status', 'op-sato']]);
      assert.deepEqual((await book.list({ status: 'closed' })).map((i) => i.id), [inc.id]);
      audit.close();
      const actions = [...readRecords(join(world.dir, 'audit'))].map((l) => `${l.record?.action}:${l.record?.actor.id}`);
      assert.deepEqual(actions, ['incident.open:op-sato', 'incident.note:op-tanaka', 'incident.status:op-sato', 'incident.status:op-sato']);
    } finally {
      audit.close();
      await world.close();
    }
  });
});

describe('against a running aggregator', () => {
  let world: PkiWorld<'agg' | 'gw1' | 'gw2'>;
  let agg: RunningAggregator;
  let deskDb: string;
  let deskAudit: string;
  let drillAlert: { id: number; ruleId: string } | undefined;
  const desk = (): string[] => ['--db', deskDb, '--audit-dir', deskAudit];

  before(async () => {
    world = await pkiWorld({ agg: 'aggregator:AGG1', gw1: 'gateway:GW1', gw2: 'gateway:GW2' }, { prefix: 'erab-incident-agg-' });
    deskDb = join(world.dir, 'incidents.db');
    deskAudit = join(world.dir, 'incidents-audit');
    agg = await startComposed(parseAggregatorConfig({
      id: 'AGG1',
      tls: world.tlsFiles('agg'),
      store: { url: join(world.dir, 'aggregator.db') },
      audit: { dir: join(world.dir, 'agg-audit') },
      // gateway:DRILL-FORGER: the forged-command drill's identity (a certificate that exists only during a drill).
      downstream: { port: 0, allowList: { participants: ['gateway:GW1', 'gateway:GW2', 'gateway:DRILL-FORGER'] } },
    }));
  });
  after(async () => {
    await agg?.stop();
    await world?.close();
  });

  it('erab drill run rogue-peer passes: refused, detected, alert delivered, drill incident opened, record stored and written', async () => {
    const out = join(world.dir, 'drill.json');
    const r = await runErab(['drill', 'run', 'rogue-peer', '--target', world.dir, '--url', `https://127.0.0.1:${agg.downstreamPort}`,
      '--alerts-db', join(world.dir, 'aggregator.db'), '--participant', 'aggregator:AGG1', '--operator', 'op-sato', '--out', out, ...desk()]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /PASSED/);
    const record = JSON.parse(readFileSync(out, 'utf8')) as { drill: boolean; passed: boolean; checks: { name: string; ok: boolean }[]; alert: { id: number; ruleId: string; evidence: unknown[] }; incidentId: number; timeline: unknown[] };
    assert.equal(record.drill, true);
    assert.deepEqual(record.checks.map((c) => [c.name, c.ok]), [
      ['target reached', true], ['listener refused the attacker', true], ['detection rule fired', true], ['alert arrived', true], ['playbook ran', true],
    ]);
    assert.ok(['mtls-refusals-from-source', 'refused-peer-retries'].includes(record.alert.ruleId), record.alert.ruleId);
    drillAlert = record.alert;
    assert.ok(record.alert.evidence.length > 0);
    assert.ok(record.timeline.length >= 5);
    const list = await runErab(['drill', 'list', ...desk()]);
    assert.match(list.stdout, /#1 .* rogue-peer → aggregator:AGG1: passed/);
    const shown = await runErab(['incident', 'show', String(record.incidentId), '--json', ...desk()]);
    const inc = JSON.parse(shown.stdout) as { drill: boolean; timeline: { kind: string }[] };
    assert.equal(inc.drill, true);
    assert.ok(inc.timeline.some((e) => e.kind === 'alert'));
    const audited = [...readRecords(deskAudit)].map((l) => l.record?.action);
    assert.ok(audited.includes('drill.run') && audited.includes('incident.open'), audited.join(','));
  });

  it('an incident opened from the real alert has a report (JSON and HTML) with the alert\'s audit evidence', async () => {
    const opened = await runErab(['incident', 'open', '--alert', String(drillAlert?.id ?? 1), '--alerts-db', join(world.dir, 'aggregator.db'), '--source', 'aggregator:AGG1', '--operator', 'op-sato', '--json', ...desk()]);
    assert.equal(opened.code, 0, opened.stderr);
    const id = (JSON.parse(opened.stdout) as { id: number; drill: boolean }).id;
    assert.equal(await runErab(['incident', 'note', String(id), 'scanner in the lab segment', '--operator', 'op-tanaka', ...desk()]).then((x) => x.code), 0);
    const more = await runErab(['incident', 'add-alert', String(id), '--alert', String(drillAlert!.id), '--alerts-db', join(world.dir, 'aggregator.db'), '--operator', 'op-tanaka', ...desk()]);
    assert.equal(more.code, 0, more.stderr);
    const json = join(world.dir, 'report.json');
    const html = join(world.dir, 'report.html');
    const rep = await runErab(['incident', 'report', String(id), '--json', json, '--html', html, '--lang', 'ja', ...desk()]);
    assert.equal(rep.code, 0, rep.stderr);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { incident: { drill: boolean }; detection: { ruleId: string; evidence: { leafHash?: string; type: string }[] }[]; timeline: { kind: string }[] };
    assert.equal(report.incident.drill, false);
    assert.equal(report.detection[0]?.ruleId, drillAlert?.ruleId);
    const ev = report.detection[0]!.evidence;
    assert.ok(ev.some((e) => /^[0-9a-f]{64}$/.test(e.leafHash ?? '') && /refused/.test(e.type)), JSON.stringify(ev[0]));
    assert.deepEqual(report.timeline.map((e) => e.kind), ['opened', 'alert', 'note', 'alert']);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /セキュリティインシデント報告書/);
    assert.ok(page.includes(drillAlert!.ruleId));
    assert.match(page, /scanner in the lab segment/);
    assert.doesNotMatch(page, /<script/i);
    const en = join(world.dir, 'report-en.html');
    assert.equal((await runErab(['incident', 'report', String(id), '--html', en, '--lang', 'en', ...desk()])).code, 0);
    assert.match(readFileSync(en, 'utf8'), /<html lang="en">[^]*Security incident report #\d+[^]*What was detected, with evidence/);
  });

  it('erab drill run flood: 100 connections at once are refused, the listener stays up, the alert fires', async () => {
    const out = join(world.dir, 'flood.json');
    const r = await runErab(['drill', 'run', 'flood', '--target', world.dir, '--url', `https://127.0.0.1:${agg.downstreamPort}`, '--attempts', '100', '--participant', 'aggregator:AGG1',
      '--alerts-db', join(world.dir, 'aggregator.db'), '--out', out, ...desk()]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /ok {3}listener survived the flood/);
    assert.match(r.stdout, /ok {3}listener refused the attacker: all 100 connections refused/);
    assert.match(r.stdout, /flood against aggregator:AGG1: PASSED/);
  });

  it('erab drill run forged-command: forged signatures refused by the signature check, forged-signature alert delivered, incident opened, forger revoked', async () => {
    const out = join(world.dir, 'forged.json');
    const pki = join(world.dir, 'world-pki');
    const r = await runErab(['drill', 'run', 'forged-command', '--target', world.dir, '--url', `https://127.0.0.1:${agg.downstreamPort}`, '--attempts', '3', '--participant', 'aggregator:AGG1',
      '--alerts-db', join(world.dir, 'aggregator.db'), '--pki', pki, '--operator', 'op-sato', '--out', out, ...desk()]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /ok {3}forged command refused: all 3 by the signature check: signature refused \(463 XML signature refused/);
    assert.match(r.stdout, /ok {3}detection rule fired: alert #\d+ forged-signature \(DRILL-FORGER\)/);
    assert.match(r.stdout, /forged-command against aggregator:AGG1: PASSED/);
    const record = JSON.parse(readFileSync(out, 'utf8')) as { checks: { name: string; ok: boolean }[]; alert: { ruleId: string; evidence: { type: string; leafHash?: string; reason?: string }[] }; incidentId: number; timeline: { what: string; details?: { serials?: string[] } }[] };
    assert.deepEqual(record.checks.map((c) => [c.name, c.ok]), [
      ['forged command refused', true], ['target reached', true], ['listener refused the attacker', true], ['detection rule fired', true], ['alert arrived', true], ['playbook ran', true],
    ]);
    // The evidence is the aggregator's own audit record of the refusal, with its leaf hash.
    assert.ok(record.alert.evidence.some((e) => e.type === 'openadr.unauthorized' && /^[0-9a-f]{64}$/.test(e.leafHash ?? '') && /^XML signature refused/.test(e.reason ?? '')), JSON.stringify(record.alert.evidence));
    // The forger's certificate lived only during the drill: revoked in the deployment's PKI.
    const revoked = record.timeline.find((e) => /forger certificate revoked/.test(e.what));
    assert.equal(revoked?.details?.serials?.length, 1);
    const listed = await runErab(['pki', 'list', '--dir', pki, '--json']);
    const forgers = (JSON.parse(listed.stdout) as { role: string; id: string; status: string }[]).filter((c) => c.id === 'DRILL-FORGER');
    assert.deepEqual(forgers.map((c) => [c.role, c.status]), [['gateway', 'revoked']]);
    const inc = JSON.parse((await runErab(['incident', 'show', String(record.incidentId), '--json', ...desk()])).stdout) as { drill: boolean; timeline: { kind: string }[] };
    assert.equal(inc.drill, true);
    assert.ok(inc.timeline.some((e) => e.kind === 'alert'));
    // A second run works: the previous forger is revoked, a new one is issued.
    const again = await runErab(['drill', 'run', 'forged-command', '--target', world.dir, '--url', `https://127.0.0.1:${agg.downstreamPort}`, '--attempts', '1', '--participant', 'aggregator:AGG1',
      '--alerts-db', join(world.dir, 'aggregator.db'), '--pki', pki, '--out', join(world.dir, 'forged2.json'), ...desk()]);
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  });

  it('the revocation step drops the gateway\'s live mutual-TLS connection; another gateway stays connected', async () => {
    const connect = (name: 'gw1' | 'gw2'): Promise<{ closed: () => boolean; socket: tls.TLSSocket }> => new Promise((resolve, reject) => {
      const c = world.get(name);
      let closed = false;
      const socket = tls.connect({ host: '127.0.0.1', port: agg.downstreamPort, cert: c.certPem, key: c.keyPem, ca: world.caPem, checkServerIdentity: () => undefined }, () => {
        // TLS 1.3: the server verifies the client certificate after the client's finish; a write proves acceptance.
        socket.write('GET / HTTP/1.1\r\nHost: aggregator\r\nConnection: keep-alive\r\n\r\n');
      });
      socket.once('data', () => resolve({ closed: () => closed, socket }));
      socket.on('error', (e) => reject(e));
      socket.on('close', () => { closed = true; });
    });
    const gw1 = await connect('gw1');
    const gw2 = await connect('gw2');
    try {
      const opened = await runErab(['incident', 'open', '--title', 'GW1 key leaked', '--severity', 'critical', '--operator', 'op-sato', '--json', ...desk()]);
      const id = (JSON.parse(opened.stdout) as { id: number }).id;
      const act = await runErab(['incident', 'act', String(id), 'revoke', '--pki', join(world.dir, 'world-pki'), '--role', 'gateway', '--id', 'GW1', '--operator', 'op-sato', ...desk()]);
      assert.equal(act.code, 0, `${act.stdout}\n${act.stderr}`);
      assert.match(act.stdout, /done: revoke: revoked gateway:GW1/);
      await waitFor(() => gw1.closed(), { what: 'GW1\'s live connection dropped', timeoutMs: 5000 });
      assert.equal(gw2.closed(), false, 'GW2 is not revoked and stays connected');
      const shown = JSON.parse((await runErab(['incident', 'show', String(id), '--json', ...desk()])).stdout) as { timeline: { kind: string; details: { step?: string; outcome?: string; serials?: string[] } }[] };
      const action = shown.timeline.find((e) => e.kind === 'action');
      assert.deepEqual([action?.details.step, action?.details.outcome], ['revoke', 'success']);
      assert.equal(action?.details.serials?.length, 1);
      assert.ok([...readRecords(deskAudit)].some((l) => l.record?.action === 'incident.action' && l.record.target === `incident:${id}`));
    } finally {
      gw1.socket.destroy();
      gw2.socket.destroy();
    }
  });
});

test('a drill against an aggregator whose detection is off fails and says why', async () => {
  const world = await pkiWorld({ agg: 'aggregator:AGG2' }, { prefix: 'erab-drill-off-' });
  const agg = await startComposed(parseAggregatorConfig({
    id: 'AGG2', tls: world.tlsFiles('agg'), store: { url: join(world.dir, 'aggregator.db') }, audit: { dir: join(world.dir, 'audit') },
    downstream: { port: 0, allowList: { participants: ['gateway:GW1'] } }, detection: { enabled: false },
  }));
  try {
    const out = join(world.dir, 'drill.json');
    const r = await runErab(['drill', 'run', 'rogue-peer', '--target', world.dir, '--url', `https://127.0.0.1:${agg.downstreamPort}`,
      '--alerts-db', join(world.dir, 'aggregator.db'), '--wait', '3', '--attempts', '3', '--out', out, '--db', join(world.dir, 'desk.db'), '--audit-dir', join(world.dir, 'desk-audit')]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /ok {3}listener refused the attacker/);
    assert.match(r.stdout, /FAIL detection rule fired: no alert of mtls-refusals-from-source or refused-peer-retries within 3 s/);
    assert.ok(existsSync(out), 'a failed drill is recorded too');
    const nobody = await runErab(['drill', 'run', 'rogue-peer', '--target', world.dir, '--url', 'https://127.0.0.1:9', '--attempts', '2', '--wait', '0', '--out', join(world.dir, 'nobody.json'),
      '--alerts-db', join(world.dir, 'aggregator.db'), '--db', join(world.dir, 'desk.db'), '--audit-dir', join(world.dir, 'desk-audit')]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stdout, /FAIL target reached: 2 of 2 connection\(s\): unreachable \(connect ECONNREFUSED/);
    const bad = await runErab(['drill', 'run', 'rogue-peer', '--target', world.dir, '--url', 'https://10.0.0.1:443', '--alerts-db', join(world.dir, 'aggregator.db'), '--out', join(world.dir, 'bad.json'), '--db', join(world.dir, 'desk.db'), '--audit-dir', join(world.dir, 'desk-audit')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /only loopback addresses/);
  } finally {
    await agg.stop();
    await world.close();
  }
});
