import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ManualClock } from '../../../src/core/clock.js';
import { IntegrityError } from '../../../src/core/errors.js';
import { AuditLog, type AuditLogOptions } from '../../../src/security/audit/log.js';
import { verifyAuditLog, type VerifyResult } from '../../../src/security/audit/verify.js';
import { generateSigner, parseSignerKey, parseVerifierKey } from '../../../src/security/audit/note.js';
import { signCheckpoint } from '../../../src/security/audit/checkpoint.js';
import type { AuditRecordInput } from '../../../src/security/audit/types.js';

const ORIGIN = 'erab.test/aggregator-1/audit';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'erab-audit-'));
}

function rec(i: number): AuditRecordInput {
  return {
    actor: i % 2 ? { kind: 'peer', id: `gw-${i}`, role: 'gateway', fingerprint: `AA:BB:${String(i).padStart(2, '0')}`, address: '127.0.0.1:5000' } : { kind: 'operator', id: 'alice' },
    action: i % 3 ? 'openadr.register' : 'tls.handshake',
    target: `ven-${i}`,
    outcome: i % 5 === 0 ? 'refused' : 'success',
    ...(i % 5 === 0 ? { reason: 'certificate not allow-listed' } : {}),
    details: { n: i, nested: { b: 2, a: [1, 'x'] } },
  };
}

/** A closed log of `n` records. */
function makeLog(n: number, opts: Partial<AuditLogOptions> = {}): { dir: string; vkey: string } {
  const dir = tmp();
  const clock = new ManualClock(Date.UTC(2026, 3, 1));
  const log = AuditLog.open({ dir, origin: ORIGIN, checkpointEvery: 10, clock, ...opts });
  for (let i = 0; i < n; i++) {
    log.append(rec(i));
    clock.advance(1000);
  }
  const vkey = log.verifierKey;
  log.close();
  return { dir, vkey };
}

const SEG0 = join('segments', '000000000000.jsonl');

function lines(dir: string, seg = SEG0): string[] {
  const l = readFileSync(join(dir, seg), 'utf8').split('\n');
  assert.equal(l.pop(), '');
  return l;
}

function writeLines(dir: string, ls: string[], seg = SEG0): void {
  writeFileSync(join(dir, seg), ls.map((l) => `${l}\n`).join(''));
}

function verify(dir: string, vkey: string): VerifyResult {
  return verifyAuditLog(dir, { verifier: parseVerifierKey(vkey) });
}

