/**
 * The aggregator's dispatch in its own terms, without any protocol shape: what an upstream party
 * asks for (DispatchPlan, built from an oadrEvent by intake.ts) and what the dispatch engine
 * tells each gateway (GatewayInstruction, turned into an oadrEvent by oadr-adapter.ts for the
 * downstream VTN). The engine (engine.ts) reads and writes only these types; the OpenADR
 * vocabulary (signals, eiTarget, eventStatus, priority numbers) lives at the two edges.
 */
import type { EpochMillis, Millis } from '../../../core/units.js';
import type { EventOrigin } from '../../common/event-priority.js';
import type { AllocationInterval, DispatchDirection } from '../allocation/types.js';

/** A validated upstream event, ready for allocation. */
export interface DispatchPlan {
  /** `<party>/<eventID>`: unique across parties. */
  key: string;
  party: string;
  /**
   * Whose need this is (the party's kind, or the operator): sent to the gateways as the
   * OpenADR event priority, by which they arbitrate overlapping events on one device
   * (src/roles/common/event-priority.ts).
   */
  origin?: EventOrigin | undefined;
  eventId: string;
  modificationNumber: number;
  marketContext: string;
  direction: DispatchDirection;
  /** Magnitudes in `direction`, W, consecutive. */
  intervals: AllocationInterval[];
  start: EpochMillis;
  end: EpochMillis;
  responseRequired: boolean;
  testEvent: boolean;
}

/** A refusal: the code and reason to answer with, always with optOut. */
export interface Refusal {
  code: number;
  reason: string;
}

/**
 * What one resource of a gateway is told to do in an event, one value per interval of the
 * instruction's schedule:
 * - `setpoint`: the net power the device holds, W, consumption-positive (pre-event measured
 *   power − instructed reduction, or + instructed increase); the gateway commands the device.
 * - `delta`: for a resource aggregator below us (one resource standing for its whole fleet):
 *   the change of its net consumption, W, negative = reduce, as our own upstream sends it.
 * - `release`: the resource has no share any more (non-responding, or its share moved): it
 *   returns to its owner's mode instead of keeping the event's last command.
 */
export type ResourceOrder =
  | { kind: 'setpoint'; resourceId: string; setpointW: readonly number[] }
  | { kind: 'delta'; resourceId: string; deltaW: readonly number[] }
  | { kind: 'release'; resourceId: string };

/** One interval of an instruction's schedule, [start, end). */
export interface ScheduleInterval {
  start: EpochMillis;
  end: EpochMillis;
}

/**
 * The engine's decision for one gateway in one event: its copy of the downstream event. A change
 * of any order is a new `modification` of the same `eventId`; a gateway left with nothing to do
 * gets the copy `cancelled` (it releases every device of the event).
 */
export interface GatewayInstruction {
  /** The aggregator issuing it (its programme downstream). */
  aggregatorId: string;
  /** The gateway (its venID at our downstream VTN). */
  venId: string;
  /** The downstream event: one per aggregator and upstream event (downstreamEventId). */
  eventId: string;
  /** Grows with every change of the event's instructions (0 for the first). */
  modification: number;
  /** When the engine decided it (the copy's creation time; the event's phase is judged from it). */
  issuedAt: EpochMillis;
  start: EpochMillis;
  end: EpochMillis;
  /** Consecutive intervals from `start` to `end`; every setpoint/delta order has one value per interval. */
  intervals: readonly ScheduleInterval[];
  /** How long before `start` devices begin to move so the level holds from the start; 0 = none. */
  rampUpMs: Millis;
  /** Whose need it is; gateways arbitrate overlapping events on one device by it. Unknown = lowest. */
  origin?: EventOrigin | undefined;
  testEvent: boolean;
  /** The copy is withdrawn: the gateway releases every device of this event. */
  cancelled: boolean;
  /** Per resource of this gateway, in the engine's order (setpoints and deltas first, then releases). */
  orders: readonly ResourceOrder[];
}

/** Whether an instruction still asks the gateway to do something (a setpoint or delta order). */
export function hasWork(i: GatewayInstruction): boolean {
  return i.orders.some((o) => o.kind !== 'release');
}
