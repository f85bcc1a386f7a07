import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { ManualClock } from '../../src/core/clock.js';
import { IntegrityError, InvalidInputError } from '../../src/core/errors.js';
import { composeMigrations } from '../../src/store/migrations.js';
import { Outbox, OutboxFullError, outboxMigrations } from '../../src/store/outbox.js';
import { Inbox, inboxMigrations } from '../../src/store/inbox.js';
import { describeEachEngine } from './harness.js';

const migrations = composeMigrations(outboxMigrations, inboxMigrations, [
  {
    name: '0001_test_received',
    async up(db) {
      await db.schema.createTable('t_received').addColumn('seq', 'bigint', (c) => c.notNull()).addColumn('v', 'integer', (c) => c.notNull()).execute();
    },
  },
]);

type Reading = { v: number };
const readingSchema = z.strictObject({ v: z.number() });

describeEachEngine('outbox', (fx) => {
  test('sequences grow, leases come in order, acks remove, and it all survives a restart', async () => {
    const loc = await fx.location();
    let store = await loc.open(migrations);
    let box = new Outbox<Reading>(store, { payloadSchema: readingSchema });
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) seqs.push((await box.enqueue('telemetry', { v: i })).seq);
    assert.deepEqual([...seqs].sort((a, b) => a - b), seqs);
    assert.equal(new Set(seqs).size, 5);
    await box.enqueue('other', { v: 100 });
    assert.equal(await box.size('telemetry'), 5);

    const first = await box.lease('telemetry', 2);
    assert.deepEqual(first.map((e) => e.payload.v), [0, 1]);
    assert.deepEqual(first.map((e) => e.attempts), [1, 1]);
    assert.equal(await box.ack('telemetry', first.map((e) => e.seq)), 2);
    assert.equal(await box.ack('telemetry', first.map((e) => e.seq)), 0, 'acking twice is harmless');
    await store.close();

    // Restart: what was not acknowledged is still there, in order; the next sequence is higher.
    store = await loc.open(migrations);
    box = new Outbox<Reading>(store, { payloadSchema: readingSchema });
    const after = await box.peek('telemetry', 10);
    assert.deepEqual(after.map((e) => e.payload.v), [2, 3, 4]);
    assert.deepEqual(after.map((e) => e.seq), seqs.slice(2));
    const rest = await box.lease('telemetry', 10);
    await box.ack('telemetry', rest.map((e) => e.seq));
    assert.equal(await box.size('telemetry'), 0);
    await store.close();

    // Even with every message of the highest sequence deleted, a restart never reuses a number.
    store = await loc.open(migrations);
    box = new Outbox<Reading>(store);
    const other = await box.lease('other', 10);
    await box.ack('other', other.map((e) => e.seq));
    await store.close();
    store = await loc.open(migrations);
    box = new Outbox<Reading>(store);
    const next = await box.enqueue('telemetry', { v: 5 });
    assert.ok(next.seq > Math.max(...seqs, ...other.map((e) => e.seq)), `seq ${next.seq} must exceed every earlier one`);
    await store.close();
  });

  test('a lease hides messages until it expires or they are released', async () => {
    const loc = await fx.location();
    const store = await loc.open(migrations);
    const clock = new ManualClock();
    const box = new Outbox<Reading>(store, { leaseMs: 10_000, clock });
    for (let i = 0; i < 3; i++) await box.enqueue('t', { v: i });
    const a = await box.lease('t', 2, 'sender-a');
    assert.deepEqual(a.map((e) => e.payload.v), [0, 1]);
    const b = await box.lease('t', 5, 'sender-b');
    assert.deepEqual(b.map((e) => e.payload.v), [2], 'leased messages are not handed out twice');
    assert.deepEqual(await box.lease('t', 5), []);
    clock.advance(9_999);
    assert.deepEqual(await box.lease('t', 5), []);
    clock.advance(1);
    const again = await box.lease('t', 5);
    assert.deepEqual(again.map((e) => [e.payload.v, e.attempts]), [[0, 2], [1, 2], [2, 2]], 'expired leases come back in order');
    await box.release('t', [again[0]!.seq]);
    const released = await box.lease('t', 5);
    assert.deepEqual(released.map((e) => e.payload.v), [0]);
    await store.close();
  });

  test('concurrent senders never lease the same message', async () => {
    const loc = await fx.location();
    const store = await loc.open(migrations);
    const other = await loc.open(migrations); // a second connection (pool) where the engine allows
    const box = new Outbox<Reading>(store);
    for (let i = 0; i < 60; i++) await box.enqueue('t', { v: i });
    const boxes = fx.engine === 'postgres' ? [box, new Outbox<Reading>(other)] : [box];
    const got = await Promise.all(Array.from({ length: 6 }, (_, i) => boxes[i % boxes.length]!.lease('t', 15, `s${i}`)));
    const all = got.flat().map((e) => e.payload.v);
    assert.equal(all.length, 60);
    assert.equal(new Set(all).size, 60);
    await store.close();
    await other.close();
  });

  test('concurrent producers get distinct sequences in commit order per topic', async () => {
    const loc = await fx.location();
    const store = await loc.open(migrations);
    const box = new Outbox<Reading>(store);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => box.enqueue('t', { v: i })));
    assert.equal(new Set(results.map((r) => r.seq)).size, 40);
    const peeked = await box.peek('t', 100);
    assert.deepEqual(peeked.map((e) => e.seq), [...peeked.map((e) => e.seq)].sort((a, b) => a - b));
    await store.close();
  });

  test('a dedupKey is enqueued once while pending, and beyond delivery in mark mode', async () => {
    const loc = await fx.location();
    const store = await loc.open(migrations);
    const del = new Outbox<Reading>(store);
    const a = await del.enqueue('r', { v: 1 }, { dedupKey: 'report-1' });
    const b = await del.enqueue('r', { v: 2 }, { dedupKey: 'report-1' });
    assert.equal(a.duplicate, false);
    assert.deepEqual(b, { seq: a.seq, duplicate: true, dropped: 0 });
    assert.equal(await del.size('r'), 1);
    // Same key in another topic is another message.
    assert.equal((await del.enqueue('r2', { v: 3 }, { dedupKey: 'report-1' })).duplicate, false);

    const clock = new ManualClock();
    const mark = new Outbox<Reading>(store, { onAck: 'mark', deliveredRetentionMs: 60_000, clock });
    const m = await mark.enqueue('m', { v: 1 }, { dedupKey: 'k' });
    await mark.ack('m', [m.seq]);
    assert.equal(await mark.size('m'), 0);
    assert.equal((await mark.enqueue('m', { v: 1 }, { dedupKey: 'k' })).duplicate, true, 'delivered key still known');
    clock.advance(60_001);
    const other = await mark.enqueue('m', { v: 9 });
    await mark.ack('m', [other.seq]); // ack purges delivered rows past retention
    assert.equal((await mark.enqueue('m', { v: 1 }, { dedupKey: 'k' })).duplicate, false, 'forgotten after retention');
    await store.close();
  });

  test('a full topic rejects, or drops its oldest, as configured', async () => {
    const loc = await fx.location();
    const store = await loc.open(migrations);
    const strict = new Outbox<Reading>(store, { capacity: 3 });
    for (let i = 0; i < 3; i++) await strict.enqueue('s', { v: i });
    await assert.rejects(strict.enqueue('s', { v: 3 }), (err: unknown) => {
      assert.ok(err instanceof OutboxFullError);
      assert.match(err.message, /"s" is full \(3 pending/);
      return true;
    });
    assert.deepEqual((await strict.peek('s', 10)).map((e) => e.payload.v), [0, 1, 2]);
    // Acknowledged messages free room.
    const l = await strict.lease('s', 1);
    await strict.ack('s', [l[0]!.seq]);
    await strict.enqueue('s', { v: 3 });

    const ring = new Outbox<Reading>(store, { capacity: 3, overflow: 'drop-oldest' });
    for (let i = 0; i < 3; i++) await ring.enqueue('d', { v: i });
    const r = await ring.enqueue('d', { v: 3 });
    assert.equal(r.dropped, 1);
    await ring.enqueue('d', { v: 4 });
    assert.deepEqual((await ring.peek('d', 10)).map((e) => e.payload.v), [2, 3, 4]);
    await store.close();
  });

  test('enqueue inside the caller\'s transaction commits or rolls back with it', async () => {
    const loc = await fx.location();
    const store = await loc.open(migrations);
    const box = new Outbox<Reading>(store);
    await assert.rejects(
      (store.db as Kysely<unknown>).transaction().execute(async (trx) => {
        await box.enqueue('t', { v: 1 }, { trx });
        throw new Error('business write failed');
      }),
      /business write failed/,
    );
    assert.equal(await box.size('t'), 0);
    await (store.db as Kysely<unknown>).transaction().execute(async (trx) => {
      await box.enqueue('t', { v: 2 }, { trx });
    });
    assert.equal(await box.size('t'), 1);
    await store.close();
  });

  test('bad input is refused with the rule, and a tampered row is reported', async () => {
    const loc = await fx.location();
    const store = await loc.open(migrations);
    const box = new Outbox<Reading>(store, { payloadSchema: readingSchema, maxPayloadBytes: 64 });
    await assert.rejects(box.enqueue('', { v: 1 }), InvalidInputError);
    await assert.rejects(box.enqueue('has space', { v: 1 }), /topic/);
    await assert.rejects(box.enqueue('t', { v: 'x' } as unknown as Reading), /schema/);
    const loose = new Outbox<unknown>(store, { maxPayloadBytes: 64 });
    await assert.rejects(loose.enqueue('t', { big: 'x'.repeat(100) }), /more than the 64 allowed/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(loose.enqueue('t', cyclic), /JSON-serialisable/);
    await assert.rejects(loose.lease('t', 0), /limit/);
    assert.throws(() => new Outbox(store, { capacity: 0 }), /capacity/);

    const e = await box.enqueue('t', { v: 1 });
    await sql`update erab_outbox set payload = ${'{"v":"tampered"}'} where seq = ${e.seq}`.execute(store.db);
    await assert.rejects(box.peek('t', 1), (err: unknown) => err instanceof IntegrityError && /erab_outbox seq/.test(err.message));
    await store.close();
  });

  test('outbox + inbox: every message takes effect exactly once across lost acks and restarts', async () => {
    const loc = await fx.location();
    let store = await loc.open(migrations);
    const receiverStore = await loc.open(migrations); // the receiver's own connection
    const inbox = new Inbox(receiverStore);
    let box = new Outbox<Reading>(store, { payloadSchema: readingSchema, leaseMs: 0 });
    for (let i = 1; i <= 30; i++) await box.enqueue('telemetry', { v: i });

    const deliver = async (entries: { seq: number; payload: Reading }[]) => {
      for (const e of entries) {
        await inbox.acceptInOrder('gw-1', 'telemetry', e.seq, async (trx) => {
          await (trx as Kysely<{ t_received: { seq: number; v: number } }>).insertInto('t_received').values({ seq: e.seq, v: e.payload.v }).execute();
        });
      }
    };
    // Round 1: delivered, but the ack is "lost" (sender crashes): restart the sender.
    await deliver(await box.lease('telemetry', 10));
    await store.close();
    store = await loc.open(migrations);
    box = new Outbox<Reading>(store, { payloadSchema: readingSchema, leaseMs: 0 });
    // Round 2..: deliver everything, acking this time; the first 10 come again and are ignored.
    for (;;) {
      const batch = await box.lease('telemetry', 7);
      if (batch.length === 0) break;
      await deliver(batch);
      await box.ack('telemetry', batch.map((e) => e.seq));
    }
    const received = await (receiverStore.db as Kysely<{ t_received: { seq: number; v: number } }>).selectFrom('t_received').select('v').orderBy('seq').execute();
    assert.deepEqual(received.map((r) => r.v), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(await inbox.lastSeq('gw-1', 'telemetry'), (await box.enqueue('telemetry', { v: 0 })).seq - 1);
    await store.close();
    await receiverStore.close();
  });

  test('inbox: a key is applied once, even by concurrent deliveries, and an effect that fails records nothing', async () => {
    const loc = await fx.location();
    const store = await loc.open(migrations);
    const other = await loc.open(migrations);
    const inboxes = fx.engine === 'postgres' ? [new Inbox(store), new Inbox(other)] : [new Inbox(store)];
    let effects = 0;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => inboxes[i % inboxes.length]!.acceptOnce('vtn-1', 'report-42', async () => { effects++; return i; })),
    );
    assert.equal(results.filter((r) => r.applied).length, 1);
    assert.equal(effects, 1);

    const inbox = inboxes[0]!;
    await assert.rejects(inbox.acceptOnce('vtn-1', 'report-43', async () => { throw new Error('effect failed'); }), /effect failed/);
    assert.equal((await inbox.acceptOnce('vtn-1', 'report-43', async () => 'ok')).applied, true, 'retried after the failure');
    await assert.rejects(inbox.acceptInOrder('s', 't', 5, async () => { throw new Error('nope'); }), /nope/);
    assert.equal(await inbox.lastSeq('s', 't'), 0);
    assert.equal((await inbox.acceptInOrder('s', 't', 5, async () => 1)).applied, true);
    assert.equal((await inbox.acceptInOrder('s', 't', 3, async () => 1)).applied, false, 'older sequence is a duplicate');
    assert.equal((await inbox.acceptInOrder('s', 't', 9, async () => 1)).applied, true, 'gaps are allowed');
    await assert.rejects(inbox.acceptInOrder('s', 't', 0, async () => 1), /positive integer/);
    await store.close();
    await other.close();
  });
});
