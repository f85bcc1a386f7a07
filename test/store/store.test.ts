import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { MigrationError } from '../../src/store/errors.js';
import { appliedMigrations, composeMigrations } from '../../src/store/migrations.js';
import { forUpdate, fromDbBool, fromJsonText, toDbBool, toEpochMillis, toJsonText, isUniqueViolation } from '../../src/store/schema.js';
import { z } from 'zod';
import pg from 'pg';
import { POSTGRES_TEST_URL, describeEachEngine, type StoreLocationHandle } from './harness.js';
import { m1, m2, m3Fixed, mBad, testMigrations, type TestTables } from './fixtures.js';

async function tableExists(loc: StoreLocationHandle, name: string): Promise<boolean> {
  const store = await loc.open([], { ignoreUnknownMigrations: true });
  try {
    if (store.dialect === 'postgres') {
      const r = await sql<{ t: string | null }>`select to_regclass(${name})::text as t`.execute(store.db);
      return r.rows[0]?.t != null;
    }
    const r = await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table' and name = ${name}`.execute(store.db);
    return r.rows[0]?.n === 1;
  } finally {
    await store.close();
  }
}

function runWriter(loc: StoreLocationHandle, writer: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./writer-worker.js', import.meta.url), {
      workerData: { ...loc.openOptions, writer, count },
    });
    let result: { ok: boolean; error?: string } | undefined;
    w.on('message', (m: { ok: boolean; error?: string }) => { result = m; });
    w.on('error', reject);
    w.on('exit', (code) => {
      if (result?.ok) resolve();
      else reject(new Error(`writer ${writer} failed (exit ${code}): ${result?.error ?? 'no result'}`));
    });
  });
}

