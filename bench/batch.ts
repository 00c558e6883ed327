// `cwasi bench batch`: a batch of N inputs through a three-stage pipeline,
// producer → transform (embedded: one shared memory, zero copy) → checksum
// (untrusted: local, one copy), with engine.map, beside the same work the way
// a Node user would do it without cwasi: a Piscina pool running the same wasm
// kernels (asm-functions/bench/kernels.ts) stage by stage, bytes passed with
// postMessage (structured clone) or moved with a transferList.
//
// Each input is a producer spec; the producer expands it to `size` bytes, the
// transform inverts every byte into a new buffer, the checksum reads it all.
// Rows per size: compute-only (the three kernels back to back in one task of
// that pool, no data moved between stages: what the work itself allows),
// compute-and-copy (the same plus the one copy an untrusted checksum needs: the
// transform's output into a second memory; the floor for this pipeline),
// piscina-postMessage, piscina-transfer, cwasi (threads T), cwasi (threads 1)
// and cwasi with 4N inputs (peak RSS vs N). The first six
// run in alternating rounds of N inputs each (2 000 at 64 KiB, 1 000 at 2 MiB,
// after each row has warmed up; the order rotates), so that the
// machine's drift hits them all; each row reports its median round, and the
// ratios are medians of the per-round ratios.
// `--threads 1,2,4` sweeps pool sizes in the same rounds: the Piscina rows and
// `cwasi` run at the largest, one `cwasi-threads-T` row per other size, and a
// scaling line gives each size's throughput over the smallest's.
// Goals: cwasi ≥ 5× the faster Piscina row at 2 MiB and ahead of both at every
// size; cwasi ≥ 0.9× compute-only at 2 MiB (compute-and-copy ÷ compute-only,
// reported beside it, is how close any engine that keeps the checksum isolated
// can come); threads 2 ≥ 1.7× threads 1
// (the largest size vs 1 when 2 is not measured); peak RSS with 4N inputs ≤
// 1.2× that with N.

import { Piscina } from 'piscina';
import { CwasiError, Engine, type WorkflowDocument } from 'cwasi';
import * as workloads from 'cwasi/workloads';
import { pinnedAscVersion } from 'cwasi/primitives';
import { type BenchOptions, type BenchReport, type BenchResult, type Goal, RssPeak, median, meta, progress, round, row } from './common.js';
import type { StageTask } from './batch-worker.js';

const MiB = 1024 * 1024;

const PIPELINE: WorkflowDocument = {
  name: 'bench-batch',
  functions: {
    producer: { module: 'producer', trusted: true, domain: 'batch' },
    transform: { module: 'transform', trusted: true, domain: 'batch' },
    checksum: { module: 'checksum' },
  },
  edges: [{ from: 'producer', to: 'transform' }, { from: 'transform', to: 'checksum' }],
};

/**
 * Before its rounds each row runs batches of WARM_UP inputs for at least
 * WARM_MS (WARM_MS_QUICK with --quick): the engine reaches its steady speed
 * only after a few thousand inputs (64 KiB inputs went from about 3 000/s in
 * the first thousand to 16 000-20 000/s; the JIT and the first touch of its
 * memories' pages), and a row measured cold says little about a batch.
 */
const WARM_UP = 100;
const WARM_MS = 2000;
const WARM_MS_QUICK = 300;

/** Inputs per round: enough that a round lasts well beyond the start of a map() run (rounds of 300 small inputs took 20 ms). */
function inputsFor(size: number, opts: BenchOptions): number {
  return opts.executions ?? (opts.quick ? 80 : size <= 256 * 1024 ? 2000 : 1000);
}

/** Inputs whose results are checked against the JS mirror (the rest: length only; the mirror is slow at 2 MiB). */
const CHECKED = 3;

interface Measured {
  latencies: number[];
  wallMs: number;
  peakRss: number;
}

