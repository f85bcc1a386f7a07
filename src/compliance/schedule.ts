/**
 * Runs the assessment on a schedule (the on-demand path is `ComplianceService.run`): once at start,
 * then every `intervalMs` on the injected clock. A run never overlaps the previous one; a failed
 * run is reported and the schedule goes on.
 */
import type { Clock, TimerHandle } from '../core/clock.js';

export interface ScheduledRunner<R> { run(): Promise<R> }

export class ComplianceSchedule<R> {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly runner: ScheduledRunner<R>,
    private readonly opts: { clock: Clock; intervalMs: number; onRun?: (r: R) => void; onError?: (err: Error) => void },
  ) {
    if (!(opts.intervalMs >= 1000)) throw new Error(`compliance schedule interval must be at least 1000 ms, got ${opts.intervalMs}`);
  }

  start(): void {
    this.stopped = false;
    this.fire();
  }

  private fire(): void {
    if (this.stopped) return;
    this.running = this.runner.run().then(
      (r) => this.opts.onRun?.(r),
      (err: unknown) => this.opts.onError?.(err instanceof Error ? err : new Error(String(err))),
    ).finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = this.opts.clock.setTimeout(() => this.fire(), this.opts.intervalMs);
    });
  }

  /** Stops scheduling; resolves when a run in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }
}
