import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../../src/core/errors.js';
import { epochMillis, watts, type EpochMillis, type WattHours } from '../../../src/core/units.js';
import {
  KOMA_MS,
  deviceBaseline,
  deviceBaselineKomaWh,
  deviceKomaEnergyWh,
  high4of5,
  parseJstDate,
} from '../../../src/roles/aggregator/baseline/index.js';
import { csvField, csvText, eventTotals, kwh, settle, settlementDailyCsv, settlementKomaCsv } from '../../../src/roles/aggregator/settlement/index.js';

const jst = (date: string, hhmm: string): EpochMillis => {
  const [h, m] = hhmm.split(':').map(Number);
  return epochMillis(parseJstDate(date) + (h! * 60 + m!) * 60_000);
};

/**
 * Resource 1: a site with a smart meter, High 4 of 5 baseline. Every weekday of the history is
 * flat 1000 Wh per コマ, the event day (Wed 2026-07-15) flat 1150 before the event, so the
 * unadjusted baseline is 1000 and the adjustment +150 → baseline 1150 in each event コマ.
 * Actual during 13:00–15:00: 700, 800, 900, 1000 → delivered 450, 350, 250, 150 Wh; day 1200 Wh.
 */
function meteredSite() {
  const series = new Map<EpochMillis, WattHours>();
  for (let t = parseJstDate('2026-06-01') as number; t < parseJstDate('2026-07-16'); t += KOMA_MS) series.set(t as EpochMillis, 1000 as WattHours);
  for (let k = 0; k < 48; k++) series.set((parseJstDate('2026-07-15') + k * KOMA_MS) as EpochMillis, 1150 as WattHours);
  const start = jst('2026-07-15', '13:00');
  const actual = [700, 800, 900, 1000];
  actual.forEach((wh, k) => series.set(epochMillis(start + k * KOMA_MS), wh as WattHours));
  const b = high4of5({ series, eventStart: start, eventEnd: jst('2026-07-15', '15:00'), drDays: new Set(), holidays: new Set() });
  assert.ok(b.ok);
  assert.deepEqual(b.baselineWh, [1150, 1150, 1150, 1150]);
  return settle({ eventId: 'evt-2026-07-15-A', resourceId: 'site-001', direction: 'reduce', komaStarts: b.komaStarts, baselineWh: b.baselineWh, actualWh: actual });
}

/**
 * Resource 2: a battery with device-level metering; its id contains a comma and quotes (quoting)
 * and starts with "=" (formula neutralisation). Baseline = last reading before 13:00 = 1700 W →
 * 850 Wh per コマ. During the event: 13:00–13:30 readings −1000 and −1200 W (discharging) → mean
 * −1100 W → −550 Wh; 13:30–14:00 reading −900 W → −450 Wh.
 * Delivered (reduce) = 850 − (−550) = 1400 Wh and 850 − (−450) = 1300 Wh; day 2700 Wh.
 */
function deviceMetered() {
  const start = jst('2026-07-15', '13:00');
  const end = jst('2026-07-15', '14:00');
  const readings = [
    { at: epochMillis(start - 60_000), powerW: watts(1700) },
    { at: epochMillis(start + 5 * 60_000), powerW: watts(-1000) },
    { at: epochMillis(start + 20 * 60_000), powerW: watts(-1200) },
    { at: epochMillis(start + 40 * 60_000), powerW: watts(-900) },
  ];
  const b = deviceBaseline(readings, start);
  assert.ok(b.ok);
  const actual = deviceKomaEnergyWh(readings, start, end);
  assert.deepEqual(actual, [-550, -450]);
  return settle({
    eventId: 'evt-2026-07-15-A',
    resourceId: '=bat,"B"',
    direction: 'reduce',
    komaStarts: [start, epochMillis(start + KOMA_MS)],
    baselineWh: deviceBaselineKomaWh(b.baselineW, start, end),
    actualWh: actual.map((x) => x!),
  });
}

test('delivered = baseline − actual per コマ for reduction, per resource, with day totals', () => {
  const s = meteredSite();
  assert.deepEqual(s.komas.map((k) => k.deliveredWh), [450, 350, 250, 150]);
  assert.deepEqual(s.days, [{ date: '2026-07-15', rawWh: 1200, creditedWh: 1200 }]);
  assert.equal(s.creditedWh, 1200);
  const d = deviceMetered();
  assert.deepEqual(d.komas.map((k) => k.deliveredWh), [1400, 1300]);
  const totals = eventTotals([s, d]);
  assert.deepEqual(totals.perKoma.map((p) => p.deliveredWh), [1850, 1650, 250, 150]);
  assert.equal(totals.creditedWh, 3900);
});

