// The terminal table of `cwasi bench paper` (paperTable): one line per measured
// row beside the paper's CWASI, OpenFaaS and WasmEdge numbers and the 2024
// reproduction, with the speed-ups of the comparison model (model.ts). Plain
// text with padded columns; the legend under the table says what each latency
// metric and throughput column means.

import { paperComparison, ratio, sortRows, type PaperBenchRow } from './model.js';
import { METRIC_SHORT, fmt, fmtMiB, fmtPaper, fmtRatio } from './format.js';

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
  // paperComparison keeps sortRows' order: the i-th comparison is the i-th sorted row.
  const sorted = sortRows(rows);
  const sweep = new Set(rows.map((r) => r.threads)).size > 1;
  const columns: Column[] = [
    { head: 'experiment', right: false },
    { head: 'MiB', right: true },
    { head: 'N', right: true },
    { head: 'mode', right: false },
    ...(sweep ? [{ head: 'threads', right: true }] : []),
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
  const body = cmp.map((c, i) => [
    c.experiment,
    fmtMiB(c.payloadMiB),
    String(c.n),
    c.mode,
    ...(sweep ? [String(sorted[i]!.threads ?? '')] : []),
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
    ...fanTimingTable(rows),
  ].join('\n');
}

/**
 * The fan-out / fan-in rows again, with what their per-edge latency leaves out: the makespan
 * (first producer start → last consumer done), the consumers' own runs and how many ran at
 * once, and with a `--threads` sweep the makespan speed-up over the first pool size.
 */
export function fanTimingTable(rows: readonly PaperBenchRow[]): string[] {
  const fan = sortRows(rows).filter((r) => r.makespanMs !== undefined);
  if (fan.length === 0) return [];
  const base = new Map<string, number>();
  const key = (r: PaperBenchRow) => `${r.experiment}/${r.payloadBytes}/${r.n}/${r.mode}`;
  // Sorted rows put the pool sizes of one experiment next to each other, smallest first.
  const speedups = new Map<PaperBenchRow, number | undefined>();
  for (const r of fan) {
    if (!base.has(key(r))) base.set(key(r), r.makespanMs!.meanMs);
    speedups.set(r, ratio(base.get(key(r)), r.makespanMs!.meanMs));
  }
  const sweep = new Set(fan.map((r) => r.threads)).size > 1;
  const columns: Column[] = [
    { head: 'experiment', right: false },
    { head: 'MiB', right: true },
    { head: 'N', right: true },
    { head: 'mode', right: false },
    { head: 'threads', right: true },
    { head: 'edge mean ms', right: true },
    { head: 'makespan ms', right: true },
    { head: 'consumer run ms', right: true },
    { head: 'consumers Σ ms', right: true },
    { head: 'at once', right: true },
    ...(sweep ? [{ head: 'speed-up', right: true }] : []),
  ];
  const body = fan.map((r) => [
    r.experiment,
    fmtMiB(r.payloadBytes / 2 ** 20),
    String(r.n),
    r.mode,
    String(r.threads ?? ''),
    fmt(r.latencyMs.meanMs),
    fmt(r.makespanMs!.meanMs),
    fmt(r.consumerRunMs?.meanMs),
    fmt(r.consumerSumMs),
    String(r.peakConcurrent ?? ''),
    ...(sweep ? [fmtRatio(speedups.get(r))] : []),
  ]);
  return [
    '',
    'fan-out / fan-in timing (means per invocation): makespan = first producer start → last consumer done; consumer run = one',
    '  consumer\'s own run; consumers Σ = their runs added up; at once = most consumers running at one time. With T workers a',
    '  makespan near Σ ÷ T is the consumers\' work queued on the pool, not the handoff.' +
      (sweep ? ' speed-up = makespan at the smallest pool size ÷ this one.' : ''),
    '',
    ...textTable(columns, body),
  ];
}
