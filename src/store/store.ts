/**
 * One entry point to the data layer: `openStore({ url, migrations })` opens SQLite or
 * PostgreSQL, applies pending migrations, and hands back a Kysely instance whose queries run
 * unchanged on both engines.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Kysely } from 'kysely';
import { MigrationError, StoreUnavailableError } from './errors.js';
import { appliedMigrations, composeMigrations, runMigrations, type Migration } from './migrations.js';
import { openPostgres, type PostgresOpenOptions } from './postgres.js';
import { openSqlite, type SqliteOpenOptions } from './sqlite.js';
import { parseStoreUrl, redactUrl, type StoreDialect } from './url.js';
import { PostgresWake, SqliteWake, type StoreWake } from './wake.js';

export interface OpenStoreOptions {
  /** An SQLite file path (or `sqlite:<path>`, `:memory:`) or a `postgres://` / `postgresql://` URL. */
  url: string;
  /** Every migration this program knows for this database (see composeMigrations). */
  migrations: readonly Migration[];
  /** PostgreSQL only: schema to use, created if missing (test isolation, several roles in one database). */
  schema?: string;
  /** Accept applied migrations this program does not know (a CLI opening a role's database). Default false. */
  ignoreUnknownMigrations?: boolean;
  sqlite?: SqliteOpenOptions;
  postgres?: Omit<PostgresOpenOptions, 'schema'>;
}

/** An open database. `db` is typed by the caller (`openStore<MyTables>` or `store.db.withTables<T>()`). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Store<DB = {}> {
  readonly db: Kysely<DB>;
  readonly dialect: StoreDialect;
  /** The URL with any password removed: safe to log. */
  readonly displayUrl: string;
  /** PostgreSQL: the schema in use. SQLite: undefined. */
  readonly schema: string | undefined;
  /** Migrations applied by this open (empty when the database was up to date). */
  readonly appliedMigrations: readonly string[];
  /** Cross-process wake-up hints (PostgreSQL LISTEN/NOTIFY; in-process on SQLite). */
  readonly wake: StoreWake;
  /** Closes the connections. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * SQLite connections open in this process, by real file path. better-sqlite3 is synchronous:
 * with two connections to one file in one process, a transaction that awaits between
 * statements holds the write lock while the other connection's BEGIN blocks the whole event
 * loop until its busy timeout expires — the first can never finish. So every store on one file
 * in one process shares one connection (and Kysely's mutex over it), reference-counted; the
 * first opener's SQLite options apply. Other processes and worker threads still get their own
 * connections, coordinated by SQLite's file locks and the busy timeout.
 */
const sharedSqlite = new Map<string, { db: Kysely<unknown>; refs: number }>();

function sqliteKey(path: string): string | undefined {
  if (path === '' || path === ':memory:' || path.startsWith('file:')) return undefined;
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

/**
 * Opens a store and brings its schema up to date.
 * @example
 * const store = await openStore<PortfolioTables>({ url: 'aggregator.db', migrations: portfolioMigrations });
 * const sites = await store.db.selectFrom('portfolio_site').selectAll().execute();
 * await store.close();
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export async function openStore<DB = {}>(options: OpenStoreOptions): Promise<Store<DB>> {
  const location = parseStoreUrl(options.url);
  const displayUrl = location.dialect === 'postgres' ? redactUrl(location.url) : location.path;
  let db: Kysely<DB>;
  let schema: string | undefined;
  let release: () => Promise<void>;
  let wakeKey: string | undefined;
  if (location.dialect === 'sqlite') {
    // A read-only connection is never shared with a writer (either way round).
    const path = sqliteKey(location.path);
    const key = path === undefined ? undefined : `${path}${options.sqlite?.readonly ? '\0ro' : ''}`;
    wakeKey = path;
    const shared = key === undefined ? undefined : sharedSqlite.get(key);
    if (shared) {
      shared.refs++;
      db = shared.db as Kysely<DB>;
    } else {
      const { dialect } = openSqlite(location.path, options.sqlite);
      db = new Kysely<DB>({ dialect });
      if (key !== undefined) sharedSqlite.set(key, { db: db as Kysely<unknown>, refs: 1 });
    }
    release = async () => {
      const entry = key === undefined ? undefined : sharedSqlite.get(key);
      if (entry && --entry.refs > 0) return;
      if (key !== undefined) sharedSqlite.delete(key);
      await db.destroy();
    };
  } else {
    const opened = await openPostgres(location.url, { ...options.postgres, ...(options.schema ? { schema: options.schema } : {}) });
    db = new Kysely<DB>({ dialect: opened.dialect });
    schema = opened.schema;
    release = () => db.destroy();
  }
  let applied: string[];
  try {
    if (location.dialect === 'sqlite' && options.sqlite?.readonly) {
      // A read-only connection cannot migrate (not even take the write lock): it only checks.
      const done = new Set(await appliedMigrations(db, 'sqlite'));
      const missing = composeMigrations(options.migrations).find((m) => !done.has(m.name));
      if (missing) throw new MigrationError(missing.name, `migration "${missing.name}" is not applied and a read-only store cannot apply it: open it read-write once`);
      applied = [];
    } else {
      applied = await runMigrations(db, location.dialect, options.migrations, {
        ignoreUnknownApplied: options.ignoreUnknownMigrations ?? false,
        ...(schema ? { schema } : {}),
      });
    }
  } catch (err) {
    await release().catch(() => {});
    if (err instanceof MigrationError) {
      err.message = `${displayUrl}: ${err.message}`;
      throw err;
    }
    throw new StoreUnavailableError(`cannot prepare store ${displayUrl}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const wake: StoreWake =
    location.dialect === 'postgres'
      ? new PostgresWake(location.url, schema ?? '', db, options.postgres?.onIdleError)
      : new SqliteWake(wakeKey);
  let closed = false;
  return {
    db,
    dialect: location.dialect,
    displayUrl,
    schema,
    appliedMigrations: applied,
    wake,
    async close() {
      if (closed) return;
      closed = true;
      await wake.close();
      await release();
    },
  };
}
