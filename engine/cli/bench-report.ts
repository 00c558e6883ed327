// What `cwasi bench` and a benchmark exchange: the options the command parses
// and hands to the benchmark's entry point, and the report the benchmark
// returns for the command to print (and, with --json, to write). Types only;
// the benchmarks (dist/bench/) implement `Benchmark` and are loaded by the
// command on demand (cli/bench.ts).
//
// Report JSON (`--json` on stdout, `--out DIR` as DIR/<name>.json):
//   { "schemaVersion": 1,
//     "meta": { node, cpu, cores, date, command, ... },
//     "results": [ { bench, mode, payloadBytes, executions,
//                    latencyMs: { count, meanMs, p50Ms, p90Ms, p99Ms, maxMs },
//                    throughputRps, throughputPaperRps, gbPerSec, ... } ],
//     "goals": [ { name, target, measured, pass } ] }

import type { LatencySummary } from '../stats.js';
import type { LinkRate } from './format.js';
import type { Progress } from './progress.js';

export type { LinkRate, Progress };

export interface BenchResult {
  bench: string;
  mode: string;
  payloadBytes: number;
  executions: number;
  /** The engine's latency summary (stats.ts), as `engine.stats()` and `cwasi run --json` report it. */
  latencyMs: LatencySummary;
  /** Completed invocations per second (with concurrency where the bench uses it). */
  throughputRps: number;
  /** The paper's 1 / mean latency. */
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
  json?: string;
  out?: string;
  modes?: string[];
  /** `--experiments a,b`: only these experiments (benches that run several, e.g. paper's fan-out). */
  experiments?: string[];
  /** `--netns`: run the nodes in network namespaces (benches that cross hosts). */
  netns?: boolean;
  /** `--link RATE`: shape the namespace links to this rate (with `netns`). */
  link?: LinkRate;
  /**
   * A progress bar of `total` steps, drawn by the command on its terminal;
   * absent, the benchmark shows none.
   */
  progress?: (total: number, label: string) => Progress;
  command: string;
  log: (line: string) => void;
}

/** A benchmark's entry point. */
export type Benchmark = (opts: BenchOptions) => Promise<BenchReport>;
