/**
 * Translation between OpenADR 2.0b event signals / reports (R4) and per-device commands and
 * readings (R5). Pure functions: no sockets, no clock, no state.
 *
 * ## Signals → commands
 * OpenADR 2.0b (profile B, EiEvent signal names and types) gives four ways to ask for load
 * change that matter to a home:
 *
 * | signalName / signalType                  | value                          | meaning here              |
 * |------------------------------------------|--------------------------------|---------------------------|
 * | SIMPLE / level                           | 0 normal, 1 moderate, 2 high, 3 special | shed intensity r = levelIntensity[v] |
 * | LOAD_CONTROL / x-loadControlCapacity     | 0.0..1.0 of maximum consumption| r = 1 − v (1.0 = normal)  |
 * | LOAD_CONTROL / x-loadControlLevelOffset  | integer −3..3, 0 = normal      | r = −v / 3                |
 * | LOAD_CONTROL / x-loadControlPercentOffset| −100..100 % change of load     | r = −v / 100              |
 * | LOAD_CONTROL / x-loadControlSetpoint     | temperature (air conditioner)  | set temperature           |
 * | LOAD_DISPATCH / setpoint                 | power (itemBase powerReal, W × siScaleCode) | target net power |
 * | LOAD_DISPATCH / delta                    | power change, negative = less consumption | target = power before the event + delta |
 *
 * The shed intensity r ∈ [−1, 1] (positive = the site should draw less, negative = draw more,
 * i.e. 上げDR to absorb surplus PV) becomes per class:
 * - battery: r > 0 discharge r × rated discharge power; r < 0 charge |r| × rated charge; 0 → auto.
 * - EV charger/discharger: r > 0 discharge (V2H) r × rated, or stop charging if it cannot
 *   discharge; r < 0 charge; 0 → auto.
 * - PV: capacity v → output limit v × 100 %; r < 0 (absorb) → output limit (1 + r) × 100 %;
 *   r ≥ 0 → no curtailment (a PV curtailment never helps a shed).
 * - water heater: r > 0 manual stop of boiling; r < 0 manual boil (store surplus as heat); 0 → auto.
 * - air conditioner: set temperature = owner's set temperature ± r × airconMaxOffsetC
 *   (+ when cooling, − when heating), rounded to 1 °C (ECHONET Lite 0xB3 resolution).
 * - fuel cell: r > 0 generate at the rating; r < 0 stop generating (more net draw); 0 → auto.
 * - lighting: r > 0 dims to (1 − r) × 100 % brightness; capacity v → v × 100 %; r ≤ 0 → no change.
 * - smart meter: nothing to control.
 *
 * A signal the gateway does not understand is refused with 460 (signal not supported) — never
 * acted on in part; a value outside the signal type's own range is refused with 454 (invalid
 * data). A value inside the signal's range but beyond what the device or the owner allows
 * (e.g. 40 °C) is translated literally and left to the safety policy (policy.ts), which refuses
 * or clamps it and records why.
 *
 * ## Readings → reports
 * TELEMETRY_USAGE carries, per resource, instantaneous power (itemBase powerReal, W or kW by
 * siScaleCode; OpenADR usage is consumption-positive, so PV output and battery discharge are
 * negative) and cumulative energy (energyReal, Wh or kWh). TELEMETRY_STATUS carries the
 * oadrPayloadResourceStatus (online, manual override, load control state) and, for batteries
 * and vehicles, the state of charge (reportType storedEnergy, customUnit "%"; the stored
 * energy in Wh as well when the capacity is known).
 */
import { z } from 'zod';
import { watts, type WattHours, type Watts } from '../../core/units.js';
import { siScaleFactor } from '../../protocols/openadr/units.js';
import { OadrResponseCode } from '../../protocols/openadr/errors.js';
import {
  type DeviceClass,
  type DeviceCommand,
  type DeviceReading,
  type EventSignal,
  type OwnerNormal,
  commandNetPowerW,
} from './types.js';

