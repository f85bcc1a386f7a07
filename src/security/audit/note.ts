/**
 * Signed notes (C2SP signed-note, https://c2sp.org/signed-note) with Ed25519 keys.
 *
 * A note is a text ending in a newline, a blank line, then signature lines
 * `— <key name> <base64(4-byte key ID || signature)>` (em dash U+2014). For Ed25519 (signature type
 * 0x01) the key ID is SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4] and the signature
 * is RFC 8032 Ed25519 over the note text (including its final newline).
 *
 * Key strings follow golang.org/x/mod/sumdb/note, the format the transparency ecosystem
 * (witnesses, Go's checksum database) exchanges keys in:
 * - verifier key: `<name>+<8 hex digits key ID>+<base64(0x01 || public key)>`
 * - signer key:   `PRIVATE+KEY+<name>+<8 hex digits key ID>+<base64(0x01 || 32-byte seed)>`
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { InvalidInputError, IntegrityError } from '../../core/errors.js';

const ED25519_TYPE = 0x01;
/**
 * Signature type of an Ed25519 cosigner key (C2SP tlog-cosignature, cosignature/v1): the same
 * Ed25519 key material, another key-id algorithm byte, so a cosigner key is never mistaken for a
 * note signer key.
 */
export const COSIGNATURE_V1_TYPE = 0x04;
export type KeyType = typeof ED25519_TYPE | typeof COSIGNATURE_V1_TYPE;
/** DER prefixes of an Ed25519 PKCS#8 private key and SPKI public key (RFC 8410). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const EM_DASH = '\u2014';

/** Key names must be non-empty and contain no Unicode spaces or '+' (C2SP signed-note, Format). */
export function checkKeyName(name: string): void {
  if (name.length === 0) throw new InvalidInputError('note key name (the log origin) must not be empty');
  if (/[\s+]/u.test(name)) throw new InvalidInputError(`note key name "${name}" must not contain spaces or '+' (C2SP signed-note)`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidInputError(`note key name "${name}" must not contain control characters`);
}

/**
 * SHA-256(name || 0x0A || type || publicKey)[:4] as a big-endian uint32 (C2SP signed-note, Ed25519
 * type 0x01; C2SP tlog-cosignature, Ed25519 cosigner type 0x04).
 */
export function keyId(name: string, publicKey: Uint8Array, type: KeyType = ED25519_TYPE): number {
  const h = createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, type])).update(publicKey).digest();
  return h.readUInt32BE(0);
}

/** A key id as 8 lowercase hex digits, as key strings spell it. */
export function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

export interface NoteVerifier {
  name: string;
  /** 0x01 for a note signer (the log), 0x04 for a cosigner (a witness); default 0x01. */
  type?: KeyType;
  keyId: number;
  publicKey: Buffer;
  key: KeyObject;
}

export interface NoteSigner extends NoteVerifier {
  privateKey: KeyObject;
  seed: Buffer;
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function signerFromSeed(name: string, seed: Buffer, type: KeyType = ED25519_TYPE): NoteSigner {
  checkKeyName(name);
  if (seed.length !== 32) throw new InvalidInputError('Ed25519 seed must be 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = Buffer.from(spki.subarray(spki.length - 32));
  return { name, type, keyId: keyId(name, publicKey, type), publicKey, key: publicKeyObject(publicKey), privateKey, seed };
}

/** A fresh Ed25519 signer named `name` (a cosigner with `type` 0x04). */
export function generateSigner(name: string, type: KeyType = ED25519_TYPE): NoteSigner {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return signerFromSeed(name, Buffer.from(pkcs8.subarray(pkcs8.length - 32)), type);
}

/** `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>`. Secret: write with mode 0600, never log. */
export function formatSignerKey(s: NoteSigner): string {
  return `PRIVATE+KEY+${s.name}+${hex8(s.keyId)}+${Buffer.concat([Buffer.from([s.type ?? ED25519_TYPE]), s.seed]).toString('base64')}`;
}

/** `<name>+<id>+<base64(0x01 || public key)>`: give this to third parties who verify checkpoints. */
export function formatVerifierKey(v: NoteVerifier): string {
  return `${v.name}+${hex8(v.keyId)}+${Buffer.concat([Buffer.from([v.type ?? ED25519_TYPE]), v.publicKey]).toString('base64')}`;
}

function strictBase64(s: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new InvalidInputError(`${what}: not standard base64`);
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) throw new InvalidInputError(`${what}: non-canonical base64`);
  return b;
}

/** Splits `<name>+<hex id>+<base64>`; the base64 part may itself contain '+'. */
function splitKey(rest: string, what: string, type: KeyType): { name: string; id: number; data: Buffer } {
  const a = rest.indexOf('+');
  const b = a < 0 ? -1 : rest.indexOf('+', a + 1);
  if (a < 0 || b < 0) throw new InvalidInputError(`${what}: expected <name>+<key id>+<key data>`);
  const name = rest.slice(0, a);
  const idHex = rest.slice(a + 1, b);
  checkKeyName(name);
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new InvalidInputError(`${what}: key id "${idHex}" is not 8 lowercase hex digits`);
  const data = strictBase64(rest.slice(b + 1), what);
  if (data.length !== 33 || data[0] !== type) {
    throw new InvalidInputError(`${what}: expected an Ed25519 ${type === ED25519_TYPE ? 'note signer' : 'cosigner'} key (type 0x0${type}, 32 bytes)`);
  }
  return { name, id: parseInt(idHex, 16), data: data.subarray(1) };
}

/** Parses a verifier key string and checks that its key id matches its name and public key. */
export function parseVerifierKey(vkey: string, type: KeyType = ED25519_TYPE): NoteVerifier {
  const { name, id, data } = splitKey(vkey.trim(), 'verifier key', type);
  const publicKey = Buffer.from(data);
  if (keyId(name, publicKey, type) !== id) throw new InvalidInputError(`verifier key: key id ${hex8(id)} does not match the name and public key`);
  let key: KeyObject;
  try {
    key = publicKeyObject(publicKey);
  } catch (err) {
    throw new InvalidInputError('verifier key: not a valid Ed25519 public key', { cause: err });
  }
  return { name, type, keyId: id, publicKey, key };
}

/** Parses a signer key string (`PRIVATE+KEY+...`) and checks its key id. */
export function parseSignerKey(skey: string, type: KeyType = ED25519_TYPE): NoteSigner {
  const t = skey.trim();
  if (!t.startsWith('PRIVATE+KEY+')) throw new InvalidInputError('signer key: expected PRIVATE+KEY+<name>+<key id>+<key data>');
  const { name, id, data } = splitKey(t.slice('PRIVATE+KEY+'.length), 'signer key', type);
  const s = signerFromSeed(name, Buffer.from(data), type);
  if (s.keyId !== id) throw new InvalidInputError(`signer key: key id ${hex8(id)} does not match the name and key`);
  return s;
}

function checkNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new InvalidInputError('note text must end with a newline');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new InvalidInputError('note text must not contain control characters other than newline');
}

