/**
 * OpenADR 2.0b response codes (OpenADR 2.0b Profile Specification §8.6 / Table "Response codes")
 * and the error that carries one. A peer's bad input becomes an OadrError; the service answers
 * with the code in ei:eiResponse (never as an HTTP status), so the connection stays healthy.
 */
import { InvalidInputError } from '../../core/errors.js';

/** Response codes used by erab. 200 is success; the 4xx family is the spec's requester-error set. */
export const OadrResponseCode = {
  OK: 200,
  /** Out of sequence: e.g. a stale modification number, a request before registration. */
  OUT_OF_SEQUENCE: 450,
  /** Not allowed: the request is understood but not permitted in this state. */
  NOT_ALLOWED: 451,
  /** Invalid ID: unknown event, report request, opt or registration id. */
  INVALID_ID: 452,
  /** Not recognized: unknown payload or service. */
  NOT_RECOGNIZED: 453,
  /** Invalid data: malformed XML, bad value format, hostile input. */
  INVALID_DATA: 454,
  /** Compliance error: not valid against the schema (wrong namespace, missing mandatory element). */
  COMPLIANCE: 459,
  /** Signal not supported. */
  SIGNAL_NOT_SUPPORTED: 460,
  /** Report not supported. */
  REPORT_NOT_SUPPORTED: 461,
  /** Target mismatch. */
  TARGET_MISMATCH: 462,
  /** Not registered or not authorised (e.g. venID not bound to the presenting certificate). */
  NOT_REGISTERED_OR_AUTHORIZED: 463,
  /** Deployment-specific or other error. */
  OTHER: 469,
} as const;
export type OadrResponseCodeValue = (typeof OadrResponseCode)[keyof typeof OadrResponseCode];

/** Bad input from an OpenADR peer, carrying the response code the service must answer with. */
export class OadrError extends InvalidInputError {
  readonly responseCode: number;
  constructor(responseCode: number, message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: `openadr_${responseCode}` });
    this.responseCode = responseCode;
  }
}

/** Shorthand constructors so codec code reads like the rule it enforces. */
export const invalidData = (msg: string): OadrError => new OadrError(OadrResponseCode.INVALID_DATA, msg);
export const compliance = (msg: string): OadrError => new OadrError(OadrResponseCode.COMPLIANCE, msg);
