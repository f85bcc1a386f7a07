/**
 * The scale engine: PostgreSQL through a `pg` Pool.
 *
 * - int8 (bigint) columns come back as JS numbers when they are safe integers (epoch ms,
 *   sequences, COUNT(*)), so the same row types hold on both engines; a value beyond 2^53
 *   stays a string rather than silently losing precision.
 * - An optional schema isolates one store inside a shared database (tests run in parallel in
 *   `erab_t_<random>`); it is set as the connection's search_path at startup, so every query
 *   and every migration stays unqualified and identical to the SQLite ones.
 * - Introspection (which Kysely's Migrator uses to find its own tables) sees the current
 *   schema only. Kysely's own introspector reads every schema and calls name-based functions
 *   (has_schema_privilege, pg_get_serial_sequence) on them, which fails with "schema does not
 *   exist" when another session drops a schema at that moment — parallel test runs do.
 */
import pg from 'pg';
import { PostgresDialect, sql, type DatabaseIntrospector, type DatabaseMetadata, type Kysely, type SchemaMetadata, type TableMetadata } from 'kysely';
import { StoreUnavailableError, describeDriverError } from './errors.js';
import { redactUrl } from './url.js';

export interface PostgresOpenOptions {
  /** Schema to use (created if missing). Default: the server's default (usually public). */
  schema?: string;
  /** Pool size. Default 10. */
  poolSize?: number;
  /** How long to wait for a connection, ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Called with errors of idle pooled connections (server restart...), which would otherwise crash. */
  onIdleError?: (err: Error) => void;
}

const INT8_OID = 20;
const SCHEMA_RULE = /^[a-z_][a-z0-9_]{0,62}$/;

function parseInt8(value: string): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Tables and columns of the connection's current schema, by catalog oids only. */
class CurrentSchemaIntrospector implements DatabaseIntrospector {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(private readonly db: Kysely<any>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const r = await sql<{ nspname: string }>`select nspname from pg_catalog.pg_namespace`.execute(this.db);
    return r.rows.map((x) => ({ name: x.nspname }));
  }

  async getTables(): Promise<TableMetadata[]> {
    const r = await sql<{
      table: string; kind: string; schema: string; column: string; type: string; type_schema: string;
      not_null: boolean; has_default: boolean; auto: boolean; comment: string | null;
    }>`
      select c.relname as table, c.relkind as kind, ns.nspname as schema, a.attname as column,
             typ.typname as type, dtns.nspname as type_schema, a.attnotnull as not_null, a.atthasdef as has_default,
             (a.attidentity <> '' or exists (
               select 1 from pg_catalog.pg_attrdef ad
               where ad.adrelid = a.attrelid and ad.adnum = a.attnum and pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) like 'nextval(%'
             )) as auto,
             pg_catalog.col_description(a.attrelid, a.attnum) as comment
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
      join pg_catalog.pg_attribute a on a.attrelid = c.oid
      join pg_catalog.pg_type typ on typ.oid = a.atttypid
      join pg_catalog.pg_namespace dtns on dtns.oid = typ.typnamespace
      where ns.nspname = current_schema() and c.relkind in ('r', 'v', 'p') and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attnum`.execute(this.db);
    const tables = new Map<string, { name: string; isView: boolean; schema: string; columns: TableMetadata['columns'][number][] }>();
    for (const row of r.rows) {
      let t = tables.get(row.table);
      if (!t) {
        t = { name: row.table, isView: row.kind === 'v', schema: row.schema, columns: [] };
        tables.set(row.table, t);
      }
      t.columns.push({
        name: row.column, dataType: row.type, dataTypeSchema: row.type_schema, isNullable: !row.not_null,
        hasDefaultValue: row.has_default, isAutoIncrementing: row.auto, ...(row.comment !== null ? { comment: row.comment } : {}),
      });
    }
    return [...tables.values()];
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

class ErabPostgresDialect extends PostgresDialect {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db);
  }
}

/** Connects once (so a bad URL or a down server fails here, clearly) and returns the dialect. */
export async function openPostgres(
  url: string,
  options: PostgresOpenOptions = {},
): Promise<{ dialect: PostgresDialect; pool: pg.Pool; schema: string }> {
  const shown = redactUrl(url);
  if (options.schema !== undefined && !SCHEMA_RULE.test(options.schema)) {
    throw new StoreUnavailableError(`PostgreSQL schema name "${options.schema}" is invalid: use lowercase letters, digits and _`);
  }
  let pool: pg.Pool;
  try {
    pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      types,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
  } catch (err) {
    throw new StoreUnavailableError(`cannot use PostgreSQL URL ${shown}: ${describeDriverError(err)}`, { cause: err });
  }
  pool.on('error', (err) => options.onIdleError?.(err));
  let schema: string;
  try {
    const client = await pool.connect();
    try {
      if (options.schema) {
        // Two processes opening one new schema at once race inside "if not exists" (the loser
        // gets a unique violation on pg_namespace): the schema exists either way.
        await client.query(`create schema if not exists "${options.schema}"`).catch((err: { code?: string }) => {
          if (err.code !== '23505') throw err;
        });
      }
      const r = await client.query<{ s: string | null }>('select current_schema() as s');
      const current = r.rows[0]?.s;
      if (!current) throw new Error('no current schema (search_path names no existing schema)');
      schema = current;
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw new StoreUnavailableError(`cannot connect to PostgreSQL at ${shown}: ${describeDriverError(err)}`, { cause: err });
  }
  return { dialect: new ErabPostgresDialect({ pool }), pool, schema };
}
