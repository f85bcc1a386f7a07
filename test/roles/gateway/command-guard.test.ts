import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { epochMillis, type EpochMillis } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import {
  CommandGuard, MemoryReplayStore, targetedResources,
  type GuardEvent, type GuardPayload, type SignatureVerdict, type SignatureVerifier,
} from '../../../src/roles/gateway/command-guard.js';

const T0 = Date.UTC(2026, 0, 1, 3);
const OWN = new Set(['bat1', 'pv1']);
const AGG_FP = 'AB:CD:EF:01:23:45:67:89:AB:CD';

/**
 * A verifier whose verdict the test sets per raw payload. The real XML signature is checked in
 * the end-to-end test against the OpenADR stack; here the guard's own decisions are under test.
 */
class TableVerifier implements SignatureVerifier {
  readonly table = new Map<string, SignatureVerdict>();
  verify(raw: string): SignatureVerdict {
    return this.table.get(raw) ?? { ok: false, kind: 'missing', reason: 'no Signature element' };
  }
}

function setup(over: Partial<ConstructorParameters<typeof CommandGuard>[0]> = {}) {
  const clock = new ManualClock(T0);
  const audit = new MemoryAuditSink();
  const verifier = new TableVerifier();
  const replay = new MemoryReplayStore();
  const guard = new CommandGuard({ venId: 'ven-gw1', aggregator: { id: 'agg1', fingerprint: AGG_FP }, ...over }, verifier, replay, clock, audit);
  let n = 0;
  const signed = (events: GuardEvent[], opts: { nonce?: string; ts?: number; signer?: { role?: string; id?: string; fingerprint?: string } } = {}): GuardPayload => {
    const raw = `<payload n="${n++}"/>`;
    verifier.table.set(raw, {
      ok: true,
      signer: { fingerprint: AGG_FP, role: 'aggregator', id: 'agg1', ...opts.signer },
      replayProtect: { nonce: opts.nonce ?? `nonce-${n}`, timestamp: epochMillis(opts.ts ?? clock.now()) },
    });
    return { rawXml: raw, vtnID: 'vtn-agg1', events };
  };
  return { clock, audit, verifier, replay, guard, signed };
}

function event(over: Partial<GuardEvent> = {}): GuardEvent {
  return {
    eventID: 'ev1',
    modificationNumber: 0,
    status: 'far',
    start: epochMillis(T0 + 60_000),
    durationMs: 30 * 60_000,
    target: { venID: ['ven-gw1'] },
    signals: [{ signal: { name: 'SIMPLE', type: 'level', value: 2 } }],
    ...over,
  };
}

test('a signed, fresh event for this gateway is accepted and leaves no refusal in the audit log', async () => {
  const { guard, signed, audit } = setup();
  const r = await guard.check(signed([event()]), OWN);
  assert.equal(r.ok, true);
  assert.deepEqual(r.events, [{ eventID: 'ev1', modificationNumber: 0, verdict: 'accept' }]);
  assert.equal(audit.records.length, 0);
});

test('an unsigned payload is refused with 463 and audited', async () => {
  const { guard, audit } = setup();
  const r = await guard.check({ rawXml: '<unsigned/>', vtnID: 'vtn-agg1', events: [event()] }, OWN);
  assert.equal(r.ok, false);
  assert.equal(r.ok ? 0 : r.code, 463);
  assert.deepEqual(r.events.map((e) => e.verdict), ['refuse']);
  assert.equal(audit.records.length, 1);
  assert.equal(audit.records[0]!.action, 'gateway.command');
  assert.equal(audit.records[0]!.outcome, 'refused');
  assert.match(audit.records[0]!.reason!, /unsigned command/);
  assert.equal(audit.records[0]!.details!.code, 463);
});

test('a tampered payload (signature does not verify) is refused with 463', async () => {
  const { guard, verifier, audit } = setup();
  verifier.table.set('<tampered/>', { ok: false, kind: 'invalid', reason: 'digest mismatch' });
  const r = await guard.check({ rawXml: '<tampered/>', vtnID: 'vtn-agg1', events: [event()] }, OWN);
  assert.equal(r.ok ? 0 : r.code, 463);
  assert.match(audit.records[0]!.reason!, /digest mismatch/);
});

test('a verifier that throws is a refusal, not a crash', async () => {
  const throwing = new CommandGuard({ venId: 'ven-gw1', aggregator: { id: 'agg1' } }, { verify: () => { throw new Error('boom'); } }, new MemoryReplayStore(), new ManualClock(T0), new MemoryAuditSink());
  const r = await throwing.check({ rawXml: '<x/>', vtnID: 'v', events: [event()] }, OWN);
  assert.equal(r.ok ? 0 : r.code, 463);
  assert.match(r.ok ? '' : r.reason, /signature check failed: boom/);
});

test('a payload signed by another participant, another role or an unpinned certificate is refused with 463', async () => {
  const { guard, signed } = setup();
  for (const signer of [{ id: 'agg2' }, { role: 'tso' }, { fingerprint: '00:11:22:33:44:55:66:77:88:99' }]) {
    const r = await guard.check(signed([event()], { signer }), OWN);
    assert.equal(r.ok ? 0 : r.code, 463, JSON.stringify(signer));
  }
  // Fingerprint comparison ignores case and colons.
  const ok = await guard.check(signed([event()], { signer: { fingerprint: AGG_FP.toLowerCase().replace(/:/g, '') } }), OWN);
  assert.equal(ok.ok, true);
});

