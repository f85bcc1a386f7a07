/**
 * A second (and third) writer for the concurrency test: a worker thread with its own store
 * connection doing read-modify-write transactions on a shared counter.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../../src/store/store.js';
import { forUpdate } from '../../src/store/schema.js';
import { testMigrations, type TestTables } from './fixtures.js';

const { url, schema, writer, count } = workerData as { url: string; schema?: string; writer: string; count: number };

const store = await openStore<TestTables>({ url, ...(schema ? { schema } : {}), migrations: testMigrations });
try {
  for (let i = 0; i < count; i++) {
    await store.db.transaction().execute(async (trx) => {
      const row = await forUpdate(trx.selectFrom('t_counter').select('n').where('id', '=', 1), store.dialect).executeTakeFirstOrThrow();
      // Yield between the read and the write so the other writer gets every chance to interleave.
      await new Promise((r) => setImmediate(r));
      await trx.updateTable('t_counter').set({ n: Number(row.n) + 1 }).where('id', '=', 1).execute();
      await trx.insertInto('t_log').values({ writer, i }).execute();
    });
  }
  parentPort?.postMessage({ ok: true });
} catch (err) {
  parentPort?.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) });
} finally {
  await store.close();
}
