// `cwasi bench service`: what a large call costs the small calls of a service
// sharing its engine. 1 000 small calls (1 KiB through `identity`, 8 in
// flight) are timed alone, then beside one large call (512 MiB through
// `checksum`, --sizes; the small calls go on until it has finished) in the
// same run; for each phase the small calls'
// latency and the event-loop delay of this thread (perf_hooks
// monitorEventLoopDelay at 1 ms resolution, reset at the phase's start).
// Phases alternate over rounds so machine noise hits both; each row is the
// round with the median loop-delay maximum.
// Goals, beside the large call: event-loop delay max <= max(20 ms, 2x alone),
// small-call p99 <= max(5 ms, 2x alone).
// Reference (`raw-thread-beside-busy-worker`): this thread's event-loop delay
// while it runs nothing at all and one plain worker thread burns the CPU for
// as long as the large call took: what the machine's scheduler alone costs a
// thread that shares its cores with a busy worker (and, with --contend, with
// other processes). No engine code runs in it.
// Reference (`raw-piscina-small-beside-busy-worker`): the same small calls
// through a plain Piscina pool of threads - 1 workers (returning the input),
// IN_FLIGHT at a time, while a plain worker thread burns the CPU for as long
// as the large call took: what the small calls would cost beside a busy core
// with no engine at all, the floor the small-call p99 goal is read against.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Engine } from 'cwasi';
import { type BenchOptions, type BenchReport, type BenchResult, median, meta, progress, round, row, sizeLabel, stats } from './common.js';

const SMALL_BYTES = 1024;
const IN_FLIGHT = 8;

interface Phase {
  samples: number[];
  loopMaxMs: number;
  loopP99Ms: number;
}

export async function service(opts: BenchOptions): Promise<BenchReport> {
  const bigBytes = opts.sizes?.[0] ?? 512 * 2 ** 20;
  const smallCalls = opts.executions ?? (opts.quick ? 300 : 1000);
  const rounds = opts.quick ? 1 : 3;
  const threads = opts.threads ?? 2;
  const engine = await Engine.create({ threads, timeoutMs: 600_000, maxPayloadBytes: Math.max(bigBytes, 2 ** 20) });
  const small = new Uint8Array(SMALL_BYTES).fill(7);
  const big = new Uint8Array(bigBytes);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
  const bar = progress(opts.progress, 2 * rounds, 'service');
  const alone: Phase[] = [];
  const beside: Phase[] = [];
  let bigMs = 0;
  try {
    await engine.deploy([
      { name: 'identity', module: 'identity' },
      { name: 'checksum', module: 'checksum', memoryMaxBytes: Math.min(4 * 2 ** 30 - 2 ** 16, 2 * bigBytes + 64 * 2 ** 20) },
    ]);
    for (let i = 0; i < 500; i++) await engine.invoke('identity', small);
    await engine.invoke('checksum', big.subarray(0, 2 ** 20));
    for (let r = 0; r < rounds; r++) {
      for (const which of r % 2 === 0 ? ['alone', 'beside'] : ['beside', 'alone']) {
        if (which === 'alone') {
          alone.push(await phase(() => engine.invoke('identity', small), smallCalls));
        } else {
          const t = performance.now();
          const large = engine.invoke('checksum', big).then(() => (bigMs = performance.now() - t));
          beside.push(await phase(() => engine.invoke('identity', small), smallCalls, large));
          await large;
        }
        bar.tick(1, `round ${r + 1} ${which}`);
      }
    }
  } finally {
    bar.stop();
    await engine.close();
  }
  const pick = (ps: Phase[]): Phase => {
    const m = median(ps.map((p) => p.loopMaxMs));
    return ps.find((p) => p.loopMaxMs === m) ?? ps[0]!;
  };
  const a = pick(alone);
  const b = pick(beside);
  const floor: Phase[] = [];
  for (let r = 0; r < rounds; r++) floor.push(await busyWorkerPhase(bigMs));
  const f = pick(floor);
  const rawPool = new Piscina({ filename: new URL('./raw-worker.js', import.meta.url).href, minThreads: Math.max(1, threads - 1), maxThreads: Math.max(1, threads - 1) });
  const raw: Phase[] = [];
  try {
    for (let i = 0; i < 500; i++) await rawPool.run(small);
    for (let r = 0; r < rounds; r++) raw.push(await phase(() => rawPool.run(small), smallCalls, (await busyWorker(bigMs)).exited));
  } finally {
    await rawPool.destroy();
  }
  const rawP99s = raw.map((p) => stats(p.samples).p99Ms);
  const rawPick = raw[rawP99s.indexOf(median(rawP99s))] ?? raw[0]!;
  const asRow = (mode: string, p: Phase): BenchResult => row('service', mode, SMALL_BYTES, p.samples, {
    metric: 'small call', concurrency: IN_FLIGHT, loopDelayMaxMs: round(p.loopMaxMs, 2), loopDelayP99Ms: round(p.loopP99Ms, 2),
  });
  const results = [asRow('small-alone', a), asRow(`small-beside-${sizeLabel(bigBytes).replace(' ', '')}`, b)];
  results.push(row('service', 'raw-thread-beside-busy-worker', 0, [f.loopMaxMs], {
    metric: 'event-loop delay (reference)', loopDelayMaxMs: round(f.loopMaxMs, 2), loopDelayP99Ms: round(f.loopP99Ms, 2),
  }));
  results.push(row('service', 'raw-piscina-small-beside-busy-worker', SMALL_BYTES, rawPick.samples, {
    metric: 'small call through a plain Piscina pool (reference)', concurrency: IN_FLIGHT, threads: Math.max(1, threads - 1),
    loopDelayMaxMs: round(rawPick.loopMaxMs, 2), loopDelayP99Ms: round(rawPick.loopP99Ms, 2),
  }));
  const rawP99 = results[3]!.latencyMs.p99Ms;
  const aP99 = results[0]!.latencyMs.p99Ms;
  const bP99 = results[1]!.latencyMs.p99Ms;
  const loopBound = Math.max(20, 2 * a.loopMaxMs);
  const p99Bound = Math.max(5, 2 * aP99);
  return {
    meta: meta(opts.command, { threads, smallCalls, inFlight: IN_FLIGHT, bigBytes, rounds, lastBigCallMs: round(bigMs, 1) }),
    results,
    goals: [
      {
        name: `event-loop delay max beside a ${sizeLabel(bigBytes)} call`,
        target: `<= max(20 ms, 2x alone) = ${loopBound.toFixed(1)} ms`,
        measured: `${b.loopMaxMs.toFixed(1)} ms (alone ${a.loopMaxMs.toFixed(1)} ms; rounds ${beside.map((p) => p.loopMaxMs.toFixed(1)).join(', ')})`,
        pass: b.loopMaxMs <= loopBound,
      },
      {
        name: `small-call p99 beside a ${sizeLabel(bigBytes)} call`,
        target: `<= max(5 ms, 2x alone) = ${p99Bound.toFixed(2)} ms`,
        measured: `${bP99.toFixed(2)} ms (alone ${aP99.toFixed(2)} ms; a plain Piscina pool's small calls beside a busy worker: p99 ${rawP99.toFixed(2)} ms, rounds ${rawP99s.map((v) => v.toFixed(2)).join(', ')})`,
        pass: bP99 <= p99Bound,
      },
    ],
    notes: [
      `the ${sizeLabel(bigBytes)} call took ${bigMs.toFixed(0)} ms in the last round`,
      `reference: a thread running nothing beside a plain worker busy for ${bigMs.toFixed(0)} ms saw event-loop delay max ${f.loopMaxMs.toFixed(1)} ms (rounds ${floor.map((p) => p.loopMaxMs.toFixed(1)).join(', ')})`,
    ],
  };
}

