// Shared pieces of the benchmarks: the report format, latency statistics, the
// machine description and (from engine/cli/progress.ts) a progress bar on
// terminals.
//
// Report JSON:
//   { "schemaVersion": 1,
//     "meta": { node, cpu, cores, date, command, ... },
//     "results": [ { bench, mode, payloadBytes, executions,
//                    latencyMs: { count, meanMs, p50Ms, p90Ms, p99Ms, maxMs },
//                    throughputRps, throughputPaperRps, gbPerSec, ... } ],
//     "goals": [ { name, target, measured, pass } ] }
// latencyMs is engine/stats.ts's LatencySummary, the shape engine.stats() and
// `cwasi run --json` report too.
// `throughputPaperRps` is the paper's 1 / mean latency; `throughputRps` counts
// completed invocations per second (with concurrency where the bench uses it).
// Reference rows measured in the same run carry their own mode names
// (memcpy, piscina-raw, raw-tcp).

import { cpus, availableParallelism, totalmem } from 'node:os';
import { summarize, type LatencySummary } from '../engine/stats.js';
import { JSON_SCHEMA_VERSION } from '../engine/cli/json.js';
import type { LinkRate } from '../engine/cli/format.js';

export interface BenchResult {
  bench: string;
  mode: string;
  payloadBytes: number;
  executions: number;
  latencyMs: LatencySummary;
  throughputRps: number;
  throughputPaperRps: number;
  gbPerSec: number | null;
  /** What the latency measures (e.g. "handoff", "end-to-end", "transfer"). */
  metric?: string;
  [extra: string]: unknown;
}

export interface Goal {
  name: string;
  target: string;
  measured: string;
  pass: boolean;
}

export interface BenchMeta {
  node: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  date: string;
  command: string;
  [extra: string]: unknown;
}

export interface BenchReport {
  /** Version of the JSON document's shape (benches that set it put it first). */
  schemaVersion?: number;
  meta: BenchMeta;
  results: BenchResult[];
  goals: Goal[];
  notes?: string[];
  /** A table the bench formats itself (printed instead of the generic one; not written to JSON). */
  table?: string;
}

export interface BenchOptions {
  sizes?: number[];
  quick: boolean;
  executions?: number;
  concurrency?: number;
  threads?: number;
  /** `--threads 1,2,4`: pool sizes to sweep in one run (benches that sweep; `threads` is then the first). */
  threadSweep?: number[];
  out?: string;
  modes?: string[];
  /** `--netns`: run the nodes in network namespaces (benches that cross hosts). */
  netns?: boolean;
  /** `--link RATE`: shape the namespace links to this rate (with `netns`). */
  link?: LinkRate;
  progress: boolean;
  command: string;
  log: (line: string) => void;
}

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

/** The report as the JSON document `cwasi bench --json` prints: `schemaVersion` first, no text table. */
export function reportJson(report: BenchReport): string {
  const { table: _table, ...json } = report;
  return JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, ...json }, null, 2);
}


// The progress bar lives with the CLI, which shows it for `cwasi run` too.
export { progress } from '../engine/cli/progress.js';

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
