import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, verify as edVerify, createPublicKey } from 'node:crypto';
import { formatSignerKey, formatVerifierKey, generateSigner, keyId, openNote, parseNote, parseSignerKey, parseVerifierKey, signNote } from '../../../src/security/audit/note.js';
import { checkCheckpoint, formatCheckpointBody, parseCheckpointBody, signCheckpoint, splitCheckpointsFile } from '../../../src/security/audit/checkpoint.js';

// The published example of golang.org/x/mod/sumdb/note (the reference signed-note implementation):
// key strings, text and the signed note it produces. Ed25519 is deterministic, so signing the same
// text with the same key must give the same bytes: our notes are then readable by Go-ecosystem
// verifiers and witnesses.
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

test('signing reproduces the golang.org/x/mod/sumdb/note example byte for byte, and its note verifies', () => {
  const signer = parseSignerKey(GO_SKEY);
  assert.equal(formatVerifierKey(signer), GO_VKEY);
  assert.equal(formatSignerKey(signer), GO_SKEY);
  assert.equal(signNote(GO_TEXT, signer), GO_NOTE);
  const v = parseVerifierKey(GO_VKEY);
  assert.deepEqual(openNote(GO_NOTE, v), { ok: true, text: GO_TEXT });
  const tampered = GO_NOTE.replace('cryptography', 'cryptographY');
  assert.equal(openNote(tampered, v).ok, false);
});

test('key id is SHA-256(name || 0x0A || 0x01 || public key)[:4], computed independently', () => {
  const s = generateSigner('erab.test/keyid');
  const expected = createHash('sha256').update(Buffer.concat([Buffer.from('erab.test/keyid\n'), Buffer.from([1]), s.publicKey])).digest().readUInt32BE(0);
  assert.equal(keyId(s.name, s.publicKey), expected);
  const vkey = formatVerifierKey(s);
  assert.match(vkey, /^erab\.test\/keyid\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/);
  assert.equal(Buffer.from(vkey.split('+').slice(2).join('+'), 'base64')[0], 0x01);
});

test('the signature line is base64(4-byte key id || Ed25519 signature over the text), checkable with plain node:crypto', () => {
  const s = generateSigner('erab.test/sig');
  const note = signNote('hello\n', s);
  const m = /^hello\n\n\u2014 erab\.test\/sig (\S+)\n$/.exec(note);
  assert.ok(m, note);
  const raw = Buffer.from(m[1]!, 'base64');
  assert.equal(raw.readUInt32BE(0), s.keyId);
  const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: s.publicKey.toString('base64url') }, format: 'jwk' });
  assert.ok(edVerify(null, Buffer.from('hello\n'), pub, raw.subarray(4)));
});

test('verifier keys with a wrong id, a wrong type or bad base64 are refused with a reason', () => {
  assert.throws(() => parseVerifierKey(GO_VKEY.replace('c74f20a3', 'c74f20a4')), /key id/);
  assert.throws(() => parseVerifierKey('PeterNeumann+c74f20a3'), /expected/);
  assert.throws(() => parseVerifierKey('Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'), /spaces/);
  assert.throws(() => parseVerifierKey('PeterNeumann+c74f20a3+AhpjZA=='), /Ed25519/);
  assert.throws(() => parseVerifierKey('PeterNeumann+c74f20a3+!!!'), /base64/);
});

test('unknown signatures are ignored, a failing known one rejects the note, none known rejects it', () => {
  const a = generateSigner('erab.test/a');
  const b = generateSigner('erab.test/b');
  const noteA = signNote('text\n', a);
  const sigLineB = signNote('text\n', b).split('\n\n')[1]!;
  const both = `${noteA}${sigLineB}`;
  assert.equal(openNote(both, a).ok, true);
  assert.equal(openNote(both, b).ok, true);
  const c = generateSigner('erab.test/c');
  assert.match((openNote(noteA, c) as { reason: string }).reason, /no signature by the trusted key/);
  // A signature line by `a` whose bytes were altered.
  const parts = noteA.split(' ');
  const sig = Buffer.from(parts[parts.length - 1]!.trim(), 'base64');
  sig.writeUInt8(sig.readUInt8(10) ^ 1, 10);
  const forged = `${parts.slice(0, -1).join(' ')} ${sig.toString('base64')}\n`;
  assert.match((openNote(forged, a) as { reason: string }).reason, /does not verify/);
  assert.throws(() => parseNote('no signatures\n'), /blank line/);
  assert.throws(() => parseNote('text\n\nnot a signature\n'), /malformed signature line/);
});

test('checkpoint body follows C2SP tlog-checkpoint: origin, decimal size, base64 root, each newline-terminated', () => {
  const root = createHash('sha256').update('r').digest();
  const body = formatCheckpointBody({ origin: 'erab.test/log', size: 20852163, rootHash: root });
  assert.equal(body, `erab.test/log\n20852163\n${root.toString('base64')}\n`);
  assert.deepEqual(parseCheckpointBody(body), { origin: 'erab.test/log', size: 20852163, rootHash: root });
  assert.throws(() => parseCheckpointBody(`erab.test/log\n007\n${root.toString('base64')}\n`), /leading zeroes/);
  assert.throws(() => parseCheckpointBody(`erab.test/log\n7\nAAAA\n`), /32 bytes/);
  assert.throws(() => parseCheckpointBody(`erab.test/log\n7\n`), /three/);
  // The C2SP example checkpoint's text parses (its signature is by a key we do not have).
  const example = parseCheckpointBody('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
  assert.equal(example.size, 20852163);
});

test('a checkpoints file splits into its notes; a truncated last note or a bad signature is reported', () => {
  const s = generateSigner('erab.test/cp');
  const root = createHash('sha256').update('x').digest();
  const n1 = signCheckpoint({ origin: s.name, size: 1, rootHash: root }, s);
  const n2 = signCheckpoint({ origin: s.name, size: 2, rootHash: root }, s);
  const { notes } = splitCheckpointsFile(n1 + n2);
  assert.deepEqual(notes.map((n) => n.note), [n1, n2]);
  assert.deepEqual(notes.map((n) => n.line), [1, 6]);
  for (const n of notes) assert.equal(checkCheckpoint(n, s, s.name).ok, true);
  const cut = splitCheckpointsFile(n1 + n2.slice(0, n2.length - 10));
  assert.equal(cut.notes.length, 1);
  assert.match(cut.corrupt!.message, /truncated/);
  const cut2 = splitCheckpointsFile(n1 + n2.slice(0, n2.indexOf('\n\n') + 1));
  assert.ok(cut2.corrupt);
  const other = generateSigner('erab.test/cp');
  const r = checkCheckpoint(notes[0]!, other, s.name);
  assert.equal(r.ok, false);
});
