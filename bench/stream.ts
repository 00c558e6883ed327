// `cwasi bench stream`: a three-stage chain, producer → transform →
// checksum, streamed (stream-producer → stream-transform → stream-checksum)
// and whole-payload (producer → transform → checksum), per mode and size.
//
// Modes: `embedded` (the three trusted in one domain: one memory), `local`
// (untrusted: three memories) and `networked` (two `cwasi node` processes:
// the producer and the checksum on one, the transform on the other, this
// process coordinating; NATS at NATS_URL). Between streaming functions the
// edges stream live, three workers at once (across nodes: one open-ended
// Networked Buffer stream per edge); whole-payload embedded edges chain
// into one task.
//
// Per row: makespanMs (the first stage's start to the last stage's end, from
// the invocation's report), slowestStageMs (the slowest stage of the
// whole-payload chain of the same mode and size in the same run: each of its
// stages runs alone, on the same bytes), stagesMs (each stage's own run in
// this row), peakRssBytes (this process, every worker included, and for
// networked rows the two node processes too, sampled while the row runs). A whole-payload chain that cannot hold the payload is
// refused: the row carries the error code and message instead of times.
// Every run's checksum is checked against plain JS (workloads.streamedChecksum,
// in 1 MiB pieces, whatever the size).
// References (stream-floor.ts), at 1 GiB, named by each goal: for networked
// rows two raw TCP hops of the bytes at once (a lower bound of that row) and
// the CPU floor, (the stages alone + the two hops' CPU time) ÷ cores; for the
// others the stages alone ÷ cores.
// Goals: streamed makespan ÷ slowest stage ≤ 1.3 at 1 GiB (embedded, local),
// ≤ 1.5 (networked);
// at 6 GiB the streamed rows complete under 1.5 GiB of peak RSS and the
// whole-payload rows are refused with a typed error that says to stream.

import { CwasiError, Engine, type InvocationReport, type WorkflowDocument } from 'cwasi';
import * as workloads from 'cwasi/workloads';
import { type BenchOptions, type BenchReport, type BenchResult, type Goal, RssPeak, median, meta, progress, round, row, sizeLabel } from './common.js';
import { startCluster, type Harness } from './cluster-harness.js';
import { cores, cpuFloorMs, rawHopsAtOnce, type HopsAtOnce } from './stream-floor.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const MODES = ['embedded', 'local', 'networked'] as const;
/** The two node processes of networked rows: the producer and the checksum on the first, the transform on the second. */
const NODES = [{ name: 'stream-a', host: '127.0.0.2' }, { name: 'stream-b', host: '127.0.0.3' }];
type Mode = (typeof MODES)[number];
const STREAMED = ['stream-producer', 'stream-transform', 'stream-checksum'];
const WHOLE = ['producer', 'transform', 'checksum'];

/** Whole payloads of 1 GiB need an input copy and an output in one memory: every memory may grow to wasm32's 4 GiB. */
const MEMORY_MAX = 4 * GiB;

function chain(name: string, modules: string[], mode: Mode): WorkflowDocument {
  const functions: WorkflowDocument['functions'] = {};
  modules.forEach((m, i) => {
    functions[`${name}-${i}`] = mode === 'embedded' ? { module: m, trusted: true, domain: name }
      // Each edge crosses between the two nodes; the nodes' memories may grow as the engine's do.
      : mode === 'networked' ? { module: m, host: NODES[i % 2]!.name, memoryMaxBytes: MEMORY_MAX }
        : { module: m };
  });
  return { name, functions, edges: modules.slice(1).map((_, i) => ({ from: `${name}-${i}`, to: `${name}-${i + 1}` })) };
}

interface Run {
  makespanMs: number;
  stagesMs: number[];
  peakRss: number;
  hash: number;
  length: number;
}

/** Processes besides this one whose RSS a row counts (the node processes of networked rows). */
let otherPids: number[] = [];

async function runOnce(engine: Engine, name: string, size: number, seed: number): Promise<Run> {
  const rss = new RssPeak(20, otherPids);
  let r: InvocationReport;
  try {
    r = await engine.invokeWithReport(name, workloads.producerSpec(size, seed), { timeoutMs: 600_000 });
  } finally {
    rss.stop();
  }
  const steps = r.steps;
  const start = Math.min(...steps.map((s) => s.inputReady));
  const end = Math.max(...steps.map((s) => s.done));
  const [rec] = workloads.readChecksums(r.output);
  if (rec === undefined) throw new Error(`stream bench: ${name} returned ${r.output.length} bytes, not a checksum record`);
  return { makespanMs: end - start, stagesMs: steps.map((s) => s.done - s.inputReady), peakRss: rss.peak, hash: rec!.hash, length: rec!.length };
}

/** What the chain must give for `size` bytes of seed `seed`: plain JS, in 1 MiB pieces (cached: 6 GiB takes seconds). */
const expectedCache = new Map<string, { hash: number; length: number }>();
function expected(size: number, seed: number): { hash: number; length: number } {
  const key = `${size}/${seed}`;
  let e = expectedCache.get(key);
  if (e === undefined) {
    e = workloads.streamedChecksum(size, seed);
    expectedCache.set(key, e);
  }
  return e;
}

