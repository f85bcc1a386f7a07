/**
 * Event lifecycle (OpenADR 2.0b Profile Specification §8.1.1 "Event states"): far → near →
 * active → completed, or cancelled at any point; each change of the event's content increments
 * its modification number. Randomisation: a VEN starts at a random offset within the active
 * period's tolerance "startafter" window.
 */
import type { EpochMillis, Millis } from '../../core/units.js';
import type { EventStatus, OadrEvent } from './event.js';

/**
 * The status of an event at `now`. "near" starts at the notification duration before dtstart when
 * the event gives one, else `nearWindowMs`. A duration of 0 means open-ended (never completes).
 */
export function eventStatusAt(event: OadrEvent, now: number, cancelled: boolean, nearWindowMs: number): EventStatus {
  if (cancelled) return 'cancelled';
  const start = event.activePeriod.dtstart;
  const end = start + event.activePeriod.duration;
  if (event.activePeriod.duration > 0 && now >= end) return 'completed';
  if (now >= start) return 'active';
  const near = event.activePeriod.notification ?? nearWindowMs;
  return now >= start - near ? 'near' : 'far';
}

/** The end instant of an event, or undefined when open-ended. */
export const eventEnd = (event: OadrEvent): EpochMillis | undefined =>
  event.activePeriod.duration > 0 ? ((event.activePeriod.dtstart + event.activePeriod.duration) as EpochMillis) : undefined;

/**
 * When a VEN should start, given the randomisation window and a random number in [0, 1).
 * @example randomizedStart(ev, Math.random) // dtstart + U(0, startafter)
 */
export function randomizedStart(event: OadrEvent, random: () => number): EpochMillis {
  const window: Millis | undefined = event.activePeriod.startAfter;
  if (!window || window <= 0) return event.activePeriod.dtstart;
  return (event.activePeriod.dtstart + Math.floor(random() * window)) as EpochMillis;
}

/** The value of signal `signalIndex` at `now` (intervals laid end to end from dtstart), if inside the event. */
export function signalValueAt(event: OadrEvent, now: number, signalIndex = 0): number | undefined {
  const sig = event.signals[signalIndex];
  if (!sig) return undefined;
  let t = event.activePeriod.dtstart as number;
  for (const iv of sig.intervals) {
    const start = iv.dtstart ?? t;
    const end = start + (iv.duration ?? event.activePeriod.duration);
    if (now >= start && now < end) return iv.value;
    t = end;
  }
  return undefined;
}
