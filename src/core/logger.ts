/**
 * Structured logs (pino), one JSON event per line on stderr. Keys that can carry secrets are
 * redacted here, once, so no call site can leak a private key or passphrase by accident.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED_KEYS = [
  'privateKey', 'key', 'passphrase', 'password', 'secret', 'token', 'authorization',
  '*.privateKey', '*.key', '*.passphrase', '*.password', '*.secret', '*.token', '*.authorization',
];

export function createLogger(name: string, level = process.env.ERAB_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    { name, level, redact: { paths: REDACTED_KEYS, censor: '[redacted]' }, base: { role: name } },
    pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that discards everything (tests, libraries used without a logger). */
export const silentLogger: Logger = pino({ level: 'silent' });

/** Levels a {@link LogFn} line can carry: failures at warn or error, the rest at info. */
export type LogLevel = 'info' | 'warn' | 'error';

/** A role's plain log callback (msg, fields, level); default level info. */
export type LogFn = (msg: string, fields?: Record<string, unknown>, level?: LogLevel) => void;

/**
 * A {@link LogFn} writing to a pino logger at the line's level.
 * @example startAggregator(cfg, { log: logFnOf(createLogger('aggregator')) })
 */
export function logFnOf(logger: Logger): LogFn {
  return (msg, fields, level = 'info') => logger[level](fields ?? {}, msg);
}
