// `cwasi bench stream`: a three-stage chain, producer → transform →
// checksum, streamed (stream-producer → stream-transform → stream-checksum)
// and whole-payload (producer → transform → checksum), per mode and size.
//
// Modes: `embedded` (the three trusted in one domain: one memory, the edges
// chain into one task) and `local` (untrusted: three memories; between
// streaming functions the edges stream live, three workers at once).
// Networked rows are not measured: a networked edge does not stream live yet
// (docs/limitations.md, "Streams").
//
// Per row: makespanMs (the first stage's start to the last stage's end, from
// the invocation's report), slowestStageMs (the slowest stage of the
// whole-payload chain of the same mode and size in the same run: each of its
// stages runs alone, on the same bytes), stagesMs (each stage's own run in
// this row), peakRssBytes (this process, every worker included, sampled
// while the row runs). A whole-payload chain that cannot hold the payload is
// refused: the row carries the error code and message instead of times.
// Goals: streamed makespan ÷ slowest stage ≤ 1.3 at 1 GiB (embedded, local);
// at 6 GiB the streamed rows complete under 1.5 GiB of peak RSS and the
// whole-payload rows are refused with a typed error that says to stream.

import { CwasiError, Engine, type InvocationReport, type WorkflowDocument } from 'cwasi';
import * as workloads from 'cwasi/workloads';
import { type BenchOptions, type BenchReport, type BenchResult, type Goal, median, meta, progress, round, row, sizeLabel } from './common.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const MODES = ['embedded', 'local'] as const;
type Mode = (typeof MODES)[number];
const STREAMED = ['stream-producer', 'stream-transform', 'stream-checksum'];
const WHOLE = ['producer', 'transform', 'checksum'];

function chain(name: string, modules: string[], mode: Mode): WorkflowDocument {
  const functions: WorkflowDocument['functions'] = {};
  modules.forEach((m, i) => {
    functions[`${name}-${i}`] = mode === 'embedded' ? { module: m, trusted: true, domain: name } : { module: m };
  });
  return { name, functions, edges: modules.slice(1).map((_, i) => ({ from: `${name}-${i}`, to: `${name}-${i + 1}` })) };
}

/** The producer's input for `size` bytes: u32 length, u32 seed, u32 length high word. */
function spec(size: number, seed: number): Uint8Array {
  const s = new Uint8Array(12);
  const dv = new DataView(s.buffer);
  dv.setUint32(0, size >>> 0, true);
  dv.setUint32(4, seed, true);
  dv.setUint32(8, Math.floor(size / 2 ** 32), true);
  return s;
}

