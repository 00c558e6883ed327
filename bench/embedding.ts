// `cwasi bench embedding`: Function Embedding's handoff. Producer and consumer
// are trusted in one domain, so they share one WebAssembly.Memory; the edge is
// part of one task and the consumer reads the producer's output where it lies.
//   handoff  producer returned → consumer starts on the same bytes
//   e2e      invoke() → result
// Beside it, in the same run: the same pair isolated (`local`, one copy) and
// `copy` (structured clone), and `embedded-fanout`: one producer, two embedded
// consumers not chained into the producer's task, on the shared memory (still
// no copy). A consumer that finds a worker free starts with its producer and
// takes the handoff from the producer's worker; one that does not runs as the
// producer's continuation, in its task right after it. The row's
// `p50ByConsumerMs` tells the two apart.
// `dispatch-after-run` is embedded-fanout's reference (dispatch-ref.ts): a raw
// Piscina task posted the moment a task that wrote as many bytes and ran as
// long as the producer returned.
// Goals: handoff p50 < 50 µs at 2 MiB and 100 MiB; 100 MiB ≤ 2 × 2 MiB;
// embedded-fanout p50 ≤ 25 µs, and ≤ its reference's p50.

import { Engine } from 'cwasi';
import * as workloads from 'cwasi/workloads';
import { type BenchOptions, type BenchReport, type BenchResult, type Goal, median, meta, progress, row, warmUp } from './common.js';
import { measureDispatchAfterRun } from './dispatch-ref.js';
import { countFor, deployPair, measurePair, transferOf, withEngine } from './transfer.js';

const MiB = 1 << 20;
/** Untimed runs before each row: at least this many, and this long (optimised code, settled polling). */
const WARM_CALLS = 20;
const WARM_MS = 400;

type FanoutSample = { transferMs: number; endToEndMs: number; consumer: string; producerRunMs: number };

async function measureFanout(engine: Engine, bytes: number, count: number, tick: () => void): Promise<FanoutSample[]> {
  const spec = workloads.producerSpec(bytes, 11);
  const expected = workloads.checksum(workloads.produce(bytes, 11));
  const out: FanoutSample[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const r = await engine.invokeWithReport('efan', spec);
    const endToEndMs = performance.now() - t;
    const p = r.steps.find((s) => s.fn === 'efan-p')!;
    for (const c of ['efan-c1', 'efan-c2']) {
      if (workloads.readChecksums(r.outputs[c]!)[0]?.hash !== expected) throw new Error(`embedded fan-out: wrong checksum in ${c}`);
      out.push({ transferMs: transferOf(r, 'efan-p', c), endToEndMs, consumer: c, producerRunMs: p.done - p.inputReady });
    }
    tick();
  }
  return out;
}

