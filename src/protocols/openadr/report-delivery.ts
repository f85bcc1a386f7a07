/**
 * Delivery of the VEN's queued reports (oadrUpdateReport, OpenADR 2.0b §8.3) from its durable
 * outbox, one stream per report request, each stream retrying on its own.
 *
 * Why streams: the outbox is one FIFO. Sending it strictly in order let one report the VTN keeps
 * failing (HTTP 500 for one report specifier) sit at the head and block every other report behind
 * it, while each flush trigger re-sent it at once (measured: 14 sends in 12 s, one TELEMETRY_USAGE
 * delivered where five were due). Here a failure holds back only its own stream:
 *
 * - **Stream** = the report request (reportRequestID). Order is kept within a stream; streams are
 *   independent.
 * - **Back-off**: after the VTN failed a stream's report, that stream waits
 *   `min(maxMs, initialMs × 2^(failures−1)) × (0.5 + random/2)` ("equal jitter", as the VEN's poll
 *   loop) before its next attempt; a success resets it.
 * - **Budget** per report instance: at most `maxAttempts` failed attempts, and no attempt once it is
 *   older than `maxAgeMs` (from its createdDateTime). Then it is given up: acknowledged out of the
 *   outbox and audited (`openadr.ven.report-given-up`).
 *
 * What counts as a failure of the report: the VTN was reached but did not take it — an HTTP error
 * status (the transport rejects with an OadrError) or a reply we could not accept. A failure to
 * reach the VTN at all (refused connection, reset, timeout: plain errors) is the link's, not the
 * report's: the pass stops, nothing is charged to any budget, the outbox keeps everything, and the
 * error goes to the caller (the VEN's poll loop backs off). So a VTN outage loses no report.
 * A refusal in eiResponse (a 4xx code in a 200 reply) is final, as before: retrying would be
 * refused again.
 *
 * Back-off state lives in memory: after a restart every stream starts afresh (the instances are
 * still in the durable outbox, and their age budget still applies).
 */
import type { Clock } from '../../core/clock.js';
import type { EpochMillis } from '../../core/units.js';
import type { OadrAuditSink } from './audit.js';
import { OadrError } from './errors.js';
import type { OadrMessage } from './payload.js';
import type { VenOutbox, VenOutboxItem } from './ven.js';

/** How one report stream retries after the VTN failed to take one of its reports. */
export interface ReportRetryPolicy {
  /** Back-off after a stream's first failure, ms (doubles with each further failure). */
  initialMs: number;
  /** Longest back-off, ms. */
  maxMs: number;
  /** Failed attempts after which one report instance is given up. */
  maxAttempts: number;
  /** Age (from the report's createdDateTime) after which a failing report is given up, ms. */
  maxAgeMs: number;
}

/** Defaults: 2 s doubling to 5 min, 8 attempts or 1 hour per report. */
export const DEFAULT_REPORT_RETRY: ReportRetryPolicy = { initialMs: 2_000, maxMs: 300_000, maxAttempts: 8, maxAgeMs: 3_600_000 };

export interface ReportDeliveryOptions {
  outbox: VenOutbox;
  clock: Clock;
  /** Jitter source in [0, 1). */
  random: () => number;
  audit: OadrAuditSink;
  /** Who we are in audit records (the venID once registered). */
  actor: () => string;
  policy?: Partial<ReportRetryPolicy>;
  /** POSTs one payload and decodes the reply; rejects with an OadrError when the VTN answered badly. */
  send: (m: OadrMessage) => Promise<OadrMessage>;
  /** Called with the VTN's reply to a delivered item (refusals in eiResponse included). */
  onReply: (item: VenOutboxItem, reply: OadrMessage) => void;
}

interface StreamState {
  /** Consecutive failures of this stream (drives the back-off). */
  failures: number;
  /** No attempt before this instant. */
  retryAt: EpochMillis;
}

/** Items looked at per pass; a failing stream's backlog is bounded by its age budget. */
const WINDOW = 256;

/**
 * The report stream an outbox item belongs to: its report request (one oadrUpdateReport carries
 * the reports of one request, see Ven.queueReport).
 */
export function reportStreamOf(m: OadrMessage): string {
  if (m.type === 'oadrUpdateReport') {
    const r = m.reports[0];
    if (r) return `report:${r.reportRequestID}`;
  }
  return `type:${m.type}`;
}

/**
 * Sends the outbox with per-stream back-off and budgets (see the module comment).
 * @example
 * const d = new ReportDelivery({ outbox, clock, random: Math.random, audit, actor: () => venID,
 *   send: (m) => ven.request(m), onReply: () => {} });
 * await d.flush();
 * const next = d.nextRetryAt(); // schedule the next pass then
 */
export class ReportDelivery {
  private readonly o: ReportDeliveryOptions;
  readonly policy: ReportRetryPolicy;
  private readonly streams = new Map<string, StreamState>();
  /** Failed attempts per outbox seq. */
  private readonly attempts = new Map<number, number>();
  /** Streams that still had items waiting for their back-off after the last pass. */
  private waiting = new Set<string>();

