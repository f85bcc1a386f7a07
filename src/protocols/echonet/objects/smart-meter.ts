/**
 * Low-voltage smart electric energy meter class 0x0288 (APPENDIX Detailed Requirements for
 * ECHONET Device Objects, Release R, §3.3.25.x). The cumulative readings 0xE0 (normal
 * direction, bought) and 0xE3 (reverse direction, sold) are in the unit of 0xE1 multiplied by
 * the coefficient 0xD3 (when the meter has one); conversion to Wh is done here.
 */
import { InvalidInputError } from '../../../core/errors.js';
import { fromJstFields, jstFields } from '../../../core/jst.js';
import type { WattHours } from '../../../core/units.js';
import { enumeration, signed, unsigned, branded, type ValueCodec } from '../datatypes.js';
import type { Watts } from '../../../core/units.js';
import { ClassCode } from '../eoj.js';
import { superclassProps } from './superclass.js';
import { appendixProp, defineClass, prop } from './types.js';

/** 0xE1 unit for cumulative amounts of electric energy, in kWh. */
export const energyUnit = enumeration({
  kWh1: 0x00, kWh0_1: 0x01, kWh0_01: 0x02, kWh0_001: 0x03, kWh0_0001: 0x04,
  kWh10: 0x0a, kWh100: 0x0b, kWh1000: 0x0c, kWh10000: 0x0d,
});
export type EnergyUnit = ReturnType<typeof energyUnit.decode>;

/** kWh represented by one count of each 0xE1 unit code. */
export const ENERGY_UNIT_KWH: Record<EnergyUnit, number> = {
  kWh1: 1, kWh0_1: 0.1, kWh0_01: 0.01, kWh0_001: 0.001, kWh0_0001: 0.0001,
  kWh10: 10, kWh100: 100, kWh1000: 1000, kWh10000: 10000,
};

/**
 * A cumulative reading taken at a fixed time (0xEA/0xEB): date and time in JST as YYYY (2
 * bytes), MM, DD, hh, mm, ss, then the 4-byte reading (0–99,999,999). `at` is the instant (UTC ms).
 */
export interface FixedTimeReading {
  at: number;
  reading: number;
}
export const fixedTimeReading: ValueCodec<FixedTimeReading> = {
  type: 'date-time (JST, 7 bytes) + unsigned long 0–99999999',
  size: { min: 11, max: 11 },
  decode(edt) {
    if (edt.length !== 11) throw new InvalidInputError(`EDT is ${edt.length} byte(s), the type needs 11`, { code: 'echonet_value' });
    const b = Buffer.from(edt);
    const at = readJst(b, true, 'fixed-time reading');
    const reading = b.readUInt32BE(7);
    if (reading > 99_999_999) throw new InvalidInputError(`${reading} is outside 0–99999999`, { code: 'echonet_value' });
    return { at, reading };
  },
  encode(v) {
    const b = Buffer.alloc(11);
    writeJst(b, v.at, true);
    writeReading(b, v.reading, 7);
    return Uint8Array.from(b);
  },
};

/**
 * 0xD0 (Release R): the most recent reading taken at a 1-minute boundary, both directions:
 * date (YYYY as 2 bytes, MM, DD), time (hh, mm, ss), JST, then normal and reverse readings (4
 * bytes each, 0–99,999,999, or 0xFFFFFFFE for no data).
 */
export interface MinuteReading {
  at: number;
  normal: number | null;
  reverse: number | null;
}

/** 0xFFFFFFFE: no reading held for that segment (Appendix, 0xD0 / 0xEE). */
export const NO_READING = 0xfffffffe;

function readingOrNone(b: Buffer, offset: number, where: string): number | null {
  const v = b.readUInt32BE(offset);
  if (v === NO_READING) return null;
  if (v > 99_999_999) throw new InvalidInputError(`${where}: ${v} is outside 0–99999999 (or 0xFFFFFFFE for no data)`, { code: 'echonet_value' });
  return v;
}

function writeReading(b: Buffer, v: number | null, offset: number): void {
  if (v !== null && (!Number.isInteger(v) || v < 0 || v > 99_999_999)) throw new InvalidInputError(`${v} is outside 0–99999999`, { code: 'echonet_value' });
  b.writeUInt32BE(v ?? NO_READING, offset);
}

function writeJst(b: Buffer, at: number, seconds: boolean): void {
  const t = jstFields(at);
  b.writeUInt16BE(t.year, 0);
  b[2] = t.month;
  b[3] = t.day;
  b[4] = t.hour;
  b[5] = t.minute;
  if (seconds) b[6] = t.second;
}

function readJst(b: Buffer, seconds: boolean, where: string): number {
  const y = b.readUInt16BE(0);
  const [mo, d, h, mi] = [b[2]!, b[3]!, b[4]!, b[5]!];
  const se = seconds ? b[6]! : 0;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) {
    throw new InvalidInputError(`${where}: date-time ${y}-${mo}-${d} ${h}:${mi}:${se} is not valid`, { code: 'echonet_value' });
  }
  return fromJstFields(y, mo, d, h, mi, se);
}

