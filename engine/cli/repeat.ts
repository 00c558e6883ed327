// The invocation loop of `cwasi run`: `--warmup` unmeasured invocations, then
// `--repeat` measured ones, `--concurrency` in flight, and Ctrl-C.
//
// The first invocation of a run is cold (instances, memories and channels
// are made on first use), so it is reported apart (`coldMs`) and never enters
// the steady-state figures: with `--warmup N` it is the first of the N
// unmeasured ones; without, it is the first measured one and the summary
// covers the other `repeat - 1`.
//
// Ctrl-C (SIGINT) stops launching invocations, aborts the ones in flight and
// resolves with what completed (`interrupted: true`); the caller prints it.
// A second Ctrl-C gets Node's default (the process ends).

import { CwasiError, type Engine, type IfcMode, type InvocationReport } from '../index.js';

export interface RepeatOptions {
  repeat: number;
  warmup: number;
  concurrency: number;
  modes: Record<string, IfcMode> | undefined;
  timeoutMs: number | undefined;
  /** Called after every invocation, measured or not. */
  tick: () => void;
}

export interface RepeatOutcome {
  /** The first measured invocation's report (undefined when none completed). */
  first: InvocationReport | undefined;
  /** Latency of the very first invocation of the run. */
  coldMs: number | undefined;
  /** Steady-state latencies (measured invocations, the cold one excluded). */
  latencies: number[];
  /** Measured invocations that completed. */
  completed: number;
  /** Wall time of the measured phase. */
  wallMs: number;
  interrupted: boolean;
}

export async function runRepeated(engine: Engine, target: string, input: Uint8Array, o: RepeatOptions): Promise<RepeatOutcome> {
  const ac = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    ac.abort();
  };
  process.once('SIGINT', onSigint);
  const outcome: RepeatOutcome = { first: undefined, coldMs: undefined, latencies: [], completed: 0, wallMs: 0, interrupted: false };
  let calls = 0;
  let failed = false;
  const call = async (): Promise<{ report: InvocationReport; cold: boolean }> => {
    const cold = calls++ === 0;
    const r = await engine.invokeWithReport(target, input, {
      signal: ac.signal,
      ...(o.modes ? { modes: o.modes } : {}),
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    });
    if (cold) outcome.coldMs = r.latencyMs;
    o.tick();
    return { report: r, cold };
  };
  /** `count` invocations on `concurrency` lanes; `each` sees every completed one. */
  const phase = async (count: number, each: (done: { report: InvocationReport; cold: boolean }) => void): Promise<void> => {
    let next = 0;
    const lane = async () => {
      while (next < count && !interrupted && !failed) {
        next++;
        try {
          each(await call());
        } catch (err) {
          // An invocation aborted by Ctrl-C is not a failure of the run.
          if (interrupted && err instanceof CwasiError && err.code === 'E_ABORTED') return;
          failed = true; // the other lanes launch nothing more
          throw err;
        }
      }
    };
    // Every lane settles before the run reports, so nothing is left running.
    const settled = await Promise.allSettled(Array.from({ length: Math.min(o.concurrency, count) }, lane));
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (rejected !== undefined) throw rejected.reason;
  };
  try {
    await phase(o.warmup, () => {});
    const started = performance.now();
    await phase(o.repeat, ({ report, cold }) => {
      outcome.first ??= report;
      outcome.completed++;
      if (!cold) outcome.latencies.push(report.latencyMs);
    });
    outcome.wallMs = performance.now() - started;
  } finally {
    process.removeListener('SIGINT', onSigint);
    outcome.interrupted = interrupted;
  }
  return outcome;
}
