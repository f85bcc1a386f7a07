/**
 * Multiple input PCS class 0x02A5 (マルチ入力PCS; APPENDIX Detailed Requirements for ECHONET
 * Device Objects, Release R; the class is in the Machine Readable Appendix from Release R on):
 * one power conditioner shared by several DC inputs (PV, storage battery, EV), which remain
 * objects of their own (listed in 0xE8). The PCS reports what it exchanges with the house's AC
 * side: 0xE7 instantaneous power, 0xE0/0xE3 cumulative energy in 0.001 kWh (= Wh).
 *
 * Direction (as erab reads it, like the smart meter): normal direction (+ 0xE7, 0xE0) is power
 * the PCS takes from the AC side (charging its battery input), reverse (− 0xE7, 0xE3) is power it
 * delivers to the AC side (PV generation, battery discharge).
 */
import { InvalidInputError } from '../../../core/errors.js';
import type { Watts } from '../../../core/units.js';
import { branded, milliKilowattHours, signed, type ValueCodec } from '../datatypes.js';
import { ClassCode, type Eoj } from '../eoj.js';
import { systemInterconnection } from './storage-battery.js';
import { superclassProps } from './superclass.js';
import { appendixProp, defineClass, prop } from './types.js';

/** 0xE8: the number of connected objects (1–10), then each one's EOJ (3 bytes). */
export const connectedDeviceList: ValueCodec<Eoj[]> = {
  type: 'count 1–10 + count × EOJ (3 bytes)',
  size: { min: 4, max: 31 },
  decode(edt) {
    const n = edt[0] ?? 0;
    if (n < 1 || n > 10 || edt.length !== 1 + 3 * n) {
      throw new InvalidInputError(`0xE8: ${n} connected objects do not fit ${edt.length} bytes (1 + 3 per object, 1–10 objects)`, { code: 'echonet_value' });
    }
    return Array.from({ length: n }, (_, i) => ((edt[1 + 3 * i]! << 16) | (edt[2 + 3 * i]! << 8) | edt[3 + 3 * i]!) as Eoj);
  },
  encode(list) {
    if (list.length < 1 || list.length > 10) throw new InvalidInputError(`0xE8: ${list.length} connected objects is outside 1–10`, { code: 'echonet_value' });
    return Uint8Array.of(list.length, ...list.flatMap((o) => [(o >>> 16) & 0xff, (o >>> 8) & 0xff, o & 0xff]));
  },
};

export const MultiInputPcs = defineClass(ClassCode.multiInputPcs, 'multiInputPcs', 'マルチ入力PCS', {
  ...superclassProps,
  faultDescription: appendixProp(ClassCode.multiInputPcs, 0x89, 'faultDescription'),
  currentTime: appendixProp(ClassCode.multiInputPcs, 0x97, 'currentTime'),
  currentDate: appendixProp(ClassCode.multiInputPcs, 0x98, 'currentDate'),
  systemInterconnection: prop(0xd0, 'systemInterconnection', '系統連系状態', systemInterconnection, 'G', true),
  cumulativeNormal: prop(0xe0, 'cumulativeNormal', '積算電力量計測値（正方向）', milliKilowattHours(), 'G', true),
  cumulativeReverse: prop(0xe3, 'cumulativeReverse', '積算電力量計測値（逆方向）', milliKilowattHours(), 'G', true),
  instantaneousPower: prop(0xe7, 'instantaneousPower', '瞬時電力計測値', branded<Watts>(signed(4, { min: -2_147_483_647, max: 2_147_483_645, unit: 'W' })), 'G', true),
  connectedDevices: prop(0xe8, 'connectedDevices', '接続機器リスト', connectedDeviceList, 'G', true),
});
