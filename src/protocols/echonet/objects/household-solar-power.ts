/**
 * Household solar power generation class 0x0279 (APPENDIX Detailed Requirements for ECHONET
 * Device Objects, Release R, §3.3.24). 0xE0 is the instantaneous generation in W (unsigned
 * short, 0–65533), 0xE1 the cumulative generation in 0.001 kWh.
 */
import { milliKilowattHours, unsigned, wattsUnsigned } from '../datatypes.js';
import { ClassCode } from '../eoj.js';
import { systemInterconnection } from './storage-battery.js';
import { superclassProps } from './superclass.js';
import { appendixProp, defineClass, prop } from './types.js';

export const HouseholdSolarPower = defineClass(ClassCode.householdSolarPower, 'householdSolarPower', '住宅用太陽光発電', {
  ...superclassProps,
  outputLimitPercent: prop(0xa0, 'outputLimitPercent', '出力制御設定1', unsigned(1, { min: 0, max: 100, unit: '%' }), 'GS'),
  outputLimitWatts: prop(0xa1, 'outputLimitWatts', '出力制御設定2', wattsUnsigned(2, 65533), 'GS'),
  faultDescription: appendixProp(ClassCode.householdSolarPower, 0x89, 'faultDescription'),
  nextAccessDateTime: appendixProp(ClassCode.householdSolarPower, 0xb1, 'nextAccessDateTime'),
  fitContractType: appendixProp(ClassCode.householdSolarPower, 0xc1, 'fitContractType'),
  selfConsumptionType: appendixProp(ClassCode.householdSolarPower, 0xc2, 'selfConsumptionType'),
  systemInterconnection: prop(0xd0, 'systemInterconnection', '系統連系状態', systemInterconnection, 'G'),
  outputSuppressionStatus: appendixProp(ClassCode.householdSolarPower, 0xd1, 'outputSuppressionStatus'),
  instantaneousGeneration: prop(0xe0, 'instantaneousGeneration', '瞬時発電電力計測値', wattsUnsigned(2, 65533), 'G', true),
  cumulativeGeneration: prop(0xe1, 'cumulativeGeneration', '積算発電電力量計測値', milliKilowattHours(), 'G', true),
  ratedGeneration: prop(0xe8, 'ratedGeneration', '定格発電電力値（系統連系時）', wattsUnsigned(2, 65533), 'G'),
});
