/** Closed-loop delivery (pure step): shortfall, non-responding resources, re-dispatch. */
export { closedLoopStep, DEFAULT_CLOSED_LOOP } from './redispatch.js';
export type { ClosedLoopConfig, ClosedLoopInput, ClosedLoopStep, DeliveryReading, ResponseTracking } from './redispatch.js';
