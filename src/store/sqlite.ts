/**
 * The embedded engine: SQLite through better-sqlite3, one file per role.
 *
 * Settings and why:
 * - WAL journal: readers never block the writer and a crash never corrupts the file.
 * - busy timeout: a second connection (another process, a worker thread, the CLI beside a
 *   running role) waits for the write lock instead of failing at once with SQLITE_BUSY.
 * - foreign keys ON: SQLite leaves them off by default; PostgreSQL always enforces them, and
 *   the same schema must behave the same on both.
 * - synchronous FULL by default: a committed transaction (e.g. an outbox entry) survives a
 *   power cut, not only a process crash.
 * - transactions start with BEGIN IMMEDIATE: a deferred transaction that reads then writes
 *   fails with SQLITE_BUSY_SNAPSHOT (no wait) when another connection wrote in between; taking
 *   the write lock up front lets the busy timeout do its job.
 * - DDL is transactional: SQLite rolls back CREATE/ALTER/DROP like any other change (Kysely's
 *   adapter says otherwise, which would leave a half-applied migration run behind).
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import {
  CompiledQuery, SqliteAdapter, SqliteDialect, SqliteDriver,
  type DatabaseConnection, type DialectAdapter, type Driver, type SqliteDialectConfig,
} from 'kysely';
import { StoreUnavailableError, describeDriverError } from './errors.js';

export interface SqliteOpenOptions {
  /** How long a writer waits for another connection's lock, ms. Default 10 000. */
  busyTimeoutMs?: number;
  /** PRAGMA synchronous. Default 'full'. */
  synchronous?: 'full' | 'normal';
  /** Open read-only (inspection tools). Default false. */
  readonly?: boolean;
}

/**
 * The driver for this Node.js: better-sqlite3 13 (Node-API, installed as the optional dependency
 * `better-sqlite3-13`, which npm skips on Node < 22) where it is installed, else better-sqlite3 12,
 * the last line that supports Node 20. 12 is not used on Node >= 22 when 13 is there: from
 * Node 24.19 on it aborts the process when V8 collects a prepared statement outside a JS context.
 */
export type SqliteDriverName = 'better-sqlite3-13' | 'better-sqlite3';
let driver: { name: SqliteDriverName; Database: typeof Database } | undefined;

export function sqliteDriver(): { name: SqliteDriverName; Database: typeof Database } {
  if (driver) return driver;
  const require = createRequire(import.meta.url);
  const major = Number(process.versions.node.split('.')[0]);
  let installed13: string | undefined;
  try {
    installed13 = major >= 22 ? require.resolve('better-sqlite3-13') : undefined;
  } catch {
    // Not installed (npm ci ran under Node 20, or without optional dependencies): use 12.
  }
  if (installed13 !== undefined) {
    try {
      driver = { name: 'better-sqlite3-13', Database: require(installed13) as typeof Database };
      return driver;
    } catch (err) {
      // Installed but not built for this Node.js: falling back to 12 would abort later, so say so.
      throw new StoreUnavailableError(`cannot load better-sqlite3-13 on Node.js ${process.version}: ${(err as Error).message.split('\n')[0]}; run \`npm rebuild better-sqlite3-13\``, { cause: err });
    }
  }
  driver = { name: 'better-sqlite3', Database: require('better-sqlite3') as typeof Database };
  return driver;
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ErabSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/** Opens (creating if needed) the SQLite file and returns the Kysely dialect over it. */
export function openSqlite(path: string, options: SqliteOpenOptions = {}): { dialect: SqliteDialect; database: Database.Database } {
  let database: Database.Database;
  try {
    const { Database: Driver } = sqliteDriver();
    database = new Driver(path, {
      timeout: options.busyTimeoutMs ?? 10_000,
      readonly: options.readonly ?? false,
    });
  } catch (err) {
    throw new StoreUnavailableError(`cannot open SQLite database ${path}: ${describeDriverError(err)}`, { cause: err });
  }
  try {
    // The first statement reads the header: a file that is not a database fails here.
    if (path !== ':memory:' && !options.readonly) {
      const mode = database.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') {
        throw new Error(`journal_mode is ${String(mode)}, WAL could not be enabled`);
      }
    } else {
      database.pragma('schema_version', { simple: true });
    }
    database.pragma('foreign_keys = ON');
    database.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  } catch (err) {
    database.close();
    throw new StoreUnavailableError(`cannot use SQLite database ${path}: ${describeDriverError(err)}`, { cause: err });
  }
  return { dialect: new ErabSqliteDialect({ database }), database };
}
