/**
 * The event engine: turns accepted OpenADR events into device commands over time, and makes
 * sure every forced mode ends.
 *
 * It sits after the command guard (only authentic, fresh, own events reach it) and before the
 * devices (every command passes the safety policy first). Time comes from the injected clock:
 * one timer per interval boundary, a periodic tick for the fail-safe and the state-of-charge
 * watch, nothing else — so the whole lifecycle runs deterministically under a ManualClock.
 *
 * Lifecycle of one event:
 * 1. `accept`: signals validated (460 / 454 otherwise), targeted resources resolved; devices
 *    not admitted are skipped and audited; the answer is the oadrCreatedEvent response
 *    (optIn 200, or optOut with the refusal code).
 * 2. At start and at each interval boundary: the signals in force are translated per device,
 *    checked by the policy, and executed (ramp steps on timers). An event with a ramp-up period
 *    (OpenADR x-eiRampUp: begin changing this long before dtstart so that the requested level
 *    is reached at dtstart) applies its first interval's signals from dtstart − rampUp; the
 *    ramp-up honoured is capped by `maxRampUpMs`. The owner's normal mode is
 *    recorded before the first forced command to a device.
 * 3. At the end, on cancellation, on a newer modification that no longer targets a device, or
 *    when the fail-safe says so: each device the event commands goes to the next accepted event
 *    that wants it, or, when none does, back to the owner's normal mode (`auto`).
 *
 * Answers are honest: optIn only when at least one controllable resource the event targets
 * will follow it (a meter, or a device the event asks nothing of, never counts); every targeted
 * resource refused (not admitted, signal not applicable, refused by the policy's dry run) is
 * listed with its code and reason in `EventAnswer.refused` and is not controlled by the event.
 *
 * Per-device arbitration (arbitration.ts): when several running events want one device, only
 * the leading one (OpenADR priority — TSO over retailer over operator as erab's aggregator
 * sets it — then the earliest accepted) commands it. Ending or cancelling an event that does
 * not lead a device never touches that device.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { EpochMillis } from '../../core/units.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type { OptReason } from '../../protocols/openadr/opt.js';
import { OadrResponseCode } from '../../protocols/openadr/errors.js';
import type { AuditSink } from '../../security/audit/types.js';
import { leadingClaim } from './arbitration.js';
import type { GuardTarget } from './command-guard.js';
import { RANGE_RULES, type FailSafe, type SafetyPolicy } from './policy.js';
import { DEFAULT_TRANSLATION, translateSignals, validateSignals, type DeviceProfile, type TranslationConfig, type TranslationResult } from './translate.js';
import {
  describeCommand,
  type DeviceCommand, type DeviceReading, type EventSignal, type OwnerNormal, type SignalUnit,
} from './types.js';

/** One interval of a signal, relative to the event start. `durationMs` 0 = until the event ends. */
export interface ScheduledInterval {
  startOffsetMs: number;
  durationMs: number;
  value: number;
}

export interface ScheduledSignal {
  name: string;
  type: string;
  unit?: SignalUnit | undefined;
  intervals: ScheduledInterval[];
  target?: GuardTarget | undefined;
}

/** An accepted event as the engine schedules it (converted from oadrEvent by the upstream adapter). */
export interface GatewayEvent {
  eventID: string;
  modificationNumber: number;
  status: 'none' | 'far' | 'near' | 'active' | 'completed' | 'cancelled';
  start: EpochMillis;
  /** 0 = open-ended. */
  durationMs: number;
  /** x-eiRampUp: begin this long before `start` (0 or absent: at `start`). */
  rampUpMs?: number | undefined;
  target: GuardTarget;
  signals: ScheduledSignal[];
  /**
   * OpenADR ei:priority (lower non-zero first; 0 or absent = no priority): decides which of two
   * overlapping events commands a device (arbitration.ts).
   */
  priority?: number | undefined;
}

/** A targeted resource the gateway will not control for an event, and why. */
export interface ResourceRefusal {
  resourceID: string;
  /** The OpenADR response code the refusal corresponds to (e.g. 454 beyond the policy's range). */
  code: number;
  reason: string;
  /** EiOpt optReason for the per-resource oadrCreateOpt: an OpenADR reason or `x-<policy rule>`. */
  optReason: OptReason;
}

/**
 * The answer for oadrCreatedEvent: optIn only when at least one controllable resource the
 * event targets will follow it. `refused` lists the targeted resources that will not (each is
 * opted out on its own with an oadrCreateOpt when the event as a whole is accepted).
 */
export interface EventAnswer {
  code: number;
  optType: 'optIn' | 'optOut';
  description?: string | undefined;
  refused?: ResourceRefusal[] | undefined;
}

