/**
 * The OpenADR 2.0b VEN (Virtual End Node) client: registration (query, create, re-register),
 * polling at the VTN's requested frequency with exponential back-off on failure, event handling
 * with callbacks and oadrCreatedEvent replies (modification numbers, randomised start, implicit
 * cancellation), report registration and periodic TELEMETRY_USAGE / TELEMETRY_STATUS reporting
 * through a persistent outbox, opt schedules and event opts, and a push endpoint handler.
 *
 * Transport and persistence are interfaces (OadrTransport, VenOutbox, VenStateStore); the roles
 * layer wires mutual TLS and the data layer.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { EpochMillis, Millis } from '../../core/units.js';
import { type OadrAuditSink, nullAudit } from './audit.js';
import type { EiTarget, QualifiedEventID, XcalProperties } from './common.js';
import { OadrError, OadrResponseCode } from './errors.js';
import type { EventResponse, EventStatus, OadrDistributeEvent, OadrEvent, OptType } from './event.js';
import { randomizedStart } from './event-lifecycle.js';
import { ReportDelivery, type ReportRetryPolicy } from './report-delivery.js';
import type { OadrTransport } from './http.js';
import type { OptReason } from './opt.js';
import { type OadrMessage, SERVICE_OF, decodePayload, encodePayload } from './payload.js';
import type { ServiceName } from './register-party.js';
import type { OadrReport, ReportDescription, ReportInterval, ReportName, ReportPayload, ReportRequest, ResourceStatus } from './report.js';
import { METADATA_REPORT_REQUEST_ID } from './report.js';
import { oadrResponse } from './response.js';
import { type ReplayCache, confirmNonce } from './replay-cache.js';
import { NonceCache, type SignatureMode, type SigningKey, signXml, verifyPayload } from './signature.js';
import { DEFAULT_XML_LIMITS, type XmlLimits } from './xml.js';

/** A data source the VEN can report from: one report specifier with its data points (rIDs). */
export interface VenReportSource {
  reportSpecifierID: string;
  /** The data report's name; its METADATA_ twin is registered with the VTN. */
  reportName: ReportName;
  descriptions: ReportDescription[];
  /** The current value of one data point (W already converted by the caller to the item's scale). */
  read(rID: string, now: EpochMillis): number | ResourceStatus | undefined;
}

export interface VenOutboxItem {
  message: OadrMessage;
}

/** Durable queue of payloads to send; survives restarts so no report is lost. */
export interface VenOutbox {
  add(item: VenOutboxItem): Promise<void>;
  peek(limit: number): Promise<{ seq: number; item: VenOutboxItem }[]>;
  ack(seqs: number[]): Promise<void>;
}

export interface VenPersistedState {
  venID: string;
  registrationID: string;
  vtnID: string;
  pollFreqMs: number;
}

export interface VenStateStore {
  load(): Promise<VenPersistedState | undefined>;
  save(s: VenPersistedState): Promise<void>;
  clear(): Promise<void>;
  /**
   * The VTN's periodic report requests we serve (oadrCreateReport, or those of
   * oadrRegisteredReport), kept with the registration: a VEN restarted with its registration is
   * not asked again, so without them it would report nothing until it registers anew.
   */
  loadReportRequests?(): Promise<ReportRequest[]>;
  saveReportRequests?(requests: ReportRequest[]): Promise<void>;
}

/** What the application learns about an event (new or modified). */
export interface VenEventInfo {
  event: OadrEvent;
  status: EventStatus;
  /** dtstart plus the randomisation offset (tolerance/startafter). */
  effectiveStart: EpochMillis;
  /** True when this is a modification of an event already seen. */
  modified: boolean;
  /** True for a modification the caller's checkDistribute already verified in an earlier run (no answer is sent). */
  redelivered?: boolean;
}

/**
 * A VEN's answer to one event, as its eiEvent eventResponse carries it (OpenADR 2.0b §8.1):
 * the opt and, for a refusal, the response code (460 signal not supported, 462 target mismatch,
 * 454 invalid data...) with the reason, so the VTN learns why and not only that.
 */
export interface VenEventAnswer {
  optType: OptType;
  /** Default 200. */
  responseCode?: number;
  /** Sent to the VTN; cut to 250 characters. */
  responseDescription?: string;
  /**
   * Runs after the oadrCreatedEvent carrying this answer reached the VTN (or, when none is due,
   * after the distribute was processed) — e.g. a gateway opting single resources out of an event
   * it accepted, once the VTN holds its answer to the event as a whole.
   */
  afterReply?: () => Promise<void>;
}

/**
 * The XML signature of a received oadrDistributeEvent as the VEN verified it against the VTN's
 * certificate (`vtnCertificatePem`). The nonce is NOT consumed: a caller that checks the
 * distribute itself keeps its own replay state.
 */
export type VenSignatureCheck =
  | { ok: true; fingerprint: string; nonce: string; timestamp: EpochMillis }
  | { ok: false; kind: 'missing' | 'invalid'; reason: string };

/** A received oadrDistributeEvent handed to {@link VenOptions.checkDistribute}. */
export interface VenDistribute {
  /** The payload exactly as received. */
  rawXml: string;
  message: OadrDistributeEvent;
  signature: VenSignatureCheck;
}

