// `cwasi bench alloc`: allocation-heavy guest code (parse a JSON document into
// a tree of objects and serialise it again: asm-functions/bench/json-roundtrip.ts)
// under cwasi's guest runtime (per-instance heap over host-granted regions,
// mark and sweep) against the same source under plain asc with its own
// incremental runtime in a private memory (bench/plain-asc.ts), in the same
// process. Both outputs are compared byte for byte first.
//
// What is timed on the cwasi side is the guest's own run (its step: input
// ready → cwasi_main returned), as in `cwasi bench stack-check`, so the
// engine's round trip does not drown the runtime; on the plain side, the
// synchronous call (input copied in, output copied out). Rounds alternate
// the two; a goal's ratio is the median of per-round throughput ratios
// (cwasi / plain: 1.00 = as fast). The end-to-end invoke row shows what a
// caller sees, round trip included.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from 'cwasi';
import { USER_STATIC_BASE, ascArgs, compileWith } from 'cwasi/primitives';
import { type BenchOptions, type BenchReport, type Goal, median, meta, prng, progress, round, row } from './common.js';
import { PlainInstance, compilePlain } from './plain-asc.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = join(root, 'asm-functions', 'bench', 'json-roundtrip.ts');

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'quote"d', 'back\\slash', 'new\nline', 'zoë', '中文'];

/** A JSON document of about `bytes`: an array of records with strings, numbers, flags and nested arrays. */
export function document(bytes: number, seed: number): Uint8Array {
  const rnd = prng(seed);
  const records: unknown[] = [];
  let size = 2;
  while (size < bytes) {
    const r = {
      id: Math.floor(rnd() * 1e6),
      name: WORDS[Math.floor(rnd() * WORDS.length)]! + String(Math.floor(rnd() * 100)),
      price: Math.floor(rnd() * 100_000) / 100,
      ok: rnd() < 0.5,
      note: rnd() < 0.3 ? null : WORDS[Math.floor(rnd() * WORDS.length)],
      tags: Array.from({ length: Math.floor(rnd() * 5) }, () => WORDS[Math.floor(rnd() * WORDS.length)]),
      dims: { w: Math.floor(rnd() * 500), h: Math.floor(rnd() * 500), depth: [rnd() < 0.5 ? 1 : 2.5, -3] },
    };
    records.push(r);
    size += JSON.stringify(r).length + 1;
  }
  return new TextEncoder().encode(JSON.stringify(records));
}

export async function alloc(opts: BenchOptions): Promise<BenchReport> {
  const sizes = opts.sizes ?? [4 * 1024, 256 * 1024];
  const rounds = opts.quick ? 5 : 9;
  const bar = progress(opts.progress, 1 + sizes.length * (rounds + 1), 'alloc');
  const [plainWasm, cwasiWasm] = await Promise.all([compilePlain(SOURCE), compileWith(ascArgs(SOURCE, USER_STATIC_BASE), root)]);
  bar.tick(1, 'compiled');
  const plain = PlainInstance.create('json-roundtrip', plainWasm);
  const engine = await Engine.create({ threads: 1 });
  const results = [];
  const goals: Goal[] = [];
  let notes: string[] = [];
  try {
    await engine.deploy({ name: 'json-roundtrip', module: cwasiWasm });
    for (const size of sizes) {
      const input = document(size, size);
      // The same bytes from both, or the comparison means nothing.
      const expected = plain.invoke([input]);
      const got = await engine.invoke('json-roundtrip', input);
      if (Buffer.compare(Buffer.from(got), Buffer.from(expected)) !== 0) throw new Error(`json-roundtrip: cwasi and plain asc outputs differ for a ${size}-byte document`);
      const perRound = opts.executions ?? Math.max(10, Math.min(400, Math.round((opts.quick ? 2e6 : 8e6) / size)));
      for (let i = 0; i < 10; i++) {
        plain.invoke([input]);
        await engine.invoke('json-roundtrip', input);
      }
      bar.tick(1, `${size} B warm`);
      const samples = { cwasi: [] as number[], plain: [] as number[], invoke: [] as number[] };
      const rps = { cwasi: [] as number[], plain: [] as number[] };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? ['cwasi', 'plain'] as const : ['plain', 'cwasi'] as const;
        for (const side of order) {
          let total = 0;
          for (let i = 0; i < perRound; i++) {
            let ms: number;
            if (side === 'plain') {
              const t0 = performance.now();
              plain.invoke([input]);
              ms = performance.now() - t0;
            } else {
              const t0 = performance.now();
              const rep = await engine.invokeWithReport('json-roundtrip', input);
              samples.invoke.push(performance.now() - t0);
              const step = rep.steps[0]!;
              ms = step.done - step.inputReady;
            }
            samples[side].push(ms);
            total += ms;
          }
          rps[side].push(perRound / (total / 1000));
        }
        bar.tick(1, `${size} B round ${r + 1}`);
      }
      const ratio = median(rps.cwasi.map((x, i) => x / rps.plain[i]!));
      const mb = (rpsList: number[]) => round((median(rpsList) * input.length) / 1e6, 1);
      results.push(row('alloc', 'cwasi (guest run)', input.length, samples.cwasi, { throughputRps: round(median(rps.cwasi), 1), mbPerSec: mb(rps.cwasi), metric: 'guest run (step input ready → cwasi_main returned)' }));
      results.push(row('alloc', 'plain asc', input.length, samples.plain, { throughputRps: round(median(rps.plain), 1), mbPerSec: mb(rps.plain), metric: 'synchronous call in this thread (input in, output out)' }));
      results.push(row('alloc', 'cwasi (invoke)', input.length, samples.invoke, { metric: 'engine.invoke end to end' }));
      goals.push({
        name: `JSON parse + re-serialise, ${input.length} B: cwasi guest throughput vs plain asc`,
        target: '>= 0.90',
        measured: `${ratio.toFixed(3)} (median of ${rounds} paired rounds)`,
        pass: ratio >= 0.9,
      });
    }
    const heap = engine.stats().memory.find((m) => m.members.includes('json-roundtrip'));
    if (heap !== undefined) notes = [`memory after the run: cwasi ${(heap.memoryBytes / 2 ** 20).toFixed(1)} MiB (in use ${(heap.bytesInUse / 2 ** 20).toFixed(1)} MiB), plain asc ${(plain.memoryBytes() / 2 ** 20).toFixed(1)} MiB`];
  } finally {
    bar.stop();
    await engine.close();
  }
  return { meta: meta(opts.command, { rounds, kernel: 'asm-functions/bench/json-roundtrip.ts' }), results, goals, notes };
}