export const minuteReading: ValueCodec<MinuteReading> = {
  type: 'date-time (JST, 7 bytes) + 2 × unsigned long 0–99999999 / 0xFFFFFFFE',
  size: { min: 15, max: 15 },
  decode(edt) {
    if (edt.length !== 15) throw new InvalidInputError(`0xD0: EDT is ${edt.length} byte(s), the type needs 15`, { code: 'echonet_value' });
    const b = Buffer.from(edt);
    return { at: readJst(b, true, '0xD0'), normal: readingOrNone(b, 7, '0xD0 normal'), reverse: readingOrNone(b, 11, '0xD0 reverse') };
  },
  encode(v) {
    const b = Buffer.alloc(15);
    writeJst(b, v.at, true);
    writeReading(b, v.normal, 7);
    writeReading(b, v.reverse, 11);
    return Uint8Array.from(b);
  },
};

/**
 * 0xEF (Release R): which 1-minute history 0xEE shows: the minute (YYYY MM DD hh mm, JST) and
 * how many segments (1–10) back from it. `at` null is the initial 0xFFFFFFFFFFFF: the latest minute.
 */
export interface LogDay3 {
  at: number | null;
  segments: number;
}
export const logDay3: ValueCodec<LogDay3> = {
  type: 'date-time (JST, 6 bytes, or 0xFFFFFFFFFFFF) + segments 1–10',
  size: { min: 7, max: 7 },
  decode(edt) {
    if (edt.length !== 7) throw new InvalidInputError(`0xEF: EDT is ${edt.length} byte(s), the type needs 7`, { code: 'echonet_value' });
    const b = Buffer.from(edt);
    const segments = b[6]!;
    if (segments < 1 || segments > 10) throw new InvalidInputError(`0xEF: ${segments} segments is outside 1–10`, { code: 'echonet_value' });
    const latest = b.subarray(0, 6).every((x) => x === 0xff);
    return { at: latest ? null : readJst(b, false, '0xEF'), segments };
  },
  encode(v) {
    if (!Number.isInteger(v.segments) || v.segments < 1 || v.segments > 10) throw new InvalidInputError(`0xEF: ${v.segments} segments is outside 1–10`, { code: 'echonet_value' });
    const b = Buffer.alloc(7, 0xff);
    if (v.at !== null) writeJst(b, v.at, false);
    b[6] = v.segments;
    return Uint8Array.from(b);
  },
};

/**
 * 0xEE (Release R): the 1-minute history 0xEF asks for: its minute, the segment count, then per
 * segment (from that minute backwards) the normal and reverse readings, 0xFFFFFFFE where none is held.
 */
export interface Log3 {
  at: number;
  readings: { normal: number | null; reverse: number | null }[];
}
export const log3: ValueCodec<Log3> = {
  type: 'date-time (JST, 6 bytes) + segments 1–10 + segments × 2 × unsigned long',
  size: { min: 7, max: 87 },
  decode(edt) {
    const b = Buffer.from(edt);
    if (b.length < 7 || b.length > 87) throw new InvalidInputError(`0xEE: EDT is ${b.length} byte(s), the type needs 7–87`, { code: 'echonet_value' });
    const n = b[6]!;
    if (n < 1 || n > 10 || b.length !== 7 + 8 * n) throw new InvalidInputError(`0xEE: ${n} segments do not fit ${b.length} bytes (7 + 8 per segment, 1–10 segments)`, { code: 'echonet_value' });
    const readings = Array.from({ length: n }, (_, i) => ({ normal: readingOrNone(b, 7 + 8 * i, '0xEE normal'), reverse: readingOrNone(b, 11 + 8 * i, '0xEE reverse') }));
    return { at: readJst(b, false, '0xEE'), readings };
  },
  encode(v) {
    const n = v.readings.length;
    if (n < 1 || n > 10) throw new InvalidInputError(`0xEE: ${n} segments is outside 1–10`, { code: 'echonet_value' });
    const b = Buffer.alloc(7 + 8 * n);
    writeJst(b, v.at, false);
    b[6] = n;
    v.readings.forEach((r, i) => {
      writeReading(b, r.normal, 7 + 8 * i);
      writeReading(b, r.reverse, 11 + 8 * i);
    });
    return Uint8Array.from(b);
  },
};

