/**
 * The OpenADR 2.0b VTN (Virtual Top Node) protocol engine: registration bound to client
 * certificates, events with lifecycle and modification numbers, report registration / requests /
 * reception, opt schedules, and a poll queue that delivers ANY pending payload. Transport-neutral:
 * `handle(service, body, peer)` is wired to HTTPS with mutual TLS by src/endpoints/openadr/, state
 * lives behind VtnStore.
 *
 * Stateless between polls (docs/scale.md): several engines (worker processes, hosts) may share
 * one store. Everything that must agree lives in the store — registrations, events, report
 * requests, opts, the per-VEN poll queues, replay nonces. What an engine keeps in memory is a
 * cache for speed: registrations by certificate (the per-poll binding check), events (expanded
 * into each oadrDistributeEvent), report requests (checked per report), and one "may have
 * something queued" flag per VEN, so an idle poll costs no database round trip. The caches are
 * invalidated by hints through the store's wake (PostgreSQL LISTEN/NOTIFY): an engine that
 * changes something says so on `openadr-vtn:<vtnID>`, the others reload that item. A hint is
 * never the data, and a lost hint only delays: queue entries are found by a periodic re-read,
 * and a poll takes its entry by an atomic claim in the store, so a VEN answered by two workers
 * at once gets each entry once.
 *
 * Spec references are to the OpenADR 2.0b Profile Specification (§8.1 Event, §8.3 Report,
 * §8.4 Registration, §8.5 Opt, §8.6 Poll, §10 Security).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { type EpochMillis, millis } from '../../core/units.js';
import { type OadrAuditSink, nullAudit } from './audit.js';
import type { EiTarget, XcalProperties } from './common.js';
import { OadrError, OadrResponseCode } from './errors.js';
import type { EventSignal, OadrCreatedEvent, OadrEvent, ResponseRequired } from './event.js';
import { eventEnd, eventStatusAt } from './event-lifecycle.js';
import { type OadrPeer, SERVICE_PREFIX, isOversize } from './http.js';
import type { OadrCancelOpt, OadrCreateOpt } from './opt.js';
import { type DecodedPayload, type OadrMessage, type OadrMessageType, SERVICE_OF, decodePayload, encodePayload, requestIdOf, venIdOf } from './payload.js';
import type { OadrCreatePartyRegistration, ServiceName } from './register-party.js';
import { METADATA_REPORT_REQUEST_ID, type OadrReport, type ReportRequest } from './report.js';
import { oadrResponse } from './response.js';
import { type ReplayCache, confirmNonce } from './replay-cache.js';
import { NonceCache, type SignatureMode, type SigningKey, signXml, verifyPayload } from './signature.js';
import type { EventOpt, PendingEntry, StoredEvent, StoredReportRequest, VenRegistration, VtnStore, VtnWake } from './vtn-store.js';
import { DEFAULT_XML_LIMITS, type XmlLimits } from './xml.js';

export type AdmitDecision = { allowed: true; venID?: string } | { allowed: false; reason: string };

export interface VtnHooks {
  onRegistered(reg: VenRegistration): void;
  onRegistrationCancelled(venID: string): void;
  onEventOpt(opt: EventOpt): void;
  onOpt(opt: OadrCreateOpt): void;
  onOptCancelled(venID: string, optID: string): void;
  onReport(venID: string, report: OadrReport): void;
  onReportRegistered(venID: string, reports: OadrReport[]): void;
}

/** Push transport: POST to a VEN's endpoint (mutual TLS wired by the roles layer). */
export interface VtnPushTransport {
  post(url: string, xml: string): Promise<string>;
}

export interface VtnOptions {
  vtnID: string;
  store: VtnStore;
  clock: Clock;
  audit?: OadrAuditSink;
  /** oadrRequestedOadrPollFreq given to VENs (default 10 s). */
  pollFreqMs?: number;
  /** "near" window before an event without x-eiNotification (default 15 min). */
  nearWindowMs?: number;
  /**
   * Which certificates may register, and under which venID (ERAB guideline §3.3.1: only specified
   * participants). Default: every peer the TLS allow-list let through; venID = the one asked, else
   * the certificate's participant id.
   */
  admit?: (peer: OadrPeer, request: OadrCreatePartyRegistration) => AdmitDecision;
  /** XML signature policy for incoming payloads, per VEN (default 'optional'). */
  signatureMode?: SignatureMode | ((venID: string | undefined) => SignatureMode);
  /** Our key for signing outgoing payloads to VENs that registered with oadrXmlSignature=true. */
  signingKey?: SigningKey;
  /** Replay window for signed payloads (default 5 min). */
  signatureWindowMs?: number;
  /**
   * Where accepted ReplayProtect nonces are remembered (default: memory, forgotten on restart;
   * roles with a store pass the store-backed cache, with the same window).
   */
  nonces?: ReplayCache;
  /** Report requests to send when a VEN registers METADATA reports (default: every TELEMETRY report, at its minimum period). */
  reportRequestsFor?: (venID: string, reports: OadrReport[]) => ReportRequest[];
  /** How often VENs report back telemetry by default (reportBackDuration; default = granularity). */
  reportBackMs?: number;
  /** The VTN's own METADATA reports sent to each new VEN with oadrRegisterReport; false to skip (default []). */
  vtnReports?: OadrReport[] | false;
  push?: VtnPushTransport;
  limits?: XmlLimits;
  /** Every payload in and out (for --log-xml). */
  onXml?: (direction: 'in' | 'out', service: ServiceName, xml: string) => void;
  hooks?: Partial<VtnHooks>;
  ids?: () => string;
  /**
   * Hints between engines that share the store (pass the store's wake). Without it the engine
   * still reads and claims through the store, but learns of other engines' changes only by the
   * periodic re-read of the queue.
   */
  wake?: VtnWake;
  /**
   * When a poll's answer counts as delivered and leaves the queue: 'reply' (default) when
   * handle() returns it; 'sent' when the transport calls `sent(peer)` after flushing it to the
   * socket, so a worker killed between the two leaves the entry to be delivered again.
   */
  confirm?: 'reply' | 'sent';
  /** How long a poll holds the entries it is answering with (default 10 s); a dead worker's come back after this. */
  leaseMs?: number;
  /** How often the queue is re-read for VENs whose hint was lost or whose lease expired (default 15 s; 0 = never). */
  resyncMs?: number;
}

export interface NewEvent {
  eventID?: string;
  marketContext: string;
  priority?: number;
  testEvent?: string;
  vtnComment?: string;
  activePeriod: XcalProperties;
  signals: EventSignal[];
  /** Event target as sent (default: the recipients' venIDs). */
  target?: EiTarget;
  /** Recipients (default: target.venID if given, else every registered VEN). */
  venIDs?: string[];
  responseRequired?: ResponseRequired;
}