/** Sends commands to devices (the ECHONET Lite side). Resolves when the device accepted the Set. */
export interface DevicePort {
  execute(cmd: DeviceCommand, normal: OwnerNormal | undefined): Promise<void>;
}

/** What the engine needs to know about the site's devices. */
export interface DeviceDirectory {
  /** Every resource id of this gateway (admitted or not). */
  resources(): ReadonlySet<string>;
  isControllable(deviceId: string): boolean;
  profile(deviceId: string): DeviceProfile | undefined;
  reading(deviceId: string): DeviceReading | undefined;
}

export interface EngineOptions {
  clock: Clock;
  policy: SafetyPolicy;
  failSafe: FailSafe;
  devices: DeviceDirectory;
  port: DevicePort;
  audit: AuditSink;
  translation?: TranslationConfig | undefined;
  /** Period of the fail-safe / state-of-charge tick, ms (default 5 s). */
  tickMs?: number | undefined;
  /** Longest ramp-up honoured before an event's start, ms (default 15 min); longer ones are capped. */
  maxRampUpMs?: number | undefined;
  logger?: Logger | undefined;
}

interface DeviceControl {
  eventID: string;
  normal: OwnerNormal | undefined;
  /** Net power before the first forced command: the base a LOAD_DISPATCH delta applies to. */
  baselinePowerW: number | undefined;
  /** The last command translated from the signals (what the event asks). */
  asked: DeviceCommand | undefined;
  /** The last command sent (may differ: clamped, ramping, stopped by the SoC watch). */
  active: DeviceCommand | undefined;
  /** When the device acknowledged `active` (its Set_Res). */
  confirmedAt?: number | undefined;
  /** The owner changed the device by hand during the event: the gateway leaves it alone. */
  overridden?: boolean | undefined;
  pending: TimerHandle[];
}

/** What a device reports when it follows a command (ECHONET Lite 0xDA / 0xB0 / 0xB3 / 0xA0 values). */
const EXPECTED_MODE: Partial<Record<string, string>> = {
  charge: 'charging', discharge: 'discharging', standby: 'standby',
  ev_charge: 'charging', ev_discharge: 'discharging', ev_stop: 'standby',
  boil: 'manualHeating', stop_boil: 'manualStop',
};

/**
 * True when a reading taken after the device acknowledged `cmd` shows another state: someone
 * changed it at the device (OpenADR oadrManualOverride).
 */
export function contradicts(cmd: DeviceCommand, r: DeviceReading): boolean {
  if (cmd.action === 'aircon_setpoint') return r.temperatureC !== undefined && r.temperatureC !== cmd.temperatureC;
  if (cmd.action === 'pv_limit') return r.pvLimitPercent !== undefined && r.pvLimitPercent !== cmd.percent;
  if (cmd.action === 'light_level') return r.levelPercent !== undefined && r.levelPercent !== cmd.percent;
  const expected = EXPECTED_MODE[cmd.action];
  return expected !== undefined && r.mode !== undefined && r.mode !== expected;
}

interface EventState {
  ev: GatewayEvent;
  end: EpochMillis | undefined;
  timers: TimerHandle[];
  devices: string[];
  /** The last command each device was asked for by this event (allowed or refused), so a
   *  refusal is audited once per change, not on every tick. */
  asked: Map<string, DeviceCommand>;
  phase: 'scheduled' | 'held' | 'active' | 'done';
  /** Acceptance order at this gateway, kept across modifications (arbitration: earliest accepted). */
  acceptedSeq: number;
}

/**
 * True when a signal applies to a device: no signal-level target, a target without resources
 * (e.g. the VEN), or a target naming the device (OpenADR 2.0b: ei:eiEventSignal/ei:eiTarget).
 */
export function signalAppliesTo(s: ScheduledSignal, deviceId: string): boolean {
  const res = s.target?.resourceID ?? [];
  return res.length === 0 || res.includes(deviceId);
}

/** Every resource an event names, at event or signal level. */
export function namedResources(ev: GatewayEvent): string[] {
  const out = new Set(ev.target.resourceID ?? []);
  for (const s of ev.signals) for (const r of s.target?.resourceID ?? []) out.add(r);
  return [...out];
}

/**
 * In-force value of each signal at `now` (only those that apply to `deviceId` when given), or
 * none when no interval covers it.
 */
export function signalsAt(ev: GatewayEvent, now: number, deviceId?: string): EventSignal[] {
  const out: EventSignal[] = [];
  const end = ev.durationMs > 0 ? ev.start + ev.durationMs : Number.POSITIVE_INFINITY;
  if (now < ev.start || now >= end) return out;
  for (const s of ev.signals) {
    if (deviceId !== undefined && !signalAppliesTo(s, deviceId)) continue;
    for (const [i, iv] of s.intervals.entries()) {
      const from = ev.start + iv.startOffsetMs;
      const last = i === s.intervals.length - 1;
      // A last interval without a duration lasts until the event ends (OpenADR: duration PT0S).
      const to = iv.durationMs > 0 ? from + iv.durationMs : last ? end : from;
      if (now >= from && now < to) {
        out.push({ name: s.name, type: s.type, value: iv.value, unit: s.unit });
        break;
      }
    }
  }
  return out;
}