/** 0xE8: R- and T-phase effective currents in A (0.1 A steps); T is null on a single-phase two-wire service (0x7FFE). */
export interface PhaseCurrents {
  r: number;
  t: number | null;
}
const NO_PHASE = 0x7ffe;
export const phaseCurrents: ValueCodec<PhaseCurrents> = {
  type: '2 × signed short, 0.1 A (−3276.7–3276.5 A, 0x7FFE = no data)',
  size: { min: 4, max: 4 },
  decode(edt) {
    if (edt.length !== 4) throw new InvalidInputError(`0xE8: EDT is ${edt.length} byte(s), the type needs 4`, { code: 'echonet_value' });
    const b = Buffer.from(edt);
    const phase = (o: number, name: string): number | null => {
      const raw = b.readInt16BE(o);
      if (raw === NO_PHASE) return null;
      if (raw < -32767 || raw > 32765) throw new InvalidInputError(`0xE8 ${name}: ${raw} is outside −32767–32765 (0.1 A)`, { code: 'echonet_value' });
      return raw / 10;
    };
    const r = phase(0, 'R phase');
    if (r === null) throw new InvalidInputError('0xE8: the R phase has no reading (0x7FFE is only for the T phase)', { code: 'echonet_value' });
    return { r, t: phase(2, 'T phase') };
  },
  encode(v) {
    const b = Buffer.alloc(4);
    const raw = (a: number): number => {
      const x = Math.round(a * 10);
      if (x < -32767 || x > 32765) throw new InvalidInputError(`0xE8: ${a} A is outside −3276.7–3276.5 A`, { code: 'echonet_value' });
      return x;
    };
    b.writeInt16BE(raw(v.r), 0);
    b.writeInt16BE(v.t === null ? NO_PHASE : raw(v.t), 2);
    return Uint8Array.from(b);
  },
};

export const LowVoltageSmartMeter = defineClass(ClassCode.lowVoltageSmartMeter, 'lowVoltageSmartMeter', '低圧スマート電力量メータ', {
  ...superclassProps,
  minuteReading: prop(0xd0, 'minuteReading', '1分積算電力量計測値（正方向、逆方向計測値）', minuteReading, 'G', true),
  coefficient: prop(0xd3, 'coefficient', '係数', unsigned(4, { min: 1, max: 999_999 }), 'G'),
  effectiveDigits: prop(0xd7, 'effectiveDigits', '積算電力量有効桁数', unsigned(1, { min: 1, max: 8 }), 'G', true),
  cumulativeNormal: prop(0xe0, 'cumulativeNormal', '積算電力量計測値（正方向計測値）', unsigned(4, { min: 0, max: 99_999_999 }), 'G', true),
  energyUnit: prop(0xe1, 'energyUnit', '積算電力量単位（正方向、逆方向計測値）', energyUnit, 'G', true),
  cumulativeNormalLog1: appendixProp(ClassCode.lowVoltageSmartMeter, 0xe2, 'cumulativeNormalLog1'),
  cumulativeReverse: prop(0xe3, 'cumulativeReverse', '積算電力量計測値（逆方向計測値）', unsigned(4, { min: 0, max: 99_999_999 }), 'G'),
  logDay1: appendixProp(ClassCode.lowVoltageSmartMeter, 0xe5, 'logDay1'),
  instantaneousPower: prop(0xe7, 'instantaneousPower', '瞬時電力計測値', branded<Watts>(signed(4, { min: -2_147_483_647, max: 2_147_483_645, unit: 'W' })), 'G', true),
  instantaneousCurrents: prop(0xe8, 'instantaneousCurrents', '瞬時電流計測値', phaseCurrents, 'G', true),
  /** The normal-direction reading taken at each 30-minute boundary (announced). */
  fixedTimeNormal: prop(0xea, 'fixedTimeNormal', '定時積算電力量計測値（正方向計測値）', fixedTimeReading, 'GA', true),
  fixedTimeReverse: prop(0xeb, 'fixedTimeReverse', '定時積算電力量計測値（逆方向計測値）', fixedTimeReading, 'GA'),
  log3: prop(0xee, 'log3', '積算電力量計測値履歴3（正方向、逆方向計測値）', log3, 'G', true),
  logDay3: prop(0xef, 'logDay3', '積算履歴収集日3', logDay3, 'GS', true),
});

/** Converts a cumulative reading (0xE0/0xE3) to Wh using the coefficient (0xD3, default 1) and unit (0xE1). */
export function meterReadingToWattHours(reading: number, unit: EnergyUnit, coefficient = 1): WattHours {
  return Math.round(reading * coefficient * ENERGY_UNIT_KWH[unit] * 1000 * 1000) / 1000 as WattHours;
}

/**
 * Converts Wh to a cumulative reading in the given unit and coefficient, wrapping at the
 * number of effective digits (0xD7) as a real register does.
 */
export function wattHoursToMeterReading(wh: WattHours, unit: EnergyUnit, coefficient = 1, digits = 6): number {
  if (wh < 0) throw new InvalidInputError(`cumulative energy ${wh} Wh is negative`);
  const counts = Math.floor(wh / 1000 / ENERGY_UNIT_KWH[unit] / coefficient + 1e-9);
  return counts % 10 ** digits;
}
