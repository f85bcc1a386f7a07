/**
 * A witness for the audit logs of the participants below us (C2SP tlog-witness,
 * https://c2sp.org/tlog-witness, with C2SP tlog-cosignature cosignatures): a gateway hands its
 * latest signed checkpoint to its aggregator, an aggregator to its TSO or retailer. The witness
 * checks that the new checkpoint is signed by the peer's log key and consistent with the last one
 * it cosigned for that peer, cosigns it, and keeps it. A log truncated or rewritten below a
 * witnessed checkpoint can then no longer pass `erab audit verify --witness`, and a peer whose log
 * went backwards is a security event here, at the witness.
 *
 * Which log key belongs to which peer (trust on first use, bound to the TLS identity): requests
 * come over the OpenADR listener's mutual TLS, so the witness knows the peer's participant
 * identity (role and id from its certificate, already allow-listed). The first time a peer
 * presents its log's verifier key (POST /erab/witness/log-key) the key is pinned to that identity
 * and the pin is audited; a different key later is refused and audited, never replaced. We chose
 * this over publishing the key in the certificate because it needs no change to the PKI or the
 * certificates already issued, and the window it leaves (a compromised peer pinning a key of its
 * choosing before its first submission) is no worse than that peer simply signing false records
 * with its real key. An operator who re-creates a peer's log on purpose removes
 * `logs/<role>-<id>.log.vkey` here.
 *
 * Layout of the witness directory:
 *   cosigner.key                 PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>   (mode 0600)
 *   cosigner.vkey                <name>+<id>+<base64(0x04 || public key)>          (give to auditors)
 *   logs/<role>-<id>.log.vkey    the peer's pinned log verifier key
 *   logs/<role>-<id>.checkpoint  the latest checkpoint cosigned for the peer (its own signature and ours)
 *
 * Checking the old size and persisting the new checkpoint happen in one synchronous step, so the
 * race the spec warns about (two requests rolling each other back) cannot happen within one
 * process. One witness directory belongs to one process.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../core/clock.js';
import { ConfigError, InvalidInputError, becauseOf, explain } from '../../core/errors.js';
import { PARTICIPANT_ID_PATTERN } from '../identity.js';
import { checkCheckpoint, parseCheckpointBody, type Checkpoint } from './checkpoint.js';
import { cosignCheckpoint } from './cosignature.js';
import { EMPTY_ROOT, verifyConsistency } from './merkle.js';
import { COSIGNATURE_V1_TYPE, checkKeyName, formatSignerKey, formatVerifierKey, generateSigner, parseNote, parseSignerKey, parseVerifierKey, type NoteSigner, type NoteVerifier } from './note.js';
import { readStoreFile, writeFileAtomic } from './store.js';
import type { AuditSink } from './types.js';

/** Paths of the witness's HTTP interface on the OpenADR listener. */
export const WITNESS_ADD_CHECKPOINT_PATH = '/erab/witness/add-checkpoint';
export const WITNESS_LOG_KEY_PATH = '/erab/witness/log-key';
/** Content type of a 409 reply body (tlog-witness, add-checkpoint). */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size';
/** At most this many consistency proof lines (tlog-witness: clients MUST NOT send more than 63). */
const MAX_PROOF_LINES = 63;
const MAX_REQUEST_BYTES = 64 * 1024;
const KEY_FILE_MAX = 16 * 1024;

/** The authenticated TLS peer submitting a checkpoint (an OadrPeer fits). */
export interface WitnessPeer {
  id?: string | undefined;
  role?: string | undefined;
  fingerprint: string;
  address?: string | undefined;
}

/** An HTTP answer, ready for the listener. */
export interface WitnessReply {
  status: number;
  contentType: string;
  body: string;
}

/** An add-checkpoint request body, parsed. */
export interface AddCheckpointRequest {
  oldSize: number;
  proof: Buffer[];
  /** The signed checkpoint note. */
  note: string;
}

