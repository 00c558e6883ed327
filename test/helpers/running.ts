// Wait until tasks have started in workers: the "running" signal abort tests
// line up with, so that an abort provably lands on a started task (the
// terminate path) rather than on one still queued.
import type { Engine } from '../../engine/index.js';
import type { RequestDispatcher } from '../../engine/dispatcher.js';

/**
 * Resolve once at least `n` started tasks have `fn` as their first function
 * (journal RUNNING and cancel slot claimed, both in shared memory, which a
 * worker inside a wasm loop still publishes). Each check runs on a later turn of the event loop; the wait is
 * bounded by `limitMs`, and fails past it.
 */
export async function whenRunning(engine: Engine, fn: string, n = 1, limitMs = 10_000): Promise<void> {
  const dispatcher = (engine as unknown as { dispatcher: RequestDispatcher }).dispatcher;
  const until = Date.now() + limitMs;
  while (dispatcher.runningTasks().filter((f) => f === fn).length < n) {
    if (Date.now() > until) throw new Error(`fewer than ${n} ${fn} tasks running after ${limitMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