/** Peak RSS of this process (workers included) while a row runs. */
class RssPeak {
  peak = process.memoryUsage.rss();
  private readonly timer = setInterval(() => this.sample(), 20);
  sample(): void {
    const r = process.memoryUsage.rss();
    if (r > this.peak) this.peak = r;
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

interface Run {
  makespanMs: number;
  stagesMs: number[];
  peakRss: number;
  hash: number;
  length: number;
}

async function runOnce(engine: Engine, name: string, size: number, seed: number): Promise<Run> {
  const rss = new RssPeak();
  let r: InvocationReport;
  try {
    r = await engine.invokeWithReport(name, spec(size, seed), { timeoutMs: 600_000 });
  } finally {
    rss.stop();
  }
  const steps = r.steps;
  const start = Math.min(...steps.map((s) => s.inputReady));
  const end = Math.max(...steps.map((s) => s.done));
  const [rec] = workloads.readChecksums(r.output);
  return { makespanMs: end - start, stagesMs: steps.map((s) => s.done - s.inputReady), peakRss: rss.peak, hash: rec!.hash, length: rec!.length };
}

/** The checksum the chain must give for `size` bytes of seed `seed`, or undefined above what plain JS checks quickly. */
function expected(size: number, seed: number): number | undefined {
  if (size > 256 * MiB) return undefined;
  return workloads.checksum(workloads.transform(workloads.produce(size, seed)));
}

export async function stream(opts: BenchOptions): Promise<BenchReport> {
  const sizes = opts.sizes ?? [100 * MiB, GiB, 6 * GiB];
  const reps = opts.executions ?? (opts.quick ? 1 : 3);
  const threads = opts.threads ?? 3;
  const bar = progress(opts.progress, sizes.length * MODES.length * 2 * reps, 'stream');
  const results: BenchResult[] = [];
  const goals: Goal[] = [];
  const notes: string[] = [];
  const engine = await Engine.create({ threads });
  try {
    for (const mode of MODES) {
      await engine.deploy(chain(`streamed-${mode}`, STREAMED, mode));
      await engine.deploy(chain(`whole-${mode}`, WHOLE, mode));
    }
    // Warm up: every instance exists, the JIT has seen every path.
    for (const mode of MODES) for (const kind of ['streamed', 'whole']) await runOnce(engine, `${kind}-${mode}`, 4 * MiB, 1);
    for (const size of sizes) {
      const label = sizeLabel(size);
      for (const mode of MODES) {
        const slowest: number[] = [];
        const rows: Record<string, BenchResult> = {};
        for (const streamed of [false, true]) {
          const name = `${streamed ? 'streamed' : 'whole'}-${mode}`;
          const runs: Run[] = [];
          let refused: CwasiError | undefined;
          for (let k = 0; k < reps && refused === undefined; k++) {
            try {
              const seed = 7 + k;
              const run = await runOnce(engine, name, size, seed);
              const want = expected(size, seed);
              if (run.length !== (size >>> 0) || (want !== undefined && run.hash !== want)) throw new Error(`stream bench: ${name} at ${label} gave ${run.length} bytes, hash ${run.hash}, expected ${want}`);
              runs.push(run);
              if (!streamed) slowest.push(Math.max(...run.stagesMs));
            } catch (err) {
              if (!(err instanceof CwasiError)) throw err;
              refused = err;
            }
            bar.tick(1, `${label} ${name} ${k + 1}/${reps}`);
          }
          if (refused !== undefined) bar.tick(reps - 1 - runs.length);
          const makespans = runs.map((r) => r.makespanMs);
          const slowestStageMs = slowest.length > 0 ? round(median(slowest), 2) : null;
          const r = row('stream', `${mode}${streamed ? '-streamed' : '-whole'}`, size, makespans, {
            metric: 'makespan: first stage start to last stage end (ms)',
            streamed,
            makespanMs: runs.length > 0 ? round(median(makespans), 2) : null,
            slowestStageMs,
            stagesMs: runs.length > 0 ? runs[runs.length >> 1]!.stagesMs.map((x) => round(x, 2)) : [],
            peakRssBytes: runs.length > 0 ? Math.max(...runs.map((x) => x.peakRss)) : null,
            ...(refused !== undefined ? { refused: { code: refused.code, message: refused.message.slice(0, 300) } } : {}),
          });
          results.push(r);
          rows[streamed ? 'streamed' : 'whole'] = r;
        }
        const s = rows.streamed!;
        const w = rows.whole!;
        const ratio = typeof s.makespanMs === 'number' && typeof w.slowestStageMs === 'number' ? (s.makespanMs / w.slowestStageMs) : undefined;
        if (ratio !== undefined) s.makespanOverSlowestStage = round(ratio, 3);
        if (size === GiB) {
          goals.push({
            name: `${mode}: streamed makespan ÷ slowest stage at ${label}`,
            target: '<= 1.30',
            measured: ratio === undefined ? 'not measured' : `${ratio.toFixed(2)} (${s.makespanMs} ms vs ${w.slowestStageMs} ms; whole-payload chain ${w.makespanMs} ms)`,
            pass: ratio !== undefined && ratio <= 1.3,
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
  } finally {
    bar.stop();
    await engine.close();
  }
  notes.push(`${threads} worker threads; ${reps} run(s) per row, medians; the whole-payload chain's stages run one after another, so each of its stage times is that stage alone on the same bytes`);
  notes.push('networked rows are not measured: a networked edge does not stream live yet; embedded streamed rows run buffered (embedded edges chain into one task)');
  return { schemaVersion: 1, meta: meta(opts.command, { threads, sizes, reps }), results, goals, notes };
}
