// Local Buffer, stream form: the producer keeps copying while its consumer
// holds a frame. Frames are a quarter of the ring, so with one frame written
// and not yet read there is room for the next: copy-in and copy-out overlap.
// (With half-ring frames the producer had to wait for the consumer to drain
// each frame, and the two copies took turns.)
//
// The producer here writes into a ring nobody reads, with a consumer marked
// attached (so it never falls back to a descriptor): it fills the ring and
// then stops at its deadline. What it managed to write is the assertion.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Heap } from '../engine/memory/heap.js';
import { FRAME_DATA, FRAME_HEADER_BYTES, Ring } from '../engine/ring/ring.js';
import { STREAM_CHUNK_BYTES, streamChunkBytes, writeOutputToRings } from '../engine/channels/local.js';
import { MiB } from './helpers/env.js';
import { rejectsWith } from './helpers/assert-error.js';

const PAGE = 65536;

/** A real heap over a shared memory holding `len` patterned bytes at its start. */
function heapWith(len: number): { heap: Heap; out: { ptr: number; len: number } } {
  const pages = Math.ceil((len + 2 * PAGE) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const heap = Heap.init(memory, PAGE, pages * PAGE);
  const ptr = PAGE;
  const bytes = heap.bytes();
  for (let i = 0; i < len; i++) bytes[ptr + i] = (i * 31 + 7) & 0xff;
  return { heap, out: { ptr, len } };
}

/** Headers of the frames sitting unread in the ring (the test reads as the consumer would). */
function unreadFrames(ring: Ring): Array<{ type: number; length: number }> {
  const frames: Array<{ type: number; length: number }> = [];
  const deadline = Date.now() + 1000;
  while (ring.used >= FRAME_HEADER_BYTES) {
    const h = ring.readHeader(deadline);
    if (typeof h === 'string') break;
    frames.push({ type: h.type, length: h.length });
    const skip = new Uint8Array(h.length);
    if (ring.read(skip, deadline).outcome !== 'ok') break;
  }
  return frames;
}

for (const capacity of [4096, 64 * 1024, MiB, 4 * MiB, 16 * MiB]) {
  test(`a ${capacity}-byte ring holds three unread frames, so the producer runs ahead`, async () => {
    const ring = Ring.create(capacity);
    ring.attachConsumer();
    const { heap, out } = heapWith(4 * capacity);
    const sab = ring.buffer;
    let err: unknown;
    try {
      writeOutputToRings([{ ringId: 1, stream: true }], heap, 0, out, Date.now() + 50, () => sab);
    } catch (e) {
      err = e;
    }
    // Nobody read: the write ended at its deadline, after filling what fits.
    await rejectsWith(Promise.reject(err), 'E_TIMEOUT');
    const frames = unreadFrames(ring);
    const chunk = streamChunkBytes(capacity);
    assert.ok(frames.length >= 3, `${frames.length} frames were written before the producer had to wait`);
    assert.ok(frames.every((f) => f.type === FRAME_DATA && f.length === chunk));
    assert.ok(chunk + FRAME_HEADER_BYTES <= Math.min(STREAM_CHUNK_BYTES, capacity / 4));
  });
}

test('frames never exceed STREAM_CHUNK_BYTES, and tiny rings still carry a byte per frame', () => {
  assert.is(streamChunkBytes(64 * MiB), STREAM_CHUNK_BYTES - FRAME_HEADER_BYTES);
  assert.is(streamChunkBytes(64), 16);
  for (let cap = 64; cap <= 1 << 30; cap *= 2) assert.ok(streamChunkBytes(cap) >= 1, `ring of ${cap}`);
});

test('a message smaller than one frame is one frame', async () => {
  const ring = Ring.create(MiB);
  ring.attachConsumer();
  const { heap, out } = heapWith(1000);
  writeOutputToRings([{ ringId: 1, stream: true }], heap, 0, out, Date.now() + 5000, () => ring.buffer);
  assert.equal(unreadFrames(ring), [{ type: FRAME_DATA, length: 1000 }]);
});

test.run();