/** Tunables of the translation; every field has a default. */
export const translationConfigSchema = z.object({
  /** Shed intensity of SIMPLE levels 0..3. Level 0 must be 0 (normal operation). */
  levelIntensity: z.tuple([z.literal(0), z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)])
    .default([0, 1 / 3, 2 / 3, 1]),
  /** Largest shift of the air-conditioner set temperature at full intensity, °C. */
  airconMaxOffsetC: z.number().min(0).max(10).default(3),
}).strict();
export type TranslationConfig = z.output<typeof translationConfigSchema>;
export const DEFAULT_TRANSLATION: TranslationConfig = translationConfigSchema.parse({});

/** What the translation needs to know about one device. */
export interface DeviceProfile {
  deviceId: string;
  class: DeviceClass;
  /** Rated charge / consumption power, W (battery, EV). */
  ratedChargeW?: number | undefined;
  /** Rated discharge power, W (battery, EV with V2H). */
  ratedDischargeW?: number | undefined;
  /** EV charger/discharger able to discharge (V2H); an EV charger (0x02A1) is not. */
  canDischarge?: boolean | undefined;
}

export type TranslationResult =
  | {
    ok: true;
    /** The command to run, or undefined when the signal asks nothing of this class. */
    command: DeviceCommand | undefined;
    /** The signal that was applied (the most specific one the device supports). */
    signal: EventSignal;
    note?: string | undefined;
  }
  | { ok: false; code: 454 | 460 | 469; reason: string };

const SUPPORTED: Readonly<Record<string, readonly string[]>> = {
  SIMPLE: ['level'],
  LOAD_CONTROL: ['x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset', 'x-loadControlSetpoint'],
  LOAD_DISPATCH: ['setpoint', 'delta'],
};

/** Preference when an event carries several signals: the most specific wins. */
const PRECEDENCE = ['LOAD_DISPATCH', 'LOAD_CONTROL', 'SIMPLE'];

/** Which signal types each class can act on (beyond those, 460 for that resource). */
const CLASS_SUPPORT: Readonly<Record<DeviceClass, readonly string[]>> = {
  battery: ['level', 'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset', 'setpoint', 'delta'],
  ev: ['level', 'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset', 'setpoint', 'delta'],
  pv: ['level', 'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset'],
  water_heater: ['level', 'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset'],
  aircon: ['level', 'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset', 'x-loadControlSetpoint'],
  lighting: ['level', 'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset'],
  fuel_cell: ['level', 'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset'],
  meter: ['level', 'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset'],
  pcs: ['level', 'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset'],
};

const fail = (code: 454 | 460 | 469, reason: string): TranslationResult => ({ ok: false, code, reason });

/** Value × 10^scale of an OpenADR siScaleCode; undefined for an unknown code (the protocol edge's table). */
export function siMultiplier(code: string | undefined): number | undefined {
  return siScaleFactor(code);
}

/** Rounds away binary noise (0.1 + 0.2) without losing meaningful digits. */
function tidy(n: number): number {
  return Number.parseFloat(n.toPrecision(12));
}

/** A power signal's value in W (the OpenADR edge: value × siScaleCode), or an error naming what is wrong with its unit. */
export function signalPowerW(signal: EventSignal): { ok: true; watts: Watts } | { ok: false; reason: string } {
  const u = signal.unit;
  if (!u) return { ok: false, reason: `${signal.name}/${signal.type} carries no itemBase; a power value without a unit is not acted on` };
  if (u.itemBase !== 'powerReal' || u.units !== 'W') {
    return { ok: false, reason: `${signal.name}/${signal.type} unit ${u.itemBase} ${u.units} is not real power in W` };
  }
  const m = siMultiplier(u.siScaleCode);
  if (m === undefined) return { ok: false, reason: `unknown siScaleCode ${u.siScaleCode}` };
  return { ok: true, watts: watts(tidy(signal.value * m)) };
}

/** A temperature signal's value in °C (Celsius assumed when no unit is given: Japan uses °C). */
function signalCelsius(signal: EventSignal): { ok: true; c: number } | { ok: false; reason: string } {
  const u = signal.unit;
  if (!u || u.units === 'celsius' || u.units === 'C' || u.units === '°C') return { ok: true, c: signal.value };
  if (u.units === 'fahrenheit' || u.units === 'F' || u.units === '°F') return { ok: true, c: tidy(((signal.value - 32) * 5) / 9) };
  return { ok: false, reason: `set point unit ${u.units} is not a temperature` };
}

