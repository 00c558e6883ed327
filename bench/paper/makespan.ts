// Fan-out and fan-in timing of one invocation, from its step timestamps
// (StepReport: `inputReady` = the step's input complete in its memory, `done` =
// its run finished; both ms on the performance.timeOrigin clock, so steps on
// different threads compare). Pure functions of the report's steps, so that the
// paper bench and its tests read the same figures.
//
//   makespan     first producer's start → last consumer done. A producer has
//                no inbound edge: its `inputReady` is when it started.
//   consumer run one consumer's own run, `done − inputReady`
//   consumer sum the consumers' runs added up: the work N consumers do. With T
//                workers and no other overhead, makespan ≈ producer run +
//                consumer sum ÷ T, so a makespan close to the sum shows
//                consumers running one after another (queueing), not the
//                handoff.

import { CwasiError } from 'cwasi';

/** The timestamps of one step of an invocation report (engine/dispatch/types.ts StepReport). */
export interface StepTimes {
  fn: string;
  inputReady: number;
  done: number;
}

export interface FanTiming {
  /** First producer start → last consumer done (ms). */
  makespanMs: number;
  /** Each consumer's own run (ms), in the order of `consumers`. */
  consumerRunMs: number[];
  /** The consumers' runs added up (ms). */
  consumerSumMs: number;
  /** The most consumers running at one time (1 = one after another). */
  peakConcurrent: number;
}

function stepOf(at: ReadonlyMap<string, StepTimes>, fn: string): StepTimes {
  const s = at.get(fn);
  if (s === undefined) throw new CwasiError('E_CONFIG', `no step for function "${fn}" in the invocation report`);
  if (!Number.isFinite(s.inputReady) || !Number.isFinite(s.done) || s.done < s.inputReady) {
    throw new CwasiError('E_CONFIG', `step "${fn}" has bad timestamps (inputReady ${s.inputReady}, done ${s.done})`);
  }
  return s;
}

/** The timing of one fan-out or fan-in invocation from its steps. */
export function fanTiming(steps: readonly StepTimes[], producers: readonly string[], consumers: readonly string[]): FanTiming {
  if (producers.length === 0 || consumers.length === 0) throw new CwasiError('E_CONFIG', 'fanTiming needs at least one producer and one consumer');
  const at = new Map(steps.map((s) => [s.fn, s]));
  const p = producers.map((fn) => stepOf(at, fn));
  const c = consumers.map((fn) => stepOf(at, fn));
  const start = Math.min(...p.map((s) => s.inputReady));
  const end = Math.max(...c.map((s) => s.done));
  const consumerRunMs = c.map((s) => s.done - s.inputReady);
  // Sweep of starts (+1) and ends (-1); at equal times an end comes first, so back-to-back runs do not count as overlapping.
  const events = c.flatMap((s) => [[s.inputReady, 1], [s.done, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let peak = 0;
  for (const [, d] of events) {
    running += d;
    if (running > peak) peak = running;
  }
  return {
    makespanMs: end - start,
    consumerRunMs,
    consumerSumMs: consumerRunMs.reduce((a, b) => a + b, 0),
    peakConcurrent: peak,
  };
}
