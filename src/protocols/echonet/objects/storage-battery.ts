/**
 * Storage battery class 0x027D (APPENDIX Detailed Requirements for ECHONET Device Objects,
 * Release R, §3.3.27 storage battery class). Power in W, energy in Wh or 0.001 kWh: both map
 * to erab's Watts / WattHours here. 0xD3 is positive while charging, negative while discharging.
 */
import { enumeration, milliKilowattHours, unsigned, unsignedPair, wattHours, wattsSigned, wattsUnsigned } from '../datatypes.js';
import { ClassCode } from '../eoj.js';
import { superclassProps } from './superclass.js';
import { appendixProp, defineClass, prop } from './types.js';

/** 0xDA operation mode setting and 0xCF working operation status codes. */
export const batteryOperationMode = enumeration({
  other: 0x40,
  rapidCharging: 0x41,
  charging: 0x42,
  discharging: 0x43,
  standby: 0x44,
  test: 0x45,
  automatic: 0x46,
  restart: 0x48,
  effectiveCapacityRecalculation: 0x49,
});
export type BatteryOperationMode = ReturnType<typeof batteryOperationMode.decode>;

export const systemInterconnection = enumeration({
  reversePowerFlowAcceptable: 0x00,
  independent: 0x01,
  reversePowerFlowNotAcceptable: 0x02,
});

export const StorageBattery = defineClass(ClassCode.storageBattery, 'storageBattery', '蓄電池', {
  ...superclassProps,
  faultDescription: appendixProp(ClassCode.storageBattery, 0x89, 'faultDescription'),
  currentTime: appendixProp(ClassCode.storageBattery, 0x97, 'currentTime'),
  currentDate: appendixProp(ClassCode.storageBattery, 0x98, 'currentDate'),
  acEffectiveCapacityCharging: prop(0xa0, 'acEffectiveCapacityCharging', 'AC実効容量（充電）', wattHours(), 'G'),
  acEffectiveCapacityDischarging: prop(0xa1, 'acEffectiveCapacityDischarging', 'AC実効容量（放電）', wattHours(), 'G'),
  acChargeableCapacity: appendixProp(ClassCode.storageBattery, 0xa2, 'acChargeableCapacity'),
  acDischargeableCapacity: appendixProp(ClassCode.storageBattery, 0xa3, 'acDischargeableCapacity'),
  acChargeableAmount: prop(0xa4, 'acChargeableAmount', 'AC充電可能量', wattHours(), 'G'),
  acDischargeableAmount: prop(0xa5, 'acDischargeableAmount', 'AC放電可能量', wattHours(), 'G'),
  acCumulativeCharging: prop(0xa8, 'acCumulativeCharging', 'AC積算充電電力量計測値', milliKilowattHours(), 'G'),
  acCumulativeDischarging: prop(0xa9, 'acCumulativeDischarging', 'AC積算放電電力量計測値', milliKilowattHours(), 'G'),
  acChargeAmountSetting: prop(0xaa, 'acChargeAmountSetting', 'AC充電量設定値', wattHours(), 'GS'),
  acDischargeAmountSetting: prop(0xab, 'acDischargeAmountSetting', 'AC放電量設定値', wattHours(), 'GS'),
  chargingMethod: appendixProp(ClassCode.storageBattery, 0xc1, 'chargingMethod'),
  dischargingMethod: appendixProp(ClassCode.storageBattery, 0xc2, 'dischargingMethod'),
  minMaxChargingPower: prop(0xc8, 'minMaxChargingPower', '最小最大充電電力値', unsignedPair({ min: 0, max: 999_999_999, unit: 'W' }), 'G'),
  minMaxDischargingPower: prop(0xc9, 'minMaxDischargingPower', '最小最大放電電力値', unsignedPair({ min: 0, max: 999_999_999, unit: 'W' }), 'G'),
  workingOperationStatus: prop(0xcf, 'workingOperationStatus', '運転動作状態', batteryOperationMode, 'GA', true),
  ratedEnergy: prop(0xd0, 'ratedEnergy', '定格電力量', wattHours(), 'G'),
  instantaneousChargeDischargePower: prop(0xd3, 'instantaneousChargeDischargePower', '瞬時充放電電力計測値', wattsSigned(999_999_999), 'G'),
  cumulativeDischarging: prop(0xd6, 'cumulativeDischarging', '積算放電電力量計測値', milliKilowattHours(), 'G'),
  cumulativeCharging: prop(0xd8, 'cumulativeCharging', '積算充電電力量計測値', milliKilowattHours(), 'G'),
  operationMode: prop(0xda, 'operationMode', '運転モード設定', batteryOperationMode, 'GSA', true),
  systemInterconnection: prop(0xdb, 'systemInterconnection', '系統連系状態', systemInterconnection, 'G'),
  remainingCapacityWh: prop(0xe2, 'remainingCapacityWh', '蓄電残量1', wattHours(), 'G'),
  remainingCapacityPercent: prop(0xe4, 'remainingCapacityPercent', '蓄電残量3', unsigned(1, { min: 0, max: 100, unit: '%' }), 'G', true),
  batteryType: appendixProp(ClassCode.storageBattery, 0xe6, 'batteryType'),
  chargingPowerSetting: prop(0xeb, 'chargingPowerSetting', '充電電力設定値', wattsUnsigned(4, 999_999_999), 'GS'),
  dischargingPowerSetting: prop(0xec, 'dischargingPowerSetting', '放電電力設定値', wattsUnsigned(4, 999_999_999), 'GS'),
});
