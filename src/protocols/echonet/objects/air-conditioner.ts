/**
 * Home air conditioner class 0x0130 (APPENDIX Detailed Requirements for ECHONET Device
 * Objects, Release R, §3.2.1).
 */
import { enumeration, signed, unsigned } from '../datatypes.js';
import { ClassCode } from '../eoj.js';
import { superclassProps } from './superclass.js';
import { appendixProp, defineClass, prop } from './types.js';

/** 0xB0 operation mode setting. */
export const airconMode = enumeration({ other: 0x40, automatic: 0x41, cooling: 0x42, heating: 0x43, dehumidification: 0x44, airCirculator: 0x45 });
export type AirconMode = ReturnType<typeof airconMode.decode>;

export const AirConditioner = defineClass(ClassCode.airConditioner, 'airConditioner', '家庭用エアコン', {
  ...superclassProps,
  powerSaving: prop(0x8f, 'powerSaving', '節電動作設定', enumeration({ powerSaving: 0x41, normal: 0x42 }), 'GS'),
  airFlowRate: appendixProp(ClassCode.airConditioner, 0xa0, 'airFlowRate'),
  operationMode: prop(0xb0, 'operationMode', '運転モード設定', airconMode, 'GSA', true),
  temperatureSetting: prop(0xb3, 'temperatureSetting', '温度設定値', unsigned(1, { min: 0, max: 50, unit: '°C' }), 'GS', true),
  roomTemperature: prop(0xbb, 'roomTemperature', '室内温度計測値', signed(1, { min: -127, max: 125, unit: '°C' }), 'G'),
  outdoorTemperature: prop(0xbe, 'outdoorTemperature', '外気温度計測値', signed(1, { min: -127, max: 125, unit: '°C' }), 'G'),
});
