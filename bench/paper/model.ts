// The comparison model of `cwasi bench paper`: which of the CWASI paper's
// published numbers (bench/paper/reference.ts, from bench/reference/cwasi-paper.csv)
// stand beside each measured row, and the speed-ups over the paper's CWASI.
// Pure functions of the rows and the reference; the text table (tables.ts), the
// goals (goals.ts), the plots (plots.ts) and the HTML page (html.ts) all read
// their numbers through this module.
//
// Metric per experiment, here vs published:
//   sequential            latencyMs.meanMs        vs latency_mean (executions "1")
//                         throughputPaperRps    vs throughput_paper
//   fan-out / fan-in      latencyMs.meanMs        vs latency_mean over "4-500" executions
//                         (the 2024 reproduction where it has the same N: "10", "100")
//   fan-out-by-size       sumOf10Ms, else 10 × latencyMs.meanMs  vs latency_sum_of_10
//   sequential-cross-node endToEndMs.meanMs       vs duration_mean (functions on two hosts)
// Ratios are speed-ups over the paper's CWASI, so above 1 is better for both:
// latency CWASI ÷ here, throughput here ÷ CWASI.

import type { BenchResult } from '../common.js';
import type { IfcMode, LatencySummary } from 'cwasi';
import { PAPER_SYSTEMS, paperRows, paperValue, type PaperExperiment, type PaperRow } from './reference.js';

export type { PaperExperiment } from './reference.js';

export const MIB = 2 ** 20;

/** The shared latency summary (engine/stats.ts). */
export type MsSummary = LatencySummary;

/** One measured row of `cwasi bench paper`: a BenchResult with the paper's experiment axes. */
export interface PaperBenchRow extends BenchResult {
  experiment: PaperExperiment;
  mode: IfcMode;
  payloadBytes: number;
  /** Number of targets (fan-out) or sources (fan-in); 1 for sequential. */
  n: number;
  /** Measured as the paper did: caller starts sending → callee has the payload (callee run excluded). */
  latencyMs: BenchResult['latencyMs'];
  /** Whole invocation, including the callee's run. */
  endToEndMs: MsSummary;
  /** The paper's throughput: 1 / mean latency. */
  throughputPaperRps: number;
  /** Real throughput: completed invocations per second, with concurrency. */
  throughputRps: number;
  cpuMs: number;
  peakRssBytes: number;
  /** fan-out-by-size: the sum of 10 sequential sends, when measured as such (else 10 × latencyMs.meanMs is used). */
  sumOf10Ms?: number;
  /** Worker threads of the engine that measured the row (set in every row; `--threads 1,2,4` sweeps). */
  threads?: number;
  /** fan-out / fan-in: per invocation, first producer start → last consumer done (makespan.ts). */
  makespanMs?: MsSummary;
  /** fan-out / fan-in: each consumer's own run, over every consumer of every invocation. */
  consumerRunMs?: MsSummary;
  /** fan-out / fan-in: mean over invocations of the consumers' runs added up. */
  consumerSumMs?: number;
  /** fan-out / fan-in: the most consumers running at one time, over the invocations. */
  peakConcurrent?: number;
}

/** The order of the paper's experiments, in tables and plot legends. */
export const EXPERIMENT_ORDER: readonly PaperExperiment[] = ['sequential', 'fan-out', 'fan-in', 'fan-out-by-size', 'sequential-cross-node'];
/** The order rows, series and caveats are listed in. */
export const MODE_ORDER: readonly IfcMode[] = ['embedded', 'local', 'networked', 'remote-kv', 'copy'];

/** The published systems compared on one experiment. */
export interface SystemSet {
  cwasi: string;
  openfaas: string;
  wasmedge: string;
}

function systemsFor(experiment: PaperExperiment): SystemSet {
  return experiment === 'sequential-cross-node'
    ? { cwasi: PAPER_SYSTEMS.cwasiNetworkedRedis, openfaas: PAPER_SYSTEMS.openfaasRemote, wasmedge: PAPER_SYSTEMS.wasmedgeRedis }
    : { cwasi: PAPER_SYSTEMS.cwasi, openfaas: PAPER_SYSTEMS.openfaas, wasmedge: PAPER_SYSTEMS.wasmedgeHttp };
}

/** The `executions` value of the paper's own rows for an experiment. */
function paperExecutions(experiment: PaperExperiment): string {
  switch (experiment) {
    case 'fan-out':
    case 'fan-in':
      return '4-500';
    case 'fan-out-by-size':
      return '10';
    default:
      return '1';
  }
}

/** The reproduction's `executions` for a measured row (its fan-out/fan-in rows are per N). */
function reproductionExecutions(experiment: PaperExperiment, n: number): string {
  return experiment === 'fan-out' || experiment === 'fan-in' ? String(n) : paperExecutions(experiment);
}

