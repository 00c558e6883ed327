// The window of a live stream, sink and source side by side on one thread:
// once the producer aborted its ring (a failed producer does so before it
// frees its window), its consumer hands out nothing more of its chunks,
// neither a chunk not yet begun nor the rest of one half read, so a block
// that another invocation reuses never reaches the consumer; and it lets go
// of every frame, which is what the failed producer waits for before it
// frees the window (at once when nobody holds one). And pieces
// copied across from another memory by stream_next go into one buffer grown
// by doubling, not a new block per piece of a slightly larger size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LiveRingSink, LiveRingSource, awaitWindowReleased } from '../engine/channels/local-live.js';
import { STATUS } from '../engine/abi.js';
import { Heap } from '../engine/memory/heap.js';
import { Ring } from '../engine/ring/ring.js';
import { StreamHost, liveStreams } from '../engine/worker/stream-host.js';
import type { InvocationContext } from '../engine/worker/context.js';

const KiB = 1024;
const deadline = (): number => Date.now() + 20_000;

function heap(generation: number): Heap {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 4096, shared: true });
  return Heap.init(memory, 65_536, 4096 * 65_536, generation);
}

function pair(h: Heap, generation: number, windowBytes: number): { sink: LiveRingSink; source: LiveRingSource; ring: Ring } {
  const ring = Ring.create(4096);
  const shared = { heapOf: () => h, ringOf: () => ring.buffer } as never;
  const source = new LiveRingSource(ring.buffer, [{ groupId: 'g1', generation }], shared, deadline());
  const sink = new LiveRingSink(ring.buffer, h, h.newArena(), generation, deadline(), true, windowBytes);
  return { sink, source, ring };
}

function commitChunks(h: Heap, sink: LiveRingSink, count: number): void {
  for (let i = 0; i < count; i++) {
    const r = sink.reserve(0);
    if (typeof r === 'number') throw new Error(`reserve: ${r}`);
    h.bytes().fill(0x41 + i, r.ptr, r.ptr + r.len);
    assert.is(sink.commit(r.len), STATUS.OK);
  }
}

test('after the abort, no chunk not yet begun is handed out', () => {
  const h = heap(7);
  const { sink, source, ring } = pair(h, 7, 64 * KiB);
  commitChunks(h, sink, 3);
  ring.abort();
  assert.is(source.read(new Uint8Array(4096)), STATUS.ABORTED);
  assert.is(source.nextInPlace(4096), STATUS.ABORTED);
});

test('after the abort, the rest of a half-read chunk is not handed out, by read or in place', () => {
  const h = heap(8);
  for (const how of ['read', 'next'] as const) {
    const { sink, source, ring } = pair(h, 8, 64 * KiB);
    commitChunks(h, sink, 2);
    const dst = new Uint8Array(1024);
    assert.is(source.read(dst), 1024);
    assert.ok(dst.every((b) => b === 0x41), 'the first bytes are the chunk\'s');
    ring.abort();
    assert.is(how === 'read' ? source.read(dst) : source.nextInPlace(1024), STATUS.ABORTED, how);
  }
});

test('a consumer that finds the ring aborted lets go of every chunk it held', () => {
  const h = heap(9);
  const { sink, source, ring } = pair(h, 9, 64 * KiB);
  commitChunks(h, sink, 4);
  const piece = source.nextInPlace(64 * KiB);
  assert.ok(piece !== null && typeof piece === 'object', 'a chunk held in place');
  assert.ok(ring.used > 0);
  ring.abort();
  assert.is(source.nextInPlace(64 * KiB), STATUS.ABORTED);
  // What a failed producer's awaitWindowReleased waits for: no frame left.
  assert.is(ring.used, 0, 'every frame freed');
  awaitWindowReleased(ring.buffer);
});

test('a piece copied across while the producer aborts is not delivered', () => {
  const producer = heap(3);
  const consumer = heap(4);
  const { sink, source, ring } = pair(producer, 3, 64 * KiB);
  commitChunks(producer, sink, 1);
  const piece = source.nextInPlace(4096);
  assert.ok(piece !== null && typeof piece === 'object' && piece.len === 4096);
  ring.abort();
  // The host's check after its copy (stream_next from another memory).
  assert.is(source.stillOpen(), false);
  void consumer;
});

test('pieces of creeping sizes from another memory share one staging buffer grown by doubling', () => {
  const producer = heap(5);
  const consumer = heap(6);
  const { sink, source } = pair(producer, 5, 8 * 256 * KiB);
  const arena = consumer.newArena();
  const guards = { checkOwned(): void {}, abortWith(_c: InvocationContext, e: Error): never { throw e; } };
  const host = new StreamHost(consumer, guards);
  const ctx = { fn: 'c', arena, extraArenas: [], inputs: [], results: [], deadline: deadline(), maxPayloadBytes: 0, stream: liveStreams(source, undefined) } as unknown as InvocationContext;
  const slice = consumer.allocIn(arena, 16);
  const before = consumer.arenaBytes(arena);
  let size = 64 * KiB + 16;
  for (let i = 0; i < 200; i++) {
    const r = sink.reserve(size);
    if (typeof r === 'number') throw new Error(`reserve: ${r}`);
    assert.is(sink.commit(size), STATUS.OK);
    assert.is(host.next(ctx, 0, slice), STATUS.OK);
    assert.is(new DataView(consumer.bytes().buffer, slice + 4, 4).getUint32(0, true), size, `piece ${i}`);
    size += 16;
  }
  const grown = consumer.arenaBytes(arena) - before;
  assert.ok(grown <= 3 * 256 * KiB, `staging grew by ${grown} bytes`);
});

test.run();
