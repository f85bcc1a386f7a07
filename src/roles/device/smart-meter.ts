/**
 * Low-voltage smart meter simulator (class 0x0288): measures the whole site, i.e. the sum of
 * the simulated devices plus a household base load; 0xE7 is the instantaneous power (+ import,
 * − export), 0xE0/0xE3 the cumulative imported/exported energy in the unit of 0xE1 (0.1 kWh)
 * with coefficient 0xD3 = 1 and 6 effective digits (0xD7), wrapping like a real register.
 */
import { EchonetObject } from '../../protocols/echonet/object.js';
import { LowVoltageSmartMeter, wattHoursToMeterReading, type LogDay3 } from '../../protocols/echonet/objects/smart-meter.js';
import { watts, wattHours, type Watts } from '../../core/units.js';
import { komaFloor } from '../../core/jst.js';
import { baseLoadWatts } from './profiles.js';
import { clamp, hours, firmwareProperties, superValues, type DeviceIdentity, type DeviceSimulator, type StepContext } from './simulator.js';

export interface MeterConfig {
  baseLoadMinW?: number;
  baseLoadMaxW?: number;
  /** ± fraction of noise on the base load (default 0). */
  noise?: number;
  random?: () => number;
}

const UNIT = 'kWh0_1' as const;
const DIGITS = 6;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export class SmartMeterSimulator implements DeviceSimulator {
  readonly kind = 'meter' as const;
  readonly object: EchonetObject<typeof LowVoltageSmartMeter.props>;
  private importWh = 0;
  private exportWh = 0;
  private powerW = 0;
  /** A fixed-time reading has been taken (the first step takes one at the boundary before it). */
  private fixedTaken = false;
  /** Readings at each 1-minute boundary (0xD0, 0xEE), by the minute's instant; the last day is kept. */
  private readonly minutes = new Map<number, { normal: number; reverse: number }>();

  constructor(private readonly cfg: MeterConfig, identity: DeviceIdentity, instance = 1) {
    this.object = new EchonetObject(LowVoltageSmartMeter, {
      instance,
      extra: firmwareProperties(identity),
      values: {
        ...superValues(identity),
        coefficient: 1,
        effectiveDigits: DIGITS,
        energyUnit: UNIT,
        cumulativeNormal: 0,
        cumulativeReverse: 0,
        instantaneousPower: watts(0),
        instantaneousCurrents: { r: 0, t: 0 },
        fixedTimeNormal: { at: 0, reading: 0 },
        fixedTimeReverse: { at: 0, reading: 0 },
        minuteReading: { at: 0, normal: null, reverse: null },
        log3: { at: 0, readings: [{ normal: null, reverse: null }] },
        logDay3: { at: null, segments: 1 },
      },
    });
    // A Set of 0xEF chooses the history 0xEE shows; it is answered from the minutes held.
    this.object.setHook((epc, value) => {
      if (epc === LowVoltageSmartMeter.props.logDay3.epc) this.publishLog3(value as LogDay3);
    });
  }

  /** Fills 0xEE with the segments 0xEF asks for: from its minute (or the latest) backwards. */
  private publishLog3(day: LogDay3): void {
    const latest = Math.max(...this.minutes.keys());
    const at = day.at ?? (Number.isFinite(latest) ? latest : 0);
    const readings = Array.from({ length: day.segments }, (_, i) => this.minutes.get(at - i * MINUTE_MS) ?? { normal: null, reverse: null });
    this.object.set(LowVoltageSmartMeter.props.log3, { at, readings }, { announce: false });
  }

  /** Records the registers at the 1-minute boundary `at` (0xD0, and 0xEE when it shows the latest). */
  private recordMinute(at: number, importWh: number, exportWh: number): void {
    const r = { normal: wattHoursToMeterReading(wattHours(importWh), UNIT, 1, DIGITS), reverse: wattHoursToMeterReading(wattHours(exportWh), UNIT, 1, DIGITS) };
    this.minutes.set(at, r);
    for (const k of this.minutes.keys()) {
      if (k > at - DAY_MS) break;
      this.minutes.delete(k);
    }
    const P = LowVoltageSmartMeter.props;
    this.object.set(P.minuteReading, { at, ...r }, { announce: false });
    const day = this.object.get(P.logDay3);
    if (day.at === null) this.publishLog3(day);
  }

  /** Base load at instant t (W). */
  baseLoad(t: number): number {
    let w = baseLoadWatts(t, this.cfg.baseLoadMinW, this.cfg.baseLoadMaxW);
    if (this.cfg.noise) w *= 1 + this.cfg.noise * (2 * (this.cfg.random ?? Math.random)() - 1);
    return Math.max(0, w);
  }

  /** Imported and exported energy so far (Wh). */
  totals(): { importWh: number; exportWh: number } {
    return { importWh: this.importWh, exportWh: this.exportWh };
  }
  power(): Watts {
    return watts(this.powerW);
  }

  /** `ctx.netLoadW` is the sum of all other devices at the site; the base load is added here. */
  step(ctx: StepContext): Watts {
    const base = this.baseLoad(ctx.t);
    const before = ctx.t - ctx.dtMs;
    const importBefore = this.importWh;
    const exportBefore = this.exportWh;
    this.powerW = Math.round(ctx.netLoadW + base);
    const h = hours(ctx.dtMs);
    if (this.powerW > 0) this.importWh += this.powerW * h;
    else this.exportWh -= this.powerW * h;
    const o = this.object;
    const P = LowVoltageSmartMeter.props;
    o.set(P.instantaneousPower, watts(this.powerW));
    o.set(P.cumulativeNormal, wattHoursToMeterReading(wattHours(this.importWh), UNIT, 1, DIGITS));
    o.set(P.cumulativeReverse, wattHoursToMeterReading(wattHours(this.exportWh), UNIT, 1, DIGITS));
    // Single-phase three-wire 100/200 V: the load split evenly, each phase carrying half at 100 V.
    const amps = clamp(Math.round(this.powerW / 200 * 10), -32767, 32765) / 10;
    o.set(P.instantaneousCurrents, { r: amps, t: amps });
    // At each 30-minute boundary (a settlement period, コマ) the meter records and announces
    // the fixed-time readings 0xEA/0xEB, as B-route smart meters do.
    const boundary = komaFloor(ctx.t);
    if (!this.fixedTaken) {
      // The meter was running before the simulation: its last fixed-time reading is the boundary
      // before the first step (with the registers as they start), never the epoch.
      this.fixedTaken = true;
      // Not announced: it is no new measurement, only the one the meter already held.
      o.set(P.fixedTimeNormal, { at: komaFloor(before), reading: wattHoursToMeterReading(wattHours(importBefore), UNIT, 1, DIGITS) }, { announce: false });
      o.set(P.fixedTimeReverse, { at: komaFloor(before), reading: wattHoursToMeterReading(wattHours(exportBefore), UNIT, 1, DIGITS) }, { announce: false });
      this.recordMinute(Math.floor(before / MINUTE_MS) * MINUTE_MS, importBefore, exportBefore);
    }
    // Each 1-minute boundary crossed by this step, with the registers as they were at it.
    for (let m = (Math.floor(before / MINUTE_MS) + 1) * MINUTE_MS; ctx.dtMs > 0 && m <= ctx.t; m += MINUTE_MS) {
      const f = (m - before) / ctx.dtMs;
      this.recordMinute(m, importBefore + (this.importWh - importBefore) * f, exportBefore + (this.exportWh - exportBefore) * f);
    }
    if (ctx.dtMs > 0 && boundary > before) {
      // The step may overshoot the boundary: take the registers as they were at the boundary.
      const f = (boundary - before) / ctx.dtMs;
      const imp = importBefore + (this.importWh - importBefore) * f;
      const exp = exportBefore + (this.exportWh - exportBefore) * f;
      o.set(P.fixedTimeNormal, { at: boundary, reading: wattHoursToMeterReading(wattHours(imp), UNIT, 1, DIGITS) });
      o.set(P.fixedTimeReverse, { at: boundary, reading: wattHoursToMeterReading(wattHours(exp), UNIT, 1, DIGITS) });
    }
    return watts(base);
  }
}
