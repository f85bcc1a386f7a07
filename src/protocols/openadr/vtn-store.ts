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
  /** Set when the VTN asked the VEN to cancel (oadrCancelPartyRegistration); removed when the VEN confirms. */
  cancelling?: boolean;
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

/**
 * An entry of a VEN's poll queue. A distribute marker is expanded at delivery time, so a VEN
 * always gets the current event list; `events` holds the modification number of each event it
 * announces, so a worker whose event cache is older reloads those events first.
 */
export type PendingEntry = { kind: 'distributeEvent'; events?: Record<string, number> } | { kind: 'message'; message: OadrMessage };

/**
 * A lease on queue entries: taken by one worker (`owner`) until `until` (epoch ms). Entries are
 * leased when a poll takes them and deleted when the answer has gone out (confirm); a worker
 * that dies leaves its leases to expire, and the entries are delivered again.
 */
export interface QueueLease {
  owner: string;
  now: number;
  until: number;
}

/** What one poll took from a VEN's queue: the head entry, plus, for a distribute marker, every other distribute marker (one answer satisfies them all). */
export interface ClaimedEntry {
  seqs: number[];
  entry: PendingEntry;
}

/**
 * Change hints between processes that share one store (PostgreSQL LISTEN/NOTIFY, see
 * src/store/wake.ts; the store's StoreWake satisfies this). A hint never carries data.
 */
export interface VtnWake {
  notify(channel: string, payload?: string): Promise<void>;
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
}

export interface VtnStore {
  listRegistrations(): Promise<VenRegistration[]>;
  /** The registration bound to a certificate fingerprint, if any. */
  registrationByFingerprint(fingerprint: string): Promise<VenRegistration | undefined>;
  getRegistration(venID: string): Promise<VenRegistration | undefined>;
  /** Every registered venID (fan-out to all, without loading the documents). */
  listVenIDs(): Promise<string[]>;
  putRegistration(r: VenRegistration): Promise<void>;
  deleteRegistration(venID: string): Promise<void>;

  listEvents(): Promise<StoredEvent[]>;
  putEvent(e: StoredEvent): Promise<void>;
  getEvent(eventID: string): Promise<StoredEvent | undefined>;

  putEventOpt(o: EventOpt): Promise<void>;
  listEventOpts(eventID: string): Promise<EventOpt[]>;

  /** Replaces the METADATA reports a VEN registered. */
  putReportRegistration(venID: string, reports: OadrReport[]): Promise<void>;
  listReportRegistrations(venID: string): Promise<OadrReport[]>;
  putReportRequest(r: StoredReportRequest): Promise<void>;
  /** One VEN's report requests, or every VEN's when venID is undefined. */
  listReportRequests(venID?: string): Promise<StoredReportRequest[]>;
  deleteReportRequests(venID: string, reportRequestIDs: string[]): Promise<void>;
  /**
   * Persists one received report (oadrUpdateReport) with its reception time, once per
   * (VEN, eiReportID): a VEN resends a report whose answer it did not get (a lost reply, a
   * restarted database) with the same id. Resolves false when that report was already stored.
   */
  appendReport(venID: string, report: OadrReport, receivedAt: EpochMillis): Promise<boolean>;
  listReports(venID: string, reportRequestID?: string): Promise<OadrReport[]>;

  putOpt(opt: OadrCreateOpt): Promise<void>;
  deleteOpt(venID: string, optID: string): Promise<boolean>;
  listOpts(venID: string): Promise<OadrCreateOpt[]>;

  /** Appends to a VEN's poll queue; returns its sequence number. */
  enqueue(venID: string, entry: PendingEntry): Promise<number>;
  /** Appends the same entry to many VENs' queues (event fan-out), in bounded statements. */
  enqueueMany(venIDs: readonly string[], entry: PendingEntry): Promise<void>;
  /**
   * Takes the oldest unleased entry of a VEN's queue under `lease` — atomically, so two workers
   * answering two polls of one VEN at once never take the same entry — plus, when it is a
   * distribute marker, every other unleased distribute marker of that VEN.
   */
  claim(venID: string, lease: QueueLease): Promise<ClaimedEntry | undefined>;
  /** Deletes delivered entries that `owner` still holds. */
  confirm(venID: string, seqs: readonly number[], owner: string): Promise<void>;
  /** Gives entries back (the delivery failed) so the next poll takes them. */
  release(venID: string, seqs: readonly number[], owner: string): Promise<void>;
  /** Removes delivered entries whatever their lease (and a VEN's whole queue when seqs is undefined). */
  ack(venID: string, seqs?: number[]): Promise<void>;
  /** Entries in a VEN's queue (leased or not). */
  countPending(venID: string): Promise<number>;
  /** VENs with an entry that a poll could take now (unleased or lease expired). */
  pendingVens(now: number): Promise<string[]>;
  /** Every VEN's queue, oldest first. */
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
  private queue: { venID: string; seq: number; entry: PendingEntry; lease?: { owner: string; until: number } }[] = [];
  private seq = 0;

