import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';

test('ManualClock fires timers in due order and skips cancelled ones', () => {
  const clock = new ManualClock(0);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('b'), 200);
  clock.setTimeout(() => fired.push('a'), 100);
  const c = clock.setTimeout(() => fired.push('c'), 150);
  c.cancel();
  clock.advance(150);
  assert.deepEqual(fired, ['a']);
  clock.advance(100);
  assert.deepEqual(fired, ['a', 'b']);
  assert.equal(clock.now(), 250);
});

test('ManualClock runs timers scheduled by timers within the same advance', () => {
  const clock = new ManualClock(0);
  const at: number[] = [];
  clock.setTimeout(() => { at.push(clock.now()); clock.setTimeout(() => at.push(clock.now()), 50); }, 10);
  clock.advance(100);
  assert.deepEqual(at, [10, 60]);
});

test('scaledClock runs simulated time faster and agrees across instances with the same anchors', async () => {
  const { scaledClock } = await import('../../src/core/clock.js');
  const realAnchor = Date.now();
  const simAnchor = Date.UTC(2026, 10, 24, 4, 0);
  const a = scaledClock({ speed: 60, realAnchor, simAnchor });
  const b = scaledClock({ speed: 60, realAnchor, simAnchor });
  const started = Date.now();
  const keepAlive = setInterval(() => {}, 1000); // clock timers are unref'd like systemClock's
  await new Promise<void>((resolve) => a.setTimeout(resolve, 6000)); // 6 simulated seconds = 100 real ms
  clearInterval(keepAlive);
  const realElapsed = Date.now() - started;
  assert.ok(realElapsed >= 90 && realElapsed < 2000, `6 s simulated took ${realElapsed} ms real`);
  assert.ok(Math.abs(a.now() - b.now()) <= 60, 'two processes with the same anchors agree on now');
  assert.ok(a.now() - simAnchor >= 6000);
  assert.throws(() => scaledClock({ speed: 0, realAnchor, simAnchor }), /speed must be a positive number/);
});
