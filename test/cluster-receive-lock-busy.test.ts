// A stream from another node lands straight in the consumer's memory, and the
// main thread allocates the room for it. While a worker holds that memory's
// heap lock the main thread must not wait for it, and it must not fail the
// transfer either: it retries on later turns of the event loop, the bytes
// that arrive meanwhile are buffered, and the invocation gets its data.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { HeapLock, HeapLockBusy } from '../engine/memory/heap-lock.js';
import type { Heap } from '../engine/memory/heap.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { NATS_URL } from './helpers/env.js';

let harness: Harness;
let engine: Engine;

test.before(async () => {
  harness = await startCluster({ nats: NATS_URL, nodes: [{ name: 'b', host: '127.0.0.2' }] });
  engine = await Engine.create({
    threads: 2, timeoutMs: 30_000,
    cluster: { nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile },
  });
  await engine.deploy({
    name: 'x-busy',
    functions: { p: { module: 'producer', host: 'b' }, k: { module: 'checksum' } },
    edges: [{ from: 'p', to: 'k' }],
  });
});
test.after(async () => {
  await engine?.close();
  await harness?.close();
});

/** The consumer's heap on this node (internal: the coordinator is private). */
const heapOf = (fn: string): Heap =>
  (engine as unknown as { coordinator: { require(n: string): { group: { heap: Heap } } } }).coordinator.require(fn).group.heap;

test('a stream that arrives while the heap lock is held waits for it instead of failing', async () => {
  assert.equal(engine.plan('x-busy').edges.map((e) => e.mode), ['networked']);
  const heap = heapOf('k');
  const lock = new HeapLock(heap.lockBuffer);
  // Hold the lock as a worker would, and release it right after the first
  // allocation that found it busy: the receive must have been refused once.
  lock.lock();
  let busy = 0;
  const allocIn = heap.allocIn.bind(heap);
  heap.allocIn = (arena, n) => {
    try {
      return allocIn(arena, n);
    } catch (err) {
      if (err instanceof HeapLockBusy && busy++ === 0) lock.unlock();
      throw err;
    }
  };
  try {
    const size = 256 * 1024;
    const out = await engine.invoke('x-busy', workloads.producerSpec(size, 7));
    assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(size, 7)), length: size }]);
    assert.ok(busy >= 1, 'the first allocation met the held lock');
  } finally {
    heap.allocIn = allocIn;
    if (busy === 0) lock.unlock();
  }
});

test.run();
