/**
 * Versioned schema migrations, run by Kysely's Migrator from an in-code provider.
 *
 * Each module contributes a named list of migrations; a role composes the lists it needs
 * (`composeMigrations(openadrVtnMigrations, portfolioMigrations)`) and `openStore` applies the
 * pending ones on start. Order is deterministic: by migration name (Kysely sorts names), so
 * names start with a zero-padded number and the module (`0001_portfolio`, `0002_portfolio_tags`).
 * All pending migrations of one start run in ONE transaction (both engines have transactional
 * DDL): if any fails, none is applied and the database stays at the version it had.
 */
import { Migrator, type Kysely, type Migration as KyselyMigration, type MigrationProvider, sql } from 'kysely';
import { MigrationError, describeDriverError } from './errors.js';
import type { StoreDialect } from './url.js';

/** What a migration may need to know about the engine it runs on. */
export interface MigrationContext {
  readonly dialect: StoreDialect;
}

/** One schema change. `up` must be written so it works on both engines (see ./schema.ts). */
export interface Migration {
  /** Unique, stable, sortable: `NNNN_<module>[_<what>]`, lowercase letters, digits and `_`. */
  readonly name: string;
  // Migrations work on an untyped database: the typed tables are what they create.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  up(db: Kysely<any>, ctx: MigrationContext): Promise<void>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  down?(db: Kysely<any>, ctx: MigrationContext): Promise<void>;
}

/** Table that records applied migrations (one row per migration). */
export const MIGRATION_TABLE = 'erab_migration';
export const MIGRATION_LOCK_TABLE = 'erab_migration_lock';

const NAME_RULE = /^[a-z0-9][a-z0-9_]{0,99}$/;

/**
 * Joins the migration lists of several modules, refusing invalid names and two different
 * migrations with one name. The same migration reached twice (two modules that both compose
 * the outbox's list, say) is kept once.
 * @example const migrations = composeMigrations(vtnMigrations, portfolioMigrations);
 */
export function composeMigrations(...lists: readonly (readonly Migration[])[]): Migration[] {
  const seen = new Map<string, Migration>();
  const out: Migration[] = [];
  for (const list of lists) {
    for (const m of list) {
      if (!NAME_RULE.test(m.name)) {
        throw new MigrationError(m.name, `migration name "${m.name}" is invalid: use lowercase letters, digits and _ (e.g. 0001_portfolio)`);
      }
      const prev = seen.get(m.name);
      if (prev === m) continue;
      if (prev) throw new MigrationError(m.name, `two different migrations are named "${m.name}"`);
      seen.set(m.name, m);
      out.push(m);
    }
  }
  return out;
}

export interface RunMigrationsOptions {
  /**
   * Accept applied migrations that are not in `migrations` (e.g. a CLI command that opens a
   * role's database with only its own module's list). Default false: an unknown applied
   * migration means the code is older than the database, which is refused.
   */
  ignoreUnknownApplied?: boolean;
  /**
   * PostgreSQL: the schema that holds the tables (the connection's current schema). Kysely
   * otherwise finds its bookkeeping table in ANY schema and would mix isolated schemas up.
   */
  schema?: string;
}

/**
 * Applies every pending migration; resolves to the names applied by this call, in order.
 * Throws MigrationError naming the failed migration; nothing of the run is then applied.
 */
export async function runMigrations(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>,
  dialect: StoreDialect,
  migrations: readonly Migration[],
  options: RunMigrationsOptions = {},
): Promise<string[]> {
  const list = composeMigrations(migrations);
  const ctx: MigrationContext = { dialect };
  const byName: Record<string, KyselyMigration> = {};
  for (const m of list) {
    const down = m.down;
    byName[m.name] = {
      up: (d) => m.up(d, ctx),
      ...(down ? { down: (d: Kysely<unknown>) => down(d, ctx) } : {}),
    };
  }
  const applied = await appliedMigrations(db, dialect);
  for (const name of applied) {
    if (byName[name]) continue;
    if (!options.ignoreUnknownApplied) {
      throw new MigrationError(
        name,
        `the database has migration "${name}" applied, which this program does not know: ` +
          'it was written by a newer or different program; refusing to use it',
      );
    }
    byName[name] = { up: async () => {} }; // already applied; never run
  }
  const provider: MigrationProvider = { getMigrations: async () => byName };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(dialect === 'postgres' && options.schema ? { migrationTableSchema: options.schema } : {}),
    // Modules evolve independently: a new migration of one module may sort before the last
    // applied one of another. Pending ones still run in name order.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    if (failed) {
      throw new MigrationError(
        failed,
        `migration "${failed}" failed: ${describeDriverError(error)}; no migration of this run was applied`,
        { cause: error },
      );
    }
    throw new MigrationError('(migrator)', `migrations could not run: ${describeDriverError(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Names of the migrations already applied (empty when the table does not exist yet). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function appliedMigrations(db: Kysely<any>, dialect: StoreDialect): Promise<string[]> {
  // Look the table up through the connection's own namespace (pg: search_path), not by
  // introspecting every schema, so isolated schemas never see each other's migrations.
  const exists =
    dialect === 'postgres'
      ? (await sql<{ t: string | null }>`select to_regclass(${MIGRATION_TABLE})::text as t`.execute(db)).rows[0]?.t != null
      : (await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table' and name = ${MIGRATION_TABLE}`.execute(db)).rows[0]?.n === 1;
  if (!exists) return [];
  const rows = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db);
  return rows.rows.map((r) => r.name);
}
