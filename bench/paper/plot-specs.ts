// The vega-lite specifications behind the plots of `cwasi bench paper --out`:
// points from measured rows and from the published reference, one colour per
// series on every plot (measured series first, in mode order), solid lines for
// what was measured here and dashed ones for what was published, log axes, and
// the caption wrapped into the subtitle (SVG text does not wrap).
// Specs are plain data built without vega: rendering them is plots.ts's job,
// through the optional packages loaded by plot-renderer.ts.

import type { VegaLiteSpec } from './plot-renderer.js';
import { EXPERIMENT_ORDER, MIB, MODE_ORDER, sortRows, type PaperBenchRow } from './model.js';
import { fmtMiB } from './format.js';
import { PAPER_SYSTEMS, paperRows, sameMiB, type PaperRow } from './reference.js';

const SOURCE_HERE = 'measured here';
const SOURCE_PAPER = 'published';

/** One plotted point: its series (the legend entry) and its source (measured here or published). */
export interface Point {
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
export function lineSpec(o: LineSpecOptions): VegaLiteSpec {
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

export function publishedPoints(query: { experiment: string; metric: string; systems: readonly string[]; executions?: string; payloadMiB?: number }, xOf: (r: PaperRow) => number[]): Point[] {
  const out: Point[] = [];
  for (const system of query.systems) {
    const q = { experiment: query.experiment, metric: query.metric, system, ...(query.executions === undefined ? {} : { executions: query.executions }), ...(query.payloadMiB === undefined ? {} : { payloadMiB: query.payloadMiB }) };
    for (const r of paperRows(q)) {
      for (const x of xOf(r)) out.push({ series: PUBLISHED_LABEL[r.system] ?? r.system, source: SOURCE_PAPER, x, y: r.value });
    }
  }
  return out;
}

export function measuredPoints(rows: readonly PaperBenchRow[], x: (r: PaperBenchRow) => number, y: (r: PaperBenchRow) => number, label: (r: PaperBenchRow) => string = (r) => `cwasi ${r.mode}`): Point[] {
  return sortRows(rows).map((r) => ({ series: label(r), source: SOURCE_HERE, x: x(r), y: y(r) }));
}

/** Executions as x positions: "4-500" becomes a segment from 4 to 500, "10" the point 10. */
function executionsAsX(r: PaperRow): number[] {
  return r.executions.split('-').map(Number);
}

export const SEQ_SYSTEMS = [PAPER_SYSTEMS.cwasi, PAPER_SYSTEMS.openfaas, PAPER_SYSTEMS.wasmedgeHttp, PAPER_SYSTEMS.reproduction];
export const PAPER_TRIO = [PAPER_SYSTEMS.cwasi, PAPER_SYSTEMS.openfaas, PAPER_SYSTEMS.wasmedgeHttp];

export function fanSpec(rows: readonly PaperBenchRow[], experiment: 'fan-out' | 'fan-in'): { title: string; caption: string; spec: VegaLiteSpec } {
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

export function realVsPaperSpec(rows: readonly PaperBenchRow[]): { title: string; caption: string; spec: VegaLiteSpec } {
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
