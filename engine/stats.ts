// Latency summaries: ONE shape, made by ONE recorder, for engine.stats(),
// `cwasi run --json` and every benchmark row, so that numbers from any of
// them can be compared field by field.
//
//   { count, meanMs, p50Ms, p90Ms, p99Ms, maxMs }     all durations in milliseconds
//
// Percentiles come from Node's own HdrHistogram (perf_hooks.createHistogram,
// nanosecond values, 3 significant digits: within 0.1%). A bucket's reported
// value is its upper bound, which can lie above every recorded value, so the
// exact maximum and sum are kept beside it and every percentile is clamped to
// the maximum: p50Ms <= p90Ms <= p99Ms <= maxMs always holds.

import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

export interface LatencySummary {
  /** Durations recorded. */
  count: number;
  /** Arithmetic mean, exact. */
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** The largest duration recorded, exact. */
  maxMs: number;
}

const NS_PER_MS = 1e6;
/** One hour in nanoseconds: the longest duration kept apart (longer ones count as one hour in the percentiles). */
const HIGHEST_NS = 3_600 * 1e9;

/** Rounds to nanoseconds, which is what the histogram resolves. */
function ms(ns: number): number {
  return Math.round(ns) / NS_PER_MS;
}

/** Records durations in milliseconds; `summary()` gives the shared shape. */
export class LatencyRecorder {
  private hist: RecordableHistogram = createHistogram({ lowest: 1, highest: HIGHEST_NS, figures: 3 });
  private n = 0;
  private sumNs = 0;
  private maxNs = 0;

  record(durationMs: number): void {
    if (!Number.isFinite(durationMs)) return;
    const ns = Math.min(HIGHEST_NS, Math.max(1, Math.round(durationMs * NS_PER_MS)));
    this.hist.record(ns);
    this.n++;
    this.sumNs += ns;
    if (ns > this.maxNs) this.maxNs = ns;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };
    const at = (p: number) => Math.min(this.hist.percentile(p), this.maxNs);
    return {
      count: this.n,
      meanMs: ms(this.sumNs / this.n),
      p50Ms: ms(at(50)),
      p90Ms: ms(at(90)),
      p99Ms: ms(at(99)),
      maxMs: ms(this.maxNs),
    };
  }

  reset(): void {
    this.hist.reset();
    this.n = 0;
    this.sumNs = 0;
    this.maxNs = 0;
  }
}

/** The summary of a list of durations in milliseconds (benchmarks, `cwasi run`). */
export function summarize(samplesMs: Iterable<number>): LatencySummary {
  const r = new LatencyRecorder();
  for (const s of samplesMs) r.record(s);
  return r.summary();
}
