// The heap of a function memory, driven by seeded random alloc/free sequences
// in one thread: blocks never overlap, contents survive other allocations,
// statistics stay consistent (the walks meet exactly the blocks and free blocks
// the host counted), and freeing everything returns the heap to empty.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Heap } from '../engine/memory/heap.js';
import { SEED, prng } from './helpers/env.js';

const PAGE = 65536;

function freshHeap(maxPages = 256): Heap {
  const memory = new WebAssembly.Memory({ initial: 17, maximum: maxPages, shared: true });
  return Heap.init(memory, PAGE, maxPages * PAGE);
}

test('random arenas never overlap and keep their bytes', () => {
  const rnd = prng(SEED);
  const heap = freshHeap();
  type Live = { arena: ReturnType<Heap['newArena']>; blocks: Array<{ ptr: number; len: number; fill: number }> };
  const live: Live[] = [];
  for (let step = 0; step < 3000; step++) {
    if (step % 100 === 0) {
      const s = heap.stats();
      assert.is(s.state, 'ok', `step ${step}: ${s.problem ?? ''}`);
    }
    if (live.length > 0 && rnd() < 0.35) {
      // Check and release a random arena.
      const i = Math.floor(rnd() * live.length);
      const l = live.splice(i, 1)[0]!;
      const bytes = heap.bytes();
      for (const b of l.blocks) {
        for (const at of [b.ptr, b.ptr + (b.len >> 1), b.ptr + b.len - 1]) {
          if (b.len > 0) assert.is(bytes[at], b.fill, `arena ${l.arena.id} block at ${b.ptr} lost its bytes`);
        }
      }
      heap.release(l.arena);
      continue;
    }
    const l: Live = live.length > 0 && rnd() < 0.5 ? live[Math.floor(rnd() * live.length)]! : { arena: heap.newArena(), blocks: [] };
    if (!live.includes(l)) live.push(l);
    // Sizes from tiny host bumps to multi-chunk blocks.
    const r = rnd();
    const len = r < 0.6 ? Math.floor(rnd() * 512) : r < 0.9 ? Math.floor(rnd() * 70000) : Math.floor(rnd() * 600000);
    const ptr = rnd() < 0.5 ? heap.allocIn(l.arena, len) : heap.allocChunk(l.arena, len);
    assert.is(ptr % 16, 0, 'payload is 16-byte aligned');
    const fill = (step % 250) + 1;
    heap.bytes().fill(fill, ptr, ptr + len);
    l.blocks.push({ ptr, len, fill });
  }
  // No two live blocks overlap.
  const all = live.flatMap((l) => l.blocks).filter((b) => b.len > 0).sort((a, b) => a.ptr - b.ptr);
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.ptr + all[i - 1]!.len <= all[i]!.ptr, `overlap at ${all[i]!.ptr}`);
  for (const l of live) heap.release(l.arena);
  const s = heap.stats();
  assert.is(s.state, 'ok', s.problem ?? '');
  assert.is(s.bytesInUse - s.cachedBytes, 0, 'everything freed except cached chunks');
  assert.is(s.liveArenas, 0);
});

test('freeing everything lets the same memory serve the same load again without growing', () => {
  const heap = freshHeap();
  const load = () => {
    const arenas = Array.from({ length: 20 }, () => heap.newArena());
    arenas.forEach((a, i) => heap.allocIn(a, 100000 + i * 1000));
    for (const a of arenas) heap.release(a);
  };
  load();
  const grown = heap.byteLength;
  for (let i = 0; i < 50; i++) load();
  assert.is(heap.byteLength, grown, 'memory did not grow on repeated identical load');
});

test('allocation past the maximum is E_MEMORY_LIMIT and leaves the heap usable', () => {
  const heap = freshHeap(32);
  const a = heap.newArena();
  try {
    heap.allocIn(a, 4 * 1024 * 1024);
    assert.unreachable('should have failed');
  } catch (e) {
    assert.is((e as { code: string }).code, 'E_MEMORY_LIMIT');
  }
  const ptr = heap.allocIn(a, 1000);
  assert.ok(ptr > 0);
  heap.release(a);
});

test('releaseTagged frees the blocks of arenas whose heads were lost', () => {
  const heap = freshHeap();
  const a = heap.newArena();
  const b = heap.newArena();
  for (let i = 0; i < 10; i++) heap.allocIn(a, 20000);
  heap.allocIn(b, 20000);
  const before = heap.stats().bytesInUse;
  const freed = heap.releaseTagged(new Set([a.id]));
  assert.is(freed, 10);
  assert.ok(heap.stats().bytesInUse < before);
  heap.release(b);
  const s = heap.stats();
  assert.is(s.bytesInUse - s.cachedBytes, 0);
});

test('a corrupted block header is reported, not followed', () => {
  const heap = freshHeap();
  const a = heap.newArena();
  const ptr = heap.allocIn(a, 10000);
  // The guest owns the memory and may scribble over the block header.
  new Uint32Array(heap.bytes().buffer)[(ptr - 16) >> 2] = 7;
  try {
    heap.release(a);
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'E_MEMORY_CORRUPT');
  }
});

test.run();