export async function embedding(opts: BenchOptions): Promise<BenchReport> {
  const sizes = opts.sizes ?? [2 * MiB, 100 * MiB];
  const threads = opts.threads ?? 2;
  const wanted = (m: string) => opts.modes === undefined || opts.modes.includes(m);
  const total = sizes.reduce((n, s) => n + countFor(s, opts.quick, opts.executions) * 4 + 1, 0);
  const bar = progress(opts.progress, total, 'embedding');
  const results: BenchResult[] = [];
  const push = (mode: string, bytes: number, samples: Array<{ transferMs: number; endToEndMs: number; consumer?: string }>, metric: string) => {
    const extra: Partial<BenchResult> = {
      metric,
      endToEndMs: row('e2e', mode, bytes, samples.map((s) => s.endToEndMs)).latencyMs,
    };
    const consumers = [...new Set(samples.flatMap((s) => (s.consumer === undefined ? [] : [s.consumer])))];
    if (consumers.length > 1) {
      extra.p50ByConsumerMs = Object.fromEntries(consumers.map((c) => [c, median(samples.filter((s) => s.consumer === c).map((s) => s.transferMs))]));
    }
    results.push(row('embedding', mode, bytes, samples.map((s) => s.transferMs), extra));
  };
  try {
    await withEngine({ threads, timeoutMs: 120_000 }, async (engine) => {
      await deployPair(engine, 'emb', true);
      await deployPair(engine, 'iso', false);
      await engine.deploy({
        name: 'efan',
        functions: {
          'efan-p': { module: 'producer', trusted: true, domain: 'efan' },
          'efan-c1': { module: 'checksum', trusted: true, domain: 'efan' },
          'efan-c2': { module: 'checksum', trusted: true, domain: 'efan' },
        },
        edges: [{ from: 'efan-p', to: 'efan-c1' }, { from: 'efan-p', to: 'efan-c2' }],
        output: 'efan-c1',
      });
      for (const bytes of sizes) {
        const n = countFor(bytes, opts.quick, opts.executions);
        const tick = (what: string) => () => bar.tick(1, `${what} ${bytes >> 20} MiB`);
        if (wanted('embedded')) {
          await warmUp(() => measurePair(engine, 'emb', bytes, 1, undefined), WARM_CALLS, WARM_MS);
          push('embedded', bytes, await measurePair(engine, 'emb', bytes, n, undefined, tick('embedded')), 'handoff');
        }
        if (wanted('embedded-fanout')) {
          await warmUp(() => measureFanout(engine, bytes, 1, () => {}), WARM_CALLS, WARM_MS);
          const fan = await measureFanout(engine, bytes, n, tick('embedded-fanout'));
          push('embedded-fanout', bytes, fan, 'handoff (dispatched)');
          // Its reference: a raw Piscina dispatch right after a task that wrote as much and ran as long.
          const runMs = median(fan.map((f) => f.producerRunMs));
          const ref = await measureDispatchAfterRun(bytes, runMs, n, threads);
          results.push(row('embedding', 'dispatch-after-run', bytes, ref, { metric: 'handoff (raw Piscina)', producerRunMs: runMs }));
          tick('dispatch-after-run')();
        }
        if (wanted('local')) {
          await measurePair(engine, 'iso', bytes, 2, 'local');
          push('local', bytes, await measurePair(engine, 'iso', bytes, n, 'local', tick('local')), 'transfer');
        }
        if (wanted('copy')) {
          await measurePair(engine, 'iso', bytes, 1, 'copy');
          push('copy', bytes, await measurePair(engine, 'iso', bytes, n, 'copy', tick('copy')), 'transfer');
        }
      }
    });
  } finally {
    bar.stop();
  }
  const goals: Goal[] = [];
  const at = (mode: string, bytes: number) => results.find((r) => r.mode === mode && r.payloadBytes === bytes);
  const emb = (bytes: number) => at('embedded', bytes);
  for (const bytes of sizes) {
    const r = emb(bytes);
    if (r) goals.push({ name: `embedded handoff p50 at ${bytes >> 20} MiB`, target: '< 50 µs', measured: `${(r.latencyMs.p50Ms * 1000).toFixed(1)} µs`, pass: r.latencyMs.p50Ms < 0.05 });
  }
  // A consumer that runs as its own task: one task dispatch, whatever the size.
  for (const bytes of sizes) {
    const r = at('embedded-fanout', bytes);
    if (r) goals.push({ name: `embedded-fanout handoff p50 at ${bytes >> 20} MiB`, target: '<= 25 µs', measured: `${(r.latencyMs.p50Ms * 1000).toFixed(1)} µs`, pass: r.latencyMs.p50Ms <= 0.025 });
    const ref = at('dispatch-after-run', bytes);
    if (r && ref && ref.latencyMs.p50Ms > 0) {
      const ratio = r.latencyMs.p50Ms / ref.latencyMs.p50Ms;
      goals.push({
        name: `embedded-fanout handoff p50 at ${bytes >> 20} MiB vs a raw dispatch after a run as long`,
        target: '<= 1.00x',
        measured: `${ratio.toFixed(2)}x (${(r.latencyMs.p50Ms * 1000).toFixed(1)} vs ${(ref.latencyMs.p50Ms * 1000).toFixed(1)} µs)`,
        pass: ratio <= 1,
      });
    }
  }
  const small = emb(Math.min(...sizes));
  const large = emb(Math.max(...sizes));
  if (small && large && small !== large) {
    const ratio = large.latencyMs.p50Ms / small.latencyMs.p50Ms;
    goals.push({ name: `embedded handoff ${Math.max(...sizes) >> 20} MiB vs ${Math.min(...sizes) >> 20} MiB`, target: '<= 2.0x', measured: `${ratio.toFixed(2)}x`, pass: ratio <= 2 });
  }
  return { meta: meta(opts.command, { threads }), results, goals };
}
