// The paper-bench goals of DESIGN §5 (goalsFor), judged on the measured rows of
// one run against the paper's published CWASI throughput
// (bench/reference/cwasi-paper.csv) and against `remote-kv` measured in the same
// run. A goal whose row was not measured fails and says so, so that a partial
// run (--modes) never reports a goal as met.

import type { Goal } from '../common.js';
import { MIB, ratio, type PaperBenchRow } from './model.js';
import { fmt, fmtPaper } from './format.js';
import { PAPER_SYSTEMS, paperValue, sameMiB, type PaperExperiment } from './reference.js';

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