/** The caller's verdict on one event of a distribute (in the distribute's order). */
export type VenEventVerdict =
  /** Goes on to the VEN's event handling (onEvent). */
  | { verdict: 'accept' }
  /**
   * A modification the caller already verified (e.g. before a restart): not answered again; if
   * this run of the VEN does not know it yet, onEvent sees it once with `redelivered: true`.
   */
  | { verdict: 'duplicate' }
  /** Refused: answered optOut with this OpenADR code and reason; onEvent does not see it. */
  | { verdict: 'refuse'; code: number; reason: string };

/** The caller's verdict on a whole distribute. */
export interface VenDistributeVerdict {
  /** False when the payload as a whole is refused (signature, replay): no implicit cancellation then. */
  ok: boolean;
  events: VenEventVerdict[];
}

export interface VenOptions {
  venName: string;
  /** Pre-provisioned venID, if the VTN operator gave one. */
  venID?: string;
  transport: OadrTransport;
  clock: Clock;
  random?: () => number;
  ids?: () => string;
  audit?: OadrAuditSink;
  outbox?: VenOutbox;
  state?: VenStateStore;
  /** Base URL of our push endpoint; when set we register for the push model. */
  pushAddress?: string;
  /** Ask the VTN for XML signatures and sign ours (needs signingKey). */
  xmlSignature?: boolean;
  /** Our key: signs our payloads when xmlSignature is set, and our replies to signed pushes always. */
  signingKey?: SigningKey;
  /** The VTN's certificate, to verify its signed payloads. */
  vtnCertificatePem?: string;
  /** Policy for incoming signatures (default 'optional'). */
  signatureMode?: SignatureMode;
  /** Accepted skew of the VTN's ReplayProtect timestamps, either side, ms (default 5 minutes). */
  signatureWindowMs?: number;
  /** Where the VTN's accepted nonces are remembered (default: memory; roles with a store pass the store-backed cache). */
  nonces?: ReplayCache;
  reports?: VenReportSource[];
  /**
   * Decide on a new or modified event: return the opt (default optIn), or a {@link VenEventAnswer}
   * to refuse with a response code. Throwing an OadrError answers optOut with its code and
   * message; any other error answers optOut with 469 and no detail (it is ours, not the VTN's).
   */
  onEvent?: (info: VenEventInfo) => OptType | VenEventAnswer | void | Promise<OptType | VenEventAnswer | void>;
  onEventCancelled?: (eventID: string, explicit: boolean) => void;
  /**
   * Checks every oadrDistributeEvent before the VEN's event handling, with the raw XML as received
   * and the signature verified against `vtnCertificatePem` — for a caller whose own guard decides
   * (a gateway's command guard: authenticity, replay, targets, with its own refusal codes). When
   * set, the VEN's own signature policy, replay cache and vtnID check do not apply to distributes:
   * the caller's verdict does. Refused events are answered with the caller's code.
   */
  checkDistribute?: (d: VenDistribute) => Promise<VenDistributeVerdict>;
  onRegistered?: (s: VenPersistedState) => void;
  /** Back-off after failures: initial and maximum delay (default 1 s, 5 min). */
  backoff?: { initialMs: number; maxMs: number };
  /** Per report stream: back-off after the VTN failed a report, and the budget per report (see report-delivery.ts). */
  reportRetry?: Partial<ReportRetryPolicy>;
  limits?: XmlLimits;
  onXml?: (direction: 'in' | 'out', service: ServiceName, xml: string) => void;
}

interface KnownEvent {
  event: OadrEvent;
  optType: OptType;
  effectiveStart: EpochMillis;
}

interface ActiveReport {
  request: ReportRequest;
  source: VenReportSource;
  timer?: TimerHandle;
  samples: { t: EpochMillis; payloads: ReportPayload[] }[];
  ticks: number;
}

/** A VenOutbox in memory (tests; production uses the store-backed one in src/endpoints/openadr/). */
export class MemoryVenOutbox implements VenOutbox {
  private items: { seq: number; item: VenOutboxItem }[] = [];
  private seq = 0;
  async add(item: VenOutboxItem): Promise<void> { this.items.push({ seq: ++this.seq, item: structuredClone(item) }); }
  async peek(limit: number): Promise<{ seq: number; item: VenOutboxItem }[]> { return this.items.slice(0, limit); }
  async ack(seqs: number[]): Promise<void> { const s = new Set(seqs); this.items = this.items.filter((i) => !s.has(i.seq)); }
  get size(): number { return this.items.length; }
}

const err = (code: number, msg: string): OadrError => new OadrError(code, msg);

export class Ven {
  private readonly o: VenOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly ids: () => string;
  private readonly audit: OadrAuditSink;
  private readonly outbox: VenOutbox;
  private readonly limits: XmlLimits;
  // Nonces are remembered for as long as their timestamps can pass the window.
  private readonly nonces: ReplayCache;
  private reg: VenPersistedState | undefined;
  /** The events of the VTN as this VEN answered them: the one event ledger of every role. */
  private readonly known = new Map<string, KnownEvent>();
  /** Raw XML and signature check of distributes decoded for checkDistribute (by message). */
  /** Follow-ups of an oadrCreatedEvent sent after a push reply (the answers' afterReply). */
  private readonly pushAfter = new WeakMap<OadrMessage, () => Promise<void>>();
  private readonly distributes = new WeakMap<OadrMessage, { rawXml: string; signature: VenSignatureCheck }>();
  private readonly active = new Map<string, ActiveReport>();
  private timer: TimerHandle | undefined;
  private running = false;
  private failures = 0;
  private busy: Promise<void> = Promise.resolve();
  private flushing = false;
  /** Reports whose period is over, waiting for the one report-sending task (see requestReportSend). */
  private readonly dueReports = new Set<ActiveReport>();
  private reportSendQueued = false;
  /** Sends the outbox, each report stream backing off on its own. */
  private readonly delivery: ReportDelivery;
  /** Wakes the delivery when a backing-off report stream may try again. */
  private reportRetryTimer: TimerHandle | undefined;
  private halted = false;

