// How many lane workers may poll for their next call instead of sleeping
// (lane-server.ts): one core is the main thread's, and every core that other
// processes kept busy takes one more. Sampled every SAMPLE_MS while lanes are
// in use: the machine's busy CPU time (/proc/stat) less this process's own
// (process.cpuUsage), over the interval; the load average where there is no
// /proc. On a machine with other work on its cores the share is 0: nobody
// polls, everyone sleeps and is woken.
//
// The share lives in workerData.lanes (i32 spinners now, i32 spinners
// allowed), read by every worker before it polls.

import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { SPIN_ALLOWED } from '../worker/lane-server.js';

const SAMPLE_MS = 100;
const FIRST_SAMPLE_MS = 10;

/** CPU time the whole machine spent busy, in ms (from /proc/stat), or undefined where there is none. */
function machineBusyMs(): number | undefined {
  try {
    const f = readFileSync('/proc/stat', 'latin1');
    const cpu = f.slice(0, f.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal, in clock ticks (100 per second)
    const busy = cpu[0]! + cpu[1]! + cpu[2]! + (cpu[5] ?? 0) + (cpu[6] ?? 0) + (cpu[7] ?? 0);
    return Number.isFinite(busy) ? busy * 10 : undefined;
  } catch {
    return undefined;
  }
}

/** This process's CPU time (every thread), in ms. */
function ownMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export class SpinShare {
  private readonly words: Int32Array;
  private timer: NodeJS.Timeout | undefined;
  private seen = -1;
  private last: { at: number; machine: number; own: number } | undefined;

  /** `used`: calls taken so far (no change between samples: idle, and sampling stops). */
  constructor(sab: SharedArrayBuffer, private readonly used: () => number, private readonly cores = availableParallelism()) {
    this.words = new Int32Array(sab);
  }

  /** Lanes are in use: keep the share current. */
  touch(): void {
    if (this.timer !== undefined) return;
    this.last = undefined;
    this.sample();
    this.timer = setInterval(this.tick, SAMPLE_MS);
    this.timer.unref();
    // The first share after FIRST_SAMPLE_MS rather than a whole interval.
    setTimeout(() => {
      if (this.timer !== undefined) this.sample();
    }, FIRST_SAMPLE_MS).unref();
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
    const at = performance.now();
    const machine = machineBusyMs();
    const own = ownMs();
    let others: number;
    if (machine === undefined) {
      // No /proc: the load average, less this process's share of it (slow to react).
      others = Math.max(0, loadavg()[0]! - 1);
    } else if (this.last === undefined) {
      // First look: nobody polls until one interval has been measured.
      this.last = { at, machine, own };
      Atomics.store(this.words, SPIN_ALLOWED, 0);
      return;
    } else {
      const span = at - this.last.at;
      // Cores other processes kept busy over the interval.
      others = span > 0 ? Math.max(0, (machine - this.last.machine) - (own - this.last.own)) / span : this.cores;
      this.last = { at, machine, own };
    }
    Atomics.store(this.words, SPIN_ALLOWED, Math.max(0, this.cores - 1 - Math.round(others)));
  }
}
