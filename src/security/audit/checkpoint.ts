/**
 * Checkpoints: signed tree heads in the C2SP tlog-checkpoint format (https://c2sp.org/tlog-checkpoint).
 *
 * The note text is exactly three lines (we write no extension lines, which the spec does not
 * recommend):
 *   <origin>\n<tree size, decimal, no leading zeroes>\n<base64 root hash>\n
 * and is signed as a C2SP signed note by the log's Ed25519 key, whose key name is the origin
 * ("The log's key name in its signature line SHOULD match the origin line").
 *
 * The log keeps all its checkpoints in one append-only text file, `checkpoints.txt`: signed notes
 * one after the other. A note ends after its last signature line; the next line that does not
 * start with "— " begins the next note (origins never start with an em dash and a space, since key
 * names contain no spaces). Each note can be cut out and handed to any C2SP verifier as is.
 */
import { InvalidInputError } from '../../core/errors.js';
import { checkKeyName, openNote, signNote, type NoteSigner, type NoteVerifier } from './note.js';

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
}

/** The note text of a checkpoint. */
export function formatCheckpointBody(c: Checkpoint): string {
  checkKeyName(c.origin);
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new InvalidInputError(`checkpoint size ${c.size} is not a non-negative integer`);
  if (c.rootHash.length !== 32) throw new InvalidInputError('checkpoint root hash must be 32 bytes');
  return `${c.origin}\n${c.size}\n${c.rootHash.toString('base64')}\n`;
}

/** Parses a checkpoint note text (strict on the three mandatory lines; extension lines refused). */
export function parseCheckpointBody(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') throw new InvalidInputError('checkpoint text must be at least three newline-terminated lines');
  const [origin, sizeLine, rootLine] = lines as [string, string, string];
  if (lines.length > 4) throw new InvalidInputError('checkpoint has extension lines; this log never writes them');
  if (origin.length === 0) throw new InvalidInputError('checkpoint origin line is empty');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeLine)) throw new InvalidInputError(`checkpoint tree size "${sizeLine}" is not a decimal number without leading zeroes`);
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new InvalidInputError(`checkpoint tree size ${sizeLine} is too large`);
  const root = Buffer.from(rootLine, 'base64');
  if (root.length !== 32 || root.toString('base64') !== rootLine) throw new InvalidInputError(`checkpoint root hash "${rootLine}" is not the base64 of 32 bytes`);
  return { origin, size, rootHash: root };
}

/** A signed checkpoint note for `c`. */
export function signCheckpoint(c: Checkpoint, signer: NoteSigner): string {
  if (c.origin !== signer.name) throw new InvalidInputError(`checkpoint origin "${c.origin}" differs from the signing key name "${signer.name}"`);
  return signNote(formatCheckpointBody(c), signer);
}

/** One note as found in a checkpoints file, with where it starts (1-based line number). */
export interface StoredNote {
  note: string;
  line: number;
}

/**
 * Splits the checkpoints file into notes. Anything that is not a complete note (a truncated last
 * note, stray lines) is returned as `corrupt` with its line, never skipped silently.
 */
export function splitCheckpointsFile(content: string): { notes: StoredNote[]; corrupt?: { line: number; message: string } } {
  const notes: StoredNote[] = [];
  if (content.length === 0) return { notes };
  const lines = content.split('\n');
  const endsWithNewline = lines[lines.length - 1] === '';
  if (endsWithNewline) lines.pop();
  let i = 0;
  while (i < lines.length) {
    const start = i;
    // text lines up to the blank separator
    while (i < lines.length && lines[i] !== '') {
      if (lines[i]!.startsWith('\u2014 ')) return { notes, corrupt: { line: i + 1, message: 'signature line without a note text before it' } };
      i += 1;
    }
    if (i >= lines.length) return { notes, corrupt: { line: start + 1, message: 'checkpoint note is truncated: no blank line and signatures after its text' } };
    i += 1; // blank line
    const sigStart = i;
    while (i < lines.length && lines[i]!.startsWith('\u2014 ')) i += 1;
    if (i === sigStart) return { notes, corrupt: { line: start + 1, message: 'checkpoint note has no signature line' } };
    if (i === lines.length && !endsWithNewline) return { notes, corrupt: { line: i, message: 'checkpoints file ends in the middle of a line (truncated write?)' } };
    notes.push({ note: `${lines.slice(start, i).join('\n')}\n`, line: start + 1 });
  }
  return { notes };
}

export type CheckedCheckpoint =
  | { ok: true; checkpoint: Checkpoint; note: string; line: number }
  | { ok: false; reason: string; note: string; line: number; checkpoint?: Checkpoint };

/** Verifies one stored checkpoint note: signature by `verifier`, body format, origin. */
export function checkCheckpoint(stored: StoredNote, verifier: NoteVerifier, origin?: string): CheckedCheckpoint {
  const opened = openNote(stored.note, verifier);
  let checkpoint: Checkpoint | undefined;
  const text = opened.text; // also set when only the signature failed, to name the checkpoint's size
  if (text !== undefined) {
    try {
      checkpoint = parseCheckpointBody(text);
    } catch (err) {
      return { ok: false, reason: (err as Error).message, note: stored.note, line: stored.line };
    }
  }
  if (!opened.ok) return { ok: false, reason: opened.reason, note: stored.note, line: stored.line, ...(checkpoint ? { checkpoint } : {}) };
  if (!checkpoint) return { ok: false, reason: 'no checkpoint text', note: stored.note, line: stored.line };
  if (origin !== undefined && checkpoint.origin !== origin) {
    return { ok: false, reason: `checkpoint origin "${checkpoint.origin}" is not this log's origin "${origin}"`, note: stored.note, line: stored.line, checkpoint };
  }
  return { ok: true, checkpoint, note: stored.note, line: stored.line };
}
