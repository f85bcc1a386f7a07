/**
 * The OpenADR 2.0b VTN (Virtual Top Node) protocol engine: registration bound to client
 * certificates, events with lifecycle and modification numbers, report registration / requests /
 * reception, opt schedules, and a poll queue that delivers ANY pending payload. Transport-neutral:
 * `handle(service, body, peer)` is wired to HTTPS with mutual TLS by src/endpoints/openadr/, state
 * lives behind VtnStore.
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
import type { EventOpt, PendingEntry, StoredEvent, StoredReportRequest, VenRegistration, VtnStore } from './vtn-store.js';
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
  queue: { seq: number; entry: PendingEntry }[];
  /** Pre-serialized empty poll answer (unsigned VENs): the hot path allocates nothing else. */
  emptyReply?: string;
  /** Our own serialization of this VEN's oadrPoll: a body equal to it byte for byte needs no parsing. */
  canonicalPoll: Buffer;
  pushing: boolean;
  cancelling: boolean;
}

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
  private readonly events = new Map<string, StoredEvent>();
  /** Report requests by venID, then reportRequestID. */
  private readonly requests = new Map<string, Map<string, StoredReportRequest>>();
  private started = false;

  constructor(opts: VtnOptions) {
    this.opts = opts;
    this.vtnID = opts.vtnID;
    this.store = opts.store;
    this.clock = opts.clock;
    this.audit = opts.audit ?? nullAudit;
    this.limits = opts.limits ?? DEFAULT_XML_LIMITS;
    this.ids = opts.ids ?? randomUUID;
    this.nonces = opts.nonces ?? new NonceCache(opts.signatureWindowMs ?? 300_000);
    this.handle = this.handle.bind(this);
  }

  /** Loads registrations, events, report requests and poll queues from the store. */
  async start(): Promise<void> {
    for (const reg of await this.store.listRegistrations()) this.index(reg);
    for (const e of await this.store.listEvents()) this.events.set(e.event.descriptor.eventID, e);
    for (const st of this.byVen.values()) {
      for (const r of await this.store.listReportRequests(st.reg.venID)) this.remember(r);
    }
    for (const p of await this.store.listPending()) this.byVen.get(p.venID)?.queue.push({ seq: p.seq, entry: p.entry });
    this.started = true;
  }

  /** Registered VENs. */
  registrations(): VenRegistration[] {
    return [...this.byVen.values()].map((s) => s.reg);
  }

  registration(venID: string): VenRegistration | undefined {
    return this.byVen.get(venID)?.reg;
  }

  /** Number of payloads waiting for a VEN's poll. */
  pendingCount(venID: string): number {
    return this.byVen.get(venID)?.queue.length ?? 0;
  }

  // ------------------------------------------------------------ application API

  /** Creates an event (modificationNumber 0) and queues it for its VENs. */
  async createEvent(input: NewEvent): Promise<OadrEvent> {
    const now = this.clock.now();
    const recipients = input.venIDs ?? (input.target?.venID?.length ? input.target.venID : [...this.byVen.keys()]);
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
    if (this.events.has(event.descriptor.eventID)) throw err(OadrResponseCode.INVALID_ID, `event ${event.descriptor.eventID} exists`);
    event.descriptor.eventStatus = eventStatusAt(event, now, false, this.nearWindow());
    const stored: StoredEvent = { event, venIDs: [...recipients], cancelled: false };
    this.events.set(event.descriptor.eventID, stored);
    await this.store.putEvent(stored);
    await this.queueDistribute(stored.venIDs);
    return event;
  }

  /** Changes an event: increments its modification number (§8.1.2) and re-distributes. */
  async modifyEvent(eventID: string, change: { activePeriod?: XcalProperties; signals?: EventSignal[]; modificationReason?: string; vtnComment?: string }): Promise<OadrEvent> {
    const stored = this.events.get(eventID);
    if (!stored || stored.cancelled) throw err(OadrResponseCode.INVALID_ID, `no modifiable event ${eventID}`);
    const d = stored.event.descriptor;
    d.modificationNumber++;
    d.modificationDateTime = this.clock.now();
    if (change.modificationReason !== undefined) d.modificationReason = change.modificationReason;
    if (change.vtnComment !== undefined) d.vtnComment = change.vtnComment;
    if (change.activePeriod) stored.event.activePeriod = change.activePeriod;
    if (change.signals) stored.event.signals = change.signals;
    await this.store.putEvent(stored);
    await this.queueDistribute(stored.venIDs);
    return stored.event;
  }

  /** Cancels an event (a modification, status "cancelled") and re-distributes. */
  async cancelEvent(eventID: string, reason = 'cancelled'): Promise<void> {
    const stored = this.events.get(eventID);
    if (!stored || stored.cancelled) throw err(OadrResponseCode.INVALID_ID, `no active event ${eventID}`);
    stored.cancelled = true;
    stored.event.descriptor.modificationNumber++;
    stored.event.descriptor.modificationDateTime = this.clock.now();
    stored.event.descriptor.modificationReason = reason;
    await this.store.putEvent(stored);
    await this.queueDistribute(stored.venIDs);
  }

  /** The event as it is now, with its current status. */
  event(eventID: string): (OadrEvent & { cancelled: boolean }) | undefined {
    const s = this.events.get(eventID);
    if (!s) return undefined;
    return { ...s.event, descriptor: { ...s.event.descriptor, eventStatus: eventStatusAt(s.event, this.clock.now(), s.cancelled, this.nearWindow()) }, cancelled: s.cancelled };
  }

  /** Each VEN's latest opt for an event. */
  eventOpts(eventID: string): Promise<EventOpt[]> {
    return this.store.listEventOpts(eventID);
  }

  /** Asks a VEN for a report (oadrCreateReport, delivered on its next poll or pushed). */
  async requestReport(venID: string, request: ReportRequest): Promise<void> {
    this.ven(venID);
    const r: StoredReportRequest = { venID, request, state: 'requested', producer: 'ven' };
    this.remember(r);
    await this.store.putReportRequest(r);
    await this.queue(venID, { type: 'oadrCreateReport', requestID: this.ids(), reportRequests: [request], venID });
  }

  /** Cancels report requests (oadrCancelReport). */
  async cancelReport(venID: string, reportRequestIDs: string[], reportToFollow = false): Promise<void> {
    this.ven(venID);
    for (const id of reportRequestIDs) {
      const r = this.requests.get(venID)?.get(id);
      if (r) {
        r.state = 'cancelled';
        await this.store.putReportRequest(r);
      }
    }
    await this.queue(venID, { type: 'oadrCancelReport', requestID: this.ids(), reportRequestIDs, reportToFollow, venID });
  }

  /** Asks a VEN to register again (oadrRequestReregistration). */
  async requestReregistration(venID: string): Promise<void> {
    this.ven(venID);
    await this.queue(venID, { type: 'oadrRequestReregistration', venID });
  }

  /** Ends a VEN's registration from the VTN side (oadrCancelPartyRegistration); removed when the VEN confirms. */
  async cancelRegistration(venID: string): Promise<void> {
    const st = this.ven(venID);
    st.cancelling = true;
    await this.queue(venID, { type: 'oadrCancelPartyRegistration', requestID: this.ids(), registrationID: st.reg.registrationID, venID });
  }

  /** Report requests known for a VEN. */
  reportRequests(venID: string): StoredReportRequest[] {
    return [...(this.requests.get(venID)?.values() ?? [])];
  }

  // ------------------------------------------------------------ protocol entry point

  /**
   * Handles one POST to a service endpoint and returns the reply document. Never throws for a
   * peer's fault: every refusal is an oadrResponse with the OpenADR code, and is audited.
   */
  async handle(service: ServiceName, body: Buffer | string, peer: OadrPeer): Promise<string> {
    let message: OadrMessage | undefined;
    let signedRequest = false;
    try {
      if (!this.started) throw err(OadrResponseCode.OTHER, 'VTN not started');
      // Hot path: a poll whose bytes are exactly our own serialization of this certificate's VEN's
      // oadrPoll is that message (and carries no signature), so parsing it again proves nothing.
      if (service === 'OadrPoll' && typeof body !== 'string' && this.modeFor(undefined) !== 'required') {
        const fast = this.byFingerprint.get(peer.fingerprint);
        if (fast && body.length === fast.canonicalPoll.length && body.equals(fast.canonicalPoll) && this.modeFor(fast.reg.venID) !== 'required') {
          this.opts.onXml?.('in', service, body.toString('utf8'));
          return await this.poll(fast);
        }
      }
      if (typeof body !== 'string' && isOversize(body)) throw err(OadrResponseCode.INVALID_DATA, `${service}: body larger than ${this.limits.maxBytes} bytes`);
      const source = `${SERVICE_PREFIX}${service}`;
      const decoded = decodePayload(body, this.limits, source);
      message = decoded.message;
      signedRequest = decoded.hasSignature;
      if (this.opts.onXml) this.opts.onXml('in', service, typeof body === 'string' ? body : body.toString('utf8'));
      if (!ACCEPTS[service].has(message.type)) throw err(OadrResponseCode.NOT_RECOGNIZED, `${message.type} is not accepted on ${service}`);
      const st = this.byFingerprint.get(peer.fingerprint);
      // Registration binding (§8.4, erab: venID ↔ certificate): a payload naming a venID must come from that VEN's certificate.
      const claimed = venIdOf(message);
      if (message.type !== 'oadrCreatePartyRegistration' && message.type !== 'oadrQueryRegistration') {
        if (!st) throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, `certificate ${peer.fingerprint} is not registered`);
        if (claimed !== undefined && claimed !== st.reg.venID) {
          throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, `venID ${claimed.slice(0, 64)} does not belong to the presenting certificate`);
        }
      }
      await this.checkSignature(decoded, body, st?.reg.venID ?? claimed, peer);
      if (message.type === 'oadrPoll' && st) return this.poll(st, signedRequest);
      const reply = await this.dispatch(message, peer, st);
      return this.serialize(st?.reg ?? this.byFingerprint.get(peer.fingerprint)?.reg, reply, service, signedRequest);
    } catch (e) {
      const code = e instanceof OadrError ? e.responseCode : OadrResponseCode.OTHER;
      const reason = e instanceof Error ? e.message : String(e);
      const st = this.byFingerprint.get(peer.fingerprint);
      this.audit.append({
        actor: { kind: 'peer', id: st?.reg.venID ?? peer.id ?? 'unknown', role: peer.role, fingerprint: peer.fingerprint, address: peer.address },
        action: code === OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED ? 'openadr.unauthorized' : 'openadr.refused',
        target: `${this.vtnID}:${service}`,
        outcome: e instanceof OadrError ? 'refused' : 'failure',
        reason: reason.slice(0, 300),
        details: { responseCode: code, payload: message?.type },
      });
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

  private ven(venID: string): VenState {
    const st = this.byVen.get(venID);
    if (!st) throw err(OadrResponseCode.INVALID_ID, `VEN ${venID} is not registered`);
    return st;
  }

  private index(reg: VenRegistration): VenState {
    const old = this.byVen.get(reg.venID);
    const st: VenState = { reg, queue: old?.queue ?? [], pushing: false, cancelling: false, canonicalPoll: Buffer.from(encodePayload({ type: 'oadrPoll', venID: reg.venID })) };
    if (!reg.xmlSignature || !this.opts.signingKey) st.emptyReply = encodePayload(oadrResponse(200, '', reg.venID));
    this.byVen.set(reg.venID, st);
    this.byFingerprint.set(reg.fingerprint, st);
    return st;
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

  /** Answers a poll; a signed poll is answered signed even when the VEN registered without signatures. */
  private async poll(st: VenState, signedRequest = false): Promise<string> {
    const head = st.queue[0];
    if (!head) {
      if (st.emptyReply && !this.opts.onXml && !signedRequest) return st.emptyReply;
      return this.serialize(st.reg, oadrResponse(200, '', st.reg.venID), 'OadrPoll', signedRequest);
    }
    st.queue.shift();
    await this.store.ack(st.reg.venID, [head.seq]);
    const m = head.entry.kind === 'distributeEvent' ? this.distributeFor(st.reg.venID, undefined) : head.entry.message;
    return this.serialize(st.reg, m, 'OadrPoll', signedRequest);
  }

  /** All of a VEN's events that are not completed, with their current status (§8.1: the full list each time). */
  private distributeFor(venID: string, requestID: string | undefined, replyLimit?: number): OadrMessage {
    const now = this.clock.now();
    const events: OadrEvent[] = [];
    for (const s of this.events.values()) {
      if (!s.venIDs.includes(venID)) continue;
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

  private async queueDistribute(venIDs: string[]): Promise<void> {
    for (const venID of venIDs) {
      const st = this.byVen.get(venID);
      if (!st) continue;
      // One distribute marker is enough: it is expanded to the full current list on delivery.
      if (st.queue.some((q) => q.entry.kind === 'distributeEvent')) continue;
      await this.queueEntry(st, { kind: 'distributeEvent' });
    }
  }

  private async queue(venID: string, message: OadrMessage): Promise<void> {
    await this.queueEntry(this.ven(venID), { kind: 'message', message });
  }

  private async queueEntry(st: VenState, entry: PendingEntry): Promise<void> {
    const seq = await this.store.enqueue(st.reg.venID, entry);
    st.queue.push({ seq, entry });
    if (this.opts.push && st.reg.transportAddress && st.reg.httpPullModel === false) void this.flushPush(st);
  }

  /** Push model: POST queued payloads to the VEN's endpoint; the reply is processed like a VEN request. */
  private async flushPush(st: VenState): Promise<void> {
    if (st.pushing || !this.opts.push || !st.reg.transportAddress) return;
    st.pushing = true;
    try {
      for (;;) {
        const head = st.queue[0];
        if (!head) break;
        const m = head.entry.kind === 'distributeEvent' ? this.distributeFor(st.reg.venID, undefined) : head.entry.message;
        const service = SERVICE_OF[m.type];
        const xml = this.serialize(st.reg, m, service);
        const url = `${st.reg.transportAddress.replace(/\/$/, '')}${SERVICE_PREFIX}${service}`;
        let replyXml: string;
        try {
          replyXml = await this.opts.push.post(url, xml);
        } catch (e) {
          this.audit.append({ actor: { kind: 'system', id: this.vtnID }, action: 'openadr.push', target: st.reg.venID, outcome: 'failure', reason: (e as Error).message.slice(0, 200) });
          break;
        }
        st.queue.shift();
        await this.store.ack(st.reg.venID, [head.seq]);
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
        if (s.cancelling) await this.unregister(s);
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
        const pending = new Set(m.pendingReports);
        for (const r of this.reportRequests(s.reg.venID)) {
          if (r.producer !== 'ven') continue;
          const next = pending.has(r.request.reportRequestID) ? 'active' : m.type === 'oadrCanceledReport' || r.state === 'cancelled' ? 'cancelled' : r.state;
          if (next !== r.state) {
            r.state = next;
            await this.store.putReportRequest(r);
          }
        }
        return oadrResponse(200, m.eiResponse.requestID, s.reg.venID);
      }
      case 'oadrRegisteredReport': {
        const s = st as VenState;
        for (const request of m.reportRequests) {
          const r: StoredReportRequest = { venID: s.reg.venID, request, state: 'requested', producer: 'vtn' };
          this.remember(r);
          await this.store.putReportRequest(r);
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
    const other = this.byVen.get(venID);
    if (other && other.reg.fingerprint !== peer.fingerprint) {
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
    this.audit.append({ actor: { kind: 'peer', id: venID, role: peer.role, fingerprint: peer.fingerprint, address: peer.address }, action: 'openadr.register', target: this.vtnID, outcome: 'success', details: { registrationID: reg.registrationID, reregistration: !!st } });
    this.opts.hooks?.onRegistered?.(reg);
    // §8.3.1: after registration the VTN registers its own reports with the VEN.
    if (this.opts.vtnReports !== false) {
      await this.queueEntry(fresh, { kind: 'message', message: { type: 'oadrRegisterReport', requestID: this.ids(), reports: this.opts.vtnReports ?? [], venID } });
    }
    // A (re-)registered VEN receives the events that concern it.
    if ([...this.events.values()].some((e) => e.venIDs.includes(venID))) await this.queueDistribute([venID]);
    return this.createdRegistration(m.requestID, reg);
  }

  private async unregister(st: VenState): Promise<void> {
    await this.store.deleteRegistration(st.reg.venID);
    if (st.queue.length) await this.store.ack(st.reg.venID, st.queue.map((q) => q.seq));
    const requestIDs = [...(this.requests.get(st.reg.venID)?.keys() ?? [])];
    if (requestIDs.length) await this.store.deleteReportRequests(st.reg.venID, requestIDs);
    this.requests.delete(st.reg.venID);
    this.byVen.delete(st.reg.venID);
    this.byFingerprint.delete(st.reg.fingerprint);
    this.audit.append({ actor: { kind: 'peer', id: st.reg.venID, fingerprint: st.reg.fingerprint }, action: 'openadr.unregister', target: this.vtnID, outcome: 'success' });
    this.opts.hooks?.onRegistrationCancelled?.(st.reg.venID);
  }

  private async createdEvent(m: OadrCreatedEvent, st: VenState): Promise<OadrMessage> {
    const venID = st.reg.venID;
    const at = this.clock.now();
    let failure: OadrError | undefined;
    for (const r of m.eventResponses ?? []) {
      const ev = this.events.get(r.qualifiedEventID.eventID);
      if (!ev || !ev.venIDs.includes(venID)) {
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
    for (const request of requests) {
      const r: StoredReportRequest = { venID, request, state: 'requested', producer: 'ven' };
      this.remember(r);
      await this.store.putReportRequest(r);
    }
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
    const byID = this.requests.get(venID);
    if (!byID) return;
    const forgotten: string[] = [];
    for (const [id, r] of byID) {
      if (r.producer !== 'ven') continue;
      if (r.state === 'cancelled') forgotten.push(id);
      else {
        r.state = 'cancelled';
        await this.store.putReportRequest(r);
      }
    }
    if (forgotten.length) {
      await this.store.deleteReportRequests(venID, forgotten);
      for (const id of forgotten) byID.delete(id);
    }
  }

  private async updateReport(requestID: string, reports: OadrReport[], st: VenState): Promise<OadrMessage> {
    const venID = st.reg.venID;
    const now = this.clock.now();
    const cancelled: string[] = [];
    for (const rep of reports) {
      const req = this.requests.get(venID)?.get(rep.reportRequestID);
      if (!req && rep.reportRequestID !== METADATA_REPORT_REQUEST_ID) throw err(OadrResponseCode.INVALID_ID, `reportRequestID ${rep.reportRequestID.slice(0, 64)} was never requested from this VEN`);
      if (req?.state === 'cancelled') cancelled.push(rep.reportRequestID);
      if (req && req.state === 'requested') {
        req.state = 'active';
        await this.store.putReportRequest(req);
      }
      await this.store.appendReport(venID, rep, now as EpochMillis);
      this.opts.hooks?.onReport?.(venID, rep);
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
      const ev = this.events.get(m.qualifiedEventID.eventID);
      if (!ev || !ev.venIDs.includes(venID)) throw err(OadrResponseCode.INVALID_ID, `event ${m.qualifiedEventID.eventID.slice(0, 64)} is unknown to this VEN`);
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
