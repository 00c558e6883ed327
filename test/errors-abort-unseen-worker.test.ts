// Regression: an abort of a task that a new worker had already started
// (journal RUNNING, waiting for its memory) before the main thread had read
// that worker's hello was lost. The dispatcher looked for the task only among
// the workers it knew, found none, and the worker then got its memory and
// spun until the pool closed: the invocation rejected, but its worker burnt.
// Now the cancelled task is looked up again when the hello (or the worker's
// memory request) arrives, and the worker reads the cancel board again
// before guest code runs.
//
// The window is made deterministic by holding the worker's messages in the
// dispatcher's message hook until the abort has happened: exactly what a busy
// main thread does when an abort event runs before the queued hello.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import type { RequestDispatcher } from '../engine/dispatcher.js';
import { rejectsWith } from './helpers/assert-error.js';
import { bytesEqual } from './helpers/env.js';
import { closeEngine, within } from './helpers/settle.js';

/** Abort (or worker release) to its effect must take less than this. */
const BOUND_MS = 5000;

test('a task running in a worker whose hello was not yet read is still stopped by an abort', async () => {
  const engine = await Engine.create({ threads: 1 });
  try {
    const dispatcher = (engine as unknown as { dispatcher: RequestDispatcher }).dispatcher;
    const held: Array<() => void> = [];
    let holding = true;
    let shareAsked!: () => void;
    const asked = new Promise<void>((resolve) => (shareAsked = resolve));
    // Set before any worker message can arrive (they come as macrotasks).
    dispatcher.hooks.onWorkerMessage = (message, deliver) => {
      if (!holding) return deliver();
      held.push(deliver);
      if ((message as { type?: string }).type === 'cwasi:share') shareAsked();
    };
    await engine.deploy([{ name: 'spin', module: 'spin' }, { name: 'identity', module: 'identity' }]);
    const ac = new AbortController();
    const spin = engine.invoke('spin', Uint8Array.of(1), { signal: ac.signal, timeoutMs: 120_000 });
    // The worker asks for spin's memory only after publishing RUNNING and reading the board.
    await within(asked, 30_000, 'the worker asks for its memory');
    assert.ok(held.length >= 2, 'the hello and the memory request are both held');
    ac.abort('client went away');
    await rejectsWith(within(spin, BOUND_MS, 'aborted spin'), 'E_ABORTED', /client went away/);
    // Now the main thread reads the hello and the memory request, in order.
    holding = false;
    for (const deliver of held.splice(0)) deliver();
    // One thread: the next invocation runs only if the spinning worker was stopped (and replaced).
    const data = workloads.produce(4096, 11);
    assert.ok(bytesEqual(await within(engine.invoke('identity', data), BOUND_MS, 'identity after the abort'), data));
    assert.is(engine.stats().invocations.inFlight, 0);
  } finally {
    await closeEngine(engine, 5000);
  }
});

test.run();
