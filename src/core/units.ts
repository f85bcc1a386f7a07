/**
 * Branded unit types. Conversions from protocol units (OpenADR SI multipliers, ECHONET Lite
 * coefficients) happen at the protocol edge only; inside erab power is always W, energy Wh,
 * instants are UTC epoch milliseconds.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Active power in watts. Positive = consumption / charge unless a field says otherwise. */
export type Watts = Brand<number, 'W'>;
/** Energy in watt-hours. */
export type WattHours = Brand<number, 'Wh'>;
/** An instant as milliseconds since the Unix epoch (UTC). */
export type EpochMillis = Brand<number, 'epoch-ms'>;
/** A duration in milliseconds. */
export type Millis = Brand<number, 'ms'>;
/** A duration in seconds. */
export type Seconds = Brand<number, 's'>;
/** A ratio 0..100. */
export type Percent = Brand<number, '%'>;

export const watts = (n: number): Watts => n as Watts;
export const wattHours = (n: number): WattHours => n as WattHours;
export const epochMillis = (n: number): EpochMillis => n as EpochMillis;
export const millis = (n: number): Millis => n as Millis;
export const seconds = (n: number): Seconds => n as Seconds;
export const percent = (n: number): Percent => n as Percent;

export const kilowatts = (kw: number): Watts => (kw * 1000) as Watts;
export const toKilowatts = (w: Watts): number => w / 1000;

/** kWh to Wh. */
export const kilowattHours = (kwh: number): WattHours => (kwh * 1000) as WattHours;
/** Wh to kWh (for display and settlement files). */
export const toKilowattHours = (wh: WattHours): number => wh / 1000;

/**
 * Energy of a constant power held for a duration: W × h.
 * @example energyOver(watts(3000), millis(1_800_000)) // 1500 Wh (3 kW for one コマ)
 */
export function energyOver(power: Watts, duration: Millis): WattHours {
  return ((power * duration) / 3_600_000) as WattHours;
}

/**
 * The mean power that delivers `energy` over `duration`: Wh / h. A zero duration is refused
 * (there is no mean power over no time).
 * @example meanPower(wattHours(1500), millis(1_800_000)) // 3000 W
 */
export function meanPower(energy: WattHours, duration: Millis): Watts {
  if (!(duration > 0)) throw new RangeError(`mean power over ${duration} ms: the duration must be > 0`);
  return ((energy * 3_600_000) / duration) as Watts;
}
