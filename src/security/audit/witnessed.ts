/**
 * Checking a log against checkpoints a witness cosigned (`erab audit verify --witness FILE`).
 *
 * A log's own checkpoints file can be cut back together with its records: what remains verifies.
 * A cosigned checkpoint kept elsewhere (by the witness, in `<witness dir>/logs/<peer>.checkpoint`,
 * or by the participant, in `<audit dir>/witnessed/<witness>.checkpoint`) cannot be taken back:
 * its size and root are what the log must still extend. The witness's cosignature says that the
 * witness saw that checkpoint, signed by the log's key, consistent with everything it saw before.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { verifyCosignature } from './cosignature.js';
import { COSIGNATURE_V1_TYPE, parseVerifierKey, type NoteVerifier } from './note.js';
import { readStoreFile } from './store.js';
import type { VerifyResult } from './verify.js';

/** A cosigned checkpoint read from a file, its cosignature checked. */
export interface WitnessedCheckpoint {
  file: string;
  note: string;
  witness: string;
  size: number;
  rootHash: string;
  /** When the witness cosigned it (POSIX seconds). */
  cosignedAt: number;
  /** Where the witness key came from: given by the caller, or a file next to the checkpoint (weaker). */
  keySource: 'given' | 'beside-the-file';
}

/** A witness verifier key (type 0x04) given as the key itself or as a file holding it. */
export function resolveWitnessKey(keyOrFile: string): NoteVerifier {
  const looksLikeKey = /^[^\s+]+\+[0-9a-f]{8}\+\S+$/.test(keyOrFile.trim());
  const text = looksLikeKey && !existsSync(keyOrFile) ? keyOrFile : readKeyFile(keyOrFile, '--witness-key');
  try {
    return parseVerifierKey(text, COSIGNATURE_V1_TYPE);
  } catch (err) {
    throw new InvalidInputError(`--witness-key ${keyOrFile}: ${(err as Error).message}`, { cause: err });
  }
}

function readKeyFile(path: string, what: string): string {
  if (!existsSync(path)) throw new InvalidInputError(`${what} "${path}" is neither a witness key (<name>+<id>+<key>) nor a file`);
  return readStoreFile(path, 16 * 1024).toString('utf8');
}

/** Where a witness key may sit next to a cosigned checkpoint file (participant side, then witness side). */
function keysBeside(file: string): string[] {
  const base = basename(file).replace(/\.checkpoint$/, '');
  return [join(dirname(file), `${base}.witness.vkey`), join(dirname(file), '..', 'cosigner.vkey')];
}

/**
 * Reads a cosigned checkpoint and checks its cosignature with one of `keys`, or (none given) with
 * the key stored beside it. Throws an InvalidInputError naming the file when nothing verifies.
 */
export function loadWitnessedCheckpoint(file: string, keys: readonly NoteVerifier[]): WitnessedCheckpoint {
  let note: string;
  try {
    note = readStoreFile(file, 64 * 1024).toString('utf8');
  } catch (err) {
    throw new InvalidInputError(`--witness ${file}: cannot read (${(err as Error).message})`);
  }
  let candidates = keys;
  let keySource: WitnessedCheckpoint['keySource'] = 'given';
  if (candidates.length === 0) {
    const found = keysBeside(file).find((p) => existsSync(p));
    if (!found) throw new InvalidInputError(`--witness ${file}: no witness key given (--witness-key) and none stored beside it`);
    candidates = [parseVerifierKey(readKeyFile(found, 'witness key'), COSIGNATURE_V1_TYPE)];
    keySource = 'beside-the-file';
  }
  const reasons: string[] = [];
  for (const key of candidates) {
    const c = verifyCosignature(note, key);
    if (c.ok) return { file, note, witness: c.witness, size: c.checkpoint.size, rootHash: c.checkpoint.rootHash.toString('hex'), cosignedAt: c.timestamp, keySource };
    reasons.push(c.reason);
  }
  throw new InvalidInputError(`--witness ${file}: not cosigned by ${candidates.map((k) => k.name).join(' or ')}: ${reasons.join('; ')}`);
}

/**
 * What a verification result means for each witnessed checkpoint (the checkpoints must have been
 * passed to verifyAuditLog as trustedCheckpoints): one sentence per witnessed checkpoint the log
 * no longer extends, naming the witness and the sizes. Empty when the log extends them all.
 */
export function witnessFindings(r: VerifyResult, witnessed: readonly WitnessedCheckpoint[]): string[] {
  const out: string[] = [];
  for (const w of witnessed) {
    const at = `witness ${w.witness} cosigned size ${w.size} at ${new Date(w.cosignedAt * 1000).toISOString()} (${w.file})`;
    const own = r.problems.filter((p) => p.checkpointSize === w.size);
    if (own.some((p) => p.kind === 'bad-checkpoint')) {
      out.push(`the checkpoint ${at} is not signed by this log's key: ${own.find((p) => p.kind === 'bad-checkpoint')!.message}`);
    } else if (r.treeSize < w.size) {
      out.push(`log truncated below a witnessed checkpoint: ${at}, but the log holds only ${r.treeSize} records`);
    } else if (own.length > 0) {
      out.push(`log rewritten below a witnessed checkpoint: ${at}, but the log's first ${w.size} records do not hash to its root (${own[0]!.message})`);
    }
  }
  return out;
}
