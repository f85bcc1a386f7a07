/**
 * The OpenADR edge of the aggregator's downstream side (R4 to gateways, R3 to resource
 * aggregators below us): turns the dispatch engine's GatewayInstruction (dispatch-types.ts) into
 * the oadrEvent the downstream VTN queues for the gateway. Pure functions; the only place where
 * the aggregator builds an oadrEvent. (The upstream edge, oadrEvent → DispatchPlan, is intake.ts.)
 *
 * The form (what erab gateways act on, src/roles/gateway/translate.ts):
 * - one LOAD_DISPATCH/setpoint signal per instructed device: signalID and eiTarget resourceID =
 *   the resource id, itemBase powerReal W, one interval per schedule interval (uid 0, 1, ...);
 * - one LOAD_DISPATCH/delta signal (signalID `delta`, no target) for a resource aggregator below us;
 * - one SIMPLE/level 0 signal (`<id>/release`, OpenADR 2.0b "normal operation") per released device;
 * - descriptor: eventID = the downstream event, modificationNumber, marketContext
 *   `urn:erab:aggregator:<id>`, priority from the origin (src/roles/common/event-priority.ts),
 *   eventStatus far/active/completed from the issue time (cancelled when withdrawn), testEvent;
 * - activePeriod with x-eiRampUp when the instruction has a ramp-up; target venID = the gateway;
 *   responseRequired always (a gateway's opt out is a shortfall the engine re-dispatches).
 */
import { millis } from '../../../core/units.js';
import type { EventSignal, OadrEvent } from '../../../protocols/openadr/event.js';
import type { ItemBase } from '../../../protocols/openadr/units.js';
import { ADMISSION_SIGNAL_NAME, admissionSignalValue, type AdmissionSignalDecision } from '../../common/admission-signal.js';
import { priorityOfOrigin } from '../../common/event-priority.js';
import type { NewEvent } from '../../../protocols/openadr/vtn.js';
import type { EpochMillis, Millis } from '../../../core/units.js';
import type { GatewayInstruction } from './dispatch-types.js';

/** The itemBase of every power signal we send: real power in W. */
const POWER_W: ItemBase = { kind: 'powerReal', itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'none', powerAttributes: { hertz: 50, voltage: 100, ac: true } };

/** The market context of our downstream events (the programme gateways are enrolled in). */
export function downstreamMarketContext(aggregatorId: string): string {
  return `urn:erab:aggregator:${aggregatorId}`;
}

/**
 * The oadrEvent for one gateway's copy of a downstream event.
 * @example
 *   const e = oadrEventOf({ aggregatorId: 'AGG1', venId: 'gw1', eventId: 'AGG1.tso_E1', modification: 0, issuedAt, start, end,
 *     intervals: [{ start, end }], rampUpMs: millis(60_000), origin: 'tso', testEvent: false, cancelled: false,
 *     orders: [{ kind: 'setpoint', resourceId: 'b1', setpointW: [-3000] }] });
 *   // e.signals[0]: LOAD_DISPATCH/setpoint, target resourceID b1, value −3000; e.descriptor.priority 1
 */
export function oadrEventOf(i: GatewayInstruction): OadrEvent {
  const valuesOf = (values: readonly number[]): EventSignal['intervals'] =>
    i.intervals.map((iv, k) => ({ duration: millis(iv.end - iv.start), uid: String(k), value: values[k]! }));
  const signals: EventSignal[] = i.orders.map((o): EventSignal => {
    switch (o.kind) {
      case 'setpoint':
        return { signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: o.resourceId, target: { resourceID: [o.resourceId] }, itemBase: POWER_W, intervals: valuesOf(o.setpointW) };
      case 'delta':
        // A resource aggregator below us gets the change itself, as our own upstream sends it.
        return { signalName: 'LOAD_DISPATCH', signalType: 'delta', signalID: 'delta', itemBase: POWER_W, intervals: valuesOf(o.deltaW) };
      case 'release':
        return { signalName: 'SIMPLE', signalType: 'level', signalID: `${o.resourceId}/release`, target: { resourceID: [o.resourceId] }, intervals: valuesOf(i.intervals.map(() => 0)) };
    }
  });
  // A cancelled event still needs one signal to be schema-valid (eiEventSignals ≥ 1): a zero-length placeholder.
  if (i.cancelled && signals.length === 0) {
    signals.push({ signalName: 'SIMPLE', signalType: 'level', signalID: 'cancelled', intervals: [{ duration: millis(i.end - i.start), uid: '0', value: 0 }] });
  }
  const priority = priorityOfOrigin(i.origin);
  const t = i.issuedAt;
  return {
    descriptor: {
      eventID: i.eventId,
      modificationNumber: i.modification,
      marketContext: downstreamMarketContext(i.aggregatorId),
      // Whose need it is, as the OpenADR priority (1 TSO, 2 retailer, 3 coordinator, 4 operator):
      // the gateway arbitrates overlapping events on one device by it (src/roles/gateway/arbitration.ts).
      ...(priority !== undefined ? { priority } : {}),
      createdDateTime: t,
      eventStatus: i.cancelled ? 'cancelled' : t < i.start ? 'far' : t < i.end ? 'active' : 'completed',
      ...(i.testEvent ? { testEvent: 'true' } : {}),
    },
    activePeriod: {
      dtstart: i.start, duration: millis(i.end - i.start),
      ...(i.rampUpMs > 0 ? { rampUp: i.rampUpMs } : {}),
    },
    signals,
    target: { venID: [i.venId] },
    responseRequired: 'always',
  };
}

/**
 * The event that carries an operator's admission decision for one device to its gateway
 * (src/roles/common/admission-signal.ts): one `x-ERAB_DEVICE_ADMISSION`/`level` signal targeting
 * the device, value = the revision to admit, 0 to reject, -1 to quarantine; `label` names the
 * operator's decision in the signalID (a release is an admission). The gateway decides on receipt; the
 * active period only bounds how long the VTN offers it to a gateway that has not polled yet.
 * @example
 *   admissionEventOf({ aggregatorId: 'AGG1', venId: 'GW2', eventId: 'admission-1', deviceId: '027D01-ab12cd34ef', decision: { admit: 3 }, issuedAt, validForMs })
 *   // signals[0]: x-ERAB_DEVICE_ADMISSION/level, target resourceID 027D01-ab12cd34ef, value 3
 */
export function admissionEventOf(a: {
  aggregatorId: string; venId: string; eventId: string; deviceId: string;
  decision: AdmissionSignalDecision; label?: string | undefined; issuedAt: EpochMillis; validForMs: Millis;
}): NewEvent & { eventID: string; venIDs: string[] } {
  const value = admissionSignalValue(a.decision);
  return {
    eventID: a.eventId,
    marketContext: downstreamMarketContext(a.aggregatorId),
    activePeriod: { dtstart: a.issuedAt, duration: a.validForMs },
    signals: [{
      signalName: ADMISSION_SIGNAL_NAME, signalType: 'level', signalID: a.label ?? (typeof a.decision === 'string' ? a.decision : 'admit'),
      target: { resourceID: [a.deviceId] }, intervals: [{ duration: a.validForMs, uid: '0', value }],
    }],
    target: { venID: [a.venId] },
    venIDs: [a.venId],
    responseRequired: 'always',
  };
}
