/**
 * Device role: ECHONET Lite device simulators with simple physics, a site (one node per home)
 * and a multi-site runner. Used by `erab device site|sites` and by other roles' end-to-end tests.
 */
export { DeviceSite, SiteConfigSchema, parseSiteConfig, type SiteConfig, type SiteConfigInput, type SiteRuntimeOptions } from './site.js';
export { startSites, nthAddress, type SitesOptions } from './sites.js';
export { BatterySimulator, type BatteryConfig } from './battery.js';
export { PvSimulator, type PvConfig } from './pv.js';
export { EvSimulator, type EvConfig } from './ev.js';
export { WaterHeaterSimulator, type WaterHeaterConfig } from './water-heater.js';
export { AirconSimulator, type AirconConfig } from './aircon.js';
export { SmartMeterSimulator, type MeterConfig } from './smart-meter.js';
export { LightingSimulator, type LightingConfig } from './lighting.js';
export { FuelCellSimulator, type FuelCellConfig } from './fuel-cell.js';
export { SimulationTime, seededRandom, jstHour } from './sim-time.js';
export { clearSkyFraction, baseLoadWatts, outdoorTemperature } from './profiles.js';
export type { DeviceIdentity, DeviceKind, DeviceSimulator, StepContext } from './simulator.js';
