// Latency histograms (HdrHistogram, microsecond resolution) and their summaries.

import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Records durations in milliseconds, keeps them as microseconds up to one hour. */
export class LatencyRecorder {
  private readonly hist = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  record(ms: number): void {
    this.hist.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.hist.totalCount;
  }

  summary(): LatencySummary {
    const h = this.hist;
    const us = (v: number) => Math.round(v) / 1000;
    if (h.totalCount === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };
    return {
      count: h.totalCount,
      meanMs: us(h.mean),
      p50Ms: us(h.getValueAtPercentile(50)),
      p90Ms: us(h.getValueAtPercentile(90)),
      p99Ms: us(h.getValueAtPercentile(99)),
      maxMs: us(h.maxValue),
    };
  }

  reset(): void {
    this.hist.reset();
  }
}
