// `cwasi bench local-buffer`: a payload moving from a function in one worker
// to a function in another (both untrusted, so they cannot share a memory).
//   local              descriptor through the ring; the consumer, started
//                      alongside the producer on the other worker, copies once
//   local-stream       DATA frames through the ring while the consumer drains them
//   local-same-worker  the engine's default for a sequential local edge: both
//                      functions run back to back in one worker, the host
//                      copies across memories once (no ring, no thread handoff)
//   copy               structured clone (what Node code without cwasi does)
//   memcpy             one Uint8Array.prototype.set of the same size (reference)
// The latency is the paper's: producer returned → consumer has every byte.
// Goals: 100 MiB local rate ≥ 80% of memcpy's; 2 MiB local p50 < 1 ms.

import { type BenchOptions, type BenchReport, type BenchResult, type Goal, meta, progress, row } from './common.js';
import { countFor, deployPair, measureMemcpy, measurePair, withEngine } from './transfer.js';
import { LOCAL_STREAM_RING_BYTES } from 'cwasi/primitives';

const MiB = 1 << 20;

export async function localBuffer(opts: BenchOptions): Promise<BenchReport> {
  const sizes = opts.sizes ?? [2 * MiB, 16 * MiB, 100 * MiB];
  const threads = opts.threads ?? 2;
  const wanted = (m: string) => opts.modes === undefined || opts.modes.includes(m);
  type Variant = { mode: string; transport: 'descriptor' | 'stream'; sameWorker: boolean; force: 'local' | 'copy' };
  const variants = ([
    { mode: 'local', transport: 'descriptor', sameWorker: false, force: 'local' },
    { mode: 'local-stream', transport: 'stream', sameWorker: false, force: 'local' },
    { mode: 'local-same-worker', transport: 'descriptor', sameWorker: true, force: 'local' },
    { mode: 'copy', transport: 'descriptor', sameWorker: false, force: 'copy' },
  ] as Variant[]).filter((v) => wanted(v.mode));
  const total = sizes.reduce((n, s) => n + countFor(s, opts.quick, opts.executions) * (variants.length + 1), 0);
  const bar = progress(opts.progress, total, 'local-buffer');
  const results: BenchResult[] = [];
  try {
    for (const bytes of sizes) {
      const n = countFor(bytes, opts.quick, opts.executions);
      if (wanted('memcpy')) {
        results.push(row('local-buffer', 'memcpy', bytes, measureMemcpy(bytes, n), { metric: 'one Uint8Array.set' }));
      }
      bar.tick(n, `memcpy ${bytes >> 20} MiB`);
      for (const v of variants) {
        const samples = await withEngine({ threads, local: { transport: v.transport, sameWorker: v.sameWorker }, timeoutMs: 120_000 }, async (engine) => {
          await deployPair(engine, 'lb', false);
          // Warm up: instantiate, grow and touch both memories.
          await measurePair(engine, 'lb', bytes, 2, v.force);
          return measurePair(engine, 'lb', bytes, n, v.force, () => bar.tick(1, `${v.mode} ${bytes >> 20} MiB`));
        });
        results.push(row('local-buffer', v.mode, bytes, samples.map((s) => s.transferMs), {
          metric: 'transfer',
          endToEndMs: row('e2e', v.mode, bytes, samples.map((s) => s.endToEndMs)).latencyMs,
        }));
      }
    }
  } finally {
    bar.stop();
  }
  const goals: Goal[] = [];
  const at = (mode: string, bytes: number) => results.find((r) => r.mode === mode && r.payloadBytes === bytes);
  const big = sizes.includes(100 * MiB) ? 100 * MiB : Math.max(...sizes);
  const memcpy = at('memcpy', big);
  const vsMemcpy = (mode: string, target: number) => {
    const r = at(mode, big);
    if (!r?.gbPerSec || !memcpy?.gbPerSec) return;
    const ratio = r.gbPerSec / memcpy.gbPerSec;
    goals.push({
      name: `${mode} rate at ${big >> 20} MiB vs one memcpy`,
      target: `>= ${target.toFixed(2)}`,
      measured: `${ratio.toFixed(2)} (${r.gbPerSec.toFixed(2)} vs ${memcpy.gbPerSec.toFixed(2)} GB/s)`,
      pass: ratio >= target,
    });
  };
  vsMemcpy('local', 0.8);
  // The streamed form (a ring smaller than the payload, consumer in another
  // worker): one copy in and one copy out, overlapped, can reach one memcpy.
  vsMemcpy('local-stream', 0.9);
  const small = at('local', 2 * MiB);
  if (small) {
    goals.push({ name: 'local p50 at 2 MiB', target: '< 1 ms', measured: `${small.latencyMs.p50Ms.toFixed(3)} ms`, pass: small.latencyMs.p50Ms < 1 });
  }
  // The stream form's ring is the engine's default (local.ts LOCAL_STREAM_RING_BYTES); the descriptor form's holds a few frames.
  return { meta: meta(opts.command, { threads, streamRingBytes: LOCAL_STREAM_RING_BYTES }), results, goals };
}
