import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Supervisor } from '../../../src/roles/common/supervisor.js';

const fixture = fileURLToPath(new URL('./fixture-child.js', import.meta.url));

test('a participant that reports ready is started, relays status and is stopped cleanly', async () => {
  const sup = new Supervisor();
  const p = await sup.start('child', ['ready'], { modulePath: fixture });
  assert.deepEqual(p.info, { port: 1234 });
  const status = await new Promise<Record<string, unknown>>((resolve) => sup.once('status', (_n, s) => resolve(s)));
  assert.equal(typeof status.tick, 'number');
  assert.equal(await sup.request<number>('child', 'add', { a: 2, b: 3 }), 5);
  await assert.rejects(sup.request('child', 'fly'), /child: unknown command fly/);
  await assert.rejects(sup.request('nobody', 'add'), /nobody is not running/);
  const exited = new Promise((resolve) => p.child.once('exit', resolve));
  await sup.stopAll();
  await exited;
  assert.deepEqual(sup.running(), []);
});

test('a participant that crashes before ready is reported with its last output', async () => {
  const sup = new Supervisor();
  await assert.rejects(sup.start('tso', ['crash'], { modulePath: fixture }), (err: Error) => {
    assert.match(err.message, /participant tso failed to start: exited with 3/);
    assert.match(err.message, /EADDRINUSE/);
    return true;
  });
  await sup.stopAll();
});

test('a participant that reports its own failure names the cause', async () => {
  const sup = new Supervisor();
  await assert.rejects(sup.start('gw', ['fail'], { modulePath: fixture }), /port 8443 is already in use/);
  await sup.stopAll();
});

test('a participant that never becomes ready times out and is killed', async () => {
  const sup = new Supervisor();
  const started = sup.start('slow', ['hang'], { modulePath: fixture, readyTimeoutMs: 500 });
  await assert.rejects(started, /did not become ready within 500 ms/);
  await sup.stopAll(200);
  assert.deepEqual(sup.running(), []);
});

test('a participant that ignores stop is killed after the grace period', async () => {
  const sup = new Supervisor();
  const p = await sup.start('stubborn', ['ignore-stop'], { modulePath: fixture });
  const exited = new Promise((resolve) => p.child.once('exit', (_c, sig) => resolve(sig)));
  await sup.stopAll(300);
  assert.equal(await exited, 'SIGKILL');
});
