import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { Outbox, outboxMigrations } from '../../src/store/outbox.js';
import { POSTGRES_TEST_URL, describeEachEngine } from './harness.js';

/** Resolves with the first payload `listen` delivers on `channel`, or rejects after `ms`. */
function nextSignal(store: { wake: { listen(c: string, h: (p: string) => void): Promise<() => Promise<void>> } }, channel: string, ms = 15_000) {
  return (async () => {
    let resolve: (p: string) => void = () => {};
    const got = new Promise<string>((r) => { resolve = r; });
    const stop = await store.wake.listen(channel, (p) => resolve(p));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no signal on ${channel} within ${ms} ms`)), ms); });
    return { got: Promise.race([got, timeout]).finally(async () => { clearTimeout(timer); await stop(); }) };
  })();
}

describeEachEngine('store wake-ups', (fx) => {
  test('a signal from one store reaches a listener on another store of the same database, and no other', async () => {
    const loc = await fx.location();
    const a = await loc.open([]);
    const b = await loc.open([]);
    const other = await (await fx.location()).open([]);
    let strays = 0;
    const stopStray = await other.wake.listen('jobs', () => { strays++; });
    const { got } = await nextSignal(b, 'jobs');
    await a.wake.notify('jobs', 'job-7');
    assert.equal(await got, 'job-7');
    // A round trip on the other store's channel proves its listener was live while we signalled.
    const { got: own } = await nextSignal(other, 'jobs');
    await other.wake.notify('jobs', 'own');
    assert.equal(await own, 'own');
    assert.equal(strays, 1, 'only its own signal reached the other database');
    await stopStray();
    await assert.rejects(a.wake.notify('', 'x'), /channel/);
    await assert.rejects(a.wake.notify('c', 'x'.repeat(1001)), /payload/);
    for (const s of [a, b, other]) await s.close();
  });

  test('a waiter resolves false on timeout and on abort', async () => {
    const store = await (await fx.location()).open([]);
    const t0 = Date.now();
    const w = await store.wake.waiter('idle', 150);
    assert.equal(await w.wait, false);
    assert.ok(Date.now() - t0 >= 140);
    const ac = new AbortController();
    const w2 = await store.wake.waiter('idle', 60_000, ac.signal);
    ac.abort();
    assert.equal(await w2.wait, false);
    await store.close();
  });

  test('an outbox sender waiting for messages wakes on an enqueue from another store', { timeout: 60_000 }, async () => {
    const loc = await fx.location();
    const consumerStore = await loc.open(outboxMigrations);
    const producerStore = await loc.open(outboxMigrations);
    const consumer = new Outbox<{ v: number }>(consumerStore);
    const producer = new Outbox<{ v: number }>(producerStore);
    assert.equal(await consumer.waitForMessages('t', 100), false, 'nothing there: times out');
    const started = Date.now();
    const waiting = consumer.waitForMessages('t', 30_000);
    setTimeout(() => { void producer.enqueue('t', { v: 1 }); }, 50);
    assert.equal(await waiting, true);
    assert.ok(Date.now() - started < 20_000, 'woken by the enqueue, not by the timeout');
    assert.equal(await consumer.waitForMessages('t', 30_000), true, 'already available: returns at once');
    const leased = await consumer.lease('t', 10);
    assert.equal(await consumer.waitForMessages('t', 100), false, 'leased messages are not available');
    await consumer.ack('t', leased.map((e) => e.seq));
    await consumerStore.close();
    await producerStore.close();
  });

  if (fx.engine === 'postgres') {
    test('PostgreSQL delivers a signal at commit, never on rollback', async () => {
      const loc = await fx.location();
      const a = await loc.open([]);
      const b = await loc.open([]);
      const seen: string[] = [];
      const stop = await b.wake.listen('tx', (p) => seen.push(p));
      await assert.rejects((a.db as Kysely<unknown>).transaction().execute(async (trx) => {
        await a.wake.notify('tx', 'rolled-back', trx);
        throw new Error('abort');
      }), /abort/);
      const { got } = await nextSignal(b, 'tx');
      await (a.db as Kysely<unknown>).transaction().execute(async (trx) => {
        await a.wake.notify('tx', 'committed', trx);
      });
      assert.equal(await got, 'committed');
      assert.deepEqual(seen, ['committed'], 'PostgreSQL delivers in commit order, so the rolled-back one would have come first');
      await stop();
      await a.close();
      await b.close();
    });

    test('PostgreSQL listeners survive the LISTEN connection being killed', { timeout: 60_000 }, async () => {
      const loc = await fx.location();
      const a = await loc.open([]);
      const b = await loc.open([]);
      const seen: string[] = [];
      const stop = await b.wake.listen('k', (p) => seen.push(p));
      const admin = new pg.Client({ connectionString: POSTGRES_TEST_URL });
      await admin.connect();
      try {
        const killed = await admin.query('select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1', [`erab-wake:${b.schema}`]);
        assert.equal(killed.rowCount, 1);
      } finally {
        await admin.end();
      }
      // The listener reconnects by itself; signal until it hears one again.
      const deadline = Date.now() + 30_000;
      for (let i = 0; seen.length === 0; i++) {
        assert.ok(Date.now() < deadline, 'listener never came back');
        await a.wake.notify('k', `try-${i}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await stop();
      await a.close();
      await b.close();
    });
  }
});