/** Every instant at which the signals in force may change (interval starts and the end). */
function boundaries(ev: GatewayEvent, rampUpMs: number): number[] {
  const set = new Set<number>([ev.start - rampUpMs, ev.start]);
  for (const s of ev.signals) for (const iv of s.intervals) {
    set.add(ev.start + iv.startOffsetMs);
    if (iv.durationMs > 0) set.add(ev.start + iv.startOffsetMs + iv.durationMs);
  }
  if (ev.durationMs > 0) set.add(ev.start + ev.durationMs);
  return [...set].sort((a, b) => a - b);
}

function sameCommand(a: DeviceCommand | undefined, b: DeviceCommand | undefined): boolean {
  return a !== undefined && b !== undefined && a.action === b.action && a.powerW === b.powerW && a.percent === b.percent && a.temperatureC === b.temperatureC;
}

/** Signals of the whole event (every interval's value), for up-front validation. */
function allSignalValues(ev: GatewayEvent): EventSignal[] {
  return ev.signals.flatMap((s) => s.intervals.map((iv) => ({ name: s.name, type: s.type, value: iv.value, unit: s.unit })));
}

/**
 * The event engine of one gateway.
 * @example
 *   const engine = new EventEngine({ clock, policy, failSafe, devices, port, audit });
 *   const answer = engine.accept(gatewayEvent); // → { code: 200, optType: 'optIn' }
 */
export class EventEngine {
  private readonly events = new Map<string, EventState>();
  private readonly control = new Map<string, DeviceControl>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly cfg: TranslationConfig;
  private readonly log: Logger;
  private tickTimer: TimerHandle | undefined;
  /** Events accepted so far (acceptance order for arbitration). */
  private acceptedCount = 0;
  private closed = false;
  private stopping = false;
  /** Ramp steps of restores under way, per device (cancelled if a new event takes the device). */
  private readonly restoring = new Map<string, TimerHandle[]>();
  /**
   * The owner's mode as recorded by the last event that released a device, and when: a reading
   * taken before that release still shows the forced state and must not become "normal".
   */
  private readonly released = new Map<string, { normal: OwnerNormal | undefined; baselinePowerW: number | undefined; at: number }>();
  /** The owner's safe mode (an incident playbook): every device in the owner's mode, no event accepted. */
  private safe: { by: string; reason: string; since: number } | undefined;

  constructor(private readonly o: EngineOptions) {
    this.cfg = o.translation ?? DEFAULT_TRANSLATION;
    this.log = o.logger ?? silentLogger;
    this.armTick();
  }

