// `cwasi bench paper`: the CWASI evaluation (SEC 2023), reproduced with the
// paper's workloads — a producer function makes the payload and sends it, the
// consumer reads every byte — for every mode that applies:
//   sequential A→B            2, 4, 10, 20, 40, 60, 100 MiB
//   fan-out 1→N, fan-in N→1   2 MiB, N = 10, 100 (and 500 without --quick)
//   fan-out by size           10 targets at 2, 10, 100 MiB
//   sequential cross-node     2, 10, 60 MiB (networked and remote-kv)
// Modes: embedded, local, networked (two `cwasi node` processes on loopback),
// remote-kv (the real Redis), copy.
//
// Per row: the paper's latency (producer returned → consumer has the payload;
// the consumer's own run excluded) and the end-to-end latency; the paper's
// throughput (1 / mean latency) and the real one (completed invocations per
// second with CONCURRENCY in flight); p50/p99; CPU time of this process (its
// worker threads included; other nodes' processes are not) and peak RSS.
// Fan-out and fan-in rows add, from the step timestamps of each invocation
// (paper/makespan.ts), the makespan (first producer start → last consumer
// done), the consumers' own runs and how many ran at once.
// `--threads 1,2,4` runs every job once per pool size (a fresh engine each;
// the node processes of networked rows keep the largest size) and prints the
// makespan speed-up over the smallest.

import { CwasiError, Engine, type IfcMode, type InvocationReport, type WorkflowDocument } from 'cwasi';
import * as workloads from 'cwasi/workloads';
import { startCluster, type Harness } from './cluster-harness.js';
import { type BenchOptions, type BenchReport, meta, progress, round, stats } from './common.js';
import { plotRenderer } from './paper/plot-renderer.js';
import { type PaperBenchRow, fanTiming, goalsFor, paperTable, writeReport as writePaperReport } from './paper/index.js';

const MiB = 1 << 20;
const CONCURRENCY = 4;
const ALL_MODES: IfcMode[] = ['embedded', 'local', 'networked', 'remote-kv', 'copy'];

type Experiment = PaperBenchRow['experiment'];

interface Shape {
  experiment: Experiment;
  /** Producers and consumers of one invocation. */
  producers: string[];
  consumers: string[];
  /** Edges as [producer, consumer]. */
  edges: Array<[string, string]>;
  output: string;
}

/** Deploy the functions and workflow of one experiment shape in one mode. */
function workflowFor(name: string, mode: IfcMode, shape: 'seq' | 'fan-out' | 'fan-in', n: number): { doc: WorkflowDocument; shape: Shape } {
  const domain = `paper-${name}`;
  const fn = (module: string, role: 'producer' | 'consumer') => {
    if (mode === 'embedded') return { module, trusted: true, domain };
    if (mode === 'networked') return { module, host: role === 'producer' ? 'paper-b' : 'paper-c' };
    return { module };
  };
  const functions: WorkflowDocument['functions'] = {};
  const producers: string[] = [];
  const consumers: string[] = [];
  const edges: Array<[string, string]> = [];
  if (shape === 'fan-in') {
    for (let i = 0; i < n; i++) {
      producers.push(`${name}-p${i}`);
      functions[`${name}-p${i}`] = fn('producer', 'producer');
    }
    consumers.push(`${name}-agg`);
    functions[`${name}-agg`] = fn('aggregate', 'consumer');
    for (const p of producers) edges.push([p, consumers[0]!]);
  } else {
    producers.push(`${name}-p`);
    functions[`${name}-p`] = fn('producer', 'producer');
    const count = shape === 'seq' ? 1 : n;
    for (let i = 0; i < count; i++) {
      consumers.push(`${name}-c${i}`);
      functions[`${name}-c${i}`] = fn('checksum', 'consumer');
      edges.push([producers[0]!, `${name}-c${i}`]);
    }
  }
  const forced = mode === 'copy' || mode === 'remote-kv' ? mode : undefined;
  const doc: WorkflowDocument = {
    name,
    functions,
    edges: edges.map(([from, to]) => (forced ? { from, to, mode: forced } : { from, to })),
    output: consumers[0]!,
  };
  return { doc, shape: { experiment: 'sequential', producers, consumers, edges, output: consumers[0]! } };
}

