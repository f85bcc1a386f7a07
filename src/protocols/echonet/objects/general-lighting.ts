/**
 * General lighting class 0x0290 (APPENDIX Detailed Requirements for ECHONET Device Objects,
 * §3.3.x general lighting): 0xB0 brightness (0–100 %) and 0xB6 lighting mode; on/off is 0x80.
 */
import { enumeration, unsigned } from '../datatypes.js';
import { ClassCode } from '../eoj.js';
import { superclassProps } from './superclass.js';
import { defineClass, prop } from './types.js';

/** 0xB6 lighting mode setting. */
export const lightingMode = enumeration({ auto: 0x41, normal: 0x42, night: 0x43, color: 0x45 });
export type LightingMode = ReturnType<typeof lightingMode.decode>;

export const GeneralLighting = defineClass(ClassCode.generalLighting, 'generalLighting', '一般照明', {
  ...superclassProps,
  brightness: prop(0xb0, 'brightness', '輝度レベル設定', unsigned(1, { min: 0, max: 100, unit: '%' }), 'GS'),
  lightingMode: prop(0xb6, 'lightingMode', '点灯モード設定', lightingMode, 'GS', true),
});
