/**
 * Intake of upstream events (R1 TSO, R2 retailer, R3 coordinator): the upstream OpenADR edge of
 * the aggregator. Turns one decoded oadrEvent into a dispatch plan (the domain type the engine
 * takes, dispatch-types.ts), or into the OpenADR answer that refuses it.
 *
 * What the aggregator accepts (documented for the parties configuring their VTN):
 * - signalName LOAD_DISPATCH, signalType `delta`, itemBase powerReal in W (any siScaleCode):
 *   the change of the aggregator's net consumption asked for, per interval. NEGATIVE = reduce
 *   (下げDR: discharge, shed), POSITIVE = increase (上げDR: charge, absorb). This is the plain
 *   meaning of a power delta in OpenADR 2.0b (EiEvent signal types, "delta: change in value").
 * - Intervals are consecutive from the active period's dtstart; their durations must add up to
 *   the active period's duration. A profile whose sign changes is not supported (one direction
 *   per event); an open-ended event (duration 0) cannot be allocated.
 *
 * Answers (OpenADR 2.0b Profile Specification §8.1 EiEvent, eventResponse responseCode + optType):
 * - 454 invalid data: no interval, durations that do not add up, a power in a unit that is not W
 * - 460 signal not supported: no LOAD_DISPATCH/delta signal
 * - 462 target mismatch: the event names VENs and not us
 * - 452 invalid id: a market context (program) we are not enrolled in for this party
 * - 450 out of sequence: a modification number lower than one already seen; an event whose
 *   window is already over
 * Every refusal is an optOut; the engine adds opt outs for impossible or overlapping events.
 */
import type { EventOrigin } from '../../common/event-priority.js';
import type { OadrEvent } from '../../../protocols/openadr/event.js';
import { epochMillis, watts } from '../../../core/units.js';
import type { AllocationInterval } from '../allocation/types.js';
import type { DispatchPlan, Refusal } from './dispatch-types.js';

/** The OpenADR response codes intake can answer with. */
export const INTAKE_CODES = { OK: 200, OUT_OF_SEQUENCE: 450, INVALID_ID: 452, INVALID_DATA: 454, SIGNAL_NOT_SUPPORTED: 460, TARGET_MISMATCH: 462 } as const;

// The domain types intake produces live with the engine's (no protocol shape in them).
export type { DispatchPlan, Refusal } from './dispatch-types.js';

export type PlanResult = { ok: true; plan: DispatchPlan } | { ok: false; refusal: Refusal };

/** Upper bound on intervals we take from one event (a day of 1-minute intervals). */
export const MAX_EVENT_INTERVALS = 1440;

const SCALE_EXP: Record<string, number> = { p: -12, n: -9, micro: -6, m: -3, c: -2, d: -1, none: 0, k: 3, M: 6, G: 9, T: 12 };

/** What intake needs to know about who we are at this party. */
export interface IntakeContext {
  party: string;
  /** The party's kind (tso, retailer, coordinator), carried into the plan as its origin. */
  origin?: EventOrigin | undefined;
  /** Our venID at this party (to check event targets). */
  venId: string;
  /** Market contexts we are enrolled in with this party; empty = any. */
  marketContexts: readonly string[];
  now: number;
}

/**
 * Validates one event and builds its plan (without looking at other events or the pool).
 * @example
 *   const r = planFromEvent(ev, { party: 'tso', venId: 'VEN-AGG1', marketContexts: [], now: Date.now() });
 *   if (!r.ok) answer(r.refusal.code, 'optOut', r.refusal.reason);
 */
