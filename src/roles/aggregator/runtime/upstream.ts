/**
 * One upstream relationship (R1 TSO simple dispatch system, R2 retailer, R3 aggregation
 * coordinator): an OpenADR 2.0b VEN with its own client certificate that registers with the
 * party's VTN, answers its events through intake + the dispatch engine, reports delivered
 * power as TELEMETRY_USAGE at the interval the party's report request asks, and sends its
 * availability as an opt schedule (oadrCreateOpt with vavailability) after registering.
 *
 * TELEMETRY_USAGE data points we offer (itemBase powerReal, W):
 *   delivered  reportType deltaUsage, readingType Net: change of the participating resources'
 *              net consumption against their pre-event baseline, signed like the event's
 *              LOAD_DISPATCH delta (a 60 kW reduction delivered is −60000)
 *   usage      reportType usage, readingType Summed: their actual net consumption
 *   baseline   reportType baseline, readingType Summed: their baseline (pre-event measurement)
 * Outside events all three are 0; while a running event has no fresh telemetry (just after a
 * restart or takeover) the interval carries no data point.
 */
import type { LogFn } from '../../../core/logger.js';
import type { Clock } from '../../../core/clock.js';
import { epochMillis, millis } from '../../../core/units.js';
import type { OptType } from '../../../protocols/openadr/event.js';
import type { OadrTransport } from '../../../protocols/openadr/http.js';
import type { ReportDescription } from '../../../protocols/openadr/report.js';
import type { Ven, VenEventAnswer, VenEventInfo } from '../../../protocols/openadr/ven.js';
import { startVenEndpoint, type RunningVen } from '../../../endpoints/openadr/ven-endpoint.js';
import type { AuditLog } from '../../../security/audit/log.js';
import type { AuditSink } from '../../../security/audit/types.js';
import { startUpstreamWitnessing } from '../../common/witnessing.js';
import type { TlsMaterial } from '../../../security/tls.js';
import type { Store } from '../../../store/store.js';
import type { UpstreamPartyConfig } from './config.js';
import type { DispatchEngine } from './engine.js';
import { planFromEvent } from './intake.js';

const PROFILE = { tso: 'R1', retailer: 'R2', coordinator: 'R3' } as const;

export interface UpstreamOptions {
  party: UpstreamPartyConfig;
  aggregatorId: string;
  material: TlsMaterial;
  engine: DispatchEngine;
  clock: Clock;
  audit: AuditSink;
  /** Smallest reporting period we offer, ms (the party asks its own in the report request). */
  reportMinPeriodMs: number;
  /**
   * The aggregator's store: the VEN's registration, report outbox and the party's accepted
   * signature nonces live there, under `<aggregatorId>:<party>` (they survive restarts).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  store: Store<any>;
  /** Tests: a transport instead of HTTPS to `party.vtnUrl`. */
  transport?: OadrTransport;
  /**
   * Our own audit log, whose checkpoints the party witnesses every `witnessIntervalMs` (never more
   * often than `reportMinPeriodMs`); without it, or with 0, nothing is witnessed.
   */
  auditLog?: AuditLog | undefined;
  witnessIntervalMs?: number;
  log?: LogFn;
}

/** Our decision on an event (the engine's answer) as the VEN sends it: opt, code, reason. */
function eventAnswer(d: { optType: OptType; code: number; reason?: string | undefined }): VenEventAnswer {
  return { optType: d.optType, responseCode: d.code, ...(d.reason ? { responseDescription: d.reason } : {}) };
}

/** Status of one upstream party for the operator's view. */
export interface UpstreamStatus {
  name: string;
  kind: string;
  registered: boolean;
  venId?: string | undefined;
  vtnId?: string | undefined;
  activeReports: number;
  events: { eventId: string; modificationNumber: number; optType: string }[];
}

/**
 * @example
 *   const up = new UpstreamParty({ party, aggregatorId: 'AGG1', material, engine, clock, audit, reportMinPeriodMs: 60_000 });
 *   await up.start();
 */
export class UpstreamParty {
  private endpoint: RunningVen | undefined;
  private witnessing: ReturnType<typeof startUpstreamWitnessing> | undefined;

  constructor(private readonly o: UpstreamOptions) {}

  /** The VEN (after open or start). Its event state is the one record of the party's events. */
  get ven(): Ven {
    if (!this.endpoint) throw new Error(`upstream VEN for ${this.o.party.name} is not open`);
    return this.endpoint.ven;
  }

  /** Builds the VEN endpoint (src/endpoints/openadr) without starting its loop. */
  async open(): Promise<void> {
    if (this.endpoint) return;
    const o = this.o;
    const p = o.party;
    const period = { minPeriod: millis(o.reportMinPeriodMs), maxPeriod: millis(3_600_000), onChange: false };
    const item = { kind: 'powerReal' as const, itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'none' as const, powerAttributes: { hertz: 50, voltage: 100, ac: true } };
    const descriptions: ReportDescription[] = [
      { rID: 'delivered', reportType: 'deltaUsage', readingType: 'Net', itemBase: item, samplingRate: period },
      { rID: 'usage', reportType: 'usage', readingType: 'Summed', itemBase: item, samplingRate: period },
      { rID: 'baseline', reportType: 'baseline', readingType: 'Summed', itemBase: item, samplingRate: period },
    ];
    const transport = o.transport;
    this.endpoint = await startVenEndpoint({
      venName: p.venName ?? o.aggregatorId,
      vtnUrl: p.vtnUrl, material: o.material, profile: PROFILE[p.kind], expectVtn: p.expect, audit: o.audit, timeoutMs: 15_000,
      store: o.store, scope: `${o.aggregatorId}:${p.name}`, clock: o.clock, autoStart: false,
      ...(transport ? { transport } : {}),
      ven: {
        reports: [{
          reportSpecifierID: `${o.aggregatorId}-${p.name}-telemetry`,
          reportName: 'TELEMETRY_USAGE',
          descriptions,
          read: (rID, now) => this.read(rID, now),
        }],
        onEvent: (info) => this.onEvent(info),
        onEventCancelled: (eventID) => {
          void o.engine.cancel(`${p.name}/${eventID}`).catch(() => {});
        },
        onRegistered: (s) => {
          o.log?.('registered upstream', { party: p.name, venId: s.venID, vtnId: s.vtnID });
          o.audit.append({ actor: { kind: 'system', id: o.aggregatorId }, action: 'aggregator.upstream.register', target: `${p.name}:${s.vtnID}`, outcome: 'success', details: { venID: s.venID } });
          // Availability after registration (opt schedule): available from now for the next 24 h.
          o.clock.setTimeout(() => { void this.publishAvailability(24 * 3_600_000).catch((e: unknown) => o.log?.('availability not sent', { party: p.name, error: String(e) }, 'warn')); }, 0);
        },
        backoff: { initialMs: Math.min(1000, p.pollIntervalMs), maxMs: 60_000 },
      },
    });
  }

