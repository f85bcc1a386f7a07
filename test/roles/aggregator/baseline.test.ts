import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../../src/core/errors.js';
import { epochMillis, watts, type EpochMillis, type WattHours } from '../../../src/core/units.js';
import {
  KOMA_MS,
  deviceBaseline,
  deviceKomaEnergyWh,
  formatJst,
  high4of5,
  komaIndex,
  parseJstDate,
  type High4of5Baseline,
} from '../../../src/roles/aggregator/baseline/index.js';

/** A smart-meter-like series: Wh per コマ keyed by the コマ start. */
class Series {
  readonly map = new Map<EpochMillis, WattHours>();
  /** Every コマ of every day from `from` to `to` (JST dates, inclusive) = wh. */
  fill(from: string, to: string, wh: number): this {
    const end = parseJstDate(to) + 48 * KOMA_MS;
    for (let t = parseJstDate(from) as number; t < end; t += KOMA_MS) this.map.set(t as EpochMillis, wh as WattHours);
    return this;
  }
  /** All 48 コマ of one day = wh. */
  day(date: string, wh: number): this {
    for (let k = 0; k < 48; k++) this.map.set((parseJstDate(date) + k * KOMA_MS) as EpochMillis, wh as WattHours);
    return this;
  }
  /** Consecutive コマ from hh:mm JST on `date`. */
  at(date: string, hhmm: string, ...whs: number[]): this {
    const [h, m] = hhmm.split(':').map(Number);
    const t0 = parseJstDate(date) + (h! * 60 + m!) * 60_000;
    whs.forEach((wh, k) => this.map.set((t0 + k * KOMA_MS) as EpochMillis, wh as WattHours));
    return this;
  }
}

const jst = (date: string, hhmm: string): EpochMillis => {
  const [h, m] = hhmm.split(':').map(Number);
  return epochMillis(parseJstDate(date) + (h! * 60 + m!) * 60_000);
};

function ok(r: ReturnType<typeof high4of5>): High4of5Baseline {
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r;
}

test('JST helpers: コマ numbering, day boundaries and ISO 8601 with +09:00', () => {
  const t = jst('2026-07-15', '13:00');
  assert.equal(t, Date.UTC(2026, 6, 15, 4, 0));
  assert.equal(komaIndex(t), 26);
  assert.equal(formatJst(t), '2026-07-15T13:00:00+09:00');
  assert.equal(komaIndex(jst('2026-07-15', '00:00')), 0);
  assert.equal(komaIndex(jst('2026-07-15', '23:30')), 47);
  assert.throws(() => parseJstDate('2026-02-30'), InvalidInputError);
});

/*
 * Weekday event: Wednesday 2026-07-15, 13:00–15:00 JST (コマ 26–29). Adjustment window
 * 08:00–11:00 (5 h to 2 h before the start, コマ 16–21).
 * History (Wh per コマ): each weekday is flat at v, plus +0/+100/+200/+300 in the four event コマ.
 *   07-14 Tue v=1000   event-window total 4×1000+600 = 4600
 *   07-13 Mon v=1200   DR day → excluded
 *   07-10 Fri flat 100 (no offsets)  total 400
 *   07-09 Thu v=1100   total 5000
 *   07-08 Wed v=900    total 4200
 *   07-07 Tue v=1000   total 4600
 *   07-06 Mon v=800    total 3800
 *   older weekdays 950; weekends 5000 (never used for a weekday event)
 * Set 1 = {07-14, 07-10, 07-09, 07-08, 07-07}: Σ = 4600+400+5000+4200+4600 = 18800, average 3760,
 *   25 % = 940; 07-10 (400) < 940 → low-load, excluded; refill with 07-06.
 * Set 2 = {07-14, 07-09, 07-08, 07-07, 07-06}: Σ = 22200, average 4440, 25 % = 1110: none low.
 *   Lowest = 07-06 (3800) → dropped. Kept: 07-14, 07-09, 07-08, 07-07 (v = 1000, 1100, 900, 1000).
 * Unadjusted baseline per コマ = mean v + offset = 1000 + [0,100,200,300] = [1000,1100,1200,1300].
 * Adjustment: event-day actual in 08:00–11:00 = 1150 per コマ; baseline there = mean v = 1000;
 *   offset = 1150 − 1000 = +150 → baseline = [1150, 1250, 1350, 1450].
 */
function weekdayScenario(): Series {
  const s = new Series().fill('2026-06-01', '2026-07-15', 950);
  for (const d of ['2026-06-06', '2026-06-07', '2026-06-13', '2026-06-14', '2026-06-20', '2026-06-21', '2026-06-27', '2026-06-28', '2026-07-04', '2026-07-05', '2026-07-11', '2026-07-12']) s.day(d, 5000);
  const v: Record<string, number> = { '2026-07-14': 1000, '2026-07-13': 1200, '2026-07-09': 1100, '2026-07-08': 900, '2026-07-07': 1000, '2026-07-06': 800 };
  for (const [d, wh] of Object.entries(v)) s.day(d, wh).at(d, '13:00', wh, wh + 100, wh + 200, wh + 300);
  s.day('2026-07-10', 100);
  s.day('2026-07-15', 1150).at('2026-07-15', '13:00', 700, 800, 900, 1000);
  return s;
}

