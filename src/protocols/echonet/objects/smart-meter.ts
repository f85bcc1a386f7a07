/**
 * Low-voltage smart electric energy meter class 0x0288 (APPENDIX Detailed Requirements for
 * ECHONET Device Objects, Release R, §3.3.25.x). The cumulative readings 0xE0 (normal
 * direction, bought) and 0xE3 (reverse direction, sold) are in the unit of 0xE1 multiplied by
 * the coefficient 0xD3 (when the meter has one); conversion to Wh is done here.
 */
import { InvalidInputError } from '../../../core/errors.js';
import { fromJstFields, jstFields } from '../../../core/jst.js';
import type { WattHours } from '../../../core/units.js';
import { enumeration, rawBytes, signed, unsigned, branded, type ValueCodec } from '../datatypes.js';
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
    const y = b.readUInt16BE(0);
    const [mo, d, h, mi, se] = [b[2]!, b[3]!, b[4]!, b[5]!, b[6]!];
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) {
      throw new InvalidInputError(`date-time ${y}-${mo}-${d} ${h}:${mi}:${se} is not valid`, { code: 'echonet_value' });
    }
    const reading = b.readUInt32BE(7);
    if (reading > 99_999_999) throw new InvalidInputError(`${reading} is outside 0–99999999`, { code: 'echonet_value' });
    return { at: fromJstFields(y, mo, d, h, mi, se), reading };
  },
  encode(v) {
    if (!Number.isInteger(v.reading) || v.reading < 0 || v.reading > 99_999_999) throw new InvalidInputError(`${v.reading} is outside 0–99999999`, { code: 'echonet_value' });
    const t = jstFields(v.at);
    const b = Buffer.alloc(11);
    b.writeUInt16BE(t.year, 0);
    b[2] = t.month;
    b[3] = t.day;
    b[4] = t.hour;
    b[5] = t.minute;
    b[6] = t.second;
    b.writeUInt32BE(v.reading, 7);
    return Uint8Array.from(b);
  },
};

export const LowVoltageSmartMeter = defineClass(ClassCode.lowVoltageSmartMeter, 'lowVoltageSmartMeter', '低圧スマート電力量メータ', {
  ...superclassProps,
  coefficient: prop(0xd3, 'coefficient', '係数', unsigned(4, { min: 1, max: 999_999 }), 'G'),
  effectiveDigits: prop(0xd7, 'effectiveDigits', '積算電力量有効桁数', unsigned(1, { min: 1, max: 8 }), 'G', true),
  cumulativeNormal: prop(0xe0, 'cumulativeNormal', '積算電力量計測値（正方向計測値）', unsigned(4, { min: 0, max: 99_999_999 }), 'G', true),
  energyUnit: prop(0xe1, 'energyUnit', '積算電力量単位（正方向、逆方向計測値）', energyUnit, 'G', true),
  cumulativeNormalLog1: appendixProp(ClassCode.lowVoltageSmartMeter, 0xe2, 'cumulativeNormalLog1'),
  cumulativeReverse: prop(0xe3, 'cumulativeReverse', '積算電力量計測値（逆方向計測値）', unsigned(4, { min: 0, max: 99_999_999 }), 'G'),
  logDay1: appendixProp(ClassCode.lowVoltageSmartMeter, 0xe5, 'logDay1'),
  instantaneousPower: prop(0xe7, 'instantaneousPower', '瞬時電力計測値', branded<Watts>(signed(4, { min: -2_147_483_647, max: 2_147_483_645, unit: 'W' })), 'G', true),
  /** R-phase and T-phase currents, two signed shorts in 0.1 A. */
  instantaneousCurrents: prop(0xe8, 'instantaneousCurrents', '瞬時電流計測値', rawBytes(4, 4), 'G', true),
  /** The normal-direction reading taken at each 30-minute boundary (announced). */
  fixedTimeNormal: prop(0xea, 'fixedTimeNormal', '定時積算電力量計測値（正方向計測値）', fixedTimeReading, 'GA', true),
  fixedTimeReverse: prop(0xeb, 'fixedTimeReverse', '定時積算電力量計測値（逆方向計測値）', fixedTimeReading, 'GA'),
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
