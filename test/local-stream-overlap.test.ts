// The Local Buffer's stream form overlaps its two copies: a producer whose
// consumer is reading writes the next DATA frames while earlier ones are
// still unread. With half-ring frames beside the room kept for a yield
// descriptor, a second frame never fit: the producer waited for every frame
// to be drained, the two sides took turns, and the stream ran at about half
// of one copy's speed.
//
// The producer is the engine's own (writeOutputToRings, from a real heap) on
// this thread; the consumer is a worker that attaches, reads nothing until
// it has seen how many whole frames the producer published ahead of it, then
// drains and checks every byte. The threads meet only through the ring.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { Heap } from '../engine/memory/heap.js';
import { STREAM_FRAMES_PER_RING, streamChunkBytes, writeOutputToRings } from '../engine/channels/local.js';
import { FRAME_HEADER_BYTES, Ring } from '../engine/ring/ring.js';
import { SEED, prng } from './helpers/env.js';

const source = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.ringUrl).then(({ Ring, RING, FRAME_DATA }) => {
  const { sab, gate, frameBytes, expected, waitMs } = workerData;
  const ring = new Ring(sab);
  const i32 = new Int32Array(sab);
  const g = new Int32Array(gate);
  ring.attachConsumer();
  Atomics.store(g, 0, 1);
  Atomics.notify(g, 0);
  // Wait, reading nothing, until the producer is as far ahead as the ring allows.
  const H = RING.HEAD >> 2;
  const W = RING.CONSUMER_WAITING >> 2;
  const want = ${STREAM_FRAMES_PER_RING} * frameBytes;
  const until = Date.now() + waitMs;
  for (;;) {
    const head = Atomics.load(i32, H) >>> 0;
    if (head >= want || Date.now() >= until) break;
    Atomics.store(i32, W, 1);
    if ((Atomics.load(i32, H) >>> 0) === head) Atomics.wait(i32, H, head | 0, Math.max(1, until - Date.now()));
    Atomics.store(i32, W, 0);
  }
  const ahead = Math.floor((Atomics.load(i32, H) >>> 0) / frameBytes);
  const got = new Uint8Array(expected.length);
  let off = 0, frames = 0, problem = '';
  while (off < got.length && problem === '') {
    const h = ring.readHeader(Date.now() + 10000);
    if (typeof h === 'string') { problem = 'header: ' + h; break; }
    if (h.type !== FRAME_DATA) { problem = 'frame type ' + h.type; break; }
    const r = ring.read(got.subarray(off, off + h.length), Date.now() + 10000);
    if (r.outcome !== 'ok') problem = 'read: ' + r.outcome;
    off += h.length;
    frames++;
  }
  let firstWrong = -1;
  for (let i = 0; i < got.length && firstWrong < 0; i++) if (got[i] !== expected[i]) firstWrong = i;
  parentPort.postMessage({ ahead, frames, bytes: off, firstWrong, problem });
});
`;

test(`a streaming producer keeps ${STREAM_FRAMES_PER_RING} frames ahead of a reading consumer; every byte arrives`, async () => {
  const capacity = 64 * 1024;
  const total = 1 << 20;
  const memory = new WebAssembly.Memory({ initial: 34, maximum: 64, shared: true });
  const heap = Heap.init(memory, 65536, 64 * 65536);
  const arena = heap.newArena();
  const ptr = heap.allocIn(arena, total);
  const rnd = prng(SEED);
  const payload = heap.bytes().subarray(ptr, ptr + total);
  for (let i = 0; i < total; i++) payload[i] = (rnd() * 256) | 0;
  const ring = Ring.create(capacity);
  const chunk = streamChunkBytes(capacity);
  assert.ok(STREAM_FRAMES_PER_RING * (FRAME_HEADER_BYTES + chunk) <= capacity, 'the frames fit the ring together');

  const gate = new SharedArrayBuffer(4);
  const worker = new Worker(source, {
    eval: true,
    workerData: {
      sab: ring.buffer, gate, frameBytes: FRAME_HEADER_BYTES + chunk, expected: payload.slice(), waitMs: 10_000,
      ringUrl: new URL('../engine/ring/ring.js', import.meta.url).href,
    },
  });
  const report = new Promise<{ ahead: number; frames: number; bytes: number; firstWrong: number; problem: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  // The consumer has attached: the producer streams to it (and never yields a descriptor).
  const g = new Int32Array(gate);
  while (Atomics.load(g, 0) === 0) await Atomics.waitAsync(g, 0, 0, 1000).value;
  // Blocks this thread until the consumer has drained all but the last frames.
  writeOutputToRings([{ ringId: 1, stream: true }], heap, 0, { ptr, len: total }, Date.now() + 20_000, () => ring.buffer);
  const r = await report;
  await worker.terminate();
  assert.is(r.problem, '');
  assert.is(r.ahead, STREAM_FRAMES_PER_RING, 'whole frames published before the consumer read one');
  assert.is(r.frames, Math.ceil(total / chunk));
  assert.is(r.bytes, total);
  assert.is(r.firstWrong, -1, 'first wrong byte');
});

test('a ring too small for several frames still streams, one frame at a time beside the reserve', () => {
  for (const capacity of [64, 128, 256, 1024]) {
    const chunk = streamChunkBytes(capacity);
    assert.ok(chunk >= 1, `${capacity}: chunk ${chunk}`);
    // One frame and the yield descriptor (header + 16 bytes) always fit.
    assert.ok(FRAME_HEADER_BYTES + chunk + FRAME_HEADER_BYTES + 16 <= capacity, `${capacity}: chunk ${chunk} leaves no room for the reserve`);
  }
});

test.run();
