// The reporting half of `cwasi bench paper`, one module per concern; nothing here
// measures anything (bench/paper.ts does), every function is a function of its
// inputs and of the bundled reference CSV:
//   reference.ts      the paper's published numbers, parsed from bench/reference/cwasi-paper.csv
//   model.ts          the measured row type and the comparison with the published numbers
//   format.ts         number formatting shared by every view
//   tables.ts         the terminal comparison table (paperTable, fanTimingTable)
//   makespan.ts       fan-out / fan-in makespan and consumer runs from step timestamps
//   goals.ts          the paper-bench goals of DESIGN §5 (goalsFor)
//   plot-specs.ts     the vega-lite specifications of the plots
//   plot-renderer.ts  vega and vega-lite, optional, loaded on first use
//   plots.ts          the plots as SVG (renderSvgPlots)
//   html.ts           one self-contained HTML page (renderHtml)
//   report.ts         the files on disk (writeReport)

export { MIB, latencyMetricOf, measuredLatencyMs, paperComparison } from './model.js';
export type { MsSummary, PaperBenchRow, PaperComparison, PaperExperiment, PublishedPair } from './model.js';
export { MISSING, fmt, fmtPaper, fmtRatio } from './format.js';
export { fanTimingTable, paperTable } from './tables.js';
export { fanTiming, type FanTiming, type StepTimes } from './makespan.js';
export { goalsFor } from './goals.js';
export { renderSvgPlots, type SvgPlot } from './plots.js';
export { MODE_NOTES, escapeHtml, renderHtml } from './html.js';
export { writeReport } from './report.js';
