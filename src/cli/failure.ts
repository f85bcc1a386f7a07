/**
 * How the `erab` command ends when something goes wrong, in one place:
 * - erab's own errors (bad input, configuration, policy...) print their message in the CLI's
 *   language (a keyed error, core/error-messages.ts; its English message otherwise): exit 1;
 * - failures of the environment (a missing file, a refused connection: Node system errors with
 *   an errno code) print their message too — they are not bugs;
 * - anything else is a bug: "unexpected error <id>", with the same id on a structured log line
 *   holding the stack, so a report can be matched to its details;
 * - a closed pipe on stdout (`erab pki list | head -1`) ends the command quietly, as `ls | head`.
 */
import { randomBytes } from 'node:crypto';
import { ErabError, describeError, describeInLanguage } from '../core/errors.js';
import { errorText, type ErrorKey, type ErrorParams } from '../core/error-messages.js';
import { createLogger, type Logger } from '../core/logger.js';
import { currentLanguage, t } from './i18n.js';

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
  if (err instanceof ErabError || isSystemError(err)) return describeInLanguage(err, currentLanguage());
  const errorId = randomBytes(4).toString('hex');
  const logger = log();
  logger.error({ errorId, errorName: err instanceof Error ? err.name : typeof err, stack: err instanceof Error ? err.stack : String(err) }, 'unexpected error');
  logger.flush?.();
  return t('failure.unexpected', { id: errorId, message: describeError(err) });
}

/**
 * The reason of an operator API's refusal body in the CLI's language: the body's `key` and
 * `params` (operator-routes.ts errorResponse) when this version knows the key, else its English
 * `error`, else `fallback`.
 * @example refusalReason({ error: 'alert 7: no such alert', key: 'notFound.alert', params: { id: 7 } }, 'HTTP 404') // in ja: 'アラート 7 はありません'
 */
export function refusalReason(body: unknown, fallback: string): string {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; key?: unknown; params?: unknown };
  if (typeof b.key === 'string') {
    const params = typeof b.params === 'object' && b.params !== null ? b.params as Record<string, string | number> : {};
    const text = errorText(currentLanguage(), b.key, params);
    if (text !== undefined) return text;
  }
  return typeof b.error === 'string' && b.error !== '' ? b.error : fallback;
}

/**
 * A keyed message (core/error-messages.ts) in the CLI's language, for a line a command writes
 * itself (a refusal or a failure it reports on stderr and carries on or sets the exit code).
 * @example keyedLine('cli.gateway.repinRefused', { status: 409, reason }) // in ja: 'repin は拒否されました（HTTP 409）: …'
 */
export function keyedLine(key: ErrorKey, params: ErrorParams = {}): string {
  return errorText(currentLanguage(), key, params) ?? errorText('en', key, params) ?? key;
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
