/**
 * The command guard: no event reaches a device unless it is authentic, fresh and ours.
 *
 * ## Scheme (ERAB guideline §3.3 "the correct command from the correct operator to the correct
 * device"; 自家用GL 6-2-5 authentication, 7-1-2 prevention of illegitimate commands)
 * The one scheme is the OpenADR 2.0b XML signature (OpenADR 2.0b Profile Specification,
 * security: XML Signature over the oadrPayload's oadrSignedObject, with an oadr:ReplayProtect
 * property holding a nonce and a timestamp):
 * 1. The aggregator signs every oadrDistributeEvent it sends to gateways with the private key
 *    of its own aggregator certificate (issued by the erab PKI, SAN `urn:erab:aggregator:<id>`).
 * 2. The gateway runs its aggregator peer in signature mode `required`: a payload without a
 *    signature, with a signature that does not verify (tampered), or signed by any certificate
 *    other than its aggregator's is refused with 463 (not registered or authorised). "Its
 *    aggregator's" means role `aggregator` and the configured participant id, and — when the
 *    configuration pins it — the configured certificate fingerprint. Mutual TLS alone is not
 *    enough: it authenticates the connection, not the command, and a command may be relayed.
 * 3. Replay: the signature's ReplayProtect nonce must be unseen (kept for `nonceTtlMs`) and its
 *    timestamp within `maxClockSkewMs` of the gateway's clock → else 450 (out of sequence).
 *    Per event, eventID + modificationNumber must be new or higher than the highest accepted
 *    (kept until the event's end) — lower → 450; equal → a re-delivery, acknowledged without
 *    acting again. A new modification that arrives after the event's window is over → 450.
 * 4. Targets: the event (and each signal's own target) may name only this gateway's venID and
 *    its own resources (resourceID = local device id) or its configured groups; anything that
 *    names a foreign resource or VEN, or does not name us at all, is refused with 462.
 * 5. A malformed event (no signals, negative duration, bad modification number) → 454.
 * Every refusal writes an audit record (action `gateway.command`, outcome `refused`, the
 * OpenADR code and the reason); nothing reaches a device.
 *
 * The signature check itself is injected (`SignatureVerifier`) so this module stays pure: the
 * running gateway adapts the OpenADR stack's verifier (src/protocols/openadr/signature.ts) and
 * the certificate identity (src/security/identity.ts) to it.
 */
import type { Clock } from '../../core/clock.js';
import type { EpochMillis } from '../../core/units.js';
import type { AuditSink } from '../../security/audit/types.js';
import type { EventSignal } from './types.js';
import { OadrResponseCode } from '../../protocols/openadr/errors.js';

/** The identity of the certificate that signed a payload. */
export interface SignerIdentity {
  /** OpenADR fingerprint (colon-separated hex of the last 10 bytes of SHA-256 over the DER). */
  fingerprint: string;
  /** Role and participant id from the certificate's `urn:erab:<role>:<id>` SAN. */
  role?: string | undefined;
  id?: string | undefined;
}

export type SignatureVerdict =
  | { ok: true; signer: SignerIdentity; replayProtect?: { nonce: string; timestamp: EpochMillis } | undefined }
  | { ok: false; kind: 'missing' | 'invalid'; reason: string };

/** Verifies the XML signature of a raw payload (as received, byte for byte). */
export interface SignatureVerifier {
  verify(rawXml: string): SignatureVerdict | Promise<SignatureVerdict>;
}

/** Targets as OpenADR ei:eiTarget carries them (only the forms a gateway can own). */
export interface GuardTarget {
  venID?: string[] | undefined;
  resourceID?: string[] | undefined;
  groupID?: string[] | undefined;
  partyID?: string[] | undefined;
  /** Any other target form (endDeviceAsset, pnode...) is refused: we cannot prove it is ours. */
  other?: string[] | undefined;
}

/** What the guard needs to know about one event of an oadrDistributeEvent. */
export interface GuardEvent {
  eventID: string;
  modificationNumber: number;
  status: 'none' | 'far' | 'near' | 'active' | 'completed' | 'cancelled';
  /** Active period start and duration (0 = open-ended, per xCal/OpenADR). */
  start: EpochMillis;
  durationMs: number;
  target: GuardTarget;
  signals: { signal: EventSignal; target?: GuardTarget | undefined }[];
}

