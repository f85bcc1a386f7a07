/**
 * The OpenADR signal that carries an operator's device admission decision from the aggregator
 * to a gateway (R4): signal `x-ERAB_DEVICE_ADMISSION` / `level`, eiTarget resourceID = the
 * device, one interval whose value is the record's revision to admit, 0 = reject. The
 * aggregator sends it (runtime/admission.ts); the gateway applies it (gateway/admission.ts).
 * OpenADR 2.0b allows private signal names with the `x-` prefix (§8.2 signalName).
 */

/** The signal name of an admission decision (see header). */
export const ADMISSION_SIGNAL_NAME = 'x-ERAB_DEVICE_ADMISSION';

/** The states of a device's admission at its gateway, as the gateway's inventory reports them. */
export const ADMISSION_STATES = ['admitted', 'pending', 'quarantined', 'rejected'] as const;
export type AdmissionStateName = (typeof ADMISSION_STATES)[number];

/** The value of the signal's interval that rejects the device (a revision to admit is ≥ 1). */
export const ADMISSION_REJECT_VALUE = 0;
