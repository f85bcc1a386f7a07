/**
 * Token buckets per key (source address or node), on an injected clock, with a bounded
 * number of keys so a spoofed-source flood cannot grow memory without limit.
 */
import type { Clock } from '../../core/clock.js';

export interface RateLimitOptions {
  /** Sustained rate in events per second. */
  perSecond: number;
  /** Burst size (default = perSecond). */
  burst?: number;
  /** Keys remembered at most (default 10,000); the oldest are forgotten first. */
  maxKeys?: number;
}

export class KeyedRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxKeys: number;

  constructor(private readonly clock: Clock, options: RateLimitOptions) {
    this.rate = options.perSecond;
    this.burst = options.burst ?? options.perSecond;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /** Takes one token for `key`; false when the key is over its rate. */
  take(key: string): boolean {
    const now = this.clock.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
