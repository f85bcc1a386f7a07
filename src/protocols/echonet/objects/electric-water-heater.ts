/**
 * Electric water heater class 0x026B (heat-pump "EcoCute" included; APPENDIX Detailed
 * Requirements for ECHONET Device Objects, Release R, §3.3.20).
 */
import { enumeration, unsigned } from '../datatypes.js';
import { ClassCode } from '../eoj.js';
import { superclassProps } from './superclass.js';
import { appendixProp, defineClass, prop } from './types.js';

/** 0xB0 automatic water heating setting: automatic, manual heating (boil now), manual stop. */
export const waterHeatingSetting = enumeration({ automatic: 0x41, manualHeating: 0x42, manualStop: 0x43 });
export type WaterHeatingSetting = ReturnType<typeof waterHeatingSetting.decode>;
/** 0xB2 water heater status. */
export const waterHeaterStatus = enumeration({ heating: 0x41, notHeating: 0x42 });

export const ElectricWaterHeater = defineClass(ClassCode.electricWaterHeater, 'electricWaterHeater', '電気温水器', {
  ...superclassProps,
  heatingSetting: prop(0xb0, 'heatingSetting', '沸き上げ自動設定', waterHeatingSetting, 'GSA', true),
  heaterStatus: prop(0xb2, 'heaterStatus', '沸き上げ中状態', waterHeaterStatus, 'GA', true),
  heatingTemperatureSetting: prop(0xb3, 'heatingTemperatureSetting', '沸き上げ湯温設定値', unsigned(1, { min: 0, max: 100, unit: '°C' }), 'GS'),
  daytimeReheatingPermission: appendixProp(ClassCode.electricWaterHeater, 0xc0, 'daytimeReheatingPermission'),
  alarmStatus: appendixProp(ClassCode.electricWaterHeater, 0xc2, 'alarmStatus'),
  hotWaterSupplyStatus: appendixProp(ClassCode.electricWaterHeater, 0xc3, 'hotWaterSupplyStatus'),
  energyShiftParticipation: appendixProp(ClassCode.electricWaterHeater, 0xc7, 'energyShiftParticipation'),
  standardHeatingStartTime: appendixProp(ClassCode.electricWaterHeater, 0xc8, 'standardHeatingStartTime'),
  energyShiftCount: appendixProp(ClassCode.electricWaterHeater, 0xc9, 'energyShiftCount'),
  daytimeHeatingShiftTime1: appendixProp(ClassCode.electricWaterHeater, 0xca, 'daytimeHeatingShiftTime1'),
  expectedEnergyAtShiftTime1: appendixProp(ClassCode.electricWaterHeater, 0xcb, 'expectedEnergyAtShiftTime1'),
  hourlyConsumptionAtShiftTime1: appendixProp(ClassCode.electricWaterHeater, 0xcc, 'hourlyConsumptionAtShiftTime1'),
  daytimeHeatingShiftTime2: appendixProp(ClassCode.electricWaterHeater, 0xcd, 'daytimeHeatingShiftTime2'),
  expectedEnergyAtShiftTime2: appendixProp(ClassCode.electricWaterHeater, 0xce, 'expectedEnergyAtShiftTime2'),
  hourlyConsumptionAtShiftTime2: appendixProp(ClassCode.electricWaterHeater, 0xcf, 'hourlyConsumptionAtShiftTime2'),
  remainingHotWater: prop(0xe1, 'remainingHotWater', '残湯量計測値', unsigned(2, { min: 0, max: 65533, unit: 'L' }), 'G'),
  tankCapacity: prop(0xe2, 'tankCapacity', 'タンク容量', unsigned(2, { min: 0, max: 65533, unit: 'L' }), 'G'),
  bathOperationStatus: appendixProp(ClassCode.electricWaterHeater, 0xea, 'bathOperationStatus'),
});
