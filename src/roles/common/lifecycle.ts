/**
 * The child side of a supervised role process (`erab demo` starts every participant as its own
 * process). A child tells its parent when it is ready (with the ports it bound), streams status
 * for the live view, and shuts down cleanly when the parent asks, dies or disconnects — so a
 * failed demo never leaves processes running.
 */

import { onStopSignal } from '../../core/stop-signals.js';

export type ChildMessage =
  | { type: 'ready'; name: string; info?: Record<string, unknown> }
  | { type: 'status'; name: string; status: Record<string, unknown> }
  | { type: 'failed'; name: string; error: string }
  | { type: 'reply'; id: number; ok: boolean; result?: unknown; error?: string };

export type ParentMessage =
  | { type: 'stop' }
  | { type: 'command'; id?: number; command: string; args?: Record<string, unknown> };

/** Handles a parent's command; the resolved value (or the error message) is sent back as the reply. */
export type CommandHandler = (command: string, args: Record<string, unknown>) => Promise<unknown> | unknown;

/** True when a supervisor (`erab demo`) started this process and listens for its messages. */
export const underSupervisor = (): boolean => typeof process.send === 'function' && process.connected;

function send(msg: ChildMessage): void {
  if (underSupervisor()) process.send!(msg);
}

/** Tell the supervisor this participant is up. Outside a supervisor prints one JSON line. */
export function reportReady(name: string, info?: Record<string, unknown>): void {
  if (underSupervisor()) send({ type: 'ready', name, ...(info ? { info } : {}) });
  else process.stdout.write(`${JSON.stringify({ ready: name, ...info })}\n`);
}

export function reportStatus(name: string, status: Record<string, unknown>): void {
  send({ type: 'status', name, status });
}

export function reportFailed(name: string, error: string): void {
  send({ type: 'failed', name, error });
}

/**
 * Registers `stop` to run once on SIGINT, SIGTERM, a 'stop' message or parent disconnect, then exits.
 * `onCommand` answers the parent's commands (e.g. the demo asking the TSO to dispatch); its result
 * or error goes back as a reply. Listens at once: call it before reporting ready. The returned
 * promise resolves once `stop` has completed.
 */
export function runUntilStopped(stop: () => Promise<void> | void, onCommand?: CommandHandler): Promise<void> {
  let stopping = false;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => { stopped = resolve; });
  const shutdown = (code: number) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(code), 5000);
    force.unref();
    Promise.resolve()
      .then(stop)
      .then(() => stopped())
      .catch((err: unknown) => { process.stderr.write(`shutdown error: ${String(err)}\n`); })
      .finally(() => process.exit(code));
  };
  onStopSignal(() => shutdown(0));
  if (underSupervisor()) {
    process.once('disconnect', () => shutdown(0));
    process.on('message', (msg: ParentMessage) => {
      if (!msg || typeof msg !== 'object') return;
      if (msg.type === 'stop') shutdown(0);
      else if (msg.type === 'command') {
        const id = msg.id ?? 0;
        Promise.resolve()
          .then(() => {
            if (!onCommand) throw new Error(`this participant takes no commands (got ${msg.command})`);
            return onCommand(msg.command, msg.args ?? {});
          })
          .then(
            (result) => send({ type: 'reply', id, ok: true, result }),
            (err: unknown) => send({ type: 'reply', id, ok: false, error: err instanceof Error ? err.message : String(err) }),
          );
      }
    });
  }
  return done;
}
