// A worker terminated while it takes a chunk out of its cache (an abort kills
// the thread running the task) must leave the heap's figures exact once its
// recovery ran. The stress run found `cachedBytes` one chunk too high after
// three killed workers ("a killed worker gives back the memory it held",
// errors-abort.test.ts): the chunk had left the cache, the shared counter
// had not been lowered yet, and the count stayed wrong for good. The worker
// here stops exactly at that point: the block carries its new arena's tag and
// nothing else of the take happened.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { Heap } from '../engine/memory/heap.js';
import { BLOCK, CHUNK_BLOCK_BYTES } from '../engine/memory/layout.js';

const PAGE = 65536;

const source = `
const { workerData, parentPort, threadId } = require('node:worker_threads');
// As the engine's worker does: blocks this thread owns carry 1 + its id.
globalThis.__cwasiThreadId = threadId;
import(workerData.heapUrl).then(({ Heap }) => {
  const { memory, lock, TAG, NEXT, OWNER, CHUNK } = workerData;
  const heap = Heap.attach(memory, lock, true);
  // Two chunks in an arena, released: both go to this thread's cache.
  const first = heap.newArena();
  heap.allocChunk(first, 0);
  heap.allocChunk(first, 0);
  heap.release(first);
  // Start taking one back for a new arena and stop after the header writes,
  // as a thread terminated there would.
  const next = heap.newArena();
  const block = heap.cache[heap.cache.length - 1];
  const u32 = new Uint32Array(memory.buffer);
  const b = block >>> 2;
  u32[b] = CHUNK;
  u32[b + (TAG >> 2)] = next.id;
  u32[b + (NEXT >> 2)] = next.head;
  u32[b + (OWNER >> 2)] = 0;
  parentPort.postMessage({ arena: next.id, tag: threadId + 1, cached: heap.cache.length });
});
`;

test('a worker killed while taking a chunk from its cache leaves cachedBytes and bytesInUse exact after its recovery', async () => {
  const memory = new WebAssembly.Memory({ initial: 17, maximum: 64, shared: true });
  const heap = Heap.init(memory, PAGE, 64 * PAGE);
  const worker = new Worker(source, {
    eval: true,
    workerData: {
      memory, lock: heap.lockBuffer, heapUrl: new URL('../engine/memory/heap.js', import.meta.url).href,
      TAG: BLOCK.TAG, NEXT: BLOCK.NEXT, OWNER: BLOCK.OWNER, CHUNK: CHUNK_BLOCK_BYTES,
    },
  });
  const said = await new Promise<{ arena: number; tag: number; cached: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  assert.is(said.cached, 2, 'the worker cached both chunks');
  await worker.terminate();
  const mid = heap.stats();
  assert.is(mid.state, 'ok');
  assert.is(mid.bytesInUse, 2 * CHUNK_BLOCK_BYTES, 'two chunks are held');
  assert.is(mid.cachedBytes, CHUNK_BLOCK_BYTES, 'one is still in the dead thread\'s cache, one is the new arena\'s');
  // What the dispatcher does for a dead thread: free its journaled arenas and its cache.
  heap.releaseTagged(new Set([said.arena]), said.tag);
  const after = heap.stats();
  assert.is(after.bytesInUse, 0, 'both chunks are free');
  assert.is(after.cachedBytes, 0, 'no chunk is counted as cached');
  assert.is(after.instanceBytes, 0);
  assert.is(after.liveArenas, 0);
});

test('cachedBytes and instanceBytes follow the blocks through caching, instances and flushing', async () => {
  const memory = new WebAssembly.Memory({ initial: 17, maximum: 64, shared: true });
  const heap = Heap.init(memory, PAGE, 64 * PAGE, 0, true);
  const a = heap.newArena();
  heap.allocChunk(a, 0);
  heap.allocChunk(a, 0);
  const inst = heap.newArena();
  heap.allocInstance(inst, 1000);
  let s = heap.stats();
  assert.is(s.cachedBytes, 0);
  assert.ok(s.instanceBytes >= 1000 && s.instanceBytes < 1100, `instance block counted: ${s.instanceBytes}`);
  heap.release(a);
  s = heap.stats();
  assert.is(s.cachedBytes, 2 * CHUNK_BLOCK_BYTES, 'released chunks are cached');
  const b = heap.newArena();
  heap.allocChunk(b, 0);
  assert.is(heap.stats().cachedBytes, CHUNK_BLOCK_BYTES, 'one came back out of the cache');
  heap.release(b);
  heap.release(inst);
  heap.flushCache();
  s = heap.stats();
  assert.is(s.cachedBytes, 0);
  assert.is(s.instanceBytes, 0);
  assert.is(s.bytesInUse, 0);
});

test.run();
