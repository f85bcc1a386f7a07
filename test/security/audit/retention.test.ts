import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../src/core/clock.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { verifyAuditLog } from '../../../src/security/audit/verify.js';
import { enforceRetention, planRetention } from '../../../src/security/audit/retention.js';
import { consistencyProof, inclusionProof } from '../../../src/security/audit/proofs.js';
import { parseVerifierKey } from '../../../src/security/audit/note.js';
import type { AuditRecordInput } from '../../../src/security/audit/types.js';
import { naiveLeaf, rfcVerifyConsistency, rfcVerifyInclusion } from './rfc9162.js';

const ORIGIN = 'erab.test/gateway-7/audit';
const rec = (i: number): AuditRecordInput => ({ actor: { kind: 'system', id: 'gateway' }, action: 'echonet.set', target: `device-${i}`, outcome: 'success', details: { i } });
const DAY = 86_400_000;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'erab-audit-ret-'));
}

const segs = (dir: string, sub = 'segments'): string[] => (existsSync(join(dir, sub)) ? readdirSync(join(dir, sub)).sort() : []);

test('count-based retention archives whole sealed segments and what remains still verifies, proofs included', () => {
  const dir = tmp();
  try {
    const log = AuditLog.open({ dir, origin: ORIGIN, segmentMaxRecords: 10, checkpointEvery: 4, retention: { maxRecords: 25 } });
    for (let i = 0; i < 57; i++) log.append(rec(i));
    const vkey = parseVerifierKey(log.verifierKey);
    log.close();
    // Retention runs at each seal. At the seal after record 49 the live log held 50 records in
    // segments 0..40 (40 is the newest, never archived): 0 and 10 can go and still leave ≥ 25.
    assert.deepEqual(segs(dir), ['000000000020.jsonl', '000000000030.jsonl', '000000000040.jsonl', '000000000050.jsonl']);
    assert.deepEqual(segs(dir, 'archive'), ['000000000000.jsonl', '000000000010.jsonl']);
    const r = verifyAuditLog(dir, { verifier: vkey });
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.equal(r.archivedSize, 20);
    assert.equal(r.treeSize, 57);
    assert.equal(r.liveRecords, 37);
    // archived checkpoints (0, 4, 8, the seal at 10, then 14, 18) are proven consistent through anchor.json
    const anchor = JSON.parse(readFileSync(join(dir, 'anchor.json'), 'utf8')) as { size: number; proofs: { size: number; toSize: number }[] };
    assert.equal(anchor.size, 20);
    assert.deepEqual(anchor.proofs.map((p) => p.size), [0, 4, 8, 10, 14, 18]);
    assert.ok(r.consistencyProofsChecked >= anchor.proofs.length);
    // an inclusion proof of a live record still checks against the latest signed root (independent verifier)
    const p = inclusionProof(dir, { index: 41 }, { verifier: vkey });
    assert.ok(rfcVerifyInclusion(p.leafIndex, p.treeSize, naiveLeaf(Buffer.from(p.entry)), p.auditPath.map((h) => Buffer.from(h, 'hex')), Buffer.from(p.rootHash, 'hex')));
    const c = consistencyProof(dir, { from: 30, to: 57 }, { verifier: vkey });
    assert.ok(rfcVerifyConsistency(30, 57, Buffer.from(c.fromRootHash, 'hex'), Buffer.from(c.toRootHash, 'hex'), c.proof.map((h) => Buffer.from(h, 'hex'))));
    assert.throws(() => inclusionProof(dir, { index: 3 }, { verifier: vkey }), /archived/);
    const old = inclusionProof(dir, { index: 3 }, { verifier: vkey, includeArchive: true });
    assert.ok(rfcVerifyInclusion(3, old.treeSize, naiveLeaf(Buffer.from(old.entry)), old.auditPath.map((h) => Buffer.from(h, 'hex')), Buffer.from(old.rootHash, 'hex')));
    assert.equal(old.rootHash, p.rootHash);
    const oc = consistencyProof(dir, { from: 4, to: 57 }, { verifier: vkey, includeArchive: true });
    assert.ok(rfcVerifyConsistency(4, 57, Buffer.from(oc.fromRootHash, 'hex'), Buffer.from(oc.toRootHash, 'hex'), oc.proof.map((h) => Buffer.from(h, 'hex'))));
    // tampering with what remains is still caught
    const seg = join(dir, 'segments', '000000000040.jsonl');
    const original = readFileSync(seg, 'utf8');
    writeFileSync(seg, original.replace('"target":"device-44"', '"target":"device-99"'));
    const t = verifyAuditLog(dir, { verifier: vkey });
    assert.deepEqual({ kind: t.firstTamper?.kind, index: t.firstTamper?.index }, { kind: 'edited', index: 44 });
    writeFileSync(seg, original);
    // with the archive read back, the whole history is recomputed from record 0
    const full = verifyAuditLog(dir, { verifier: vkey, includeArchive: true });
    assert.equal(full.ok, true, JSON.stringify(full.problems));
    assert.deepEqual([full.archiveVerified, full.liveRecords, full.treeSize], [true, 57, 57]);
    // an archived copy that changed after archiving is reported (its hash is in anchor.json),
    // and with the archive included the edited record itself is named
    const archived = join(dir, 'archive', '000000000010.jsonl');
    const arch = readFileSync(archived, 'utf8');
    writeFileSync(archived, arch.replace('"target":"device-12"', '"target":"device-0"'));
    const ta = verifyAuditLog(dir, { verifier: vkey });
    assert.ok(ta.problems.some((p) => p.kind === 'anchor' && /changed since it was archived/.test(p.message)), JSON.stringify(ta.problems));
    const tf = verifyAuditLog(dir, { verifier: vkey, includeArchive: true });
    assert.deepEqual({ kind: tf.firstTamper?.kind, index: tf.firstTamper?.index, file: tf.firstTamper?.file, line: tf.firstTamper?.line }, { kind: 'edited', index: 12, file: join('archive', '000000000010.jsonl'), line: 3 });
    writeFileSync(archived, arch);
    // the log reopens and keeps appending on top of the anchor
    const again = AuditLog.open({ dir, origin: ORIGIN, segmentMaxRecords: 10, checkpointEvery: 4, retention: { maxRecords: 25 } });
    for (let i = 57; i < 75; i++) again.append(rec(i));
    again.close();
    const r2 = verifyAuditLog(dir, { verifier: vkey });
    assert.equal(r2.ok, true, JSON.stringify(r2.problems));
    assert.equal(r2.archivedSize, 40, 'a second archiving run chains onto the first');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a forged anchor (compact range that does not match the signed boundary checkpoint) is reported', () => {
  const dir = tmp();
  try {
    const log = AuditLog.open({ dir, origin: ORIGIN, segmentMaxRecords: 10, retention: { maxRecords: 10 } });
    for (let i = 0; i < 35; i++) log.append(rec(i));
    const vkey = parseVerifierKey(log.verifierKey);
    log.close();
    const path = join(dir, 'anchor.json');
    const original = readFileSync(path, 'utf8');
    const a = JSON.parse(original) as { compactRange: string[] };
    a.compactRange[0] = 'f'.repeat(64);
    writeFileSync(path, JSON.stringify(a));
    const r = verifyAuditLog(dir, { verifier: vkey });
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => p.kind === 'anchor' && /compact range/.test(p.message)), JSON.stringify(r.problems));
    writeFileSync(path, '{ not json');
    assert.equal(verifyAuditLog(dir, { verifier: vkey }).ok, false);
    // an anchor pointing outside the log directory is refused, never followed
    const hostile = JSON.parse(original) as { archived: { location: string | null }[] };
    hostile.archived[0]!.location = '../../../../dev/zero';
    writeFileSync(path, JSON.stringify(hostile));
    const h = verifyAuditLog(dir, { verifier: vkey, includeArchive: true });
    assert.ok(h.problems.some((p) => p.kind === 'anchor' && /location must be archive\//.test(p.message)), JSON.stringify(h.problems));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('age-based retention with deletion; an interrupted run is finished by the next one', () => {
  const dir = tmp();
  try {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const log = AuditLog.open({ dir, origin: ORIGIN, segmentMaxRecords: 5, clock });
    for (let i = 0; i < 23; i++) {
      log.append(rec(i));
      clock.advance(DAY); // one record a day
    }
    const vkey = parseVerifierKey(log.verifierKey);
    log.close();
    // now = day 23; older than 10 days = newest record before day 13 → segments 0 (days 0-4), 5 (5-9), 10 (10-14 → newest day 14: keep)
    const plan = planRetention(dir, { maxAgeDays: 10 }, clock.now());
    assert.deepEqual(plan.candidates.map((c) => [c.segment, c.reason]), [['000000000000.jsonl', 'age'], ['000000000005.jsonl', 'age']]);
    // simulate a crash after the anchor was written but before the first segment moved
    const keep = join(dir, 'keep.jsonl');
    copyFileSync(join(dir, 'segments', '000000000000.jsonl'), keep);
    const rep = enforceRetention(dir, { maxAgeDays: 10, deleteArchived: true }, { verifier: vkey, now: clock.now() });
    assert.equal(rep.boundary, 10);
    assert.equal(existsSync(join(dir, 'archive')), false, 'deleted, not archived');
    copyFileSync(keep, join(dir, 'segments', '000000000000.jsonl'));
    rmSync(keep);
    const r = verifyAuditLog(dir, { verifier: vkey });
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.ok(r.warnings.some((w) => /below the archive boundary/.test(w)));
    enforceRetention(dir, { maxAgeDays: 10, deleteArchived: true }, { verifier: vkey, now: clock.now() });
    assert.deepEqual(segs(dir), ['000000000010.jsonl', '000000000015.jsonl', '000000000020.jsonl']);
    assert.equal(verifyAuditLog(dir, { verifier: vkey }).ok, true);
    assert.throws(() => verifyAuditLog(dir, { verifier: vkey, includeArchive: true }), /deleted by retention/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('retention refuses to archive a log that does not verify, and leaves it untouched', () => {
  const dir = tmp();
  try {
    const log = AuditLog.open({ dir, origin: ORIGIN, segmentMaxRecords: 5 });
    for (let i = 0; i < 17; i++) log.append(rec(i));
    const vkey = parseVerifierKey(log.verifierKey);
    log.close();
    const seg = join(dir, 'segments', '000000000005.jsonl');
    writeFileSync(seg, readFileSync(seg, 'utf8').replace('"target":"device-6"', '"target":"device-x"'));
    assert.throws(() => enforceRetention(dir, { maxRecords: 1 }, { verifier: vkey, now: Date.now() }), /does not verify/);
    assert.equal(segs(dir).length, 4);
    assert.equal(existsSync(join(dir, 'anchor.json')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
