/**
 * The dispatch engine of the running aggregator: accepts or opts out of validated upstream
 * events (and operator commands), allocates them over the fleet, publishes per-gateway
 * instructions, and runs the closed loop during each event. No sockets: the upstream VEN(s)
 * and the downstream VTN call in and are called through small interfaces, so the whole
 * decision logic is tested deterministically with a ManualClock.
 *
 * The engine speaks domain types only (dispatch-types.ts): it takes DispatchPlans (intake.ts
 * builds them from upstream oadrEvents) and decides one GatewayInstruction per gateway and
 * event, which the downstream sink turns into an oadrEvent (oadr-adapter.ts) for the gateway.
 *
 * Instructions to gateways (R4): per gateway and upstream event, one set point order per
 * resource (the device's net power in W to hold, consumption-positive), which the gateway
 * translates into an ECHONET Lite command (see src/roles/gateway/translate.ts). Set point =
 * pre-event measured power − instruction (reduce) or + instruction (increase). Changes are sent
 * as a new modification of the same downstream event; a gateway that no longer has any
 * instruction gets the event cancelled. Each copy carries the origin of the need (sent as the
 * OpenADR priority: 1 TSO, 2 retailer, 3 coordinator, 4 operator; src/roles/common/event-priority.ts),
 * by which gateways arbitrate overlapping events on one device. A gateway's opt out — of its
 * whole copy, or of single resources with oadrCreateOpt — is a shortfall that `declined`
 * re-dispatches at once.
 *
 * Delivered power = Σ over the event's participating resources of (baseline − actual) for
 * reduce, (actual − baseline) for increase, with device-level metering: baseline = the
 * resource's measured power just before it was first instructed (docs/architecture.md §4, ERAB business
 * guideline: device-level metering uses the pre-event measured value).
 */
import type { LogFn } from '../../../core/logger.js';
import type { Clock } from '../../../core/clock.js';
import { explain, PolicyRefusedError } from '../../../core/errors.js';
import { epochMillis, millis, watts } from '../../../core/units.js';
import type { AuditSink } from '../../../security/audit/types.js';
import { allocate } from '../allocation/allocate.js';
import type { AllocatableResource, AllocationRequest, AllocationResult, HeadroomPolicy, ResourceInstruction } from '../allocation/types.js';
import { closedLoopStep } from '../closed-loop/redispatch.js';
import type { DeliveryReading, ResponseTracking } from '../closed-loop/redispatch.js';
import { formatJst } from '../../../core/jst.js';
import { isPoolAddress, type CommandRecord } from './approvals.js';
import type { ClosedLoopConfig } from './config.js';
import { Fleet, deliveredBy, setpointFor, toAllocatable, whyNotUsable, type ResourceSpec } from './fleet.js';
import { hasWork, type DispatchPlan, type GatewayInstruction, type ResourceOrder, type Refusal } from './dispatch-types.js';
import type { EventBook, StoredEvent } from './event-book.js';
import { SeriesBook } from './series.js';

/** Where per-gateway instructions go: the downstream VTN queues them (as oadrEvents) for the gateway's next poll. */
export interface DownstreamSink {
  /** Replaces the gateway's copy of `instruction.eventId` (a higher modification; cancelled when withdrawn). */
  publish(venId: string, instruction: GatewayInstruction): void | Promise<void>;
}

/** The answer to an upstream event (for oadrCreatedEvent). */
export interface OfferAnswer {
  optType: 'optIn' | 'optOut';
  /** 200 when the event was understood (also for business opt outs), else the error code. */
  code: number;
  reason?: string | undefined;
}

export type EventState = 'accepted' | 'active' | 'completed' | 'cancelled';

/** One event the engine works on. */
export interface RunningEvent {
  plan: DispatchPlan;
  source: 'upstream' | 'operator';
  state: EventState;
  request: AllocationRequest;
  allocation: AllocationResult;
  tracking?: ResponseTracking | undefined;
  /** Pre-event measured power per participating resource (consumption-positive W). */
  baselines: Map<string, number>;
  /** Every resource that ever had an instruction in this event. */
  participants: Set<string>;
  downstreamId: string;
  downstreamMod: number;
  /** Gateways that currently hold a (non-cancelled) copy. */
  vens: Set<string>;
  nonResponding: string[];
  /**
   * Resources whose gateway opted out of their instruction (oadrCreatedEvent optOut for the
   * whole copy, or oadrCreateOpt per resource): a shortfall the closed loop re-dispatches at once.
   */
  optedOut?: Set<string> | undefined;
  /** Power the closed loop could not cover now, W. */
  uncoveredW: number;
  /** After a change of instructions the loop does not judge again before this instant (see closedLoop). */
  settleUntil: number;
  /** When the event stopped controlling resources early (cancelled), for the recovery time. */
  lastActiveAt?: number | undefined;
  /** When each resource's instruction last changed (or the event started): its response time runs from then. */
  instructedAt: Map<string, number>;
  acceptedAt: number;
}

/** A refused or failed upstream request, for the operator's view. */
export interface RefusalNote {
  time: number;
  by: string;
  what: string;
  reason: string;
}

