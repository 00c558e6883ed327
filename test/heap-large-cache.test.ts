// A thread's cache of large blocks (engine/memory/heap.ts, LARGE_CACHE_*):
// the next allocation of about the same size on the same thread gets the block
// that thread released last (its own core's caches hold it), another thread
// does not get it, a size word the guest rewrote meanwhile is refused as
// corrupt, and an idle thread gives the blocks back, so that the memory in
// use follows the live data again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Heap } from '../engine/memory/heap.js';
import { BLOCK_HEADER_BYTES, LARGE_CACHE_IDLE_MS, LARGE_CACHE_MAX_BYTES } from '../engine/memory/layout.js';
import { CwasiError } from '../engine/errors.js';

const PAGE = 65536;
const MiB = 2 ** 20;

function setup(): { memory: WebAssembly.Memory; owner: Heap; a: Heap; b: Heap } {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 1024, shared: true });
  const owner = Heap.init(memory, PAGE, 1024 * PAGE);
  // Two long-lived caching views, as two workers hold them (one thread here: the views' caches are what differs).
  return { memory, owner, a: Heap.attach(memory, owner.lockBuffer, true), b: Heap.attach(memory, owner.lockBuffer, true) };
}

function allocReleased(h: Heap, bytes: number): number {
  const arena = h.newArena();
  const p = h.allocIn(arena, bytes);
  h.release(arena);
  return p;
}

test('a released large block comes back to the thread that released it, not to another', () => {
  const { owner, a, b } = setup();
  const first = allocReleased(a, 2 * MiB);
  assert.ok(owner.stats().cachedBytes >= 2 * MiB, 'the block waits in the releasing view');
  const other = b.newArena();
  const q = b.allocIn(other, 2 * MiB);
  assert.is.not(q, first, 'another view gets a block of its own');
  const again = a.newArena();
  assert.is(a.allocIn(again, 2 * MiB - 4096), first, 'a slightly smaller request on the same view reuses the block');
  a.release(again);
  b.release(other);
  a.flushCache();
  b.flushCache();
  const s = owner.stats();
  assert.is(s.state, 'ok');
  assert.is(s.bytesInUse, 0);
  assert.is(s.liveArenas, 0);
});

test('a guest allocator\'s region freed after a call comes back to the same thread as its next region', () => {
  const { owner, a, b } = setup();
  const tag = a.newArena().id;
  const r1 = a.allocRegion(tag, 2 * MiB);
  a.freeRegion(r1, tag);
  assert.ok(owner.stats().cachedBytes >= 2 * MiB, 'kept by the thread that freed it');
  assert.is.not(b.allocRegion(tag, 2 * MiB), r1, 'another thread carves its own');
  const r2 = a.allocRegion(tag, 2 * MiB);
  assert.is(r2, r1, 'the same block again');
  assert.ok(a.blockTagged(r2 - BLOCK_HEADER_BYTES, tag), 'tagged for its instance again');
  a.freeRegion(r2, tag);
  a.flushCache();
  assert.is(owner.stats().instanceBytes + owner.stats().cachedBytes, 2 * MiB + BLOCK_HEADER_BYTES, 'only the other thread\'s region is left');
});

test('a cached block is not handed out for a request it would waste more than a quarter of, and blocks above the limit are not cached', () => {
  const { owner, a } = setup();
  const big = allocReleased(a, 2 * MiB);
  const arena = a.newArena();
  assert.is.not(a.allocIn(arena, MiB), big, 'half the block: a fresh block instead');
  a.release(arena);
  a.flushCache();
  allocReleased(a, LARGE_CACHE_MAX_BYTES);
  assert.is(owner.stats().cachedBytes, 0, 'a block above LARGE_CACHE_MAX_BYTES went back to the heap');
});

test('a cached block whose size word was rewritten is refused as corrupt metadata', () => {
  const { memory, a } = setup();
  const p = allocReleased(a, 2 * MiB);
  new Uint32Array(memory.buffer)[(p - BLOCK_HEADER_BYTES) >>> 2] = 64 * MiB;
  const arena = a.newArena();
  try {
    a.allocIn(arena, 2 * MiB);
    assert.unreachable('the forged block was handed out');
  } catch (err) {
    assert.instance(err, CwasiError);
    assert.is((err as CwasiError).code, 'E_MEMORY_CORRUPT');
  }
});

test('an idle thread gives its large blocks back to the heap', async () => {
  const { owner, a } = setup();
  allocReleased(a, 3 * MiB);
  assert.ok(owner.stats().cachedBytes >= 3 * MiB);
  const until = performance.now() + 20 * LARGE_CACHE_IDLE_MS;
  while (owner.stats().cachedBytes > 0 && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, LARGE_CACHE_IDLE_MS / 4));
  }
  const s = owner.stats();
  assert.is(s.cachedBytes, 0, 'returned after the idle time');
  assert.is(s.bytesInUse, 0);
});

test.run();
