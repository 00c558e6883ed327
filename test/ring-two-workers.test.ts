// cwasi-test: exclusive (asserts the median ring round trip)
// Real concurrency through the ring: a producer and a consumer on different
// threads stream 32–64 MiB of seeded bytes in random chunk sizes (the two
// sides' chunk boundaries never line up) through 4 KiB and 64 KiB rings, and
// the consumer compares every byte with the stream. Variants: worker → worker
// with the blocking write/read (indices crossing 2^31 and 2^32 mid-stream),
// worker → main thread with readAsync, main thread with writeAsync → worker,
// whole frames (writeFrame / tryWriteDescriptor → readHeader / read /
// readDescriptor) between two workers, and a ping-pong that measures the
// wake-ups themselves.
//
// Each wait is bounded by the deadline given to write/read; the threads meet
// only through the ring itself and the workers' result messages.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_HEADER_BYTES, Ring } from '../engine/ring/ring.js';
import { MiB, SEED } from './helpers/env.js';
import {
  type StreamResult, indices, keepAlive, pingPong, readStream, setIndices, spawnRole, writeStream,
} from './helpers/ring-threads.js';

const TOTAL = 64 * MiB;
/** 4 KiB rings go 32 MiB (8192 laps): with a ring that small every fill can cost a sleep and a wake-up. */
const SMALL_TOTAL = 32 * MiB;
/**
 * Every wait is bounded by one budget for the whole file (at least 2 s per
 * test): the file takes a few seconds even on a loaded 2-core machine, while
 * a lost wake-up costs the ring's 100 ms sleep per wait and runs out of it.
 */
const BUDGET_END = Date.now() + 40_000;
const timeoutMs = (): number => Math.max(2_000, BUDGET_END - Date.now());

function report(name: string, w: StreamResult, r: StreamResult): void {
  const mbps = (r.bytes / MiB / (Math.max(w.ms, r.ms) / 1000)).toFixed(0);
  console.log(`  ${name}: ${(Math.max(w.ms, r.ms)).toFixed(0)} ms (${mbps} MiB/s), ${w.chunks} writes, ${r.chunks} reads, longest call ${w.longestCallMs.toFixed(1)} / ${r.longestCallMs.toFixed(1)} ms`);
}

function checkStream(w: StreamResult, r: StreamResult, ring: Ring, total: number): void {
  assert.is(w.outcome, 'ok', 'producer outcome');
  assert.is(w.bytes, total, 'producer bytes');
  assert.is(r.outcome, 'ok', 'consumer outcome');
  assert.is(r.bytes, total, 'consumer bytes');
  assert.is(r.mismatchAt, -1, `first wrong byte at stream position ${r.mismatchAt}`);
  assert.is(ring.used, 0, 'ring drained');
}

async function workerToWorker(capacity: number, total: number, startIndex: number, name: string): Promise<void> {
  const ring = Ring.create(capacity);
  setIndices(ring, startIndex, startIndex);
  const common = { sab: ring.buffer, seed: SEED, total, timeoutMs: timeoutMs(), mode: 'blocking' as const };
  const producer = spawnRole('writeStream', { ...common, chunkSeed: SEED + 1 });
  const consumer = spawnRole('readStream', { ...common, chunkSeed: SEED + 2 });
  const [w, r] = await Promise.all([producer.result, consumer.result]);
  report(name, w, r);
  checkStream(w, r, ring, total);
  const { head, tail } = indices(ring);
  assert.is(head, (startIndex + total) >>> 0, 'HEAD advanced by the stream length (mod 2^32)');
  assert.is(tail, head, 'TAIL caught up with HEAD');
}

test('worker → worker, 4 KiB ring, 32 MiB in random chunks, indices crossing 2^32', async () => {
  // Start 1 MiB below 2^32 so the u32 HEAD and TAIL wrap to 0 mid-stream, under real contention.
  await workerToWorker(4096, SMALL_TOTAL, 2 ** 32 - MiB, '4 KiB ring');
});

test('worker → worker, 64 KiB ring, 64 MiB in random chunks, indices crossing 2^31', async () => {
  // The indices are int32 in the buffer: past 2^31 they read back negative.
  await workerToWorker(65536, TOTAL, 2 ** 31 - MiB, '64 KiB ring');
});

