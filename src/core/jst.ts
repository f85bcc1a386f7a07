/**
 * Japan Standard Time and the 30-minute settlement period (コマ), in one place.
 *
 * JST is UTC+9 all year (Japan has no daylight saving time), so a JST day is a fixed 24 h span
 * and has exactly 48 コマ. The market numbers them 1..48 from 00:00 JST (コマ 1 = 00:00–00:30,
 * コマ 27 = 13:00–13:30, コマ 48 = 23:30–24:00); {@link komaNumber} gives that number and
 * {@link komaIndex} the 0-based position used for arrays. Because 9 h is a whole number of
 * コマ, コマ boundaries in JST are also 30-minute boundaries in UTC.
 *
 * Instants are UTC epoch milliseconds everywhere in erab; JST appears only when a time is shown
 * to a person or written in a JST field (ISO 8601 with the +09:00 offset, ECHONET Lite date-time
 * properties), and that conversion happens here.
 */
import { InvalidInputError } from './errors.js';
import type { EpochMillis, Millis } from './units.js';

/** JST − UTC. */
export const JST_OFFSET_MS = 9 * 3_600_000;
/** One day; every JST day has exactly this length. */
export const DAY_MS = 86_400_000;
/** One コマ: 30 minutes. */
export const KOMA_MS = 1_800_000 as Millis;
/** コマ per JST day. */
export const KOMA_PER_DAY = 48;

/** The instant as a UTC Date whose UTC fields read as the JST wall clock (internal helper). */
function wall(t: number): Date {
  return new Date(t + JST_OFFSET_MS);
}

/** Start (00:00 JST) of the JST day containing `t`. */
export function jstDayStart(t: EpochMillis | number): EpochMillis {
  return (Math.floor((t + JST_OFFSET_MS) / DAY_MS) * DAY_MS - JST_OFFSET_MS) as EpochMillis;
}

/** The JST calendar date of `t` as YYYY-MM-DD, e.g. 2026-07-14T15:00Z → "2026-07-15". */
export function jstDate(t: EpochMillis | number): string {
  return wall(t).toISOString().slice(0, 10);
}

/** Day of week in JST, 0 = Sunday … 6 = Saturday. */
export function jstDayOfWeek(t: EpochMillis | number): number {
  return wall(t).getUTCDay();
}

/** Minutes since 00:00 JST, 0..1439. */
export function jstMinuteOfDay(t: EpochMillis | number): number {
  return Math.floor((t - jstDayStart(t)) / 60_000);
}

/** The JST wall-clock time of `t` as HH:MM (or HH:MM:SS with `seconds`). */
export function jstClock(t: EpochMillis | number, seconds = false): string {
  return wall(t).toISOString().slice(11, seconds ? 19 : 16);
}

/** The JST wall-clock fields of `t` (for encoders of JST date-time fields, e.g. ECHONET Lite 0xEA). */
export function jstFields(t: EpochMillis | number): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const d = wall(t);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
}

/** The instant of a JST wall-clock time (month 1..12). Fields are not range-checked here. */
export function fromJstFields(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): EpochMillis {
  return (Date.UTC(year, month - 1, day, hour, minute, second) - JST_OFFSET_MS) as EpochMillis;
}

/** ISO 8601 with the +09:00 offset, whole seconds, e.g. 2026-07-15T13:00:00+09:00. */
export function formatJst(t: EpochMillis | number): string {
  return wall(t).toISOString().slice(0, 19) + '+09:00';
}

/** Parse YYYY-MM-DD as the start (00:00 JST) of that JST day. */
export function parseJstDate(date: string): EpochMillis {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new InvalidInputError(`JST date ${JSON.stringify(date)} must be YYYY-MM-DD`);
  const t = fromJstFields(Number(m[1]), Number(m[2]), Number(m[3]));
  if (!Number.isFinite(t) || jstDate(t) !== date) throw new InvalidInputError(`JST date ${JSON.stringify(date)} is not a calendar date`);
  return t;
}

/** コマ position 0..47 of `t` within its JST day (array index; the market's number is komaNumber). */
export function komaIndex(t: EpochMillis | number): number {
  return Math.floor((t - jstDayStart(t)) / KOMA_MS);
}

/** The market's コマ number 1..48 of `t` within its JST day: 00:00–00:30 JST is コマ 1, 23:30–24:00 コマ 48. */
export function komaNumber(t: EpochMillis | number): number {
  return komaIndex(t) + 1;
}

/**
 * Start of コマ `n` (1..48) of the JST day `date` (YYYY-MM-DD).
 * @example formatJst(komaStartOf('2026-07-15', 27)) // '2026-07-15T13:00:00+09:00'
 */
export function komaStartOf(date: string, n: number): EpochMillis {
  if (!Number.isInteger(n) || n < 1 || n > KOMA_PER_DAY) throw new InvalidInputError(`コマ ${n} must be a whole number from 1 to ${KOMA_PER_DAY}`);
  return (parseJstDate(date) + (n - 1) * KOMA_MS) as EpochMillis;
}

/** True when `t` is the start of a コマ. */
export function isKomaStart(t: number): boolean {
  return Number.isFinite(t) && (t + JST_OFFSET_MS) % KOMA_MS === 0;
}

/** Start of the コマ containing `t`. */
export function komaFloor(t: EpochMillis | number): EpochMillis {
  return (Math.floor(t / KOMA_MS) * KOMA_MS) as EpochMillis;
}

/** The first コマ start at or after `t`. */
export function komaCeil(t: EpochMillis | number): EpochMillis {
  return (Math.ceil(t / KOMA_MS) * KOMA_MS) as EpochMillis;
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