/** One received oadrDistributeEvent: the raw XML (for the signature) and its decoded events. */
export interface GuardPayload {
  rawXml: string;
  vtnID: string;
  events: GuardEvent[];
  /**
   * The signature as the receiving VEN already verified it (against the configured aggregator
   * certificate, the VEN's checkDistribute hook); when absent the guard's verifier checks rawXml.
   */
  signature?: SignatureVerdict | undefined;
}

export interface GuardConfig {
  /** This gateway's venID (as registered). */
  venId: string;
  /** The aggregator whose signature is required. */
  aggregator: { id: string; fingerprint?: string | undefined; vtnId?: string | undefined };
  /** Groups this gateway belongs to (OpenADR groupID), if the aggregator targets by group. */
  groupIds?: string[] | undefined;
  /** Tolerance between the signer's ReplayProtect timestamp and our clock, ms. */
  maxClockSkewMs?: number | undefined;
  /** How long a nonce is remembered, ms (≥ 2 × skew so a replay cannot slip between). */
  nonceTtlMs?: number | undefined;
}

/** Remembers what the guard has seen. Persistent in the running gateway (store), memory in tests. */
export interface ReplayStore {
  /** Highest modification number accepted for an event, if any. */
  lastModification(eventId: string): number | undefined;
  recordModification(eventId: string, modificationNumber: number, keepUntil: EpochMillis): void;
  /** Records a nonce; false if it was already there (a replay). */
  claimNonce(nonce: string, keepUntil: EpochMillis): boolean;
  /** Forgets entries whose keepUntil has passed. */
  prune(now: EpochMillis): void;
}

/** In-memory ReplayStore. */
export class MemoryReplayStore implements ReplayStore {
  private readonly mods = new Map<string, { mod: number; until: number }>();
  private readonly nonces = new Map<string, number>();
  lastModification(eventId: string): number | undefined {
    return this.mods.get(eventId)?.mod;
  }
  recordModification(eventId: string, modificationNumber: number, keepUntil: EpochMillis): void {
    this.mods.set(eventId, { mod: modificationNumber, until: keepUntil });
  }
  claimNonce(nonce: string, keepUntil: EpochMillis): boolean {
    if (this.nonces.has(nonce)) return false;
    this.nonces.set(nonce, keepUntil);
    return true;
  }
  prune(now: EpochMillis): void {
    for (const [k, v] of this.mods) if (v.until < now) this.mods.delete(k);
    for (const [k, v] of this.nonces) if (v < now) this.nonces.delete(k);
  }
}

export type EventVerdict =
  | { eventID: string; modificationNumber: number; verdict: 'accept' }
  /** Same eventID and modificationNumber as already accepted: acknowledge, do not act again. */
  | { eventID: string; modificationNumber: number; verdict: 'duplicate' }
  | { eventID: string; modificationNumber: number; verdict: 'refuse'; code: number; reason: string };

export type GuardResult =
  | { ok: true; signer: SignerIdentity; events: EventVerdict[] }
  /** The whole payload is refused (signature, replay protection, VTN id). */
  | { ok: false; code: number; reason: string; signer?: SignerIdentity | undefined; events: EventVerdict[] };

const DEFAULT_SKEW = 5 * 60_000;
/** How long an accepted modification number is kept after the end of its event. */
const KEEP_AFTER_END = 24 * 3_600_000;

/**
 * Verifies oadrDistributeEvent payloads before anything acts on them.
 * @example
 *   const guard = new CommandGuard({ venId, aggregator: { id: 'agg1' } }, verifier, new MemoryReplayStore(), clock, audit);
 *   const r = await guard.check(payload, () => ownResources);
 *   for (const e of r.events) if (e.verdict === 'accept') apply(e.eventID);
 */
export class CommandGuard {
  private readonly skew: number;
  private readonly nonceTtl: number;

  constructor(
    private readonly config: GuardConfig,
    private readonly verifier: SignatureVerifier,
    private readonly replay: ReplayStore,
    private readonly clock: Clock,
    private readonly audit: AuditSink,
  ) {
    this.skew = config.maxClockSkewMs ?? DEFAULT_SKEW;
    this.nonceTtl = Math.max(config.nonceTtlMs ?? 0, 2 * this.skew);
  }