/**
 * Checks every signal of an event: unknown names or types → 460, values outside the type's
 * own range → 454. Returns undefined when all are usable.
 */
export function validateSignals(signals: readonly EventSignal[]): { code: 454 | 460; reason: string } | undefined {
  if (signals.length === 0) return { code: OadrResponseCode.INVALID_DATA, reason: 'event carries no signal' };
  for (const s of signals) {
    const types = SUPPORTED[s.name];
    if (!types) return { code: OadrResponseCode.SIGNAL_NOT_SUPPORTED, reason: `signal ${s.name} is not supported by this gateway` };
    if (!types.includes(s.type)) return { code: OadrResponseCode.SIGNAL_NOT_SUPPORTED, reason: `signal type ${s.type} is not supported for ${s.name}` };
    if (!Number.isFinite(s.value)) return { code: OadrResponseCode.INVALID_DATA, reason: `${s.name}/${s.type} value is not a finite number` };
    switch (s.type) {
      case 'level':
        if (!Number.isInteger(s.value) || s.value < 0 || s.value > 3) {
          return { code: OadrResponseCode.INVALID_DATA, reason: `SIMPLE level ${s.value} is outside 0..3` };
        }
        break;
      case 'x-loadControlCapacity':
        if (s.value < 0 || s.value > 1) return { code: OadrResponseCode.INVALID_DATA, reason: `x-loadControlCapacity ${s.value} is outside 0.0..1.0` };
        break;
      case 'x-loadControlLevelOffset':
        if (!Number.isInteger(s.value) || Math.abs(s.value) > 3) {
          return { code: OadrResponseCode.INVALID_DATA, reason: `x-loadControlLevelOffset ${s.value} is not an integer in −3..3` };
        }
        break;
      case 'x-loadControlPercentOffset':
        if (Math.abs(s.value) > 100) return { code: OadrResponseCode.INVALID_DATA, reason: `x-loadControlPercentOffset ${s.value} is outside −100..100` };
        break;
      case 'setpoint':
      case 'delta': {
        const p = signalPowerW(s);
        if (!p.ok) return { code: OadrResponseCode.INVALID_DATA, reason: p.reason };
        break;
      }
      case 'x-loadControlSetpoint': {
        const t = signalCelsius(s);
        if (!t.ok) return { code: OadrResponseCode.INVALID_DATA, reason: t.reason };
        break;
      }
    }
  }
  return undefined;
}

/** Shed intensity r ∈ [−1, 1] of an intensity-type signal (see the header table). */
function intensity(signal: EventSignal, cfg: TranslationConfig): number {
  switch (signal.type) {
    case 'level':
      return cfg.levelIntensity[signal.value as 0 | 1 | 2 | 3];
    case 'x-loadControlCapacity':
      return tidy(1 - signal.value);
    case 'x-loadControlLevelOffset':
      return tidy(-signal.value / 3);
    case 'x-loadControlPercentOffset':
      return tidy(-signal.value / 100);
    default:
      return 0;
  }
}

/**
 * Turns the signals of the interval in force into one command for one device.
 * @example
 *   translateSignals([{ name: 'SIMPLE', type: 'level', value: 2 }], { deviceId: 'bat1', class: 'battery', ratedDischargeW: 3000 })
 *   // → { ok: true, command: { deviceId: 'bat1', class: 'battery', action: 'discharge', powerW: 2000 }, ... }
 */