/** A row's rows of runs, or the typed error that refused it. */
interface Measured {
  runs: Run[];
  refused?: CwasiError;
  rssBefore: number;
}

/**
 * Run `name` at `size` `reps` times after one warm-up at that size (the
 * memories' pages touched once, as in a service that has run before); a
 * typed error ends the row as refused.
 */
async function measure(engine: Engine, name: string, size: number, reps: number, tick: (what: string) => void): Promise<Measured> {
  const out: Measured = { runs: [], rssBefore: process.memoryUsage.rss() };
  const label = sizeLabel(size);
  try {
    // A 6 GiB row is its own warm-up: its memories do not grow with it.
    if (size < 4 * GiB) await runOnce(engine, name, size, 1);
    for (let k = 0; k < reps; k++) {
      // One seed per size from 1 GiB up: its expected checksum is computed once.
      const seed = size >= GiB ? 7 : 7 + k;
      const run = await runOnce(engine, name, size, seed);
      const want = expected(size, seed);
      if (run.length !== want.length || run.hash !== want.hash) {
        throw new Error(`stream bench: ${name} at ${label} gave ${run.length} bytes, hash ${run.hash}, expected ${want.length} bytes, hash ${want.hash}`);
      }
      out.runs.push(run);
      tick(`${label} ${name} ${k + 1}/${reps}`);
    }
  } catch (err) {
    if (!(err instanceof CwasiError)) throw err;
    out.refused = err;
  }
  for (let k = out.runs.length; k < reps; k++) tick(`${label} ${name} refused`);
  return out;
}

/** A lower bound of a row measured in this run (stream-floor.ts), in multiples of the slowest stage; above the limit it puts the goal beyond this machine. */
function floorSuffix(name: string, samples: number[] | undefined, slowest: number | null, limit: number): string {
  if (samples === undefined || slowest === null) return '';
  const f = median(samples) / slowest;
  return `; ${name}: ${f.toFixed(2)}x the slowest stage${f > limit ? ' (a lower bound: beyond the goal on this machine)' : ''}`;
}

