/** Migrations and tables used by the data-layer tests (a tiny two-table schema). */
import { sql, type Generated } from 'kysely';
import type { Migration } from '../../src/store/migrations.js';
import { addIdColumn, columnType } from '../../src/store/schema.js';

export interface TestTables {
  t_owner: { id: Generated<number>; name: string; created_at: number; active: number; meta: string };
  t_item: { id: Generated<number>; owner_id: number; label: string; qty: number };
  t_counter: { id: number; n: number };
  t_log: { writer: string; i: number };
}

export const m1: Migration = {
  name: '0001_test_owner',
  async up(db, ctx) {
    await db.schema
      .createTable('t_owner')
      .$call((t) => addIdColumn(t, 'id', ctx.dialect))
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
      .addColumn('active', columnType.bool, (c) => c.notNull().defaultTo(1))
      .addColumn('meta', columnType.json, (c) => c.notNull().defaultTo('{}'))
      .execute();
  },
  async down(db) {
    await db.schema.dropTable('t_owner').execute();
  },
};

export const m2: Migration = {
  name: '0002_test_item',
  async up(db, ctx) {
    await db.schema
      .createTable('t_item')
      .$call((t) => addIdColumn(t, 'id', ctx.dialect))
      .addColumn('owner_id', 'bigint', (c) => c.notNull().references('t_owner.id').onDelete('restrict'))
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('qty', 'integer', (c) => c.notNull().check(sql`qty >= 0`))
      .execute();
    await db.schema
      .createTable('t_counter')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('n', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('t_log')
      .addColumn('writer', 'text', (c) => c.notNull())
      .addColumn('i', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('t_log_pk', ['writer', 'i'])
      .execute();
    await db.insertInto('t_counter').values({ id: 1, n: 0 }).execute();
  },
};

/** Creates a table, then fails: its table must not survive. */
export const mBad: Migration = {
  name: '0003_test_broken',
  async up(db) {
    await db.schema.createTable('t_broken').addColumn('x', 'integer').execute();
    await sql`select * from no_such_table_anywhere`.execute(db);
  },
};

export const m3Fixed: Migration = {
  name: '0003_test_broken',
  async up(db) {
    await db.schema.createTable('t_broken').addColumn('x', 'integer').execute();
  },
};

export const testMigrations = [m1, m2];
