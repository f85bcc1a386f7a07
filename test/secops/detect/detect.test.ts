/**
 * Detection rules end to end: each shipped rule gets its pattern in (network rules from real
 * mutual-TLS handshakes against a real listener, whose refusals land in a real audit log; command
 * and device rules from the real gateway components; telemetry rules from reports stored by the
 * aggregator's own VTN store) and its alert out, delivered to a channel; a quiet system raises
 * none.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../../src/security/audit/log.js';
import { AuditWitness, formatAddCheckpointRequest } from '../../../src/security/audit/witness.js';
import { consistencyProof } from '../../../src/security/audit/proofs.js';
import { leafHash } from '../../../src/security/audit/merkle.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { clientTlsOptions, loadTlsMaterial } from '../../../src/security/tls.js';
import { ManualClock } from '../../../src/core/clock.js';
import { openStore } from '../../../src/store/store.js';
import { openadrStoreMigrations, StoreVtnStore } from '../../../src/endpoints/openadr/store.js';
import { CommandGuard, MemoryReplayStore } from '../../../src/roles/gateway/command-guard.js';
import { AdmissionRegistry, MemoryAdmissionStore } from '../../../src/roles/gateway/admission.js';
import { fromJstFields } from '../../../src/core/jst.js';
import { InProcessChannel, loadRules, startDetection, type Alert, type RuleOverrides } from '../../../src/secops/detect/index.js';
import { request, startEchoServer, type RunningServer } from '../../security/tls-helpers.js';
import { pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';

let world: PkiWorld<'agg' | 'gw' | 'gone'>;
let rogueWorld: PkiWorld<'rogue'>;
let root: string;

before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1', gw: 'gateway:GW1', gone: { role: 'gateway', id: 'GW9', revoked: 'keyCompromise' } }, { prefix: 'erab-detect-' });
  rogueWorld = await pkiWorld({ rogue: 'gateway:GW1' }, { prefix: 'erab-detect-rogue-', ca: { commonName: 'rogue CA' } });
  root = mkdtempSync(join(tmpdir(), 'erab-detect-run-'));
});
after(async () => {
  await world?.close();
  await rogueWorld?.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
/** A role's audit log, store and detection, all real, in a fresh directory. */
async function rig(opts: { overrides?: RuleOverrides; clock?: ManualClock } = {}) {
  const dir = join(root, `rig-${++n}`);
  const log = AuditLog.open({ dir: join(dir, 'audit'), origin: `erab.test/detect-${n}/audit` });
  const store = await openStore({ url: join(dir, 'agg.db'), migrations: openadrStoreMigrations });
  const inbox = new InProcessChannel();
  const detection = await startDetection({ store, auditLog: log, rules: loadRules({ overrides: opts.overrides ?? {} }), channels: [inbox], pollMs: 25, ...(opts.clock ? { clock: opts.clock } : {}) });
  let server: RunningServer | undefined;
  return {
    dir, log, store, inbox, detection,
    async listener(): Promise<RunningServer> {
      server = await startEchoServer({ material: await world.material('agg'), profile: 'R4', audit: log, listener: 'AGG1:R4', auditAccepted: true, allowList: { participants: ['gateway:GW1'] } });
      return server;
    },
    alertsOf(ruleId: string): Alert[] {
      return inbox.received.filter((a) => a.ruleId === ruleId);
    },
    async close() {
      await server?.close();
      await detection.stop();
      await store.close();
      log.close();
    },
  };
}

const alertFor = (r: Awaited<ReturnType<typeof rig>>, ruleId: string, what: string) =>
  waitFor(() => r.alertsOf(ruleId)[0], { what, timeoutMs: 10_000 });

/** Report as the gateway sends it (TELEMETRY_USAGE / STATUS data points per resource). */
function report(id: string, t: number, points: Record<string, number>) {
  return {
    eiReportID: id, reportRequestID: 'rr', reportSpecifierID: 'TELEMETRY', reportName: 'TELEMETRY_USAGE' as const,
    createdDateTime: t as EpochMillis, dtstart: t as EpochMillis, duration: 10_000 as Millis,
    intervals: [{ dtstart: t as EpochMillis, payloads: Object.entries(points).map(([rID, value]) => ({ rID, value })) }],
  };
}