  /** Accepts a new event or a newer modification; returns the oadrCreatedEvent answer. */
  accept(ev: GatewayEvent): EventAnswer {
    const previous = this.events.get(ev.eventID);
    if (ev.status === 'cancelled') {
      if (previous) this.finish(previous, 'event cancelled');
      return { code: OadrResponseCode.OK, optType: 'optIn', description: 'cancellation applied' };
    }
    if (this.safe) return this.refuseEvent(ev, OadrResponseCode.NOT_ALLOWED, `the site is in the owner's safe mode (by ${this.safe.by}: ${this.safe.reason}); no event is accepted until an operator lifts it`);
    const invalid = validateSignals(allSignalValues(ev));
    if (invalid) return this.refuseEvent(ev, invalid.code, invalid.reason);

    const own = this.o.devices.resources();
    // Resources named at event level narrow the event; signal-level targets pick per signal.
    const eventNamed = ev.target.resourceID ?? [];
    const named = namedResources(ev);
    const targeted = (eventNamed.length > 0 ? eventNamed.filter((r) => own.has(r)) : [...own])
      .filter((id) => ev.signals.some((s) => signalAppliesTo(s, id)));
    // Per-resource decision, checked against the first interval's values: a resource counts as
    // accepted only when the gateway will command it (the translation yields a command and the
    // policy does not refuse it). A meter, or a device the event asks nothing of, never counts.
    const firstFor = (id: string): EventSignal[] => ev.signals.filter((s) => signalAppliesTo(s, id))
      .map((s) => ({ name: s.name, type: s.type, value: s.intervals[0]?.value ?? 0, unit: s.unit }));
    const accepted: string[] = [];
    const refused: ResourceRefusal[] = [];
    const refuse = (id: string, code: number, reason: string, optReason: OptReason, details: Record<string, unknown> = {}): void => {
      refused.push({ resourceID: id, code, reason, optReason });
      this.auditDevice(ev, id, 'refused', reason, { code, ...details });
    };
    // Why nothing applied, for the answer when no resource is concerned at all.
    let notConcerned: { code: number; reason: string } | undefined;
    let admitted = 0;
    for (const id of targeted) {
      if (!this.o.devices.isControllable(id)) {
        if (named.includes(id)) refuse(id, OadrResponseCode.NOT_ALLOWED, 'device not admitted: pending, quarantined or rejected devices are never controlled', 'x-not-admitted');
        continue;
      }
      admitted++;
      const profile = this.o.devices.profile(id);
      if (!profile) continue;
      const reading = this.o.devices.reading(id);
      const t = translateSignals(firstFor(id), profile, { reading }, this.cfg);
      if (!t.ok) {
        // 460 for a device the event did not name: the event is simply not for this class.
        if (t.code === OadrResponseCode.SIGNAL_NOT_SUPPORTED && !named.includes(id)) notConcerned ??= t;
        else refuse(id, t.code, t.reason, optReasonOfCode(t.code));
        continue;
      }
      if (!t.command) {
        const why = t.note ?? `the event asks nothing of a ${profile.class}`;
        if (named.includes(id)) refuse(id, OadrResponseCode.SIGNAL_NOT_SUPPORTED, why, 'x-nothing-to-control');
        else notConcerned ??= { code: OadrResponseCode.SIGNAL_NOT_SUPPORTED, reason: why };
        continue;
      }
      if (t.command.action !== 'auto') {
        // Dry run of the policy: a command it would refuse is answered now rather than accepted
        // and silently not followed.
        const d = this.o.policy.decide(t.command, reading, { dryRun: true });
        if (d.verdict === 'refuse') {
          const r = d.reasons[0]!;
          refuse(id, RANGE_RULES.includes(r.rule) ? OadrResponseCode.INVALID_DATA : OadrResponseCode.NOT_ALLOWED, `${r.rule}: ${r.message}`, optReasonOfRule(r.rule), {
            command: describeCommand(t.command), rules: d.reasons.map((x) => x.rule),
          });
          continue;
        }
      }
      accepted.push(id);
    }
    if (admitted === 0) {
      return this.refuseEvent(ev, OadrResponseCode.NOT_ALLOWED, named.length > 0 ? `no targeted resource is admitted (${named.join(', ')})` : 'this gateway has no admitted resource', refused);
    }
    if (accepted.length === 0) {
      const first = refused[0] ?? notConcerned;
      const all = refused.length > 1 ? `; ${refused.map((r) => `${r.resourceID}: ${r.reason}`).join('; ')}` : '';
      return this.refuseEvent(ev, first?.code ?? OadrResponseCode.SIGNAL_NOT_SUPPORTED, `${first?.reason ?? 'no resource can follow this event'}${all}`, refused);
    }
    const applicable = accepted;

    if (previous) {
      for (const t of previous.timers) t.cancel();
      // The old copy claims nothing any more (arbitration); the new one takes its place below.
      previous.phase = 'done';
      // Devices the new modification no longer targets go to the next event's instruction, or back to normal.
      for (const id of previous.devices) if (!applicable.includes(id)) this.release(id, previous.ev.eventID, 'no longer targeted by the modified event');
      this.events.delete(ev.eventID);
    }
    const state: EventState = {
      ev,
      end: ev.durationMs > 0 ? ((ev.start + ev.durationMs) as EpochMillis) : undefined,
      timers: [],
      devices: applicable,
      asked: new Map(),
      phase: 'scheduled',
      acceptedSeq: previous?.acceptedSeq ?? ++this.acceptedCount,
    };
    this.events.set(ev.eventID, state);
    const now = this.o.clock.now();
    for (const at of boundaries(ev, this.rampUpOf(ev))) {
      if (at <= now) continue;
      state.timers.push(this.o.clock.setTimeout(() => this.apply(state), at - now));
    }
    this.apply(state);
    if (refused.length === 0) return { code: OadrResponseCode.OK, optType: 'optIn' };
    return {
      code: OadrResponseCode.OK, optType: 'optIn', refused,
      description: `accepted for ${applicable.join(', ')}; refused: ${refused.map((r) => `${r.resourceID}: ${r.reason}`).join('; ')}`,
    };
  }

  /**
   * Ends an event the aggregator no longer lists (OpenADR 2.0b §8.1: an event missing from a
   * complete oadrDistributeEvent is implicitly cancelled). Returns false when it was unknown.
   */
  cancelEvent(eventID: string, reason: string): boolean {
    const state = this.events.get(eventID);
    if (!state) return false;
    this.finish(state, reason);
    return true;
  }

  /** Ids of the events the engine is running or waiting for. */
  eventIds(): string[] {
    return [...this.events.keys()];
  }