/** Formats an add-checkpoint request body: `old <n>`, proof lines, a blank line, the checkpoint. */
export function formatAddCheckpointRequest(r: AddCheckpointRequest): string {
  if (r.proof.length > MAX_PROOF_LINES) throw new InvalidInputError(`a consistency proof of ${r.proof.length} hashes is longer than ${MAX_PROOF_LINES}`);
  return `old ${r.oldSize}\n${r.proof.map((h) => `${h.toString('base64')}\n`).join('')}\n${r.note}`;
}

/** Parses an add-checkpoint request body strictly (tlog-witness, add-checkpoint). */
export function parseAddCheckpointRequest(body: string): AddCheckpointRequest {
  if (Buffer.byteLength(body, 'utf8') > MAX_REQUEST_BYTES) throw new InvalidInputError(`add-checkpoint body is larger than ${MAX_REQUEST_BYTES} bytes`);
  const blank = body.indexOf('\n\n');
  if (blank < 0) throw new InvalidInputError('add-checkpoint body has no blank line between the proof and the checkpoint');
  const lines = body.slice(0, blank).split('\n');
  const m = /^old (0|[1-9][0-9]{0,15})$/.exec(lines[0]!);
  if (!m || !Number.isSafeInteger(Number(m[1]))) throw new InvalidInputError(`add-checkpoint body must start with "old <size>" (decimal, no leading zeroes), got "${lines[0]!.slice(0, 40)}"`);
  const proofLines = lines.slice(1);
  if (proofLines.length > MAX_PROOF_LINES) throw new InvalidInputError(`add-checkpoint body has ${proofLines.length} proof lines; at most ${MAX_PROOF_LINES} are allowed`);
  const proof = proofLines.map((l, i) => {
    const h = Buffer.from(l, 'base64');
    if (h.length !== 32 || h.toString('base64') !== l) throw new InvalidInputError(`consistency proof line ${i + 1} is not the base64 of a 32-byte hash`);
    return h;
  });
  return { oldSize: Number(m[1]), proof, note: body.slice(blank + 2) };
}

export interface AuditWitnessOptions {
  /** The witness directory (created if missing). */
  dir: string;
  /** The witness's key name, e.g. "erab/aggregator-AGG1/witness" (no spaces, no '+'). */
  name: string;
  /** Where pins and refusals are recorded (the role's own audit log). */
  audit: AuditSink;
  clock?: Clock;
}

/**
 * @example
 * const w = AuditWitness.open({ dir: '/var/lib/erab/agg/audit/witness', name: 'erab/aggregator-AGG1/witness', audit });
 * routes.set(WITNESS_ADD_CHECKPOINT_PATH, async (body, peer) => w.addCheckpoint(peer, body.toString('utf8')));
 */
export class AuditWitness {
  readonly dir: string;
  readonly name: string;
  private readonly signer: NoteSigner;
  private readonly audit: AuditSink;
  private readonly clock: Clock;

  private constructor(o: AuditWitnessOptions, signer: NoteSigner) {
    this.dir = o.dir;
    this.name = o.name;
    this.signer = signer;
    this.audit = o.audit;
    this.clock = o.clock ?? systemClock;
  }