test('High 4 of 5 with same-day adjustment: DR day and low-load day excluded, lowest dropped (hand-computed)', () => {
  const s = weekdayScenario();
  const b = ok(high4of5({ series: s.map, eventStart: jst('2026-07-15', '13:00'), eventEnd: jst('2026-07-15', '15:00'), drDays: new Set(['2026-07-13']), holidays: new Set() }));
  assert.equal(b.dayType, 'weekday');
  assert.deepEqual(b.selectedDays, ['2026-07-14', '2026-07-09', '2026-07-08', '2026-07-07']);
  assert.deepEqual(b.excluded, [
    { date: '2026-07-13', reason: 'dr_day' },
    { date: '2026-07-10', reason: 'low_load' },
    { date: '2026-07-06', reason: 'lowest' },
  ]);
  assert.deepEqual(b.unadjustedWh, [1000, 1100, 1200, 1300]);
  assert.equal(b.adjustmentWh, 150);
  assert.deepEqual(b.baselineWh, [1150, 1250, 1350, 1450]);
  assert.deepEqual(b.adjustmentWindow, { startBeforeMs: 5 * 3_600_000, endBeforeMs: 2 * 3_600_000 });
  // Without the DR-day exclusion 07-13 (v=1200, total 5400) would be in the set and change it.
  const b2 = ok(high4of5({ series: s.map, eventStart: jst('2026-07-15', '13:00'), eventEnd: jst('2026-07-15', '15:00'), drDays: new Set(), holidays: new Set() }));
  assert.notDeepEqual(b2.selectedDays, b.selectedDays);
});

/*
 * Tie for the lowest: event Wed 2026-07-15 13:00–15:00, adjustment disabled.
 *   07-14 flat 1000 → total 4000       07-13 window [800,1000,900,900] → total 3600 (distance 2)
 *   07-10 flat 1100 → total 4400       07-09 flat 900 → total 3600 (distance 6)
 *   07-08 flat 1200 → total 4800
 * 25 %: average 20400/5 = 4080, threshold 1020: none low. Lowest 3600 is tied; the day furthest
 * from the event (07-09) is dropped. Kept 07-14, 07-13, 07-10, 07-08:
 *   コマ 13:00 = (1000+800+1100+1200)/4 = 1025;  13:30 = (1000+1000+1100+1200)/4 = 1075;
 *   14:00 = 14:30 = (1000+900+1100+1200)/4 = 1050.
 * (Had 07-13 been dropped instead, 13:00 would be (1000+900+1100+1200)/4 = 1050.)
 */
test('High 4 of 5 tie for the lowest day: the one furthest from the event day is dropped (hand-computed)', () => {
  const s = new Series().fill('2026-06-01', '2026-07-15', 950);
  s.day('2026-07-14', 1000).day('2026-07-13', 900).at('2026-07-13', '13:00', 800, 1000, 900, 900);
  s.day('2026-07-10', 1100).day('2026-07-09', 900).day('2026-07-08', 1200);
  const b = ok(high4of5({ series: s.map, eventStart: jst('2026-07-15', '13:00'), eventEnd: jst('2026-07-15', '15:00'), drDays: new Set(), holidays: new Set(), adjustmentWindow: null }));
  assert.deepEqual(b.selectedDays, ['2026-07-14', '2026-07-13', '2026-07-10', '2026-07-08']);
  assert.deepEqual(b.excluded, [{ date: '2026-07-09', reason: 'lowest' }]);
  assert.deepEqual(b.baselineWh, [1025, 1075, 1050, 1050]);
  assert.equal(b.adjustmentWh, 0);
});

/*
 * Holiday event: Monday 2026-07-20 is 海の日 (national holiday), so the 土日祝日 rule applies:
 * the 3 most recent weekend/holiday days, top 2. Event 10:00–11:00 (コマ 20–21); adjustment window
 * 05:00–08:00. Candidates: 07-19 Sun flat 600, 07-18 Sat flat 500, 07-12 Sun flat 700
 * (weekdays are 5000 and must not be used). Average (1200+1000+1400)/3 = 1200 per 2 コマ,
 * 25 % = 300: none low. Lowest 07-18 dropped → baseline (600+700)/2 = 650 per コマ.
 * Adjustment: event-day actual 05:00–08:00 = 600; baseline there = 650; offset −50 → 600.
 */
