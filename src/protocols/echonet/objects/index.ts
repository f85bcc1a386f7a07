/** All typed device object classes erab knows, and a lookup by class code. */
import type { EojClass } from '../eoj.js';
import { AirConditioner } from './air-conditioner.js';
import { HemsController } from './controller.js';
import { ElectricWaterHeater } from './electric-water-heater.js';
import { EvCharger, EvChargerDischarger } from './ev-charger-discharger.js';
import { HouseholdSolarPower } from './household-solar-power.js';
import { NodeProfile } from './node-profile.js';
import { LowVoltageSmartMeter } from './smart-meter.js';
import { StorageBattery } from './storage-battery.js';
import { GeneralLighting } from './general-lighting.js';
import { FuelCell } from './fuel-cell.js';
import { MultiInputPcs } from './multi-input-pcs.js';
import type { ClassDef } from './types.js';

export * from './types.js';
export * from './appendix.js';
export * from './superclass.js';
export * from './node-profile.js';
export * from './storage-battery.js';
export * from './household-solar-power.js';
export * from './ev-charger-discharger.js';
export * from './electric-water-heater.js';
export * from './smart-meter.js';
export * from './air-conditioner.js';
export * from './controller.js';
export * from './general-lighting.js';
export * from './fuel-cell.js';
export * from './multi-input-pcs.js';

export const KNOWN_CLASSES: readonly ClassDef[] = [
  NodeProfile, StorageBattery, HouseholdSolarPower, EvChargerDischarger, EvCharger,
  ElectricWaterHeater, LowVoltageSmartMeter, AirConditioner, GeneralLighting, FuelCell, MultiInputPcs, HemsController,
];

const BY_CODE = new Map<EojClass, ClassDef>(KNOWN_CLASSES.map((c) => [c.classCode, c]));

/** The class definition for a class code, or undefined for a class erab does not model. */
export function classDefinition(classCode: EojClass): ClassDef | undefined {
  return BY_CODE.get(classCode);
}