test('increase (上げDR) reverses the sign; a day with a negative total is credited as zero', () => {
  const t = jst('2026-07-20', '10:00');
  const up = settle({ eventId: 'up', resourceId: 'r', direction: 'increase', komaStarts: [t, epochMillis(t + KOMA_MS)], baselineWh: [600, 600], actualWh: [900, 500] });
  // (900 − 600) + (500 − 600) = 300 − 100 = 200
  assert.deepEqual(up.komas.map((k) => k.deliveredWh), [300, -100]);
  assert.deepEqual(up.days, [{ date: '2026-07-20', rawWh: 200, creditedWh: 200 }]);
  const down = settle({ eventId: 'down', resourceId: 'r', direction: 'reduce', komaStarts: [t, epochMillis(t + KOMA_MS)], baselineWh: [600, 600], actualWh: [700, 700] });
  // (600 − 700) × 2 = −200 → counts as 0; the per-コマ record keeps −100.
  assert.deepEqual(down.days, [{ date: '2026-07-20', rawWh: -200, creditedWh: 0 }]);
  assert.equal(down.creditedWh, 0);
  assert.deepEqual(down.komas.map((k) => k.deliveredWh), [-100, -100]);
});

test('settlement CSV golden file: RFC 4180 quoting, CRLF, header, JST +09:00 コマ starts, kWh with 3 decimals', () => {
  const rows = [meteredSite(), deviceMetered()];
  const expected =
    'event_id,resource_id,direction,koma_start_jst,baseline_kwh,actual_kwh,delivered_kwh\r\n' +
    'evt-2026-07-15-A,site-001,reduce,2026-07-15T13:00:00+09:00,1.150,0.700,0.450\r\n' +
    'evt-2026-07-15-A,site-001,reduce,2026-07-15T13:30:00+09:00,1.150,0.800,0.350\r\n' +
    'evt-2026-07-15-A,site-001,reduce,2026-07-15T14:00:00+09:00,1.150,0.900,0.250\r\n' +
    'evt-2026-07-15-A,site-001,reduce,2026-07-15T14:30:00+09:00,1.150,1.000,0.150\r\n' +
    `evt-2026-07-15-A,"'=bat,""B""",reduce,2026-07-15T13:00:00+09:00,0.850,-0.550,1.400\r\n` +
    `evt-2026-07-15-A,"'=bat,""B""",reduce,2026-07-15T13:30:00+09:00,0.850,-0.450,1.300\r\n`;
  assert.equal(settlementKomaCsv(rows), expected);
  const daily =
    'event_id,resource_id,direction,date_jst,delivered_kwh,credited_kwh\r\n' +
    'evt-2026-07-15-A,site-001,reduce,2026-07-15,1.200,1.200\r\n' +
    `evt-2026-07-15-A,"'=bat,""B""",reduce,2026-07-15,2.700,2.700\r\n`;
  assert.equal(settlementDailyCsv(rows), daily);
});

test('CSV field helpers: quoting, formula neutralisation and kWh formatting', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a\r\nb'), '"a\r\nb"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvText('+81'), "'+81");
  assert.equal(csvText('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(kwh(-0.4), '0.000');
  assert.equal(kwh(1234.5), '1.235');
  assert.equal(kwh(-1234.5), '-1.235');
});

test('settlement input is validated: lengths, コマ boundaries, order, finite values', () => {
  const t = jst('2026-07-15', '13:00');
  const base = { eventId: 'e', resourceId: 'r', direction: 'reduce' as const };
  assert.throws(() => settle({ ...base, komaStarts: [t], baselineWh: [1, 2], actualWh: [1] }), InvalidInputError);
  assert.throws(() => settle({ ...base, komaStarts: [epochMillis(t + 60_000)], baselineWh: [1], actualWh: [1] }), /30-minute boundary/);
  assert.throws(() => settle({ ...base, komaStarts: [epochMillis(t + KOMA_MS), t], baselineWh: [1, 1], actualWh: [1, 1] }), /ascending/);
  assert.throws(() => settle({ ...base, komaStarts: [t], baselineWh: [Number.NaN], actualWh: [1] }), /finite/);
});
