/**
 * Dispatch direction, defined once for every layer (TSO products, allocation, settlement, the
 * gateway's translation, the operator console).
 *
 * Directions are named after what happens to the resource's NET GRID CONSUMPTION:
 * - `reduce`   下げDR: less consumption than the baseline (battery discharging, a load shed, an
 *              EcoCute's boiling postponed);
 * - `increase` 上げDR: more consumption than the baseline (battery charging, a water heater
 *              boiling now, PV curtailed).
 * A quantity "in the direction" is a non-negative magnitude; the sign of the change of net
 * consumption is {@link directionSign}.
 */
import { InvalidInputError } from '../errors.js';

export const DISPATCH_DIRECTIONS = ['reduce', 'increase'] as const;
/** 下げDR (reduce net consumption) or 上げDR (increase net consumption). */
export type DispatchDirection = (typeof DISPATCH_DIRECTIONS)[number];

/** The names the Japanese market uses (需給調整市場, 小売DR). */
export const DIRECTION_LABEL_JA: Readonly<Record<DispatchDirection, string>> = { reduce: '下げDR', increase: '上げDR' };

/** True when `v` names a direction. */
export function isDispatchDirection(v: unknown): v is DispatchDirection {
  return v === 'reduce' || v === 'increase';
}

/**
 * The direction named by `text`, or an InvalidInputError naming the field and the values allowed.
 * @example parseDirection(req.direction, 'direction') // 'reduce'
 */
export function parseDirection(text: unknown, field = 'direction'): DispatchDirection {
  if (isDispatchDirection(text)) return text;
  throw new InvalidInputError(`${field}: "${String(text)}" must be reduce or increase`);
}

/** Sign of the change of net consumption: reduce −1, increase +1. */
export function directionSign(d: DispatchDirection): -1 | 1 {
  return d === 'reduce' ? -1 : 1;
}

/** The direction of a signed change of net consumption (> 0 increase, otherwise reduce). */
export function directionOfChange(deltaW: number): DispatchDirection {
  return deltaW > 0 ? 'increase' : 'reduce';
}

/**
 * What a resource delivered in direction `d`: how far its actual net consumption moved from its
 * baseline the requested way (negative when it moved the other way). Works for W or Wh alike.
 * @example delivered('reduce', 3000, 1000) // 2000
 */
export function delivered(d: DispatchDirection, baseline: number, actual: number): number {
  return d === 'reduce' ? baseline - actual : actual - baseline;
}

/**
 * The net consumption to aim at so that `magnitude` is delivered in direction `d` from `baseline`.
 * @example targetFrom('increase', 500, 2000) // 2500
 */
export function targetFrom(d: DispatchDirection, baseline: number, magnitude: number): number {
  return d === 'reduce' ? baseline - magnitude : baseline + magnitude;
}