interface VenState {
  reg: VenRegistration;
  /** Something may wait in the store's queue for this VEN: its next poll looks (set by hints, cleared by an empty claim). */
  dirty: boolean;
  /** Bumped by every hint for this VEN: a poll that found the queue empty clears `dirty` only if no hint came meanwhile. */
  gen: number;
  /** Pre-serialized empty poll answer (unsigned VENs): the hot path allocates nothing else. */
  emptyReply?: string;
  /** Our own serialization of this VEN's oadrPoll: a body equal to it byte for byte needs no parsing. */
  canonicalPoll: Buffer;
  pushing: boolean;
}

/** An event in the cache, with its recipients as a set. */
interface CachedEvent {
  stored: StoredEvent;
  vens: ReadonlySet<string>;
}

/** Events with at most this many recipients are indexed per VEN; wider ones are checked per delivery. */
const NARROW_EVENT = 32;
type HintKind = 'q' | 'g' | 'e' | 'r';

/** Accepted payload types per service endpoint (VEN → VTN direction); oadrResponse is accepted everywhere. */
const ACCEPTS: Record<ServiceName, ReadonlySet<OadrMessageType>> = {
  EiRegisterParty: new Set(['oadrQueryRegistration', 'oadrCreatePartyRegistration', 'oadrCancelPartyRegistration', 'oadrCanceledPartyRegistration', 'oadrResponse']),
  EiEvent: new Set(['oadrRequestEvent', 'oadrCreatedEvent', 'oadrResponse']),
  EiReport: new Set(['oadrRegisterReport', 'oadrRegisteredReport', 'oadrCreatedReport', 'oadrUpdateReport', 'oadrCanceledReport', 'oadrResponse']),
  EiOpt: new Set(['oadrCreateOpt', 'oadrCancelOpt', 'oadrResponse']),
  OadrPoll: new Set(['oadrPoll']),
};

const err = (code: number, msg: string): OadrError => new OadrError(code, msg);

export class Vtn {
  readonly vtnID: string;
  private readonly store: VtnStore;
  private readonly clock: Clock;
  private readonly audit: OadrAuditSink;
  private readonly opts: VtnOptions;
  private readonly limits: XmlLimits;
  private readonly ids: () => string;
  private readonly nonces: ReplayCache;
  private readonly byFingerprint = new Map<string, VenState>();
  private readonly byVen = new Map<string, VenState>();
  private readonly events = new Map<string, CachedEvent>();
  /** Narrow events by recipient venID; `broadEvents` holds the rest. */
  private readonly eventsByVen = new Map<string, Set<string>>();
  private readonly broadEvents = new Set<string>();
  /** Report requests by venID, then reportRequestID. */
  private readonly requests = new Map<string, Map<string, StoredReportRequest>>();
  private started = false;
  /** This engine's name in leases and hints (unique per process and start). */
  readonly workerID = randomUUID().slice(0, 13);
  private readonly channel: string;
  private unlisten: (() => Promise<void>) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** Hints collected during this turn of the event loop, sent together. */
  private hints = new Map<HintKind, Set<string>>();
  /** Answers handed to the transport, not yet confirmed sent ('sent' mode), per connection. */
  private readonly unsent = new WeakMap<OadrPeer, { venID: string; seqs: number[] }>();

  constructor(opts: VtnOptions) {
    this.opts = opts;
    this.vtnID = opts.vtnID;
    this.store = opts.store;
    this.clock = opts.clock;
    this.audit = opts.audit ?? nullAudit;
    this.limits = opts.limits ?? DEFAULT_XML_LIMITS;
    this.ids = opts.ids ?? randomUUID;
    this.nonces = opts.nonces ?? new NonceCache(opts.signatureWindowMs ?? 300_000);
    this.channel = `openadr-vtn:${opts.vtnID}`.slice(0, 200);
    this.handle = this.handle.bind(this);
    this.sent = this.sent.bind(this);
  }

  /**
   * Listens for other engines' hints, then fills the caches from the store (registrations,
   * events, report requests); every VEN starts "dirty", so its first poll reads its queue.
   */
  async start(): Promise<void> {
    if (this.opts.wake) this.unlisten = await this.opts.wake.listen(this.channel, (p) => this.onHint(p));
    for (const reg of await this.store.listRegistrations()) this.index(reg);
    for (const e of await this.store.listEvents()) this.cacheEvent(e);
    for (const r of await this.store.listReportRequests()) this.remember(r);
    const every = this.opts.resyncMs ?? 15_000;
    if (every > 0) {
      this.resyncTimer = setInterval(() => void this.resync().catch(() => {}), every);
      this.resyncTimer.unref();
    }
    this.started = true;
  }

  /** Stops listening for hints and re-reading the queue (the store stays open). */
  async stop(): Promise<void> {
    this.started = false;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    await this.unlisten?.().catch(() => {});
    this.unlisten = undefined;
  }

  /** Registered VENs (this engine's cache: complete at start, kept current by hints). */
  registrations(): VenRegistration[] {
    return [...this.byVen.values()].map((s) => s.reg);
  }

  registration(venID: string): VenRegistration | undefined {
    return this.byVen.get(venID)?.reg;
  }

  /** Number of payloads waiting for a VEN's poll (in the store, whichever engine queued them). */
  pendingCount(venID: string): Promise<number> {
    return this.store.countPending(venID);
  }

  /**
   * 'sent' mode: the transport flushed the answer to this connection's last request, so the
   * entries it carried leave the queue. Safe to call for any peer, any number of times.
   */
  async sent(peer: OadrPeer): Promise<void> {
    const u = this.unsent.get(peer);
    if (!u) return;
    this.unsent.delete(peer);
    await this.store.confirm(u.venID, u.seqs, this.workerID);
  }

  // ------------------------------------------------------------ application API

  /** Creates an event (modificationNumber 0) and queues it for its VENs. */
  async createEvent(input: NewEvent): Promise<OadrEvent> {
    const now = this.clock.now();
    const recipients = input.venIDs ?? (input.target?.venID?.length ? input.target.venID : await this.store.listVenIDs());
    const event: OadrEvent = {
      descriptor: {
        eventID: input.eventID ?? this.ids(),
        modificationNumber: 0,
        marketContext: input.marketContext,
        createdDateTime: now,
        eventStatus: 'far',
        ...(input.priority !== undefined ? { priority: input.priority } : {}),
        ...(input.testEvent !== undefined ? { testEvent: input.testEvent } : {}),
        ...(input.vtnComment !== undefined ? { vtnComment: input.vtnComment } : {}),
      },
      activePeriod: input.activePeriod,
      signals: input.signals,
      target: input.target ?? { venID: recipients },
      responseRequired: input.responseRequired ?? 'always',
    };
    if (this.events.has(event.descriptor.eventID) || await this.store.getEvent(event.descriptor.eventID)) throw err(OadrResponseCode.INVALID_ID, `event ${event.descriptor.eventID} exists`);
    event.descriptor.eventStatus = eventStatusAt(event, now, false, this.nearWindow());
    const stored: StoredEvent = { event, venIDs: [...recipients], cancelled: false };
    await this.saveEvent(stored);
    return event;
  }