test('a fresh log appends, checkpoints and verifies; the store is plain files with a 0600 key', () => {
  const { dir, vkey } = makeLog(35);
  try {
    const r = verify(dir, vkey);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.equal(r.treeSize, 35);
    assert.equal(r.keySource, 'given');
    assert.equal(r.unanchored, 0);
    // empty tree at open, then 10, 20, 30 and 35 at close
    assert.deepEqual({ total: r.checkpoints.total, latest: r.checkpoints.latest?.size }, { total: 5, latest: 35 });
    assert.equal(r.consistencyProofsChecked, 4);
    assert.equal(statSync(join(dir, 'signing.key')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, 'verifier.key'), 'utf8').trim(), vkey);
    // the actor is canonical JSON: keys sorted
    assert.match(lines(dir)[1]!, /"actor":\{"address":"127\.0\.0\.1:5000","fingerprint":"AA:BB:01","id":"gw-1","kind":"peer","role":"gateway"\}/);
    const first = JSON.parse(lines(dir)[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(first), ['i', 'time', 'actor', 'action', 'target', 'outcome', 'reason', 'details', 'prev']);
    assert.equal(first.time, '2026-04-01T00:00:00.000Z');
    assert.equal(first.prev, '0'.repeat(64));
    // prev of record 1 is the RFC 9162 leaf hash of line 0
    const l = lines(dir);
    const leaf0 = createHash('sha256').update(Buffer.from([0])).update(l[0]!).digest('hex');
    assert.equal((JSON.parse(l[1]!) as { prev: string }).prev, leaf0);
    // checkpoint file holds C2SP notes
    const cps = readFileSync(join(dir, 'checkpoints.txt'), 'utf8');
    assert.match(cps, new RegExp(`^${ORIGIN.replace(/\./g, '\\.')}\\n35\\n[A-Za-z0-9+/]{43}=\\n\\n\u2014 ${ORIGIN.replace(/\./g, '\\.')} \\S+\\n`, 'm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reopening continues the index, the chain and the tree; a second appender is refused', () => {
  const { dir, vkey } = makeLog(12);
  try {
    const log = AuditLog.open({ dir, origin: ORIGIN, checkpointEvery: 10 });
    assert.throws(() => AuditLog.open({ dir, origin: ORIGIN }), /already open for appending by this process/);
    assert.equal(log.append(rec(99)).index, 12);
    log.close();
    log.close(); // idempotent
    assert.throws(() => log.append(rec(1)), /closed/);
    const r = verify(dir, vkey);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.equal(r.treeSize, 13);
    assert.throws(() => AuditLog.open({ dir, origin: 'erab.test/other' }), /created with origin/);
    // a lost signing key is not silently replaced by a new one
    const key = readFileSync(join(dir, 'signing.key'));
    rmSync(join(dir, 'signing.key'));
    assert.throws(() => AuditLog.open({ dir, origin: ORIGIN }), /missing, but .* already holds an audit log/);
    assert.equal(readFileSync(join(dir, 'verifier.key'), 'utf8').trim(), vkey);
    writeFileSync(join(dir, 'signing.key'), key, { mode: 0o600 });
    writeFileSync(join(dir, 'verifier.key'), 'erab.test/x+00000000+AAAA\n');
    assert.throws(() => AuditLog.open({ dir, origin: ORIGIN }), /different verifier key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('edited field in the middle: verify names the edited record, file and line', () => {
  const { dir, vkey } = makeLog(30);
  try {
    const l = lines(dir);
    l[7] = l[7]!.replace('"outcome":"success"', '"outcome":"failure"');
    writeLines(dir, l);
    const r = verify(dir, vkey);
    assert.equal(r.ok, false);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, file: r.firstTamper?.file, line: r.firstTamper?.line }, { kind: 'edited', index: 7, file: SEG0, line: 8 });
    assert.ok(r.problems.some((p) => p.kind === 'checkpoint-mismatch' && p.checkpointSize === 10));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('edited last record (no successor) is caught by the closing checkpoint', () => {
  const { dir, vkey } = makeLog(25);
  try {
    const l = lines(dir);
    l[24] = l[24]!.replace('"target":"ven-24"', '"target":"ven-99"');
    writeLines(dir, l);
    const r = verify(dir, vkey);
    assert.equal(r.firstTamper?.kind, 'edited');
    assert.equal(r.firstTamper?.index, 24);
    assert.equal(r.firstTamper?.line, 25);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deleted line: verify names the first missing record; deleted last line too', () => {
  const { dir, vkey } = makeLog(30);
  try {
    const l = lines(dir);
    writeLines(dir, [...l.slice(0, 12), ...l.slice(13)]);
    const r = verify(dir, vkey);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, line: r.firstTamper?.line }, { kind: 'deleted', index: 12, line: 13 });
    writeLines(dir, l.slice(0, 29));
    const r2 = verify(dir, vkey);
    assert.deepEqual({ kind: r2.firstTamper?.kind, index: r2.firstTamper?.index }, { kind: 'deleted', index: 29 });
    writeLines(dir, [...l.slice(0, 3), ...l.slice(6)]);
    const r3 = verify(dir, vkey);
    assert.deepEqual({ kind: r3.firstTamper?.kind, index: r3.firstTamper?.index }, { kind: 'deleted', index: 3 });
    assert.match(r3.firstTamper!.message, /records 3\.\.5 are missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('inserted forged line: caught whether it copies the next index, chains correctly, or claims a stray index', () => {
  const { dir, vkey } = makeLog(30);
  try {
    const l = lines(dir);
    const leaf = (s: string): string => createHash('sha256').update(Buffer.from([0])).update(s).digest('hex');
    // (a) a careful forger: index 15, prev = hash of line 14, so the forged line itself chains fine
    const forged = JSON.stringify({ i: 15, time: '2026-04-01T00:00:15.000Z', actor: { id: 'mallory', kind: 'operator' }, action: 'gateway.command', outcome: 'success', prev: leaf(l[14]!) });
    writeLines(dir, [...l.slice(0, 15), forged, ...l.slice(15)]);
    let r = verify(dir, vkey);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, line: r.firstTamper?.line }, { kind: 'inserted', index: 15, line: 16 });
    // (b) a careless forger: copies a line with a wrong prev
    writeLines(dir, [...l.slice(0, 9), l[3]!.replace('"i":3', '"i":9'), ...l.slice(9)]);
    r = verify(dir, vkey);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, line: r.firstTamper?.line }, { kind: 'inserted', index: 9, line: 10 });
    // (c) a line with an index that does not belong at all
    writeLines(dir, [...l.slice(0, 20), l[2]!.replace('"i":2', '"i":777'), ...l.slice(20)]);
    r = verify(dir, vkey);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, line: r.firstTamper?.line }, { kind: 'inserted', index: 20, line: 21 });
    // (d) a duplicate of an earlier record appended at the very end
    writeLines(dir, [...l, l[4]!]);
    r = verify(dir, vkey);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, line: r.firstTamper?.line }, { kind: 'inserted', index: 30, line: 31 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('swapped lines: verify reports a reordering at the first displaced record', () => {
  const { dir, vkey } = makeLog(30);
  try {
    const l = lines(dir);
    const s = [...l];
    [s[17], s[18]] = [s[18]!, s[17]!];
    writeLines(dir, s);
    let r = verify(dir, vkey);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, line: r.firstTamper?.line }, { kind: 'reordered', index: 17, line: 19 });
    // the last two lines
    const t = [...l];
    [t[28], t[29]] = [t[29]!, t[28]!];
    writeLines(dir, t);
    r = verify(dir, vkey);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, line: r.firstTamper?.line }, { kind: 'reordered', index: 28, line: 30 });
    // a record moved several places later
    const u = [...l.slice(0, 4), ...l.slice(5, 9), l[4]!, ...l.slice(9)];
    writeLines(dir, u);
    r = verify(dir, vkey);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, line: r.firstTamper?.line }, { kind: 'reordered', index: 4, line: 9 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rewrite that also recomputes the hash chain is still caught by the signed checkpoints and localised between them', () => {
  const { dir, vkey } = makeLog(30);
  try {
    const l = lines(dir);
    const leaf = (s: string): string => createHash('sha256').update(Buffer.from([0])).update(s).digest('hex');
    l[13] = l[13]!.replace('"target":"ven-13"', '"target":"ven-x"');
    for (let i = 14; i < l.length; i++) l[i] = l[i]!.replace(/"prev":"[0-9a-f]{64}"/, `"prev":"${leaf(l[i - 1]!)}"`);
    writeLines(dir, l);
    const r = verify(dir, vkey);
    assert.equal(r.ok, false);
    assert.equal(r.firstTamper?.kind, 'edited');
    assert.equal(r.firstTamper?.index, 10); // the last good checkpoint is 10
    assert.match(r.firstTamper!.message, /records 10\.\.19 do not match signed checkpoint 20/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint with a bad signature, or signed by another key, is reported', () => {
  const { dir, vkey } = makeLog(20);
  try {
    const path = join(dir, 'checkpoints.txt');
    const original = readFileSync(path, 'utf8');
    // flip one character in the second checkpoint's signature
    const idx = original.indexOf('\u2014', original.indexOf('\n10\n'));
    const sigStart = original.indexOf(' ', idx + 2) + 20; // past the 4-byte key id
    const c = original[sigStart] === 'A' ? 'B' : 'A';
    writeFileSync(path, original.slice(0, sigStart) + c + original.slice(sigStart + 1));
    let r = verify(dir, vkey);
    assert.equal(r.ok, false);
    const bad = r.problems.find((p) => p.kind === 'bad-checkpoint');
    assert.ok(bad, JSON.stringify(r.problems));
    assert.match(bad.message, /does not verify/);
    assert.throws(() => AuditLog.open({ dir, origin: ORIGIN }), (e: unknown) => e instanceof IntegrityError && /checkpoint/.test(e.message));
    // a checkpoint by a key with the same name but another key pair
    writeFileSync(path, original);
    const mallory = generateSigner(ORIGIN);
    appendFileSync(path, signCheckpoint({ origin: ORIGIN, size: 20, rootHash: Buffer.alloc(32) }, mallory));
    r = verify(dir, vkey);
    assert.ok(r.problems.some((p) => p.kind === 'bad-checkpoint' && /no signature by the trusted key/.test(p.message)));
    // verifying with someone else's key rejects every checkpoint
    writeFileSync(path, original);
    r = verifyAuditLog(dir, { verifier: mallory });
    assert.equal(r.checkpoints.valid, 0);
    assert.equal(r.ok, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated last line is reported, and the log refuses to append instead of overwriting it', () => {
  const { dir, vkey } = makeLog(15);
  try {
    const path = join(dir, SEG0);
    const content = readFileSync(path, 'utf8');
    const cut = content.slice(0, content.length - 40);
    writeFileSync(path, cut);
    const r = verify(dir, vkey);
    assert.equal(r.ok, false);
    const t = r.problems.find((p) => p.kind === 'truncated');
    assert.ok(t);
    assert.equal(t.line, 15);
    assert.equal(t.file, SEG0);
    assert.throws(() => AuditLog.open({ dir, origin: ORIGIN }), (e: unknown) => e instanceof IntegrityError && /refusing to append/.test(e.message) && /no newline/.test(e.message));
    assert.equal(readFileSync(path, 'utf8'), cut, 'the damaged file is left as it was');
    assert.equal(existsSync(join(dir, 'LOCK')), false, 'a refused open releases the lock');
    // while another live process holds the append lock, a partial last line is a write in progress
    writeFileSync(join(dir, 'LOCK'), `${process.ppid}\n`);
    const live = verify(dir, vkey);
    assert.ok(!live.problems.some((p) => p.kind === 'truncated'));
    assert.ok(live.warnings.some((w) => /being written by process/.test(w)));
    rmSync(join(dir, 'LOCK'));
    // a truncated checkpoints file is reported too
    writeFileSync(path, content);
    const cp = join(dir, 'checkpoints.txt');
    const cps = readFileSync(cp, 'utf8');
    writeFileSync(cp, cps.slice(0, cps.length - 20));
    const r2 = verify(dir, vkey);
    assert.ok(r2.problems.some((p) => p.kind === 'corrupt' && p.file === 'checkpoints.txt'), JSON.stringify(r2.problems));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a segment replaced by a device or a link to one is reported, not read forever', () => {
  const { dir, vkey } = makeLog(5);
  try {
    rmSync(join(dir, SEG0));
    symlinkSync('/dev/zero', join(dir, SEG0));
    const r = verify(dir, vkey);
    assert.ok(r.problems.some((p) => p.kind === 'corrupt' && /not a regular file/.test(p.message)), JSON.stringify(r.problems));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tampering in a later segment names that segment file', () => {
  const { dir, vkey } = makeLog(45, { segmentMaxRecords: 20 });
  try {
    const seg1 = join('segments', '000000000020.jsonl');
    const l = lines(dir, seg1);
    writeLines(dir, [...l.slice(0, 5), ...l.slice(6)], seg1);
    const r = verify(dir, vkey);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index, file: r.firstTamper?.file, line: r.firstTamper?.line }, { kind: 'deleted', index: 25, file: seg1, line: 6 });
    // a whole segment file removed
    writeLines(dir, l, seg1);
    assert.equal(verify(dir, vkey).ok, true);
    rmSync(join(dir, seg1));
    const r2 = verify(dir, vkey);
    assert.deepEqual({ kind: r2.firstTamper?.kind, index: r2.firstTamper?.index }, { kind: 'deleted', index: 20 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints are written by time with an injected clock, and records after a crash are anchored at the next open', () => {
  const dir = tmp();
  try {
    const clock = new ManualClock(Date.UTC(2026, 3, 1));
    const log = AuditLog.open({ dir, origin: ORIGIN, checkpointEvery: 0, checkpointIntervalMs: 5000, clock });
    log.append(rec(1));
    log.append(rec(2));
    assert.equal(log.latestCheckpoint?.size, 0);
    clock.advance(4999);
    assert.equal(log.latestCheckpoint?.size, 0);
    clock.advance(1);
    assert.equal(log.latestCheckpoint?.size, 2);
    log.append(rec(3));
    // simulate a crash: the process dies without close() (lock file left behind by a dead pid)
    writeFileSync(join(dir, 'LOCK'), '999999999\n');
    const r = verifyAuditLog(dir);
    assert.equal(r.ok, true);
    assert.equal(r.unanchored, 1);
    const again = AuditLog.open({ dir, origin: ORIGIN });
    assert.equal(again.latestCheckpoint?.size, 3);
    again.close();
    log.close(); // the first handle still closes cleanly (its lock was taken over)
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed records are kept with the bad fields repaired and named; oversized details are dropped but the record is kept', () => {
  const dir = tmp();
  try {
    const log = AuditLog.open({ dir, origin: ORIGIN, maxRecordBytes: 2048 });
    const { index } = log.append({ actor: { kind: 'peer', id: 'p' }, action: 'big', outcome: 'failure', details: { blob: 'x'.repeat(10_000) } });
    assert.equal(index, 0);
    log.append({ actor: { kind: 'system', id: 'erab' }, action: 'weird', outcome: 'success', details: { n: Number.NaN, big: 10n as unknown as number, when: new Date(0), nested: { z: 1, a: undefined } } });
    assert.equal(log.append({ actor: { kind: 'robot' as 'peer', id: '' }, action: 'tls.handshake', outcome: 'maybe' as 'success', target: 42 as unknown as string }).index, 2);
    log.close();
    const l = lines(dir);
    assert.match(l[0]!, /"details":\{"originalBytes":\d+,"truncated":true\}/);
    assert.match(l[1]!, /"details":\{"big":"10","n":null,"nested":\{"z":1\},"when":"1970-01-01T00:00:00.000Z"\}/);
    const repaired = JSON.parse(l[2]!) as { actor: { kind: string; id: string }; outcome: string; target: string; details: { inputProblems: string[] } };
    assert.deepEqual([repaired.actor.kind, repaired.actor.id, repaired.outcome, repaired.target], ['system', 'unknown', 'failure', '42']);
    assert.equal(repaired.details.inputProblems.length, 4, JSON.stringify(repaired.details));
    assert.equal(verifyAuditLog(dir).ok, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a log rolled back together with its checkpoints file passes on its own but fails against a checkpoint kept from earlier', () => {
  const { dir, vkey } = makeLog(30);
  try {
    const cps = readFileSync(join(dir, 'checkpoints.txt'), 'utf8');
    const kept = cps.slice(cps.lastIndexOf(`${ORIGIN}\n30\n`)); // the auditor kept the size-30 checkpoint
    // roll back to 20 records and drop the later checkpoints
    writeLines(dir, lines(dir).slice(0, 20));
    writeFileSync(join(dir, 'checkpoints.txt'), cps.slice(0, cps.indexOf(`${ORIGIN}\n30\n`)));
    assert.equal(verify(dir, vkey).ok, true, 'without outside knowledge the rollback is invisible');
    const r = verifyAuditLog(dir, { verifier: parseVerifierKey(vkey), trustedCheckpoints: [kept] });
    assert.equal(r.ok, false);
    assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index }, { kind: 'deleted', index: 20 });
    assert.ok(r.warnings.some((w) => /newer than any checkpoint/.test(w)));
    // a kept checkpoint signed by someone else is rejected; one by the log's own key for another
    // history of the same size (a fork: the key signed two different logs) is reported as such
    const foreign = signCheckpoint({ origin: ORIGIN, size: 10, rootHash: Buffer.alloc(32, 7) }, generateSigner(ORIGIN));
    const f = verifyAuditLog(dir, { verifier: parseVerifierKey(vkey), trustedCheckpoints: [foreign] });
    assert.ok(f.problems.some((p) => p.kind === 'bad-checkpoint'));
    const own = parseSignerKey(readFileSync(join(dir, 'signing.key'), 'utf8'));
    const forked = signCheckpoint({ origin: ORIGIN, size: 10, rootHash: Buffer.alloc(32, 7) }, own);
    const k = verifyAuditLog(dir, { verifier: parseVerifierKey(vkey), trustedCheckpoints: [forked] });
    assert.ok(k.problems.some((p) => p.kind === 'inconsistent' && /fork/.test(p.message)), JSON.stringify(k.problems));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