export function latencyMetricOf(experiment: PaperExperiment): 'latency_mean' | 'latency_sum_of_10' | 'duration_mean' {
  if (experiment === 'fan-out-by-size') return 'latency_sum_of_10';
  if (experiment === 'sequential-cross-node') return 'duration_mean';
  return 'latency_mean';
}

/** The measured number that stands beside the paper's latency metric. */
export function measuredLatencyMs(row: PaperBenchRow): number {
  switch (row.experiment) {
    case 'fan-out-by-size':
      return row.sumOf10Ms ?? 10 * row.latencyMs.meanMs;
    case 'sequential-cross-node':
      return row.endToEndMs.meanMs;
    default:
      return row.latencyMs.meanMs;
  }
}

/** Published values for one system; undefined where the source has none. */
export interface PublishedPair {
  latencyMs: number | undefined;
  throughputRps: number | undefined;
}

/** One measured row beside the published numbers for the same experiment and size. */
export interface PaperComparison {
  experiment: PaperExperiment;
  mode: IfcMode;
  payloadMiB: number;
  n: number;
  /** The paper metric the latency columns hold. */
  latencyMetric: string;
  /** Executions of the paper's rows compared against ("1", "4-500", "10"). */
  paperExecutions: string;
  here: { latencyMs: number; throughputPaperRps: number; throughputRps: number };
  cwasi: PublishedPair;
  openfaas: PublishedPair;
  wasmedge: PublishedPair;
  reproduction: PublishedPair;
  /** CWASI latency ÷ measured latency: above 1 = faster here. */
  latencyRatio: number | undefined;
  /** Measured paper throughput ÷ CWASI's: above 1 = more here. */
  throughputRatio: number | undefined;
  /** Names of the published systems in the CWASI / OpenFaaS / WasmEdge columns. */
  systems: SystemSet;
}

function published(experiment: PaperExperiment, mib: number, system: string, executions: string, ref: readonly PaperRow[]): PublishedPair {
  return {
    latencyMs: paperValue(experiment, mib, latencyMetricOf(experiment), system, executions, ref),
    throughputRps: paperValue(experiment, mib, 'throughput_paper', system, executions, ref),
  };
}

/** num ÷ den, or undefined unless both are finite and positive. */
export function ratio(num: number | undefined, den: number | undefined): number | undefined {
  if (num === undefined || den === undefined || !Number.isFinite(num) || !Number.isFinite(den) || den <= 0 || num <= 0) return undefined;
  return num / den;
}

/** Rows by experiment, payload size, N, then mode. */
export function sortRows(rows: readonly PaperBenchRow[]): PaperBenchRow[] {
  const rank = (list: readonly string[], v: string) => {
    const i = list.indexOf(v);
    return i < 0 ? list.length : i;
  };
  return [...rows].sort((a, b) =>
    rank(EXPERIMENT_ORDER, a.experiment) - rank(EXPERIMENT_ORDER, b.experiment) ||
    a.payloadBytes - b.payloadBytes ||
    a.n - b.n ||
    rank(MODE_ORDER, a.mode) - rank(MODE_ORDER, b.mode) ||
    (a.threads ?? 0) - (b.threads ?? 0));
}

/** Every measured row (sorted by experiment, size, N, mode) beside the published numbers. */
export function paperComparison(rows: readonly PaperBenchRow[], ref: readonly PaperRow[] = paperRows()): PaperComparison[] {
  return sortRows(rows).map((row) => {
    const mib = row.payloadBytes / MIB;
    const systems = systemsFor(row.experiment);
    const exec = paperExecutions(row.experiment);
    const cwasi = published(row.experiment, mib, systems.cwasi, exec, ref);
    const here = { latencyMs: measuredLatencyMs(row), throughputPaperRps: row.throughputPaperRps, throughputRps: row.throughputRps };
    return {
      experiment: row.experiment,
      mode: row.mode,
      payloadMiB: mib,
      n: row.n,
      latencyMetric: latencyMetricOf(row.experiment),
      paperExecutions: exec,
      here,
      cwasi,
      openfaas: published(row.experiment, mib, systems.openfaas, exec, ref),
      wasmedge: published(row.experiment, mib, systems.wasmedge, exec, ref),
      reproduction: row.experiment === 'sequential-cross-node'
        ? { latencyMs: undefined, throughputRps: undefined }
        : published(row.experiment, mib, PAPER_SYSTEMS.reproduction, reproductionExecutions(row.experiment, row.n), ref),
      latencyRatio: ratio(cwasi.latencyMs, here.latencyMs),
      throughputRatio: ratio(here.throughputPaperRps, cwasi.throughputRps),
      systems,
    };
  });
}