test('worker write (blocking) → main thread readAsync, 64 KiB ring, 64 MiB', async () => {
  const ring = Ring.create(65536);
  const common = { sab: ring.buffer, seed: SEED + 10, total: TOTAL, timeoutMs: timeoutMs() };
  const release = keepAlive();
  try {
    const producer = spawnRole('writeStream', { ...common, chunkSeed: SEED + 11, mode: 'blocking' });
    const [r, w] = await Promise.all([readStream({ ...common, chunkSeed: SEED + 12, mode: 'async' }), producer.result]);
    report('worker → main readAsync', w, r);
    checkStream(w, r, ring, TOTAL);
  } finally {
    release();
  }
});

test('main thread writeAsync → worker read (blocking), 4 KiB ring, 32 MiB', async () => {
  const ring = Ring.create(4096);
  const common = { sab: ring.buffer, seed: SEED + 20, total: SMALL_TOTAL, timeoutMs: timeoutMs() };
  const release = keepAlive();
  try {
    const consumer = spawnRole('readStream', { ...common, chunkSeed: SEED + 21, mode: 'blocking' });
    const [w, r] = await Promise.all([writeStream({ ...common, chunkSeed: SEED + 22, mode: 'async' }), consumer.result]);
    report('main writeAsync → worker', w, r);
    checkStream(w, r, ring, SMALL_TOTAL);
  } finally {
    release();
  }
});

for (const capacity of [256, 4096, 65536]) {
  test(`frames worker → worker, ${capacity}-byte ring: DATA and DESC frames with every header field checked`, async () => {
    const ring = Ring.create(capacity);
    setIndices(ring, 2 ** 32 - 3 * capacity - 5, 2 ** 32 - 3 * capacity - 5);
    const args = { sab: ring.buffer, seed: SEED + capacity, count: Math.min(20_000, Math.ceil((32 * MiB) / capacity)), maxPayload: capacity - FRAME_HEADER_BYTES, timeoutMs: timeoutMs() };
    const producer = spawnRole('writeFrames', args);
    const consumer = spawnRole('readFrames', args);
    const [w, r] = await Promise.all([producer.result, consumer.result]);
    assert.is(w.firstError, null);
    assert.is(w.outcome, 'ok');
    assert.is(r.firstError, null);
    assert.is(r.outcome, 'ok');
    assert.is(r.frames, args.count);
    assert.is(r.bytes, w.bytes);
    assert.ok(w.bytes > 100 * capacity, `many laps (${(w.bytes / capacity).toFixed(0)})`);
    assert.is(ring.used, 0);
  });
}

// A missing or misdirected Atomics.notify does not lose data: the sleeper
// re-checks after at most 100 ms. It shows only as latency, so measure it:
// messages of capacity + 1 bytes make, every round, each writer sleep for
// space (woken by tryRead) and each reader sleep for data (woken by publish).
for (const mode of ['blocking', 'async'] as const) {
  test(`wake-ups: ${mode === 'blocking' ? 'worker ↔ worker' : 'main thread (async) ↔ worker'} ping-pong of 65-byte messages over 64-byte rings round-trips in far less than the 100 ms sleep`, async () => {
    const ROUNDS = 300;
    const args = { there: Ring.create(64).buffer, back: Ring.create(64).buffer, rounds: ROUNDS, size: 65, budgetMs: Math.min(5000, timeoutMs()) };
    const release = keepAlive();
    try {
      const pong = spawnRole('pingPong', { ...args, side: 'pong', mode: 'blocking' });
      const ping = mode === 'blocking' ? spawnRole('pingPong', { ...args, side: 'ping', mode }).result : pingPong({ ...args, side: 'ping', mode });
      const [p, q] = await Promise.all([ping, pong.result]);
      console.log(`  ping-pong (${mode}): median ${p.medianMs.toFixed(3)} ms, max ${p.maxMs.toFixed(1)} ms over ${p.rounds} rounds`);
      assert.is(p.firstError, null);
      assert.is(q.firstError, null);
      assert.is(p.rounds, ROUNDS);
      assert.ok(p.medianMs < 20, `median round trip ${p.medianMs.toFixed(1)} ms`);
    } finally {
      release();
    }
  });
}

test.run();
