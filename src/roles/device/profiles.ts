/**
 * Weather-free profiles for the simulators: clear-sky solar generation for a Japanese site and a
 * household base load with morning and evening peaks (values from docs/architecture.md §4: base load
 * 0.2–1 kW).
 */
import { jstDayOfYear, jstHour } from './sim-time.js';

const DEG = Math.PI / 180;

/**
 * Sine of the solar elevation at instant `t` for latitude `latDeg` (default 35°N, Tokyo-ish),
 * with solar time taken as JST (the 135°E meridian), declination by Cooper's formula.
 */
export function solarElevationSine(t: number, latDeg = 35): number {
  const n = jstDayOfYear(t);
  const decl = 23.44 * DEG * Math.sin((2 * Math.PI * (284 + n)) / 365);
  const hourAngle = (jstHour(t) - 12) * 15 * DEG;
  const lat = latDeg * DEG;
  return Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(hourAngle);
}

/**
 * Clear-sky AC output as a fraction of the rated output (0–~0.85): irradiance grows with the
 * elevation (air mass), and system losses (inverter, temperature, soiling) cap it near 85 %.
 */
export function clearSkyFraction(t: number, latDeg = 35): number {
  const s = solarElevationSine(t, latDeg);
  if (s <= 0) return 0;
  return 0.85 * Math.pow(s, 1.15);
}

/**
 * Household base load in W at instant `t`: a night floor, a morning peak around 07:00 and a
 * larger evening peak around 19:30 (JST), scaled between `minW` and `maxW`.
 */
export function baseLoadWatts(t: number, minW = 250, maxW = 900): number {
  const h = jstHour(t);
  const bump = (center: number, width: number): number => Math.exp(-((h - center) ** 2) / (2 * width * width));
  const shape = Math.min(1, 0.15 + 0.55 * bump(7, 1.2) + 0.85 * bump(19.5, 2) + 0.2 * bump(12.5, 1.5));
  return minW + (maxW - minW) * shape;
}

/** Outdoor temperature °C: daily sinusoid peaking at 14:00, around a seasonal mean. */
export function outdoorTemperature(t: number): number {
  const n = jstDayOfYear(t);
  const seasonal = 16 + 11 * Math.sin((2 * Math.PI * (n - 110)) / 365); // ~5 °C in Jan, ~27 °C in Aug
  return seasonal + 4 * Math.cos(((jstHour(t) - 14) / 24) * 2 * Math.PI);
}