export interface EngineOptions {
  aggregatorId: string;
  fleet: Fleet;
  clock: Clock;
  audit: AuditSink;
  downstream: DownstreamSink;
  closedLoop: ClosedLoopConfig;
  headroom: HeadroomPolicy;
  /** Whether a resource may answer a party's events (its pools and classes); absent = every resource. */
  eligible?: (party: string, spec: ResourceSpec) => boolean;
  series?: SeriesBook;
  /**
   * Where running events are kept so a restarted or standby process resumes them (event-book.ts);
   * absent = memory only.
   */
  book?: EventBook;
  log?: LogFn;
}

const MAX_REFUSALS = 200;
/** Completed and cancelled events are kept this long for reports and the live view. */
const KEEP_FINISHED_MS = 6 * 3_600_000;

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }): boolean => a.start < b.end && b.start < a.end;

const kw = (w: number): string => `${(w / 1000).toFixed(1)} kW`;

/**
 * @example
 *   const engine = new DispatchEngine({ aggregatorId: 'AGG1', fleet, clock, audit, downstream: vtn, closedLoop, headroom });
 *   const answer = engine.offer(plan);     // { optType: 'optIn', code: 200 }
 *   engine.tick();                         // every closedLoop.intervalMs
 */
export class DispatchEngine {
  readonly series: SeriesBook;
  private readonly events = new Map<string, RunningEvent>();
  private readonly refusals: RefusalNote[] = [];
  private readonly o: EngineOptions;

  constructor(o: EngineOptions) {
    this.o = o;
    this.series = o.series ?? new SeriesBook();
  }

  /** Every event, oldest first. */
  list(): RunningEvent[] {
    return [...this.events.values()];
  }

  get(key: string): RunningEvent | undefined {
    return this.events.get(key);
  }

  /**
   * Takes back the events a previous process of this aggregator left in the store (before the
   * upstream VENs and the downstream VTN start). The TSO re-sends a running event after the
   * restart; `offer` answers it from the restored event. A restored event has no fresh
   * telemetry yet: its closed loop only measures for graceMs before judging anyone, as after
   * a change of instructions.
   */
  restore(stored: readonly StoredEvent[]): void {
    const now = this.o.clock.now();
    for (const { event: ev, scope } of stored) {
      if (this.events.has(ev.plan.key)) continue;
      this.events.set(ev.plan.key, ev);
      if (ev.source === 'operator') this.manualScope.set(ev.plan.key, scope ? new Set(scope) : undefined);
      if (ev.state !== 'accepted' && ev.state !== 'active') continue;
      ev.settleUntil = Math.max(ev.settleUntil, now + this.o.closedLoop.graceMs);
      this.o.audit.append({
        actor: { kind: 'system', id: this.o.aggregatorId }, action: 'aggregator.event.restore', target: ev.plan.key, outcome: 'success',
        details: { modificationNumber: ev.plan.modificationNumber, state: ev.state, resources: ev.participants.size, gateways: ev.vens.size },
      });
      this.o.log?.('event restored from the store', { event: ev.plan.key, mod: ev.plan.modificationNumber, state: ev.state, resources: ev.participants.size });
    }
  }

  /** Records an event's current state in the book (when there is one). */
  private persist(ev: RunningEvent): void {
    this.o.book?.save(ev, this.manualScope.get(ev.plan.key), this.o.clock.now());
  }

  recentRefusals(): RefusalNote[] {
    return [...this.refusals];
  }

  /** Records a refusal for the operator's view (intake refusals come through here too). */
  noteRefusal(by: string, what: string, reason: string): void {
    this.refusals.push({ time: this.o.clock.now(), by, what, reason });
    if (this.refusals.length > MAX_REFUSALS) this.refusals.splice(0, this.refusals.length - MAX_REFUSALS);
  }

