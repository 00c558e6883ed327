// Engine.create checks the pool's bounds before it starts a thread: thread
// counts and maxQueue that are not whole numbers in range are E_CONFIG, and
// a small maxQueue is honoured (E_QUEUE_FULL past it, nothing accepted lost).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';
import { whenRunning } from './helpers/running.js';

for (const maxQueue of [-1, 1.5, Number.POSITIVE_INFINITY, Number.NaN, 2_000_000]) {
  test(`maxQueue ${maxQueue} is E_CONFIG`, async () => {
    await rejectsWith(Engine.create({ threads: 1, maxQueue }), 'E_CONFIG', /maxQueue must be a whole number/);
  });
}

// A fractional count once passed the range check and crashed the process in the worker's cancel board.
for (const threads of [0, -2, 2000, { min: 3, max: 2 }, 1.5, { min: 1, max: 2.5 }, Number.NaN]) {
  test(`threads ${JSON.stringify(threads)} is E_CONFIG`, async () => {
    await rejectsWith(Engine.create({ threads }), 'E_CONFIG', /thread bounds/);
  });
}

test('maxQueue 1: one task waits, the next is E_QUEUE_FULL, and the waiting one still runs', async () => {
  const engine = await Engine.create({ threads: 1, maxQueue: 1, timeoutMs: 60_000 });
  try {
    await engine.deploy([{ name: 'spin', module: 'spin' }]);
    const ac = new AbortController();
    const hold = engine.invoke('spin', new Uint8Array([1]), { signal: ac.signal });
    await whenRunning(engine, 'spin');
    const waiting = engine.invoke('spin', new Uint8Array([5]));
    await rejectsWith(engine.invoke('spin', new Uint8Array([6])), 'E_QUEUE_FULL');
    ac.abort(new Error('release'));
    await rejectsWith(hold, 'E_ABORTED', /release/);
    assert.equal(await waiting, new Uint8Array([5]));
  } finally {
    await engine.close();
  }
});

test.run();
