import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../src/core/errors.js';
import {
  formatJst, fromJstFields, isKomaStart, jstClock, jstDate, jstDayOfWeek, jstDayStart, jstFields, jstMinuteOfDay,
  KOMA_MS, KOMA_PER_DAY, komaCeil, komaFloor, komaIndex, komaNumber, komaStartOf, komaStarts, parseJstDate,
} from '../../src/core/jst.js';
import { epochMillis } from '../../src/core/units.js';
import { fixedTimeReading } from '../../src/protocols/echonet/objects/smart-meter.js';

const utc = (iso: string) => epochMillis(Date.parse(iso));

test('00:00 JST starts コマ 1 and 23:30–24:00 JST is コマ 48', () => {
  const day = parseJstDate('2026-07-15');
  assert.equal(formatJst(day), '2026-07-15T00:00:00+09:00');
  assert.equal(komaNumber(day), 1);
  assert.equal(komaNumber(day + KOMA_MS - 1), 1);
  assert.equal(komaNumber(day + KOMA_MS), 2);
  assert.equal(komaNumber(utc('2026-07-15T04:00:00Z')), 27); // 13:00 JST
  assert.equal(komaNumber(day + 23.5 * 3_600_000), 48);
  assert.equal(komaNumber(day + 86_400_000 - 1), 48);
  assert.equal(komaNumber(day + 86_400_000), 1);
  assert.equal(komaIndex(day + 86_400_000 - 1), 47);
  assert.equal(KOMA_PER_DAY, 48);
});

test('a UTC instant near midnight belongs to the JST day nine hours ahead', () => {
  // 14:59:59.999Z is 23:59:59.999 JST on the same date; 15:00Z is already tomorrow in Japan.
  const before = utc('2026-07-14T14:59:59.999Z');
  const after = utc('2026-07-14T15:00:00.000Z');
  assert.equal(jstDate(before), '2026-07-14');
  assert.equal(komaNumber(before), 48);
  assert.equal(jstDate(after), '2026-07-15');
  assert.equal(komaNumber(after), 1);
  assert.equal(jstDayStart(after), after);
  assert.equal(jstDayStart(before), utc('2026-07-13T15:00:00Z'));
  // UTC midnight is 09:00 JST, コマ 19, still on the same JST date.
  const utcMidnight = utc('2026-07-15T00:00:00Z');
  assert.equal(jstDate(utcMidnight), '2026-07-15');
  assert.equal(komaNumber(utcMidnight), 19);
  assert.equal(jstMinuteOfDay(utcMidnight), 9 * 60);
  assert.equal(jstClock(utcMidnight), '09:00');
  // New year: 31 Dec 15:00Z is 1 Jan in Japan (a Thursday in 2026).
  const ny = utc('2025-12-31T15:00:00Z');
  assert.equal(jstDate(ny), '2026-01-01');
  assert.equal(jstDayOfWeek(ny), 4);
});

test('instants before 1970 still map to the right JST day (floor, not truncation)', () => {
  const t = utc('1969-12-31T14:59:00Z'); // 23:59 JST on 31 Dec 1969
  assert.equal(jstDate(t), '1969-12-31');
  assert.equal(komaNumber(t), 48);
  assert.equal(jstMinuteOfDay(t), 23 * 60 + 59);
});

test('formatJst writes ISO 8601 with +09:00 that parses back to the same instant', () => {
  const t = utc('2026-07-15T04:00:00Z');
  assert.equal(formatJst(t), '2026-07-15T13:00:00+09:00');
  assert.equal(Date.parse(formatJst(t)), t);
  assert.equal(jstClock(t, true), '13:00:00');
});

test('komaStartOf numbers the day 1..48 and refuses anything else, naming the rule', () => {
  assert.equal(formatJst(komaStartOf('2026-07-15', 1)), '2026-07-15T00:00:00+09:00');
  assert.equal(formatJst(komaStartOf('2026-07-15', 27)), '2026-07-15T13:00:00+09:00');
  assert.equal(formatJst(komaStartOf('2026-07-15', 48)), '2026-07-15T23:30:00+09:00');
  for (let n = 1; n <= 48; n++) assert.equal(komaNumber(komaStartOf('2026-07-15', n)), n);
  for (const bad of [0, 49, 1.5]) {
    assert.throws(() => komaStartOf('2026-07-15', bad), (e: unknown) => e instanceof InvalidInputError && /from 1 to 48/.test(e.message));
  }
  assert.throws(() => parseJstDate('2026-02-30'), /not a calendar date/);
  assert.throws(() => parseJstDate('15/07/2026'), /must be YYYY-MM-DD/);
});

test('コマ boundaries: floor, ceil, starts and the check agree', () => {
  const t = utc('2026-07-15T04:10:00Z');
  assert.equal(komaFloor(t), utc('2026-07-15T04:00:00Z'));
  assert.equal(komaCeil(t), utc('2026-07-15T04:30:00Z'));
  assert.equal(komaCeil(komaFloor(t)), komaFloor(t));
  assert.ok(isKomaStart(komaFloor(t)));
  assert.ok(!isKomaStart(t));
  const s = komaStarts(komaFloor(t), epochMillis(komaFloor(t) + 3 * KOMA_MS));
  assert.deepEqual(s.map((x) => komaNumber(x)), [27, 28, 29]);
  assert.throws(() => komaStarts(t, epochMillis(t + KOMA_MS), 'event'), /event: start and end must be 30-minute/);
});

test('JST wall-clock fields round-trip, and the ECHONET Lite fixed-time reading (0xEA) is written in JST', () => {
  const t = utc('2026-07-14T15:00:00Z');
  assert.deepEqual(jstFields(t), { year: 2026, month: 7, day: 15, hour: 0, minute: 0, second: 0 });
  assert.equal(fromJstFields(2026, 7, 15), t);
  const edt = fixedTimeReading.encode({ at: t, reading: 1234 });
  assert.deepEqual([...edt.slice(0, 7)], [0x07, 0xea, 7, 15, 0, 0, 0]);
  assert.deepEqual(fixedTimeReading.decode(edt), { at: t, reading: 1234 });
});
