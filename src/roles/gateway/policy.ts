/**
 * The gateway's local safety policy: the last check before equipment moves.
 *
 * The private-facility guideline (自家用電気工作物 cybersecurity guideline, 7-1-2 不正処理防止)
 * asks a controller to stop illegitimate or mistaken commands; the ERAB guideline (§3.3) asks
 * for "the correct command to the correct device". A command that is authentic (see
 * command-guard.ts) can still be wrong — a typo of 30 kW for 3 kW, a discharge that empties
 * the owner's backup reserve, a command storm — so every command passes this policy, which
 * knows nothing about who sent it, only what it would do to the site.
 *
 * Rules (each decision names the rule that fired):
 * - `class-action`       the action exists for the device's class.
 * - `device-offline`     the device answered its last reads.
 * - `allowed-hours`      forced commands only inside the configured hours (JST, UTC+9, no DST).
 * - `rate-limit`, `site-rate-limit`  commands per device and per site in any 60 s window.
 * - `max-charge-power`, `max-discharge-power`  power limits per class, per device.
 * - `soc-floor`, `soc-ceiling`, `soc-unknown`  battery / vehicle state of charge keeps the
 *   owner's backup reserve (floor) and protects the cells (ceiling).
 * - `pv-limit-range`, `setpoint-range`  PV output limit and air-conditioner set temperature.
 * - `ramp-rate`          a power change larger than the ramp rate allows is spread over steps.
 * Out-of-range values are refused, or clamped when the class says `outOfRange: 'clamp'`; the
 * decision records which, so the audit log shows it either way.
 *
 * `auto` (return to the owner's normal mode) is never refused by hours, rate or range rules:
 * the safe state must always be reachable.
 */
import { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import { isStorageKind } from '../../core/domain/device-classes.js';
import { jstMinuteOfDay } from '../../core/jst.js';
import type { EpochMillis } from '../../core/units.js';
import { watts } from '../../core/units.js';
import {
  ACTIONS_BY_CLASS,
  DEVICE_CLASSES,
  type DeviceClass,
  type DeviceCommand,
  type DeviceReading,
  commandNetPowerW,
} from './types.js';

const HHMM = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

/** A daily window in Japan Standard Time, `from` inclusive, `to` exclusive; may wrap midnight. */
export const hoursWindowSchema = z.object({
  from: z.string().regex(HHMM, 'must be HH:MM (00:00..24:00, JST)'),
  to: z.string().regex(HHMM, 'must be HH:MM (00:00..24:00, JST)'),
}).strict();
export type HoursWindow = z.infer<typeof hoursWindowSchema>;

const percent = z.number().min(0).max(100);

/** Limits for one device class, or overrides for one device. Every field optional here. */
export const classPolicySchema = z.object({
  /** Largest charge (or consumption) power a command may ask for, W. */
  maxChargeW: z.number().nonnegative(),
  /** Largest discharge power a command may ask for, W. */
  maxDischargeW: z.number().nonnegative(),
  /** Largest change of power per second, W/s; larger changes are spread over steps. */
  rampWPerSecond: z.number().positive(),
  /** Spacing of ramp steps, ms. */
  rampStepMs: z.number().int().min(100).max(60_000),
  /** The owner's backup reserve: no discharge at or below this state of charge. */
  socFloorPercent: percent,
  /** No charge at or above this state of charge. */
  socCeilingPercent: percent,
  /** PV output limit may not go below this percentage of rated output. */
  minPvLimitPercent: percent,
  /** Air-conditioner set temperature bounds, °C. */
  minSetpointC: z.number().min(0).max(50),
  maxSetpointC: z.number().min(0).max(50),
  /** When forced commands may run (JST). Empty array = never. */
  allowedHours: z.array(hoursWindowSchema).max(24),
  /** Commands accepted per device in any 60 s window. */
  maxCommandsPerMinute: z.number().int().min(1).max(600),
  /** What to do with a value beyond a limit: refuse the command, or clamp it to the limit. */
  outOfRange: z.enum(['refuse', 'clamp']),
}).partial().strict();
export type ClassPolicyInput = z.infer<typeof classPolicySchema>;
export type ClassPolicy = Required<ClassPolicyInput>;

const ALL_DAY: HoursWindow[] = [{ from: '00:00', to: '24:00' }];

/**
 * Safe defaults per class, sized for typical Japanese residential equipment (docs/architecture.md §4:
 * battery 5–16 kWh with a 2–6 kW inverter, EV with a 6 kW V2H unit). The battery floor of 30 %
 * is the owner's backup reserve for outages; a site lowers or raises it in its configuration.
 */
export const DEFAULT_CLASS_POLICY: Readonly<Record<DeviceClass, ClassPolicy>> = (() => {
  const base: ClassPolicy = {
    maxChargeW: 0,
    maxDischargeW: 0,
    rampWPerSecond: 1000,
    rampStepMs: 1000,
    socFloorPercent: 30,
    socCeilingPercent: 95,
    minPvLimitPercent: 0,
    minSetpointC: 18,
    maxSetpointC: 30,
    allowedHours: ALL_DAY,
    maxCommandsPerMinute: 6,
    outOfRange: 'refuse',
  };
  return {
    battery: { ...base, maxChargeW: 3000, maxDischargeW: 3000 },
    ev: { ...base, maxChargeW: 6000, maxDischargeW: 6000, rampWPerSecond: 2000, socFloorPercent: 40, socCeilingPercent: 90 },
    pv: { ...base, maxChargeW: 0, maxDischargeW: 6000 },
    water_heater: { ...base, maxChargeW: 1500 },
    aircon: { ...base, maxChargeW: 3000 },
    lighting: { ...base },
    fuel_cell: { ...base },
    meter: { ...base, maxCommandsPerMinute: 1 },
    pcs: { ...base, maxCommandsPerMinute: 1 },
  };
})();

/** The site fail-safe: what happens when the aggregator cannot be reached. */
export const failSafeSchema = z.object({
  /** The aggregator counts as unreachable after this long without a successful exchange, ms. */
  aggregatorTimeoutMs: z.number().int().min(1000).default(10 * 60_000),
  /**
   * An absolute bound on any forced mode while unreachable, ms: an open-ended event (or one
   * whose end we cannot trust) is ended this long after the last contact.
   */
  maxForcedWhileUnreachableMs: z.number().int().min(1000).default(60 * 60_000),
}).strict();
export type FailSafeConfig = z.infer<typeof failSafeSchema>;

const classesShape = Object.fromEntries(DEVICE_CLASSES.map((c) => [c, classPolicySchema.optional()])) as {
  [K in DeviceClass]: z.ZodOptional<typeof classPolicySchema>;
};

/** The whole policy of one site. Every field has a safe default, so `{}` is a valid policy. */
export const sitePolicySchema = z.object({
  /** Commands accepted for the whole site in any 60 s window. */
  siteMaxCommandsPerMinute: z.number().int().min(1).max(6000).default(30),
  failSafe: failSafeSchema.default({ aggregatorTimeoutMs: 10 * 60_000, maxForcedWhileUnreachableMs: 60 * 60_000 }),
  /** Per-class overrides of DEFAULT_CLASS_POLICY. */
  classes: z.object(classesShape).strict().default({}),
  /** Per-device overrides (by device id), applied over the class policy. */
  devices: z.record(z.string().min(1), classPolicySchema).default({}),
}).strict();
export type SitePolicyInput = z.input<typeof sitePolicySchema>;
export type SitePolicy = z.output<typeof sitePolicySchema>;

/** Names of the rules a decision can cite. */
export type PolicyRule =
  | 'class-action' | 'device-offline' | 'allowed-hours' | 'rate-limit' | 'site-rate-limit'
  | 'max-charge-power' | 'max-discharge-power' | 'soc-floor' | 'soc-ceiling' | 'soc-unknown'
  | 'pv-limit-range' | 'light-level-range' | 'setpoint-range' | 'ramp-rate';

/** Rules about a value beyond a limit (answered 454 invalid data when an event asks for it). */
export const RANGE_RULES: readonly PolicyRule[] = ['max-charge-power', 'max-discharge-power', 'pv-limit-range', 'light-level-range', 'setpoint-range'];

export interface PolicyReason {
  rule: PolicyRule;
  message: string;
}

/** One step of a ramp: run `command` `afterMs` after the decision. The last step is the target. */
export interface RampStep {
  afterMs: number;
  command: DeviceCommand;
}

export interface PolicyDecision {
  verdict: 'allow' | 'clamp' | 'refuse';
  /** The command to execute (clamped when verdict is 'clamp'); the original when refused. */
  command: DeviceCommand;
  reasons: PolicyReason[];
  /** The commands to send in order; one step when no ramp is needed; empty when refused. */
  steps: RampStep[];
}

/** Minutes since midnight in Japan Standard Time (from core; re-exported for the gateway's API). */
export { jstMinuteOfDay };

function hhmmToMinutes(s: string): number {
  const [h, m] = s.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** True when `at` falls inside one of `windows` (JST). A window with from == to is empty. */
export function withinHours(windows: readonly HoursWindow[], at: EpochMillis | number): boolean {
  const m = jstMinuteOfDay(at);
  return windows.some((w) => {
    const from = hhmmToMinutes(w.from);
    const to = hhmmToMinutes(w.to);
    if (from === to) return false;
    return from < to ? m >= from && m < to : m >= from || m < to;
  });
}

/** Counts events in a sliding 60 s window. */
class MinuteWindow {
  private readonly times: number[] = [];
  count(now: number): number {
    while (this.times.length > 0 && this.times[0]! <= now - 60_000) this.times.shift();
    return this.times.length;
  }
  add(now: number): void {
    this.times.push(now);
  }
}

/** Builds a command of `template`'s device with the given signed net power. */
function commandForNetPower(template: DeviceCommand, net: number): DeviceCommand {
  const isEv = template.class === 'ev';
  const base = { deviceId: template.deviceId, class: template.class } as const;
  if (net > 0) return { ...base, action: isEv ? 'ev_charge' : 'charge', powerW: watts(net) };
  if (net < 0) return { ...base, action: isEv ? 'ev_discharge' : 'discharge', powerW: watts(-net) };
  return { ...base, action: isEv ? 'ev_stop' : 'standby' };
}

/**
 * Plans steps from `fromW` to `toW` (signed net power) so that no step changes power faster
 * than `rampWPerSecond`. Returns the intermediate net powers with their offsets, excluding
 * the start and including the target.
 */
export function planRamp(fromW: number, toW: number, rampWPerSecond: number, stepMs: number): { afterMs: number; netW: number }[] {
  const delta = toW - fromW;
  const maxPerStep = (rampWPerSecond * stepMs) / 1000;
  if (Math.abs(delta) <= maxPerStep) return [{ afterMs: 0, netW: toW }];
  const n = Math.ceil(Math.abs(delta) / maxPerStep);
  const out: { afterMs: number; netW: number }[] = [];
  for (let i = 1; i <= n; i++) {
    const netW = i === n ? toW : Math.round(fromW + (delta * i) / n);
    out.push({ afterMs: (i - 1) * stepMs, netW });
  }
  return out;
}

/**
 * The safety policy of one site. Stateful only for the command-rate windows; time comes from
 * the injected clock.
 * @example
 *   const policy = new SafetyPolicy(sitePolicySchema.parse({ classes: { battery: { socFloorPercent: 40 } } }), clock);
 *   const d = policy.decide({ deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: watts(2000) }, reading);
 *   if (d.verdict !== 'refuse') for (const s of d.steps) schedule(s.afterMs, s.command);
 */
export class SafetyPolicy {
  private readonly perDevice = new Map<string, MinuteWindow>();
  private readonly site = new MinuteWindow();

  constructor(readonly config: SitePolicy, private readonly clock: Clock) {}

  /** The effective limits of one device: defaults < class < device. */
  limitsFor(deviceId: string, cls: DeviceClass): ClassPolicy {
    return {
      ...DEFAULT_CLASS_POLICY[cls],
      ...stripUndefined(this.config.classes[cls] ?? {}),
      ...stripUndefined(this.config.devices[deviceId] ?? {}),
    } as ClassPolicy;
  }

  /**
   * Decides whether `cmd` may run given the device's latest `reading`, and consumes a slot of
   * the rate windows when it may (unless `dryRun`). Pure apart from that.
   */
  decide(cmd: DeviceCommand, reading?: DeviceReading, options: { dryRun?: boolean } = {}): PolicyDecision {
    const now = this.clock.now();
    const limits = this.limitsFor(cmd.deviceId, cmd.class);
    const refuse = (rule: PolicyRule, message: string): PolicyDecision => ({
      verdict: 'refuse', command: cmd, reasons: [{ rule, message }], steps: [],
    });

    if (!ACTIONS_BY_CLASS[cmd.class].includes(cmd.action)) {
      return refuse('class-action', `action ${cmd.action} is not defined for class ${cmd.class}`);
    }
    if (reading && !reading.online) return refuse('device-offline', `device ${cmd.deviceId} is offline`);

    const restoring = cmd.action === 'auto';
    if (!restoring) {
      if (!withinHours(limits.allowedHours, now)) {
        return refuse('allowed-hours', `forced commands for ${cmd.class} are allowed only during ${formatHours(limits.allowedHours)} JST`);
      }
      const dev = this.window(cmd.deviceId);
      if (dev.count(now) >= limits.maxCommandsPerMinute) {
        return refuse('rate-limit', `device ${cmd.deviceId} already received ${limits.maxCommandsPerMinute} commands in the last minute`);
      }
      if (this.site.count(now) >= this.config.siteMaxCommandsPerMinute) {
        return refuse('site-rate-limit', `the site already received ${this.config.siteMaxCommandsPerMinute} commands in the last minute`);
      }
    }

    const reasons: PolicyReason[] = [];
    let out: DeviceCommand = { ...cmd };
    const outOfRange = (rule: PolicyRule, message: string, clamped: DeviceCommand): PolicyDecision | undefined => {
      if (limits.outOfRange === 'refuse') return refuse(rule, message);
      reasons.push({ rule, message: `${message}; clamped` });
      out = clamped;
      return undefined;
    };

    if (!restoring) {
      const range = this.checkRanges(out, limits, reading, outOfRange, refuse);
      if (range) return range;
    }

    const steps = this.rampSteps(out, limits, reading, reasons);
    if (!options.dryRun) {
      this.window(cmd.deviceId).add(now);
      this.site.add(now);
    }
    return { verdict: reasons.length > 0 ? 'clamp' : 'allow', command: out, reasons, steps };
  }

  /**
   * Checks a running forced mode against the latest reading: returns the command that stops
   * it (standby / ev_stop) when the state of charge reached the floor or the ceiling, so the
   * owner's reserve holds even if the event asked for more energy than was there.
   */
  watch(active: DeviceCommand, reading: DeviceReading): { command: DeviceCommand; reason: PolicyReason } | undefined {
    const limits = this.limitsFor(active.deviceId, active.class);
    const soc = reading.socPercent;
    if (soc === undefined) return undefined;
    const net = commandNetPowerW(active);
    if (net === undefined || net === 0) return undefined;
    if (net < 0 && soc <= limits.socFloorPercent) {
      return {
        command: commandForNetPower(active, 0),
        reason: { rule: 'soc-floor', message: `state of charge ${soc}% reached the floor ${limits.socFloorPercent}% (owner's backup reserve)` },
      };
    }
    if (net > 0 && soc >= limits.socCeilingPercent) {
      return {
        command: commandForNetPower(active, 0),
        reason: { rule: 'soc-ceiling', message: `state of charge ${soc}% reached the ceiling ${limits.socCeilingPercent}%` },
      };
    }
    return undefined;
  }

  private window(deviceId: string): MinuteWindow {
    let w = this.perDevice.get(deviceId);
    if (!w) this.perDevice.set(deviceId, (w = new MinuteWindow()));
    return w;
  }

  private checkRanges(
    cmd: DeviceCommand,
    limits: ClassPolicy,
    reading: DeviceReading | undefined,
    outOfRange: (rule: PolicyRule, message: string, clamped: DeviceCommand) => PolicyDecision | undefined,
    refuse: (rule: PolicyRule, message: string) => PolicyDecision,
  ): PolicyDecision | undefined {
    const net = commandNetPowerW(cmd);
    if (net !== undefined) {
      const needsPower = cmd.action === 'charge' || cmd.action === 'discharge' || cmd.action === 'ev_charge' || cmd.action === 'ev_discharge';
      const charging = cmd.action === 'charge' || cmd.action === 'ev_charge';
      if (needsPower && (cmd.powerW === undefined || !Number.isFinite(cmd.powerW) || cmd.powerW < 0)) {
        return refuse(charging ? 'max-charge-power' : 'max-discharge-power', `power ${cmd.powerW ?? '(none)'} W is not a finite non-negative number`);
      }
      const storage = isStorageKind(cmd.class);
      const soc = reading?.socPercent;
      if (net > 0) {
        if (storage && soc === undefined) return refuse('soc-unknown', `state of charge of ${cmd.deviceId} is unknown; charging refused`);
        if (storage && soc !== undefined && soc >= limits.socCeilingPercent) {
          return refuse('soc-ceiling', `state of charge ${soc}% is at or above the ceiling ${limits.socCeilingPercent}%`);
        }
        if (net > limits.maxChargeW) {
          const r = outOfRange('max-charge-power', `charge power ${net} W exceeds the limit ${limits.maxChargeW} W`, { ...cmd, powerW: watts(limits.maxChargeW) });
          if (r) return r;
        }
      } else if (net < 0) {
        if (storage && soc === undefined) return refuse('soc-unknown', `state of charge of ${cmd.deviceId} is unknown; discharge refused to keep the backup reserve`);
        if (storage && soc !== undefined && soc <= limits.socFloorPercent) {
          return refuse('soc-floor', `state of charge ${soc}% is at or below the floor ${limits.socFloorPercent}% (owner's backup reserve)`);
        }
        if (-net > limits.maxDischargeW) {
          const r = outOfRange('max-discharge-power', `discharge power ${-net} W exceeds the limit ${limits.maxDischargeW} W`, { ...cmd, powerW: watts(limits.maxDischargeW) });
          if (r) return r;
        }
      }
    }
    if (cmd.action === 'pv_limit') {
      const p = cmd.percent;
      if (p === undefined || !Number.isFinite(p)) return refuse('pv-limit-range', 'PV output limit needs a percentage');
      if (p < limits.minPvLimitPercent || p > 100) {
        const clamped = Math.min(100, Math.max(limits.minPvLimitPercent, p));
        const r = outOfRange('pv-limit-range', `PV output limit ${p}% is outside ${limits.minPvLimitPercent}..100%`, { ...cmd, percent: clamped });
        if (r) return r;
      }
    }
    if (cmd.action === 'light_level') {
      const p = cmd.percent;
      if (p === undefined || !Number.isFinite(p) || p < 0 || p > 100) return refuse('light-level-range', `lighting brightness ${String(p)} is outside 0..100%`);
    }
    if (cmd.action === 'aircon_setpoint') {
      const t = cmd.temperatureC;
      if (t === undefined || !Number.isFinite(t)) return refuse('setpoint-range', 'air-conditioner set temperature is missing');
      if (t < limits.minSetpointC || t > limits.maxSetpointC) {
        const clamped = Math.min(limits.maxSetpointC, Math.max(limits.minSetpointC, t));
        const r = outOfRange('setpoint-range', `set temperature ${t} °C is outside ${limits.minSetpointC}..${limits.maxSetpointC} °C`, { ...cmd, temperatureC: clamped });
        if (r) return r;
      }
    }
    return undefined;
  }

  /** Spreads a power change over steps when it is faster than the ramp rate allows. */
  private rampSteps(cmd: DeviceCommand, limits: ClassPolicy, reading: DeviceReading | undefined, reasons: PolicyReason[]): RampStep[] {
    const storage = isStorageKind(cmd.class);
    const from = reading?.powerW;
    if (!storage || from === undefined) return [{ afterMs: 0, command: cmd }];
    // Returning to the owner's mode ramps the forced power down to zero first, then hands over.
    const target = cmd.action === 'auto' ? 0 : commandNetPowerW(cmd);
    if (target === undefined) return [{ afterMs: 0, command: cmd }];
    const plan = planRamp(from, target, limits.rampWPerSecond, limits.rampStepMs);
    if (plan.length === 1) return [{ afterMs: 0, command: cmd }];
    // Intermediate steps stay inside the limits too, even when the device starts outside them
    // (e.g. the owner's own mode charging harder than the aggregator may ask for).
    const bounded = (w: number) => Math.min(limits.maxChargeW, Math.max(-limits.maxDischargeW, w));
    const steps: RampStep[] = plan.map((p) => ({ afterMs: p.afterMs, command: commandForNetPower(cmd, bounded(p.netW)) }));
    if (cmd.action === 'auto') steps.push({ afterMs: plan.length * limits.rampStepMs, command: cmd });
    else steps[steps.length - 1] = { afterMs: steps[steps.length - 1]!.afterMs, command: cmd };
    reasons.push({
      rule: 'ramp-rate',
      message: `change of ${Math.abs(target - from)} W spread over ${plan.length} steps of ${limits.rampStepMs} ms (limit ${limits.rampWPerSecond} W/s)`,
    });
    return steps;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function formatHours(windows: readonly HoursWindow[]): string {
  return windows.length === 0 ? 'no hours' : windows.map((w) => `${w.from}-${w.to}`).join(', ');
}

/** What the fail-safe says about a forced mode right now. */
export type FailSafeVerdict =
  | { action: 'continue' }
  | { action: 'revert'; reason: string }
  /** Do not start a forced mode that has not started yet (its event may have been cancelled). */
  | { action: 'hold'; reason: string };

/**
 * The site fail-safe. The gateway reports every successful exchange with its aggregator
 * (`contact()`); the fail-safe then answers, for an event's forced mode, whether it may go on.
 *
 * - At or after the event's end: revert, always (reachable or not).
 * - Aggregator unreachable beyond `aggregatorTimeoutMs`:
 *   - an active event with a known end runs to that end, then reverts — the aggregator
 *     counted on that energy, and stopping early could itself unbalance the grid;
 *   - an open-ended event, or one whose forced mode has lasted `maxForcedWhileUnreachableMs`
 *     since the last contact, reverts now: no device stays in a forced mode indefinitely;
 *   - an event that has not started yet is held (not started): it may have been cancelled
 *     while we could not hear it.
 */
export class FailSafe {
  private lastContact: EpochMillis;

  constructor(private readonly config: FailSafeConfig, private readonly clock: Clock) {
    this.lastContact = clock.now();
  }

  /** Record a successful exchange with the aggregator. */
  contact(): void {
    this.lastContact = this.clock.now();
  }

  lastContactAt(): EpochMillis {
    return this.lastContact;
  }

  /** True once the aggregator has not been heard for longer than the timeout. */
  unreachable(): boolean {
    return this.clock.now() - this.lastContact > this.config.aggregatorTimeoutMs;
  }

  /** The verdict for an event window [start, end) (end undefined = open-ended). */
  evaluate(event: { start: EpochMillis; end?: EpochMillis | undefined }): FailSafeVerdict {
    const now = this.clock.now();
    if (event.end !== undefined && now >= event.end) return { action: 'revert', reason: 'event ended' };
    if (!this.unreachable()) return { action: 'continue' };
    const silentFor = now - this.lastContact;
    if (now < event.start) return { action: 'hold', reason: `aggregator unreachable for ${Math.round(silentFor / 1000)} s; not starting a new event` };
    if (event.end === undefined) {
      return { action: 'revert', reason: `aggregator unreachable for ${Math.round(silentFor / 1000)} s and the event has no end` };
    }
    if (silentFor >= this.config.maxForcedWhileUnreachableMs) {
      return { action: 'revert', reason: `aggregator unreachable for ${Math.round(silentFor / 1000)} s, beyond the forced-mode bound` };
    }
    return { action: 'continue' };
  }

  /**
   * The instant by which the forced mode of this event must end at the latest, given what
   * is known now; the runtime arms a timer for it so that reverting never depends on hearing
   * from the aggregator again.
   */
  deadline(event: { start: EpochMillis; end?: EpochMillis | undefined }): EpochMillis {
    const bound = this.lastContact + this.config.aggregatorTimeoutMs + this.config.maxForcedWhileUnreachableMs;
    const openEndedBound = this.lastContact + this.config.aggregatorTimeoutMs;
    if (event.end === undefined) return Math.max(openEndedBound, event.start) as EpochMillis;
    return Math.min(event.end, Math.max(bound, event.start)) as EpochMillis;
  }
}