  /**
   * Offers a validated plan (new event or a higher modification): opts out of overlapping or
   * impossible events, otherwise allocates, publishes and opts in. Never a partial acceptance:
   * when the pool cannot meet every interval's target the answer is optOut with the figures.
   */
  async offer(plan: DispatchPlan, source: 'upstream' | 'operator' = 'upstream', partialOk = false): Promise<OfferAnswer> {
    const now = this.o.clock.now();
    const previous = this.events.get(plan.key);
    // The same modification of an event we run (the party re-sends it to a restarted or standby
    // process): the answer stands. Allocating it again would measure new baselines during the
    // event — or opt out, the fleet's telemetry not being fresh yet.
    if (previous && previous.plan.modificationNumber === plan.modificationNumber && (previous.state === 'accepted' || previous.state === 'active')) {
      this.o.log?.('event re-delivered: answered from the running event', { event: plan.key, mod: plan.modificationNumber });
      return { optType: 'optIn', code: 200 };
    }
    if (source === 'upstream') {
      for (const e of this.events.values()) {
        if (e.plan.key === plan.key || e.plan.party !== plan.party) continue;
        if (e.state !== 'accepted' && e.state !== 'active') continue;
        if (overlaps(e.plan, plan)) {
          const reason = `overlaps accepted event ${e.plan.eventId} (${new Date(e.plan.start).toISOString()}–${new Date(e.plan.end).toISOString()}) of the same party; modify that event instead`;
          return this.optOut(plan, reason, previous);
        }
      }
    }
    const request: AllocationRequest = {
      eventId: plan.key,
      direction: plan.direction,
      intervals: plan.intervals,
    };
    const baselines = new Map<string, number>();
    const pool = this.poolFor(plan, baselines, previous);
    let allocation: AllocationResult;
    try {
      allocation = allocate(request, pool, { headroom: this.o.headroom });
    } catch (err) {
      return this.optOut(plan, `allocation refused the request: ${(err as Error).message}`, previous);
    }
    if (!allocation.meetsTarget && !partialOk) {
      const k = allocation.shortfallW.findIndex((s) => s > 0);
      const iv = plan.intervals[k]!;
      const reason = `impossible: the pool can deliver ${kw(allocation.allocatedW[k]!)} of the requested ${kw(iv.targetW)} ` +
        `from ${new Date(iv.start).toISOString()} (${pool.length} usable resources of ${this.o.fleet.size}${this.lastLeftOut ? `; left out: ${this.lastLeftOut}` : ''})`;
      return this.optOut(plan, reason, previous);
    }
    const ev: RunningEvent = {
      plan,
      source,
      state: now >= plan.start ? 'active' : 'accepted',
      request,
      allocation,
      baselines,
      participants: new Set(allocation.instructions.filter((i) => i.powerW.some((p) => p > 0)).map((i) => i.resourceId)),
      downstreamId: previous?.downstreamId ?? downstreamEventId(this.o.aggregatorId, plan.key),
      downstreamMod: previous ? previous.downstreamMod + 1 : 0,
      vens: previous?.vens ?? new Set(),
      nonResponding: [],
      // A modification is allocated afresh over the usable pool; a gateway that refuses again says so again.
      optedOut: undefined,
      uncoveredW: 0,
      settleUntil: 0,
      instructedAt: new Map(allocation.instructions.map((i) => [i.resourceId, Math.max(now, plan.start)])),
      acceptedAt: now,
    };
    this.events.set(plan.key, ev);
    try {
      await this.publishAll(ev);
    } catch (err) {
      // Never a silent partial acceptance: what reached some gateways is withdrawn, the party is told.
      ev.state = 'cancelled';
      ev.lastActiveAt = now;
      await this.withdraw(ev, [...ev.vens]).catch(() => {});
      this.persist(ev);
      return this.optOut(plan, `instructions could not be sent to the gateways: ${(err as Error).message}`, undefined);
    }
    this.o.audit.append({
      actor: { kind: 'system', id: this.o.aggregatorId },
      action: 'aggregator.event.accept',
      target: plan.key,
      outcome: 'success',
      details: {
        modificationNumber: plan.modificationNumber, direction: plan.direction, source,
        targetW: plan.intervals.map((i) => i.targetW), allocatedW: allocation.allocatedW,
        resources: ev.participants.size, gateways: ev.vens.size,
      },
    });
    this.persist(ev);
    this.o.log?.('event accepted', { event: plan.key, mod: plan.modificationNumber, allocatedW: allocation.allocatedW, resources: ev.participants.size });
    return { optType: 'optIn', code: 200 };
  }

  /** Records a refusal found by intake (malformed, stale...) so the operator sees it. */
  refuse(party: string, eventId: string, refusal: Refusal): OfferAnswer {
    this.o.audit.append({
      actor: { kind: 'peer', id: party },
      action: 'aggregator.event.refuse',
      target: `${party}/${eventId}`,
      outcome: 'refused',
      reason: refusal.reason,
      details: { code: refusal.code },
    });
    this.noteRefusal(party, `event ${eventId}`, `${refusal.code}: ${refusal.reason}`);
    this.o.log?.('event refused', { party, eventId, code: refusal.code, reason: refusal.reason }, 'warn');
    return { optType: 'optOut', code: refusal.code, reason: refusal.reason };
  }

  /** The upstream party cancelled an event: cancel it at every gateway. */
  async cancel(key: string, why = 'cancelled by the upstream party'): Promise<boolean> {
    const ev = this.events.get(key);
    if (!ev || ev.state === 'cancelled' || ev.state === 'completed') return false;
    const now = this.o.clock.now();
    // A VTN stops listing an event once it is over (OpenADR 2.0b §8.1, implicit cancellation):
    // that is completion, not a cancellation, and there is nothing left to withdraw.
    if (now >= ev.plan.end) {
      ev.state = 'completed';
      this.persist(ev);
      return false;
    }
    ev.state = 'cancelled';
    ev.lastActiveAt = now;
    await this.withdraw(ev, [...ev.vens]);
    this.persist(ev);
    this.o.audit.append({ actor: { kind: 'system', id: this.o.aggregatorId }, action: 'aggregator.event.cancel', target: key, outcome: 'success', reason: why });
    return true;
  }

