/** Dispatch allocation: public API. */
export { allocate, levelRequest, buildResult, DEFAULT_HEADROOM } from './allocate.js';
export { energyBudgetWh, preparePool, validateIntervals, MAX_CELLS, MAX_INTERVALS } from './prepare.js';
export type { PreparedPool } from './prepare.js';
export { fill, EPSILON_W } from './fill.js';
export type { FillProblem, FillResult } from './fill.js';
export { repairShortfall, MAX_REPAIR_CELLS, REPAIR_WORK_BUDGET } from './repair.js';
export type * from './types.js';
