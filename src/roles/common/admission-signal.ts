/**
 * The OpenADR signal that carries an operator's device admission decision from the aggregator
 * to a gateway (R4): signal `x-ERAB_DEVICE_ADMISSION` / `level`, eiTarget resourceID = the
 * device, one interval whose value is the decision:
 *
 *   value ≥ 1   admit the device at this revision of its record (the revision the operator saw);
 *               a quarantined device admitted again this way is "released"
 *   value 0     reject: never controlled, not "new" again
 *   value -1    quarantine: the device goes back to its owner's mode first, then is never
 *               commanded until an admission names its new revision (a release)
 *
 * Any other value is refused by the gateway (an older gateway, which knows only admit and reject,
 * refuses -1 as not a non-negative integer, so a quarantine is never taken for an admission).
 * The aggregator sends it (runtime/device-admission.ts); the gateway applies it (gateway/gateway.ts).
 * OpenADR 2.0b allows private signal names with the `x-` prefix (§8.2 signalName).
 */

/** The signal name of an admission decision (see header). */
export const ADMISSION_SIGNAL_NAME = 'x-ERAB_DEVICE_ADMISSION';

/** The states of a device's admission at its gateway, as the gateway's inventory reports them. */
export const ADMISSION_STATES = ['admitted', 'pending', 'quarantined', 'rejected'] as const;
export type AdmissionStateName = (typeof ADMISSION_STATES)[number];

/** The value of the signal's interval that rejects the device (a revision to admit is ≥ 1). */
export const ADMISSION_REJECT_VALUE = 0;
/** The value of the signal's interval that quarantines the device (see header). */
export const ADMISSION_QUARANTINE_VALUE = -1;

/** A decision as the signal carries it. */
export type AdmissionSignalDecision = { admit: number } | 'reject' | 'quarantine';

/**
 * The interval value of a decision.
 * @example admissionSignalValue({ admit: 3 }) // 3; admissionSignalValue('quarantine') // -1
 */
export function admissionSignalValue(d: AdmissionSignalDecision): number {
  if (d === 'reject') return ADMISSION_REJECT_VALUE;
  if (d === 'quarantine') return ADMISSION_QUARANTINE_VALUE;
  return d.admit;
}

/**
 * The decision an interval value carries, or undefined when it carries none (not an integer,
 * below -1): the gateway refuses such a signal.
 * @example admissionSignalDecision(0) // 'reject'
 */
export function admissionSignalDecision(value: number | undefined): AdmissionSignalDecision | undefined {
  if (value === undefined || !Number.isInteger(value)) return undefined;
  if (value === ADMISSION_QUARANTINE_VALUE) return 'quarantine';
  if (value === ADMISSION_REJECT_VALUE) return 'reject';
  return value >= 1 ? { admit: value } : undefined;
}