  /**
   * Runs an approved operator command as an event `operator/<id>`. Partial delivery is
   * allowed (the operator sees the shortfall); `release` cancels every operator event.
   */
  async executeManual(rec: CommandRecord): Promise<{ key: string; allocatedW: number; shortfallW: number; leftOut?: string }> {
    if (rec.state !== 'approved') throw new PolicyRefusedError(explain('command.notApproved', { id: rec.id, state: rec.state }));
    const c = rec.command;
    if (c.action === 'release') {
      for (const e of this.events.values()) if (e.source === 'operator') await this.cancel(e.plan.key, `released by operator ${rec.submittedBy.id}`);
      return { key: `operator/${rec.id}`, allocatedW: 0, shortfallW: 0 };
    }
    const now = this.o.clock.now();
    if (c.startAt !== undefined && c.startAt <= now) throw new PolicyRefusedError(explain('command.startPassed', { id: rec.id, start: formatJst(c.startAt) }));
    // A command with a start is accepted now (its gateways instructed for then) and active from its start.
    const start = c.startAt ?? now;
    const key = `operator/${rec.id}`;
    const plan: DispatchPlan = {
      key, party: 'operator', origin: 'operator', eventId: rec.id, modificationNumber: 0, marketContext: 'urn:erab:operator',
      direction: c.action, intervals: [{ start: epochMillis(start), end: epochMillis(start + c.durationMs), targetW: watts(c.powerW) }],
      start: epochMillis(start), end: epochMillis(start + c.durationMs), responseRequired: false, testEvent: false,
    };
    // A pool is resolved to its resources now: the event keeps them (and so does its record in the book).
    const pool = isPoolAddress(c.resources) ? c.resources.pool : undefined;
    const only = c.resources === 'fleet' ? undefined
      : pool !== undefined ? new Set(this.o.fleet.sorted().filter((s) => s.pool === pool).map((s) => s.id))
        : new Set(c.resources as readonly string[]);
    this.manualScope.set(key, only);
    const answer = await this.offer(plan, 'operator', true);
    if (answer.optType !== 'optIn') throw new PolicyRefusedError(explain('command.notAllocated', { id: rec.id, why: answer.reason ?? '' }));
    const ev = this.events.get(key)!;
    const shortfallW = ev.allocation.shortfallW[0]!;
    // A short command says which addressed resources could not take part and why (the operator's
    // next step differs: wait for telemetry, release an override, admit a device…).
    return { key, allocatedW: ev.allocation.allocatedW[0]!, shortfallW, ...(shortfallW > 0 && this.lastLeftOut ? { leftOut: this.lastLeftOut } : {}) };
  }

  /**
   * A gateway opted out of its copy of an event: of all its instructed resources
   * (`resourceIds` undefined: oadrCreatedEvent optOut) or of some (oadrCreateOpt per resource).
   * Their share is a shortfall: they are withdrawn and the power is re-dispatched through the
   * closed loop at once — before the event starts too — instead of waiting for telemetry to
   * show the misses. Returns the resources newly taken out (empty when the copy is unknown,
   * the event is over, or nothing instructed there is concerned).
   * @example await engine.declined('gw1', 'AGG1.tso_E1.gw1', ['b1'], 'x-max-discharge-power');
   */
  async declined(venId: string, copyEventId: string, resourceIds: readonly string[] | undefined, reason: string): Promise<string[]> {
    const ev = [...this.events.values()].find((e) => gatewayCopyId(e.downstreamId, venId) === copyEventId);
    if (!ev || (ev.state !== 'accepted' && ev.state !== 'active')) return [];
    const only = resourceIds ? new Set(resourceIds) : undefined;
    const out: string[] = [];
    for (const ins of ev.allocation.instructions) {
      const id = ins.resourceId;
      if (this.o.fleet.spec(id)?.venId !== venId || !ins.powerW.some((p) => p > 0)) continue;
      if ((only && !only.has(id)) || ev.optedOut?.has(id) || ev.nonResponding.includes(id)) continue;
      out.push(id);
    }
    if (out.length === 0) return [];
    ev.optedOut ??= new Set();
    // A gateway that declines the event as a whole gets none of it: its other resources are not
    // candidates for the re-dispatch either.
    if (!only) for (const spec of this.o.fleet.all()) if (spec.venId === venId) ev.optedOut.add(spec.id);
    for (const id of out) {
      ev.optedOut.add(id);
      this.o.audit.append({
        actor: { kind: 'peer', id: venId }, action: 'aggregator.resource.opt_out', target: id, outcome: 'refused', reason,
        details: { event: ev.plan.key, copy: copyEventId },
      });
    }
    this.noteRefusal(venId, `instruction of ${out.join(', ')} in event ${ev.plan.eventId}`, reason);
    this.o.log?.('gateway opted out: re-dispatching', { event: ev.plan.key, venId, resources: out, reason });
    await this.closedLoop(ev, this.o.clock.now(), true);
    this.persist(ev);
    return out;
  }

  private readonly manualScope = new Map<string, Set<string> | undefined>();