describe('network rules, from real mutual-TLS handshakes', () => {
  it('mtls-refusals-from-source: 10 refused handshakes from one address raise one alert with the refusals as evidence', async () => {
    const r = await rig();
    try {
      const srv = await r.listener();
      const rogue = rogueWorld.certs.rogue;
      for (let i = 0; i < 10; i++) {
        const out = await request(srv.port, { cert: rogue.certPem, key: rogue.keyPem, ca: world.caPem, checkServerIdentity: () => undefined });
        assert.equal(out.status, undefined, 'refused');
      }
      const a = await alertFor(r, 'mtls-refusals-from-source', 'the refusal-burst alert');
      assert.equal(a.key, '127.0.0.1');
      assert.equal(a.severity, 'high');
      assert.ok(a.guideline.includes('ERAB §3.5 検知'));
      assert.ok(a.evidence.length > 0 && a.evidence.every((e) => e.type === 'tls.refused' && /^[0-9a-f]{64}$/.test(e.leafHash ?? '')));
      // The evidence names the stored records: their leaf hashes are the log's.
      const stored = new Map([...readRecords(r.log.dir)].map((l) => [l.record!.index, leafHash(l.line).toString('hex')]));
      for (const e of a.evidence) assert.equal(e.leafHash, stored.get(e.seq));
      assert.equal(r.alertsOf('mtls-refusals-from-source').length, 1);
    } finally {
      await r.close();
    }
  });

  it('refused-peer-retries: a revoked gateway trying again with the same certificate', async () => {
    const r = await rig();
    try {
      const srv = await r.listener();
      const gone = clientTlsOptions(await world.material('gone'), 'R4');
      await request(srv.port, gone);
      await r.detection.runOnce();
      assert.equal(r.alertsOf('refused-peer-retries').length, 0, 'one refusal is not yet a retry');
      await request(srv.port, gone);
      const a = await alertFor(r, 'refused-peer-retries', 'the retry alert');
      assert.equal(a.key, world.certs.gone.identity.sha256 ?? a.key);
      assert.equal(a.evidence.length, 2);
      assert.ok(a.evidence.every((e) => e.type === 'tls.refused'));
      assert.match(a.evidence[0]!.reason ?? '', /revoked/);
    } finally {
      await r.close();
    }
  });
});

describe('command and device rules, from the gateway components', () => {
  const forged = (i: number) => ({ rawXml: '<x/>', vtnID: 'AGG1-vtn', events: [{ eventID: `E${i}`, modificationNumber: 0, status: 'far' as const, start: Date.now() as EpochMillis, durationMs: 60_000, target: {}, signals: [] }], signature: { ok: false as const, kind: 'invalid' as const, reason: 'forged' } });

  it('command-refused-by-policy: a forged command refused by the command guard; command-flood: 50 of them from one issuer', async () => {
    const r = await rig();
    try {
      const guard = new CommandGuard({ venId: 'GW1', aggregator: { id: 'AGG1' } } as never, { verify: async () => ({ ok: false, kind: 'missing', reason: 'x' }) } as never, new MemoryReplayStore(), { now: () => Date.now() } as never, r.log);
      const v = await guard.check(forged(0), new Set());
      assert.equal(v.ok, false);
      const refused = await alertFor(r, 'command-refused-by-policy', 'the refused-command alert');
      assert.match(refused.key, /AGG1/);
      assert.equal(r.alertsOf('command-flood').length, 0, 'one command is no flood');
      for (let i = 1; i < 50; i++) await guard.check(forged(i), new Set());
      const flood = await alertFor(r, 'command-flood', 'the command-flood alert');
      assert.equal(flood.key, refused.key);
      await r.detection.runOnce();
      const stored = await r.detection.alerts.list({ ruleId: 'command-refused-by-policy' });
      assert.equal(stored.length, 1, 'the 50 refusals are one alert...');
      assert.equal(stored[0]!.count, 50, '...with a count');
      assert.equal(r.alertsOf('command-refused-by-policy').length, 1, 'delivered once');
    } finally {
      await r.close();
    }
  });

  it('device-identity-changed: another device answering at an admitted device\'s address is quarantined and alerted', async () => {
    const r = await rig();
    try {
      const reg = new AdmissionRegistry(new MemoryAdmissionStore(), { now: () => Date.now() } as never, r.log);
      const identity = { identificationNumber: 'FE00007B0000000000000000000000000001', makerCode: '00007B', productCode: 'BAT-1', serialNumber: 'S1' };
      const first = reg.observe({ address: '127.0.0.2', eoj: '027D01', class: 'battery', identity });
      reg.admit(first.record.deviceId, first.record.revision, 'op-sato');
      const swapped = reg.observe({ address: '127.0.0.2', eoj: '027D01', class: 'battery', identity: { ...identity, identificationNumber: 'FE00007B0000000000000000000000000002', serialNumber: 'EVIL' } });
      assert.equal(swapped.change, 'quarantined');
      const a = await alertFor(r, 'device-identity-changed', 'the identity alert');
      assert.equal(a.key, first.record.deviceId);
    } finally {
      await r.close();
    }
  });
});