  constructor(opts: VenOptions) {
    this.nonces = opts.nonces ?? new NonceCache(opts.signatureWindowMs ?? 300_000);
    this.o = opts;
    this.clock = opts.clock;
    this.random = opts.random ?? Math.random;
    this.ids = opts.ids ?? randomUUID;
    this.audit = opts.audit ?? nullAudit;
    this.outbox = opts.outbox ?? new MemoryVenOutbox();
    this.limits = opts.limits ?? DEFAULT_XML_LIMITS;
    this.handlePush = this.handlePush.bind(this);
    this.delivery = new ReportDelivery({
      outbox: this.outbox, clock: this.clock, random: this.random, audit: this.audit,
      actor: () => this.reg?.venID ?? this.o.venName,
      ...(opts.reportRetry ? { policy: opts.reportRetry } : {}),
      send: (m) => this.request(m),
      onReply: (item, r) => {
        if (r.type === 'oadrUpdatedReport' && r.cancelReport) for (const id of r.cancelReport.reportRequestIDs) this.stopReport(id);
        const code = 'eiResponse' in r && r.eiResponse ? r.eiResponse.responseCode : 200;
        // A refusal is final (retrying would be refused again).
        if (code !== 200) this.refused(`outbox:${item.message.type}`, err(code, `VTN answered ${code}`));
      },
    });
  }

  /** Registration as the VTN confirmed it, if registered. */
  get registration(): VenPersistedState | undefined {
    return this.reg;
  }

  /** Events currently known, with our opt. */
  events(): { event: OadrEvent; optType: OptType; effectiveStart: EpochMillis }[] {
    return [...this.known.values()];
  }

  /** One known event with our opt, if the VTN lists it. */
  knownEvent(eventID: string): { event: OadrEvent; optType: OptType; effectiveStart: EpochMillis } | undefined {
    return this.known.get(eventID);
  }

  /** Report request ids we are currently serving. */
  activeReports(): string[] {
    return [...this.active.keys()];
  }

  /**
   * Starts the loop: register if needed, then poll (pull) or flush the outbox (push). With a
   * persisted registration the persisted report requests are served again at once.
   */
  async start(): Promise<void> {
    await this.restore();
    if (this.reg) for (const r of await this.o.state?.loadReportRequests?.() ?? []) this.startReport(r);
    this.running = true;
    this.halted = false;
    this.schedule(0);
  }

  /** Loads the persisted registration (venID, registrationID) if there is one. */
  async restore(): Promise<VenPersistedState | undefined> {
    this.reg ??= await this.o.state?.load();
    return this.reg;
  }

  /** Stops timers; the outbox keeps what was not sent. */
  stop(): void {
    this.running = false;
    this.halted = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.reportRetryTimer?.cancel();
    this.reportRetryTimer = undefined;
    for (const a of this.active.values()) a.timer?.cancel();
  }

  /** Runs one loop iteration now and waits for it (tests, CLI). */
  async runOnce(): Promise<void> {
    await this.serial(() => this.iteration());
  }

  // ------------------------------------------------------------ registration

  /** Queries and creates the registration (§8.4); re-registers with the registrationID when known. */
  async register(): Promise<VenPersistedState> {
    const q = await this.request({ type: 'oadrQueryRegistration', requestID: this.ids() });
    if (q.type !== 'oadrCreatedPartyRegistration') throw err(OadrResponseCode.OTHER, `oadrQueryRegistration answered with ${q.type}`);
    const venID = this.reg?.venID ?? this.o.venID;
    const r = await this.request({
      type: 'oadrCreatePartyRegistration',
      requestID: this.ids(),
      ...(this.reg ? { registrationID: this.reg.registrationID } : {}),
      ...(venID ? { venID } : {}),
      profileName: '2.0b',
      transportName: 'simpleHttp',
      ...(this.o.pushAddress ? { transportAddress: this.o.pushAddress } : {}),
      reportOnly: false,
      xmlSignature: !!this.o.xmlSignature,
      venName: this.o.venName,
      httpPullModel: !this.o.pushAddress,
    });
    if (r.type !== 'oadrCreatedPartyRegistration') throw err(OadrResponseCode.OTHER, `registration answered with ${r.type}`);
    if (r.eiResponse.responseCode !== 200 || !r.venID || !r.registrationID) {
      throw err(r.eiResponse.responseCode, `registration refused: ${r.eiResponse.responseCode} ${r.eiResponse.responseDescription ?? ''}`);
    }
    this.reg = { venID: r.venID, registrationID: r.registrationID, vtnID: r.vtnID, pollFreqMs: r.requestedPollFreq ?? 10_000 };
    await this.o.state?.save(this.reg);
    this.o.onRegistered?.(this.reg);
    if (this.o.reports?.length) await this.registerReports();
    return this.reg;
  }