export async function stream(opts: BenchOptions): Promise<BenchReport> {
  const sizes = opts.sizes ?? [100 * MiB, GiB, 6 * GiB];
  const reps = opts.executions ?? (opts.quick ? 1 : 3);
  const threads = opts.threads ?? 3;
  const modes = MODES.filter((m) => opts.modes === undefined || opts.modes.includes(m));
  const bar = progress(opts.progress, sizes.length * modes.length * 2 * reps, 'stream');
  const results: BenchResult[] = [];
  const goals: Goal[] = [];
  const measured = new Map<string, Measured>();
  const floors = new Map<string, HopsAtOnce>();
  const key = (mode: Mode, streamed: boolean, size: number): string => `${mode}/${streamed}/${size}`;
  try {
    // Live (local) streamed rows first, each kind in an engine of its own:
    // a process's RSS never gives back a wasm memory a row before grew.
    const order: Array<[Mode, boolean]> = [['local', true], ['embedded', true], ['networked', true], ['local', false], ['embedded', false], ['networked', false]];
    for (const [mode, streamed] of order.filter(([m]) => modes.includes(m))) {
      let harness: Harness | undefined;
      if (mode === 'networked') {
        // Fresh node processes per kind, as the engines are.
        harness = await startCluster({ nodes: NODES, threads: 2, nodeArgs: ['--memory-max', String(MEMORY_MAX)] });
        otherPids = [...harness.nodes.values()].map((n) => n.child.pid!).filter((pid) => pid !== undefined);
      }
      const engine = await Engine.create({
        threads, memoryMaxBytes: MEMORY_MAX,
        ...(harness !== undefined ? { cluster: { nats: harness.nats, cluster: harness.cluster, name: 'stream-bench', secretFile: harness.secretFile } } : {}),
      });
      try {
        const name = `${streamed ? 'streamed' : 'whole'}-${mode}`;
        await engine.deploy(chain(name, streamed ? STREAMED : WHOLE, mode));
        await runOnce(engine, name, 4 * MiB, 1);
        for (const size of sizes) measured.set(key(mode, streamed, size), await measure(engine, name, size, reps, (what) => bar.tick(1, what)));
      } finally {
        await engine.close();
        await harness?.close();
        otherPids = [];
      }
    }
    // The networked rows' lower bound (stream-floor.ts), at the size their goal is set for.
    if (modes.includes('networked') && sizes.includes(GiB)) {
      bar.tick(0, `${sizeLabel(GiB)} raw TCP hops`);
      floors.set(`hops/${GiB}`, await rawHopsAtOnce(GiB, reps));
    }
  } finally {
    bar.stop();
  }
  for (const [k, hops] of floors) {
    results.push(row('stream', 'raw-tcp-hops-at-once', Number(k.split('/')[1]), hops.ms, {
      metric: 'the slower of two raw TCP hops of the same bytes sent at once (ms)',
      makespanMs: round(median(hops.ms), 2),
      cpuMs: round(median(hops.cpuMs), 2),
      cpuSamplesMs: hops.cpuMs.map((x) => round(x, 2)),
    }));
  }
  const floorText = (mode: Mode, size: number, slowest: number | null, limit: number, stagesAlone: number[]): string => {
    const hops = floors.get(`hops/${size}`);
    const transport = mode === 'networked' ? hops : undefined;
    if (mode === 'networked' && transport === undefined) return '';
    const cpuFloor = stagesAlone.length > 0 ? [cpuFloorMs(stagesAlone, transport === undefined ? 0 : median(transport.cpuMs))] : undefined;
    const what = transport === undefined ? `the stages alone ÷ ${cores()} cores`
      : `CPU floor, (the stages alone + the two hops' ${round(median(transport.cpuMs), 0)} ms of CPU) ÷ ${cores()} cores`;
    return (transport !== undefined ? floorSuffix('two raw TCP hops of the bytes at once', transport.ms, slowest, limit) : '') + floorSuffix(what, cpuFloor, slowest, limit);
  };
  for (const size of sizes) {
    const label = sizeLabel(size);
    for (const mode of modes) {
      const whole = measured.get(key(mode, false, size))!;
      const slowest = whole.runs.map((r) => Math.max(...r.stagesMs));
      const slowestStageMs = slowest.length > 0 ? round(median(slowest), 2) : null;
      const rows: BenchResult[] = [];
      for (const streamed of [false, true]) {
        const m = measured.get(key(mode, streamed, size))!;
        const makespans = m.runs.map((r) => r.makespanMs);
        const r = row('stream', `${mode}${streamed ? '-streamed' : '-whole'}`, size, makespans, {
          metric: 'makespan: first stage start to last stage end (ms)',
          streamed,
          makespanMs: m.runs.length > 0 ? round(median(makespans), 2) : null,
          slowestStageMs,
          stagesMs: m.runs.length > 0 ? m.runs[m.runs.length >> 1]!.stagesMs.map((x) => round(x, 2)) : [],
          peakRssBytes: m.runs.length > 0 ? Math.max(...m.runs.map((x) => x.peakRss)) : null,
          rssBeforeBytes: m.rssBefore,
          ...(m.refused !== undefined ? { refused: { code: m.refused.code, message: m.refused.message.slice(0, 300) } } : {}),
        });
        if (typeof r.makespanMs === 'number' && slowestStageMs !== null) r.makespanOverSlowestStage = round(r.makespanMs / slowestStageMs, 3);
        results.push(r);
        rows.push(r);
      }
      const [w, s] = rows as [BenchResult, BenchResult];
      const ratio = s.makespanOverSlowestStage as number | undefined;
      if (size === GiB) {
        const limit = mode === 'networked' ? 1.5 : 1.3;
        goals.push({
          name: `${mode}: streamed makespan ÷ slowest stage at ${label}`,
          target: `<= ${limit.toFixed(2)}`,
          measured: ratio === undefined ? `not measured (${s.refused !== undefined ? `streamed: ${(s.refused as { code: string }).code}` : ''}${w.refused !== undefined ? ` whole: ${(w.refused as { code: string }).code}` : ''})`
            : `${ratio.toFixed(2)} (${s.makespanMs} ms vs ${w.slowestStageMs} ms; whole-payload chain ${w.makespanMs} ms)${floorText(mode, size, slowestStageMs, limit, w.stagesMs as number[])}`,
          pass: ratio !== undefined && ratio <= limit,
        });
      }
      if (size >= 6 * GiB) {
        const rss = s.peakRssBytes as number | null;
        goals.push({
          name: `${mode}: streamed chain completes at ${label} under 1.5 GiB of peak RSS`,
          target: '< 1.5 GiB',
          measured: s.refused !== undefined ? `refused: ${(s.refused as { code: string }).code}` : `${((rss ?? 0) / GiB).toFixed(2)} GiB`,
          pass: s.refused === undefined && rss !== null && rss < 1.5 * GiB,
        });
        const why = w.refused as { code: string; message: string } | undefined;
        goals.push({
          name: `${mode}: whole-payload chain at ${label} is refused with a typed error that says to stream`,
          target: 'refused, naming streams',
          measured: why === undefined ? 'it ran' : `${why.code}: ${why.message.slice(0, 120)}`,
          pass: why !== undefined && /stream/i.test(why.message),
        });
      }
    }
  }
  const notes = [
    `${threads} worker threads here (networked: 2 in each node process, producer and checksum on ${NODES[0]!.name}, transform on ${NODES[1]!.name}); one warm-up run at each size (below 4 GiB), then ${reps} run(s) per row, medians; each (mode, streamed) pair runs in an engine of its own, live streamed rows first (RSS never shrinks after a memory grew); the whole-payload chain's stages run one after another, so its slowest stage time is that stage alone on the same bytes`,
  ];
  return { schemaVersion: 1, meta: meta(opts.command, { threads, sizes, reps }), results, goals, notes };
}