export function translateSignals(
  signals: readonly EventSignal[],
  device: DeviceProfile,
  ctx: { reading?: DeviceReading | undefined; normal?: OwnerNormal | undefined } = {},
  cfg: TranslationConfig = DEFAULT_TRANSLATION,
): TranslationResult {
  const invalid = validateSignals(signals);
  if (invalid) return fail(invalid.code, invalid.reason);
  const usable = signals.filter((s) => CLASS_SUPPORT[device.class].includes(s.type));
  if (usable.length === 0) {
    return fail(OadrResponseCode.SIGNAL_NOT_SUPPORTED, `no signal of this event (${signals.map((s) => `${s.name}/${s.type}`).join(', ')}) applies to a ${device.class}`);
  }
  const signal = [...usable].sort((a, b) => PRECEDENCE.indexOf(a.name) - PRECEDENCE.indexOf(b.name))[0]!;
  const base = { deviceId: device.deviceId, class: device.class } as const;
  const ok = (command: DeviceCommand | undefined, note?: string): TranslationResult => ({ ok: true, command, signal, note });

  if (signal.type === 'setpoint' || signal.type === 'delta') {
    const p = signalPowerW(signal);
    if (!p.ok) return fail(OadrResponseCode.INVALID_DATA, p.reason);
    let target: Watts = p.watts;
    if (signal.type === 'delta') {
      const now = ctx.reading?.powerW;
      if (now === undefined) return fail(OadrResponseCode.OTHER, `current power of ${device.deviceId} is unknown; a delta cannot be applied`);
      target = watts(tidy(now + p.watts));
    }
    return ok(netPowerCommand(base, target, device));
  }

  if (signal.type === 'x-loadControlSetpoint') {
    const t = signalCelsius(signal);
    if (!t.ok) return fail(OadrResponseCode.INVALID_DATA, t.reason);
    return ok({ ...base, action: 'aircon_setpoint', temperatureC: tidy(t.c) });
  }

  const r = intensity(signal, cfg);
  switch (device.class) {
    case 'battery': {
      if (r === 0) return ok({ ...base, action: 'auto' });
      const rated = r > 0 ? device.ratedDischargeW : device.ratedChargeW;
      if (rated === undefined) return fail(OadrResponseCode.OTHER, `rated ${r > 0 ? 'discharge' : 'charge'} power of ${device.deviceId} is unknown`);
      return ok({ ...base, action: r > 0 ? 'discharge' : 'charge', powerW: watts(Math.round(Math.abs(r) * rated)) });
    }
    case 'ev': {
      if (r === 0) return ok({ ...base, action: 'auto' });
      if (r > 0 && device.canDischarge === false) return ok({ ...base, action: 'ev_stop' }, 'charger cannot discharge; charging stopped instead');
      const rated = r > 0 ? device.ratedDischargeW : device.ratedChargeW;
      if (rated === undefined) return fail(OadrResponseCode.OTHER, `rated ${r > 0 ? 'discharge' : 'charge'} power of ${device.deviceId} is unknown`);
      return ok({ ...base, action: r > 0 ? 'ev_discharge' : 'ev_charge', powerW: watts(Math.round(Math.abs(r) * rated)) });
    }
    case 'pv': {
      if (signal.type === 'x-loadControlCapacity') {
        return ok(signal.value >= 1 ? { ...base, action: 'auto' } : { ...base, action: 'pv_limit', percent: Math.round(signal.value * 100) });
      }
      if (r >= 0) return ok(r === 0 ? { ...base, action: 'auto' } : undefined, r === 0 ? undefined : 'a shed does not curtail PV');
      return ok({ ...base, action: 'pv_limit', percent: Math.round((1 + r) * 100) });
    }
    case 'water_heater':
      return ok({ ...base, action: r > 0 ? 'stop_boil' : r < 0 ? 'boil' : 'auto' });
    case 'aircon': {
      if (r === 0) return ok({ ...base, action: 'auto' });
      const owner = ctx.normal?.temperatureC ?? ctx.reading?.temperatureC;
      if (owner === undefined) return fail(OadrResponseCode.OTHER, `set temperature of ${device.deviceId} is unknown`);
      const mode = ctx.reading?.airconMode;
      if (mode !== 'cooling' && mode !== 'heating') return ok(undefined, `air conditioner in mode ${mode ?? 'unknown'} has no load-shifting set temperature`);
      const sign = mode === 'cooling' ? 1 : -1;
      return ok({ ...base, action: 'aircon_setpoint', temperatureC: Math.round(owner + sign * r * cfg.airconMaxOffsetC) });
    }
    case 'fuel_cell':
      return ok({ ...base, action: r > 0 ? 'generate' : r < 0 ? 'stop_generate' : 'auto' });
    case 'lighting': {
      // Dimming sheds load (下げ); lights are never brightened to absorb surplus.
      if (signal.type === 'x-loadControlCapacity') {
        return ok(signal.value >= 1 ? { ...base, action: 'auto' } : { ...base, action: 'light_level', percent: Math.round(Math.max(0, signal.value) * 100) });
      }
      if (r <= 0) return ok(r === 0 ? { ...base, action: 'auto' } : undefined, r === 0 ? undefined : 'lighting is not brightened to absorb surplus');
      return ok({ ...base, action: 'light_level', percent: Math.round((1 - r) * 100) });
    }
    case 'meter':
      return ok(undefined, 'a smart meter is read, not controlled');
    case 'pcs':
      return ok(undefined, 'a multi-input PCS is read; its battery and PV are controlled through their own objects');
  }
}