describe('witness rule', () => {
  it('audit-log-went-backwards: a checkpoint below the cosigned size at our witness', async () => {
    const r = await rig();
    try {
      const witness = AuditWitness.open({ dir: join(r.dir, 'witness'), name: 'erab.test/AGG1/witness', audit: r.log });
      const gwLog = AuditLog.open({ dir: join(r.dir, 'gw-audit'), origin: 'erab.test/gateway-GW1/audit' });
      const peer = { id: 'GW1', role: 'gateway', fingerprint: world.certs.gw.identity.fingerprint };
      gwLog.append({ actor: { kind: 'system', id: 'gw' }, action: 'gateway.start', outcome: 'success' });
      const cp1 = gwLog.checkpoint()!;
      witness.registerLogKey(peer, gwLog.verifierKey);
      assert.equal(witness.addCheckpoint(peer, formatAddCheckpointRequest({ oldSize: 0, proof: [], note: cp1.note })).status, 200);
      for (let i = 0; i < 9; i++) gwLog.append({ actor: { kind: 'system', id: 'gw' }, action: 'gateway.test', outcome: 'success' });
      const cp10 = gwLog.checkpoint()!;
      const proof = consistencyProof(gwLog.dir, { from: 1, to: 10 }).proof.map((h) => Buffer.from(h, 'hex'));
      assert.equal(witness.addCheckpoint(peer, formatAddCheckpointRequest({ oldSize: 1, proof, note: cp10.note })).status, 200);
      gwLog.close();
      assert.equal(r.alertsOf('audit-log-went-backwards').length, 0);
      // The log shows the witness its old checkpoint again: it went backwards.
      assert.equal(witness.addCheckpoint(peer, formatAddCheckpointRequest({ oldSize: 0, proof: [], note: cp1.note })).status, 409);
      const a = await alertFor(r, 'audit-log-went-backwards', 'the rollback alert');
      assert.equal(a.severity, 'critical');
      assert.equal(a.evidence[0]!.type, 'audit.witness.rollback');
    } finally {
      await r.close();
    }
  });
});

