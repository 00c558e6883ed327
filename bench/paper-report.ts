// The reporting half of `cwasi bench paper`: pure functions that turn measured
// rows plus the CWASI paper's published numbers (bench/paper-reference.ts) into
//   - a terminal comparison table (paperTable),
//   - the paper-bench goals of DESIGN §5 (goalsFor),
//   - SVG plots rendered headlessly with vega-lite + vega (renderSvgPlots; those two
//     are optional and loaded on first use, bench/plot-renderer.ts),
//   - one self-contained HTML page (renderHtml) and the files on disk (writeReport).
// Nothing here measures anything; every function is a function of its inputs and
// of the bundled reference CSV.
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

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { plotRenderer, type VegaLiteSpec } from './plot-renderer.js';
import type { BenchMeta, BenchResult, Goal } from './common.js';
import type { LatencySummary } from '../engine/stats.js';
import type { IfcMode } from '../engine/selection.js';
import { PAPER_SYSTEMS, paperRows, paperValue, sameMiB, type PaperExperiment, type PaperRow } from './paper-reference.js';

export type { PaperExperiment } from './paper-reference.js';

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
}

const EXPERIMENT_ORDER: readonly PaperExperiment[] = ['sequential', 'fan-out', 'fan-in', 'fan-out-by-size', 'sequential-cross-node'];
const MODE_ORDER: readonly IfcMode[] = ['embedded', 'local', 'networked', 'remote-kv', 'copy'];

/** What each mode isolates (the HTML caveats). */
export const MODE_NOTES: Readonly<Record<IfcMode, string>> = {
  embedded: 'caller and callee instantiated on one shared WebAssembly.Memory: the callee reads the caller\'s bytes in place (zero copy); measures the dispatch and handoff cost only.',
  local: 'functions in separate memories on one host: the host copies the payload across once — inside one worker for a sequential edge, or from the producer\'s memory on one worker into the consumer\'s on another, the descriptor passed through an Atomics-synchronised SharedArrayBuffer ring.',
  networked: 'direct authenticated TCP between engine nodes with length-prefixed frames (on this machine: loopback unless the meta says otherwise).',
  'remote-kv': 'the platform-without-CWASI baseline: the caller SETs the payload in Redis, the callee GETs it.',
  copy: 'what plain Node code would do: bytes copied out of the producer, posted (structured clone) through the main thread and copied into the consumer.',
};

// ───────────────────────────── comparison ─────────────────────────────

