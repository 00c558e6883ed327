// An abort must not kill the task that comes after the aborted one. Found
// under --stress (errors-abort.test.ts: "expected E_ABORTED, got
// E_WORKER_DIED"): a task aborted just as its worker took it was both seen
// running (so its worker was terminated) and seen cancelled (so the worker
// returned at once and took the next task), and the termination then failed
// that next task. Now the cancel board's compare-and-swap lets only one side
// act (cancel-board-race.test.ts), and a task whose worker exits before it
// began is posted again.
//
// One worker; each round aborts a looping task on the next tick, at whatever
// point it has reached, with the next invocation already queued behind it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { bytesEqual } from './helpers/env.js';
import { closeEngine, settleAll } from './helpers/settle.js';

const ROUNDS = 150;
const LOOP = Uint8Array.of(1, 2, 3);

test(`${ROUNDS} aborts on the next tick: the aborted task is E_ABORTED and the one behind it always succeeds`, async () => {
  const engine = await Engine.create({ threads: 1, timeoutMs: 60_000 });
  try {
    await engine.deploy([{ name: 'spin', module: 'spin' }, { name: 'identity', module: 'identity' }]);
    for (let round = 0; round < ROUNDS; round++) {
      const ac = new AbortController();
      const aborted = engine.invoke('spin', LOOP, { signal: ac.signal });
      const data = Uint8Array.of(round, 7, 7);
      const next = engine.invoke('identity', data);
      setImmediate(() => ac.abort(new Error(`round ${round}`)));
      const [a, n] = await settleAll([aborted, next], 30_000, `round ${round}`);
      assert.is(a!.status, 'rejected', `round ${round}: the looping task was aborted`);
      assert.is((a as PromiseRejectedResult).reason.code, 'E_ABORTED', `round ${round}: ${(a as PromiseRejectedResult).reason.message}`);
      if (n!.status === 'rejected') assert.unreachable(`round ${round}: the next task failed: ${n.reason.code}: ${n.reason.message}`);
      assert.ok(bytesEqual((n as PromiseFulfilledResult<Uint8Array>).value, data), `round ${round}: the next task's output`);
    }
  } finally {
    await closeEngine(engine, 5000);
  }
});

test.run();
