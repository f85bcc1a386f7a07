/**
 * How the `erab` command ends when something goes wrong, in one place:
 * - erab's own errors (bad input, configuration, policy...) print their message: exit 1;
 * - failures of the environment (a missing file, a refused connection: Node system errors with
 *   an errno code) print their message too — they are not bugs;
 * - anything else is a bug: "unexpected error <id>", with the same id on a structured log line
 *   holding the stack, so a report can be matched to its details;
 * - a closed pipe on stdout (`erab pki list | head -1`) ends the command quietly, as `ls | head`.
 */
import { randomBytes } from 'node:crypto';
import { ErabError, describeError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import { t } from './i18n.js';

/** Node's system errors (fs, net, child_process) carry an errno code such as ENOENT or ECONNREFUSED. */
function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string'
    && /^E[A-Z0-9]+$/.test((err as NodeJS.ErrnoException).code!) && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * The line to print for a failure (without the "erab: " prefix); a bug is logged with an id.
 * @example failureLine(new TypeError('x')) // 'unexpected error 5f3a09c2: x (a bug: ...)'
 */
export function failureLine(err: unknown, log: () => Logger = () => createLogger('erab')): string {
  if (err instanceof ErabError || isSystemError(err)) return describeError(err);
  const errorId = randomBytes(4).toString('hex');
  const logger = log();
  logger.error({ errorId, errorName: err instanceof Error ? err.name : typeof err, stack: err instanceof Error ? err.stack : String(err) }, 'unexpected error');
  logger.flush?.();
  return t('failure.unexpected', { id: errorId, message: describeError(err) });
}

let pipeGuardInstalled = false;

/** Installs, once per process, the quiet end on EPIPE of stdout. */
export function endQuietlyWhenStdoutCloses(): void {
  if (pipeGuardInstalled) return;
  pipeGuardInstalled = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // The reader is gone: nothing more can be said to it, and saying so on stderr helps nobody.
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw err;
  });
}