async function compileKernels(): Promise<WebAssembly.Module> {
  let asc: typeof import('assemblyscript/asc');
  try {
    asc = (await import('assemblyscript/asc')).default as unknown as typeof import('assemblyscript/asc');
  } catch (err) {
    throw new CwasiError('E_DEPENDENCY_MISSING', `cwasi bench batch compiles its Piscina reference with the AssemblyScript compiler, which is not installed: npm install --save-dev assemblyscript@${pinnedAscVersion()}`, undefined, { cause: err });
  }
  const root = new URL('../../', import.meta.url);
  let wasm: Uint8Array | undefined;
  const stderr: string[] = [];
  // `baseDir` is an option of asc's API that its typings leave out (build.mjs uses it the same way).
  const { error } = await asc.main(['asm-functions/bench/kernels.ts', '--outFile', 'kernels.wasm', '--runtime', 'stub', '-O3', '--noAssert', '--initialMemory', '2'], {
    baseDir: new URL('.', root).pathname,
    stdout: { write: () => true } as never,
    stderr: { write: (c: unknown) => { stderr.push(String(c)); return true; } } as never,
    writeFile: (name: string, contents: Uint8Array | string) => {
      if (name.endsWith('.wasm') && typeof contents !== 'string') wasm = contents;
    },
  } as Parameters<typeof asc.main>[1]);
  if (error || wasm === undefined) throw new Error(`compiling the reference kernels failed: ${stderr.join('')}${error?.message ?? ''}`);
  return new WebAssembly.Module(new Uint8Array(wasm));
}