test('replay: a reused nonce, a stale timestamp or no ReplayProtect is refused with 450', async () => {
  const { guard, signed, verifier, clock, audit } = setup();
  const p = signed([event()], { nonce: 'n-1' });
  assert.equal((await guard.check(p, OWN)).ok, true);
  const again = await guard.check(p, OWN);
  assert.equal(again.ok ? 0 : again.code, 450);
  assert.match(audit.records.at(-1)!.reason!, /already used: replayed payload/);
  const old = await guard.check(signed([event({ modificationNumber: 1 })], { ts: clock.now() - 6 * 60_000 }), OWN);
  assert.equal(old.ok ? 0 : old.code, 450);
  verifier.table.set('<no-rp/>', { ok: true, signer: { fingerprint: AGG_FP, role: 'aggregator', id: 'agg1' } });
  const noRp = await guard.check({ rawXml: '<no-rp/>', vtnID: 'vtn-agg1', events: [event({ modificationNumber: 1 })] }, OWN);
  assert.equal(noRp.ok ? 0 : noRp.code, 450);
});

test('modification numbers: higher accepted, equal acknowledged as duplicate, lower refused with 450', async () => {
  const { guard, signed, audit } = setup();
  assert.equal((await guard.check(signed([event({ modificationNumber: 2 })]), OWN)).events[0]!.verdict, 'accept');
  assert.equal((await guard.check(signed([event({ modificationNumber: 2 })]), OWN)).events[0]!.verdict, 'duplicate');
  const lower = await guard.check(signed([event({ modificationNumber: 1 })]), OWN);
  assert.equal(lower.ok, true);
  assert.deepEqual(lower.events[0], {
    eventID: 'ev1', modificationNumber: 1, verdict: 'refuse', code: 450,
    reason: 'modificationNumber 1 of event ev1 is older than the accepted 2: replay or reordering',
  });
  assert.equal(audit.records.length, 1);
  assert.equal((await guard.check(signed([event({ modificationNumber: 3 })]), OWN)).events[0]!.verdict, 'accept');
});

test('a new modification after the event window is refused; a cancellation is accepted', async () => {
  const { guard, signed, clock } = setup();
  clock.advance(40 * 60_000);
  const late = await guard.check(signed([event()]), OWN);
  assert.equal(late.events[0]!.verdict, 'refuse');
  assert.equal(late.events[0]!.verdict === 'refuse' ? late.events[0]!.code : 0, 450);
  const cancel = await guard.check(signed([event({ eventID: 'ev2', status: 'cancelled', signals: [] })]), OWN);
  assert.equal(cancel.events[0]!.verdict, 'accept');
});

test('targets: another VEN, a foreign resource, a signal-level foreign target or no target at all → 462', async () => {
  const { guard, signed, audit } = setup({ groupIds: ['kanto-pool'] });
  const cases: GuardEvent['target'][] = [
    { venID: ['ven-gw2'] },
    { resourceID: ['bat1', 'bat-of-neighbour'] },
    { groupID: ['kansai-pool'] },
    { partyID: ['someone'] },
    { other: ['endDeviceAsset'] },
    {},
  ];
  for (const [i, target] of cases.entries()) {
    const r = await guard.check(signed([event({ eventID: `t${i}`, target })]), OWN);
    assert.equal(r.events[0]!.verdict, 'refuse', JSON.stringify(target));
    assert.equal(r.events[0]!.verdict === 'refuse' ? r.events[0]!.code : 0, 462);
  }
  assert.equal(audit.records.length, cases.length);
  const sig = await guard.check(signed([event({ eventID: 's', signals: [{ signal: { name: 'SIMPLE', type: 'level', value: 1 }, target: { resourceID: ['elsewhere'] } }] })]), OWN);
  assert.equal(sig.events[0]!.verdict, 'refuse');
  for (const target of [{ resourceID: ['pv1'] }, { groupID: ['kanto-pool'] }, { venID: ['ven-gw1'], resourceID: ['bat1'] }]) {
    const r = await guard.check(signed([event({ eventID: `ok-${JSON.stringify(target)}`, target })]), OWN);
    assert.equal(r.events[0]!.verdict, 'accept', JSON.stringify(target));
  }
});

test('a payload with several events judges each one; the bad one does not spoil the good one', async () => {
  const { guard, signed } = setup();
  const r = await guard.check(signed([event({ eventID: 'good' }), event({ eventID: 'bad', target: { resourceID: ['x'] } }), event({ eventID: 'odd', modificationNumber: -1 })]), OWN);
  assert.deepEqual(r.events.map((e) => [e.eventID, e.verdict, e.verdict === 'refuse' ? e.code : 200]), [
    ['good', 'accept', 200], ['bad', 'refuse', 462], ['odd', 'refuse', 454],
  ]);
});

test('a configured VTN id must match', async () => {
  const { guard, signed } = setup({ aggregator: { id: 'agg1', vtnId: 'vtn-other' } });
  const r = await guard.check(signed([event()]), OWN);
  assert.equal(r.ok ? 0 : r.code, 452);
});

test('replay state expires with the event, nonces after their TTL', () => {
  const s = new MemoryReplayStore();
  s.recordModification('e', 3, epochMillis(100) as EpochMillis);
  assert.equal(s.claimNonce('n', epochMillis(50)), true);
  assert.equal(s.claimNonce('n', epochMillis(50)), false);
  s.prune(epochMillis(60));
  assert.equal(s.claimNonce('n', epochMillis(200)), true);
  assert.equal(s.lastModification('e'), 3);
  s.prune(epochMillis(101));
  assert.equal(s.lastModification('e'), undefined);
});

test('targetedResources: named resources, or every own resource for a VEN/group target', () => {
  assert.deepEqual(targetedResources(event({ target: { resourceID: ['pv1'] } }), OWN), ['pv1']);
  assert.deepEqual(targetedResources(event(), OWN).sort(), ['bat1', 'pv1']);
});
