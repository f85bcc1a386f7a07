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
