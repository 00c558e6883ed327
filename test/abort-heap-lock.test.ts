// Cancelling a task whose worker holds a heap lock. CI failed once with
// "maxQueue 1: ... the waiting one still runs" (engine-queue-options): the
// abort terminated the worker while it placed its input, inside the heap's
// critical section, so recovery discarded the memory group and the waiting
// invocation of the same function failed with it. Now the dispatcher asks
// such a worker to exit at its unlock (exit-request.ts). These tests hold a
// real worker thread inside and outside the lock on Atomics gates.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { HeapLock } from '../engine/memory/heap-lock.js';
import { terminateOrAsk } from '../engine/worker/exit-request.js';
import { CONTROL_BLOCK_BYTES } from '../engine/worker/protocol.js';

const source = `
const { workerData, parentPort, threadId } = require('node:worker_threads');
globalThis.__cwasiThreadId = threadId;
Promise.all([import(workerData.lockUrl), import(workerData.protocolUrl)]).then(([{ HeapLock, exitAtUnlockWhenAsked }, { CTRL_EXIT_REQUEST }]) => {
  const { lock, control, gates, holdFirst } = workerData;
  const g = new Int32Array(gates);
  exitAtUnlockWhenAsked(new Int32Array(control), CTRL_EXIT_REQUEST >> 2);
  const heapLock = new HeapLock(lock);
  const step = (i) => { Atomics.store(g, i, 1); Atomics.notify(g, i); };
  const waitFor = (i) => { while (Atomics.load(g, i) === 0) Atomics.wait(g, i, 0, 1000); };
  if (holdFirst) {
    heapLock.lock();
    step(0);          // holding the lock
    waitFor(1);       // until the main thread has asked
    Atomics.add(g, 3, 1); // the critical section's work
    heapLock.unlock();  // exits here
    step(2);          // never reached
  } else {
    step(0);          // not holding it
    waitFor(1);       // until the main thread has asked
    heapLock.lock();  // exits here, before the section
    Atomics.add(g, 3, 1);
    heapLock.unlock();
    step(2);
  }
});
`;

async function run(holdFirst: boolean): Promise<{ outcome: string; exitCode: number; sectionRuns: number; after: number; holder: number }> {
  const lockBuf = HeapLock.create();
  const heapLock = new HeapLock(lockBuf);
  const control = new SharedArrayBuffer(CONTROL_BLOCK_BYTES);
  const gates = new SharedArrayBuffer(16);
  const g = new Int32Array(gates);
  const worker = new Worker(source, {
    eval: true,
    workerData: {
      lock: lockBuf, control, gates, holdFirst,
      lockUrl: new URL('../engine/memory/heap-lock.js', import.meta.url).href,
      protocolUrl: new URL('../engine/worker/protocol.js', import.meta.url).href,
    },
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  worker.once('error', () => {});
  while (Atomics.load(g, 0) === 0) await Atomics.waitAsync(g, 0, 0, 1000).value;
  // The worker's thread tag is 1 + its id; what the registry passes.
  const lockView = { lockHolder: () => heapLock.holder() };
  const outcome = holdFirst
    ? terminateOrAsk(new Int32Array(control), worker.threadId + 1, [lockView], () => assert.unreachable('a lock holder is not terminated'))
    : terminateOrAsk(new Int32Array(control), worker.threadId + 1, [lockView], () => {}); // left alive: it must still leave at the lock
  Atomics.store(g, 1, 1);
  Atomics.notify(g, 1);
  const exitCode = await exited;
  return { outcome, exitCode, sectionRuns: Atomics.load(g, 3), after: Atomics.load(g, 2), holder: heapLock.holder() };
}

test('a worker asked to go while it holds the heap lock finishes its section, unlocks, then exits', async () => {
  const r = await run(true);
  assert.is(r.outcome, 'asked');
  assert.is(r.sectionRuns, 1, 'the critical section ran to its end');
  assert.is(r.after, 0, 'nothing ran after the unlock');
  assert.is(r.holder, 0, 'the lock is free');
  assert.is(r.exitCode, 86);
});

test('a worker asked to go while it holds no lock leaves at its next lock, before changing anything', async () => {
  const r = await run(false);
  assert.is(r.outcome, 'terminated');
  assert.is(r.sectionRuns, 0, 'the critical section did not run');
  assert.is(r.after, 0);
  assert.is(r.holder, 0, 'the lock is free');
  assert.is(r.exitCode, 86);
});

test.run();
