/**
 * xCal (RFC 6321) durations and date-times as OpenADR 2.0b uses them
 * (oadr_xcal_20b.xsd: DurationValueType, DateTimeType). Inside erab a duration is Millis and an
 * instant EpochMillis; this is the only place that converts.
 */
import type { EpochMillis, Millis } from '../../core/units.js';
import { invalidData } from './errors.js';

const DURATION = /^([+-])?P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?)$/;

/**
 * Parses an ISO 8601 / xCal duration such as `PT1H`, `PT15M`, `P1DT2H`, `PT0S`, `P2W` into Millis.
 * Years and months are refused (454): their length depends on the calendar, and OpenADR
 * programs express event and report periods in days or less.
 * @example parseDuration('PT15M') === 900000
 */
export function parseDuration(s: string, field = 'duration'): Millis {
  const m = DURATION.exec(s.trim());
  if (!m || s.trim() === 'P' || s.trim().endsWith('T')) throw invalidData(`${field}: "${s.slice(0, 40)}" is not a supported xCal duration (e.g. PT15M, P1DT2H)`);
  const [, sign, w, d, h, min, sec] = m;
  const ms =
    (Number(w ?? 0) * 7 * 86400 + Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60) * 1000 +
    Math.round(Number(sec ?? 0) * 1000);
  if (!Number.isSafeInteger(ms)) throw invalidData(`${field}: duration out of range`);
  return (sign === '-' ? -ms : ms) as Millis;
}

/** Formats Millis as the shortest xCal duration, e.g. 5400000 → `PT1H30M`, 0 → `PT0S`. */
export function formatDuration(ms: number): string {
  const neg = ms < 0;
  let rest = Math.abs(ms);
  const days = Math.floor(rest / 86_400_000);
  rest -= days * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  let out = `${neg ? '-' : ''}P${days ? `${days}D` : ''}`;
  if (h || m || s || !days) {
    out += 'T';
    if (h) out += `${h}H`;
    if (m) out += `${m}M`;
    if (s || (!h && !m)) out += `${s}S`;
  }
  return out;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * Parses an xCal date-time (`2026-01-01T09:00:00Z`, fractional seconds allowed). A value with no
 * zone designator is read as UTC, as OpenADR 2.0b requires date-times in UTC.
 */
export function parseDateTime(s: string, field = 'date-time'): EpochMillis {
  const t = s.trim();
  const m = DATE_TIME.exec(t);
  if (!m) throw invalidData(`${field}: "${t.slice(0, 40)}" is not an xCal date-time (YYYY-MM-DDThh:mm:ssZ)`);
  const iso = m[8] ? t : `${t}Z`;
  const v = Date.parse(iso);
  const [, y, mo, d, h, mi, se] = m;
  if (!Number.isFinite(v) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(se) > 60 || Number(y) < 1) {
    throw invalidData(`${field}: "${t.slice(0, 40)}" is not a valid date-time`);
  }
  return v as EpochMillis;
}

/** Formats an instant as an xCal UTC date-time; milliseconds are kept only when non-zero. */
export function formatDateTime(t: number): string {
  const iso = new Date(t).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}
