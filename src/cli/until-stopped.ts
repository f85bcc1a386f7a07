/**
 * Waiting, in a long-running CLI command, until SIGINT/SIGTERM (or an optional duration). A
 * keep-alive timer holds the process meanwhile: services whose own timers are unref'd (a pull
 * VEN between polls) would otherwise let Node end the process at its first idle moment.
 */
export function untilStopped(opts: { afterMs?: number | undefined } = {}): Promise<void> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30);
    const deadline = opts.afterMs !== undefined ? setTimeout(() => stop(), opts.afterMs) : undefined;
    const stop = (): void => {
      clearInterval(keepAlive);
      clearTimeout(deadline);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