/** The published systems compared on one experiment. */
interface SystemSet {
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

function ratio(num: number | undefined, den: number | undefined): number | undefined {
  if (num === undefined || den === undefined || !Number.isFinite(num) || !Number.isFinite(den) || den <= 0 || num <= 0) return undefined;
  return num / den;
}

function sortRows(rows: readonly PaperBenchRow[]): PaperBenchRow[] {
  const rank = (list: readonly string[], v: string) => {
    const i = list.indexOf(v);
    return i < 0 ? list.length : i;
  };
  return [...rows].sort((a, b) =>
    rank(EXPERIMENT_ORDER, a.experiment) - rank(EXPERIMENT_ORDER, b.experiment) ||
    a.payloadBytes - b.payloadBytes ||
    a.n - b.n ||
    rank(MODE_ORDER, a.mode) - rank(MODE_ORDER, b.mode));
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

// ───────────────────────────── formatting ─────────────────────────────

export const MISSING = '–';

/** Three significant digits, no exponent for ordinary magnitudes; "–" for missing values. */
export function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return MISSING;
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return String(Math.round(v));
  if (a < 1e-4) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/** A published value exactly as the reference file has it; "–" when missing. */
export function fmtPaper(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? MISSING : String(v);
}

export function fmtRatio(v: number | undefined): string {
  return v === undefined ? MISSING : `${fmt(v)}×`;
}

function fmtMiB(mib: number): string {
  return String(Number(mib.toPrecision(4)));
}

const METRIC_SHORT: Record<string, string> = {
  latency_mean: 'mean',
  latency_sum_of_10: 'sum of 10',
  duration_mean: 'end-to-end',
};

interface Column {
  head: string;
  right: boolean;
}

function textTable(columns: readonly Column[], body: readonly string[][]): string[] {
  const widths = columns.map((c, i) => Math.max(c.head.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (columns[i]!.right ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.head)), widths.map((w) => '─'.repeat(w)).join('  '), ...body.map(line)];
}

/**
 * The terminal table: one line per measured row, with the paper's CWASI, OpenFaaS and
 * WasmEdge-HTTP numbers (and the 2024 reproduction) for the same experiment and size.
 */
export function paperTable(rows: readonly PaperBenchRow[]): string {
  const cmp = paperComparison(rows);
  const columns: Column[] = [
    { head: 'experiment', right: false },
    { head: 'MiB', right: true },
    { head: 'N', right: true },
    { head: 'mode', right: false },
    { head: 'latency', right: false },
    { head: 'here ms', right: true },
    { head: 'CWASI', right: true },
    { head: 'OpenFaaS', right: true },
    { head: 'WasmEdge', right: true },
    { head: 'repro', right: true },
    { head: 'lat ×CWASI', right: true },
    { head: 'here req/s', right: true },
    { head: 'CWASI', right: true },
    { head: 'OpenFaaS', right: true },
    { head: 'WasmEdge', right: true },
    { head: 'repro', right: true },
    { head: 'thr ×CWASI', right: true },
    { head: 'real req/s', right: true },
  ];
  const body = cmp.map((c) => [
    c.experiment,
    fmtMiB(c.payloadMiB),
    String(c.n),
    c.mode,
    METRIC_SHORT[c.latencyMetric] ?? c.latencyMetric,
    fmt(c.here.latencyMs),
    fmtPaper(c.cwasi.latencyMs),
    fmtPaper(c.openfaas.latencyMs),
    fmtPaper(c.wasmedge.latencyMs),
    fmtPaper(c.reproduction.latencyMs),
    fmtRatio(c.latencyRatio),
    fmt(c.here.throughputPaperRps),
    fmtPaper(c.cwasi.throughputRps),
    fmtPaper(c.openfaas.throughputRps),
    fmtPaper(c.wasmedge.throughputRps),
    fmtPaper(c.reproduction.throughputRps),
    fmtRatio(c.throughputRatio),
    fmt(c.here.throughputRps),
  ]);
  return [
    'cwasi beside the CWASI paper (SEC 2023). Latency in ms, throughput in req/s.',
    'Published columns (CWASI, OpenFaaS, WasmEdge, repro = 2024 reproduction) are copied from bench/reference/cwasi-paper.csv; "here" is this run.',
    '×CWASI = speed-up over the paper\'s CWASI, higher is better: latency CWASI ÷ here, throughput here ÷ CWASI. – = no published value.',
    '',
    ...textTable(columns, body),
    '',
    'latency: mean = caller starts sending → callee has the payload (callee run excluded); sum of 10 = 10 sequential sends added up',
    '  (fan-out-by-size); end-to-end = one cross-host exchange (sequential-cross-node: CWASI = networked Redis, OpenFaaS = remote,',
    '  WasmEdge = Redis). fan-out/fan-in compare with the paper\'s mean over 4–500 executions and the reproduction\'s run at the same N.',
    'here req/s = the paper\'s throughput, 1 / mean latency (not offered load); real req/s = completed invocations per second with concurrency.',
  ].join('\n');
}

// ───────────────────────────── goals ─────────────────────────────

function findRow(rows: readonly PaperBenchRow[], experiment: PaperExperiment, mode: string, mib: number): PaperBenchRow | undefined {
  return rows.find((r) => r.experiment === experiment && r.mode === mode && sameMiB(r.payloadBytes / MIB, mib));
}

function requiredPaper(experiment: string, mib: number, metric: string, system: string, executions: string): number {
  const v = paperValue(experiment, mib, metric, system, executions);
  if (v === undefined) throw new Error(`paper reference has no ${experiment} ${mib} MiB ${metric} for ${system}`);
  return v;
}

/**
 * The DESIGN §5 workflow goals, from the measured rows (paper throughput = 1 / mean latency):
 * sequential 2 MiB ≥ 20× CWASI's and 100 MiB ≥ 10× CWASI's for `embedded` and `local`, and
 * both ≥ 30× `remote-kv` at sequential 2 MiB in the same run. A row that was not measured
 * makes its goal fail, saying so.
 */
export function goalsFor(rows: readonly PaperBenchRow[]): Goal[] {
  const goals: Goal[] = [];
  const coLocated = ['embedded', 'local'] as const;
  for (const [mib, factor] of [[2, 20], [100, 10]] as const) {
    const ref = requiredPaper('sequential', mib, 'throughput_paper', PAPER_SYSTEMS.cwasi, '1');
    const target = factor * ref;
    for (const mode of coLocated) {
      const row = findRow(rows, 'sequential', mode, mib);
      const thr = row?.throughputPaperRps;
      goals.push({
        name: `sequential ${mib} MiB, ${mode}: paper throughput ≥ ${factor}× CWASI`,
        target: `≥ ${fmt(target)} req/s (${factor} × CWASI's ${fmtPaper(ref)} req/s)`,
        measured: thr === undefined ? 'not measured in this run' : `${fmt(thr)} req/s (${fmt(thr / ref)}× CWASI)`,
        pass: thr !== undefined && thr >= target,
      });
    }
  }
  const kv = findRow(rows, 'sequential', 'remote-kv', 2)?.throughputPaperRps;
  for (const mode of coLocated) {
    const thr = findRow(rows, 'sequential', mode, 2)?.throughputPaperRps;
    const r = ratio(thr, kv);
    let measured: string;
    if (thr === undefined) measured = `${mode} not measured in this run`;
    else if (kv === undefined || kv <= 0) measured = 'remote-kv not measured in this run';
    else measured = `${fmt(r)}× (${mode} ${fmt(thr)} req/s, remote-kv ${fmt(kv)} req/s)`;
    goals.push({
      name: `sequential 2 MiB, ${mode}: ≥ 30× remote-kv (same run)`,
      target: '≥ 30× remote-kv paper throughput',
      measured,
      pass: r !== undefined && r >= 30,
    });
  }
  return goals;
}

// ───────────────────────────── plots ─────────────────────────────

export interface SvgPlot {
  name: string;
  title: string;
  /** What the plotted metric isolates (also inside the SVG, under the title). */
  caption: string;
  svg: string;
}

const SOURCE_HERE = 'measured here';
const SOURCE_PAPER = 'published';

interface Point {
  series: string;
  source: string;
  x: number;
  y: number;
}

const PUBLISHED_LABEL: Record<string, string> = {
  [PAPER_SYSTEMS.cwasi]: 'CWASI (paper)',
  [PAPER_SYSTEMS.openfaas]: 'OpenFaaS (paper)',
  [PAPER_SYSTEMS.wasmedgeHttp]: 'WasmEdge-HTTP (paper)',
  [PAPER_SYSTEMS.reproduction]: 'CWASI reproduction 2024',
  [PAPER_SYSTEMS.cwasiNetworkedRedis]: 'CWASI networked Redis (paper)',
  [PAPER_SYSTEMS.wasmedgeRedis]: 'WasmEdge Redis (paper)',
  [PAPER_SYSTEMS.openfaasRemote]: 'OpenFaaS remote (paper)',
};

/** Fixed colours so a series looks the same on every plot. */
const SERIES_COLOR: Record<string, string> = {
  'cwasi embedded': '#1f77b4',
  'cwasi local': '#2ca02c',
  'cwasi networked': '#9467bd',
  'cwasi remote-kv': '#d62728',
  'cwasi copy': '#8c564b',
  'CWASI (paper)': '#ff7f0e',
  'OpenFaaS (paper)': '#7f7f7f',
  'WasmEdge-HTTP (paper)': '#bcbd22',
  'CWASI reproduction 2024': '#17becf',
  'CWASI networked Redis (paper)': '#ff7f0e',
  'WasmEdge Redis (paper)': '#bcbd22',
  'OpenFaaS remote (paper)': '#7f7f7f',
};
const SPARE_COLORS = ['#e377c2', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd', '#e6550d'];

/** Measured series first, in mode order, then published ones in the order they came. */
function orderSeries(names: readonly string[]): string[] {
  const unique = [...new Set(names)];
  const modeRank = (s: string) => {
    const i = MODE_ORDER.findIndex((m) => s === `cwasi ${m}` || s.startsWith(`cwasi ${m} (`));
    return i < 0 ? MODE_ORDER.length : i;
  };
  return unique
    .map((s, i) => ({ s, i }))
    .sort((a, b) => modeRank(a.s) - modeRank(b.s) || a.i - b.i)
    .map((x) => x.s);
}

function colorsFor(series: readonly string[]): string[] {
  let spare = 0;
  return series.map((s) => SERIES_COLOR[s] ?? SPARE_COLORS[spare++ % SPARE_COLORS.length]!);
}

/** Splits a caption into lines of at most `width` characters (SVG text does not wrap). */
function wrap(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function uniqueSorted(xs: readonly number[]): number[] {
  return [...new Set(xs)].sort((a, b) => a - b);
}

const WIDTH = 620;
const HEIGHT = 340;

const BASE_CONFIG = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: '#444', anchor: 'start' as const, offset: 10 },
  axis: { titleFontSize: 12, labelFontSize: 11, grid: true, gridColor: '#e6e6e6' },
  legend: { titleFontSize: 12, labelFontSize: 11, labelLimit: 260 },
  view: { stroke: '#bbb' },
};

interface LineSpecOptions {
  title: string;
  caption: string;
  xTitle: string;
  yTitle: string;
  points: readonly Point[];
  xLog: boolean;
}

/** Lines with points, one per series; colour = series, dash = measured here / published; log y. */
function lineSpec(o: LineSpecOptions): VegaLiteSpec {
  const pts = o.points.filter((p) => p.y > 0 && Number.isFinite(p.y) && (!o.xLog || p.x > 0));
  const series = orderSeries(pts.map((p) => p.series));
  const sources = [SOURCE_HERE, SOURCE_PAPER].filter((s) => pts.some((p) => p.source === s));
  const xs = uniqueSorted(pts.map((p) => p.x));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: o.title, subtitle: wrap(o.caption) },
    width: WIDTH,
    height: HEIGHT,
    config: BASE_CONFIG,
    data: { values: pts.map((p) => ({ ...p })) },
    mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: o.xTitle,
        scale: o.xLog ? { type: 'log' } : { zero: false },
        axis: { values: xs, format: '~g' },
      },
      y: {
        field: 'y',
        type: 'quantitative',
        title: o.yTitle,
        scale: { type: 'log' },
        axis: { format: '~g' },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: 'series',
        scale: { domain: series, range: colorsFor(series) },
        legend: { orient: 'right' },
      },
      strokeDash: {
        field: 'source',
        type: 'nominal',
        title: 'source',
        scale: { domain: sources, range: sources.map((s) => (s === SOURCE_HERE ? [1, 0] : [6, 4])) },
        legend: {
          symbolType: 'stroke',
          symbolStrokeWidth: 2,
          symbolSize: 400,
          encoding: { symbols: { stroke: { value: '#333' }, fill: { value: 'transparent' } } },
        },
      },
      detail: { field: 'series', type: 'nominal' },
    },
  };
}

