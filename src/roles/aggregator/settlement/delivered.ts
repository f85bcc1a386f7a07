/**
 * Delivered energy per event, per コマ, per resource.
 *
 * Formula (ERAB business guideline, 資源エネルギー庁「エネルギー・リソース・アグリゲーション・
 * ビジネスに関するガイドライン」 rev. 2020-06-01, 需要制御量の算定; as quoted by DR programmes
 * built on it):
 *   下げDR (reduce):   delivered_k = baseline_k − actual_k      for every event コマ k (Wh)
 *   上げDR (increase): delivered_k = actual_k − baseline_k
 *   per JST day: raw = Σ_k delivered_k;  credited = max(0, raw)   (a negative day counts as 0)
 * Per-コマ values are kept as computed (they may be negative); only the day total is floored,
 * so the per-コマ record stays auditable. The baseline is High 4 of 5 with same-day adjustment
 * (baseline/high-4-of-5.ts) or, for device-level metering, the pre-event measured value
 * (baseline/device.ts).
 */
import { InvalidInputError } from '../../../core/errors.js';
import type { EpochMillis } from '../../../core/units.js';
import { delivered as deliveredIn, type DispatchDirection } from '../../../core/domain/direction.js';
import { isKomaStart, jstDate } from '../../../core/jst.js';

export interface KomaDelivery {
  readonly komaStart: EpochMillis;
  readonly baselineWh: number;
  readonly actualWh: number;
  /** Signed: positive = delivered in the event's direction. */
  readonly deliveredWh: number;
}

export interface DayDelivery {
  /** JST date YYYY-MM-DD. */
  readonly date: string;
  readonly rawWh: number;
  /** max(0, rawWh). */
  readonly creditedWh: number;
}

export interface ResourceSettlement {
  readonly eventId: string;
  readonly resourceId: string;
  readonly direction: DispatchDirection;
  readonly komas: readonly KomaDelivery[];
  readonly days: readonly DayDelivery[];
  /** Σ credited over the days of the event. */
  readonly creditedWh: number;
}

export interface SettleInput {
  readonly eventId: string;
  readonly resourceId: string;
  readonly direction: DispatchDirection;
  readonly komaStarts: readonly EpochMillis[];
  readonly baselineWh: readonly number[];
  readonly actualWh: readonly number[];
}

/**
 * Settle one resource for one event.
 *
 * @example
 * const s = settle({ eventId, resourceId, direction: 'reduce', komaStarts: b.komaStarts, baselineWh: b.baselineWh, actualWh });
 */
export function settle(input: SettleInput): ResourceSettlement {
  const { komaStarts, baselineWh, actualWh, direction } = input;
  if (direction !== 'reduce' && direction !== 'increase') throw new InvalidInputError('settlement: direction must be "reduce" or "increase"');
  if (baselineWh.length !== komaStarts.length || actualWh.length !== komaStarts.length) {
    throw new InvalidInputError(`settlement ${input.eventId}/${input.resourceId}: baseline, actual and コマ lists must have the same length`);
  }
  const komas: KomaDelivery[] = [];
  const days = new Map<string, number>();
  for (let k = 0; k < komaStarts.length; k++) {
    const t = komaStarts[k]!;
    const b = baselineWh[k]!;
    const a = actualWh[k]!;
    if (!isKomaStart(t)) throw new InvalidInputError(`settlement ${input.eventId}/${input.resourceId}: コマ ${k} does not start on a 30-minute boundary`);
    if (k > 0 && t <= komaStarts[k - 1]!) throw new InvalidInputError(`settlement ${input.eventId}/${input.resourceId}: コマ must be in ascending order`);
    if (!Number.isFinite(b) || !Number.isFinite(a)) throw new InvalidInputError(`settlement ${input.eventId}/${input.resourceId}: コマ ${k} baseline and actual must be finite`);
    const delivered = deliveredIn(direction, b, a);
    komas.push({ komaStart: t, baselineWh: b, actualWh: a, deliveredWh: delivered });
    const d = jstDate(t);
    days.set(d, (days.get(d) ?? 0) + delivered);
  }
  const dayList: DayDelivery[] = [...days].map(([date, rawWh]) => ({ date, rawWh, creditedWh: Math.max(0, rawWh) }));
  return {
    eventId: input.eventId,
    resourceId: input.resourceId,
    direction,
    komas,
    days: dayList,
    creditedWh: dayList.reduce((s, d) => s + d.creditedWh, 0),
  };
}

/** Event-level totals: delivered per コマ summed over resources, and Σ credited. */
export function eventTotals(settlements: readonly ResourceSettlement[]): { perKoma: { komaStart: EpochMillis; deliveredWh: number }[]; creditedWh: number } {
  const per = new Map<number, number>();
  let credited = 0;
  for (const s of settlements) {
    for (const k of s.komas) per.set(k.komaStart, (per.get(k.komaStart) ?? 0) + k.deliveredWh);
    credited += s.creditedWh;
  }
  return {
    perKoma: [...per].sort((a, b) => a[0] - b[0]).map(([t, w]) => ({ komaStart: t as EpochMillis, deliveredWh: w })),
    creditedWh: credited,
  };
}