/** At least `count` small calls (`call`), IN_FLIGHT at a time, and more while `during` (if any) is in flight; the loop delay over the phase. */
async function phase(call: () => Promise<unknown>, count: number, during?: Promise<unknown>): Promise<Phase> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const samples: number[] = [];
  let next = 0;
  // Beside a large call, the small ones go on until it has finished, so that all of it is beside them.
  let running = during !== undefined;
  void during?.finally(() => (running = false)).catch(() => {});
  const lane = async () => {
    while (next < count || running) {
      next++;
      const t = performance.now();
      await call();
      samples.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  // The phase covers the large call to its end: the delay it causes counts wherever it falls.
  if (during !== undefined) await during;
  h.disable();
  return { samples, loopMaxMs: h.max / 1e6, loopP99Ms: h.count > 0 ? h.percentile(99) / 1e6 : 0 };
}

/** A plain worker thread that spins for `ms`; resolves once it is online, with its exit. */
async function busyWorker(ms: number): Promise<{ exited: Promise<void> }> {
  const w = new Worker(`const end = Date.now() + ${Math.max(1, Math.ceil(ms))}; let x = 0; while (Date.now() < end) x++;`, { eval: true });
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    w.once('online', () => resolve());
    w.once('error', reject);
  });
  return { exited };
}

/** The reference phase: this thread idle (a 1 ms timer keeps its loop turning) while a plain worker thread spins for `ms`. */
async function busyWorkerPhase(ms: number): Promise<Phase> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const { exited } = await busyWorker(ms);
  h.enable();
  const tick = setInterval(() => {}, 1);
  await exited;
  clearInterval(tick);
  h.disable();
  return { samples: [], loopMaxMs: h.max / 1e6, loopP99Ms: h.count > 0 ? h.percentile(99) / 1e6 : 0 };
}
