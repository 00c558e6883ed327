// How many lane workers may poll for their next call instead of sleeping
// (lane-server.ts): one core is the main thread's, and every other runnable
// thread on the machine takes one more. Sampled every SAMPLE_MS while lanes
// are in use, from the kernel's count of runnable threads (/proc/loadavg,
// fourth field; os.loadavg() where there is no /proc). On a machine with other
// work on its cores the share is 0: nobody polls, everyone sleeps and is woken.
//
// The share lives in workerData.lanes (i32 spinners now, i32 spinners
// allowed), read by every worker before it polls.

import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { SPIN_ALLOWED } from '../worker/lane-server.js';

const SAMPLE_MS = 100;

/** Threads runnable on the machine now, this one included. */
function runnableNow(): number {
  try {
    const f = readFileSync('/proc/loadavg', 'latin1').split(' ')[3];
    const n = Number(f?.slice(0, f.indexOf('/')));
    if (Number.isInteger(n) && n >= 0) return n;
  } catch {
    // not Linux
  }
  return Math.ceil(loadavg()[0]!);
}

export class SpinShare {
  private readonly words: Int32Array;
  private timer: NodeJS.Timeout | undefined;
  private seen = -1;

  /**
   * `used`: calls taken so far (no change between samples: idle). `awake`: our
   * workers not sleeping now (running calls or tasks, or polling): runnable
   * threads that are not someone else's work.
   */
  constructor(sab: SharedArrayBuffer, private readonly used: () => number, private readonly awake: () => number, private readonly cores = availableParallelism()) {
    this.words = new Int32Array(sab);
  }

  /** Lanes are in use: keep the share current. */
  touch(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = setInterval(this.tick, SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    Atomics.store(this.words, SPIN_ALLOWED, 0);
  }

  private readonly tick = (): void => {
    const used = this.used();
    // Idle lanes need no share: sampling stops until the next call.
    if (used === this.seen) return this.stop();
    this.seen = used;
    this.sample();
  };

  private sample(): void {
    const ours = 1 + this.awake();
    const others = Math.max(0, runnableNow() - ours);
    Atomics.store(this.words, SPIN_ALLOWED, Math.max(0, this.cores - 1 - others));
  }
}
