/**
 * Re-evaluation when the inventory changes: a gateway's upload (new firmware reported, a device
 * added) calls `changed()`; the sync + match runs once after `delayMs`, coalescing every change
 * that arrives meanwhile — a fleet of gateways re-registering after a restart costs one
 * evaluation, not one per gateway. A feed import re-evaluates directly (`erab vuln import`).
 */
import type { Kysely } from 'kysely';
import type { AuditSink } from '../../core/audit-port.js';
import { type Clock, type TimerHandle, systemClock } from '../../core/clock.js';
import { describeError } from '../../core/errors.js';
import type { PortfolioTables } from '../../roles/aggregator/portfolio/tables.js';
import { syncInventoryFromPortfolio } from '../inventory/sync.js';
import type { SecopsTables } from '../tables.js';
import { evaluateFindings, type EvaluateResult } from './findings.js';

export interface ReevaluatorOptions {
  clock?: Clock;
  audit?: AuditSink;
  /** Wait this long after a change before evaluating (default 30 s). */
  delayMs?: number;
  onResult?: (r: EvaluateResult) => void;
  onError?: (message: string) => void;
}

export class InventoryReevaluator {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly db: Kysely<SecopsTables & PortfolioTables>, private readonly opts: ReevaluatorOptions = {}) {}

  /** The inventory changed: evaluate once after the delay (several calls, one evaluation). */
  changed(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer ??= (this.opts.clock ?? systemClock).setTimeout(() => {
      this.timer = undefined;
      this.running = this.run().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.changed();
        }
      });
    }, this.opts.delayMs ?? 30_000);
  }

  private async run(): Promise<void> {
    try {
      const c = this.opts.clock ? { clock: this.opts.clock } : {};
      await syncInventoryFromPortfolio(this.db, { ...c, ...(this.opts.audit ? { audit: this.opts.audit } : {}) });
      // Evaluate first: `onResult?.(await evaluateFindings(...))` would skip the evaluation itself without a callback.
      const r = await evaluateFindings(this.db, { ...c, ...(this.opts.audit ? { audit: this.opts.audit } : {}) });
      this.opts.onResult?.(r);
    } catch (err) {
      this.opts.onError?.(`vulnerability re-evaluation failed: ${describeError(err)}`);
    }
  }

  /** Cancels a pending evaluation and waits for a running one. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
  }
}
