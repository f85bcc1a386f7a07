/**
 * Target vs delivered time series per event: what the closed loop saw at each tick, kept in
 * memory (bounded) for the operator's live view and the demo, and as the source of the
 * delivered-power reports sent upstream.
 */

/** One closed-loop observation. All powers are magnitudes in the event's direction, W. */
export interface SeriesSample {
  /** Instant of the observation, epoch ms. */
  t: number;
  /** What the upstream party asked for at `t`. */
  targetW: number;
  /** Σ over participating resources of (baseline − actual) for reduce, (actual − baseline) for increase; null when no telemetry yet. */
  deliveredW: number | null;
  /** Σ of the instructions in force at `t`. */
  instructedW: number;
  /** Resources with a non-zero instruction at `t`. */
  instructedResources: number;
  /** Resources marked non-responding so far. */
  nonResponding: number;
}

/** Bounds so a long-running aggregator cannot grow without limit. */
export interface SeriesLimits {
  /** Samples kept per event (oldest dropped). */
  maxSamples: number;
  /** Events kept (least recently created dropped). */
  maxEvents: number;
}

export const DEFAULT_SERIES_LIMITS: SeriesLimits = { maxSamples: 10_000, maxEvents: 200 };

/**
 * Keeps a bounded series per event id.
 * @example
 *   const s = new SeriesBook();
 *   s.record('tso-1/evt-1', { t, targetW: 60_000, deliveredW: 58_900, instructedW: 60_000, instructedResources: 20, nonResponding: 0 });
 *   s.get('tso-1/evt-1') // [{ t, targetW: 60000, ... }]
 */
export class SeriesBook {
  private readonly series = new Map<string, SeriesSample[]>();

  constructor(private readonly limits: SeriesLimits = DEFAULT_SERIES_LIMITS) {}

  /** Appends a sample; samples must come in time order (an older one is refused silently as a no-op). */
  record(eventKey: string, sample: SeriesSample): void {
    let s = this.series.get(eventKey);
    if (!s) {
      s = [];
      this.series.set(eventKey, s);
      while (this.series.size > this.limits.maxEvents) {
        const oldest = this.series.keys().next().value as string;
        this.series.delete(oldest);
      }
    }
    const last = s[s.length - 1];
    if (last && sample.t < last.t) return;
    s.push({ ...sample });
    if (s.length > this.limits.maxSamples) s.splice(0, s.length - this.limits.maxSamples);
  }

  /** A copy of the series of one event (empty when unknown). */
  get(eventKey: string): SeriesSample[] {
    return (this.series.get(eventKey) ?? []).map((x) => ({ ...x }));
  }

  /** The most recent sample of an event. */
  latest(eventKey: string): SeriesSample | undefined {
    const s = this.series.get(eventKey);
    const last = s?.[s.length - 1];
    return last ? { ...last } : undefined;
  }

  /**
   * Mean delivered power over [from, to) from the samples (each sample holds until the next),
   * or undefined when no sample with telemetry falls in the window. Used for interval reports.
   */
  meanDelivered(eventKey: string, from: number, to: number): number | undefined {
    const s = this.series.get(eventKey);
    if (!s || to <= from) return undefined;
    let weighted = 0;
    let covered = 0;
    for (let i = 0; i < s.length; i++) {
      const a = s[i]!;
      if (a.deliveredW === null) continue;
      const start = Math.max(a.t, from);
      const end = Math.min(s[i + 1]?.t ?? to, to);
      if (end <= start) continue;
      weighted += a.deliveredW * (end - start);
      covered += end - start;
    }
    return covered > 0 ? weighted / covered : undefined;
  }

  keys(): string[] {
    return [...this.series.keys()];
  }
}