describe('telemetry rules, from reports stored by the aggregator\'s VTN store', () => {
  it('gateway-silent: a gateway that reported and then went quiet for 5 minutes; one still reporting is not alerted', async () => {
    const clock = new ManualClock(Date.now());
    const r = await rig({ clock });
    try {
      const vtn = new StoreVtnStore(r.store, 'AGG1-vtn');
      await vtn.appendReport('GW1', report('a1', clock.now(), { '027D01-aa/power': 100 }), clock.now() as EpochMillis);
      await vtn.appendReport('GW2', report('b1', clock.now(), { '027D01-bb/power': 100 }), clock.now() as EpochMillis);
      await r.detection.runOnce();
      clock.advance(200_000);
      await vtn.appendReport('GW2', report('b2', clock.now(), { '027D01-bb/power': 100 }), clock.now() as EpochMillis);
      await r.detection.runOnce();
      assert.equal(r.alertsOf('gateway-silent').length, 0);
      clock.advance(150_000); // GW1 silent 350 s, GW2 150 s
      const a = await alertFor(r, 'gateway-silent', 'the silence alert');
      assert.equal(a.key, 'GW1');
      await r.detection.runOnce();
      assert.deepEqual(r.alertsOf('gateway-silent').map((x) => x.key), ['GW1']);
    } finally {
      await r.close();
    }
  });

  it('soc-jump: state of charge from 40 % to 85 % in 30 s', async () => {
    const r = await rig();
    try {
      const vtn = new StoreVtnStore(r.store, 'AGG1-vtn');
      const t = Date.now();
      await vtn.appendReport('GW1', report('s1', t, { '027D01-aa/soc': 40 }), t as EpochMillis);
      await vtn.appendReport('GW1', report('s2', t + 30_000, { '027D01-aa/soc': 41 }), t as EpochMillis);
      await r.detection.runOnce();
      assert.equal(r.alertsOf('soc-jump').length, 0, 'one point a minute is physics');
      await vtn.appendReport('GW1', report('s3', t + 60_000, { '027D01-aa/soc': 85 }), t as EpochMillis);
      const a = await alertFor(r, 'soc-jump', 'the SoC jump alert');
      assert.equal(a.key, '027D01-aa');
      assert.deepEqual(a.evidence.map((e) => e.value), [41, 85]);
    } finally {
      await r.close();
    }
  });

  it('pv-output-at-night: PV generating 2 kW at 23:00 JST; the same at noon raises nothing', async () => {
    const r = await rig();
    try {
      const vtn = new StoreVtnStore(r.store, 'AGG1-vtn');
      const noon = fromJstFields(2026, 6, 1, 12, 0);
      const night = fromJstFields(2026, 6, 1, 23, 0);
      await vtn.appendReport('GW1', report('p1', noon, { '027901-pv/power': -2000, '027D01-aa/power': -2000 }), noon);
      await r.detection.runOnce();
      assert.equal(r.alertsOf('pv-output-at-night').length, 0);
      await vtn.appendReport('GW1', report('p2', night, { '027901-pv/power': -2000, '027D01-aa/power': -2000 }), night);
      const a = await alertFor(r, 'pv-output-at-night', 'the PV-at-night alert');
      assert.equal(a.key, '027901-pv', 'a battery discharging at night is no PV');
      assert.equal(r.alertsOf('pv-output-at-night').length, 1);
    } finally {
      await r.close();
    }
  });

  it('delivery-far-from-instruction: three closed-loop samples far off the instruction', async () => {
    const r = await rig();
    try {
      const t = Date.now();
      r.detection.observe({ time: t, type: 'telemetry.delivery', target: 'tso/E1', value: 9_000, reference: 10_000 });
      for (let i = 1; i <= 2; i++) r.detection.observe({ time: t + i * 15_000, type: 'telemetry.delivery', target: 'tso/E1', value: 1_000, reference: 10_000 });
      await r.detection.runOnce();
      assert.equal(r.alertsOf('delivery-far-from-instruction').length, 0);
      r.detection.observe({ time: t + 45_000, type: 'telemetry.delivery', target: 'tso/E1', value: 500, reference: 10_000 });
      const a = await alertFor(r, 'delivery-far-from-instruction', 'the delivery alert');
      assert.equal(a.key, 'tso/E1');
      assert.equal(a.evidence.length, 3);
    } finally {
      await r.close();
    }
  });
});

describe('a quiet system', () => {
  it('accepted handshakes, normal telemetry and routine records raise no alert', async () => {
    const r = await rig();
    try {
      const srv = await r.listener();
      const gw = clientTlsOptions(await world.material('gw'), 'R4');
      for (let i = 0; i < 20; i++) assert.equal((await request(srv.port, gw)).status, 200);
      const vtn = new StoreVtnStore(r.store, 'AGG1-vtn');
      const t = fromJstFields(2026, 6, 1, 12, 0);
      for (let i = 0; i < 20; i++) await vtn.appendReport('GW1', report(`q${i}`, t + i * 10_000, { '027D01-aa/soc': 50 + i * 0.5, '027901-pv/power': -1500 }), (Date.now()) as EpochMillis);
      for (let i = 0; i < 20; i++) r.log.append({ actor: { kind: 'system', id: 'AGG1' }, action: 'gateway.command', target: `E${i}`, outcome: 'success' });
      for (let i = 0; i < 10; i++) r.detection.observe({ time: t + i * 15_000, type: 'telemetry.delivery', target: 'tso/E1', value: 9_800, reference: 10_000 });
      await r.detection.runOnce();
      await r.detection.runOnce();
      assert.ok(r.detection.stats().evaluated >= 70, JSON.stringify(r.detection.stats()));
      assert.deepEqual(r.inbox.received, []);
      assert.deepEqual(await r.detection.alerts.list(), []);
    } finally {
      await r.close();
    }
  });
});