function netPowerCommand(base: { deviceId: string; class: DeviceClass }, net: number, device: DeviceProfile): DeviceCommand {
  const ev = device.class === 'ev';
  if (net > 0) return { ...base, action: ev ? 'ev_charge' : 'charge', powerW: watts(Math.round(net)) };
  if (net < 0) return { ...base, action: ev ? 'ev_discharge' : 'discharge', powerW: watts(Math.round(-net)) };
  return { ...base, action: ev ? 'ev_stop' : 'standby' };
}

// ---------------------------------------------------------------------------------------------
// Readings → OpenADR report values

/** An OpenADR report unit (oadr itemBase): the codec maps this to powerReal / energyReal / customUnit. */
export interface ReportUnit {
  itemBase: 'powerReal' | 'energyReal' | 'customUnit';
  itemDescription: string;
  units: 'W' | 'Wh' | '%';
  siScaleCode: 'none' | 'k';
}

/** OpenADR oadrLoadControlState entry (oadrMin / oadrMax / oadrCurrent / oadrNormal). */
export interface LoadControlValue {
  current: number;
  normal?: number | undefined;
  min?: number | undefined;
  max?: number | undefined;
}

/** OpenADR oadrPayloadResourceStatus. */
export interface ResourceStatus {
  online: boolean;
  manualOverride: boolean;
  loadControlState?: {
    capacity?: LoadControlValue | undefined;
    levelOffset?: LoadControlValue | undefined;
    percentOffset?: LoadControlValue | undefined;
    setPoint?: LoadControlValue | undefined;
  } | undefined;
}

/** One data point of a report interval for one resource. */
export interface TelemetryPoint {
  /** Report data point id, `<deviceId>/<quantity>`; stable, declared in the METADATA report. */
  rID: string;
  resourceID: string;
  reportType: 'usage' | 'storedEnergy' | 'x-resourceStatus';
  readingType: 'Direct Read' | 'x-notApplicable';
  unit?: ReportUnit | undefined;
  value?: number | undefined;
  status?: ResourceStatus | undefined;
}

export interface TelemetryOptions {
  /** Power in W ('none') or kW ('k'). */
  powerScale?: 'none' | 'k';
  /** Energy in Wh ('none') or kWh ('k'). */
  energyScale?: 'none' | 'k';
}

/** Scales a value in base units (W, Wh) to the report's siScaleCode. */
export function toScale(value: Watts | WattHours | number, scale: 'none' | 'k'): number {
  return tidy(value / siScaleFactor(scale)!);
}

/**
 * TELEMETRY_USAGE points of one reading: power and, when known, cumulative energy.
 * @example readingToUsage({ deviceId: 'bat1', class: 'battery', at, online: true, powerW: -1500 }, { powerScale: 'k' })
 *   // → [{ rID: 'bat1/power', value: -1.5, unit: { itemBase: 'powerReal', units: 'W', siScaleCode: 'k', ... } }]
 */
export function readingToUsage(reading: DeviceReading, opts: TelemetryOptions = {}): TelemetryPoint[] {
  const ps = opts.powerScale ?? 'none';
  const es = opts.energyScale ?? 'none';
  const out: TelemetryPoint[] = [];
  if (reading.powerW !== undefined) {
    out.push({
      rID: `${reading.deviceId}/power`,
      resourceID: reading.deviceId,
      reportType: 'usage',
      readingType: 'Direct Read',
      unit: { itemBase: 'powerReal', itemDescription: 'RealPower', units: 'W', siScaleCode: ps },
      value: toScale(reading.powerW, ps),
    });
  }
  if (reading.energyWh !== undefined) {
    out.push({
      rID: `${reading.deviceId}/energy`,
      resourceID: reading.deviceId,
      reportType: 'usage',
      readingType: 'Direct Read',
      unit: { itemBase: 'energyReal', itemDescription: 'RealEnergy', units: 'Wh', siScaleCode: es },
      value: toScale(reading.energyWh, es),
    });
  }
  return out;
}

