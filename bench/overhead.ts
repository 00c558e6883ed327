// `cwasi bench overhead`: what the engine adds to a worker-pool round trip.
// A trivial function (identity, 3-byte input) invoked through the engine
// against a trivial Piscina task (mode `piscina-raw`) on a pool of the same
// size, in the same run. Rounds alternate between the two so that machine
// noise hits both; each row reports the median round.
// Goal: engine throughput ≥ 50% of raw Piscina's.

import { Piscina } from 'piscina';
import { Engine } from '../engine/index.js';
import { type BenchOptions, type BenchReport, median, meta, progress, round, row } from './common.js';

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
  try {
    // Warm up both, then sequential latency.
    for (const s of subjects) {
      for (let i = 0; i < 500; i++) await s.call();
      const samples: number[] = [];
      for (let i = 0; i < seqCount; i++) {
        const t = performance.now();
        await s.call();
        samples.push(performance.now() - t);
      }
      seq.set(s.mode, samples);
      bar.tick(1, `${s.mode} latency`);
    }
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
  const results = subjects.map((s) => row('overhead', s.mode, input.length, seq.get(s.mode)!, {
    throughputRps: round(median(thr.get(s.mode)!), 0),
    metric: 'end-to-end round trip (latency sequential; throughput with concurrency)',
    concurrency,
    rounds: thr.get(s.mode)!.map((x) => Math.round(x)),
  }));
  const rawRps = results[0]!.throughputRps;
  const engRps = results[1]!.throughputRps;
  // Each round measured both back to back: the median of the per-round ratios
  // cancels most of the machine's drift between rounds.
  const rawRounds = thr.get('piscina-raw')!;
  const engRounds = thr.get('engine')!;
  const ratio = median(rawRounds.map((r, i) => engRounds[i]! / r));
  return {
    meta: meta(opts.command, { threads, concurrency, executionsPerRound: perRound, rounds }),
    results,
    goals: [{
      name: 'engine throughput vs raw Piscina',
      target: '>= 0.50',
      measured: `${ratio.toFixed(2)} (median of ${rounds} paired rounds; medians ${Math.round(engRps)} vs ${Math.round(rawRps)} req/s)`,
      pass: ratio >= 0.5,
    }],
  };
}
