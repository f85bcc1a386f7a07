/**
 * Witness cosignatures on checkpoints (C2SP tlog-cosignature, https://c2sp.org/tlog-cosignature,
 * Ed25519 "cosignature/v1").
 *
 * A cosignature is one more signature line on a checkpoint note:
 *   `— <witness name> base64(key id || timestamp || Ed25519 signature)`
 * where the key id is SHA-256(name || 0x0A || 0x04 || public key)[:4], the timestamp a big-endian
 * u64 of POSIX seconds, and the signature covers
 *   `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint text (its three lines).
 * It says: at that time, this was the largest tree the witness had seen for that origin, and it
 * was consistent with every earlier one the witness had seen.
 *
 * Keys use the signed-note key strings of ./note.ts with signature type 0x04:
 *   witness verifier key `<name>+<id>+<base64(0x04 || public key)>`.
 */
import { sign, verify } from 'node:crypto';
import { InvalidInputError } from '../../core/errors.js';
import { parseCheckpointBody, type Checkpoint } from './checkpoint.js';
import { COSIGNATURE_V1_TYPE, hex8, parseNote, type NoteSigner, type NoteVerifier } from './note.js';

const EM_DASH = '\u2014';
/** Timestamps must fit in 63 bits (tlog-cosignature, Format). */
const MAX_TIMESTAMP = 2n ** 63n - 1n;

/** The message an Ed25519 cosigner signs over a checkpoint text (tlog-cosignature, Ed25519 signed message). */
export function cosignedMessage(checkpointText: string, timestampSeconds: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestampSeconds}\n${checkpointText}`, 'utf8');
}

/**
 * One cosignature line (with its newline) by `cosigner` on the checkpoint `text`, dated
 * `timestampSeconds`.
 * @example const line = cosignCheckpoint(formatCheckpointBody(cp), witnessSigner, Math.floor(Date.now() / 1000));
 */
export function cosignCheckpoint(text: string, cosigner: NoteSigner, timestampSeconds: number): string {
  if (cosigner.type !== COSIGNATURE_V1_TYPE) throw new InvalidInputError(`key ${cosigner.name} is not a cosigner key (type 0x04)`);
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new InvalidInputError(`cosignature timestamp ${timestampSeconds} is not a non-negative integer`);
  parseCheckpointBody(text); // only checkpoints are cosigned
  const sig = sign(null, cosignedMessage(text, timestampSeconds), cosigner.privateKey);
  const head = Buffer.alloc(12);
  head.writeUInt32BE(cosigner.keyId, 0);
  head.writeBigUInt64BE(BigInt(timestampSeconds), 4);
  return `${EM_DASH} ${cosigner.name} ${Buffer.concat([head, sig]).toString('base64')}\n`;
}

export type CosignatureCheck =
  | { ok: true; checkpoint: Checkpoint; text: string; timestamp: number; witness: string }
  | { ok: false; reason: string; checkpoint?: Checkpoint };

/**
 * Checks that `note` (a checkpoint with its signature lines) carries a valid cosignature by
 * `witness`. Lines by other keys are ignored; a line by this key that fails rejects the note
 * (as C2SP signed-note does for signatures). With several valid ones, the latest time is returned.
 * This does not check the log's own signature: see checkCheckpoint (./checkpoint.ts).
 */
export function verifyCosignature(note: string, witness: NoteVerifier): CosignatureCheck {
  if (witness.type !== COSIGNATURE_V1_TYPE) return { ok: false, reason: `key ${witness.name} is not a cosigner key (type 0x04)` };
  let text: string;
  let checkpoint: Checkpoint;
  let signatures;
  try {
    ({ text, signatures } = parseNote(note));
    checkpoint = parseCheckpointBody(text);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  let latest: number | undefined;
  for (const s of signatures) {
    if (s.name !== witness.name || s.keyId !== witness.keyId) continue;
    if (s.signature.length !== 8 + 64) return { ok: false, reason: `cosignature by ${s.name}+${hex8(s.keyId)} is not timestamp || Ed25519 signature (${s.signature.length} bytes)`, checkpoint };
    const ts = s.signature.readBigUInt64BE(0);
    if (ts > MAX_TIMESTAMP || ts > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: `cosignature by ${s.name} has an out-of-range timestamp ${ts}`, checkpoint };
    const t = Number(ts);
    if (!verify(null, cosignedMessage(text, t), witness.key, s.signature.subarray(8))) {
      return { ok: false, reason: `cosignature by ${s.name}+${hex8(s.keyId)} does not verify`, checkpoint };
    }
    latest = latest === undefined ? t : Math.max(latest, t);
  }
  if (latest === undefined) return { ok: false, reason: `no cosignature by the witness key ${witness.name}+${hex8(witness.keyId)}`, checkpoint };
  return { ok: true, checkpoint, text, timestamp: latest, witness: witness.name };
}