  /**
   * One closed-loop pass over every running event: activate, measure, mark non-responding
   * resources, re-dispatch the shortfall, record the target-vs-delivered sample, complete.
   */
  async tick(): Promise<void> {
    const now = this.o.clock.now();
    for (const ev of [...this.events.values()]) {
      if (ev.state === 'cancelled' || ev.state === 'completed') {
        if (now - ev.plan.end > KEEP_FINISHED_MS) {
          this.events.delete(ev.plan.key);
          this.manualScope.delete(ev.plan.key);
          this.o.book?.delete(ev.plan.key);
        }
        continue;
      }
      if (now >= ev.plan.end) {
        ev.state = 'completed';
        this.persist(ev);
        this.o.log?.('event completed', { event: ev.plan.key });
        continue;
      }
      if (now < ev.plan.start) continue;
      if (ev.state !== 'active') {
        ev.state = 'active';
        this.persist(ev);
      }
      try {
        await this.closedLoop(ev, now);
      } catch (err) {
        // One event's failure (e.g. the store refusing a write) must not stop the others' loops.
        this.o.log?.('closed loop pass failed', { event: ev.plan.key, error: (err as Error).message }, 'error');
        this.o.audit.append({ actor: { kind: 'system', id: this.o.aggregatorId }, action: 'aggregator.closed_loop', target: ev.plan.key, outcome: 'failure', reason: (err as Error).message.slice(0, 200) });
      }
    }
  }

  /** Delivered power of an event now (W in its direction), or null when no participant has fresh telemetry. */
  deliveredNow(ev: RunningEvent, now: number = this.o.clock.now()): number | null {
    let sum = 0;
    let any = false;
    for (const id of ev.participants) {
      const base = ev.baselines.get(id);
      const actual = this.o.fleet.freshPower(id, now, this.o.closedLoop.telemetryMaxAgeMs);
      if (base === undefined || actual === undefined) continue;
      sum += deliveredBy(ev.plan.direction, base, actual);
      any = true;
    }
    return any ? sum : null;
  }

  /** A resource's latest net power if fresh enough for the closed loop (consumption-positive W). */
  freshPower(id: string, now: number = this.o.clock.now()): number | undefined {
    return this.o.fleet.freshPower(id, now, this.o.closedLoop.telemetryMaxAgeMs);
  }

  /** The target of an event at `t` (W), 0 outside its intervals. */
  static targetAt(ev: RunningEvent, t: number): number {
    for (const iv of ev.plan.intervals) if (iv.start <= t && t < iv.end) return iv.targetW;
    return 0;
  }

  private async closedLoop(ev: RunningEvent, now: number, force = false): Promise<void> {
    // A changed instruction needs a poll, a device command and a telemetry report before it can
    // show; judging earlier would count the resources that just received power as misses and
    // cascade re-dispatches. So after every change the loop only measures for graceMs — unless
    // a gateway opted out (force): a refusal is known at once, no telemetry needs to show it.
    if (now < ev.settleUntil && !force) {
      this.recordSample(ev, now);
      return;
    }
    const readings: DeliveryReading[] = [];
    const kNow = ev.plan.intervals.findIndex((iv) => iv.start <= now && now < iv.end);
    const instructedNow = new Map(ev.allocation.instructions.map((i) => [i.resourceId, kNow >= 0 ? i.powerW[kNow]! : 0]));
    for (const id of ev.participants) {
      const base = ev.baselines.get(id);
      const st = this.o.fleet.state(id);
      // Within its response time (graceMs from its last change of instruction: a poll, a device
      // command and a report must happen first) a resource is presumed to follow; it is judged on
      // telemetry afterwards. Without this, resources recruited by a re-dispatch would count as
      // misses at once and trigger a cascade of further re-dispatches.
      const since = ev.instructedAt.get(id);
      if (since !== undefined && now < since + this.o.closedLoop.graceMs && (instructedNow.get(id) ?? 0) > 0) {
        readings.push({ resourceId: id, at: epochMillis(now), deliveredW: watts(instructedNow.get(id)!) });
        continue;
      }
      if (base === undefined || !st || st.powerW === undefined || st.powerAt === undefined) continue;
      if (!st.online || st.manualOverride) continue;
      readings.push({ resourceId: id, at: st.powerAt, deliveredW: watts(deliveredBy(ev.plan.direction, base, st.powerW)) });
    }
    const pool = this.poolFor(ev.plan, ev.baselines, ev);
    const cl = this.o.closedLoop;
    let step;
    try {
      step = closedLoopStep({
        request: ev.request,
        allocation: ev.allocation,
        resources: pool,
        readings,
        now: epochMillis(now),
        ...(ev.tracking ? { tracking: ev.tracking } : {}),
        ...(ev.optedOut ? { optedOut: ev.optedOut } : {}),
        config: { toleranceFraction: cl.toleranceFraction, toleranceW: cl.toleranceW, missesToMark: cl.missesToMark, telemetryMaxAgeMs: cl.telemetryMaxAgeMs, graceMs: cl.graceMs },
      });
    } catch (err) {
      this.o.log?.('closed loop step failed', { event: ev.plan.key, error: (err as Error).message }, 'error');
      return;
    }
    ev.allocation = step.allocation;
    ev.tracking = step.tracking;
    ev.nonResponding = [...step.nonResponding];
    ev.uncoveredW = step.intervalIndex >= 0 ? step.uncoveredW[step.intervalIndex]! : 0;
    for (const id of step.newlyNonResponding) {
      this.o.audit.append({
        actor: { kind: 'system', id: this.o.aggregatorId }, action: 'aggregator.resource.non_responding', target: id,
        outcome: 'failure', reason: `did not follow its instruction in event ${ev.plan.key}`, details: { event: ev.plan.key },
      });
      this.o.log?.('resource non-responding', { event: ev.plan.key, resource: id });
    }
    const trimmed = step.changed.length === 0 && step.intervalIndex >= 0 ? this.trimSurplus(ev, step.intervalIndex, now) : [];
    const changed = [...step.changed, ...trimmed];
    for (const id of changed) ev.instructedAt.set(id, now);
    if (changed.length > 0) {
      for (const ins of ev.allocation.instructions) if (ins.powerW.some((p) => p > 0)) ev.participants.add(ins.resourceId);
      const vens = new Set<string>();
      for (const id of changed) {
        const spec = this.o.fleet.spec(id);
        if (spec) vens.add(spec.venId);
      }
      ev.downstreamMod += 1;
      ev.settleUntil = now + this.o.closedLoop.graceMs;
      await this.publishVens(ev, vens);
      this.persist(ev);
      this.o.log?.(trimmed.length > 0 ? 'surplus trimmed' : 're-dispatched', { event: ev.plan.key, changed: changed.length, redispatchedW: step.redispatchedW, uncoveredW: ev.uncoveredW });
    }
    this.recordSample(ev, now);
  }

