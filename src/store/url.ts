/**
 * Store locations. A store is named by one string: a PostgreSQL URL (`postgres://` or
 * `postgresql://`) or an SQLite file path (optionally written `sqlite:<path>`), so a role's
 * configuration needs one field only.
 */
import { StoreUnavailableError } from './errors.js';

export type StoreDialect = 'sqlite' | 'postgres';

export type StoreLocation =
  | { dialect: 'sqlite'; /** file path, or ':memory:' */ path: string }
  | { dialect: 'postgres'; /** the URL as given (with password, never log it) */ url: string };

const PG_SCHEME = /^postgres(?:ql)?:\/\//i;
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Classifies a store URL.
 * @example parseStoreUrl('postgres://u@db:5432/erab') // { dialect: 'postgres', url: ... }
 * @example parseStoreUrl('/var/lib/erab/aggregator.db') // { dialect: 'sqlite', path: ... }
 */
export function parseStoreUrl(url: string): StoreLocation {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new StoreUnavailableError('store URL is empty: give an SQLite file path or a postgres:// URL');
  }
  if (PG_SCHEME.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new StoreUnavailableError(`store URL ${redactUrl(url)} is not a valid PostgreSQL URL`);
    }
    return { dialect: 'postgres', url };
  }
  if (url.startsWith('sqlite://')) return { dialect: 'sqlite', path: url.slice('sqlite://'.length) };
  if (url.startsWith('sqlite:')) return { dialect: 'sqlite', path: url.slice('sqlite:'.length) };
  if (OTHER_SCHEME.test(url)) {
    throw new StoreUnavailableError(
      `store URL ${redactUrl(url)} has an unsupported scheme: use an SQLite file path or a postgres:// URL`,
    );
  }
  if (url.includes('\0')) throw new StoreUnavailableError('store path contains a NUL character');
  return { dialect: 'sqlite', path: url };
}

/**
 * The URL with its password replaced by `***`, safe for logs and error messages.
 * Works on strings that `URL` cannot parse too (falls back to a pattern).
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    // Passwords can also travel as a query parameter (libpq `password=`).
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|token/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}