  /** Cancels our registration (oadrCancelPartyRegistration). */
  async cancelRegistration(): Promise<void> {
    const reg = this.need();
    const r = await this.request({ type: 'oadrCancelPartyRegistration', requestID: this.ids(), registrationID: reg.registrationID, venID: reg.venID });
    if (r.type !== 'oadrCanceledPartyRegistration' || r.eiResponse.responseCode !== 200) throw err(OadrResponseCode.OTHER, `cancel registration answered ${r.type}`);
    await this.forget();
  }

  // ------------------------------------------------------------ opts

  /** Sends an availability schedule (oadrCreateOpt with xcal:vavailability). Returns the optID. */
  async createOptSchedule(optType: OptType, optReason: OptReason, periods: XcalProperties[], target: EiTarget = {}, marketContext?: string): Promise<string> {
    const reg = this.need();
    const optID = this.ids();
    const r = await this.request({
      type: 'oadrCreateOpt', optID, optType, optReason, venID: reg.venID, vavailability: periods, createdDateTime: this.clock.now(),
      requestID: this.ids(), target, ...(marketContext ? { marketContext } : {}),
    });
    this.expectOk(r, 'oadrCreatedOpt');
    return optID;
  }

  /** Opts in or out of one event after having answered it (oadrCreateOpt with qualifiedEventID). */
  async optEvent(eventID: string, optType: OptType, optReason: OptReason = optType === 'optIn' ? 'participating' : 'notParticipating'): Promise<string> {
    const reg = this.need();
    const k = this.known.get(eventID);
    if (!k) throw err(OadrResponseCode.INVALID_ID, `unknown event ${eventID}`);
    const optID = this.ids();
    const r = await this.request({
      type: 'oadrCreateOpt', optID, optType, optReason, venID: reg.venID, createdDateTime: this.clock.now(), requestID: this.ids(),
      qualifiedEventID: { eventID, modificationNumber: k.event.descriptor.modificationNumber }, target: k.event.target,
    });
    this.expectOk(r, 'oadrCreatedOpt');
    k.optType = optType;
    return optID;
  }

  /**
   * Sends one oadrCreateOpt as the caller states it and returns its optID — e.g. a gateway
   * opting one resource out of an event it accepted for others (OpenADR 2.0b §8.5: EiOpt with
   * ei:qualifiedEventID and an eiTarget naming the resource). Unlike `optEvent`, the event need
   * not have reached this VEN's own event handling.
   * @example
   *   await ven.createOpt({ optType: 'optOut', optReason: 'x-max-discharge-power',
   *     qualifiedEventID: { eventID: 'E1', modificationNumber: 0 }, target: { resourceID: ['bat1'] } });
   */
  async createOpt(opt: { optType: OptType; optReason: OptReason; target: EiTarget; qualifiedEventID?: QualifiedEventID; marketContext?: string }): Promise<string> {
    const reg = this.need();
    const optID = this.ids();
    const r = await this.request({
      type: 'oadrCreateOpt', optID, optType: opt.optType, optReason: opt.optReason, venID: reg.venID, createdDateTime: this.clock.now(),
      requestID: this.ids(), target: opt.target,
      ...(opt.qualifiedEventID ? { qualifiedEventID: opt.qualifiedEventID } : {}),
      ...(opt.marketContext ? { marketContext: opt.marketContext } : {}),
    });
    this.expectOk(r, 'oadrCreatedOpt');
    return optID;
  }

  async cancelOpt(optID: string): Promise<void> {
    const reg = this.need();
    const r = await this.request({ type: 'oadrCancelOpt', requestID: this.ids(), optID, venID: reg.venID });
    this.expectOk(r, 'oadrCanceledOpt');
  }

  /** Asks the VTN for its current events (oadrRequestEvent) and processes them. */
  async requestEvents(): Promise<void> {
    const reg = this.need();
    const r = await this.request({ type: 'oadrRequestEvent', requestID: this.ids(), venID: reg.venID });
    if (r.type !== 'oadrDistributeEvent') throw err(OadrResponseCode.OTHER, `oadrRequestEvent answered with ${r.type}`);
    await this.processDistribute(r, true);
  }

  // ------------------------------------------------------------ push endpoint

  /** Handles a VTN push (our endpoint's service handler): processes and returns the reply document. */
  async handlePush(service: ServiceName, body: Buffer | string): Promise<string> {
    // A signed push is answered signed (refusals too), whatever we registered with: a signing VTN
    // drops an unsigned reply to its signed request.
    const seen = { signed: false };
    try {
      const m = await this.decodeFromVtn(body, service, seen);
      const { reply, after } = await this.processVtnMessage(m, false);
      const out = this.serialize(reply ?? oadrResponse(200, '', this.reg?.venID), service, seen.signed);
      if (after) setImmediate(() => void this.serial(after).catch(() => {}));
      return out;
    } catch (e) {
      const code = e instanceof OadrError ? e.responseCode : OadrResponseCode.OTHER;
      this.refused(`push:${service}`, e);
      return this.serialize(oadrResponse(code, '', this.reg?.venID, (e as Error).message.slice(0, 200)), service, seen.signed);
    }
  }

  // ------------------------------------------------------------ internals