  /** Stores an event, tells the other engines, and queues it for its VENs. */
  private async saveEvent(stored: StoredEvent): Promise<void> {
    await this.store.putEvent(stored);
    this.cacheEvent(stored);
    this.hint('e', stored.event.descriptor.eventID);
    await this.queueDistribute(stored.venIDs, { [stored.event.descriptor.eventID]: stored.event.descriptor.modificationNumber });
  }

  /** The current event from the store (another engine may have changed it). */
  private async currentEvent(eventID: string): Promise<StoredEvent | undefined> {
    const stored = await this.store.getEvent(eventID);
    if (stored) this.cacheEvent(stored);
    return stored;
  }

  /** Changes an event: increments its modification number (§8.1.2) and re-distributes. */
  async modifyEvent(eventID: string, change: { activePeriod?: XcalProperties; signals?: EventSignal[]; modificationReason?: string; vtnComment?: string }): Promise<OadrEvent> {
    const stored = await this.currentEvent(eventID);
    if (!stored || stored.cancelled) throw err(OadrResponseCode.INVALID_ID, `no modifiable event ${eventID}`);
    const d = stored.event.descriptor;
    d.modificationNumber++;
    d.modificationDateTime = this.clock.now();
    if (change.modificationReason !== undefined) d.modificationReason = change.modificationReason;
    if (change.vtnComment !== undefined) d.vtnComment = change.vtnComment;
    if (change.activePeriod) stored.event.activePeriod = change.activePeriod;
    if (change.signals) stored.event.signals = change.signals;
    await this.saveEvent(stored);
    return stored.event;
  }

  /** Cancels an event (a modification, status "cancelled") and re-distributes. */
  async cancelEvent(eventID: string, reason = 'cancelled'): Promise<void> {
    const stored = await this.currentEvent(eventID);
    if (!stored || stored.cancelled) throw err(OadrResponseCode.INVALID_ID, `no active event ${eventID}`);
    stored.cancelled = true;
    stored.event.descriptor.modificationNumber++;
    stored.event.descriptor.modificationDateTime = this.clock.now();
    stored.event.descriptor.modificationReason = reason;
    await this.saveEvent(stored);
  }

  /** The event as it is now, with its current status. */
  event(eventID: string): (OadrEvent & { cancelled: boolean }) | undefined {
    const s = this.events.get(eventID)?.stored;
    if (!s) return undefined;
    return { ...s.event, descriptor: { ...s.event.descriptor, eventStatus: eventStatusAt(s.event, this.clock.now(), s.cancelled, this.nearWindow()) }, cancelled: s.cancelled };
  }

  /** Each VEN's latest opt for an event. */
  eventOpts(eventID: string): Promise<EventOpt[]> {
    return this.store.listEventOpts(eventID);
  }

  /** Asks a VEN for a report (oadrCreateReport, delivered on its next poll or pushed). */
  async requestReport(venID: string, request: ReportRequest): Promise<void> {
    await this.ven(venID);
    await this.saveRequest({ venID, request, state: 'requested', producer: 'ven' });
    await this.queue(venID, { type: 'oadrCreateReport', requestID: this.ids(), reportRequests: [request], venID });
  }

  /** Cancels report requests (oadrCancelReport). */
  async cancelReport(venID: string, reportRequestIDs: string[], reportToFollow = false): Promise<void> {
    await this.ven(venID);
    await this.reloadRequests(venID);
    for (const id of reportRequestIDs) {
      const r = this.requests.get(venID)?.get(id);
      if (r) {
        r.state = 'cancelled';
        await this.saveRequest(r);
      }
    }
    await this.queue(venID, { type: 'oadrCancelReport', requestID: this.ids(), reportRequestIDs, reportToFollow, venID });
  }

  /** Asks a VEN to register again (oadrRequestReregistration). */
  async requestReregistration(venID: string): Promise<void> {
    await this.ven(venID);
    await this.queue(venID, { type: 'oadrRequestReregistration', venID });
  }

  /** Ends a VEN's registration from the VTN side (oadrCancelPartyRegistration); removed when the VEN confirms. */
  async cancelRegistration(venID: string): Promise<void> {
    const st = await this.ven(venID);
    const reg = { ...st.reg, cancelling: true };
    await this.store.putRegistration(reg);
    this.index(reg);
    this.hint('g', venID);
    await this.queue(venID, { type: 'oadrCancelPartyRegistration', requestID: this.ids(), registrationID: st.reg.registrationID, venID });
  }

  /** Report requests known for a VEN. */
  reportRequests(venID: string): StoredReportRequest[] {
    return [...(this.requests.get(venID)?.values() ?? [])];
  }

  // ------------------------------------------------------------ protocol entry point