  /**
   * Gives back power re-dispatched for resources that were only slow: when the measured delivery
   * exceeds the target by more than the tolerance while more than the target is instructed, the
   * excess is taken off the instructions from the end of the list (the latest recruits, the
   * dearest in merit order) for the rest of the event. Over-delivery is a deviation too in the
   * balancing market's assessment, so the loop corrects both ways. Returns the changed ids.
   */
  private trimSurplus(ev: RunningEvent, k: number, now: number): string[] {
    const target = ev.plan.intervals[k]!.targetW;
    const delivered = this.deliveredNow(ev, now);
    const cl = this.o.closedLoop;
    const slack = target * cl.toleranceFraction + cl.toleranceW;
    if (delivered === null || delivered <= target + slack) return [];
    const nonResp = new Set(ev.nonResponding);
    const instructed = ev.allocation.instructions.reduce((a, i) => a + (nonResp.has(i.resourceId) ? 0 : i.powerW[k]!), 0);
    let excess = Math.min(instructed - target, delivered - target);
    if (excess <= cl.toleranceW) return [];
    const K = ev.plan.intervals.length;
    const changed: string[] = [];
    const instructions = ev.allocation.instructions.map((i) => ({ ...i, powerW: [...i.powerW], standbyW: [...i.standbyW] }));
    for (let x = instructions.length - 1; x >= 0 && excess > 0; x--) {
      const ins = instructions[x]!;
      if (nonResp.has(ins.resourceId) || ins.powerW[k]! <= 0) continue;
      const cut = Math.min(ins.powerW[k]!, excess);
      for (let j = k; j < K; j++) ins.powerW[j] = Math.max(0, ins.powerW[j]! - cut);
      excess -= cut;
      changed.push(ins.resourceId);
    }
    const allocatedW = ev.plan.intervals.map((_, j) => instructions.reduce((a, i) => a + i.powerW[j]!, 0));
    ev.allocation = { ...ev.allocation, instructions, allocatedW };
    return changed;
  }

  /** One target-vs-delivered sample of an event at `now`. */
  private recordSample(ev: RunningEvent, now: number): void {
    const k = ev.plan.intervals.findIndex((iv) => iv.start <= now && now < iv.end);
    const nonResp = new Set(ev.nonResponding);
    this.series.record(ev.plan.key, {
      t: now,
      targetW: DispatchEngine.targetAt(ev, now),
      deliveredW: this.deliveredNow(ev, now),
      instructedW: k >= 0 ? ev.allocation.instructions.reduce((a, i) => a + (nonResp.has(i.resourceId) ? 0 : i.powerW[k]!), 0) : 0,
      instructedResources: k >= 0 ? ev.allocation.instructions.filter((i) => i.powerW[k]! > 0 && !nonResp.has(i.resourceId)).length : 0,
      nonResponding: ev.nonResponding.length,
    });
  }