  async listRegistrations(): Promise<VenRegistration[]> { return [...this.regs.values()].map((r) => structuredClone(r)); }
  async registrationByFingerprint(fp: string): Promise<VenRegistration | undefined> {
    for (const r of this.regs.values()) if (r.fingerprint === fp) return structuredClone(r);
    return undefined;
  }
  async getRegistration(venID: string): Promise<VenRegistration | undefined> {
    const r = this.regs.get(venID);
    return r ? structuredClone(r) : undefined;
  }
  async listVenIDs(): Promise<string[]> { return [...this.regs.keys()]; }
  async getEvent(eventID: string): Promise<StoredEvent | undefined> {
    const e = this.events.get(eventID);
    return e ? structuredClone(e) : undefined;
  }
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
  async listReportRequests(venID?: string): Promise<StoredReportRequest[]> { return [...this.requests.values()].filter((r) => venID === undefined || r.venID === venID).map((r) => structuredClone(r)); }
  async deleteReportRequests(venID: string, ids: string[]): Promise<void> { for (const id of ids) this.requests.delete(`${venID}\u0000${id}`); }
  async appendReport(venID: string, report: OadrReport): Promise<boolean> {
    if (report.eiReportID !== undefined && this.reports.some((r) => r.venID === venID && r.report.eiReportID === report.eiReportID)) return false;
    this.reports.push({ venID, report: structuredClone(report) });
    return true;
  }
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
  async enqueueMany(venIDs: readonly string[], entry: PendingEntry): Promise<void> {
    for (const venID of venIDs) await this.enqueue(venID, entry);
  }
  async claim(venID: string, lease: QueueLease): Promise<ClaimedEntry | undefined> {
    const free = (q: (typeof this.queue)[number]) => q.venID === venID && (!q.lease || q.lease.until < lease.now);
    const head = this.queue.find(free);
    if (!head) return undefined;
    const taken = head.entry.kind === 'distributeEvent' ? this.queue.filter((q) => free(q) && q.entry.kind === 'distributeEvent') : [head];
    for (const q of taken) q.lease = { owner: lease.owner, until: lease.until };
    return { seqs: taken.map((q) => q.seq), entry: structuredClone(head.entry.kind === 'distributeEvent' ? mergeDistribute(taken.map((q) => q.entry)) : head.entry) };
  }
  async confirm(venID: string, seqs: readonly number[], owner: string): Promise<void> {
    const s = new Set(seqs);
    this.queue = this.queue.filter((q) => !(q.venID === venID && s.has(q.seq) && q.lease?.owner === owner));
  }
  async release(venID: string, seqs: readonly number[], owner: string): Promise<void> {
    const s = new Set(seqs);
    for (const q of this.queue) if (q.venID === venID && s.has(q.seq) && q.lease?.owner === owner) delete q.lease;
  }
  async ack(venID: string, seqs?: number[]): Promise<void> {
    const s = seqs && new Set(seqs);
    this.queue = this.queue.filter((q) => !(q.venID === venID && (!s || s.has(q.seq))));
  }
  async countPending(venID: string): Promise<number> { return this.queue.filter((q) => q.venID === venID).length; }
  async pendingVens(now: number): Promise<string[]> {
    return [...new Set(this.queue.filter((q) => !q.lease || q.lease.until < now).map((q) => q.venID))];
  }
  async listPending(): Promise<{ venID: string; seq: number; entry: PendingEntry }[]> { return this.queue.map(({ venID, seq, entry }) => ({ venID, seq, entry })); }
}

/** One distribute marker standing for several: the highest modification number of each event. */
export function mergeDistribute(entries: readonly PendingEntry[]): PendingEntry {
  const events: Record<string, number> = {};
  for (const e of entries) {
    if (e.kind !== 'distributeEvent') continue;
    for (const [id, n] of Object.entries(e.events ?? {})) events[id] = Math.max(events[id] ?? -1, n);
  }
  return { kind: 'distributeEvent', events };
}