  private need(): VenPersistedState {
    if (!this.reg) throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, 'VEN is not registered');
    return this.reg;
  }

  private expectOk(r: OadrMessage, type: OadrMessage['type']): void {
    if (r.type !== type && r.type !== 'oadrResponse') throw err(OadrResponseCode.OTHER, `expected ${type}, got ${r.type}`);
    const code = 'eiResponse' in r && r.eiResponse ? r.eiResponse.responseCode : 200;
    if (code !== 200) throw err(code, `${type}: VTN answered ${code} ${'eiResponse' in r ? (r.eiResponse?.responseDescription ?? '') : ''}`);
  }

  private stopReports(): void {
    for (const a of this.active.values()) a.timer?.cancel();
    this.active.clear();
    this.persistReports();
  }

  /**
   * Keeps the periodic report requests we serve in the state store, in the order of changes
   * (one-shot requests are done once sent: nothing to resume).
   */
  private persistReports(): void {
    const save = this.o.state?.saveReportRequests;
    if (!save) return;
    const requests = [...this.active.values()].map((a) => a.request).filter((r) => r.reportSpecifier.reportBackDuration > 0);
    this.reportsSaved = this.reportsSaved.then(() => save.call(this.o.state, requests)).catch((e: unknown) => this.refused('report-state', e));
  }

  private reportsSaved: Promise<void> = Promise.resolve();

  private async forget(): Promise<void> {
    this.reg = undefined;
    this.stopReports();
    await this.o.state?.clear();
  }

  /** Serializes concurrent work (poll loop, timers, push follow-ups) in arrival order. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.busy.then(fn, fn);
    this.busy = next.catch(() => {});
    return next;
  }

  private schedule(ms: number): void {
    this.timer?.cancel();
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      void this.serial(() => this.iteration()).catch(() => {});
    }, ms);
  }

  private async iteration(): Promise<void> {
    try {
      if (!this.reg) await this.register();
      // Poll before sending buffered reports: events are time-critical, reports are durable
      // (after an outage the outbox may hold many; the poll must not wait for all of them).
      if (!this.o.pushAddress) {
        for (let i = 0; i < 64 && (await this.pollOnce()); i++);
      }
      await this.flushOutbox();
      this.failures = 0;
      this.schedule(this.reg?.pollFreqMs ?? 10_000);
    } catch (e) {
      this.failures++;
      const b = this.o.backoff ?? { initialMs: 1000, maxMs: 300_000 };
      const delay = Math.min(b.maxMs, b.initialMs * 2 ** Math.min(this.failures - 1, 20)) * (0.5 + this.random() / 2);
      this.audit.append({ actor: { kind: 'system', id: this.reg?.venID ?? this.o.venName }, action: 'openadr.ven.retry', outcome: 'failure', reason: (e as Error).message.slice(0, 200), details: { failures: this.failures, delayMs: Math.round(delay) } });
      if (e instanceof OadrError && e.responseCode === OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED && this.reg) await this.forget();
      this.schedule(delay);
      throw e;
    }
  }

  /** One oadrPoll; true when the VTN had something (poll again at once). */
  private async pollOnce(): Promise<boolean> {
    const reg = this.reg;
    if (!reg) return false;
    const m = await this.request({ type: 'oadrPoll', venID: reg.venID });
    if (m.type === 'oadrResponse') {
      if (m.eiResponse.responseCode === 200) return false;
      throw err(m.eiResponse.responseCode, `poll answered ${m.eiResponse.responseCode} ${m.eiResponse.responseDescription ?? ''}`);
    }
    const { reply, after } = await this.processVtnMessage(m, true);
    if (reply) await this.sendChecked(reply);
    if (after) await after();
    return true;
  }

  private async sendChecked(m: OadrMessage): Promise<OadrMessage> {
    const r = await this.request(m);
    const code = 'eiResponse' in r && r.eiResponse ? r.eiResponse.responseCode : 200;
    if (code !== 200) this.refused(`reply:${m.type}`, err(code, `VTN answered ${code} to ${m.type}`));
    return r;
  }

  /** Reacts to a payload the VTN initiated (from a poll or a push). */
  private async processVtnMessage(m: OadrMessage, pull: boolean): Promise<{ reply?: OadrMessage; after?: () => Promise<void> }> {
    const venID = this.reg?.venID;
    switch (m.type) {
      case 'oadrDistributeEvent': {
        const created = await this.processDistribute(m, pull);
        return pull || !created ? {} : { after: async () => { await this.sendChecked(created); await this.pushAfter.get(created)?.(); } };
      }
      case 'oadrCreateReport': {
        for (const r of m.reportRequests) this.startReport(r);
        return { reply: this.createdReport(m.requestID) };
      }
      case 'oadrRegisterReport':
        return { reply: { type: 'oadrRegisteredReport', eiResponse: { responseCode: 200, requestID: m.requestID }, reportRequests: [], ...(venID ? { venID } : {}) } };
      case 'oadrCancelReport': {
        for (const id of m.reportRequestIDs) this.stopReport(id);
        return { reply: { type: 'oadrCanceledReport', eiResponse: { responseCode: 200, requestID: m.requestID }, pendingReports: this.activeReports(), ...(venID ? { venID } : {}) } };
      }
      case 'oadrUpdateReport':
        return { reply: { type: 'oadrUpdatedReport', eiResponse: { responseCode: 200, requestID: m.requestID }, ...(venID ? { venID } : {}) } };
      case 'oadrCancelPartyRegistration': {
        const reg = this.need();
        if (m.registrationID !== reg.registrationID) throw err(OadrResponseCode.INVALID_ID, 'registrationID is not ours');
        const reply: OadrMessage = { type: 'oadrCanceledPartyRegistration', eiResponse: { responseCode: 200, requestID: m.requestID }, registrationID: reg.registrationID, venID: reg.venID };
        if (pull) {
          await this.sendChecked(reply);
          await this.forget();
          this.stop();
          return {};
        }
        return { reply, after: async () => { await this.forget(); this.stop(); } };
      }
      case 'oadrRequestReregistration': {
        const reply = oadrResponse(200, '', venID);
        return { ...(pull ? { reply } : {}), after: async () => { await this.register(); } };
      }
      case 'oadrResponse':
        return {};
      default:
        throw err(OadrResponseCode.NOT_RECOGNIZED, `${m.type} is not a VTN request`);
    }
  }

  /**
   * Handles oadrDistributeEvent (§8.1): the caller's check first (checkDistribute), then new or
   * modified events to the callback, stale ones refused (450), missing ones cancelled; answers
   * with one oadrCreatedEvent, then runs the answers' afterReply.
   */
  private async processDistribute(m: OadrDistributeEvent, sendNow: boolean): Promise<OadrMessage | undefined> {
    const reg = this.need();
    let verdict: VenDistributeVerdict | undefined;
    const check = this.o.checkDistribute;
    if (check) {
      const got = this.distributes.get(m);
      if (!got) throw err(OadrResponseCode.OTHER, 'oadrDistributeEvent without its raw payload');
      verdict = await check({ rawXml: got.rawXml, message: m, signature: got.signature });
    } else if (m.vtnID !== reg.vtnID) throw err(OadrResponseCode.INVALID_ID, `oadrDistributeEvent from vtnID ${m.vtnID.slice(0, 64)}, registered with ${reg.vtnID}`);
    const responses: EventResponse[] = [];
    const after: (() => Promise<void>)[] = [];
    const seen = new Set<string>();
    for (const [i, ev] of m.events.entries()) {
      const id = ev.descriptor.eventID;
      const k = this.known.get(id);
      const qualified = { eventID: id, modificationNumber: ev.descriptor.modificationNumber };
      const v = verdict?.events[i] ?? { verdict: verdict ? 'refuse' as const : 'accept' as const, code: OadrResponseCode.OTHER, reason: 'not checked' };
      if (v.verdict === 'refuse') {
        // Refused by the caller's guard: answered with its code; the event stays what it was.
        if (k) seen.add(id);
        if (ev.responseRequired === 'always') responses.push({ responseCode: v.code, responseDescription: v.reason.slice(0, 250), requestID: m.requestID, qualifiedEventID: qualified, optType: 'optOut' });
        continue;
      }
      seen.add(id);
      if (k && ev.descriptor.modificationNumber < k.event.descriptor.modificationNumber) {
        this.refused('event', err(OadrResponseCode.OUT_OF_SEQUENCE, `event ${id} modificationNumber ${ev.descriptor.modificationNumber} older than ${k.event.descriptor.modificationNumber}`));
        if (ev.responseRequired === 'always') responses.push({ responseCode: OadrResponseCode.OUT_OF_SEQUENCE, responseDescription: 'stale modificationNumber', requestID: m.requestID, qualifiedEventID: qualified, optType: k.optType });
        continue;
      }
      if (k && ev.descriptor.modificationNumber === k.event.descriptor.modificationNumber) {
        k.event = ev; // status may have moved on; content has not
        continue;
      }
      const redelivered = v.verdict === 'duplicate';
      let answer: VenEventAnswer = { optType: k?.optType ?? 'optIn' };
      const effectiveStart = randomizedStart(ev, this.random);
      if (ev.descriptor.eventStatus === 'cancelled') {
        if (!redelivered) this.o.onEventCancelled?.(id, true);
      } else {
        try {
          const a = await this.o.onEvent?.({ event: ev, status: ev.descriptor.eventStatus, effectiveStart, modified: !!k, ...(redelivered ? { redelivered } : {}) });
          answer = typeof a === 'string' ? { optType: a } : (a ?? { optType: 'optIn' });
          const code = answer.responseCode ?? 200;
          if (!Number.isInteger(code) || code < 200 || code > 499) throw new Error(`onEvent answered responseCode ${code}; OpenADR codes are 200 or 4xx`);
        } catch (e) {
          this.refused('event-callback', e);
          answer = e instanceof OadrError
            ? { optType: 'optOut', responseCode: e.responseCode, responseDescription: e.message }
            : { optType: 'optOut', responseCode: OadrResponseCode.OTHER, responseDescription: 'the VEN could not process this event' };
        }
      }
      const { optType } = answer;
      this.known.set(id, { event: ev, optType, effectiveStart });
      if (answer.afterReply) after.push(answer.afterReply);
      if (ev.responseRequired === 'always' && !redelivered) {
        responses.push({
          responseCode: answer.responseCode ?? 200,
          ...(answer.responseDescription ? { responseDescription: answer.responseDescription.slice(0, 250) } : {}),
          requestID: m.requestID, qualifiedEventID: qualified, optType,
        });
      }
    }
    // §8.1: an event the VTN no longer lists is implicitly cancelled (not on a refused payload).
    if (!verdict || verdict.ok) {
      for (const id of [...this.known.keys()]) {
        if (!seen.has(id)) {
          this.known.delete(id);
          this.o.onEventCancelled?.(id, false);
        }
      }
    }
    const runAfter = async (): Promise<void> => {
      for (const a of after) await a().catch((e: unknown) => this.refused('event-after-reply', e));
    };
    if (!responses.length) {
      await runAfter();
      return undefined;
    }
    const created: OadrMessage = { type: 'oadrCreatedEvent', eiResponse: { responseCode: 200, requestID: m.requestID }, eventResponses: responses, venID: reg.venID };
    if (sendNow) {
      await this.sendChecked(created);
      await runAfter();
      return undefined;
    }
    this.pushAfter.set(created, runAfter);
    return created;
  }

  // ------------------------------------------------------------ reports

  private metadataReports(): OadrReport[] {
    const now = this.clock.now();
    return (this.o.reports ?? []).map((s) => ({
      eiReportID: this.ids(),
      descriptions: s.descriptions,
      reportRequestID: METADATA_REPORT_REQUEST_ID,
      reportSpecifierID: s.reportSpecifierID,
      reportName: (s.reportName.startsWith('x-') ? s.reportName : `METADATA_${s.reportName}`) as ReportName,
      createdDateTime: now,
    }));
  }

  /** §8.3.1: register our METADATA reports; start what the VTN requests in oadrRegisteredReport, confirm with oadrCreatedReport. */
  private async registerReports(): Promise<void> {
    const reg = this.need();
    // A new registration replaces the old one: the VTN ends the requests it made of the old
    // one and asks again, so reports started for them stop here.
    this.stopReports();
    const r = await this.request({ type: 'oadrRegisterReport', requestID: this.ids(), reports: this.metadataReports(), venID: reg.venID });
    if (r.type !== 'oadrRegisteredReport') throw err(OadrResponseCode.OTHER, `oadrRegisterReport answered with ${r.type}`);
    if (r.eiResponse.responseCode !== 200) throw err(r.eiResponse.responseCode, `report registration refused: ${r.eiResponse.responseDescription ?? ''}`);
    for (const rr of r.reportRequests) this.startReport(rr);
    if (r.reportRequests.length) await this.sendChecked(this.createdReport(this.ids()));
  }

  private createdReport(requestID: string): OadrMessage {
    const venID = this.reg?.venID;
    return { type: 'oadrCreatedReport', eiResponse: { responseCode: 200, requestID }, pendingReports: this.activeReports(), ...(venID ? { venID } : {}) };
  }

  private startReport(request: ReportRequest): void {
    const spec = request.reportSpecifier;
    const source = (this.o.reports ?? []).find((s) => s.reportSpecifierID === spec.reportSpecifierID);
    if (!source) {
      this.refused('report', err(OadrResponseCode.REPORT_NOT_SUPPORTED, `reportSpecifierID ${spec.reportSpecifierID.slice(0, 64)} is not one of ours`));
      return;
    }
    this.stopReport(request.reportRequestID, false);
    const a: ActiveReport = { request, source, samples: [], ticks: 0 };
    this.active.set(request.reportRequestID, a);
    this.persistReports();
    const granularity = Math.max(spec.granularity || 60_000, 1000);
    const perReport = spec.reportBackDuration > 0 ? Math.max(1, Math.round(spec.reportBackDuration / granularity)) : 1;
    const oneShot = spec.reportBackDuration <= 0;
    const tick = (): void => {
      if (!this.active.has(request.reportRequestID)) return;
      this.sample(a);
      a.ticks++;
      if (a.ticks % perReport === 0 || oneShot) {
        this.dueReports.add(a);
        this.requestReportSend();
      }
      if (oneShot) this.active.delete(request.reportRequestID);
      else a.timer = this.clock.setTimeout(tick, granularity);
    };
    a.timer = this.clock.setTimeout(tick, oneShot ? 0 : granularity);
  }

  /**
   * Queues the due reports into the outbox and sends it, as ONE task of the serial chain: while
   * such a task is waiting there, a report period that ends adds nothing (the waiting task takes
   * its samples too). Appending a task per period instead let the chain grow without bound
   * whenever sending took longer than the report period (a loaded machine, an accelerated
   * clock, a slow VTN): the poll iteration queued behind it waited longer and longer, so the
   * VEN stopped fetching new events while its reports still flowed (found by `erab demo`).
   */
  private requestReportSend(): void {
    if (this.reportSendQueued) return;
    this.reportSendQueued = true;
    void this.serial(async () => {
      this.reportSendQueued = false;
      const due = [...this.dueReports];
      this.dueReports.clear();
      for (const a of due) await this.queueReport(a);
      await this.flushOutbox().catch(() => {});
    }).catch(() => {});
  }

  private stopReport(id: string, persist = true): void {
    const a = this.active.get(id);
    a?.timer?.cancel();
    this.active.delete(id);
    if (a && persist) this.persistReports();
  }

  private sample(a: ActiveReport): void {
    const now = this.clock.now();
    const payloads: ReportPayload[] = [];
    for (const sp of a.request.reportSpecifier.specifierPayloads) {
      const v = a.source.read(sp.rID, now);
      if (v !== undefined) payloads.push({ rID: sp.rID, value: v });
    }
    if (payloads.length) a.samples.push({ t: now, payloads });
  }

  /** Turns collected samples into an oadrUpdateReport in the durable outbox (sent by flushOutbox). */
  private async queueReport(a: ActiveReport): Promise<void> {
    if (!a.samples.length || !this.reg) return;
    const g = Math.max(a.request.reportSpecifier.granularity || 60_000, 1000);
    const intervals: ReportInterval[] = a.samples.map((s, i) => ({ dtstart: s.t, duration: g as Millis, uid: String(i), payloads: s.payloads }));
    const first = a.samples[0] as { t: EpochMillis };
    const last = a.samples[a.samples.length - 1] as { t: EpochMillis };
    a.samples = [];
    const report: OadrReport = {
      dtstart: first.t,
      duration: (last.t - first.t + g) as Millis,
      intervals,
      eiReportID: this.ids(),
      reportRequestID: a.request.reportRequestID,
      reportSpecifierID: a.request.reportSpecifier.reportSpecifierID,
      reportName: a.source.reportName,
      createdDateTime: this.clock.now(),
    };
    await this.outbox.add({ message: { type: 'oadrUpdateReport', requestID: this.ids(), reports: [report], venID: this.reg.venID } });
  }

  /**
   * Sends what the outbox holds, each report stream in order and on its own: a report the VTN
   * fails backs off its stream only (report-delivery.ts), and a timer brings it back when due.
   * Rejects when the VTN cannot be reached (everything is kept for later).
   */
  async flushOutbox(): Promise<void> {
    if (this.flushing || !this.reg) return;
    this.flushing = true;
    try {
      await this.delivery.flush();
    } finally {
      this.flushing = false;
      this.scheduleReportRetry();
    }
  }

  private scheduleReportRetry(): void {
    this.reportRetryTimer?.cancel();
    this.reportRetryTimer = undefined;
    const at = this.delivery.nextRetryAt();
    if (at === undefined || this.halted) return;
    this.reportRetryTimer = this.clock.setTimeout(() => {
      this.reportRetryTimer = undefined;
      this.requestReportSend();
    }, Math.max(0, at - this.clock.now()));
  }

  // ------------------------------------------------------------ wire

  /** Signs when we asked for signatures, or when answering a signed push (`signedRequest`). */
  private serialize(m: OadrMessage, service: ServiceName, signedRequest = false): string {
    const unsigned = encodePayload(m);
    const xml = (this.o.xmlSignature || signedRequest) && this.o.signingKey ? signXml(unsigned, this.o.signingKey, { clock: this.clock }) : unsigned;
    this.o.onXml?.('out', service, xml);
    return xml;
  }

  /** Decodes and checks a payload from the VTN; `seen.signed` tells, as soon as it is parsed, whether it carried a signature. */
  private async decodeFromVtn(body: Buffer | string, service: ServiceName, seen?: { signed: boolean }): Promise<OadrMessage> {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    this.o.onXml?.('in', service, text);
    const d = decodePayload(text, this.limits, `reply from VTN ${service}`);
    if (seen) seen.signed = d.hasSignature;
    const mode = this.o.signatureMode ?? 'optional';
    if (this.o.checkDistribute && d.message.type === 'oadrDistributeEvent') {
      // The caller's guard decides (and keeps the replay state); it gets our verification.
      this.distributes.set(d.message, { rawXml: text, signature: this.distributeSignature(text, d) });
    } else if (mode !== 'off') {
      if (d.hasSignature) {
        if (!this.o.vtnCertificatePem) throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, 'signed payload but no VTN certificate configured');
        const v = verifyPayload(text, { signerCertificatePem: this.o.vtnCertificatePem, clock: this.clock, nonces: this.nonces, limits: this.limits, decoded: d, ...(this.o.signatureWindowMs !== undefined ? { windowMs: this.o.signatureWindowMs } : {}) });
        await confirmNonce(this.nonces, v.nonce);
      } else if (mode === 'required') throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, 'XML signature required from the VTN');
    }
    if ('venID' in d.message && d.message.venID !== undefined && this.reg && d.message.venID !== this.reg.venID) {
      throw err(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, `payload for venID ${d.message.venID.slice(0, 64)}, we are ${this.reg.venID}`);
    }
    return d.message;
  }

  /** Verifies a distribute's signature against the VTN's certificate without consuming its nonce. */
  private distributeSignature(text: string, d: ReturnType<typeof decodePayload>): VenSignatureCheck {
    if (!d.hasSignature) return { ok: false, kind: 'missing', reason: 'no ds:Signature' };
    if (!this.o.vtnCertificatePem) return { ok: false, kind: 'invalid', reason: 'signed payload but no VTN certificate configured' };
    try {
      const v = verifyPayload(text, { signerCertificatePem: this.o.vtnCertificatePem, clock: this.clock, nonces: new NonceCache(1), windowMs: Number.MAX_SAFE_INTEGER, limits: this.limits, decoded: d });
      return { ok: true, fingerprint: v.signer.fingerprint, nonce: v.nonce, timestamp: v.timestamp };
    } catch (e) {
      return { ok: false, kind: 'invalid', reason: (e as Error).message };
    }
  }

  /** POSTs a payload to its service and decodes the reply. */
  private async request(m: OadrMessage): Promise<OadrMessage> {
    const service = SERVICE_OF[m.type];
    const body = await this.o.transport.post(service, this.serialize(m, service));
    return this.decodeFromVtn(body, service);
  }

  private refused(where: string, e: unknown): void {
    this.audit.append({
      actor: { kind: 'system', id: this.reg?.venID ?? this.o.venName },
      action: 'openadr.ven.refused',
      target: where,
      outcome: 'refused',
      reason: (e instanceof Error ? e.message : String(e)).slice(0, 300),
      details: { responseCode: e instanceof OadrError ? e.responseCode : undefined },
    });
  }
}