/** Signs `text` and returns the whole signed note (text, blank line, one signature line). */
export function signNote(text: string, signer: NoteSigner): string {
  checkNoteText(text);
  const sig = sign(null, Buffer.from(text, 'utf8'), signer.privateKey);
  const id = Buffer.alloc(4);
  id.writeUInt32BE(signer.keyId, 0);
  return `${text}\n${EM_DASH} ${signer.name} ${Buffer.concat([id, sig]).toString('base64')}\n`;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Buffer;
}

export interface ParsedNote {
  text: string;
  signatures: NoteSignature[];
}

/** Upper bounds that keep a hostile checkpoints file from costing unbounded work. */
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_SIGNATURES = 64;

/** Splits a signed note into its text and signature lines (no cryptography). */
export function parseNote(note: string): ParsedNote {
  if (Buffer.byteLength(note, 'utf8') > MAX_NOTE_BYTES) throw new InvalidInputError(`signed note is larger than ${MAX_NOTE_BYTES} bytes`);
  if (!note.endsWith('\n')) throw new InvalidInputError('signed note does not end with a newline (truncated?)');
  // The text is separated from the signatures by the LAST blank line (C2SP signed-note, Format).
  const sep = note.lastIndexOf('\n\n');
  if (sep < 0) throw new InvalidInputError('signed note has no blank line before its signatures');
  const text = note.slice(0, sep + 1);
  checkNoteText(text);
  const sigLines = note.slice(sep + 2, -1).split('\n');
  if (sigLines.length > MAX_SIGNATURES) throw new InvalidInputError(`signed note has more than ${MAX_SIGNATURES} signatures`);
  const signatures: NoteSignature[] = [];
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!m) throw new InvalidInputError(`malformed signature line "${line.slice(0, 80)}"`);
    const raw = strictBase64(m[2]!, 'signature');
    if (raw.length < 5) throw new InvalidInputError('signature line is too short to hold a key id and a signature');
    signatures.push({ name: m[1]!, keyId: raw.readUInt32BE(0), signature: raw.subarray(4) });
  }
  return { text, signatures };
}

export type OpenNoteResult =
  | { ok: true; text: string }
  | { ok: false; reason: string; text?: string };

/**
 * Verifies a signed note against one trusted key. Signatures from unknown keys are ignored, a
 * known key's signature that fails rejects the note, and at least one must verify
 * (C2SP signed-note, Signatures).
 */
export function openNote(note: string, verifier: NoteVerifier): OpenNoteResult {
  let parsed: ParsedNote;
  try {
    parsed = parseNote(note);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  // A cosigner key signs another message (cosignature/v1): it never vouches for the note text itself.
  if ((verifier.type ?? ED25519_TYPE) !== ED25519_TYPE) return { ok: false, reason: `${verifier.name} is a cosigner key; check its cosignatures with verifyCosignature`, text: parsed.text };
  let verified = 0;
  for (const s of parsed.signatures) {
    if (s.name !== verifier.name || s.keyId !== verifier.keyId) continue;
    if (s.signature.length !== 64 || !verify(null, Buffer.from(parsed.text, 'utf8'), verifier.key, s.signature)) {
      return { ok: false, reason: `signature by ${s.name}+${hex8(s.keyId)} does not verify`, text: parsed.text };
    }
    verified += 1;
  }
  if (verified === 0) return { ok: false, reason: `no signature by the trusted key ${verifier.name}+${hex8(verifier.keyId)}`, text: parsed.text };
  return { ok: true, text: parsed.text };
}

/** Like {@link openNote} but throws an IntegrityError. */
export function openNoteOrThrow(note: string, verifier: NoteVerifier): string {
  const r = openNote(note, verifier);
  if (!r.ok) throw new IntegrityError(`signed note rejected: ${r.reason}`);
  return r.text;
}