function publishedPoints(query: { experiment: string; metric: string; systems: readonly string[]; executions?: string; payloadMiB?: number }, xOf: (r: PaperRow) => number[]): Point[] {
  const out: Point[] = [];
  for (const system of query.systems) {
    const q = { experiment: query.experiment, metric: query.metric, system, ...(query.executions === undefined ? {} : { executions: query.executions }), ...(query.payloadMiB === undefined ? {} : { payloadMiB: query.payloadMiB }) };
    for (const r of paperRows(q)) {
      for (const x of xOf(r)) out.push({ series: PUBLISHED_LABEL[r.system] ?? r.system, source: SOURCE_PAPER, x, y: r.value });
    }
  }
  return out;
}

function measuredPoints(rows: readonly PaperBenchRow[], x: (r: PaperBenchRow) => number, y: (r: PaperBenchRow) => number, label: (r: PaperBenchRow) => string = (r) => `cwasi ${r.mode}`): Point[] {
  return sortRows(rows).map((r) => ({ series: label(r), source: SOURCE_HERE, x: x(r), y: y(r) }));
}

/** Executions as x positions: "4-500" becomes a segment from 4 to 500, "10" the point 10. */
function executionsAsX(r: PaperRow): number[] {
  return r.executions.split('-').map(Number);
}

