/**
 * Electric vehicle charger/discharger class 0x027E (V2H) and EV charger class 0x02A1
 * (APPENDIX Detailed Requirements for ECHONET Device Objects, Release R, §3.3.28 and §3.3.30).
 * 0xD3 is positive while charging the vehicle, negative while discharging it to the house.
 */
import { enumeration, milliKilowattHours, unsigned, wattHours, wattsSigned, wattsUnsigned } from '../datatypes.js';
import { ClassCode } from '../eoj.js';
import { superclassProps } from './superclass.js';
import { appendixProp, defineClass, prop } from './types.js';

/** 0xC7 vehicle connection and chargeable/dischargeable status. */
export const vehicleConnection = enumeration({
  notConnected: 0x30,
  connected: 0x40,
  connectedChargeable: 0x41,
  connectedDischargeable: 0x42,
  connectedChargeableDischargeable: 0x43,
  undefined: 0xff,
});
export type VehicleConnection = ReturnType<typeof vehicleConnection.decode>;

/** 0xDA operation mode setting of the charger/discharger. */
export const evOperationMode = enumeration({ other: 0x40, charging: 0x42, discharging: 0x43, standby: 0x44, idle: 0x47 });
export type EvOperationMode = ReturnType<typeof evOperationMode.decode>;
/** 0xDA of the charge-only class has no discharging. */
export const evChargerOperationMode = enumeration({ other: 0x40, charging: 0x42, standby: 0x44, idle: 0x47 });

const percent = unsigned(1, { min: 0, max: 100, unit: '%' });

export const EvChargerDischarger = defineClass(ClassCode.evChargerDischarger, 'evChargerDischarger', '電気自動車充放電器', {
  ...superclassProps,
  faultDescription: appendixProp(ClassCode.evChargerDischarger, 0x89, 'faultDescription'),
  vehicleDischargeableCapacity: prop(0xc0, 'vehicleDischargeableCapacity', '車載電池の放電可能容量値1', wattHours(), 'G'),
  vehicleRemainingDischargeable: prop(0xc2, 'vehicleRemainingDischargeable', '車載電池の放電可能残容量1', wattHours(), 'G'),
  ratedChargePower: prop(0xc5, 'ratedChargePower', '定格充電能力', wattsUnsigned(4, 999_999_999), 'G'),
  ratedDischargePower: prop(0xc6, 'ratedDischargePower', '定格放電能力', wattsUnsigned(4, 999_999_999), 'G'),
  vehicleRemainingDischargeablePercent: appendixProp(ClassCode.evChargerDischarger, 0xc4, 'vehicleRemainingDischargeablePercent'),
  minMaxChargingPower: appendixProp(ClassCode.evChargerDischarger, 0xc8, 'minMaxChargingPower'),
  minMaxDischargingPower: appendixProp(ClassCode.evChargerDischarger, 0xc9, 'minMaxDischargingPower'),
  minMaxChargingCurrent: appendixProp(ClassCode.evChargerDischarger, 0xca, 'minMaxChargingCurrent'),
  minMaxDischargingCurrent: appendixProp(ClassCode.evChargerDischarger, 0xcb, 'minMaxDischargingCurrent'),
  chargerType: appendixProp(ClassCode.evChargerDischarger, 0xcc, 'chargerType'),
  vehicleConnectionConfirmation: appendixProp(ClassCode.evChargerDischarger, 0xcd, 'vehicleConnectionConfirmation'),
  vehicleChargeableCapacity: appendixProp(ClassCode.evChargerDischarger, 0xce, 'vehicleChargeableCapacity'),
  vehicleRemainingChargeable: appendixProp(ClassCode.evChargerDischarger, 0xcf, 'vehicleRemainingChargeable'),
  vehicleConnection: prop(0xc7, 'vehicleConnection', '車両接続・充放電可否状態', vehicleConnection, 'GA', true),
  vehicleBatteryCapacity: prop(0xd0, 'vehicleBatteryCapacity', '車載電池の使用容量値1', wattHours(), 'G'),
  instantaneousChargeDischargePower: prop(0xd3, 'instantaneousChargeDischargePower', '瞬時充放電電力計測値', wattsSigned(999_999_999), 'G'),
  cumulativeDischarging: prop(0xd6, 'cumulativeDischarging', '積算放電電力量計測値', milliKilowattHours(), 'G'),
  cumulativeCharging: prop(0xd8, 'cumulativeCharging', '積算充電電力量計測値', milliKilowattHours(), 'G'),
  operationMode: prop(0xda, 'operationMode', '運転モード設定', evOperationMode, 'GSA', true),
  chargingMethod: appendixProp(ClassCode.evChargerDischarger, 0xdc, 'chargingMethod'),
  dischargingMethod: appendixProp(ClassCode.evChargerDischarger, 0xdd, 'dischargingMethod'),
  /** What the unit is actually doing (Release R): follows 0xDA, but standby while no vehicle can take or give energy. */
  actualOperationMode: prop(0xe1, 'actualOperationMode', '運転動作状態', evOperationMode, 'GA', true),
  maintenanceStatus: appendixProp(ClassCode.evChargerDischarger, 0xe5, 'maintenanceStatus'),
  vehicleRemainingWh: prop(0xe2, 'vehicleRemainingWh', '車載電池の電池残容量1', wattHours(), 'G'),
  vehicleRemainingPercent: prop(0xe4, 'vehicleRemainingPercent', '車載電池の電池残容量3', percent, 'G'),
  vehicleId: appendixProp(ClassCode.evChargerDischarger, 0xe6, 'vehicleId'),
  chargingPowerSetting: prop(0xeb, 'chargingPowerSetting', '充電電力設定値', wattsUnsigned(4, 999_999_999), 'GS'),
  dischargingPowerSetting: prop(0xec, 'dischargingPowerSetting', '放電電力設定値', wattsUnsigned(4, 999_999_999), 'GS'),
});

export const EvCharger = defineClass(ClassCode.evCharger, 'evCharger', '電気自動車充電器', {
  ...superclassProps,
  ratedChargePower: prop(0xc5, 'ratedChargePower', '定格充電能力', wattsUnsigned(4, 999_999_999), 'G'),
  chargerType: appendixProp(ClassCode.evCharger, 0xcc, 'chargerType'),
  vehicleConnectionConfirmation: appendixProp(ClassCode.evCharger, 0xcd, 'vehicleConnectionConfirmation'),
  vehicleChargeableCapacity: appendixProp(ClassCode.evCharger, 0xce, 'vehicleChargeableCapacity'),
  vehicleRemainingChargeable: appendixProp(ClassCode.evCharger, 0xcf, 'vehicleRemainingChargeable'),
  vehicleConnection: prop(0xc7, 'vehicleConnection', '車両接続・充電可否状態', vehicleConnection, 'GA', true),
  vehicleBatteryCapacity: prop(0xd0, 'vehicleBatteryCapacity', '車載電池の使用容量値1', wattHours(), 'G'),
  operationMode: prop(0xda, 'operationMode', '運転モード設定', evChargerOperationMode, 'GSA', true),
  vehicleRemainingWh: prop(0xe2, 'vehicleRemainingWh', '車載電池の電池残容量1', wattHours(), 'G'),
  vehicleRemainingPercent: prop(0xe4, 'vehicleRemainingPercent', '車載電池の電池残容量3', percent, 'G'),
  vehicleId: appendixProp(ClassCode.evCharger, 0xe6, 'vehicleId'),
  chargingPowerSetting: prop(0xeb, 'chargingPowerSetting', '充電電力設定値', wattsUnsigned(4, 999_999_999), 'GS'),
});