/**
 * TELEMETRY_STATUS points of one reading: resource status (online, manual override, load
 * control state derived from the command in force) and state of charge.
 */
export function readingToStatus(reading: DeviceReading, active?: DeviceCommand, normal?: OwnerNormal): TelemetryPoint[] {
  const status: ResourceStatus = { online: reading.online, manualOverride: reading.manualOverride ?? false };
  const lcs = loadControlState(reading, active, normal);
  if (lcs) status.loadControlState = lcs;
  const out: TelemetryPoint[] = [{
    rID: `${reading.deviceId}/status`,
    resourceID: reading.deviceId,
    reportType: 'x-resourceStatus',
    readingType: 'x-notApplicable',
    status,
  }];
  if (reading.socPercent !== undefined) {
    out.push({
      rID: `${reading.deviceId}/soc`,
      resourceID: reading.deviceId,
      reportType: 'storedEnergy',
      readingType: 'Direct Read',
      unit: { itemBase: 'customUnit', itemDescription: 'stateOfCharge', units: '%', siScaleCode: 'none' },
      value: tidy(reading.socPercent),
    });
    if (reading.capacityWh !== undefined) {
      out.push({
        rID: `${reading.deviceId}/stored`,
        resourceID: reading.deviceId,
        reportType: 'storedEnergy',
        readingType: 'Direct Read',
        unit: { itemBase: 'energyReal', itemDescription: 'RealEnergy', units: 'Wh', siScaleCode: 'none' },
        value: Math.round((reading.socPercent / 100) * reading.capacityWh),
      });
    }
  }
  return out;
}

function loadControlState(reading: DeviceReading, active: DeviceCommand | undefined, normal: OwnerNormal | undefined): ResourceStatus['loadControlState'] {
  switch (reading.class) {
    case 'battery':
    case 'ev': {
      // Set point = commanded net power in W (+ charge, − discharge); normal = none (owner's auto mode).
      const net = active ? commandNetPowerW(active) : undefined;
      const current = net ?? reading.powerW;
      if (current === undefined) return undefined;
      return {
        setPoint: {
          current,
          min: reading.ratedDischargeW !== undefined ? -reading.ratedDischargeW : undefined,
          max: reading.ratedChargeW,
        },
      };
    }
    case 'pv': {
      const pct = active?.action === 'pv_limit' ? active.percent : reading.pvLimitPercent;
      if (pct === undefined) return undefined;
      return { capacity: { current: tidy(pct / 100), normal: tidy((normal?.percent ?? 100) / 100), min: 0, max: 1 } };
    }
    case 'lighting': {
      const pct = active?.action === 'light_level' ? active.percent : reading.levelPercent;
      if (pct === undefined) return undefined;
      return { capacity: { current: tidy(pct / 100), normal: tidy((normal?.percent ?? 100) / 100), min: 0, max: 1 } };
    }
    case 'aircon': {
      const t = active?.action === 'aircon_setpoint' ? active.temperatureC : reading.temperatureC;
      if (t === undefined) return undefined;
      return { setPoint: { current: t, normal: normal?.temperatureC } };
    }
    case 'fuel_cell': {
      // As the water heater's: −1 generating at the rating (less net load), +1 stopped, 0 owner's.
      const a = active?.action;
      return { levelOffset: { current: a === 'generate' ? -1 : a === 'stop_generate' ? 1 : 0, normal: 0, min: -1, max: 1 } };
    }
    case 'water_heater': {
      // Level offset as in x-loadControlLevelOffset: −1 forced stop (less load), +1 forced boil
      // (more load), 0 automatic.
      const a = active?.action;
      return { levelOffset: { current: a === 'stop_boil' ? -1 : a === 'boil' ? 1 : 0, normal: 0, min: -1, max: 1 } };
    }
    default:
      return undefined;
  }
}
