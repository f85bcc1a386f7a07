/**
 * Settlement export as CSV (RFC 4180): a header row, CRLF line ends, fields quoted when they
 * contain a comma, a double quote, CR or LF, with quotes doubled. Times are the JST start of the
 * コマ in ISO 8601 with +09:00; energies in kWh with exactly 3 decimals (= whole Wh).
 * Text fields that a spreadsheet would run as a formula (leading = + - @ TAB CR) get a leading
 * apostrophe (OWASP "CSV injection"), since operators open these files in spreadsheets.
 */
import { formatJst } from '../../../core/jst.js';
import type { ResourceSettlement } from './delivered.js';

const CRLF = '\r\n';

/** Quote one field per RFC 4180 §2. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** A text field, neutralised against formula injection, then quoted. */
export function csvText(value: string): string {
  return csvField(/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
}

/** Wh → kWh with 3 fixed decimals; never "-0.000". */
export function kwh(wh: number): string {
  // Round half away from zero on whole Wh, so +x and −x format symmetrically.
  const s = ((Math.sign(wh) * Math.round(Math.abs(wh))) / 1000).toFixed(3);
  return s === '-0.000' ? '0.000' : s;
}

/**
 * One row per resource per コマ.
 *
 * @example
 * writeFileSync('settlement.csv', settlementKomaCsv([s1, s2]));
 */
export function settlementKomaCsv(settlements: readonly ResourceSettlement[]): string {
  const lines = ['event_id,resource_id,direction,koma_start_jst,baseline_kwh,actual_kwh,delivered_kwh'];
  for (const s of settlements) {
    for (const k of s.komas) {
      lines.push([csvText(s.eventId), csvText(s.resourceId), s.direction, formatJst(k.komaStart), kwh(k.baselineWh), kwh(k.actualWh), kwh(k.deliveredWh)].join(','));
    }
  }
  return lines.join(CRLF) + CRLF;
}

/** One row per resource per JST day: the raw sum and the credited amount (negative → 0). */
export function settlementDailyCsv(settlements: readonly ResourceSettlement[]): string {
  const lines = ['event_id,resource_id,direction,date_jst,delivered_kwh,credited_kwh'];
  for (const s of settlements) {
    for (const d of s.days) lines.push([csvText(s.eventId), csvText(s.resourceId), s.direction, d.date, kwh(d.rawWh), kwh(d.creditedWh)].join(','));
  }
  return lines.join(CRLF) + CRLF;
}
