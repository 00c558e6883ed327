// The self-contained HTML page of `cwasi bench paper --out` (renderHtml): the
// machine and run meta, the comparison table (numbers from model.ts, formatted by
// format.ts), the goals (goals.ts), the plots inlined as SVG (plots.ts) and the
// caveats, among them what each mode isolates. Inline CSS only: no scripts, fonts
// or remote resources, so the page opens anywhere, offline. Every text that
// reaches the page goes through escapeHtml.

import type { BenchMeta, Goal } from '../common.js';
import type { IfcMode } from 'cwasi';
import { MODE_ORDER, paperComparison, type PaperBenchRow } from './model.js';
import { METRIC_SHORT, fmt, fmtMiB, fmtPaper, fmtRatio } from './format.js';
import { goalsFor } from './goals.js';

/** What each mode isolates (the HTML caveats). */
export const MODE_NOTES: Readonly<Record<IfcMode, string>> = {
  embedded: 'caller and callee instantiated on one shared WebAssembly.Memory: the callee reads the caller\'s bytes in place (zero copy); measures the dispatch and handoff cost only.',
  local: 'functions in separate memories on one host: the host copies the payload across once — inside one worker for a sequential edge, or from the producer\'s memory on one worker into the consumer\'s on another, the descriptor passed through an Atomics-synchronised SharedArrayBuffer ring.',
  networked: 'direct authenticated TCP between engine nodes with length-prefixed frames (on this machine: loopback unless the meta says otherwise).',
  'remote-kv': 'the platform-without-CWASI baseline: the caller SETs the payload in Redis, the callee GETs it.',
  copy: 'what plain Node code would do: bytes copied out of the producer, posted (structured clone) through the main thread and copied into the consumer.',
};

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

