/**
 * Security events of the ECHONET Lite stack: every refused or malformed datagram is counted,
 * and reported to the audit log at a bounded rate so a flood cannot turn into a log flood.
 *
 * Layering: protocols must not depend on security/ code, only on the *type* of its sink
 * (AuditSink); the caller passes the real audit log in.
 */
import type { AuditSink } from '../../core/audit-port.js';
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';

/** Why a datagram or request was refused. */
export type RefusalKind =
  | 'malformed_frame'
  | 'rate_limited'
  | 'unknown_object'
  | 'unknown_property'
  | 'not_settable'
  | 'value_out_of_range'
  | 'empty_request'
  | 'unexpected_service'
  | 'unmatched_response'
  | 'handler_error';

export interface SecurityEventOptions {
  sink?: AuditSink | undefined;
  clock?: Clock;
  /** Component name used as the actor id, e.g. "echonet-node 127.0.0.2". */
  component: string;
  /** Records written per window at most (default 20); the rest are counted and summarised. */
  maxPerWindow?: number;
  /** Window length in ms (default 10 s). */
  windowMs?: number;
}

/** Counts every refusal and writes at most `maxPerWindow` audit records per window. */
export class SecurityEventReporter {
  /** Totals per kind since start. */
  readonly counts = new Map<RefusalKind, number>();
  private readonly sink: AuditSink | undefined;
  private readonly clock: Clock;
  private readonly component: string;
  private readonly maxPerWindow: number;
  private readonly windowMs: number;
  private windowStart = -Infinity;
  private written = 0;
  private suppressed = 0;

  constructor(options: SecurityEventOptions) {
    this.sink = options.sink;
    this.clock = options.clock ?? systemClock;
    this.component = options.component;
    this.maxPerWindow = options.maxPerWindow ?? 20;
    this.windowMs = options.windowMs ?? 10_000;
  }

  /** Total refusals of all kinds. */
  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /** Records one refusal from `address` (never throws). */
  report(kind: RefusalKind, address: string, reason: string, details?: Record<string, unknown>): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    if (!this.sink) return;
    const now = this.clock.now();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.write({ kind: 'rate_limited', address: '*', reason: `${this.suppressed} further ECHONET Lite refusals not logged individually in the last window`, details: { suppressed: this.suppressed } });
      this.windowStart = now;
      this.written = 0;
      this.suppressed = 0;
    }
    if (this.written >= this.maxPerWindow) {
      this.suppressed++;
      return;
    }
    this.written++;
    this.write({ kind, address, reason, details });
  }

  private write(e: { kind: RefusalKind; address: string; reason: string; details?: Record<string, unknown> | undefined }): void {
    try {
      this.sink?.append({
        actor: { kind: 'peer', id: e.address, address: e.address },
        action: `echonet.${e.kind}`,
        target: this.component,
        outcome: 'refused',
        reason: e.reason,
        details: e.details,
      });
    } catch {
      // An audit sink failure must not stop the node; the count above is kept regardless.
    }
  }
}
