/**
 * Waiting, in a long-running CLI command, until SIGINT/SIGTERM (or an optional duration). A
 * keep-alive timer holds the process meanwhile: services whose own timers are unref'd (a pull
 * VEN between polls) would otherwise let Node end the process at its first idle moment.
 */
import { onStopSignal } from '../core/stop-signals.js';

export function untilStopped(opts: { afterMs?: number | undefined } = {}): Promise<void> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30);
    const deadline = opts.afterMs !== undefined ? setTimeout(() => stop(), opts.afterMs) : undefined;
    const stop = (): void => {
      clearInterval(keepAlive);
      clearTimeout(deadline);
      stopListening();
      resolve();
    };
    const stopListening = onStopSignal(stop);
  });
}
