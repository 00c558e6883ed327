// Ring.pollNear, what an early consumer does when its producer's usual run
// time is known: it returns at once when data is there, returns once the
// window after the expected time has passed when none came, and a producer
// on another thread that writes long before the expected time wakes it (its
// write notifies the sleeping consumer). Waits are bounded by the deadline
// given to pollNear; the threads meet only through the ring.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ring } from '../engine/ring/ring.js';
import { spawnRole } from './helpers/ring-threads.js';

const clock = (): number => performance.timeOrigin + performance.now();

test('data already there: returns at once', () => {
  const ring = Ring.create(4096);
  assert.is(ring.write(Uint8Array.of(1, 2, 3), Date.now() + 1000).written, 3);
  // Expected a minute from now: only the data can end the wait.
  ring.pollNear(clock() + 60_000, Date.now() + 10_000);
  assert.is(ring.used, 3);
});

test('no data: returns once the window after the expected time has passed, ring untouched', () => {
  const ring = Ring.create(4096);
  const at = clock() + 2;
  ring.pollNear(at, Date.now() + 10_000);
  assert.ok(clock() >= at, 'it waited until the expected time at least');
  assert.is(ring.used, 0);
});

test('a producer that finishes long before the expected time wakes the consumer', async () => {
  const ring = Ring.create(64 * 1024);
  const deadline = Date.now() + 10_000;
  const producer = spawnRole('writeStream', { sab: ring.buffer, seed: 7, chunkSeed: 8, total: 4096, timeoutMs: 10_000, mode: 'blocking' });
  // Expected far later than any wait here: returning before the deadline means the write woke it.
  ring.pollNear(clock() + 3_600_000, deadline);
  assert.ok(Date.now() < deadline, 'woken by the write, not by the deadline');
  assert.ok(ring.used > 0, 'data is there');
  ring.abort();
  await producer.result.catch(() => undefined);
});

test.run();