  constructor(opts: ReportDeliveryOptions) {
    this.o = opts;
    this.policy = { ...DEFAULT_REPORT_RETRY, ...opts.policy };
    const p = this.policy;
    for (const k of ['initialMs', 'maxMs', 'maxAttempts', 'maxAgeMs'] as const) {
      if (!(p[k] > 0) || !Number.isFinite(p[k])) throw new RangeError(`reportRetry.${k} must be a positive number, got ${p[k]}`);
    }
    if (p.maxMs < p.initialMs) throw new RangeError(`reportRetry.maxMs (${p.maxMs}) must not be below reportRetry.initialMs (${p.initialMs})`);
  }

  /**
   * One delivery pass: every stream not backing off sends its items in order until one fails.
   * Rejects (after stopping) only when the VTN could not be reached; nothing is lost then.
   */
  async flush(): Promise<void> {
    let waiting = new Set<string>();
    try {
      for (;;) {
        waiting = new Set<string>();
        const batch = await this.o.outbox.peek(WINDOW);
        const blocked = new Set<string>();
        let progressed = false;
        for (const { seq, item } of batch) {
          const key = reportStreamOf(item.message);
          const st = this.streams.get(key);
          const now = this.o.clock.now();
          if (blocked.has(key) || (st && st.retryAt > now)) {
            blocked.add(key);
            // A failing stream's backlog is bounded by the age budget, attempted or not.
            if (st && this.ageOf(item, now) >= this.policy.maxAgeMs) {
              await this.giveUp(key, seq, item, this.attempts.get(seq) ?? 0, 'older than the age budget while its stream was failing');
              progressed = true;
            } else if (st) waiting.add(key);
            continue;
          }
          let reply: OadrMessage;
          try {
            reply = await this.o.send(item.message);
          } catch (e) {
            if (!(e instanceof OadrError)) throw e; // the link, not the report: keep everything
            blocked.add(key);
            if (await this.failed(key, seq, item, e)) progressed = true;
            else waiting.add(key);
            continue;
          }
          this.streams.delete(key);
          this.attempts.delete(seq);
          waiting.delete(key);
          await this.o.outbox.ack([seq]);
          progressed = true;
          this.o.onReply(item, reply);
        }
        if (!progressed) break;
      }
    } finally {
      this.waiting = waiting;
    }
  }

  /** When the next pass has something to retry (undefined: no stream is waiting). */
  nextRetryAt(): EpochMillis | undefined {
    let at: number | undefined;
    for (const key of this.waiting) {
      const st = this.streams.get(key);
      if (st && (at === undefined || st.retryAt < at)) at = st.retryAt;
    }
    return at as EpochMillis | undefined;
  }

  /** Back-off state of the streams currently failing (operators, tests). */
  failingStreams(): { stream: string; failures: number; retryAt: EpochMillis }[] {
    return [...this.streams].map(([stream, s]) => ({ stream, failures: s.failures, retryAt: s.retryAt }));
  }

  private ageOf(item: VenOutboxItem, now: number): number {
    const m = item.message;
    const created = m.type === 'oadrUpdateReport' ? m.reports[0]?.createdDateTime : undefined;
    return created === undefined ? 0 : now - created;
  }

  /** Charges a failure to the stream and the instance; true when the instance was given up. */
  private async failed(key: string, seq: number, item: VenOutboxItem, e: OadrError): Promise<boolean> {
    const now = this.o.clock.now();
    const p = this.policy;
    const st = this.streams.get(key) ?? { failures: 0, retryAt: now };
    st.failures++;
    const delay = Math.min(p.maxMs, p.initialMs * 2 ** Math.min(st.failures - 1, 30)) * (0.5 + this.o.random() / 2);
    st.retryAt = (now + delay) as EpochMillis;
    this.streams.set(key, st);
    const attempts = (this.attempts.get(seq) ?? 0) + 1;
    const age = this.ageOf(item, now);
    if (attempts >= p.maxAttempts || age >= p.maxAgeMs) {
      await this.giveUp(key, seq, item, attempts, e.message);
      return true;
    }
    this.attempts.set(seq, attempts);
    this.o.audit.append({
      actor: { kind: 'system', id: this.o.actor() },
      action: 'openadr.ven.report-retry',
      target: key,
      outcome: 'failure',
      reason: e.message.slice(0, 200),
      details: { attempts, streamFailures: st.failures, delayMs: Math.round(delay) },
    });
    return false;
  }

  private async giveUp(key: string, seq: number, item: VenOutboxItem, attempts: number, reason: string): Promise<void> {
    const m = item.message;
    const r = m.type === 'oadrUpdateReport' ? m.reports[0] : undefined;
    this.attempts.delete(seq);
    await this.o.outbox.ack([seq]);
    this.o.audit.append({
      actor: { kind: 'system', id: this.o.actor() },
      action: 'openadr.ven.report-given-up',
      target: key,
      outcome: 'failure',
      reason: reason.slice(0, 200),
      details: {
        attempts,
        ageMs: Math.round(this.ageOf(item, this.o.clock.now())),
        ...(r ? { eiReportID: r.eiReportID, reportRequestID: r.reportRequestID, reportSpecifierID: r.reportSpecifierID } : {}),
      },
    });
  }
}
