/**
 * SIGHUP asks a long-running erab process to reload what it read from files at start (the CRL,
 * its certificate and key), never to stop. Node's default action for SIGHUP is to end the
 * process, so the signal is caught whenever something here is registered or held:
 *
 * - {@link onReloadSignal}: what can be reloaded registers itself (TLS material watching its
 *   CRL, a mutual-TLS listener for its certificate and key; security/tls), for as long as it runs;
 * - {@link holdReloadSignal}: a long-running command holds the signal while it runs, so SIGHUP
 *   is harmless even in a process with nothing to reload (`erab device site`). Every command
 *   waiting for a stop signal holds it (core/stop-signals.ts), so no command has to remember.
 *
 * Unlike a stop signal, every SIGHUP is a new request: a second one reloads again.
 */

/** The reload signal (SIGHUP, as for sshd, nginx or syslog daemons). */
export const RELOAD_SIGNAL = 'SIGHUP' as const;

/** Something to reload; errors are the handler's to report (it knows its audit sink and logger). */
export type ReloadHandler = () => unknown;

const handlers = new Set<ReloadHandler>();
let holds = 0;

function dispatch(): void {
  if (handlers.size === 0) {
    process.stderr.write(`erab: ${RELOAD_SIGNAL} received; nothing in this process is reloadable (it keeps running)\n`);
    return;
  }
  void reloadNow();
}

function update(): void {
  const wanted = handlers.size > 0 || holds > 0;
  const installed = process.listeners(RELOAD_SIGNAL).includes(dispatch);
  if (wanted && !installed) process.on(RELOAD_SIGNAL, dispatch);
  else if (!wanted && installed) process.off(RELOAD_SIGNAL, dispatch);
}

/**
 * Calls `fn` on every SIGHUP until the returned function is called. While any handler is
 * registered, SIGHUP does not end the process.
 * @example const off = onReloadSignal(() => material.reloadCrl(undefined, { trigger: 'signal' }));
 */
export function onReloadSignal(fn: ReloadHandler): () => void {
  handlers.add(fn);
  update();
  return () => {
    handlers.delete(fn);
    update();
  };
}

/**
 * Keeps SIGHUP from ending the process until the returned function is called (idempotent).
 * @example const release = holdReloadSignal(); await runService(); release();
 */
export function holdReloadSignal(): () => void {
  holds++;
  update();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds--;
    update();
  };
}

/**
 * Runs every registered handler now, as SIGHUP does, and resolves when all have finished
 * (a handler's failure is its own to report; it is not rethrown here).
 */
export async function reloadNow(): Promise<void> {
  await Promise.allSettled([...handlers].map(async (h) => h()));
}