/** Transfer latencies (ms) of every edge of one invocation. */
function edgeLatencies(r: InvocationReport, shape: Shape): number[] {
  const at = new Map(r.steps.map((s) => [s.fn, s]));
  return shape.edges.map(([p, c]) => at.get(c)!.inputReady - at.get(p)!.done);
}

/** Check every consumer's result against `hash` (computed once per row: it costs more than an invocation). */
function checkOutput(r: InvocationReport, shape: Shape, bytes: number, hash: number, fanIn: boolean): void {
  if (fanIn) {
    const agg = workloads.readAggregate(r.output);
    if (agg.count !== shape.producers.length || agg.inputs.some((i) => i.hash !== hash || i.length !== bytes)) throw new Error(`${shape.output}: wrong aggregate`);
    return;
  }
  for (const c of shape.consumers) {
    const [rec] = workloads.readChecksums(r.outputs[c]!);
    if (rec?.hash !== hash || rec.length !== bytes) throw new Error(`${c}: wrong checksum at ${bytes} bytes`);
  }
}

/** Measured invocations and the size of the concurrent burst, scaled by the work of one invocation. */
function executionsFor(bytes: number, n: number, mode: IfcMode, quick: boolean, override?: number): { count: number; burst: number } {
  const work = (bytes / MiB) * Math.max(1, n / 4) * (mode === 'remote-kv' ? 4 : mode === 'copy' ? 2 : 1);
  const base = work >= 200 ? 3 : work >= 40 ? 5 : work >= 8 ? 12 : 30;
  const heavy = work >= 200;
  if (override !== undefined) return { count: override, burst: Math.max(override, CONCURRENCY) };
  // The concurrent burst must be long enough to reach a steady state.
  const burst = work >= 200 ? (quick ? 2 : CONCURRENCY) : work >= 40 ? 8 : work >= 8 ? 16 : 40;
  // --quick: cheap rows keep their samples (a mean needs them), heavy ones are cut.
  if (quick) return { count: heavy ? 2 : work >= 8 ? Math.ceil(base / 2) : base, burst };
  return { count: base * 2, burst };
}

class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout;
  constructor() {
    this.sample();
    this.timer = setInterval(() => this.sample(), 25);
    this.timer.unref();
  }
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