const SEQ_SYSTEMS = [PAPER_SYSTEMS.cwasi, PAPER_SYSTEMS.openfaas, PAPER_SYSTEMS.wasmedgeHttp, PAPER_SYSTEMS.reproduction];
const PAPER_TRIO = [PAPER_SYSTEMS.cwasi, PAPER_SYSTEMS.openfaas, PAPER_SYSTEMS.wasmedgeHttp];

function fanSpec(rows: readonly PaperBenchRow[], experiment: 'fan-out' | 'fan-in'): { title: string; caption: string; spec: VegaLiteSpec } {
  const measured = rows.filter((r) => r.experiment === experiment);
  const sizes = uniqueSorted(measured.map((r) => r.payloadBytes / MIB));
  const label = sizes.length > 1 || (sizes.length === 1 && !sameMiB(sizes[0]!, 2)) ? (r: PaperBenchRow) => `cwasi ${r.mode} (${fmtMiB(r.payloadBytes / MIB)} MiB)` : undefined;
  const who = experiment === 'fan-out' ? 'One caller sends to N callees' : 'N callers send to one callee';
  const title = `${experiment === 'fan-out' ? 'Fan-out' : 'Fan-in'} at 2 MiB: mean latency vs N`;
  const caption = `${who}; latency per transfer from the caller starting to send until the callee has the payload (callee run excluded). ` +
    `The paper's values are means over runs of 4 to 500 executions, drawn as a flat segment from N = 4 to 500; the 2024 reproduction ran N = 10 and 100.`;
  const points = [
    ...measuredPoints(measured, (r) => r.n, (r) => r.latencyMs.meanMs, label),
    ...publishedPoints({ experiment, metric: 'latency_mean', systems: SEQ_SYSTEMS, payloadMiB: 2 }, executionsAsX),
  ];
  return {
    title,
    caption,
    spec: lineSpec({ title, caption, xTitle: 'N, number of callees / callers (log scale)', yTitle: 'mean latency per transfer (ms, log scale)', points, xLog: true }),
  };
}

