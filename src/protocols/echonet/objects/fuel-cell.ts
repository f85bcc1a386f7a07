/**
 * Fuel cell class 0x027C (household fuel cell, "ENE-FARM"; APPENDIX Detailed Requirements for
 * ECHONET Device Objects, §3.3.x fuel cell): 0xCA starts and stops generation, 0xD2 chooses
 * rated-maximum or load-following output, 0xC4 is the output in W, 0xC5 the cumulative output.
 */
import { enumeration, milliKilowattHours, wattsUnsigned } from '../datatypes.js';
import { ClassCode } from '../eoj.js';
import { systemInterconnection } from './storage-battery.js';
import { superclassProps } from './superclass.js';
import { appendixProp, defineClass, prop } from './types.js';

/** 0xCA power generation setting. */
export const generationSetting = enumeration({ generationOn: 0x41, generationOff: 0x42 });
/** 0xCB power generation status. */
export const generationStatus = enumeration({ generating: 0x41, stopped: 0x42, starting: 0x43, stopping: 0x44, idling: 0x45 });
export type GenerationStatus = ReturnType<typeof generationStatus.decode>;
/** 0xD2 power generation mode: at the rated maximum, or following the house's demand. */
export const generationMode = enumeration({ maximumRating: 0x41, loadFollowing: 0x42 });
export type GenerationMode = ReturnType<typeof generationMode.decode>;

export const FuelCell = defineClass(ClassCode.fuelCell, 'fuelCell', '燃料電池', {
  ...superclassProps,
  ratedGeneration: prop(0xc2, 'ratedGeneration', '定格発電出力', wattsUnsigned(2, 65533), 'G'),
  instantaneousGeneration: prop(0xc4, 'instantaneousGeneration', '瞬時発電電力計測値', wattsUnsigned(2, 65533), 'G'),
  cumulativeGeneration: prop(0xc5, 'cumulativeGeneration', '積算発電電力量計測値', milliKilowattHours(), 'G'),
  generationSetting: prop(0xca, 'generationSetting', '発電動作設定', generationSetting, 'GS'),
  generationStatus: prop(0xcb, 'generationStatus', '発電動作状態', generationStatus, 'GA'),
  systemInterconnection: prop(0xd0, 'systemInterconnection', '系統連系状態', systemInterconnection, 'G'),
  requestedGenerationTime: appendixProp(ClassCode.fuelCell, 0xd1, 'requestedGenerationTime'),
  generationMode: prop(0xd2, 'generationMode', '指定発電状態', generationMode, 'GS'),
});