  /** The command currently in force on a device, if an event controls it. */
  activeCommand(deviceId: string): DeviceCommand | undefined {
    return this.control.get(deviceId)?.active;
  }

  /** True while the owner has taken a device over by hand during the event controlling it. */
  manualOverride(deviceId: string): boolean {
    return this.control.get(deviceId)?.overridden === true;
  }

  /** The owner's normal mode recorded before the first forced command, while an event controls it. */
  normalOf(deviceId: string): OwnerNormal | undefined {
    return this.control.get(deviceId)?.normal;
  }

  /** Event ids with their phase, for status and tests. */
  eventPhases(): Record<string, EventState['phase']> {
    return Object.fromEntries([...this.events].map(([k, v]) => [k, v.phase]));
  }

  /** Resolves when every command queued so far has been sent. */
  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()]);
  }

  /** Periodic checks: fail-safe verdicts, held events, the state-of-charge watch. */
  tick(): void {
    for (const state of [...this.events.values()]) this.apply(state);
    for (const [id, c] of this.control) {
      if (!c.active || c.overridden) continue;
      const reading = this.o.devices.reading(id);
      if (!reading) continue;
      if (c.confirmedAt !== undefined && reading.at > c.confirmedAt && c.pending.length === 0 && contradicts(c.active, reading)) {
        // The owner wins: no further command for this device during this event, and no restore
        // at its end (that would undo the owner's own choice).
        c.overridden = true;
        this.o.audit.append({
          actor: { kind: 'system', id: 'gateway.engine' }, action: 'gateway.device.manual_override', target: id, outcome: 'success',
          reason: `device reports ${reading.mode ?? reading.temperatureC ?? reading.pvLimitPercent} after ${describeCommand(c.active)} was acknowledged; control released to the owner`,
          details: { eventID: c.eventID },
        });
        continue;
      }
      const stop = this.o.policy.watch(c.active, reading);
      if (stop) {
        this.o.audit.append({
          actor: { kind: 'system', id: 'gateway.policy' }, action: 'gateway.command', target: id, outcome: 'success',
          reason: stop.reason.message, details: { rule: stop.reason.rule, command: describeCommand(stop.command), eventID: c.eventID },
        });
        this.command(id, c, stop.command);
      }
    }
  }

  /**
   * Safe mode (incident response, 自家用GL 10-2 被害拡大防止): every event ends and every device
   * it controlled goes back to the owner's mode; events are refused until {@link leaveSafeMode}.
   * Audited as the operator's decision. Returns the devices released.
   */
  enterSafeMode(by: string, reason: string): string[] {
    const devices = [...this.control.keys()];
    this.safe = { by, reason, since: this.o.clock.now() };
    this.o.audit.append({ actor: { kind: 'operator', id: by }, action: 'gateway.safe-mode.enter', outcome: 'success', reason, details: { events: this.eventIds(), devices } });
    for (const state of [...this.events.values()]) this.finish(state, `owner's safe mode: ${reason}`);
    return devices;
  }

  /**
   * Returns one device to the owner's mode now, whatever event controls it, without handing it to
   * another event (before an operator quarantines it: the last command it gets is the restore).
   * Returns false when no event controlled it.
   */
  releaseToOwner(deviceId: string, reason: string): boolean {
    const c = this.control.get(deviceId);
    if (!c) return false;
    this.release(deviceId, c.eventID, reason, false);
    return true;
  }

  /** At start: the safe mode the gateway was in when it stopped stays in force (audited). */
  resumeSafeMode(state: { by: string; reason: string; since: number }): void {
    this.safe = { ...state };
    this.o.audit.append({ actor: { kind: 'system', id: 'gateway.engine' }, action: 'gateway.safe-mode.resumed', outcome: 'success', reason: state.reason, details: { by: state.by, since: state.since } });
  }

  /** Lifts safe mode: events are accepted again. Audited. */
  leaveSafeMode(by: string, reason: string): void {
    if (!this.safe) return;
    this.safe = undefined;
    this.o.audit.append({ actor: { kind: 'operator', id: by }, action: 'gateway.safe-mode.leave', outcome: 'success', reason });
  }

  /** The safe mode in force, if any. */
  safeMode(): { by: string; reason: string; since: number } | undefined {
    return this.safe ? { ...this.safe } : undefined;
  }

  /** Returns every controlled device to normal and stops all timers. */
  close(): void {
    if (this.closed) return;
    // Shutting down: restore at once, without ramp steps that would fire after the sockets close.
    this.stopping = true;
    for (const state of [...this.events.values()]) this.finish(state, 'gateway stopping');
    for (const [id, timers] of this.restoring) {
      for (const t of timers) t.cancel();
      this.restoring.delete(id);
    }
    this.tickTimer?.cancel();
    this.closed = true;
  }

  private armTick(): void {
    this.tickTimer = this.o.clock.setTimeout(() => {
      if (this.closed) return;
      try {
        this.tick();
      } catch (err) {
        this.log.error({ err }, 'engine tick failed');
      }
      this.armTick();
    }, this.o.tickMs ?? 5000);
  }

  private apply(state: EventState): void {
    if (state.phase === 'done' || this.closed) return;
    const now = this.o.clock.now();
    // During the ramp-up the first interval's signals apply, so the level is reached at dtstart.
    const begin = state.ev.start - this.rampUpOf(state.ev);
    const window = { start: begin as EpochMillis, end: state.end };
    if (now < begin) {
      return;
    }
    const verdict = this.o.failSafe.evaluate(window);
    if (verdict.action === 'revert') {
      this.finish(state, verdict.reason);
      return;
    }
    if (verdict.action === 'hold' || (state.phase !== 'active' && this.o.failSafe.unreachable())) {
      // The event was due to start while the aggregator could not be heard: do not start it.
      if (state.phase !== 'held') {
        this.o.audit.append({
          actor: { kind: 'system', id: 'gateway.failsafe' }, action: 'gateway.event.held', target: state.ev.eventID, outcome: 'refused',
          reason: verdict.action === 'hold' ? verdict.reason : 'aggregator unreachable at the event start',
        });
      }
      state.phase = 'held';
      return;
    }
    state.phase = 'active';
    for (const id of state.devices) this.applyDevice(state, id, signalsAt(state.ev, Math.max(now, state.ev.start), id));
  }

  /** The ramp-up this engine honours for `ev`: the event's own, capped by `maxRampUpMs`. */
  private rampUpOf(ev: GatewayEvent): number {
    const asked = ev.rampUpMs ?? 0;
    if (!(asked > 0)) return 0;
    return Math.min(asked, this.o.maxRampUpMs ?? 15 * 60_000);
  }

  private applyDevice(state: EventState, id: string, signals: EventSignal[]): void {
    const ev = state.ev;
    if (!this.o.devices.isControllable(id)) {
      const c = this.control.get(id);
      if (c && c.eventID === ev.eventID) {
        this.control.delete(id);
        this.auditDevice(ev, id, 'refused', 'device is no longer admitted (quarantined or rejected); control released without further commands');
      }
      return;
    }
    const profile = this.o.devices.profile(id);
    if (!profile || signals.length === 0) return;
    let c = this.control.get(id);
    // Arbitration: of the events that want this device now, only the leading one commands it.
    const lead = this.leadFor(id);
    if (lead && lead !== state) {
      if (c?.eventID === ev.eventID) this.handOver(lead, id);
      c = this.control.get(id);
      // Still ours (the lead's command was refused) while we no longer want the device: go on,
      // so that our own instruction (e.g. a release to normal) is carried out.
      if (c?.eventID !== ev.eventID || this.wants(state, id)) return;
    } else if (!lead && c && c.eventID !== ev.eventID) {
      return; // nobody claims the device and another event holds it: that event decides
    }
    if (c?.overridden && c.eventID === ev.eventID) return;
    const reading = this.o.devices.reading(id);
    const prev = this.released.get(id);
    const stale = !c && prev !== undefined && (!reading || reading.at <= prev.at);
    const t = this.translateFor(id, profile, signals, c);
    if (!t.ok) {
      this.auditDevice(ev, id, 'refused', t.reason, { code: t.code });
      return;
    }
    const cmd = t.command;
    if (!cmd || sameCommand(cmd, state.asked.get(id))) return;
    state.asked.set(id, cmd);
    if (cmd.action === 'auto' && !c) return; // nothing forced, nothing to restore
    const decision = this.o.policy.decide(cmd, reading);
    if (decision.verdict === 'refuse') {
      this.auditDevice(ev, id, 'refused', decision.reasons.map((r) => `${r.rule}: ${r.message}`).join('; '), {
        command: describeCommand(cmd), rules: decision.reasons.map((r) => r.rule),
      });
      return;
    }
    if (!c) {
      // A restore still ramping down from an earlier event stops here; the new event takes over.
      for (const t of this.restoring.get(id) ?? []) t.cancel();
      this.restoring.delete(id);
      c = {
        eventID: ev.eventID,
        normal: stale ? prev!.normal : normalFrom(reading),
        baselinePowerW: stale ? prev!.baselinePowerW : reading?.powerW,
        asked: undefined, active: undefined, pending: [],
      };
      this.control.set(id, c);
    } else if (c.eventID !== ev.eventID) {
      // This event leads the device now; the owner's normal mode and the pre-event power stay
      // the ones recorded before the first forced command.
      const from = c.eventID;
      for (const p of c.pending) p.cancel();
      // The event giving the device up applies afresh when it leads again.
      this.events.get(from)?.asked.delete(id);
      c = { ...c, eventID: ev.eventID, asked: undefined, pending: [], overridden: false };
      this.control.set(id, c);
      this.o.audit.append({
        actor: { kind: 'system', id: 'gateway.engine' }, action: 'gateway.arbitration', target: id, outcome: 'success',
        reason: `event ${ev.eventID} takes the device over from event ${from}`,
        details: { from, to: ev.eventID, priority: ev.priority },
      });
    }
    c.asked = cmd;
    for (const p of c.pending) p.cancel();
    c.pending = [];
    this.auditDevice(ev, id, 'success', decision.verdict === 'clamp' ? decision.reasons.map((r) => `${r.rule}: ${r.message}`).join('; ') : undefined, {
      command: describeCommand(decision.command), verdict: decision.verdict, signal: `${t.signal.name}/${t.signal.type}=${t.signal.value}`,
      steps: decision.steps.length,
    });
    this.runSteps(id, c, decision.steps);
  }

  /** The signals' command for a device, relative to its pre-event power and owner's mode. */
  private translateFor(id: string, profile: DeviceProfile, signals: EventSignal[], c: DeviceControl | undefined): TranslationResult {
    const reading = this.o.devices.reading(id);
    // A delta applies to the power before the event, not to the power it already caused.
    const prev = this.released.get(id);
    const stale = !c && prev !== undefined && (!reading || reading.at <= prev.at);
    const basePower = c ? c.baselinePowerW : stale ? prev.baselinePowerW : reading?.powerW;
    const base = reading ? { ...reading, powerW: (basePower ?? reading.powerW) as DeviceReading['powerW'] } : reading;
    return translateSignals(signals, profile, { reading: base, normal: c?.normal ?? (stale ? prev.normal : undefined) }, this.cfg);
  }

  /**
   * True when a running event wants to command a device now: it targets the device, a signal
   * is in force for it, and that signal asks for something other than the owner's normal mode
   * (a release — SIMPLE level 0 — claims nothing). An event whose device the owner took over by
   * hand keeps its claim: the owner wins for the rest of that event.
   */
  private wants(state: EventState, id: string): boolean {
    if (state.phase !== 'active' || !state.devices.includes(id)) return false;
    const c = this.control.get(id);
    if (c?.eventID === state.ev.eventID && c.overridden) return true;
    const profile = this.o.devices.profile(id);
    if (!profile) return false;
    const signals = signalsAt(state.ev, Math.max(this.o.clock.now(), state.ev.start), id);
    if (signals.length === 0) return false;
    const t = this.translateFor(id, profile, signals, c);
    return t.ok && t.command !== undefined && t.command.action !== 'auto';
  }

  /** The event that commands a device now by the stated precedence (arbitration.ts), if any wants it. */
  private leadFor(id: string): EventState | undefined {
    if (this.safe) return undefined; // safe mode: nothing takes a released device over
    const claims: { eventID: string; priority: number | undefined; acceptedSeq: number; state: EventState }[] = [];
    for (const state of this.events.values()) {
      if (this.wants(state, id)) claims.push({ eventID: state.ev.eventID, priority: state.ev.priority, acceptedSeq: state.acceptedSeq, state });
    }
    return leadingClaim(claims)?.state;
  }

  /** Gives a device to `lead`: its instruction in force now is applied afresh. */
  private handOver(lead: EventState, id: string): void {
    lead.asked.delete(id);
    this.applyDevice(lead, id, signalsAt(lead.ev, Math.max(this.o.clock.now(), lead.ev.start), id));
  }

  private runSteps(id: string, c: DeviceControl, steps: { afterMs: number; command: DeviceCommand }[]): void {
    for (const step of steps) {
      if (step.afterMs <= 0) {
        this.command(id, c, step.command);
      } else {
        const handle = this.o.clock.setTimeout(() => {
          c.pending = c.pending.filter((p) => p !== handle);
          this.command(id, c, step.command);
        }, step.afterMs);
        c.pending.push(handle);
      }
    }
  }

  /** Ends an event: every device it controls returns to the owner's normal mode. */
  private finish(state: EventState, reason: string): void {
    if (state.phase === 'done') return;
    state.phase = 'done';
    for (const t of state.timers) t.cancel();
    for (const id of state.devices) this.release(id, state.ev.eventID, reason);
    this.events.delete(state.ev.eventID);
    this.o.audit.append({
      actor: { kind: 'system', id: 'gateway.engine' }, action: 'gateway.event.end', target: state.ev.eventID, outcome: 'success', reason,
    });
  }

  /**
   * The event `eventID` gives a device up (ended, cancelled, no longer targeting it). Only the
   * event that commands the device may change it: the next accepted event that wants the device
   * takes it over (arbitration.ts); when none does, it goes back to the owner's normal mode.
   */
  private release(id: string, eventID: string, reason: string, handOver = true): void {
    let c = this.control.get(id);
    if (!c || c.eventID !== eventID) return;
    if (handOver && !this.stopping && !this.closed) {
      const next = this.leadFor(id);
      if (next) this.handOver(next, id);
      c = this.control.get(id);
      if (!c || c.eventID !== eventID) return;
    }
    for (const p of c.pending) p.cancel();
    this.control.delete(id);
    this.released.set(id, { normal: c.normal, baselinePowerW: c.baselinePowerW, at: this.o.clock.now() });
    if (!this.o.devices.isControllable(id) || c.overridden) return;
    const auto: DeviceCommand = { deviceId: id, class: this.o.devices.profile(id)?.class ?? 'battery', action: 'auto' };
    const decision = this.o.policy.decide(auto, this.o.devices.reading(id));
    this.o.audit.append({
      actor: { kind: 'system', id: 'gateway.engine' }, action: 'gateway.command', target: id, outcome: 'success', reason,
      details: { command: describeCommand(auto), eventID, steps: decision.steps.length, normal: c.normal },
    });
    // `auto` is never refused by the policy (class-action aside); a restore always goes out.
    const steps = decision.steps.length > 0 && !this.stopping ? decision.steps : [{ afterMs: 0, command: auto }];
    const restore: DeviceControl = { ...c, pending: [] };
    this.runSteps(id, restore, steps);
    if (restore.pending.length > 0) this.restoring.set(id, restore.pending);
  }

  /**
   * Puts `cmd` in force on a controlled device. Until the device acknowledges it, a reading
   * proves nothing about the owner's hand (it may still show the command before), so the
   * acknowledgement time of the previous command goes with it.
   */
  private command(id: string, c: DeviceControl, cmd: DeviceCommand): void {
    c.active = cmd;
    c.confirmedAt = undefined;
    this.send(id, cmd, c.normal, c);
  }

  private send(id: string, cmd: DeviceCommand, normal: OwnerNormal | undefined, c?: DeviceControl): void {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.o.port.execute(cmd, normal)).then(() => {
      if (c && c.active === cmd) c.confirmedAt = this.o.clock.now();
    }).catch((err: unknown) => {
      this.log.warn({ device: id, command: describeCommand(cmd), err: (err as Error).message }, 'device command failed');
      this.o.audit.append({
        actor: { kind: 'system', id: 'gateway.engine' }, action: 'gateway.device.set', target: id, outcome: 'failure',
        reason: (err as Error).message, details: { command: describeCommand(cmd) },
      });
    });
    this.queues.set(id, next);
  }

  private refuseEvent(ev: GatewayEvent, code: number, reason: string, refused?: ResourceRefusal[]): EventAnswer {
    // A refused modification of a running event: we no longer know what is wanted, so stop it.
    const previous = this.events.get(ev.eventID);
    if (previous) this.finish(previous, `modification ${ev.modificationNumber} refused: ${reason}`);
    this.o.audit.append({
      actor: { kind: 'system', id: 'gateway.engine' }, action: 'gateway.command', target: ev.eventID, outcome: 'refused', reason,
      details: { code, modificationNumber: ev.modificationNumber },
    });
    return { code, optType: 'optOut', description: reason, ...(refused && refused.length > 0 ? { refused } : {}) };
  }

  private auditDevice(ev: GatewayEvent, id: string, outcome: 'success' | 'refused', reason: string | undefined, details: Record<string, unknown> = {}): void {
    this.o.audit.append({
      actor: { kind: 'system', id: 'gateway.engine' }, action: 'gateway.command', target: id, outcome, reason,
      details: { eventID: ev.eventID, modificationNumber: ev.modificationNumber, ...details },
    });
  }
}

/** EiOpt optReason for a translation failure of one resource. */
function optReasonOfCode(code: number): OptReason {
  switch (code) {
    case OadrResponseCode.SIGNAL_NOT_SUPPORTED: return 'x-signal-not-supported';
    case OadrResponseCode.INVALID_DATA: return 'x-invalid-data';
    default: return 'x-cannot-follow';
  }
}

/** EiOpt optReason for a policy refusal: the OpenADR reason where one fits, else `x-<rule>`. */
function optReasonOfRule(rule: string): OptReason {
  if (rule === 'device-offline') return 'outageRunStatus';
  return `x-${rule}`;
}

/** The owner's normal mode of a device, from its reading before the first forced command. */
export function normalFrom(r: DeviceReading | undefined): OwnerNormal | undefined {
  if (!r) return undefined;
  return { mode: r.mode, temperatureC: r.temperatureC, percent: r.pvLimitPercent ?? r.levelPercent };
}
