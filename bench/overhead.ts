// `cwasi bench overhead`: what the engine adds to a worker-pool round trip.
// A trivial function (identity, 3-byte input) invoked through the engine
// against a trivial Piscina task (mode `piscina-raw`) on a pool of the same
// size, in the same run. Rounds alternate between the two so that machine
// noise hits both; each ratio is the median of the per-round ratios. Two
// loads (the latency columns of both rows are the sequential rounds'):
//   1 in flight   calls one after another: latency (p50) and its throughput
//   64 in flight  (--concurrency N) the pool kept busy: throughput
// Goals: engine throughput ≥ raw Piscina's at both loads, and the engine's
// sequential p50 ≤ Piscina's (the engine runs on Piscina, so matching it
// needs a cheaper per-call path than the pool's own postMessage).

import { Piscina } from 'piscina';
import { Engine } from 'cwasi';
import { type BenchOptions, type BenchReport, median, meta, progress, round, row, warmUp } from './common.js';

const WARM_CALLS = 2000;
const WARM_MS = 500;

export async function overhead(opts: BenchOptions): Promise<BenchReport> {
  const threads = opts.threads ?? 2;
  const concurrency = opts.concurrency ?? 64;
  const perRound = opts.executions ?? (opts.quick ? 5000 : 20000);
  const rounds = opts.quick ? 5 : 9;
  const seqCount = opts.quick ? 1000 : 3000;
  const input = new Uint8Array([1, 2, 3]);

  const raw = new Piscina({ filename: new URL('./raw-worker.js', import.meta.url).href, minThreads: threads, maxThreads: threads });
  const engine = await Engine.create({ threads });
  await engine.deploy([{ name: 'identity', module: 'identity' }]);
  const subjects: Array<{ mode: string; call: () => Promise<unknown> }> = [
    { mode: 'piscina-raw', call: () => raw.run(input) },
    { mode: 'engine', call: () => engine.invoke('identity', input) },
  ];
  const bar = progress(opts.progress, subjects.length * (rounds + 1), 'overhead');
  const seq = new Map<string, number[]>();
  const thr = new Map<string, number[]>(subjects.map((s) => [s.mode, []]));
  /** Sequential throughput per round (1 in flight). */
  const seqThr = new Map<string, number[]>(subjects.map((s) => [s.mode, []]));
  try {
    // Warm up both (until their code is optimised and any adaptive polling has
    // settled: at least WARM_CALLS calls and WARM_MS), then sequential latency
    // in alternating rounds, so that a change in the machine's load hits both.
    for (const s of subjects) await warmUp(s.call, WARM_CALLS, WARM_MS);
    for (const s of subjects) seq.set(s.mode, []);
    const perSeqRound = Math.ceil(seqCount / rounds);
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 === 0 ? subjects : [...subjects].reverse()) {
        const samples = seq.get(s.mode)!;
        const t0 = performance.now();
        for (let i = 0; i < perSeqRound; i++) {
          const t = performance.now();
          await s.call();
          samples.push(performance.now() - t);
        }
        seqThr.get(s.mode)!.push(perSeqRound / ((performance.now() - t0) / 1000));
      }
    }
    bar.tick(subjects.length, 'latency');
    // Throughput with `concurrency` calls in flight, alternating rounds.
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 === 0 ? subjects : [...subjects].reverse()) {
        let next = 0;
        const t = performance.now();
        const lane = async () => {
          while (next < perRound) {
            next++;
            await s.call();
          }
        };
        await Promise.all(Array.from({ length: concurrency }, lane));
        thr.get(s.mode)!.push(perRound / ((performance.now() - t) / 1000));
        bar.tick(1, `${s.mode} round ${r + 1}`);
      }
    }
  } finally {
    bar.stop();
    await engine.close();
    await raw.destroy();
  }
  const sequential = (mode: string) => median(seqThr.get(mode)!);
  const results = subjects.flatMap((s) => [
    row('overhead', s.mode, input.length, seq.get(s.mode)!, {
      throughputRps: round(sequential(s.mode), 0),
      metric: '1 in flight',
      concurrency: 1,
      rounds: seqThr.get(s.mode)!.map((x) => Math.round(x)),
    }),
    row('overhead', s.mode, input.length, seq.get(s.mode)!, {
      throughputRps: round(median(thr.get(s.mode)!), 0),
      metric: `${concurrency} in flight`,
      concurrency,
      rounds: thr.get(s.mode)!.map((x) => Math.round(x)),
    }),
  ]);
  // Each round measured both back to back: the median of the per-round ratios
  // cancels most of the machine's drift between rounds.
  const rawRounds = thr.get('piscina-raw')!;
  const engRounds = thr.get('engine')!;
  const ratio = median(rawRounds.map((r, i) => engRounds[i]! / r));
  const seqRatio = median(seqThr.get('piscina-raw')!.map((r, i) => seqThr.get('engine')![i]! / r));
  const p50 = (mode: string) => results.find((r) => r.mode === mode)!.latencyMs.p50Ms;
  const p50Ratio = p50('engine') / p50('piscina-raw');
  return {
    meta: meta(opts.command, { threads, concurrency, executionsPerRound: perRound, rounds, sequentialCalls: seqCount }),
    results,
    goals: [
      {
        name: `engine throughput vs raw Piscina, ${concurrency} in flight`,
        target: '>= 1.00',
        measured: `${ratio.toFixed(2)} (median of ${rounds} paired rounds; medians ${Math.round(median(engRounds))} vs ${Math.round(median(rawRounds))} req/s)`,
        pass: ratio >= 1,
      },
      {
        name: 'engine throughput vs raw Piscina, 1 in flight',
        target: '>= 1.00',
        measured: `${seqRatio.toFixed(2)} (median of ${rounds} paired rounds; medians ${Math.round(sequential('engine'))} vs ${Math.round(sequential('piscina-raw'))} req/s)`,
        pass: seqRatio >= 1,
      },
      {
        name: 'engine p50 vs raw Piscina p50, 1 in flight',
        target: '<= 1.00',
        measured: `${p50Ratio.toFixed(2)} (${(p50('engine') * 1000).toFixed(1)} vs ${(p50('piscina-raw') * 1000).toFixed(1)} µs)`,
        pass: p50Ratio <= 1,
      },
    ],
  };
}