function realVsPaperSpec(rows: readonly PaperBenchRow[]): { title: string; caption: string; spec: VegaLiteSpec } {
  const title = 'Real throughput vs paper throughput, per mode';
  const caption = 'x: the paper\'s throughput, 1 / mean latency of one transfer at a time; y: completed invocations per second with concurrency ' +
    '(offered load). One point per measured row (every payload size). Points above the dashed diagonal gain from concurrency; below it, ' +
    'concurrent requests slow each other down. All measured here.';
  const pts = sortRows(rows)
    .filter((r) => r.throughputPaperRps > 0 && r.throughputRps > 0)
    .map((r) => ({ series: `cwasi ${r.mode}`, experiment: r.experiment, x: r.throughputPaperRps, y: r.throughputRps }));
  const all = pts.flatMap((p) => [p.x, p.y]);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const series = orderSeries(pts.map((p) => p.series));
  const spec: VegaLiteSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: wrap(caption) },
    width: WIDTH,
    height: HEIGHT,
    config: BASE_CONFIG,
    layer: [
      {
        data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] },
        mark: { type: 'line', color: '#999', strokeDash: [4, 4], strokeWidth: 1 },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'y', type: 'quantitative' },
        },
      },
      {
        data: { values: pts },
        mark: { type: 'point', filled: true, size: 80, opacity: 0.85 },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'paper throughput, 1 / mean latency (req/s, log scale)', scale: { type: 'log' }, axis: { format: '~g' } },
          y: { field: 'y', type: 'quantitative', title: 'real throughput with concurrency (req/s, log scale)', scale: { type: 'log' }, axis: { format: '~g' } },
          color: { field: 'series', type: 'nominal', title: 'series', scale: { domain: series, range: colorsFor(series) } },
          shape: {
            field: 'experiment',
            type: 'nominal',
            title: 'experiment',
            scale: { domain: EXPERIMENT_ORDER.filter((e) => pts.some((p) => p.experiment === e)) },
          },
        },
      },
    ],
  };
  return { title, caption, spec };
}

/** Gives every id in an SVG a prefix, so that several SVGs can be inlined in one page. */
function prefixIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

async function toSvg(spec: VegaLiteSpec, name: string): Promise<string> {
  const render = await plotRenderer();
  return prefixIds(await render(spec), name);
}

/**
 * The plots, as SVG strings: sequential latency and paper throughput vs payload size,
 * fan-out and fan-in latency vs N, fan-out-by-size, real vs paper throughput per mode, and
 * (when networked cross-node rows exist) the cross-node end-to-end time. Plots whose measured
 * data is missing show the published series only; the two that have no published series
 * (real vs paper, cross-node) are left out without measured rows.
 */
