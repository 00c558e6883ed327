// `cwasi bench stack-check`: what the per-instance shadow-stack limit costs.
// Every frame that uses the shadow stack compares the lowered pointer with
// the limit. With asm-functions/rt/export-stack-pointer.mjs the limit is a
// mutable global the host sets (an overflow traps at the instance's own
// stack); the reference build (bench/stack-constant-transform.mjs) keeps
// asc's constant limit, folded into an immediate, which cannot catch an
// overflow of a stack placed in the heap. Each kernel is compiled both ways
// here, with the build's flags, and run through the engine in alternating
// rounds. What is timed is the guest's own run (its step: input ready →
// cwasi_main returned), so the engine's round trip does not drown the check;
// a goal's ratio is the median of per-round ratios of mean guest time
// (reference / checked: 1.00 = free, 0.95 = 5 % slower). `deep` (a test fixture that recurses
// with a live reference per frame) is the worst case: little but frames.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { Engine } from 'cwasi';
import * as workloads from 'cwasi/workloads';
import { ascArgs, compileWith } from 'cwasi/primitives';
import { type BenchOptions, type BenchReport, median, meta, progress, round, row } from './common.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Kernel {
  name: string;
  source: string;
  input: Uint8Array;
}

/** One kernel compiled with the cwasi flags (engine/build/asc.ts), with `transform` in place of the cwasi transform. */
async function compile(source: string, memoryBase: number, transform: string): Promise<Uint8Array> {
  const args = ascArgs(source, memoryBase);
  args[args.indexOf('--transform') + 1] = transform;
  return compileWith(args, root);
}

function text(length: number, seed: number): Uint8Array {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'stack', 'frame', 'memory', 'heap'];
  const r = workloads.produce(length / 4, seed);
  return new TextEncoder().encode(Array.from(r, (b) => words[b & 7]).join(' '));
}

export async function stackCheck(opts: BenchOptions): Promise<BenchReport> {
  const size = opts.sizes?.[0] ?? 256 * 1024;
  const rounds = opts.quick ? 5 : 9;
  const perRound = opts.executions ?? (opts.quick ? 40 : 120);
  const deep = new Uint8Array(4 + 1024);
  new DataView(deep.buffer).setUint32(0, 7000, true);
  const kernels: Kernel[] = [
    { name: 'producer', source: 'asm-functions/functions/producer.ts', input: workloads.producerSpec(size, 1) },
    { name: 'checksum', source: 'asm-functions/functions/checksum.ts', input: workloads.produce(size, 2) },
    { name: 'transform', source: 'asm-functions/functions/transform.ts', input: workloads.produce(size, 3) },
    { name: 'wordcount', source: 'asm-functions/functions/wordcount.ts', input: text(size, 4) },
    { name: 'deep', source: 'asm-functions/test-functions/deep.ts', input: deep },
  ];
  const manifest = JSON.parse(readFileSync(join(root, 'dist', 'functions', 'manifest.json'), 'utf8')).functions as Record<string, { memoryBase: number }>;
  const engine = await Engine.create({ threads: 1 });
  const bar = progress(opts.progress, kernels.length * (rounds + 1), 'stack-check');
  const results = [];
  const goals = [];
  try {
    for (const k of kernels) {
      const base = manifest[k.name]!.memoryBase;
      const [checked, reference] = await Promise.all([
        compile(k.source, base, join(root, 'asm-functions', 'rt', 'export-stack-pointer.mjs')),
        compile(k.source, base, join(root, 'bench', 'stack-constant-transform.mjs')),
      ]);
      await engine.deploy([{ name: `${k.name}-checked`, module: checked }, { name: `${k.name}-reference`, module: reference }]);
      bar.tick(1, `${k.name} compiled`);
      const subjects = ['checked', 'reference'];
      const samples = new Map<string, number[]>(subjects.map((s) => [s, []]));
      const rps = new Map<string, number[]>(subjects.map((s) => [s, []]));
      for (const s of subjects) for (let i = 0; i < 10; i++) await engine.invoke(`${k.name}-${s}`, k.input);
      for (let r = 0; r < rounds; r++) {
        for (const s of r % 2 === 0 ? subjects : [...subjects].reverse()) {
          let total = 0;
          for (let i = 0; i < perRound; i++) {
            const step = (await engine.invokeWithReport(`${k.name}-${s}`, k.input)).steps[0]!;
            const ms = step.done - step.inputReady;
            samples.get(s)!.push(ms);
            total += ms;
          }
          rps.get(s)!.push(perRound / (total / 1000));
        }
        bar.tick(1, `${k.name} round ${r + 1}`);
      }
      const c = rps.get('checked')!;
      const ratio = median(c.map((x, i) => x / rps.get('reference')![i]!));
      for (const s of subjects) {
        results.push(row('stack-check', `${k.name}-${s}`, k.input.length, samples.get(s)!, {
          throughputRps: round(median(rps.get(s)!), 1), metric: 'guest run (step input ready → cwasi_main returned), sequential', kernel: k.name,
        }));
      }
      goals.push({
        name: `${k.name}: guest speed with the stack limit check vs the constant check`,
        target: '>= 0.95',
        measured: `${ratio.toFixed(3)} (median of ${rounds} paired rounds)`,
        pass: ratio >= 0.95,
      });
    }
  } finally {
    bar.stop();
    await engine.close();
  }
  return { meta: meta(opts.command, { rounds, executionsPerRound: perRound, inputBytes: size }), results, goals };
}
