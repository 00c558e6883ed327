// The cancel board's compare-and-swap protocol (engine/worker/cancel-board.ts)
// between two real threads: a worker claiming a task and the dispatcher
// cancelling it at the same moment. In every round exactly one wins: either
// the worker runs the task and the dispatcher is told to terminate it, or the
// dispatcher marks it and the worker returns without running it. (Marking
// and then reading a journal let both happen: the worker returned, took the
// next task, and the kill meant for the first one failed that one with
// E_WORKER_DIED.) Rounds start on an Atomics barrier; seeded spins vary who
// arrives first.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SLOT_STARTED, claimTask, markCancelled, unclaimed } from '../engine/worker/cancel-board.js';
import { SEED, prng } from './helpers/env.js';
import { rejectsWith } from './helpers/assert-error.js';

const ROUNDS = 20_000;
/** Control words: [round the main thread released, round the worker finished, the worker's claim (1 ran, 0 not)]. */
const GO = 0;
const DONE = 1;
const CLAIMED = 2;
const SLOT = 3;

function spin(n: number): number {
  let x = 1;
  for (let i = 0; i < n; i++) x = (x * 1664525 + 1013904223) | 0;
  return x;
}

if (!isMainThread) {
  const { ctl: ctlBuf, board: boardBuf, seed } = workerData as { ctl: SharedArrayBuffer; board: SharedArrayBuffer; seed: number };
  const ctl = new Int32Array(ctlBuf);
  const board = new Int32Array(boardBuf);
  const rnd = prng(seed);
  for (let round = 1; round <= ROUNDS; round++) {
    // Spin for the start (a sleeping worker would always arrive second), sleeping only if it takes long.
    for (let i = 0; Atomics.load(ctl, GO) < round; i++) if (i > 100_000) Atomics.wait(ctl, GO, round - 1, 1);
    spin(Math.floor(rnd() * 400));
    Atomics.store(ctl, CLAIMED, claimTask(board, SLOT, round) ? 1 : 0);
    Atomics.store(ctl, DONE, round);
    Atomics.notify(ctl, DONE);
  }
  parentPort!.postMessage('done');
}

test(`claim and cancel racing ${ROUNDS} times: exactly one side wins each round`, async () => {
  const ctl = new Int32Array(new SharedArrayBuffer(16));
  const board = new Int32Array(new SharedArrayBuffer(4 * 8));
  const worker = new Worker(new URL(import.meta.url), { workerData: { ctl: ctl.buffer, board: board.buffer, seed: SEED } });
  const exited = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
  const rnd = prng(SEED ^ 0x5eed);
  const wins = { worker: 0, dispatcher: 0 };
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      Atomics.store(board, SLOT, 0);
      Atomics.store(ctl, GO, round);
      Atomics.notify(ctl, GO);
      spin(Math.floor(rnd() * 400));
      const said = markCancelled(board, SLOT, round);
      for (let i = 0; Atomics.load(ctl, DONE) < round; i++) {
        if (i > 10_000) throw new Error(`round ${round}: the worker did not finish`);
        Atomics.wait(ctl, DONE, round - 1, 1000);
      }
      const ran = Atomics.load(ctl, CLAIMED) === 1;
      // The one forbidden outcome pair each way: both proceed, or neither.
      assert.is(said === 'started', ran, `round ${round}: dispatcher says ${said}, worker ${ran ? 'ran' : 'returned'}`);
      assert.is(Atomics.load(board, SLOT), ran ? SLOT_STARTED : round);
      if (ran) wins.worker++;
      else wins.dispatcher++;
    }
  } finally {
    await worker.terminate();
    await exited.catch(() => {});
  }
  assert.is(wins.worker + wins.dispatcher, ROUNDS);
  console.log(`  the worker claimed first ${wins.worker} times, the dispatcher marked first ${wins.dispatcher} times`);
});

test('a claimed or marked slot is no longer unclaimed; a slot outside the board or holding another mark is refused', async () => {
  const board = new Int32Array(4);
  assert.ok(unclaimed(board, 1));
  assert.ok(claimTask(board, 1, 7));
  assert.not.ok(unclaimed(board, 1));
  assert.is(markCancelled(board, 1, 7), 'started');
  assert.is(markCancelled(board, 2, 9), 'marked');
  assert.not.ok(unclaimed(board, 2));
  assert.not.ok(claimTask(board, 2, 9), 'the marked task is not run');
  await rejectsWith((async () => claimTask(board, 4, 1))(), 'E_INTERNAL', /slot 4 of 4/);
  await rejectsWith((async () => claimTask(board, -1, 1))(), 'E_INTERNAL');
  await rejectsWith((async () => claimTask(board, 2, 10))(), 'E_INTERNAL', /holds 9/);
});

if (isMainThread) test.run();
