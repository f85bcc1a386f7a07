import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderLease, leaseMigrations } from '../../src/store/lease.js';
import { describeEachEngine } from './harness.js';
import { sleep, waitFor } from '../kit/index.js';

describeEachEngine('leader lease', (fx) => {
  test('one holder at a time; a standby takes over only after the holder stops renewing, with a new epoch', async () => {
    const loc = await fx.location();
    const a = await loc.open(leaseMigrations);
    const b = await loc.open(leaseMigrations);
    const events: string[] = [];
    const active = new LeaderLease(a, { name: 'aggregator:AGG1', holder: 'A', ttlMs: 600, renewMs: 100, onAcquired: (e) => events.push(`A acquired ${e}`), onLost: (r) => events.push(`A lost: ${r}`) });
    const standby = new LeaderLease(b, { name: 'aggregator:AGG1', holder: 'B', ttlMs: 600, renewMs: 100, onAcquired: (e) => events.push(`B acquired ${e}`) });
    assert.equal(await active.tryAcquire(), true);
    assert.equal(await standby.tryAcquire(), false, 'a live lease is not taken');
    active.start();
    standby.start();
    await sleep(1000); // well past one ttl: renewals keep it with A
    assert.equal(standby.isHolder, false);
    assert.deepEqual(events, ['A acquired 1']);
    // A stops renewing without giving the lease up (as if killed): B takes it after the expiry.
    (active as unknown as { stopped: boolean }).stopped = true;
    const stoppedAt = Date.now();
    await waitFor('standby holds the lease', () => standby.isHolder, 5000);
    assert.ok(Date.now() - stoppedAt >= 300, 'not before the old lease could expire');
    assert.equal(standby.epoch, 2, 'a new holder gets a new fencing epoch');
    assert.deepEqual((await standby.current())?.holder, 'B');
    // The old holder wakes up: its renewal fails and it knows it lost.
    assert.equal(await active.tryAcquire(), false);
    await standby.stop();
    assert.equal(await standby.current(), undefined, 'stop gives the lease up at once');
    assert.equal(await active.tryAcquire(), true, 'a free lease is taken at once');
    assert.equal(active.epoch, 1, 'a fresh row starts again at epoch 1');
    await active.stop();
  });

  test('two contenders starting together: exactly one wins', async () => {
    const loc = await fx.location();
    const stores = await Promise.all([1, 2, 3, 4].map(() => loc.open(leaseMigrations)));
    const leases = stores.map((s, i) => new LeaderLease(s, { name: 'race', holder: `P${i}`, ttlMs: 5000 }));
    const won = await Promise.all(leases.map((l) => l.tryAcquire()));
    assert.equal(won.filter(Boolean).length, 1, `winners: ${JSON.stringify(won)}`);
  });

  test('a holder that cannot reach the database gives the lease up once it would have expired', async () => {
    const loc = await fx.location();
    const s = await loc.open(leaseMigrations);
    const lost: string[] = [];
    const lease = new LeaderLease(s, { name: 'cut', holder: 'A', ttlMs: 400, renewMs: 100, onLost: (r) => lost.push(r), onError: () => {} });
    lease.start();
    await waitFor('held', () => lease.isHolder, 2000);
    await s.close();
    await waitFor('lost', () => lost.length > 0, 3000);
    assert.match(lost[0]!, /could not be renewed for 400 ms/);
    assert.equal(lease.isHolder, false);
    await lease.stop();
  });

  test('a lease name outside the rule is refused with the rule', async () => {
    const loc = await fx.location();
    const s = await loc.open(leaseMigrations);
    assert.throws(() => new LeaderLease(s, { name: 'bad name!' }), /lease name "bad name!": use 1–200 letters/);
  });
});
