/**
 * What a VTN must remember, as an interface: registrations (venID bound to a certificate
 * fingerprint), events with their opt state, report registrations / requests / data, opt
 * schedules, and the per-VEN queue of payloads waiting for a poll. The protocol code depends on
 * this interface only; `src/endpoints/openadr/` implements it on the SQLite/PostgreSQL data layer and
 * `MemoryVtnStore` serves tests and embedded use.
 */
import type { EpochMillis } from '../../core/units.js';
import type { OptType, OadrEvent } from './event.js';
import type { OadrCreateOpt } from './opt.js';
import type { OadrMessage } from './payload.js';
import type { OadrReport, ReportRequest } from './report.js';

export interface VenRegistration {
  venID: string;
  registrationID: string;
  /** OpenADR fingerprint of the certificate this VEN is bound to (colon-separated hex). */
  fingerprint: string;
  venName?: string;
  /** Push endpoint base URL; absent in pull mode. */
  transportAddress?: string;
  httpPullModel: boolean;
  xmlSignature: boolean;
  reportOnly: boolean;
  registeredAt: EpochMillis;
}

/** An event as the VTN keeps it: the event plus the VENs it was sent to. */
export interface StoredEvent {
  event: OadrEvent;
  venIDs: string[];
  cancelled: boolean;
}

/** One VEN's answer to one event (from oadrCreatedEvent or an event oadrCreateOpt). */
export interface EventOpt {
  venID: string;
  eventID: string;
  modificationNumber: number;
  optType: OptType;
  at: EpochMillis;
}

export type ReportRequestState = 'requested' | 'active' | 'cancelled';

export interface StoredReportRequest {
  venID: string;
  request: ReportRequest;
  state: ReportRequestState;
  /** Which side produces the data: 'ven' (we asked the VEN) or 'vtn' (the VEN asked us). */
  producer: 'ven' | 'vtn';
}

/** An entry of a VEN's poll queue. A distribute marker is expanded at delivery time, so a VEN always gets the current event list. */
export type PendingEntry = { kind: 'distributeEvent' } | { kind: 'message'; message: OadrMessage };

export interface VtnStore {
  listRegistrations(): Promise<VenRegistration[]>;
  putRegistration(r: VenRegistration): Promise<void>;
  deleteRegistration(venID: string): Promise<void>;

  listEvents(): Promise<StoredEvent[]>;
  putEvent(e: StoredEvent): Promise<void>;

  putEventOpt(o: EventOpt): Promise<void>;
  listEventOpts(eventID: string): Promise<EventOpt[]>;

  /** Replaces the METADATA reports a VEN registered. */
  putReportRegistration(venID: string, reports: OadrReport[]): Promise<void>;
  listReportRegistrations(venID: string): Promise<OadrReport[]>;
  putReportRequest(r: StoredReportRequest): Promise<void>;
  listReportRequests(venID: string): Promise<StoredReportRequest[]>;
  deleteReportRequests(venID: string, reportRequestIDs: string[]): Promise<void>;
  /** Persists one received report (oadrUpdateReport) with its reception time. */
  appendReport(venID: string, report: OadrReport, receivedAt: EpochMillis): Promise<void>;
  listReports(venID: string, reportRequestID?: string): Promise<OadrReport[]>;

  putOpt(opt: OadrCreateOpt): Promise<void>;
  deleteOpt(venID: string, optID: string): Promise<boolean>;
  listOpts(venID: string): Promise<OadrCreateOpt[]>;

  /** Appends to a VEN's poll queue; returns its sequence number. */
  enqueue(venID: string, entry: PendingEntry): Promise<number>;
  /** Removes delivered entries. */
  ack(venID: string, seqs: number[]): Promise<void>;
  /** Every VEN's queue, oldest first (loaded once at start into the in-memory hot path). */
  listPending(): Promise<{ venID: string; seq: number; entry: PendingEntry }[]>;
}

/** A VtnStore in memory (tests, benchmarks, embedded use without persistence). */
export class MemoryVtnStore implements VtnStore {
  private regs = new Map<string, VenRegistration>();
  private events = new Map<string, StoredEvent>();
  private opts = new Map<string, EventOpt[]>();
  private reportRegs = new Map<string, OadrReport[]>();
  private requests = new Map<string, StoredReportRequest>();
  private reports: { venID: string; report: OadrReport }[] = [];
  private optSchedules = new Map<string, OadrCreateOpt>();
  private queue: { venID: string; seq: number; entry: PendingEntry }[] = [];
  private seq = 0;

  async listRegistrations(): Promise<VenRegistration[]> { return [...this.regs.values()]; }
  async putRegistration(r: VenRegistration): Promise<void> { this.regs.set(r.venID, structuredClone(r)); }
  async deleteRegistration(venID: string): Promise<void> { this.regs.delete(venID); }
  async listEvents(): Promise<StoredEvent[]> { return [...this.events.values()].map((e) => structuredClone(e)); }
  async putEvent(e: StoredEvent): Promise<void> { this.events.set(e.event.descriptor.eventID, structuredClone(e)); }
  async putEventOpt(o: EventOpt): Promise<void> {
    const list = (this.opts.get(o.eventID) ?? []).filter((x) => x.venID !== o.venID);
    list.push({ ...o });
    this.opts.set(o.eventID, list);
  }
  async listEventOpts(eventID: string): Promise<EventOpt[]> { return [...(this.opts.get(eventID) ?? [])]; }
  async putReportRegistration(venID: string, reports: OadrReport[]): Promise<void> { this.reportRegs.set(venID, structuredClone(reports)); }
  async listReportRegistrations(venID: string): Promise<OadrReport[]> { return structuredClone(this.reportRegs.get(venID) ?? []); }
  async putReportRequest(r: StoredReportRequest): Promise<void> { this.requests.set(`${r.venID}\u0000${r.request.reportRequestID}`, structuredClone(r)); }
  async listReportRequests(venID: string): Promise<StoredReportRequest[]> { return [...this.requests.values()].filter((r) => r.venID === venID); }
  async deleteReportRequests(venID: string, ids: string[]): Promise<void> { for (const id of ids) this.requests.delete(`${venID}\u0000${id}`); }
  async appendReport(venID: string, report: OadrReport): Promise<void> { this.reports.push({ venID, report: structuredClone(report) }); }
  async listReports(venID: string, reportRequestID?: string): Promise<OadrReport[]> {
    return this.reports.filter((r) => r.venID === venID && (reportRequestID === undefined || r.report.reportRequestID === reportRequestID)).map((r) => r.report);
  }
  async putOpt(opt: OadrCreateOpt): Promise<void> { this.optSchedules.set(`${opt.venID}\u0000${opt.optID}`, structuredClone(opt)); }
  async deleteOpt(venID: string, optID: string): Promise<boolean> { return this.optSchedules.delete(`${venID}\u0000${optID}`); }
  async listOpts(venID: string): Promise<OadrCreateOpt[]> { return [...this.optSchedules.values()].filter((o) => o.venID === venID); }
  async enqueue(venID: string, entry: PendingEntry): Promise<number> {
    const seq = ++this.seq;
    this.queue.push({ venID, seq, entry: structuredClone(entry) });
    return seq;
  }
  async ack(venID: string, seqs: number[]): Promise<void> {
    const s = new Set(seqs);
    this.queue = this.queue.filter((q) => !(q.venID === venID && s.has(q.seq)));
  }
  async listPending(): Promise<{ venID: string; seq: number; entry: PendingEntry }[]> { return [...this.queue]; }
}