describeEachEngine('store', (fx) => {
  test('migrations run on start and are idempotent on reopen; data survives close/reopen', async () => {
    const loc = await fx.location();
    const first = await loc.open<TestTables>(testMigrations);
    assert.equal(first.dialect, fx.engine);
    assert.deepEqual(first.appliedMigrations, ['0001_test_owner', '0002_test_item']);
    await first.db.insertInto('t_owner').values({ name: 'alpha', created_at: 1, active: 1, meta: '{}' }).execute();
    await first.close();
    await first.close(); // twice is harmless

    const again = await loc.open<TestTables>(testMigrations);
    assert.deepEqual(again.appliedMigrations, []);
    const rows = await again.db.selectFrom('t_owner').select('name').execute();
    assert.deepEqual(rows, [{ name: 'alpha' }]);
    assert.deepEqual(await appliedMigrations(again.db, again.dialect), ['0001_test_owner', '0002_test_item']);
    await again.close();
  });

  test('a later migration is applied alone on the next start', async () => {
    const loc = await fx.location();
    await (await loc.open([m1])).close();
    const s = await loc.open([m1, m2]);
    assert.deepEqual(s.appliedMigrations, ['0002_test_item']);
    await s.close();
  });

  test('a failing migration rolls the whole run back and names the migration', async () => {
    const loc = await fx.location();
    await assert.rejects(loc.open([m1, m2, mBad]), (err: unknown) => {
      assert.ok(err instanceof MigrationError, String(err));
      assert.equal(err.migration, '0003_test_broken');
      assert.match(err.message, /0003_test_broken/);
      assert.match(err.message, /no_such_table_anywhere/);
      return true;
    });
    // Nothing of the run is applied: neither the good migrations before it nor its own table.
    assert.equal(await tableExists(loc, 't_owner'), false);
    assert.equal(await tableExists(loc, 't_broken'), false);

    // From an existing version, a failure leaves exactly that version.
    await (await loc.open([m1])).close();
    await assert.rejects(loc.open([m1, m2, mBad]), MigrationError);
    assert.equal(await tableExists(loc, 't_owner'), true);
    assert.equal(await tableExists(loc, 't_item'), false);
    const s = await loc.open([m1]);
    assert.deepEqual(await appliedMigrations(s.db, s.dialect), ['0001_test_owner']);
    await s.close();

    // Fixed, it applies.
    const fixed = await loc.open([m1, m2, m3Fixed]);
    assert.deepEqual(fixed.appliedMigrations, ['0002_test_item', '0003_test_broken']);
    await fixed.close();
  });

  test('a database with a migration this program does not know is refused unless told otherwise', async () => {
    const loc = await fx.location();
    await (await loc.open([m1, m2])).close();
    await assert.rejects(loc.open([m1]), (err: unknown) => {
      assert.ok(err instanceof MigrationError);
      assert.equal(err.migration, '0002_test_item');
      return true;
    });
    const s = await loc.open([m1], { ignoreUnknownMigrations: true });
    assert.deepEqual(s.appliedMigrations, []);
    await s.close();
  });

  test('duplicate and invalid migration names are refused before touching the database', async () => {
    const loc = await fx.location();
    await assert.rejects(loc.open([m1, { ...m1 }]), /two different migrations are named "0001_test_owner"/);
    assert.deepEqual(composeMigrations([m1, m2], [m1]).map((m) => m.name), ['0001_test_owner', '0002_test_item'], 'the same migration twice is kept once');
    await assert.rejects(loc.open([{ ...m1, name: 'Bad Name' }]), /invalid/);
  });

  test('CRUD with returning ids, upsert, epoch ms, booleans and JSON behave the same', async () => {
    const loc = await fx.location();
    const store = await loc.open<TestTables>(testMigrations);
    const db = store.db;
    const t = Date.UTC(2026, 10, 23, 12, 0, 0); // > 2^32: needs a 64-bit column
    const ins = await db
      .insertInto('t_owner')
      .values({ name: 'site-a', created_at: t, active: toDbBool(true), meta: toJsonText({ area: 'tokyo', tags: ['a'] }) })
      .returning('id')
      .executeTakeFirstOrThrow();
    assert.equal(typeof ins.id, 'number');
    const ins2 = await db.insertInto('t_owner').values({ name: 'site-b', created_at: t + 1, active: 0, meta: '{}' }).returning('id').executeTakeFirstOrThrow();
    assert.ok(ins2.id > ins.id);

    const row = await db.selectFrom('t_owner').selectAll().where('id', '=', ins.id).executeTakeFirstOrThrow();
    assert.equal(toEpochMillis(row.created_at), t);
    assert.equal(typeof row.created_at, 'number');
    assert.equal(fromDbBool(row.active), true);
    assert.deepEqual(fromJsonText(row.meta, z.object({ area: z.string(), tags: z.array(z.string()) }), 't_owner.meta'), { area: 'tokyo', tags: ['a'] });

    // Upsert: same name updates in place.
    await db
      .insertInto('t_owner')
      .values({ name: 'site-a', created_at: t + 5, active: 0, meta: '{}' })
      .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ created_at: eb.ref('excluded.created_at'), active: eb.ref('excluded.active') })))
      .execute();
    const up = await db.selectFrom('t_owner').select(['id', 'created_at', 'active']).where('name', '=', 'site-a').executeTakeFirstOrThrow();
    assert.equal(up.id, ins.id);
    assert.equal(up.created_at, t + 5);
    assert.equal(fromDbBool(up.active), false);

    // Plain insert of a duplicate is a unique violation on both engines.
    await assert.rejects(
      db.insertInto('t_owner').values({ name: 'site-b', created_at: 0, active: 0, meta: '{}' }).execute(),
      (err: unknown) => isUniqueViolation(err),
    );

    await db.insertInto('t_item').values([{ owner_id: ins.id, label: 'x', qty: 1 }, { owner_id: ins.id, label: 'y', qty: 2 }]).execute();
    const count = await db.selectFrom('t_item').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(count.n, 2); // pg COUNT(*) is int8: parsed to a number
    const upd = await db.updateTable('t_item').set({ qty: 9 }).where('label', '=', 'y').executeTakeFirst();
    assert.equal(Number(upd.numUpdatedRows), 1);
    const del = await db.deleteFrom('t_item').where('label', '=', 'x').executeTakeFirst();
    assert.equal(Number(del.numDeletedRows), 1);
    assert.deepEqual(await db.selectFrom('t_item').select(['label', 'qty']).execute(), [{ label: 'y', qty: 9 }]);

    // Foreign keys and checks are enforced on both (SQLite needs PRAGMA foreign_keys).
    await assert.rejects(db.insertInto('t_item').values({ owner_id: 999_999, label: 'z', qty: 1 }).execute(), /foreign key/i);
    await assert.rejects(db.insertInto('t_item').values({ owner_id: ins.id, label: 'z', qty: -1 }).execute(), /check/i);
    await assert.rejects(db.deleteFrom('t_owner').where('id', '=', ins.id).execute(), /foreign key/i);
    await store.close();
  });

  test('transactions commit together or not at all', async () => {
    const loc = await fx.location();
    const store = await loc.open<TestTables>(testMigrations);
    const db = store.db;
    await db.transaction().execute(async (trx) => {
      const o = await trx.insertInto('t_owner').values({ name: 'committed', created_at: 0, active: 1, meta: '{}' }).returning('id').executeTakeFirstOrThrow();
      await trx.insertInto('t_item').values({ owner_id: o.id, label: 'a', qty: 1 }).execute();
    });
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        const o = await trx.insertInto('t_owner').values({ name: 'rolled-back', created_at: 0, active: 1, meta: '{}' }).returning('id').executeTakeFirstOrThrow();
        await trx.insertInto('t_item').values({ owner_id: o.id, label: 'b', qty: 1 }).execute();
        throw new Error('abort on purpose');
      }),
      /abort on purpose/,
    );
    assert.deepEqual((await db.selectFrom('t_owner').select('name').execute()).map((r) => r.name), ['committed']);
    assert.deepEqual((await db.selectFrom('t_item').select('label').execute()).map((r) => r.label), ['a']);

    // Concurrent transactions on one store serialise correctly (read-modify-write).
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.transaction().execute(async (trx) => {
          const q = trx.selectFrom('t_counter').select('n').where('id', '=', 1);
          const row = await (store.dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirstOrThrow();
          await trx.updateTable('t_counter').set({ n: Number(row.n) + 1 }).where('id', '=', 1).execute();
          await trx.insertInto('t_log').values({ writer: 'main', i }).execute();
        }),
      ),
    );
    assert.equal((await db.selectFrom('t_counter').select('n').executeTakeFirstOrThrow()).n, 20);
    await store.close();
  });

  test('two writers in other threads, with their own connections, lose no update', { timeout: 120_000 }, async () => {
    const loc = await fx.location();
    const store = await loc.open<TestTables>(testMigrations);
    const per = 40;
    await Promise.all([runWriter(loc, 'w1', per), runWriter(loc, 'w2', per)]);
    const counter = await store.db.selectFrom('t_counter').select('n').executeTakeFirstOrThrow();
    assert.equal(counter.n, 2 * per);
    const logged = await store.db.selectFrom('t_log').select(['writer', 'i']).orderBy('writer').orderBy('i').execute();
    assert.equal(logged.length, 2 * per);
    assert.equal(logged.filter((r) => r.writer === 'w1').length, per);
    await store.close();
  });

  test('two stores on one database in one process can interleave transactions', { timeout: 60_000 }, async () => {
    const loc = await fx.location();
    const a = await loc.open<TestTables>(testMigrations);
    const b = await loc.open<TestTables>(testMigrations);
    const started = Date.now();
    const work = (store: typeof a, writer: string) =>
      Array.from({ length: 10 }, (_, i) =>
        store.db.transaction().execute(async (trx) => {
          const row = await forUpdate(trx.selectFrom('t_counter').select('n').where('id', '=', 1), store.dialect).executeTakeFirstOrThrow();
          await new Promise((r) => setImmediate(r)); // let the other store's transaction try to start
          await trx.updateTable('t_counter').set({ n: Number(row.n) + 1 }).where('id', '=', 1).execute();
          await trx.insertInto('t_log').values({ writer, i }).execute();
        }),
      );
    await Promise.all([...work(a, 'a'), ...work(b, 'b')]);
    assert.equal((await a.db.selectFrom('t_counter').select('n').executeTakeFirstOrThrow()).n, 20);
    assert.ok(Date.now() - started < 5_000, 'no transaction waited for a busy timeout');
    await a.close();
    // Closing one leaves the other working.
    assert.equal((await b.db.selectFrom('t_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n, 20);
    await b.close();
  });

  if (fx.engine === 'sqlite') {
    test('a read-only SQLite store reads beside a writer, never writes, and never migrates', async () => {
      const loc = await fx.location();
      await assert.rejects(loc.open(testMigrations, { sqlite: { readonly: true } }), /cannot open SQLite database|not applied/);
      const writer = await loc.open<TestTables>(testMigrations);
      await writer.db.insertInto('t_owner').values({ name: 'w', created_at: 0, active: 1, meta: '{}' }).execute();
      const reader = await loc.open<TestTables>(testMigrations, { sqlite: { readonly: true } });
      assert.deepEqual(await reader.db.selectFrom('t_owner').select('name').execute(), [{ name: 'w' }]);
      await assert.rejects(reader.db.insertInto('t_owner').values({ name: 'r', created_at: 0, active: 1, meta: '{}' }).execute(), /readonly/);
      await writer.db.insertInto('t_owner').values({ name: 'w2', created_at: 0, active: 1, meta: '{}' }).execute();
      assert.equal((await reader.db.selectFrom('t_owner').select('name').execute()).length, 2, 'sees the writer\'s commits');
      await assert.rejects(loc.open([...testMigrations, m3Fixed], { sqlite: { readonly: true } }), /"0003_test_broken" is not applied/);
      await reader.close();
      await writer.close();
    });

    test('SQLite runs in WAL mode with foreign keys on and a busy timeout', async () => {
      const loc = await fx.location();
      const store = await loc.open(testMigrations);
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db);
      assert.equal(mode.rows[0]?.journal_mode, 'wal');
      const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(store.db);
      assert.equal(fk.rows[0]?.foreign_keys, 1);
      const busy = await sql<{ timeout: number }>`pragma busy_timeout`.execute(store.db);
      assert.ok((busy.rows[0]?.timeout ?? 0) >= 1000);
      assert.ok(existsSync(`${loc.url}-wal`), 'the -wal file exists while open');
      await store.close();
    });
  }

  if (fx.engine === 'postgres') {
    test('PostgreSQL schemas isolate stores in one database', async () => {
      const a = await fx.location();
      const b = await fx.location();
      const sa = await a.open<TestTables>(testMigrations);
      const sb = await b.open<TestTables>([m1]);
      await sa.db.insertInto('t_owner').values({ name: 'only-in-a', created_at: 0, active: 1, meta: '{}' }).execute();
      assert.deepEqual(await sb.db.selectFrom('t_owner').selectAll().execute(), []);
      assert.deepEqual(await appliedMigrations(sb.db, 'postgres'), ['0001_test_owner']);
      assert.equal(sa.schema, a.schema);
      assert.deepEqual((await sb.db.introspection.getTables()).map((t) => t.name).sort(), ['erab_migration', 'erab_migration_lock', 't_owner']);
      await sa.close();
      await sb.close();
    });

    test('opening stores is not disturbed by other sessions creating and dropping schemas', { timeout: 120_000 }, async () => {
      const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
      await client.connect();
      let stop = false;
      const churn = (async () => {
        for (let i = 0; !stop && i < 200; i++) {
          const name = `erab_t_churn_${process.pid}_${i}`;
          await client.query(`create schema ${name}`);
          await client.query(`create table ${name}.t (id serial primary key)`);
          await client.query(`drop schema ${name} cascade`);
        }
      })();
      try {
        for (let i = 0; i < 8; i++) {
          const loc = await fx.location();
          await (await loc.open(testMigrations)).close();
        }
      } finally {
        stop = true;
        await churn;
        await client.end();
      }
    });
  }
});