export async function renderSvgPlots(rows: readonly PaperBenchRow[]): Promise<SvgPlot[]> {
  const plots: Array<{ name: string; title: string; caption: string; spec: VegaLiteSpec }> = [];
  const seq = rows.filter((r) => r.experiment === 'sequential');
  const mibOf = (r: PaperBenchRow) => r.payloadBytes / MIB;

  {
    const title = 'Sequential: mean latency vs payload size';
    const caption = 'One caller, one callee, one payload at a time. Latency from the caller starting to send until the callee has the ' +
      'payload; the callee\'s own run is excluded, so this isolates the inter-function transfer.';
    plots.push({
      name: 'sequential-latency',
      title,
      caption,
      spec: lineSpec({
        title,
        caption,
        xTitle: 'payload size (MiB, log scale)',
        yTitle: 'mean latency (ms, log scale)',
        points: [...measuredPoints(seq, mibOf, (r) => r.latencyMs.meanMs), ...publishedPoints({ experiment: 'sequential', metric: 'latency_mean', systems: SEQ_SYSTEMS }, (r) => [r.payloadMiB])],
        xLog: true,
      }),
    });
  }
  {
    const title = 'Sequential: throughput (paper definition) vs payload size';
    const caption = 'The paper\'s throughput: requests ÷ sum of their latencies = 1 / mean latency, one transfer at a time. It is not ' +
      'offered load; see the real-vs-paper plot for throughput with concurrency.';
    plots.push({
      name: 'sequential-throughput',
      title,
      caption,
      spec: lineSpec({
        title,
        caption,
        xTitle: 'payload size (MiB, log scale)',
        yTitle: 'throughput, 1 / mean latency (req/s, log scale)',
        points: [...measuredPoints(seq, mibOf, (r) => r.throughputPaperRps), ...publishedPoints({ experiment: 'sequential', metric: 'throughput_paper', systems: SEQ_SYSTEMS }, (r) => [r.payloadMiB])],
        xLog: true,
      }),
    });
  }
  for (const experiment of ['fan-out', 'fan-in'] as const) {
    plots.push({ name: `${experiment}-latency`, ...fanSpec(rows, experiment) });
  }
  {
    const title = 'Fan-out by payload size: sum of 10 sends';
    const caption = 'One caller sends the payload to 10 callees; the latencies of the 10 sends (caller starts sending → callee has ' +
      'the payload) are added up. Measured rows use their reported sum, else 10 × mean latency.';
    plots.push({
      name: 'fan-out-by-size',
      title,
      caption,
      spec: lineSpec({
        title,
        caption,
        xTitle: 'payload size (MiB, log scale)',
        yTitle: 'sum of 10 latencies (ms, log scale)',
        points: [
          ...measuredPoints(rows.filter((r) => r.experiment === 'fan-out-by-size'), mibOf, measuredLatencyMs),
          ...publishedPoints({ experiment: 'fan-out-by-size', metric: 'latency_sum_of_10', systems: PAPER_TRIO }, (r) => [r.payloadMiB]),
        ],
        xLog: true,
      }),
    });
  }
  const cross = rows.filter((r) => r.experiment === 'sequential-cross-node');
  if (cross.length > 0) {
    const title = 'Across hosts: end-to-end time vs payload size';
    const caption = 'Caller and callee on different engine nodes; the whole exchange, end to end. The paper\'s systems went through ' +
      'Redis (CWASI networked buffer, WasmEdge) or remote HTTP (OpenFaaS) between real hosts; cwasi uses direct TCP.';
    plots.push({
      name: 'cross-node',
      title,
      caption,
      spec: lineSpec({
        title,
        caption,
        xTitle: 'payload size (MiB, log scale)',
        yTitle: 'mean end-to-end time (ms, log scale)',
        points: [
          ...measuredPoints(cross, mibOf, (r) => r.endToEndMs.meanMs),
          ...publishedPoints({
            experiment: 'sequential-cross-node',
            metric: 'duration_mean',
            systems: [PAPER_SYSTEMS.cwasiNetworkedRedis, PAPER_SYSTEMS.wasmedgeRedis, PAPER_SYSTEMS.openfaasRemote],
          }, (r) => [r.payloadMiB]),
        ],
        xLog: true,
      }),
    });
  }
  if (rows.some((r) => r.throughputPaperRps > 0 && r.throughputRps > 0)) {
    plots.push({ name: 'real-vs-paper-throughput', ...realVsPaperSpec(rows) });
  }
  const out: SvgPlot[] = [];
  for (const p of plots) out.push({ name: p.name, title: p.title, caption: p.caption, svg: await toSvg(p.spec, p.name) });
  return out;
}

