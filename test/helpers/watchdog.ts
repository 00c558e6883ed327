// A guard for tests of code that must never block the main thread: while the
// main thread is stuck in guest code it runs none of its own timers, so this
// guard waits on another thread (Atomics.wait with a timeout) and, unless the
// main thread disarms it first, writes why to stderr and kills the process,
// failing the test file instead of hanging it.
import { Worker } from 'node:worker_threads';

export interface Watchdog {
  disarm(): void;
}

const GUARD = `
const { workerData } = require('node:worker_threads');
const { flag, ms, what } = workerData;
if (Atomics.wait(flag, 0, 0, ms) === 'timed-out') {
  require('node:fs').writeSync(2, 'watchdog: the main thread did not finish ' + what + ' within ' + ms + ' ms; killing the test process\\n');
  process.kill(process.pid, 'SIGKILL');
}
`;

/** Kill the process unless `disarm` is called within `ms`. */
export function watchdog(ms: number, what: string): Watchdog {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(GUARD, { eval: true, workerData: { flag, ms, what } });
  // The guard never keeps the process alive on its own.
  w.unref();
  return {
    disarm(): void {
      // Publish "disarmed" and wake the guard, which then returns and exits.
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    },
  };
}