export async function batch(opts: BenchOptions): Promise<BenchReport> {
  const sizes = opts.sizes ?? [64 * 1024, 2 * MiB];
  const rounds = opts.quick ? 3 : 5;
  const sweep = opts.threadSweep;
  const threads = sweep !== undefined ? Math.max(...sweep) : opts.threads ?? 2;
  // Pool sizes measured beside `threads`: the rest of the sweep, else 1.
  const others = sweep !== undefined ? sweep.filter((t) => t !== threads) : [1];
  const concurrency = opts.concurrency ?? 2 * threads;
  const kernels = await compileKernels();
  const bar = progress(opts.progress, sizes.length * ((5 + others.length) * rounds + 1), 'batch');
  const results: BenchResult[] = [];
  const goals: Goal[] = [];
  const started = performance.now();
  try {
    for (const size of sizes) {
      const n = inputsFor(size, opts);
      const expected = Array.from({ length: CHECKED }, (_, i) => workloads.checksum(workloads.transform(workloads.produce(size, i))));
      const check = (i: number, hash: number, length: number) => {
        if (length !== size || (i < CHECKED && hash !== expected[i])) throw new Error(`batch bench: wrong result for input ${i} (${length} bytes, hash ${hash})`);
      };
      const pool = new Piscina({ filename: new URL('./batch-worker.js', import.meta.url).href, minThreads: threads, maxThreads: threads, workerData: { kernels } });
      // One failed start closes the engines that did start, and the pool, before the error goes on.
      const started = await Promise.allSettled([threads, ...others].map((t) => Engine.create({ threads: t })));
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      const engines = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      if (failed) {
        for (const e of engines) await e.close();
        await pool.destroy();
        throw failed.reason;
      }
      try {
        for (const e of engines) await e.deploy(PIPELINE);
        const subjects: Subject[] = [
          { mode: 'compute-only', threads, run: (count) => runComputeOnly(pool, concurrency, size, count, check, 'all') },
          { mode: 'compute-and-copy', threads, run: (count) => runComputeOnly(pool, concurrency, size, count, check, 'all-copy') },
          { mode: 'piscina-postMessage', threads, run: (count) => runPiscina(pool, concurrency, size, count, false, check) },
          { mode: 'piscina-transfer', threads, run: (count) => runPiscina(pool, concurrency, size, count, true, check) },
          { mode: 'cwasi', threads, run: (count) => runCwasi(engines[0]!, concurrency, size, count, check) },
          ...others.map((t, i): Subject => ({ mode: `cwasi-threads-${t}`, threads: t, run: (count) => runCwasi(engines[i + 1]!, concurrency, size, count, check) })),
        ];
        // Warm up: every worker instantiates its kernels or functions, the JIT
        // compiles every path, the memories' pages are touched (WARM_MS).
        const warmMs = opts.quick ? WARM_MS_QUICK : WARM_MS;
        for (const s of subjects) {
          const until = performance.now() + warmMs;
          do await s.run(Math.min(n, WARM_UP));
          while (performance.now() < until);
        }
        const measured = new Map<string, Measured[]>(subjects.map((s) => [s.mode, []]));
        for (let r = 0; r < rounds; r++) {
          for (let k = 0; k < subjects.length; k++) {
            const s = subjects[(k + r) % subjects.length]!;
            measured.get(s.mode)!.push(await s.run(n));
            bar.tick(1, `${size} ${s.mode} round ${r + 1}`);
          }
        }
        // 4N inputs on the same engine as the cwasi row: peak RSS against its N rounds.
        const big = await runCwasi(engines[0]!, concurrency, size, 4 * n, check);
        bar.tick(1, `${size} cwasi 4N`);
        const rps = (m: Measured) => m.latencies.length / (m.wallMs / 1000);
        const add = (mode: string, rowThreads: number, ms: Measured[]): BenchResult => {
          const r = row('batch', mode, size, ms.flatMap((m) => m.latencies), {
            throughputRps: round(median(ms.map(rps)), 1),
            metric: 'per input, end to end (throughput: inputs/s with the window full, median round)',
            inputsPerRound: ms[0]!.latencies.length,
            rounds: ms.map((m) => round(rps(m), 1)),
            threads: rowThreads,
            concurrency,
            peakRssBytes: Math.max(...ms.map((m) => m.peakRss)),
          });
          results.push(r);
          return r;
        };
        const rows = new Map(subjects.map((s) => [s.mode, add(s.mode, s.threads, measured.get(s.mode)!)]));
        const bigRow = add('cwasi-4n', threads, [big]);
        const paired = (a: string, b: string) => median(measured.get(a)!.map((m, i) => rps(m) / rps(measured.get(b)![i]!)));
        const post = rows.get('piscina-postMessage')!;
        const moved = rows.get('piscina-transfer')!;
        const ref = post.throughputRps >= moved.throughputRps ? post : moved;
        const main = rows.get('cwasi')!;
        const modeAt = (t: number) => (t === threads ? 'cwasi' : `cwasi-threads-${t}`);
        // The 1.7× goal was set for 2 threads against 1.
        const scaled = others.includes(1) ? (others.includes(2) ? 2 : threads) : undefined;
        const vsRef = paired('cwasi', ref.mode);
        const vsPost = paired('cwasi', post.mode);

        const rss = (bigRow.peakRssBytes as number) / (main.peakRssBytes as number);
        const label = size >= MiB ? `${size / MiB} MiB` : `${size / 1024} KiB`;
        const big2 = size >= 2 * MiB;
        goals.push({
          name: `cwasi vs the faster Piscina pipeline (${ref.mode}) at ${label}`,
          target: big2 ? '>= 5.0, and > 1.0 vs both' : '> 1.0 vs both',
          measured: `${vsRef.toFixed(2)}× (medians ${main.throughputRps} vs ${ref.throughputRps} inputs/s); vs piscina-postMessage ${vsPost.toFixed(2)}×`,
          pass: (big2 ? vsRef >= 5 : true) && Math.min(paired('cwasi', post.mode), paired('cwasi', moved.mode)) > 1,
        });
        const compute = rows.get('compute-only')!;
        const vsCompute = paired('cwasi', 'compute-only');
        const floor = paired('compute-and-copy', 'compute-only');
        goals.push({
          name: `cwasi vs compute-only (the kernels alone, no IFC) at ${label}`,
          target: big2 ? '>= 0.90' : 'report',
          measured: `${vsCompute.toFixed(2)}× (medians ${main.throughputRps} vs ${compute.throughputRps} inputs/s); compute-and-copy ${floor.toFixed(2)}× of compute-only, cwasi ${paired('cwasi', 'compute-and-copy').toFixed(2)}× of compute-and-copy`,
          pass: big2 ? vsCompute >= 0.9 : true,
        });
        if (scaled !== undefined) {
          const scale = paired(modeAt(scaled), modeAt(1));
          goals.push({
            name: `threads ${scaled} vs threads 1 at ${label}`,
            target: '>= 1.7',
            measured: `${scale.toFixed(2)}× (medians ${rows.get(modeAt(scaled))!.throughputRps} vs ${rows.get(modeAt(1))!.throughputRps} inputs/s)`,
            pass: scale >= 1.7,
          });
        }
        if (sweep !== undefined) {
          const least = Math.min(...sweep);
          goals.push({
            name: `scaling over threads ${least} at ${label} (throughput ÷ threads ${least}'s, median of rounds)`,
            target: 'report',
            measured: sweep.map((t) => `${t}: ${paired(modeAt(t), modeAt(least)).toFixed(2)}×`).join(', '),
            pass: true,
          });
        }
        goals.push({
          name: `peak RSS with ${4 * n} vs ${n} inputs at ${label}`,
          target: '<= 1.20',
          measured: `${rss.toFixed(2)}× (${mib(bigRow.peakRssBytes as number)} vs ${mib(main.peakRssBytes as number)} MiB)`,
          pass: rss <= 1.2,
        });
      } finally {
        for (const e of engines) await e.close();
        await pool.destroy();
      }
    }
  } finally {
    bar.stop();
  }
  const notes = [
    `took ${((performance.now() - started) / 1000).toFixed(1)} s: per size, each of ${5 + others.length} rows warmed for ${opts.quick ? WARM_MS_QUICK : WARM_MS} ms, then ${rounds} rounds of ${sizes.map((z) => `${inputsFor(z, opts)} (${z >= MiB ? `${z / MiB} MiB` : `${z / 1024} KiB`})`).join(', ')} inputs each, then 4× as many once; ${concurrency} inputs in flight, ${threads} threads unless the row says otherwise`,
    `every row runs in this process: peak RSS includes all the pools of its size (${1 + others.length} engines and the Piscina pool); ratios are medians of per-round ratios and still move between runs on a shared machine`,
  ];
  return { schemaVersion: 1, meta: meta(opts.command, { threads, ...(sweep !== undefined ? { threadSweep: sweep } : {}), concurrency, inputs: sizes.map((z) => inputsFor(z, opts)), rounds, sizes }), results, goals, notes };
}