  /**
   * Checks a payload: signature and replay protection first (all-or-nothing), then each event
   * (sequence, validity window, targets). `ownResources` lists this gateway's resource ids.
   */
  async check(payload: GuardPayload, ownResources: ReadonlySet<string>): Promise<GuardResult> {
    const now = this.clock.now();
    this.replay.prune(now);
    const refuseAll = (code: number, reason: string, signer?: SignerIdentity): GuardResult => {
      const events: EventVerdict[] = payload.events.map((e) => ({
        eventID: e.eventID, modificationNumber: e.modificationNumber, verdict: 'refuse', code, reason,
      }));
      this.audit.append({
        actor: actorOf(signer, this.config.aggregator.id),
        action: 'gateway.command',
        target: payload.events.map((e) => e.eventID).join(',') || '(no event)',
        outcome: 'refused',
        reason,
        details: { code, vtnID: payload.vtnID, events: payload.events.map((e) => ({ eventID: e.eventID, modificationNumber: e.modificationNumber })) },
      });
      return { ok: false, code, reason, signer, events };
    };

    let verdict: SignatureVerdict;
    try {
      verdict = payload.signature ?? await this.verifier.verify(payload.rawXml);
    } catch (err) {
      verdict = { ok: false, kind: 'invalid', reason: `signature check failed: ${(err as Error).message}` };
    }
    if (!verdict.ok) {
      return refuseAll(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, verdict.kind === 'missing'
        ? `unsigned command: signature mode is required for aggregator ${this.config.aggregator.id}`
        : `signature does not verify: ${verdict.reason}`);
    }
    const signer = verdict.signer;
    const agg = this.config.aggregator;
    if (signer.role !== 'aggregator' || signer.id !== agg.id) {
      return refuseAll(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED,
        `signed by ${signer.role ?? '?'}:${signer.id ?? '?'} (${signer.fingerprint}), not by aggregator ${agg.id}`, signer);
    }
    if (agg.fingerprint !== undefined && normFp(agg.fingerprint) !== normFp(signer.fingerprint)) {
      return refuseAll(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED,
        `signing certificate ${signer.fingerprint} is not the pinned certificate of aggregator ${agg.id}`, signer);
    }
    const rp = verdict.replayProtect;
    if (!rp) return refuseAll(OadrResponseCode.OUT_OF_SEQUENCE, 'signature carries no ReplayProtect nonce and timestamp', signer);
    if (Math.abs(now - rp.timestamp) > this.skew) {
      return refuseAll(OadrResponseCode.OUT_OF_SEQUENCE,
        `ReplayProtect timestamp ${new Date(rp.timestamp).toISOString()} is more than ${this.skew / 1000} s from the gateway clock`, signer);
    }
    if (!this.replay.claimNonce(rp.nonce, (now + this.nonceTtl) as EpochMillis)) {
      return refuseAll(OadrResponseCode.OUT_OF_SEQUENCE, `ReplayProtect nonce ${rp.nonce.slice(0, 40)} was already used: replayed payload`, signer);
    }
    if (agg.vtnId !== undefined && payload.vtnID !== agg.vtnId) {
      return refuseAll(OadrResponseCode.INVALID_ID, `vtnID ${payload.vtnID} is not the aggregator's VTN ${agg.vtnId}`, signer);
    }

    const events = payload.events.map((e) => this.checkEvent(e, ownResources, now, signer));
    return { ok: true, signer, events };
  }

