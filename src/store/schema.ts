/**
 * Small helpers for the few places where SQLite and PostgreSQL differ, so module code writes
 * one schema and one set of queries.
 *
 * Conventions for columns (both engines):
 * - instants: epoch milliseconds in `bigint` (SQLite gives it INTEGER affinity; pg int8 is
 *   parsed to number by the store), read back with `toEpochMillis`;
 * - booleans: `integer` 0/1 (better-sqlite3 cannot bind JS booleans), via `toDbBool`/`fromDbBool`;
 * - JSON: `text`, via `toJsonText`/`fromJsonText` (validated on the way out);
 * - reals: `double precision`; ids: `addIdColumn`;
 * - upserts: Kysely's `onConflict(oc => oc.column(...).doUpdateSet(...))` works on both;
 * - returning ids: `.returning('id')` works on both (SQLite ≥ 3.35).
 */
import type { CreateTableBuilder } from 'kysely';
import type { z } from 'zod';
import { IntegrityError } from '../core/errors.js';
import type { EpochMillis } from '../core/units.js';
import type { StoreDialect } from './url.js';

/** Column type names that mean the same on both engines. */
export const columnType = {
  epochMillis: 'bigint',
  bigint: 'bigint',
  integer: 'integer',
  real: 'double precision',
  text: 'text',
  json: 'text',
  bool: 'integer',
} as const;

/**
 * Adds an auto-increment primary key that never reuses a value, even after the highest row
 * was deleted (SQLite needs AUTOINCREMENT for that; pg identities never go back).
 * @example db.schema.createTable('t').$call((t) => addIdColumn(t, 'id', ctx.dialect))
 */
export function addIdColumn<TB extends string, C extends string>(
  table: CreateTableBuilder<TB, C>,
  name: string,
  dialect: StoreDialect,
): CreateTableBuilder<TB, C> {
  return (dialect === 'sqlite'
    ? table.addColumn(name, 'integer', (c) => c.primaryKey().autoIncrement())
    : table.addColumn(name, 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())) as CreateTableBuilder<TB, C>;
}

export const toDbBool = (b: boolean): 0 | 1 => (b ? 1 : 0);

/** Reads a boolean column written as 0/1 (tolerates a native pg boolean too). */
export function fromDbBool(v: unknown): boolean {
  if (v === 1 || v === true || v === '1') return true;
  if (v === 0 || v === false || v === '0') return false;
  throw new IntegrityError(`expected a boolean column value 0/1, got ${JSON.stringify(v)}`);
}

/** A number from an integer column (pg returns int8 beyond 2^53 and numeric as strings). */
export function toNumber(v: unknown, what = 'value'): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new IntegrityError(`${what}: expected a number, got ${JSON.stringify(String(v))}`);
  return n;
}

export const toEpochMillis = (v: unknown, what = 'timestamp'): EpochMillis => toNumber(v, what) as EpochMillis;

export const toJsonText = (v: unknown): string => JSON.stringify(v);

/**
 * Parses and validates a JSON text column. Bad data means the database was changed behind
 * our back, which is reported (IntegrityError naming the column), never guessed around.
 */
export function fromJsonText<T>(text: unknown, schema: z.ZodType<T>, what: string): T {
  if (typeof text !== 'string') throw new IntegrityError(`${what}: expected JSON text, got ${typeof text}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new IntegrityError(`${what}: stored JSON does not parse`, { cause: err });
  }
  const r = schema.safeParse(parsed);
  if (!r.success) throw new IntegrityError(`${what}: stored JSON does not match its schema: ${r.error.issues[0]?.message ?? ''}`);
  return r.data;
}

/** True when `err` is a unique-constraint violation on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Locks the selected rows for the rest of the transaction on PostgreSQL (`FOR UPDATE`), so a
 * read-modify-write cannot lose a concurrent update. SQLite has no row locks and needs none:
 * our SQLite transactions begin IMMEDIATE and already hold the database's write lock.
 * @example await forUpdate(trx.selectFrom('counter').selectAll().where('id', '=', 1), store.dialect).executeTakeFirst()
 */
export function forUpdate<Q extends { forUpdate(): Q }>(query: Q, dialect: StoreDialect): Q {
  return dialect === 'postgres' ? query.forUpdate() : query;
}
