// Shared pieces of the benchmarks: the report they return to `cwasi bench`
// (its types are the command's, engine/cli/bench-report.ts, where the JSON
// document is drawn), latency statistics, the machine description and the
// progress bar the command hands them.
//
// latencyMs is engine/stats.ts's LatencySummary, the shape engine.stats() and
// `cwasi run --json` report too.
// `throughputPaperRps` is the paper's 1 / mean latency; `throughputRps` counts
// completed invocations per second (with concurrency where the bench uses it).
// Reference rows measured in the same run carry their own mode names
// (memcpy, piscina-raw, raw-tcp).

import { cpus, availableParallelism, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import type { LatencySummary } from 'cwasi';
import { summarize, type BenchMeta, type BenchOptions, type BenchResult, type Progress } from 'cwasi/primitives';

export type { Benchmark, BenchMeta, BenchOptions, BenchReport, BenchResult, Goal, LinkRate, Progress } from 'cwasi/primitives';

export function meta(command: string, extra: Record<string, unknown> = {}): BenchMeta {
  const c = cpus();
  return {
    node: process.version,
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString(),
    command,
    ...extra,
  };
}

/** The shared latency summary of samples in milliseconds. */
export function stats(samplesMs: number[]): LatencySummary {
  return summarize(samplesMs);
}

export function round(n: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A small deterministic PRNG (mulberry32): seeded inputs of benches and tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Run `call` untimed until its code is optimised and any adaptive polling has
 * settled: at least `minCalls` calls and `minMs` milliseconds.
 */
export async function warmUp(call: () => Promise<unknown>, minCalls: number, minMs: number): Promise<void> {
  const end = performance.now() + minMs;
  for (let i = 0; i < minCalls || performance.now() < end; i++) await call();
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[s.length >> 1]!;
}

/** A result row from latency samples; `bytes` per execution gives GB/s from the median. */
export function row(bench: string, mode: string, payloadBytes: number, samplesMs: number[], extra: Partial<BenchResult> = {}): BenchResult {
  const latencyMs = stats(samplesMs);
  return {
    bench,
    mode,
    payloadBytes,
    executions: samplesMs.length,
    latencyMs,
    throughputRps: extra.throughputRps ?? (latencyMs.meanMs > 0 ? round(1000 / latencyMs.meanMs, 2) : 0),
    throughputPaperRps: latencyMs.meanMs > 0 ? round(1000 / latencyMs.meanMs, 2) : 0,
    gbPerSec: payloadBytes > 0 && latencyMs.p50Ms > 0 ? round(payloadBytes / (latencyMs.p50Ms / 1000) / 1e9, 3) : null,
    ...extra,
  };
}

/** A payload size as goal names write it: 2097152 → "2 MiB", 1536 → "1.5 KiB", 100 → "100 B". */
export function sizeLabel(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** The bar `cwasi bench` hands the benchmark (BenchOptions.progress), or one that draws nothing. */
export function progress(bar: BenchOptions['progress'], total: number, label: string): Progress {
  return bar?.(total, label) ?? { tick() {}, stop() {} };
}

/** Bounded loop helper: run `fn` `count` times or until `budgetMs` passed (at least `min` times). */
export async function repeat(count: number, budgetMs: number, min: number, fn: (i: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  let i = 0;
  for (; i < count; i++) {
    if (i >= min && performance.now() - start > budgetMs) break;
    await fn(i);
  }
  return i;
}

/** /proc's page unit (x86-64 and arm64 Linux default). */
const PAGE_BYTES = 4096;

/** Peak RSS of this process (its worker threads included) from creation to stop(): sampled every `everyMs` and at each sample() call. */
export class RssPeak {
  peak: number;
  private readonly timer: NodeJS.Timeout;
  /** `pids`: other processes whose RSS counts too (read from /proc; one that is gone counts 0). */
  constructor(everyMs = 5, private readonly pids: readonly number[] = []) {
    this.peak = this.now();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  sample(): void {
    const r = this.now();
    if (r > this.peak) this.peak = r;
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
  private now(): number {
    let r = process.memoryUsage.rss();
    for (const pid of this.pids) {
      try {
        // statm: size resident shared ... in pages.
        r += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_BYTES;
      } catch {
        // gone
      }
    }
    return r;
  }
}