  /**
   * The pool for a plan, as allocation inputs. Baselines: the event's own snapshot for
   * resources already in it, else the latest fresh measurement (recorded into `baselines`).
   * Power already committed to OTHER running events is subtracted.
   */
  private poolFor(plan: DispatchPlan, baselines: Map<string, number>, self?: RunningEvent): AllocatableResource[] {
    const now = this.o.clock.now();
    const scope = this.manualScope.get(plan.key);
    const committed = new Map<string, number>();
    for (const e of this.events.values()) {
      if (e === self || e.plan.key === plan.key || (e.state !== 'accepted' && e.state !== 'active') || !overlaps(e.plan, plan)) continue;
      for (const ins of e.allocation.instructions) {
        const m = Math.max(...ins.powerW.map((p, k) => p + (ins.standbyW[k] ?? 0)));
        // Power committed in the other direction would have to be undone first: treat the resource as busy.
        const w = e.plan.direction === plan.direction ? m : Infinity;
        committed.set(ins.resourceId, (committed.get(ins.resourceId) ?? 0) + w);
      }
    }
    // Resources in another event — or just out of one, still returning to normal (recovery time:
    // grace + telemetry age) — keep that event's pre-event value as their baseline.
    const recoveryMs = this.o.closedLoop.graceMs + this.o.closedLoop.telemetryMaxAgeMs;
    const baselineInEvents = new Map<string, number>();
    for (const e of this.events.values()) {
      if (e === self) continue;
      const running = e.state === 'accepted' || e.state === 'active';
      if (!running && !(now - Math.min(e.plan.end, e.lastActiveAt ?? e.plan.end) < recoveryMs)) continue;
      for (const id of e.participants) {
        const b = e.baselines.get(id);
        if (b !== undefined && !baselineInEvents.has(id)) baselineInEvents.set(id, b);
      }
    }
    const out: AllocatableResource[] = [];
    const left = new Map<string, number>();
    const leftOut = (why: string): void => { left.set(why, (left.get(why) ?? 0) + 1); };
    for (const spec of this.o.fleet.all()) {
      if (this.o.eligible && !this.o.eligible(plan.party, spec)) continue;
      if (scope && !scope.has(spec.id)) continue;
      const c = committed.get(spec.id) ?? 0;
      if (c === Infinity) {
        leftOut('busy in an opposite event');
        continue;
      }
      // A resource still in another event: its pre-event value, not the reading the event causes.
      let base = baselines.get(spec.id) ?? self?.baselines.get(spec.id) ?? baselineInEvents.get(spec.id);
      if (base === undefined) {
        base = this.o.fleet.freshPower(spec.id, now, this.o.closedLoop.telemetryMaxAgeMs);
        if (base === undefined) {
          leftOut('no fresh telemetry');
          continue;
        }
      }
      // Recorded whatever its source: a baseline borrowed from another running event (or from this
      // event before a modification) must stay with this event, or its delivered power reads null.
      baselines.set(spec.id, base);
      const live = this.o.fleet.state(spec.id);
      const r = toAllocatable(spec, live, base, plan.direction, { alreadyCommittedW: c });
      if (r) out.push(r);
      else leftOut(whyNotUsable(spec, live, base) ?? 'not usable');
    }
    const atLimit = out.filter((r) => (plan.direction === 'reduce' ? r.maxReduceW : r.maxIncreaseW) <= 0).length;
    if (atLimit > 0) left.set(`usable but with no ${plan.direction === 'reduce' ? 'downward' : 'upward'} room (power limit or committed)`, atLimit);
    this.lastLeftOut = [...left].sort((a, b) => b[1] - a[1]).map(([why, n]) => `${n} ${why}`).join(', ');
    return out;
  }

  /**
   * Why one resource cannot take part in a dispatch now (the pool's own tests, less other events'
   * commitments): offline, under manual override, not admitted, no fresh telemetry, state of
   * charge unknown…; undefined when it can.
   */
  notReady(id: string): string | undefined {
    const spec = this.o.fleet.spec(id);
    if (!spec) return 'unknown resource';
    const base = this.o.fleet.freshPower(id, this.o.clock.now(), this.o.closedLoop.telemetryMaxAgeMs);
    return whyNotUsable(spec, this.o.fleet.state(id), base);
  }

  /** Why resources were left out of the last pool, e.g. "10 pv not steerable by set point, 2 offline". */
  private lastLeftOut = '';

  private optOut(plan: DispatchPlan, reason: string, previous: RunningEvent | undefined): OfferAnswer {
    this.o.audit.append({
      actor: { kind: 'system', id: this.o.aggregatorId }, action: 'aggregator.event.opt_out', target: plan.key,
      outcome: 'refused', reason, details: { modificationNumber: plan.modificationNumber },
    });
    this.noteRefusal(plan.party, `event ${plan.eventId}`, reason);
    this.o.log?.('event opted out', { event: plan.key, reason });
    // Opting out of a modification ends our part in the event: release its resources.
    if (previous && (previous.state === 'accepted' || previous.state === 'active')) {
      previous.state = 'cancelled';
      previous.lastActiveAt = this.o.clock.now();
      void this.withdraw(previous, [...previous.vens]).finally(() => this.persist(previous));
    }
    return { optType: 'optOut', code: 200, reason };
  }

  private async publishAll(ev: RunningEvent): Promise<void> {
    const vens = new Set<string>(ev.vens);
    for (const ins of ev.allocation.instructions) {
      const spec = this.o.fleet.spec(ins.resourceId);
      if (spec && ins.powerW.some((p) => p > 0)) vens.add(spec.venId);
    }
    await this.publishVens(ev, vens);
  }

