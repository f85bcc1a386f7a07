/**
 * Device-level baseline (機器個別計測): for a resource metered at the device, the baseline is
 * the power measured just before the event, held for the whole event (docs/architecture.md §4; the
 * balancing market's rules for low-voltage resources with device-level metering from FY2026).
 *
 * Our choice, documented: mode `last` (default) takes the last reading strictly before the
 * event start, provided it is at most `maxAgeMs` (default 5 min) old; mode `mean` averages the
 * readings in [start − windowMs, start) (default 5 min). No reading → no baseline (ok: false),
 * never a guessed one. Energy actually used in a コマ is the mean of the readings inside the コマ
 * × the hours the event covers in it.
 */
import { InvalidInputError } from '../../../core/errors.js';
import type { EpochMillis, Watts } from '../../../core/units.js';
import { KOMA_MS, komaStarts } from '../../../core/jst.js';

/** One telemetry reading: net consumption of the device in W (negative = export/discharge). */
export interface PowerReading {
  readonly at: EpochMillis;
  readonly powerW: Watts;
}

export interface DeviceBaselineOptions {
  readonly mode?: 'last' | 'mean';
  /** Oldest acceptable reading for mode `last` (default 5 min). */
  readonly maxAgeMs?: number;
  /** Averaging window for mode `mean` (default 5 min). */
  readonly windowMs?: number;
}

export type DeviceBaseline = { readonly ok: true; readonly baselineW: number; readonly readingsUsed: number } | { readonly ok: false; readonly message: string };

function checkReadings(readings: readonly PowerReading[]): void {
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    if (!Number.isFinite(r.at) || !Number.isFinite(r.powerW)) throw new InvalidInputError(`device readings: reading ${i} must have a finite time and power`);
  }
}

/**
 * Baseline power of one device from its readings before `eventStart`.
 *
 * @example
 * const b = deviceBaseline(readings, eventStart, { mode: 'mean', windowMs: 10 * 60_000 });
 */
export function deviceBaseline(readings: readonly PowerReading[], eventStart: EpochMillis, opts: DeviceBaselineOptions = {}): DeviceBaseline {
  checkReadings(readings);
  const mode = opts.mode ?? 'last';
  if (mode === 'last') {
    const maxAge = opts.maxAgeMs ?? 300_000;
    let best: PowerReading | undefined;
    for (const r of readings) if (r.at < eventStart && (best === undefined || r.at > best.at)) best = r;
    if (best === undefined || eventStart - best.at > maxAge) {
      return { ok: false, message: `device baseline: no reading within ${maxAge / 1000} s before the event start` };
    }
    return { ok: true, baselineW: best.powerW, readingsUsed: 1 };
  }
  const windowMs = opts.windowMs ?? 300_000;
  let sum = 0;
  let count = 0;
  for (const r of readings) {
    if (r.at >= eventStart - windowMs && r.at < eventStart) {
      sum += r.powerW;
      count++;
    }
  }
  if (count === 0) return { ok: false, message: `device baseline: no reading in the ${windowMs / 1000} s before the event start` };
  return { ok: true, baselineW: sum / count, readingsUsed: count };
}

/**
 * Energy (Wh) a device used in each コマ of [start, end), from its readings: mean power of the
 * readings inside the コマ × 0.5 h. `undefined` for a コマ without readings (reported, not guessed).
 */
export function deviceKomaEnergyWh(readings: readonly PowerReading[], start: EpochMillis, end: EpochMillis): (number | undefined)[] {
  checkReadings(readings);
  const starts = komaStarts(start, end, 'device energy window');
  const sums = new Float64Array(starts.length);
  const counts = new Uint32Array(starts.length);
  for (const r of readings) {
    if (r.at < start || r.at >= end) continue;
    const k = Math.floor((r.at - start) / KOMA_MS);
    sums[k] = sums[k]! + r.powerW;
    counts[k] = counts[k]! + 1;
  }
  return starts.map((_, k) => (counts[k]! === 0 ? undefined : (sums[k]! / counts[k]!) * 0.5));
}

/** The device baseline as energy per コマ of the event (Wh): baseline W × 0.5 h. */
export function deviceBaselineKomaWh(baselineW: number, start: EpochMillis, end: EpochMillis): number[] {
  return komaStarts(start, end, 'device baseline window').map(() => baselineW * 0.5);
}