  /** Opens (or creates) the witness in `dir`, with its cosigner key. */
  static open(o: AuditWitnessOptions): AuditWitness {
    checkKeyName(o.name);
    mkdirSync(join(o.dir, 'logs'), { recursive: true, mode: 0o700 });
    const keyFile = join(o.dir, 'cosigner.key');
    let signer: NoteSigner;
    if (existsSync(keyFile)) {
      const st = statSync(keyFile);
      if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
        throw new ConfigError(explain('auditKey.witnessKeyExposed', { file: keyFile, mode: (st.mode & 0o777).toString(8) }));
      }
      try {
        signer = parseSignerKey(readStoreFile(keyFile, KEY_FILE_MAX).toString('utf8'), COSIGNATURE_V1_TYPE);
      } catch (err) {
        throw new ConfigError(explain('auditKey.unreadable', { file: keyFile, ...becauseOf(err) }), { cause: err });
      }
      if (signer.name !== o.name) throw new ConfigError(explain('auditKey.witnessNameMismatch', { file: keyFile, dir: o.dir, found: signer.name, expected: o.name }));
    } else {
      signer = generateSigner(o.name, COSIGNATURE_V1_TYPE);
      writeFileSync(keyFile, `${formatSignerKey(signer)}\n`, { mode: 0o600, flag: 'wx' });
    }
    writeFileAtomic(join(o.dir, 'cosigner.vkey'), o.dir, `${formatVerifierKey(signer)}\n`);
    return new AuditWitness(o, signer);
  }

  /** The witness's verifier key (type 0x04), for auditors checking its cosignatures. */
  get verifierKey(): string {
    return formatVerifierKey(this.signer);
  }

  /** The latest checkpoint note cosigned for a peer (`<role>-<id>`), or undefined. */
  latestCosigned(peerKey: string): string | undefined {
    const path = join(this.dir, 'logs', `${peerKey}.checkpoint`);
    return existsSync(path) ? readStoreFile(path, MAX_REQUEST_BYTES).toString('utf8') : undefined;
  }

  /** Path of the file holding the latest checkpoint cosigned for a peer (what `erab audit verify --witness` takes). */
  checkpointFile(peerKey: string): string {
    return join(this.dir, 'logs', `${peerKey}.checkpoint`);
  }

  /**
   * POST /erab/witness/log-key, body: the peer's log verifier key. Pins it on first sight (audited);
   * the same key again is fine; another key is refused (409, audited). Replies with our own key.
   */
  registerLogKey(peer: WitnessPeer, body: string): WitnessReply {
    const who = peerKeyOf(peer);
    if (!who) return text(403, 'the client certificate names no participant role and id\n');
    let key: NoteVerifier;
    try {
      key = parseVerifierKey(body);
    } catch (err) {
      return text(400, `${(err as Error).message}\n`);
    }
    const vkey = formatVerifierKey(key);
    const pinned = this.pinnedKey(who);
    if (pinned === undefined) {
      writeFileAtomic(join(this.dir, 'logs', `${who}.log.vkey`), join(this.dir, 'logs'), `${vkey}\n`);
      this.record(peer, 'audit.witness.log_key_pinned', 'success', undefined, { origin: key.name, logKey: vkey });
    } else if (pinned !== vkey) {
      this.record(peer, 'audit.witness.log_key_changed', 'refused', `the peer presented log key ${vkey}, but ${pinned} is pinned for it; remove logs/${who}.log.vkey in the witness directory only if the log was re-created on purpose`, { origin: key.name });
      return text(409, `another log key is pinned for ${who}\n`);
    }
    return text(200, `${this.verifierKey}\n`);
  }

  /**
   * POST /erab/witness/add-checkpoint (tlog-witness): 200 with our cosignature line; 400 for a
   * malformed request or an old size above the checkpoint's; 403 when the peer's pinned key did
   * not sign it; 404 when no log key is pinned for the peer (or it names another origin); 409 with
   * our size when the old size is not the one we cosigned; 422 when the proof does not verify.
   * A checkpoint smaller than, or inconsistent with, the last one we cosigned is audited as a
   * security event.
   */
  addCheckpoint(peer: WitnessPeer, body: string): WitnessReply {
    const who = peerKeyOf(peer);
    if (!who) return text(403, 'the client certificate names no participant role and id\n');
    let req: AddCheckpointRequest;
    let cp: Checkpoint;
    try {
      req = parseAddCheckpointRequest(body);
      cp = parseCheckpointBody(parseNote(req.note).text);
    } catch (err) {
      return text(400, `${(err as Error).message}\n`);
    }
    const pinned = this.pinnedKey(who);
    if (pinned === undefined) return text(404, `no log key is known for ${who}; POST it to ${WITNESS_LOG_KEY_PATH} first\n`);
    const logKey = parseVerifierKey(pinned);
    if (cp.origin !== logKey.name) {
      this.record(peer, 'audit.witness.checkpoint', 'refused', `checkpoint of origin "${cp.origin}" from a peer whose log is "${logKey.name}"`, { size: cp.size });
      return text(404, `unknown origin "${cp.origin}" for ${who}\n`);
    }
    const checked = checkCheckpoint({ note: req.note, line: 0 }, logKey, logKey.name);
    if (!checked.ok) {
      this.record(peer, 'audit.witness.checkpoint', 'refused', `checkpoint of size ${cp.size} not signed by the pinned log key: ${checked.reason}`, { origin: cp.origin, size: cp.size });
      return text(403, `${checked.reason}\n`);
    }
    const previousNote = this.latestCosigned(who);
    const previous = previousNote === undefined ? undefined : parseCheckpointBody(parseNote(previousNote).text);
    const knownSize = previous?.size ?? 0;
    const details = { origin: cp.origin, size: cp.size, oldSize: req.oldSize, cosignedSize: knownSize };
    if (cp.size < knownSize) {
      this.record(peer, 'audit.witness.rollback', 'refused', `log went backwards: checkpoint size ${cp.size} is below size ${knownSize}, which this witness already cosigned`, details);
      return text(409, `${knownSize}\n`, TLOG_SIZE_CONTENT_TYPE);
    }
    if (req.oldSize > cp.size) return text(400, `old size ${req.oldSize} is larger than the checkpoint size ${cp.size}\n`);
    if (req.oldSize !== knownSize) return text(409, `${knownSize}\n`, TLOG_SIZE_CONTENT_TYPE);
    if (previous && req.oldSize === cp.size) {
      if (!previous.rootHash.equals(cp.rootHash)) {
        this.record(peer, 'audit.witness.fork', 'refused', `log forked: a second root for size ${cp.size}, which this witness cosigned with another root`, details);
        return text(409, `${knownSize}\n`, TLOG_SIZE_CONTENT_TYPE);
      }
    } else if (req.oldSize === 0) {
      if (req.proof.length > 0) return text(422, 'the consistency proof from size 0 must be empty\n');
      if (cp.size === 0 && !cp.rootHash.equals(EMPTY_ROOT)) return text(422, 'a checkpoint of size 0 must carry the empty-tree root\n');
    } else if (!verifyConsistency(req.oldSize, cp.size, previous!.rootHash, cp.rootHash, req.proof)) {
      this.record(peer, 'audit.witness.inconsistent', 'refused', `log rewritten: checkpoint ${cp.size} is not consistent with checkpoint ${knownSize}, which this witness cosigned`, details);
      return text(422, `checkpoint ${cp.size} is not consistent with the cosigned checkpoint ${knownSize}\n`);
    }
    const noteText = parseNote(req.note).text;
    const line = cosignCheckpoint(noteText, this.signer, Math.floor(this.clock.now() / 1000));
    // Keep the log's own signature lines and ours (never an older cosignature of ours).
    const sigs = req.note.slice(noteText.length + 1).split('\n').filter((l) => l.length > 0 && !l.startsWith(`\u2014 ${this.name} `));
    const stored = `${noteText}\n${sigs.map((l) => `${l}\n`).join('')}${line}`;
    writeFileAtomic(this.checkpointFile(who), join(this.dir, 'logs'), stored);
    return text(200, line);
  }

  private pinnedKey(who: string): string | undefined {
    const path = join(this.dir, 'logs', `${who}.log.vkey`);
    return existsSync(path) ? readStoreFile(path, KEY_FILE_MAX).toString('utf8').trim() : undefined;
  }

  private record(peer: WitnessPeer, action: string, outcome: 'success' | 'refused', reason: string | undefined, details: Record<string, unknown>): void {
    this.audit.append({
      actor: { kind: 'peer', id: peer.id ?? peer.fingerprint, role: peer.role, fingerprint: peer.fingerprint, address: peer.address },
      action,
      target: this.name,
      outcome,
      ...(reason ? { reason } : {}),
      details,
    });
  }
}

/** `<role>-<id>` of a peer whose certificate names both (safe as a file name), else undefined. */
export function peerKeyOf(peer: WitnessPeer): string | undefined {
  if (!peer.id || !peer.role || !PARTICIPANT_ID_PATTERN.test(peer.id) || !/^[a-z]{1,32}$/.test(peer.role)) return undefined;
  return `${peer.role}-${peer.id}`;
}

function text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): WitnessReply {
  return { status, contentType, body };
}
