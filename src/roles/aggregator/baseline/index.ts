/** Negawatt baselines per コマ: public API. */
/** JST and コマ time, from core (kept here because the baseline API always exported them). */
export * from '../../../core/jst.js';
export { high4of5, dayTypeOf, DEFAULT_ADJUSTMENT_WINDOW } from './high-4-of-5.js';
export type { KomaSeries, DayType, AdjustmentWindow, High4of5Input, High4of5Baseline, High4of5Failure, ExclusionReason } from './high-4-of-5.js';
export { deviceBaseline, deviceKomaEnergyWh, deviceBaselineKomaWh } from './device.js';
export type { PowerReading, DeviceBaselineOptions, DeviceBaseline } from './device.js';