export async function paper(opts: BenchOptions): Promise<BenchReport> {
  const sweep = opts.threadSweep ?? [opts.threads ?? 2];
  const modes = (opts.modes ?? ALL_MODES).filter((m): m is IfcMode => ALL_MODES.includes(m as IfcMode));
  const seqSizes = opts.sizes ?? [2, 4, 10, 20, 40, 60, 100].map((m) => m * MiB);
  const fanNs = opts.quick ? [10, 100] : [10, 100, 500];
  const bySize = [2, 10, 100].map((m) => m * MiB);
  const crossSizes = [2, 10, 60].map((m) => m * MiB);
  const only = opts.experiments === undefined ? undefined : new Set(opts.experiments);
  const rows: PaperBenchRow[] = [];
  // Plots need optional packages: say so before minutes of measuring, not after.
  if (opts.out !== undefined) await plotRenderer();

  type Job = { experiment: Experiment; mode: IfcMode; shape: 'seq' | 'fan-out' | 'fan-in'; n: number; bytes: number };
  const jobs: Job[] = [];
  for (const mode of modes) for (const bytes of seqSizes) jobs.push({ experiment: 'sequential', mode, shape: 'seq', n: 1, bytes });
  for (const mode of modes) for (const n of fanNs) {
    jobs.push({ experiment: 'fan-out', mode, shape: 'fan-out', n, bytes: 2 * MiB });
    jobs.push({ experiment: 'fan-in', mode, shape: 'fan-in', n, bytes: 2 * MiB });
  }
  for (const mode of modes) for (const bytes of bySize) jobs.push({ experiment: 'fan-out-by-size', mode, shape: 'fan-out', n: 10, bytes });
  for (const mode of modes.filter((m) => m === 'networked' || m === 'remote-kv')) {
    for (const bytes of crossSizes) jobs.push({ experiment: 'sequential-cross-node', mode, shape: 'seq', n: 1, bytes });
  }

  if (only !== undefined) jobs.splice(0, jobs.length, ...jobs.filter((j) => only.has(j.experiment)));
  if (jobs.length === 0) throw new CwasiError('E_CONFIG', `nothing to measure: experiments ${[...(only ?? [])].join(', ')} have no rows for modes ${modes.join(', ')} (sequential-cross-node runs networked and remote-kv)`);
  const needCluster = modes.includes('networked') || jobs.some((j) => j.experiment === 'sequential-cross-node');
  let harness: Harness | undefined;
  let engine: Engine | undefined;
  const bar = progress(opts.progress, jobs.length * sweep.length, 'paper');
  try {
    if (needCluster) {
      harness = await startCluster({ nodes: [{ name: 'paper-b', host: '127.0.0.2' }, { name: 'paper-c', host: '127.0.0.3' }], threads: Math.max(...sweep) });
    }
    const expectedHashes = new Map<string, number>();
    for (const threads of sweep) {
      // Every pool size gets its own coordinator name: the cluster sees a new engine, not a restart of the last.
      engine = await Engine.create({
        threads,
        timeoutMs: 300_000,
        maxPayloadBytes: 2 ** 31 - 1,
        ...(harness ? { cluster: { nats: harness.nats, cluster: harness.cluster, name: `paper-coordinator-t${threads}`, secretFile: harness.secretFile } } : {}),
      });
      const deployed = new Map<string, Shape>();
      for (const job of jobs) {
        // Cross-node runs of remote-kv put producer and consumer on two nodes too.
        const mode = job.mode;
        const crossKv = job.experiment === 'sequential-cross-node' && mode === 'remote-kv';
        const key = `${job.shape}${job.n}-${mode}${crossKv ? '-x' : ''}`;
        let shape = deployed.get(key);
        if (shape === undefined) {
          const built = workflowFor(key, crossKv ? 'networked' : mode, job.shape, job.n);
          if (crossKv) built.doc.edges = built.doc.edges!.map((e) => ({ ...e, mode: 'remote-kv' as const }));
          await engine.deploy(built.doc);
          shape = built.shape;
          deployed.set(key, shape);
        }
        const seed = (job.bytes / 4096 + job.n) >>> 0;
        const spec = workloads.producerSpec(job.bytes, seed);
        // Every mode runs the same payloads: hash each (size, seed) once.
        const hashKey = `${job.bytes}/${seed}`;
        let expected = expectedHashes.get(hashKey);
        if (expected === undefined) {
          expected = workloads.checksum(workloads.produce(job.bytes, seed));
          expectedHashes.set(hashKey, expected);
        }
        const fanIn = job.shape === 'fan-in';
        const { count, burst } = executionsFor(job.bytes, job.n, mode, opts.quick, opts.executions);
        bar.tick(0, `${job.experiment} ${mode} ${job.bytes >> 20} MiB n=${job.n}`);
        // Warm up: instances, memory growth, connections.
        checkOutput(await engine.invokeWithReport(key, spec), shape, job.bytes, expected, fanIn);
        const rss = new RssSampler();
        const cpu0 = process.cpuUsage();
        const latencies: number[] = [];
        const sums: number[] = [];
        const e2e: number[] = [];
        const timed = job.shape !== 'seq';
        const makespans: number[] = [];
        const consumerRuns: number[] = [];
        const consumerSums: number[] = [];
        let peakConcurrent = 0;
        for (let i = 0; i < count; i++) {
          const t = performance.now();
          const r = await engine.invokeWithReport(key, spec);
          e2e.push(performance.now() - t);
          checkOutput(r, shape, job.bytes, expected, fanIn);
          const l = edgeLatencies(r, shape);
          latencies.push(...l);
          sums.push(l.reduce((a, b) => a + b, 0));
          if (timed) {
            const t = fanTiming(r.steps, shape.producers, shape.consumers);
            makespans.push(t.makespanMs);
            consumerRuns.push(...t.consumerRunMs);
            consumerSums.push(t.consumerSumMs);
            peakConcurrent = Math.max(peakConcurrent, t.peakConcurrent);
          }
        }
        // Real throughput: the same invocations with CONCURRENCY in flight,
        // after one concurrent round so extra instances and memories exist.
        const inFlight = Math.min(CONCURRENCY, burst);
        await Promise.all(Array.from({ length: inFlight }, async () => {
          checkOutput(await engine!.invokeWithReport(key, spec), shape!, job.bytes, expected, fanIn);
        }));
        let next = 0;
        const t0 = performance.now();
        await Promise.all(Array.from({ length: inFlight }, async () => {
          while (next < burst) {
            next++;
            const r = await engine!.invokeWithReport(key, spec);
            checkOutput(r, shape!, job.bytes, expected, fanIn);
          }
        }));
        const realRps = burst / ((performance.now() - t0) / 1000);
        const cpu = process.cpuUsage(cpu0);
        const latencyMs = stats(latencies);
        const e = stats(e2e);
        const row: PaperBenchRow = {
          bench: 'paper',
          experiment: job.experiment,
          mode,
          payloadBytes: job.bytes,
          n: job.n,
          executions: count,
          latencyMs,
          endToEndMs: e,
          throughputPaperRps: latencyMs.meanMs > 0 ? round(1000 / latencyMs.meanMs, 2) : 0,
          throughputRps: round(realRps, 2),
          gbPerSec: latencyMs.p50Ms > 0 ? round(job.bytes / (latencyMs.p50Ms / 1000) / 1e9, 3) : null,
          cpuMs: round((cpu.user + cpu.system) / 1000, 1),
          peakRssBytes: rss.stop(),
          metric: 'producer returned → consumer has the payload',
          threads,
        };
        if (timed) {
          row.makespanMs = stats(makespans);
          row.consumerRunMs = stats(consumerRuns);
          row.consumerSumMs = round(consumerSums.reduce((a, b) => a + b, 0) / consumerSums.length, 3);
          row.peakConcurrent = peakConcurrent;
        }
        if (job.experiment === 'fan-out-by-size') row.sumOf10Ms = round(sums.reduce((a, b) => a + b, 0) / sums.length, 3);
        rows.push(row);
        bar.tick(1, `${job.experiment} ${mode} ${job.bytes >> 20} MiB n=${job.n} threads ${threads}`);
      }
      await engine.close();
      engine = undefined;
    }
  } finally {
    bar.stop();
    await engine?.close();
    await harness?.close();
  }
  const m = meta(opts.command, {
    modes, concurrency: CONCURRENCY, threads: sweep,
    nodes: needCluster ? ['paper-b@127.0.0.2', 'paper-c@127.0.0.3 (cwasi node processes; networked rows)'] : [],
    redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  });
  const notes: string[] = [];
  // Goals and plots have one row per mode and size: with a sweep they take the largest pool size.
  const drawn = Math.max(...sweep);
  const judged = sweep.length > 1 ? rows.filter((r) => r.threads === drawn) : rows;
  if (sweep.length > 1) notes.push(`goals judge the threads ${drawn} rows`);
  if (opts.out !== undefined) {
    const files = await writePaperReport(opts.out, judged, m);
    notes.push(`wrote ${files.length} files to ${opts.out} (open ${opts.out}/index.html)${sweep.length > 1 ? `; plots and page show threads ${drawn}` : ''}`);
  }
  return { meta: m, results: rows, goals: goalsFor(judged), notes, table: paperTable(rows) };
}