test('weekend/holiday High 2 of 3 uses the JST holiday calendar (hand-computed)', () => {
  const s = new Series().fill('2026-06-01', '2026-07-20', 5000);
  s.day('2026-07-19', 600).day('2026-07-18', 500).day('2026-07-12', 700).day('2026-07-11', 650);
  s.day('2026-07-20', 600).at('2026-07-20', '10:00', 700, 700);
  const input = { series: s.map, eventStart: jst('2026-07-20', '10:00'), eventEnd: jst('2026-07-20', '11:00'), drDays: new Set<string>() };
  const b = ok(high4of5({ ...input, holidays: new Set(['2026-07-20']) }));
  assert.equal(b.dayType, 'holiday');
  assert.deepEqual(b.selectedDays, ['2026-07-19', '2026-07-12']);
  assert.deepEqual(b.excluded, [{ date: '2026-07-18', reason: 'lowest' }]);
  assert.deepEqual(b.unadjustedWh, [650, 650]);
  assert.equal(b.adjustmentWh, -50);
  assert.deepEqual(b.baselineWh, [600, 600]);
  // Without the holiday in the calendar the same Monday is a weekday: weekdays (5000) are used.
  const w = ok(high4of5({ ...input, holidays: new Set() }));
  assert.equal(w.dayType, 'weekday');
  assert.deepEqual(w.selectedDays.length, 4);
  assert.equal(w.unadjustedWh[0], 5000);
});

/*
 * Early-morning event 01:00–02:00 on 2026-07-15: the adjustment window 20:00–23:00 lies on the
 * previous day. All weekdays flat 1000 except 07-14 20:00–23:00 = 1300 (the event day's window).
 * All candidate event-window totals tie at 2000 → the furthest (07-08) is dropped. The kept days'
 * own windows are their previous evenings (1000). Offset = 1300 − 1000 = +300 → baseline 1300.
 */
test('same-day adjustment window before midnight for an early-morning event (hand-computed)', () => {
  const s = new Series().fill('2026-06-01', '2026-07-15', 1000);
  s.at('2026-07-14', '20:00', 1300, 1300, 1300, 1300, 1300, 1300);
  const b = ok(high4of5({ series: s.map, eventStart: jst('2026-07-15', '01:00'), eventEnd: jst('2026-07-15', '02:00'), drDays: new Set(), holidays: new Set() }));
  assert.deepEqual(b.selectedDays, ['2026-07-14', '2026-07-13', '2026-07-10', '2026-07-09']);
  assert.equal(b.adjustmentWh, 300);
  assert.deepEqual(b.baselineWh, [1300, 1300]);
});

test('too little history or missing event-day data gives ok:false with the reason, never a guessed baseline', () => {
  const s = new Series().fill('2026-07-08', '2026-07-15', 1000); // 07-08, 09, 10, 13, 14: exactly 5 weekdays
  const base = { eventStart: jst('2026-07-15', '13:00'), eventEnd: jst('2026-07-15', '14:00'), holidays: new Set<string>() };
  assert.ok(high4of5({ ...base, series: s.map, drDays: new Set() }).ok);
  const r = high4of5({ ...base, series: s.map, drDays: new Set(['2026-07-09']) });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, 'insufficient_history');
  assert.match(!r.ok ? r.message : '', /4 eligible weekdays within 30 days before 2026-07-15, 5 needed/);
  s.map.delete(jst('2026-07-15', '09:00'));
  const m = high4of5({ ...base, series: s.map, drDays: new Set() });
  assert.equal(!m.ok && m.reason, 'missing_event_day_data');
  assert.throws(() => high4of5({ ...base, series: s.map, drDays: new Set(), eventStart: jst('2026-07-15', '13:10') }), /コマ/);
});

test('device-level baseline: last reading before the event, or the mean of the last minutes', () => {
  const start = jst('2026-07-15', '13:00');
  const readings = [
    { at: epochMillis(start - 10 * 60_000), powerW: watts(1500) },
    { at: epochMillis(start - 5 * 60_000), powerW: watts(1600) },
    { at: epochMillis(start - 60_000), powerW: watts(1700) },
    { at: epochMillis(start + 60_000), powerW: watts(200) }, // during the event: never the baseline
  ];
  assert.deepEqual(deviceBaseline(readings, start), { ok: true, baselineW: 1700, readingsUsed: 1 });
  // mean over [12:50, 13:00): (1500 + 1600 + 1700) / 3 = 1600
  assert.deepEqual(deviceBaseline(readings, start, { mode: 'mean', windowMs: 10 * 60_000 }), { ok: true, baselineW: 1600, readingsUsed: 3 });
  assert.equal(deviceBaseline(readings.slice(0, 1), start).ok, false); // 10 min old > 5 min max age
  // Energy per コマ: mean power × 0.5 h; (200) × 0.5 = 100 Wh in 13:00–13:30; none in 13:30–14:00.
  assert.deepEqual(deviceKomaEnergyWh(readings, start, epochMillis(start + 2 * KOMA_MS)), [100, undefined]);
  assert.throws(() => deviceBaseline([{ at: epochMillis(Number.NaN), powerW: watts(1) }], start), InvalidInputError);
});
