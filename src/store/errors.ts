/** Errors of the data layer. */
import { ErabError } from '../core/errors.js';

/**
 * The store could not be opened or used: bad URL, unreadable file, unreachable server.
 * The message always names the store by its URL with any password removed.
 */
export class StoreUnavailableError extends ErabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_unavailable', message, options);
  }
}

/** A migration failed; the database stays at the version it had before the run. */
export class MigrationError extends ErabError {
  /** Name of the migration that failed (or that is missing / invalid). */
  readonly migration: string;
  constructor(migration: string, message: string, options?: { cause?: unknown }) {
    super('migration_failed', message, options);
    this.migration = migration;
  }
}

/**
 * A short description of a driver error. Node's `net` reports a refused connection to a host
 * with several addresses as an AggregateError with an empty message, so look inside.
 */
export function describeDriverError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map((e) => describeDriverError(e)))].join('; ');
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (err.message) return typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
    if (typeof code === 'string') return code;
    return err.name;
  }
  return String(err);
}
