// The heap under several real threads: four workers allocate, fill, check and
// free arenas in ONE shared memory at the same time. Overlapping blocks would
// show up as a worker finding another worker's fill byte in its own block.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { Heap } from '../engine/memory/heap.js';
import { SEED } from './helpers/env.js';

const PAGE = 65536;
const WORKERS = 4;
const ROUNDS = 1500;

const source = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.heapUrl).then(({ Heap }) => {
  const { memory, lock, id, rounds, seed, start } = workerData;
  const heap = Heap.attach(memory, lock);
  let s = (seed + id * 7919) >>> 0;
  const rnd = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 4294967296; };
  // Start together: the main thread releases everyone at once.
  const gate = new Int32Array(start);
  Atomics.add(gate, 1, 1);
  Atomics.notify(gate, 1);
  while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0, 1000);
  let bad = 0, allocations = 0;
  const live = [];
  for (let r = 0; r < rounds; r++) {
    const arena = heap.newArena();
    const blocks = [];
    const n = 1 + Math.floor(rnd() * 6);
    for (let k = 0; k < n; k++) {
      const len = rnd() < 0.7 ? Math.floor(rnd() * 3000) : Math.floor(rnd() * 200000);
      const ptr = rnd() < 0.5 ? heap.allocIn(arena, len) : heap.allocChunk(arena, len);
      heap.bytes().fill(id + 1, ptr, ptr + len);
      blocks.push([ptr, len]);
      allocations++;
    }
    live.push([arena, blocks]);
    if (live.length > 4 || rnd() < 0.5) {
      const [a, bs] = live.shift();
      const bytes = heap.bytes();
      for (const [ptr, len] of bs) {
        for (let i = ptr; i < ptr + len; i += 97) if (bytes[i] !== id + 1) { bad++; break; }
        if (len > 0 && bytes[ptr + len - 1] !== id + 1) bad++;
      }
      heap.release(a);
    }
  }
  for (const [a] of live) heap.release(a);
  heap.flushCache();
  parentPort.postMessage({ bad, allocations });
});
`;

test(`${WORKERS} threads allocate in one memory without overlapping`, async () => {
  const memory = new WebAssembly.Memory({ initial: 17, maximum: 4096, shared: true });
  const heap = Heap.init(memory, PAGE, 4096 * PAGE);
  const start = new SharedArrayBuffer(8);
  const heapUrl = new URL('../engine/memory/heap.js', import.meta.url).href;
  const workers = Array.from({ length: WORKERS }, (_, id) => new Worker(source, {
    eval: true, workerData: { memory, lock: heap.lockBuffer, id, rounds: ROUNDS, seed: SEED, start, heapUrl },
  }));
  const results = workers.map((w) => new Promise<{ bad: number; allocations: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  }));
  const gate = new Int32Array(start);
  // Wait until every worker is at the gate, then open it.
  while (Atomics.load(gate, 1) < WORKERS) Atomics.wait(gate, 1, Atomics.load(gate, 1), 1000);
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  const all = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  const bad = all.reduce((n, r) => n + r.bad, 0);
  assert.ok(all.every((r) => r.allocations >= ROUNDS), 'every worker did its share');
  assert.is(bad, 0, 'no block held bytes of another thread');
  const s = heap.stats();
  assert.is(s.state, 'ok', `the host's counts agree with the heap after ${WORKERS} threads: ${s.problem ?? ''}`);
  assert.is(s.bytesInUse, 0, 'everything was freed');
  assert.is(s.liveArenas, 0);
  assert.is(s.freeBlocks, 0, 'free space coalesced back into the uncarved region');
});

test.run();