  /** Sends the current instructions of `ev` to each gateway in `vens` (cancelled where none are left). */
  private async publishVens(ev: RunningEvent, vens: Set<string>): Promise<void> {
    const now = this.o.clock.now();
    const byVen = this.instructionsByVen(ev);
    for (const venId of [...vens].sort()) {
      const instruction = this.gatewayInstruction(ev, venId, now, byVen.get(venId) ?? []);
      // Nothing left to do at this gateway: cancel its copy (the gateway releases every device).
      if (!hasWork(instruction)) {
        if (ev.vens.has(venId)) {
          ev.vens.delete(venId);
          await this.o.downstream.publish(venId, { ...instruction, cancelled: true });
        }
        continue;
      }
      await this.o.downstream.publish(venId, instruction);
      ev.vens.add(venId);
    }
  }

  private async withdraw(ev: RunningEvent, vens: string[]): Promise<void> {
    ev.downstreamMod += 1;
    const now = this.o.clock.now();
    const byVen = this.instructionsByVen(ev);
    for (const venId of vens) {
      ev.vens.delete(venId);
      await this.o.downstream.publish(venId, { ...this.gatewayInstruction(ev, venId, now, byVen.get(venId) ?? []), cancelled: true });
    }
  }

  /** Instructions grouped by gateway, once per publication (100 000 resources × 50 000 gateways must not be a product). */
  private instructionsByVen(ev: RunningEvent): Map<string, ResourceInstruction[]> {
    const out = new Map<string, ResourceInstruction[]>();
    for (const ins of ev.allocation.instructions) {
      const venId = this.o.fleet.spec(ins.resourceId)?.venId;
      if (venId === undefined) continue;
      let list = out.get(venId);
      if (!list) out.set(venId, (list = []));
      list.push(ins);
    }
    return out;
  }

  /**
   * The instruction for one gateway: a set point order per instructed resource (a delta order
   * for a resource aggregator below us), then a release order per resource of this gateway that
   * took part in the event but has no share now.
   */
  gatewayInstruction(ev: RunningEvent, venId: string, now: number, instructions: readonly ResourceInstruction[] = this.instructionsByVen(ev).get(venId) ?? []): GatewayInstruction {
    const orders: ResourceOrder[] = [];
    const nonResp = new Set(ev.nonResponding);
    const active = new Set<string>();
    for (const ins of instructions) {
      const spec = this.o.fleet.spec(ins.resourceId);
      if (!spec || spec.venId !== venId) continue;
      if (nonResp.has(ins.resourceId) || !ins.powerW.some((p) => p > 0)) continue;
      active.add(ins.resourceId);
      if (spec.aggregate) {
        // A resource aggregator below us gets the change itself (negative = reduce), as our own upstream sends it.
        const sign = ev.plan.direction === 'reduce' ? -1 : 1;
        orders.push({ kind: 'delta', resourceId: ins.resourceId, deltaW: ev.plan.intervals.map((_, k) => Math.round(sign * ins.powerW[k]!)) });
        continue;
      }
      const base = ev.baselines.get(ins.resourceId) ?? 0;
      orders.push({ kind: 'setpoint', resourceId: ins.resourceId, setpointW: ev.plan.intervals.map((_, k) => setpointFor(ev.plan.direction, base, ins.powerW[k]!)) });
    }
    // Released devices of this gateway (non-responding, or their share moved elsewhere): the
    // gateway returns them to their owner's mode instead of keeping this event's last command.
    for (const id of [...ev.participants].sort()) {
      const spec = this.o.fleet.spec(id);
      if (active.has(id) || !spec || spec.venId !== venId || spec.aggregate) continue;
      orders.push({ kind: 'release', resourceId: id });
    }
    const origin = originOf(ev);
    return {
      aggregatorId: this.o.aggregatorId,
      venId,
      eventId: ev.downstreamId,
      modification: ev.downstreamMod,
      issuedAt: epochMillis(now),
      start: ev.plan.start,
      end: ev.plan.end,
      intervals: ev.plan.intervals.map((iv) => ({ start: iv.start, end: iv.end })),
      rampUpMs: millis(this.o.closedLoop.rampUpMs),
      ...(origin !== undefined ? { origin } : {}),
      testEvent: ev.plan.testEvent,
      cancelled: false,
      orders,
    };
  }
}

/** The origin of an event's need: the plan's, else the operator for an operator command. */
function originOf(ev: RunningEvent): DispatchPlan['origin'] {
  return ev.plan.origin ?? (ev.source === 'operator' ? 'operator' : undefined);
}

/** The id of one gateway's copy of a downstream event at the downstream VTN (see DownstreamVtn.publish). */
export function gatewayCopyId(downstreamId: string, venId: string): string {
  return `${downstreamId}.${venId}`.slice(0, 250);
}

/** Downstream event id: unique per aggregator and upstream event, safe in XML and URLs. */
export function downstreamEventId(aggregatorId: string, key: string): string {
  return `${aggregatorId}.${key.replace(/[^A-Za-z0-9._-]/g, '_')}`.slice(0, 200);
}