// ───────────────────────────── HTML ─────────────────────────────

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const CSS = `
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #222; margin: 2em auto; max-width: 1200px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.paper, th.paper { background: #faf6ee; color: #555; }
td.better { color: #17692c; font-weight: bold; }
td.worse { color: #a4161a; font-weight: bold; }
.pass { color: #17692c; font-weight: bold; }
.fail { color: #a4161a; font-weight: bold; }
figure { margin: 1.5em 0; }
figcaption { font-size: 13px; color: #444; max-width: 60em; }
.note { color: #555; font-size: 13px; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; }
dl.meta dt { font-weight: bold; }
dl.meta dd { margin: 0; }
`;

function td(text: string, cls = ''): string {
  return `<td${cls === '' ? '' : ` class="${cls}"`}>${escapeHtml(text)}</td>`;
}

function ratioClass(r: number | undefined): string {
  if (r === undefined) return 'num';
  return r >= 1 ? 'num better' : 'num worse';
}

function metaHtml(meta: BenchMeta): string {
  const items = Object.entries(meta).map(([k, v]) => {
    const value = typeof v === 'string' ? v : JSON.stringify(v);
    return `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(value ?? String(v))}</dd>`;
  });
  return `<dl class="meta">${items.join('')}</dl>`;
}

function comparisonHtml(rows: readonly PaperBenchRow[]): string {
  const cmp = paperComparison(rows);
  if (cmp.length === 0) return '<p class="note">No measured rows.</p>';
  const head =
    '<tr><th rowspan="2">experiment</th><th rowspan="2">MiB</th><th rowspan="2">N</th><th rowspan="2">mode</th><th rowspan="2">latency metric</th>' +
    '<th colspan="6">latency (ms)</th><th colspan="6">paper throughput, 1 / mean latency (req/s)</th><th rowspan="2">real req/s<br>(concurrent)</th></tr>' +
    '<tr><th>here</th><th class="paper">CWASI</th><th class="paper">OpenFaaS</th><th class="paper">WasmEdge</th><th class="paper">repro 2024</th><th>×CWASI</th>' +
    '<th>here</th><th class="paper">CWASI</th><th class="paper">OpenFaaS</th><th class="paper">WasmEdge</th><th class="paper">repro 2024</th><th>×CWASI</th></tr>';
  const body = cmp.map((c) => '<tr>' + [
    td(c.experiment),
    td(fmtMiB(c.payloadMiB), 'num'),
    td(String(c.n), 'num'),
    td(c.mode),
    td(METRIC_SHORT[c.latencyMetric] ?? c.latencyMetric),
    td(fmt(c.here.latencyMs), 'num'),
    td(fmtPaper(c.cwasi.latencyMs), 'num paper'),
    td(fmtPaper(c.openfaas.latencyMs), 'num paper'),
    td(fmtPaper(c.wasmedge.latencyMs), 'num paper'),
    td(fmtPaper(c.reproduction.latencyMs), 'num paper'),
    td(fmtRatio(c.latencyRatio), ratioClass(c.latencyRatio)),
    td(fmt(c.here.throughputPaperRps), 'num'),
    td(fmtPaper(c.cwasi.throughputRps), 'num paper'),
    td(fmtPaper(c.openfaas.throughputRps), 'num paper'),
    td(fmtPaper(c.wasmedge.throughputRps), 'num paper'),
    td(fmtPaper(c.reproduction.throughputRps), 'num paper'),
    td(fmtRatio(c.throughputRatio), ratioClass(c.throughputRatio)),
    td(fmt(c.here.throughputRps), 'num'),
  ].join('') + '</tr>');
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

function goalsHtml(goals: readonly Goal[]): string {
  if (goals.length === 0) return '<p class="note">No goals.</p>';
  const body = goals.map((g) => `<tr>${td(g.name)}${td(g.target)}${td(g.measured)}<td class="${g.pass ? 'pass' : 'fail'}">${g.pass ? 'PASS' : 'FAIL'}</td></tr>`);
  return `<table>\n<thead><tr><th>goal</th><th>target</th><th>measured</th><th>result</th></tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

/**
 * One self-contained HTML page: machine and run meta, the comparison table, the goals, the
 * plots (inline SVG) and the caveats. Inline CSS only; no scripts, fonts or remote resources.
 */
export function renderHtml(
  rows: readonly PaperBenchRow[],
  meta: BenchMeta,
  svgs: ReadonlyArray<{ name: string; title: string; svg: string; caption?: string }>,
): string {
  const goals = goalsFor(rows);
  const passed = goals.filter((g) => g.pass).length;
  const modes = [...new Set(rows.map((r) => r.mode))].sort((a, b) => MODE_ORDER.indexOf(a) - MODE_ORDER.indexOf(b));
  const figures = svgs.map((p) =>
    `<figure id="plot-${escapeHtml(p.name)}">\n${p.svg}\n<figcaption><b>${escapeHtml(p.title)}.</b> ${escapeHtml(p.caption ?? '')}</figcaption>\n</figure>`);
  const modeItems = (modes.length > 0 ? modes : MODE_ORDER)
    .map((m) => `<li><b>${escapeHtml(m)}</b>: ${escapeHtml(MODE_NOTES[m] ?? '')}</li>`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cwasi vs the CWASI paper (SEC 2023)</title>
<style>${CSS}</style>
</head>
<body>
<h1>cwasi vs the CWASI paper (SEC 2023)</h1>
<p class="note">Inter-function communication measured by <code>cwasi bench paper</code>, beside the numbers published for
CWASI (Marcelino &amp; Nastic, IEEE/ACM SEC 2023) and a 2024 reproduction of it.</p>

<h2>Machine and run</h2>
${metaHtml(meta)}

<h2>Comparison with the paper</h2>
<p class="note">Shaded columns are copied from the paper's published data (<code>bench/reference/cwasi-paper.csv</code>); the
others were measured in this run. ×CWASI is the speed-up over the paper's CWASI, higher is better: latency = CWASI ÷ here,
throughput = here ÷ CWASI. – means no published value for that experiment and size.</p>
${comparisonHtml(rows)}

<h2>Goals (${passed} of ${goals.length} met)</h2>
${goalsHtml(goals)}

<h2>Plots</h2>
<p class="note">Solid lines: measured here. Dashed lines: published. Both axes are logarithmic where marked.</p>
${figures.join('\n')}

<h2>Caveats</h2>
<ul>
<li>What each mode isolates:<ul>
${modeItems.join('\n')}
</ul></li>
<li>Latency, as in the paper, runs from the caller starting to send until the callee has the payload; the callee's own run
is excluded. End-to-end times (which include it) are only compared on the cross-host experiment, where the paper reports duration.</li>
<li>The paper's throughput is 1 / mean latency (requests ÷ sum of latencies), one request at a time. It is not offered load.
This report gives real throughput (completed invocations per second with concurrency) beside it, measured here only: the paper
has no such number.</li>
<li>Measured here: every "here" column, the goals and the solid lines. Copied from the paper's data: the CWASI, OpenFaaS,
WasmEdge and cross-host columns and dashed lines; "repro 2024" is a student reproduction. Nothing published was re-run.</li>
<li>The machines differ: the paper used an x86 Intel NUC (containerd, WasmEdge 0.11.2), the reproduction an i7 with 16 GB
under Ubuntu 24.04; this run's machine is listed above. Ratios compare runs on different hardware.</li>
<li>The paper's fan-out and fan-in values are means over runs of 4 to 500 executions; they are compared with each measured N.
fan-out-by-size compares the sum of 10 sequential sends.</li>
</ul>
</body>
</html>
`;
}

/** Writes every plot as NAME.svg and the page as index.html into `outDir`; returns the paths written. */
export async function writeReport(outDir: string, rows: readonly PaperBenchRow[], meta: BenchMeta): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const svgs = await renderSvgPlots(rows);
  const paths: string[] = [];
  for (const p of svgs) {
    const path = join(outDir, `${p.name}.svg`);
    await writeFile(path, p.svg + '\n');
    paths.push(path);
  }
  const index = join(outDir, 'index.html');
  await writeFile(index, renderHtml(rows, meta, svgs));
  paths.push(index);
  return paths;
}
