/**
 * Japan Standard Time and the 30-minute settlement period (コマ). JST is UTC+9 all year (no
 * daylight saving), so a JST day is a fixed 24 h span and has exactly 48 コマ, numbered 0..47
 * from 00:00 JST (コマ 0 = 00:00–00:30, コマ 26 = 13:00–13:30).
 */
import { InvalidInputError } from '../../../core/errors.js';
import type { EpochMillis } from '../../../core/units.js';

export const JST_OFFSET_MS = 9 * 3_600_000;
export const DAY_MS = 86_400_000;
/** One コマ: 30 minutes. */
export const KOMA_MS = 1_800_000;
export const KOMA_PER_DAY = 48;

/** Start (00:00 JST) of the JST day containing `t`. */
export function jstDayStart(t: EpochMillis): EpochMillis {
  return (Math.floor((t + JST_OFFSET_MS) / DAY_MS) * DAY_MS - JST_OFFSET_MS) as EpochMillis;
}

/** The JST calendar date of `t` as YYYY-MM-DD. */
export function jstDate(t: EpochMillis): string {
  return new Date(t + JST_OFFSET_MS).toISOString().slice(0, 10);
}

/** Day of week in JST, 0 = Sunday … 6 = Saturday. */
export function jstDayOfWeek(t: EpochMillis): number {
  return new Date(t + JST_OFFSET_MS).getUTCDay();
}

/** コマ number 0..47 of `t` within its JST day. */
export function komaIndex(t: EpochMillis): number {
  return Math.floor((t - jstDayStart(t)) / KOMA_MS);
}

/** True when `t` is the start of a コマ. */
export function isKomaStart(t: number): boolean {
  return Number.isFinite(t) && (t + JST_OFFSET_MS) % KOMA_MS === 0;
}

/** ISO 8601 with the +09:00 offset, e.g. 2026-07-15T13:00:00+09:00. */
export function formatJst(t: EpochMillis): string {
  return new Date(t + JST_OFFSET_MS).toISOString().slice(0, 19) + '+09:00';
}

/** Parse YYYY-MM-DD as the start of that JST day. */
export function parseJstDate(date: string): EpochMillis {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new InvalidInputError(`JST date ${JSON.stringify(date)} must be YYYY-MM-DD`);
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - JST_OFFSET_MS;
  if (!Number.isFinite(t) || jstDate(t as EpochMillis) !== date) throw new InvalidInputError(`JST date ${JSON.stringify(date)} is not a calendar date`);
  return t as EpochMillis;
}

/** The コマ starts covering [start, end); both must be コマ boundaries. */
export function komaStarts(start: EpochMillis, end: EpochMillis, what = 'period'): EpochMillis[] {
  if (!isKomaStart(start) || !isKomaStart(end) || end <= start) {
    throw new InvalidInputError(`${what}: start and end must be 30-minute (コマ) boundaries in JST with start < end`);
  }
  const out: EpochMillis[] = [];
  for (let t = start as number; t < end; t += KOMA_MS) out.push(t as EpochMillis);
  return out;
}