  async start(): Promise<void> {
    await this.open();
    await this.endpoint!.start();
    const o = this.o;
    if (o.auditLog && o.witnessIntervalMs && !o.transport) {
      this.witnessing = startUpstreamWitnessing({
        log: o.auditLog,
        witness: `${o.party.expect.role}-${o.party.expect.id}`,
        baseUrl: o.party.vtnUrl,
        tls: this.endpoint!.tls!,
        intervalMs: Math.max(o.witnessIntervalMs, o.reportMinPeriodMs),
        clock: o.clock,
        ...(o.log ? { onLog: o.log } : {}),
      });
    }
    // Restarted with a persisted registration: ask for the current events (OpenADR 2.0b §8.1
    // oadrRequestEvent) instead of waiting for the VTN to change one.
    if (this.ven.registration) {
      void this.ven.requestEvents().catch((e: unknown) => this.o.log?.('oadrRequestEvent after restart failed', { party: this.o.party.name, error: String(e) }, 'warn'));
    }
  }

  /** Our checkpoints' witnessing by this party, when running. */
  get witnessed(): ReturnType<typeof startUpstreamWitnessing>['witnessing'] | undefined {
    return this.witnessing?.witnessing;
  }

  async stop(): Promise<void> {
    this.witnessing?.stop();
    await this.endpoint?.close();
  }

  /** Sends an availability schedule (optIn, participating) from now for `durationMs`. */
  async publishAvailability(durationMs: number): Promise<string> {
    const now = this.o.clock.now();
    return this.ven.createOptSchedule('optIn', 'participating', [{ dtstart: epochMillis(Math.floor(now / 1000) * 1000), duration: millis(durationMs) }]);
  }

  status(): UpstreamStatus {
    const reg = this.endpoint?.ven.registration;
    return {
      name: this.o.party.name,
      kind: this.o.party.kind,
      registered: reg !== undefined,
      venId: reg?.venID,
      vtnId: reg?.vtnID,
      activeReports: this.endpoint?.ven.activeReports().length ?? 0,
      events: (this.endpoint?.ven.events() ?? []).map((e) => ({ eventId: e.event.descriptor.eventID, modificationNumber: e.event.descriptor.modificationNumber, optType: e.optType })),
    };
  }

  /**
   * Validates and offers one new or modified event; the answer carries our code and reason to the
   * party. Re-deliveries and stale modifications never get here: the VEN's event state answers them.
   */
  private async onEvent(info: VenEventInfo): Promise<VenEventAnswer> {
    const p = this.o.party;
    const d = info.event.descriptor;
    const now = this.o.clock.now();
    const plan = planFromEvent(info.event, { party: p.name, origin: p.kind, venId: this.ven.registration?.venID ?? '', marketContexts: p.marketContexts, now });
    let answer;
    if (!plan.ok) answer = this.o.engine.refuse(p.name, d.eventID, plan.refusal);
    else {
      try {
        answer = await this.o.engine.offer(plan.plan);
      } catch (e) {
        // Never a crash and never a silent acceptance: an internal failure is an opt out with 469.
        answer = this.o.engine.refuse(p.name, d.eventID, { code: 469, reason: `internal error: ${(e as Error).message}` });
      }
    }
    this.o.log?.('upstream event answered', { party: p.name, eventId: d.eventID, mod: d.modificationNumber, optType: answer.optType, code: answer.code, reason: answer.reason });
    return eventAnswer(answer);
  }

  /** Current value of one of our TELEMETRY_USAGE data points (W), over this party's running events. */
  private read(rID: string, now: number): number | undefined {
    let delivered = 0;
    let usage = 0;
    let baseline = 0;
    let unknown = false;
    for (const ev of this.o.engine.list()) {
      if (ev.plan.party !== this.o.party.name || ev.state !== 'active') continue;
      const sign = ev.plan.direction === 'reduce' ? -1 : 1;
      const d = this.o.engine.deliveredNow(ev, now);
      if (d !== null) delivered += sign * d;
      else unknown = true;
      for (const id of ev.participants) {
        const b = ev.baselines.get(id);
        const a = this.o.engine.freshPower(id, now);
        if (b === undefined || a === undefined) continue;
        baseline += b;
        usage += a;
      }
    }
    // No fresh telemetry of a running event (just after a restart or takeover): no data point,
    // rather than a 0 the party would read as nothing delivered.
    if (unknown) return undefined;
    if (rID === 'delivered') return Math.round(delivered);
    if (rID === 'usage') return Math.round(usage);
    if (rID === 'baseline') return Math.round(baseline);
    return undefined;
  }
}
