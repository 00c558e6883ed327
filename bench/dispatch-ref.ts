// The reference for the embedding bench's `embedded-fanout` row: what a task
// dispatched the moment another one returns costs on this machine, raw
// Piscina with the engine's pool settings and nothing of the engine. The
// first task writes the payload's size in bytes and stays busy as long as
// the bench's producer ran (so the main thread sleeps as long, and the same
// amount of memory went through the caches); when its result arrives the
// second task is posted; the sample is the second task's start minus the
// first task's end, both stamped in the workers.
//
// On these VMs both parts grow with the run: a thread that slept longer
// takes longer to wake (a futex wake measured 40 µs after 0.2 ms of sleep
// and 210 µs after 30 ms), and JS after 100 MiB of writes runs on cold
// caches. The engine's handoff is judged against this, in the same run.

import { Piscina } from 'piscina';
import type { DispatchTask } from './dispatch-worker.js';

/** `count` samples (ms) of a dispatch right after a `bytes`-writing task that ran `runMs`. */
export async function measureDispatchAfterRun(bytes: number, runMs: number, count: number, threads = 2): Promise<number[]> {
  if (!Number.isSafeInteger(bytes) || bytes < 0 || !(runMs >= 0) || !Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(`dispatch-after-run needs bytes >= 0, runMs >= 0 and count >= 1 (got ${bytes}, ${runMs}, ${count})`);
  }
  const pool = new Piscina({
    filename: new URL('./dispatch-worker.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    atomics: 'async',
  });
  try {
    // One task per thread at once, so that every worker has loaded its module
    // before the pool can be destroyed: a worker terminated while it still
    // loads an ES module aborts the whole process on Node 22 (an assertion in
    // its require(esm) path), and the measured rounds below use one worker.
    await Promise.all(Array.from({ length: threads }, () => pool.run({ kind: 'stamp' } satisfies DispatchTask)));
    const samples: number[] = [];
    // One unmeasured round: the workers load the module and allocate the buffer.
    for (let i = 0; i <= count; i++) {
      const ended = (await pool.run({ kind: 'run', bytes, runMs, seed: i } satisfies DispatchTask)) as number;
      const started = (await pool.run({ kind: 'stamp' } satisfies DispatchTask)) as number;
      if (i > 0) samples.push(started - ended);
    }
    return samples;
  } finally {
    await pool.destroy();
  }
}
