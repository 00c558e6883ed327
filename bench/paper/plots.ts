// The plots of `cwasi bench paper --out` as SVG strings (renderSvgPlots):
// sequential latency and paper throughput vs payload size, fan-out and fan-in
// latency vs N, fan-out by size, the cross-node end-to-end time and real vs paper
// throughput. The specs come from plot-specs.ts; vega and vega-lite render them
// headlessly and are optional packages, loaded on first use by plot-renderer.ts.
// Each SVG's ids get the plot's name as a prefix so that several can be inlined
// in one HTML page (html.ts).

import { plotRenderer, type VegaLiteSpec } from './plot-renderer.js';
import { MIB, measuredLatencyMs, type PaperBenchRow } from './model.js';
import { PAPER_SYSTEMS } from './reference.js';
import { PAPER_TRIO, SEQ_SYSTEMS, fanSpec, lineSpec, measuredPoints, publishedPoints, realVsPaperSpec } from './plot-specs.js';

export interface SvgPlot {
  name: string;
  title: string;
  /** What the plotted metric isolates (also inside the SVG, under the title). */
  caption: string;
  svg: string;
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