  /**
   * Handles one POST to a service endpoint and returns the reply document. Never throws for a
   * peer's fault: every refusal is an oadrResponse with the OpenADR code, and is audited. Our
   * own failures (store unreachable) are audited and rethrown, for the transport's HTTP 500.
   */
  async handle(service: ServiceName, body: Buffer | string, peer: OadrPeer): Promise<string> {
    let message: OadrMessage | undefined;
    let signedRequest = false;
    try {
      if (!this.started) throw err(OadrResponseCode.OTHER, 'VTN not started');
      // A new request on a connection means its previous answer was read ('sent' mode safety net).
      if (this.opts.confirm === 'sent' && this.unsent.has(peer)) await this.sent(peer);
      // Hot path: a poll whose bytes are exactly our own serialization of this certificate's VEN's
      // oadrPoll is that message (and carries no signature), so parsing it again proves nothing.
      if (service === 'OadrPoll' && typeof body !== 'string' && this.modeFor(undefined) !== 'required') {
        const fast = this.byFingerprint.get(peer.fingerprint);
        if (fast && body.length === fast.canonicalPoll.length && body.equals(fast.canonicalPoll) && this.modeFor(fast.reg.venID) !== 'required') {
          this.opts.onXml?.('in', service, body.toString('utf8'));
          return await this.poll(fast, false, peer);
        }
      }
      if (typeof body !== 'string' && isOversize(body)) throw err(OadrResponseCode.INVALID_DATA, `${service}: body larger than ${this.limits.maxBytes} bytes`);
      const source = `${SERVICE_PREFIX}${service}`;
      const decoded = decodePayload(body, this.limits, source);
      message = decoded.message;
      signedRequest = decoded.hasSignature;
      if (this.opts.onXml) this.opts.onXml('in', service, typeof body === 'string' ? body : body.toString('utf8'));
      if (!ACCEPTS[service].has(message.type)) throw err(OadrResponseCode.NOT_RECOGNIZED, `${message.type} is not accepted on ${service}`);
      const st = await this.lookup(peer.fingerprint);
      // Registration binding (§8.4, erab: venID ↔ certificate): a payload naming a venID must come from that VEN's certificate.
      const claimed = venIdOf(message);
      if (message.type !== 'oadrCreatePartyRegistration' && message.type !== 'oadrQueryRegistration') {
        if (!st) throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, `certificate ${peer.fingerprint} is not registered`);
        if (claimed !== undefined && claimed !== st.reg.venID) {
          throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, `venID ${claimed.slice(0, 64)} does not belong to the presenting certificate`);
        }
      }
      await this.checkSignature(decoded, body, st?.reg.venID ?? claimed, peer);
      if (message.type === 'oadrPoll' && st) return await this.poll(st, signedRequest, peer);
      const reply = await this.dispatch(message, peer, st);
      return this.serialize(st?.reg ?? this.byFingerprint.get(peer.fingerprint)?.reg, reply, service, signedRequest);
    } catch (e) {
      const code = e instanceof OadrError ? e.responseCode : OadrResponseCode.OTHER;
      const reason = e instanceof Error ? e.message : String(e);
      // Our own failure (the database unreachable, a bug) is not a refusal: an eiResponse code
      // in a 200 reply is final for the VEN, which would drop a report it must send again. The
      // transport answers HTTP 500 instead, and the VEN retries (report-delivery.ts).
      const internal = !(e instanceof OadrError);
      const st = this.byFingerprint.get(peer.fingerprint);
      this.audit.append({
        actor: { kind: 'peer', id: st?.reg.venID ?? peer.id ?? 'unknown', role: peer.role, fingerprint: peer.fingerprint, address: peer.address },
        action: code === OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED ? 'openadr.unauthorized' : 'openadr.refused',
        target: `${this.vtnID}:${service}`,
        outcome: e instanceof OadrError ? 'refused' : 'failure',
        reason: reason.slice(0, 300),
        details: { responseCode: code, payload: message?.type },
      });
      if (internal) throw e;
      const reply = oadrResponse(code, (message && requestIdOf(message)) ?? '', st?.reg.venID, reason.slice(0, 200));
      return this.serialize(st?.reg, reply, service, signedRequest);
    }
  }

  // ------------------------------------------------------------ internals

  private nearWindow(): number {
    return this.opts.nearWindowMs ?? 15 * 60_000;
  }

  private remember(r: StoredReportRequest): void {
    let byID = this.requests.get(r.venID);
    if (!byID) this.requests.set(r.venID, (byID = new Map()));
    byID.set(r.request.reportRequestID, r);
  }

  private async saveRequest(r: StoredReportRequest): Promise<void> {
    this.remember(r);
    await this.store.putReportRequest(r);
    this.hint('r', r.venID);
  }

  /** A VEN's report requests as the store has them now. */
  private async reloadRequests(venID: string): Promise<void> {
    const list = await this.store.listReportRequests(venID);
    if (list.length === 0) this.requests.delete(venID);
    else this.requests.set(venID, new Map(list.map((r) => [r.request.reportRequestID, r])));
  }

  /** A registered VEN, from the cache or else the store (registered through another engine). */
  private async ven(venID: string): Promise<VenState> {
    const st = this.byVen.get(venID) ?? await this.reloadRegistration(venID);
    if (!st) throw err(OadrResponseCode.INVALID_ID, `VEN ${venID} is not registered`);
    return st;
  }

  /** The VEN bound to a certificate: the cache, else the store (it may have registered through another engine). */
  private async lookup(fingerprint: string): Promise<VenState | undefined> {
    const st = this.byFingerprint.get(fingerprint);
    if (st) return st;
    const reg = await this.store.registrationByFingerprint(fingerprint);
    return reg ? this.index(reg) : undefined;
  }

  private async reloadRegistration(venID: string): Promise<VenState | undefined> {
    const reg = await this.store.getRegistration(venID);
    if (reg) return this.index(reg);
    this.forget(venID);
    return undefined;
  }

  private forget(venID: string): void {
    const st = this.byVen.get(venID);
    if (!st) return;
    this.byVen.delete(venID);
    if (this.byFingerprint.get(st.reg.fingerprint) === st) this.byFingerprint.delete(st.reg.fingerprint);
    this.requests.delete(venID);
  }

  private index(reg: VenRegistration): VenState {
    const old = this.byVen.get(reg.venID);
    if (old && old.reg.fingerprint !== reg.fingerprint && this.byFingerprint.get(old.reg.fingerprint) === old) this.byFingerprint.delete(old.reg.fingerprint);
    const st: VenState = { reg, dirty: true, gen: (old?.gen ?? 0) + 1, pushing: old?.pushing ?? false, canonicalPoll: old?.canonicalPoll ?? Buffer.from(encodePayload({ type: 'oadrPoll', venID: reg.venID })) };
    if (!reg.xmlSignature || !this.opts.signingKey) st.emptyReply = old?.emptyReply ?? encodePayload(oadrResponse(200, '', reg.venID));
    this.byVen.set(reg.venID, st);
    this.byFingerprint.set(reg.fingerprint, st);
    return st;
  }

  private cacheEvent(stored: StoredEvent): void {
    const id = stored.event.descriptor.eventID;
    const old = this.events.get(id);
    if (old) {
      this.broadEvents.delete(id);
      for (const v of old.vens) this.eventsByVen.get(v)?.delete(id);
    }
    const vens = new Set(stored.venIDs);
    this.events.set(id, { stored, vens });
    if (vens.size > NARROW_EVENT) this.broadEvents.add(id);
    else {
      for (const v of vens) {
        let set = this.eventsByVen.get(v);
        if (!set) this.eventsByVen.set(v, (set = new Set()));
        set.add(id);
      }
    }
  }

  /** The events that concern a VEN (cache). */
  private eventsOf(venID: string): StoredEvent[] {
    const out: StoredEvent[] = [];
    for (const id of this.eventsByVen.get(venID) ?? []) {
      const e = this.events.get(id);
      if (e) out.push(e.stored);
    }
    for (const id of this.broadEvents) {
      const e = this.events.get(id);
      if (e?.vens.has(venID)) out.push(e.stored);
    }
    return out;
  }

  /** An event at least at `modificationNumber` (reloaded from the store when the cache is older). */
  private async eventAt(eventID: string, modificationNumber?: number): Promise<StoredEvent | undefined> {
    const cached = this.events.get(eventID)?.stored;
    if (cached && (modificationNumber === undefined || cached.event.descriptor.modificationNumber >= modificationNumber)) return cached;
    return this.currentEvent(eventID);
  }

  // ------------------------------------------------------------ hints between engines

  /** Says "changed: <kind> <id>" to the other engines, once per turn of the event loop. */
  private hint(kind: HintKind, id: string): void {
    if (!this.opts.wake) return;
    const first = this.hints.size === 0;
    let set = this.hints.get(kind);
    if (!set) this.hints.set(kind, (set = new Set()));
    set.add(id);
    if (first) setImmediate(() => void this.flushHints());
  }

  private async flushHints(): Promise<void> {
    const hints = this.hints;
    this.hints = new Map();
    const wake = this.opts.wake;
    if (!wake) return;
    for (const [kind, ids] of hints) {
      // Payloads stay under the wake's 1000 characters: many ids become several hints, a fan-out "all".
      if (ids.has('*') || ids.size > 200) {
        await wake.notify(this.channel, `${this.workerID}|${kind}|*`).catch(() => {});
        continue;
      }
      let chunk: string[] = [];
      let len = 0;
      const send = async () => {
        if (chunk.length) await wake.notify(this.channel, `${this.workerID}|${kind}|${chunk.join('\n')}`).catch(() => {});
        chunk = [];
        len = 0;
      };
      for (const id of ids) {
        if (id.length > 900) continue;
        if (len + id.length + 1 > 900) await send();
        chunk.push(id);
        len += id.length + 1;
      }
      await send();
    }
  }

  private onHint(payload: string): void {
    const [origin, kind, list] = payload.split('|', 3);
    if (origin === this.workerID || list === undefined) return;
    const ids = list === '*' ? undefined : list.split('\n');
    const fail = (e: unknown) => this.audit.append({ actor: { kind: 'system', id: this.vtnID }, action: 'openadr.cache', target: this.vtnID, outcome: 'failure', reason: (e as Error).message.slice(0, 200) });
    switch (kind as HintKind) {
      case 'q':
        for (const st of ids ? ids.map((v) => this.byVen.get(v)) : this.byVen.values()) this.markDirty(st);
        break;
      case 'g':
        if (ids) for (const v of ids) void this.reloadRegistration(v).catch(fail);
        else void this.reloadAllRegistrations().catch(fail);
        break;
      case 'e':
        if (ids) for (const id of ids) void this.currentEvent(id).catch(fail);
        else void this.store.listEvents().then((l) => l.forEach((e) => this.cacheEvent(e))).catch(fail);
        break;
      case 'r':
        if (ids) for (const v of ids) void this.reloadRequests(v).catch(fail);
        else void this.store.listReportRequests().then((l) => { this.requests.clear(); l.forEach((r) => this.remember(r)); }).catch(fail);
        break;
    }
  }

  private async reloadAllRegistrations(): Promise<void> {
    const regs = await this.store.listRegistrations();
    const live = new Set(regs.map((r) => r.venID));
    for (const venID of [...this.byVen.keys()]) if (!live.has(venID)) this.forget(venID);
    for (const r of regs) this.index(r);
  }

  private markDirty(st: VenState | undefined): void {
    if (!st) return;
    st.dirty = true;
    st.gen++;
    if (this.opts.push && st.reg.transportAddress && st.reg.httpPullModel === false) void this.flushPush(st);
  }

  /** Finds queue entries no hint announced (a hint lost with a LISTEN connection, a dead worker's expired lease). */
  private async resync(): Promise<void> {
    for (const venID of await this.store.pendingVens(this.clock.now())) this.markDirty(this.byVen.get(venID));
  }

  private modeFor(venID: string | undefined): SignatureMode {
    const m = this.opts.signatureMode ?? 'optional';
    return typeof m === 'function' ? m(venID) : m;
  }

  /** Verifies a signed payload; resolves once its nonce is settled (durable, for a store-backed cache). */
  private async checkSignature(decoded: DecodedPayload, body: Buffer | string, venID: string | undefined, peer: OadrPeer): Promise<void> {
    const hasSignature = decoded.hasSignature;
    const mode = this.modeFor(venID);
    if (mode === 'off') return;
    if (!hasSignature) {
      if (mode === 'required') throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, 'XML signature required');
      return;
    }
    const pem = peer.certificatePem?.();
    if (!pem) throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, 'signed payload but no peer certificate to verify it with');
    const verified = verifyPayload(typeof body === 'string' ? body : body.toString('utf8'), {
      signerCertificatePem: pem, clock: this.clock, nonces: this.nonces, limits: this.limits, decoded,
      ...(this.opts.signatureWindowMs !== undefined ? { windowMs: this.opts.signatureWindowMs } : {}),
    });
    // Nothing acts on the payload, and no answer leaves, before its nonce is settled.
    await confirmNonce(this.nonces, verified.nonce);
  }

  /**
   * Signs when the VEN registered for signatures or signed its request: a signing peer drops an
   * unsigned reply to its signed request, whatever it registered with (OpenADR 2.0b §10).
   */
  private serialize(reg: VenRegistration | undefined, m: OadrMessage, service: ServiceName, signedRequest = false): string {
    const unsigned = encodePayload(m);
    const xml = (reg?.xmlSignature || signedRequest) && this.opts.signingKey ? signXml(unsigned, this.opts.signingKey, { clock: this.clock }) : unsigned;
    this.opts.onXml?.('out', service, xml);
    return xml;
  }

  /**
   * Answers a poll; a signed poll is answered signed even when the VEN registered without
   * signatures. A VEN with nothing announced is answered from memory; otherwise the head of its
   * queue is claimed in the store (atomically: a concurrent poll of the same VEN on another
   * worker cannot take it too) and leaves the queue once answered ('reply') or flushed ('sent').
   */
  private async poll(st: VenState, signedRequest = false, peer?: OadrPeer): Promise<string> {
    const venID = st.reg.venID;
    const empty = (): string => (st.emptyReply && !this.opts.onXml && !signedRequest ? st.emptyReply : this.serialize(st.reg, oadrResponse(200, '', venID), 'OadrPoll', signedRequest));
    if (!st.dirty) return empty();
    const gen = st.gen;
    const now = this.clock.now();
    const claimed = await this.store.claim(venID, { owner: this.workerID, now, until: now + (this.opts.leaseMs ?? 10_000) });
    if (!claimed) {
      if (st.gen === gen) st.dirty = false;
      return empty();
    }
    let xml: string;
    try {
      const m = claimed.entry.kind === 'distributeEvent' ? await this.distributeCurrent(venID, claimed.entry.events) : claimed.entry.message;
      xml = this.serialize(st.reg, m, 'OadrPoll', signedRequest);
    } catch (e) {
      await this.store.release(venID, claimed.seqs, this.workerID).catch(() => {});
      throw e;
    }
    if (this.opts.confirm === 'sent' && peer) this.unsent.set(peer, { venID, seqs: claimed.seqs });
    else await this.store.confirm(venID, claimed.seqs, this.workerID);
    return xml;
  }

  /** distributeFor, after reloading events the marker announces at a newer modification than the cache has. */
  private async distributeCurrent(venID: string, versions: Record<string, number> | undefined): Promise<OadrMessage> {
    for (const [id, n] of Object.entries(versions ?? {})) await this.eventAt(id, n);
    return this.distributeFor(venID, undefined);
  }

  /** All of a VEN's events that are not completed, with their current status (§8.1: the full list each time). */
  private distributeFor(venID: string, requestID: string | undefined, replyLimit?: number): OadrMessage {
    const now = this.clock.now();
    const events: OadrEvent[] = [];
    for (const s of this.eventsOf(venID)) {
      const status = eventStatusAt(s.event, now, s.cancelled, this.nearWindow());
      const end = eventEnd(s.event);
      if (status === 'completed' || (s.cancelled && end !== undefined && end <= now)) continue;
      events.push({ ...s.event, descriptor: { ...s.event.descriptor, eventStatus: status } });
    }
    events.sort((a, b) => (a.descriptor.priority ?? 0) - (b.descriptor.priority ?? 0) || a.activePeriod.dtstart - b.activePeriod.dtstart);
    return {
      type: 'oadrDistributeEvent',
      ...(requestID !== undefined ? { eiResponse: { responseCode: 200, requestID } } : {}),
      requestID: this.ids(),
      vtnID: this.vtnID,
      events: replyLimit ? events.slice(0, replyLimit) : events,
    };
  }

  /**
   * Queues a distribute marker for each registered recipient (one statement per thousand) and
   * wakes the engines. Markers are expanded to the full current list on delivery, and one
   * delivery takes all of a VEN's markers, so several modifications before a poll cost one answer.
   */
  private async queueDistribute(venIDs: readonly string[], versions: Record<string, number>): Promise<void> {
    const targets: string[] = [];
    for (const venID of venIDs) {
      if (this.byVen.has(venID) || (await this.reloadRegistration(venID))) targets.push(venID);
    }
    if (targets.length === 0) return;
    await this.store.enqueueMany(targets, { kind: 'distributeEvent', events: versions });
    this.announce(targets);
  }

  private async queue(venID: string, message: OadrMessage): Promise<void> {
    await this.queueEntry(await this.ven(venID), { kind: 'message', message });
  }

  private async queueEntry(st: VenState, entry: PendingEntry): Promise<void> {
    await this.store.enqueue(st.reg.venID, entry);
    this.announce([st.reg.venID]);
  }

  /** Marks VENs' queues as worth a look, here and (by a hint) on every other engine. */
  private announce(venIDs: readonly string[]): void {
    for (const v of venIDs) this.markDirty(this.byVen.get(v));
    // A wide fan-out is one hint "look at every VEN"; a VEN with nothing queued costs one empty claim.
    if (venIDs.length > 200) this.hint('q', '*');
    else for (const v of venIDs) this.hint('q', v);
  }

  /** Push model: POST queued payloads to the VEN's endpoint; the reply is processed like a VEN request. */
  private async flushPush(st: VenState): Promise<void> {
    if (st.pushing || !this.opts.push || !st.reg.transportAddress) return;
    st.pushing = true;
    try {
      for (;;) {
        const now = this.clock.now();
        const claimed = await this.store.claim(st.reg.venID, { owner: this.workerID, now, until: now + (this.opts.leaseMs ?? 10_000) });
        if (!claimed) break;
        const m = claimed.entry.kind === 'distributeEvent' ? await this.distributeCurrent(st.reg.venID, claimed.entry.events) : claimed.entry.message;
        const service = SERVICE_OF[m.type];
        const xml = this.serialize(st.reg, m, service);
        const url = `${(st.reg.transportAddress ?? '').replace(/\/$/, '')}${SERVICE_PREFIX}${service}`;
        let replyXml: string;
        try {
          replyXml = await this.opts.push.post(url, xml);
        } catch (e) {
          await this.store.release(st.reg.venID, claimed.seqs, this.workerID).catch(() => {});
          this.audit.append({ actor: { kind: 'system', id: this.vtnID }, action: 'openadr.push', target: st.reg.venID, outcome: 'failure', reason: (e as Error).message.slice(0, 200) });
          break;
        }
        await this.store.confirm(st.reg.venID, claimed.seqs, this.workerID);
        try {
          const reply = decodePayload(replyXml, this.limits, `push reply from ${st.reg.venID}`).message;
          if (venIdOf(reply) !== undefined && venIdOf(reply) !== st.reg.venID) throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, 'push reply names another venID');
          if (reply.type !== 'oadrResponse') await this.dispatch(reply, { fingerprint: st.reg.fingerprint }, st);
        } catch (e) {
          this.audit.append({ actor: { kind: 'peer', id: st.reg.venID, fingerprint: st.reg.fingerprint }, action: 'openadr.refused', target: `${this.vtnID}:push`, outcome: 'refused', reason: (e as Error).message.slice(0, 200) });
        }
      }
    } finally {
      st.pushing = false;
    }
  }

  private async dispatch(m: OadrMessage, peer: OadrPeer, st: VenState | undefined): Promise<OadrMessage> {
    switch (m.type) {
      case 'oadrQueryRegistration':
        return this.createdRegistration(m.requestID, st?.reg);
      case 'oadrCreatePartyRegistration':
        return this.register(m, peer, st);
      case 'oadrCancelPartyRegistration': {
        const s = st as VenState;
        if (m.registrationID !== s.reg.registrationID) throw err(OadrResponseCode.INVALID_ID, `registrationID ${m.registrationID.slice(0, 64)} is not this VEN's`);
        await this.unregister(s);
        return { type: 'oadrCanceledPartyRegistration', eiResponse: { responseCode: 200, requestID: m.requestID }, registrationID: m.registrationID, venID: s.reg.venID };
      }
      case 'oadrCanceledPartyRegistration': {
        const s = st as VenState;
        if (s.reg.cancelling) await this.unregister(s);
        return oadrResponse(200, m.eiResponse.requestID, s.reg.venID);
      }
      case 'oadrRequestEvent':
        return this.distributeFor((st as VenState).reg.venID, m.requestID, m.replyLimit);
      case 'oadrCreatedEvent':
        return this.createdEvent(m, st as VenState);
      case 'oadrRegisterReport':
        return this.registerReport(m.requestID, m.reports, st as VenState);
      case 'oadrCreatedReport':
      case 'oadrCanceledReport': {
        const s = st as VenState;
        await this.reloadRequests(s.reg.venID);
        const pending = new Set(m.pendingReports);
        for (const r of this.reportRequests(s.reg.venID)) {
          if (r.producer !== 'ven') continue;
          const next = pending.has(r.request.reportRequestID) ? 'active' : m.type === 'oadrCanceledReport' || r.state === 'cancelled' ? 'cancelled' : r.state;
          if (next !== r.state) {
            r.state = next;
            await this.saveRequest(r);
          }
        }
        return oadrResponse(200, m.eiResponse.requestID, s.reg.venID);
      }
      case 'oadrRegisteredReport': {
        const s = st as VenState;
        for (const request of m.reportRequests) {
          await this.saveRequest({ venID: s.reg.venID, request, state: 'requested', producer: 'vtn' });
        }
        return oadrResponse(200, m.eiResponse.requestID, s.reg.venID);
      }
      case 'oadrUpdateReport':
        return this.updateReport(m.requestID, m.reports, st as VenState);
      case 'oadrCreateOpt':
        return this.createOpt(m, st as VenState);
      case 'oadrCancelOpt':
        return this.cancelOpt(m, st as VenState);
      case 'oadrResponse':
        return oadrResponse(200, m.eiResponse.requestID, st?.reg.venID);
      default:
        throw err(OadrResponseCode.NOT_RECOGNIZED, `${m.type} is not a VEN request`);
    }
  }

  private createdRegistration(requestID: string, reg: VenRegistration | undefined, code = 200): OadrMessage {
    return {
      type: 'oadrCreatedPartyRegistration',
      eiResponse: { responseCode: code, requestID },
      ...(reg ? { registrationID: reg.registrationID, venID: reg.venID } : {}),
      vtnID: this.vtnID,
      profiles: [{ profileName: '2.0b', transports: ['simpleHttp'] }],
      requestedPollFreq: millis(this.opts.pollFreqMs ?? 10_000),
    };
  }

  private async register(m: OadrCreatePartyRegistration, peer: OadrPeer, st: VenState | undefined): Promise<OadrMessage> {
    if (m.profileName !== '2.0b') throw err(OadrResponseCode.NOT_ALLOWED, `profile ${m.profileName} is not offered (2.0b only)`);
    if (m.transportName !== 'simpleHttp') throw err(OadrResponseCode.NOT_ALLOWED, `transport ${m.transportName} is not offered (simpleHttp only)`);
    // The transport address only matters in the push model; pull VENs may send anything there
    // (openleadr-python sends the text "None"), so it is ignored rather than refused.
    const push = m.httpPullModel === false;
    if (push && !m.transportAddress) throw err(OadrResponseCode.INVALID_DATA, 'push model requires oadrTransportAddress');
    if (push && !/^https:\/\/[^\s]+$/.test(m.transportAddress ?? '')) throw err(OadrResponseCode.INVALID_DATA, 'oadrTransportAddress must be an https URL');
    if (st) {
      // Re-registration (§8.4.3): same certificate, same venID; registrationID must match if given.
      if (m.registrationID !== undefined && m.registrationID !== st.reg.registrationID) throw err(OadrResponseCode.INVALID_ID, 'registrationID is not this VEN\'s');
      if (m.venID !== undefined && m.venID !== st.reg.venID) throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, `venID ${m.venID.slice(0, 64)} does not belong to the presenting certificate`);
    } else if (m.registrationID !== undefined) {
      throw err(OadrResponseCode.INVALID_ID, 'unknown registrationID for this certificate');
    }
    const decision = this.opts.admit ? this.opts.admit(peer, m) : ({ allowed: true } as AdmitDecision);
    if (!decision.allowed) throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, `registration refused: ${decision.reason}`);
    const venID = st?.reg.venID ?? decision.venID ?? m.venID ?? peer.id ?? `ven-${peer.fingerprint.replace(/:/g, '').slice(0, 12).toLowerCase()}`;
    const other = this.byVen.get(venID)?.reg ?? await this.store.getRegistration(venID);
    if (other && other.fingerprint !== peer.fingerprint) {
      throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, `venID ${venID.slice(0, 64)} is bound to another certificate`);
    }
    const reg: VenRegistration = {
      venID,
      registrationID: st?.reg.registrationID ?? this.ids(),
      fingerprint: peer.fingerprint,
      httpPullModel: m.httpPullModel ?? true,
      xmlSignature: m.xmlSignature,
      reportOnly: m.reportOnly,
      registeredAt: this.clock.now(),
      ...(m.venName !== undefined ? { venName: m.venName } : {}),
      ...(push && m.transportAddress !== undefined ? { transportAddress: m.transportAddress } : {}),
    };
    await this.store.putRegistration(reg);
    const fresh = this.index(reg);
    this.hint('g', venID);
    this.audit.append({ actor: { kind: 'peer', id: venID, role: peer.role, fingerprint: peer.fingerprint, address: peer.address }, action: 'openadr.register', target: this.vtnID, outcome: 'success', details: { registrationID: reg.registrationID, reregistration: !!st } });
    this.opts.hooks?.onRegistered?.(reg);
    // §8.3.1: after registration the VTN registers its own reports with the VEN.
    if (this.opts.vtnReports !== false) {
      await this.queueEntry(fresh, { kind: 'message', message: { type: 'oadrRegisterReport', requestID: this.ids(), reports: this.opts.vtnReports ?? [], venID } });
    }
    // A (re-)registered VEN receives the events that concern it.
    const mine = this.eventsOf(venID);
    if (mine.length) await this.queueDistribute([venID], Object.fromEntries(mine.map((e) => [e.event.descriptor.eventID, e.event.descriptor.modificationNumber])));
    return this.createdRegistration(m.requestID, reg);
  }

  private async unregister(st: VenState): Promise<void> {
    await this.store.deleteRegistration(st.reg.venID);
    await this.store.ack(st.reg.venID);
    const requestIDs = (await this.store.listReportRequests(st.reg.venID)).map((r) => r.request.reportRequestID);
    if (requestIDs.length) await this.store.deleteReportRequests(st.reg.venID, requestIDs);
    this.forget(st.reg.venID);
    this.hint('g', st.reg.venID);
    this.hint('r', st.reg.venID);
    this.audit.append({ actor: { kind: 'peer', id: st.reg.venID, fingerprint: st.reg.fingerprint }, action: 'openadr.unregister', target: this.vtnID, outcome: 'success' });
    this.opts.hooks?.onRegistrationCancelled?.(st.reg.venID);
  }

  private async createdEvent(m: OadrCreatedEvent, st: VenState): Promise<OadrMessage> {
    const venID = st.reg.venID;
    const at = this.clock.now();
    let failure: OadrError | undefined;
    for (const r of m.eventResponses ?? []) {
      const ev = await this.eventAt(r.qualifiedEventID.eventID, r.qualifiedEventID.modificationNumber);
      if (!ev || !this.events.get(ev.event.descriptor.eventID)?.vens.has(venID)) {
        failure ??= err(OadrResponseCode.INVALID_ID, `event ${r.qualifiedEventID.eventID.slice(0, 64)} is unknown to this VEN`);
        continue;
      }
      if (r.qualifiedEventID.modificationNumber !== ev.event.descriptor.modificationNumber) {
        failure ??= err(OadrResponseCode.OUT_OF_SEQUENCE, `event ${ev.event.descriptor.eventID} modificationNumber ${r.qualifiedEventID.modificationNumber} is not the current ${ev.event.descriptor.modificationNumber}`);
        continue;
      }
      const opt: EventOpt = { venID, eventID: ev.event.descriptor.eventID, modificationNumber: r.qualifiedEventID.modificationNumber, optType: r.optType, at };
      await this.store.putEventOpt(opt);
      this.opts.hooks?.onEventOpt?.(opt);
    }
    if (failure) throw failure;
    return oadrResponse(200, m.eiResponse.requestID, venID);
  }

  private defaultReportRequests(reports: OadrReport[]): ReportRequest[] {
    const out: ReportRequest[] = [];
    for (const rep of reports) {
      if (rep.reportName !== 'METADATA_TELEMETRY_USAGE' && rep.reportName !== 'METADATA_TELEMETRY_STATUS') continue;
      const descs = rep.descriptions ?? [];
      if (!descs.length) continue;
      const minPeriod = Math.max(...descs.map((d) => d.samplingRate?.minPeriod ?? 60_000), 1000);
      out.push({
        reportRequestID: this.ids(),
        reportSpecifier: {
          reportSpecifierID: rep.reportSpecifierID,
          granularity: millis(minPeriod),
          reportBackDuration: millis(this.opts.reportBackMs ?? minPeriod),
          specifierPayloads: descs.map((d) => ({ rID: d.rID, readingType: d.readingType, ...(d.itemBase ? { itemBase: d.itemBase } : {}) })),
        },
      });
    }
    return out;
  }

  private async registerReport(requestID: string, reports: OadrReport[], st: VenState): Promise<OadrMessage> {
    const venID = st.reg.venID;
    for (const r of reports) {
      if (!r.reportName?.startsWith('METADATA_') && !r.reportName?.startsWith('x-')) throw err(OadrResponseCode.REPORT_NOT_SUPPORTED, `oadrRegisterReport must carry METADATA reports, got ${r.reportName ?? 'no name'}`);
    }
    await this.store.putReportRegistration(venID, reports);
    await this.endRequestsOfEarlierRegistration(venID);
    this.opts.hooks?.onReportRegistered?.(venID, reports);
    const requests = this.opts.reportRequestsFor ? this.opts.reportRequestsFor(venID, reports) : this.defaultReportRequests(reports);
    for (const request of requests) await this.saveRequest({ venID, request, state: 'requested', producer: 'ven' });
    return { type: 'oadrRegisteredReport', eiResponse: { responseCode: 200, requestID }, reportRequests: requests, venID };
  }

  /**
   * A VEN's oadrRegisterReport describes everything it offers from now on, so the requests we
   * made of its earlier registration end: a VEN that re-registers (after a restart, or when asked
   * with oadrRequestReregistration) would otherwise leave them live forever, in memory and in the
   * store. They stay known as cancelled until the next registration, so a report still in flight
   * for one is answered with oadrCancelReport instead of 452.
   */
  private async endRequestsOfEarlierRegistration(venID: string): Promise<void> {
    await this.reloadRequests(venID);
    const byID = this.requests.get(venID);
    if (!byID) return;
    const forgotten: string[] = [];
    for (const [id, r] of byID) {
      if (r.producer !== 'ven') continue;
      if (r.state === 'cancelled') forgotten.push(id);
      else {
        r.state = 'cancelled';
        await this.saveRequest(r);
      }
    }
    if (forgotten.length) {
      await this.store.deleteReportRequests(venID, forgotten);
      for (const id of forgotten) byID.delete(id);
      this.hint('r', venID);
    }
  }

  private async updateReport(requestID: string, reports: OadrReport[], st: VenState): Promise<OadrMessage> {
    const venID = st.reg.venID;
    const now = this.clock.now();
    const cancelled: string[] = [];
    for (const rep of reports) {
      let req = this.requests.get(venID)?.get(rep.reportRequestID);
      // Requested through another engine, hint not here yet: the store decides.
      if (!req && rep.reportRequestID !== METADATA_REPORT_REQUEST_ID) {
        await this.reloadRequests(venID);
        req = this.requests.get(venID)?.get(rep.reportRequestID);
      }
      if (!req && rep.reportRequestID !== METADATA_REPORT_REQUEST_ID) throw err(OadrResponseCode.INVALID_ID, `reportRequestID ${rep.reportRequestID.slice(0, 64)} was never requested from this VEN`);
      if (req?.state === 'cancelled') cancelled.push(rep.reportRequestID);
      if (req && req.state === 'requested') {
        req.state = 'active';
        await this.saveRequest(req);
      }
      // A resent report (same eiReportID) is acknowledged again but counted once.
      if (await this.store.appendReport(venID, rep, now as EpochMillis)) this.opts.hooks?.onReport?.(venID, rep);
    }
    return {
      type: 'oadrUpdatedReport',
      eiResponse: { responseCode: 200, requestID },
      ...(cancelled.length ? { cancelReport: { type: 'oadrCancelReport' as const, requestID: this.ids(), reportRequestIDs: cancelled, reportToFollow: false, venID } } : {}),
      venID,
    };
  }

  private async createOpt(m: OadrCreateOpt, st: VenState): Promise<OadrMessage> {
    const venID = st.reg.venID;
    if (m.qualifiedEventID) {
      const ev = await this.eventAt(m.qualifiedEventID.eventID, m.qualifiedEventID.modificationNumber);
      if (!ev || !this.events.get(ev.event.descriptor.eventID)?.vens.has(venID)) throw err(OadrResponseCode.INVALID_ID, `event ${m.qualifiedEventID.eventID.slice(0, 64)} is unknown to this VEN`);
      if (m.qualifiedEventID.modificationNumber > ev.event.descriptor.modificationNumber) throw err(OadrResponseCode.OUT_OF_SEQUENCE, 'modificationNumber from the future');
      // An opt naming resources concerns those resources only (e.g. one device a gateway's
      // policy refuses): it is kept as an opt (onOpt), not as the VEN's answer to the whole event.
      if ((m.target.resourceID ?? []).length === 0) {
        const opt: EventOpt = { venID, eventID: m.qualifiedEventID.eventID, modificationNumber: m.qualifiedEventID.modificationNumber, optType: m.optType, at: this.clock.now() };
        await this.store.putEventOpt(opt);
        this.opts.hooks?.onEventOpt?.(opt);
      }
    } else if (!m.vavailability || m.vavailability.length === 0) {
      throw err(OadrResponseCode.INVALID_DATA, 'oadrCreateOpt needs either a qualifiedEventID or an availability schedule');
    }
    await this.store.putOpt(m);
    this.opts.hooks?.onOpt?.(m);
    return { type: 'oadrCreatedOpt', eiResponse: { responseCode: 200, requestID: m.requestID }, optID: m.optID };
  }

  private async cancelOpt(m: OadrCancelOpt, st: VenState): Promise<OadrMessage> {
    if (!(await this.store.deleteOpt(st.reg.venID, m.optID))) throw err(OadrResponseCode.INVALID_ID, `optID ${m.optID.slice(0, 64)} is unknown`);
    this.opts.hooks?.onOptCancelled?.(st.reg.venID, m.optID);
    return { type: 'oadrCanceledOpt', eiResponse: { responseCode: 200, requestID: m.requestID }, optID: m.optID };
  }
}