export function planFromEvent(ev: OadrEvent, ctx: IntakeContext): PlanResult {
  const d = ev.descriptor;
  const refuse = (code: number, reason: string): PlanResult => ({ ok: false, refusal: { code, reason } });
  if (ctx.marketContexts.length > 0 && !ctx.marketContexts.includes(d.marketContext)) {
    return refuse(INTAKE_CODES.INVALID_ID, `market context ${d.marketContext.slice(0, 120)} is not a program we are enrolled in with ${ctx.party}`);
  }
  const venTargets = ev.target.venID;
  if (venTargets && venTargets.length > 0 && !venTargets.includes(ctx.venId)) {
    return refuse(INTAKE_CODES.TARGET_MISMATCH, `event targets VEN(s) ${venTargets.slice(0, 5).join(', ')}, not ${ctx.venId}`);
  }
  const signals = ev.signals.filter((s) => s.signalName === 'LOAD_DISPATCH' && s.signalType === 'delta');
  if (signals.length === 0) {
    const seen = ev.signals.map((s) => `${s.signalName}/${s.signalType}`).slice(0, 5).join(', ');
    return refuse(INTAKE_CODES.SIGNAL_NOT_SUPPORTED, `no LOAD_DISPATCH/delta signal (got ${seen}); the aggregator dispatches power deltas only`);
  }
  if (signals.length > 1) return refuse(INTAKE_CODES.INVALID_DATA, 'more than one LOAD_DISPATCH/delta signal: the requested change is ambiguous');
  const sig = signals[0]!;
  const item = sig.itemBase;
  if (!item || item.kind !== 'powerReal' || (item.itemUnits !== 'W' && item.itemUnits !== 'J/s')) {
    return refuse(INTAKE_CODES.INVALID_DATA, `LOAD_DISPATCH/delta must carry itemBase powerReal in W, got ${item ? `${item.kind} ${item.itemUnits}` : 'none'}`);
  }
  const factor = 10 ** (SCALE_EXP[item.siScaleCode ?? 'none'] ?? 0);
  const ap = ev.activePeriod;
  if (!(ap.duration > 0)) return refuse(INTAKE_CODES.INVALID_DATA, 'an open-ended event (duration 0) cannot be allocated: give the active period a duration');
  if (sig.intervals.length === 0) return refuse(INTAKE_CODES.INVALID_DATA, 'LOAD_DISPATCH/delta has no interval');
  if (sig.intervals.length > MAX_EVENT_INTERVALS) return refuse(INTAKE_CODES.INVALID_DATA, `${sig.intervals.length} intervals exceed the limit of ${MAX_EVENT_INTERVALS}`);

  const intervals: AllocationInterval[] = [];
  let t = ap.dtstart as number;
  let sign = 0;
  for (let k = 0; k < sig.intervals.length; k++) {
    const iv = sig.intervals[k]!;
    // A single interval without its own duration spans the whole active period (§8.1 examples).
    const dur = iv.duration ?? (sig.intervals.length === 1 ? ap.duration : undefined);
    if (dur === undefined || !(dur > 0)) return refuse(INTAKE_CODES.INVALID_DATA, `interval ${k} needs a duration > 0`);
    const w = iv.value * factor;
    if (!Number.isFinite(w)) return refuse(INTAKE_CODES.INVALID_DATA, `interval ${k} value is not a finite power`);
    const s = Math.sign(w);
    if (s !== 0 && sign !== 0 && s !== sign) {
      return refuse(INTAKE_CODES.INVALID_DATA, `interval ${k} changes direction; one event must either reduce or increase (split the profile into two events)`);
    }
    if (s !== 0) sign = s;
    intervals.push({ start: epochMillis(t), end: epochMillis(t + dur), targetW: watts(Math.abs(w)) });
    t += dur;
  }
  const end = ap.dtstart + ap.duration;
  if (t !== end) {
    return refuse(INTAKE_CODES.INVALID_DATA, `interval durations add up to ${(t - ap.dtstart) / 1000} s but the active period lasts ${ap.duration / 1000} s`);
  }
  if (end <= ctx.now) return refuse(INTAKE_CODES.OUT_OF_SEQUENCE, `event window ended at ${new Date(end).toISOString()}, before it was received`);
  return {
    ok: true,
    plan: {
      key: `${ctx.party}/${d.eventID}`,
      party: ctx.party,
      ...(ctx.origin !== undefined ? { origin: ctx.origin } : {}),
      eventId: d.eventID,
      modificationNumber: d.modificationNumber,
      marketContext: d.marketContext,
      direction: sign > 0 ? 'increase' : 'reduce',
      intervals,
      start: ap.dtstart,
      end: epochMillis(end),
      responseRequired: ev.responseRequired === 'always',
      testEvent: d.testEvent !== undefined && d.testEvent !== 'false',
    },
  };
}