  private checkEvent(e: GuardEvent, own: ReadonlySet<string>, now: EpochMillis, signer: SignerIdentity): EventVerdict {
    const refuse = (code: number, reason: string): EventVerdict => {
      this.audit.append({
        actor: actorOf(signer, this.config.aggregator.id),
        action: 'gateway.command',
        target: e.eventID,
        outcome: 'refused',
        reason,
        details: { code, modificationNumber: e.modificationNumber },
      });
      return { eventID: e.eventID, modificationNumber: e.modificationNumber, verdict: 'refuse', code, reason };
    };
    if (!e.eventID) return refuse(OadrResponseCode.INVALID_DATA, 'event has no eventID');
    if (!Number.isInteger(e.modificationNumber) || e.modificationNumber < 0) {
      return refuse(OadrResponseCode.INVALID_DATA, `modificationNumber ${e.modificationNumber} is not a non-negative integer`);
    }
    if (!Number.isFinite(e.start) || !Number.isFinite(e.durationMs) || e.durationMs < 0) {
      return refuse(OadrResponseCode.INVALID_DATA, 'event active period is not a valid start and non-negative duration');
    }
    if (e.status !== 'cancelled' && e.signals.length === 0) return refuse(OadrResponseCode.INVALID_DATA, 'event carries no signal');

    const targetProblem = this.targetProblem(e.target, own, true)
      ?? e.signals.map((s) => (s.target ? this.targetProblem(s.target, own, false) : undefined)).find((p) => p !== undefined);
    if (targetProblem) return refuse(OadrResponseCode.TARGET_MISMATCH, targetProblem);

    const last = this.replay.lastModification(e.eventID);
    if (last !== undefined && e.modificationNumber < last) {
      return refuse(OadrResponseCode.OUT_OF_SEQUENCE, `modificationNumber ${e.modificationNumber} of event ${e.eventID} is older than the accepted ${last}: replay or reordering`);
    }
    if (last !== undefined && e.modificationNumber === last) {
      return { eventID: e.eventID, modificationNumber: e.modificationNumber, verdict: 'duplicate' };
    }
    const end = e.durationMs > 0 ? e.start + e.durationMs : undefined;
    if (end !== undefined && now >= end && e.status !== 'cancelled') {
      return refuse(OadrResponseCode.OUT_OF_SEQUENCE, `event ${e.eventID} modification ${e.modificationNumber} arrived after its window ended at ${new Date(end).toISOString()}`);
    }
    const keepUntil = ((end ?? now) + KEEP_AFTER_END) as EpochMillis;
    this.replay.recordModification(e.eventID, e.modificationNumber, keepUntil);
    return { eventID: e.eventID, modificationNumber: e.modificationNumber, verdict: 'accept' };
  }

  /** Why a target is not (only) ours, or undefined when it is. */
  private targetProblem(t: GuardTarget, own: ReadonlySet<string>, mustNameUs: boolean): string | undefined {
    const groups = new Set(this.config.groupIds ?? []);
    if (t.other && t.other.length > 0) return `target form ${t.other.join(', ')} cannot be matched to this gateway`;
    const foreignVen = (t.venID ?? []).filter((v) => v !== this.config.venId);
    if (foreignVen.length > 0) return `target names VEN ${foreignVen.join(', ')}, not this gateway (${this.config.venId})`;
    const foreignRes = (t.resourceID ?? []).filter((r) => !own.has(r));
    if (foreignRes.length > 0) return `target names resource ${foreignRes.join(', ')}, not a resource of this gateway`;
    const foreignGroup = (t.groupID ?? []).filter((g) => !groups.has(g));
    if (foreignGroup.length > 0) return `target names group ${foreignGroup.join(', ')}, not a group of this gateway`;
    if ((t.partyID ?? []).length > 0) return 'target by partyID is not accepted by a gateway';
    const namesUs = (t.venID ?? []).length > 0 || (t.resourceID ?? []).length > 0 || (t.groupID ?? []).length > 0;
    if (mustNameUs && !namesUs) return 'event target names neither this gateway nor any of its resources';
    return undefined;
  }
}

function normFp(fp: string): string {
  return fp.replace(/:/g, '').toLowerCase();
}

function actorOf(signer: SignerIdentity | undefined, aggregatorId: string) {
  return signer
    ? { kind: 'peer' as const, id: signer.id ?? 'unknown', role: signer.role, fingerprint: signer.fingerprint }
    : { kind: 'peer' as const, id: `unverified (expected aggregator ${aggregatorId})` };
}

/** The resources an accepted event addresses: its resourceIDs, or all own resources when it names the VEN or a group. */
export function targetedResources(e: GuardEvent, own: ReadonlySet<string>): string[] {
  const named = e.target.resourceID ?? [];
  if (named.length > 0) return named.filter((r) => own.has(r));
  return [...own];
}