interface Subject {
  mode: string;
  threads: number;
  run(count: number): Promise<Measured>;
}

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(0);
}

async function runCwasi(engine: Engine, concurrency: number, size: number, n: number, check: (i: number, hash: number, length: number) => void): Promise<Measured> {
  const rss = new RssPeak();
  const latencies: number[] = [];
  const t = performance.now();
  for await (const r of engine.map(PIPELINE.name, specs(size, n), { concurrency })) {
    if (r.error) throw r.error;
    const [rec] = workloads.readChecksums(r.output);
    check(r.index, rec!.hash, rec!.length);
    latencies.push(r.latencyMs);
    rss.sample();
  }
  const wallMs = performance.now() - t;
  return { latencies, wallMs, peakRss: rss.stop() };
}

function* specs(size: number, n: number): Generator<Uint8Array> {
  for (let i = 0; i < n; i++) yield workloads.producerSpec(size, i);
}

async function runPiscina(pool: Piscina, concurrency: number, size: number, n: number, transfer: boolean, check: (i: number, hash: number, length: number) => void): Promise<Measured> {
  const moveIn = (b: Uint8Array) => (transfer ? { transferList: [b.buffer as ArrayBuffer] } : {});
  const one = async (i: number): Promise<{ hash: number; length: number }> => {
    const produced = await pool.run({ stage: 'produce', len: size, seed: i, transfer } satisfies StageTask) as Uint8Array;
    const transformed = await pool.run({ stage: 'transform', bytes: produced, transfer } satisfies StageTask, moveIn(produced)) as Uint8Array;
    return await pool.run({ stage: 'checksum', bytes: transformed } satisfies StageTask, moveIn(transformed)) as { hash: number; length: number };
  };
  const rss = new RssPeak();
  const latencies: number[] = [];
  const t = performance.now();
  await lanes(n, concurrency, async (i) => {
    const t0 = performance.now();
    const r = await one(i);
    latencies.push(performance.now() - t0);
    check(i, r.hash, r.length);
    rss.sample();
  });
  const wallMs = performance.now() - t;
  return { latencies, wallMs, peakRss: rss.stop() };
}

/** The compute-only row (stage all): each input's three kernels in one task of the pool, nothing moved between stages; all-copy adds one copy into a second memory. */
async function runComputeOnly(pool: Piscina, concurrency: number, size: number, n: number, check: (i: number, hash: number, length: number) => void, stage: 'all' | 'all-copy'): Promise<Measured> {
  const rss = new RssPeak();
  const latencies: number[] = [];
  const t = performance.now();
  await lanes(n, concurrency, async (i) => {
    const t0 = performance.now();
    const r = await pool.run({ stage, len: size, seed: i } satisfies StageTask) as { hash: number; length: number };
    latencies.push(performance.now() - t0);
    check(i, r.hash, r.length);
    rss.sample();
  });
  const wallMs = performance.now() - t;
  return { latencies, wallMs, peakRss: rss.stop() };
}

/** Run `fn` for 0..n-1 with `width` calls in flight. */
async function lanes(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}
