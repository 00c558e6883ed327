// "Running", as abort tests wait for it (dispatcher.runningTasks), means the
// task has begun: its worker has claimed the task's cancel slot. A worker
// publishes RUNNING in its journal just before it claims, so an abort that
// landed between the two found the slot free, marked it, and the worker
// returned E_ABORTED without running the guest and without being killed:
// right for the engine, but cancel-board-collision, which expects the kill of
// a task it saw running, failed once under --stress (round 8 of 20, seed
// 20261133: "only the holding task's worker was killed", 0 kills). Here a
// real running task's slot is put back to "unclaimed" for a moment: the
// journal still says RUNNING, and the task must not be reported.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import { SLOT_STARTED } from '../engine/worker/cancel-board.js';
import { rejectsWith } from './helpers/assert-error.js';
import { whenRunning } from './helpers/running.js';

interface Internals {
  dispatcher: {
    runningTasks(): string[];
    registry: { cancelBoard: Int32Array; liveTasks: Map<number, { fn: string; slot: number }> };
  };
}

test('a task whose journal says RUNNING but whose slot is unclaimed is not running', async () => {
  const engine = await Engine.create({ threads: 1, timeoutMs: 60_000 });
  try {
    await engine.deploy({ name: 'hold', module: 'spin' });
    const ac = new AbortController();
    const hold = engine.invoke('hold', new Uint8Array([1]), { signal: ac.signal });
    await whenRunning(engine, 'hold');
    const { dispatcher } = engine as unknown as Internals;
    const [live] = [...dispatcher.registry.liveTasks.values()];
    assert.ok(live !== undefined && live.fn === 'hold', 'the held task is live');
    const board = dispatcher.registry.cancelBoard;
    assert.is(Atomics.load(board, live.slot), SLOT_STARTED, 'a running task has claimed its slot');
    Atomics.store(board, live.slot, 0);
    assert.equal(dispatcher.runningTasks(), [], 'reported running before its worker claimed it');
    Atomics.store(board, live.slot, SLOT_STARTED);
    assert.equal(dispatcher.runningTasks(), ['hold']);
    ac.abort(new Error('done'));
    await rejectsWith(hold, 'E_ABORTED', /done/);
  } finally {
    await engine.close();
  }
});

test.run();
