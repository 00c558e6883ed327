// The heap of a cwasi function memory: blocks carved from the shared
// WebAssembly.Memory, grouped into per-invocation arenas.
//
// Threading contract: any thread holding the Memory and its lock buffer (the
// main thread, any worker) may create a Heap view over them and call any
// method. All heap state lives in the memory header (layout.ts) and changes
// only under the heap lock, a three-state futex mutex (0 free, 1 held, 2 held
// with waiters). Nothing about the heap is cached in this object except
// typed-array views, which are re-created whenever the memory has grown (a
// grown shared memory hands out a new buffer object).
//
// The lock is a HeapLock (heap-lock.ts) in a SharedArrayBuffer of its own,
// never in the function's memory, and the main thread never sleeps on it.
//
// The free list, carving, growth and block validation are the base class,
// HeapBlocks (heap-blocks.ts); this file adds arenas, the per-thread caches
// (standard chunks, and a few larger blocks while the thread is busy),
// recovery after a dead worker and the diagnostics.
//
// The guest never calls into this file directly: its runtime bump-allocates
// inside chunks and asks the host (cwasi.arena_grow) for the next chunk, which
// lands here. Guest code can scribble over heap metadata in its own memory, so
// every pointer read back from the memory is bounds-checked and every list walk
// is bounded by the host's own counts (heap-counts.ts), never by a field the
// guest can write; inconsistencies raise E_MEMORY_CORRUPT and the owner
// discards the memory (one fate).

import { CwasiError } from '../errors.js';
import { HeapBlocks } from './heap-blocks.js';
import { HeapLock, HeapLockBusy, threadTag } from './heap-lock.js';
import { LargeBlockCache } from './large-cache.js';
import {
  BLOCK, BLOCK_ALIGN, BLOCK_HEADER_BYTES, CACHED_TAG, CHUNK_BLOCK_BYTES, CHUNK_CACHE_BLOCKS, FREE_TAG, HDR,
  HEADER_BYTES, HOST_BUMP_MAX_BYTES, INSTANCE_OWNER, LAYOUT_MAGIC, LAYOUT_VERSION, WASM_PAGE, alignUp,
} from './layout.js';

export { HeapLockBusy, whenUnlocked } from './heap-lock.js';

/**
 * An arena: the chain of blocks one invocation allocated. `head` is the newest
 * block (0 = none). `cur`/`end` bound the host's own bump region inside a
 * chunk of the arena; they are private to the thread that allocates.
 */
export interface Arena {
  id: number;
  head: number;
  cur?: number;
  end?: number;
}

export interface HeapStats {
  /**
   * `ok`: the figures below were read under the lock and validated; `busy`:
   * the lock was held past the main thread's bounded attempt (figures that
   * need no lock only); `corrupt`: the metadata failed validation (`problem`).
   */
  state: 'ok' | 'busy' | 'corrupt';
  problem?: string;
  /** Bytes in standard chunks parked in threads' caches (counted in bytesInUse). */
  cachedBytes: number;
  /** Bytes held for instances' lifetimes, e.g. their shadow stacks (counted in bytesInUse). */
  instanceBytes: number;
  heapStart: number;
  heapTop: number;
  memoryBytes: number;
  maxBytes: number;
  bytesInUse: number;
  peakInUse: number;
  liveArenas: number;
  freeBlocks: number;
  freeBytes: number;
}

export class Heap extends HeapBlocks {
  /** Standard chunks this thread released and may reuse without the lock. */
  private readonly cache: number[] = [];
  /** Larger blocks this thread released, while it is busy (large-cache.ts). */
  private readonly large = new LargeBlockCache(() => this.trimLarge());
  /** Cached and instance bytes as of the last stats() read under the lock (reported when the lock is busy). */
  private lastHeld = { cachedBytes: 0, instanceBytes: 0 };
  /** How many chunks this view may cache: only long-lived views on allocating threads cache. */
  private readonly cacheLimit: number;

  private constructor(memory: WebAssembly.Memory, lockBuffer: SharedArrayBuffer, cacheChunks: boolean) {
    super(memory, lockBuffer);
    this.cacheLimit = cacheChunks ? CHUNK_CACHE_BLOCKS : 0;
  }

  /**
   * Write a fresh header into `memory` (called once, by the memory's creator,
   * before any instance exists). `heapStart` must lie above every static region.
   */
  static init(memory: WebAssembly.Memory, heapStart: number, maxBytes: number, generation = 0, cacheChunks = false): Heap {
    if (heapStart % WASM_PAGE !== 0 || heapStart < HEADER_BYTES) {
      throw new CwasiError('E_INTERNAL', `heap start ${heapStart} must be page aligned and above the header`);
    }
    const heap = new Heap(memory, HeapLock.create(), cacheChunks);
    const u32 = heap.u32;
    u32.fill(0, 0, HEADER_BYTES >> 2);
    u32[HDR.VERSION >> 2] = LAYOUT_VERSION;
    u32[HDR.GENERATION >> 2] = generation;
    u32[HDR.HEAP_START >> 2] = heapStart;
    u32[HDR.HEAP_TOP >> 2] = heapStart;
    u32[HDR.MAX_BYTES_LO >> 2] = maxBytes >>> 0;
    u32[HDR.MAX_BYTES_HI >> 2] = Math.floor(maxBytes / 2 ** 32);
    // Publish the magic last: a reader that sees it sees a complete header.
    Atomics.store(heap.i32, HDR.MAGIC >> 2, LAYOUT_MAGIC | 0);
    return heap;
  }

  /**
   * A view over a memory whose header was written by `Heap.init`. Only a
   * view that lives as long as its thread uses the memory should cache chunks
   * (`cacheChunks`): a cached chunk is reused only through the same view, and
   * a thread must `flushCache()` before dropping such a view.
   */
  static attach(memory: WebAssembly.Memory, lockBuffer: SharedArrayBuffer, cacheChunks = false): Heap {
    const heap = new Heap(memory, lockBuffer, cacheChunks);
    if ((Atomics.load(heap.i32, HDR.MAGIC >> 2) >>> 0) !== LAYOUT_MAGIC || heap.u32[HDR.VERSION >> 2] !== LAYOUT_VERSION) {
      // The creator always writes one before any guest runs: a guest overwrote it.
      throw new CwasiError('E_MEMORY_CORRUPT', 'memory header overwritten (no cwasi magic or another layout version)');
    }
    return heap;
  }

  /** The host-owned lock of this heap; posted to workers with the memory. */
  get lockBuffer(): SharedArrayBuffer {
    return this.heapLock.buffer;
  }

  /** The memory's current buffer (re-read: growth elsewhere replaces it). */
  bytes(): Uint8Array {
    this.refreshIfGrown();
    return new Uint8Array(this.buffer);
  }

  /** A Uint32Array over the memory as it is now (for the host's own small writes). */
  words(): Uint32Array {
    this.refreshIfGrown();
    return this.u32;
  }

  get byteLength(): number {
    this.refreshIfGrown();
    return this.buffer.byteLength;
  }

  get generation(): number {
    return Atomics.load(this.i32, HDR.GENERATION >> 2) >>> 0;
  }

  /** Mark the memory discarded: descriptors carrying an older generation are refused. */
  bumpGeneration(): number {
    return (Atomics.add(this.i32, HDR.GENERATION >> 2, 1) + 1) >>> 0;
  }

  get heapStart(): number {
    return this.u32[HDR.HEAP_START >> 2]!;
  }

  /**
   * A new, empty arena. `record` (a worker's journal) runs under the heap lock with it counted: a worker
   * cancelled meanwhile exits at the unlock, never with the arena counted but not journaled (left counted).
   */
  newArena(record?: (arena: Arena) => void): Arena {
    if (record !== undefined) this.heapLock.lock();
    try {
      // Publishes nothing but a unique id; FREE_TAG and 0 are skipped.
      let id = (Atomics.add(this.i32, HDR.ARENA_SEQ >> 2, 1) + 1) >>> 0;
      if (id === 0 || id === FREE_TAG) id = (Atomics.add(this.i32, HDR.ARENA_SEQ >> 2, 1) + 1) >>> 0;
      Atomics.add(this.i32, HDR.LIVE_ARENAS >> 2, 1);
      const arena = { id, head: 0 };
      record?.(arena);
      return arena;
    } finally {
      if (record !== undefined) this.heapLock.unlock();
    }
  }

  /**
   * Allocate `payloadBytes` for the host in `arena`; returns the address (16-byte
   * aligned). Small requests bump inside a chunk of the arena, large ones get a
   * block of their own. Throws E_MEMORY_LIMIT when the memory cannot grow.
   */
  allocIn(arena: Arena, payloadBytes: number): number {
    if (!Number.isSafeInteger(payloadBytes) || payloadBytes < 0) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `invalid allocation size ${payloadBytes}`);
    }
    if (payloadBytes <= HOST_BUMP_MAX_BYTES) {
      const size = alignUp(Math.max(payloadBytes, 1), BLOCK_ALIGN);
      let cur = arena.cur ?? 0;
      if (cur === 0 || cur + size > arena.end!) {
        cur = this.allocChunk(arena, 0);
        arena.end = cur + (CHUNK_BLOCK_BYTES - BLOCK_HEADER_BYTES);
      }
      arena.cur = cur + size;
      return cur;
    }
    return this.allocBlock(arena, payloadBytes);
  }

  /**
   * A whole chunk for `arena` with at least `minPayload` bytes (the guest
   * runtime's refill). Standard chunks come from this thread's cache when it
   * has one, without taking the lock.
   */
  allocChunk(arena: Arena, minPayload: number): number {
    if (minPayload > CHUNK_BLOCK_BYTES - BLOCK_HEADER_BYTES) return this.allocBlock(arena, minPayload);
    const cached = this.cache.pop();
    if (cached !== undefined) {
      this.refreshIfGrown();
      this.u32[cached >>> 2] = CHUNK_BLOCK_BYTES;
      return this.linkInto(arena, cached);
    }
    return this.allocBlock(arena, CHUNK_BLOCK_BYTES - BLOCK_HEADER_BYTES);
  }

  /**
   * A block that lives as long as an instance on this thread (its shadow
   * stack). Marked with this thread, so that the blocks of a thread that died
   * can be found and freed, and counted as instanceBytes by stats().
   */
  allocInstance(arena: Arena, payloadBytes: number): number {
    const ptr = this.allocBlock(arena, payloadBytes);
    const b = (ptr - BLOCK_HEADER_BYTES) >>> 2;
    this.u32[b + (BLOCK.OWNER >> 2)] = (INSTANCE_OWNER | threadTag()) >>> 0;
    return ptr;
  }

  /**
   * A block held for an instance's lifetime on this thread: a region of its
   * allocator (cwasi.region_grow) or its stack and pin table. Tagged with the
   * instance's arena id and marked with this thread (so that a dead thread's
   * recovery frees it, and stats() counts it as instanceBytes), but linked
   * into no arena chain: the instance keeps the list and frees each block
   * with freeRegion. Throws E_MEMORY_LIMIT when the memory cannot grow.
   */
  allocRegion(tag: number, payloadBytes: number): number {
    if (!Number.isSafeInteger(payloadBytes) || payloadBytes < 0) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `invalid region size ${payloadBytes}`);
    }
    const need = alignUp(payloadBytes + BLOCK_HEADER_BYTES, BLOCK_ALIGN);
    if (need > this.maxBytes) {
      throw new CwasiError('E_MEMORY_LIMIT', `memory maximum of ${this.maxBytes} bytes reached (needs ${need} more)`, { needBytes: need, maxBytes: this.maxBytes });
    }
    const cached = this.large.length > 0 ? this.takeLarge(need) : 0;
    const locked = cached === 0;
    if (locked) this.lock();
    try {
      const block = locked ? this.take(need) : cached;
      const u32 = this.u32;
      const b = block >>> 2;
      u32[b + (BLOCK.TAG >> 2)] = tag;
      u32[b + (BLOCK.NEXT >> 2)] = 0;
      u32[b + (BLOCK.OWNER >> 2)] = (INSTANCE_OWNER | threadTag()) >>> 0;
      return block + BLOCK_HEADER_BYTES;
    } finally {
      if (locked) this.unlock();
    }
  }

  /**
   * Free a block from allocRegion (its tag is checked: a guest may have written
   * over the header). A large one stays in this thread's cache while it is busy
   * (a guest allocator that gives back its region after each call gets it back).
   */
  freeRegion(ptr: number, tag: number): void {
    const block = ptr - BLOCK_HEADER_BYTES;
    const b = block >>> 2;
    if (this.cacheLimit > 0) {
      this.refreshIfGrown();
      this.checkBlock(block);
      const u32 = this.u32;
      if (u32[b + (BLOCK.TAG >> 2)] !== tag) throw this.corrupt(`region ${ptr} does not belong to arena ${tag}`);
      if (this.large.accepts(u32[b]!)) {
        u32[b + (BLOCK.OWNER >> 2)] = threadTag();
        u32[b + (BLOCK.TAG >> 2)] = CACHED_TAG;
        this.large.keep(block, u32[b]!);
        return;
      }
    }
    this.lock();
    try {
      this.checkBlock(block);
      if (this.u32[b + (BLOCK.TAG >> 2)] !== tag) throw this.corrupt(`region ${ptr} does not belong to arena ${tag}`);
      this.give(block);
    } finally {
      this.unlock();
    }
  }

  /** Does the host block at `block` still carry `tag` (its arena is alive)? A pin's liveness test. */
  blockTagged(block: number, tag: number): boolean {
    if (!this.inBounds(block, BLOCK_HEADER_BYTES)) return false;
    return this.u32[(block >>> 2) + (BLOCK.TAG >> 2)] === tag;
  }

  private allocBlock(arena: Arena, payloadBytes: number): number {
    const need = alignUp(payloadBytes + BLOCK_HEADER_BYTES, BLOCK_ALIGN);
    const cached = this.large.length > 0 ? this.takeLarge(need) : 0;
    if (cached !== 0) return this.linkInto(arena, cached);
    this.lock();
    try {
      return this.linkInto(arena, this.take(need));
    } finally {
      this.unlock();
    }
  }

  /** Make `block` (this thread's now) the newest block of `arena`; returns its payload address. */
  private linkInto(arena: Arena, block: number): number {
    const u32 = this.u32;
    const b = block >>> 2;
    u32[b + (BLOCK.TAG >> 2)] = arena.id;
    u32[b + (BLOCK.NEXT >> 2)] = arena.head;
    u32[b + (BLOCK.OWNER >> 2)] = 0;
    arena.head = block;
    return block + BLOCK_HEADER_BYTES;
  }

  /**
   * Free every block of `arena`. Standard chunks go to this thread's cache
   * (up to CHUNK_CACHE_BLOCKS); the rest return to the heap under one lock.
   */
  release(arena: Arena): void {
    if (arena.id === 0) return;
    this.refreshIfGrown();
    const u32 = this.u32;
    let block = arena.head;
    let steps = 0;
    const limit = this.chainLimit();
    const me = threadTag();
    let locked = false;
    if (this.cacheLimit === 0 && block !== 0) {
      // Without a cache every block goes back under the lock: take it before
      // touching anything, so that HeapLockBusy leaves the arena as it was.
      this.lock();
      locked = true;
    }
    try {
      while (block !== 0) {
        if (++steps > limit) throw this.chainTooLong(arena.id, limit);
        this.checkBlock(block);
        const b = block >>> 2;
        if (u32[b + (BLOCK.TAG >> 2)] !== arena.id) throw this.corrupt(`block ${block} does not belong to arena ${arena.id}`);
        const next = u32[b + (BLOCK.NEXT >> 2)]!;
        const size = u32[b]!;
        const chunk = size === CHUNK_BLOCK_BYTES && this.cache.length < this.cacheLimit;
        const large = !chunk && this.cacheLimit > 0 && this.large.accepts(size);
        if (chunk || large) {
          // Owner first: a thread terminated between the two stores leaves a
          // block its recovery finds either way (by the arena's id or as its cache).
          u32[b + (BLOCK.OWNER >> 2)] = me;
          u32[b + (BLOCK.TAG >> 2)] = CACHED_TAG;
          if (chunk) this.cache.push(block);
          else this.large.keep(block, size);
        } else {
          if (!locked) {
            this.lock();
            locked = true;
          }
          this.give(block);
        }
        block = next;
      }
      Atomics.sub(this.i32, HDR.LIVE_ARENAS >> 2, 1);
      arena.head = 0;
      arena.id = 0;
      arena.cur = 0;
      arena.end = 0;
    } finally {
      if (locked) this.unlock();
    }
  }

  /** Return this thread's cached chunks and blocks to the heap (before the thread goes away). */
  flushCache(): void {
    if (this.cache.length === 0 && this.large.length === 0) return;
    this.lock();
    try {
      while (this.cache.length > 0) this.give(this.cache.pop()!);
      this.giveLarge();
    } finally {
      this.unlock();
    }
  }

  /** A cached block for `need` bytes, or 0. A size word that differs from the host's record is corrupt metadata. */
  private takeLarge(need: number): number {
    const c = this.large.take(need);
    if (c === undefined) return 0;
    this.refreshIfGrown();
    if (this.u32[c.block >>> 2] !== c.size) throw this.corrupt(`cached block ${c.block} changed size to ${this.u32[c.block >>> 2]}`);
    return c.block;
  }

  /** Hand every cached large block back to the free list (the lock is held), each with the size the host recorded. */
  private giveLarge(): void {
    for (const { block, size } of this.large.drain()) {
      this.u32[block >>> 2] = size;
      this.give(block);
    }
  }

  /** The thread went idle with large blocks cached: back to the heap (false: the lock is busy, try later). */
  private trimLarge(): boolean {
    try {
      this.lock();
    } catch {
      return false;
    }
    try {
      this.giveLarge();
    } catch {
      // Corrupt metadata: the memory's owner discards it on its next use.
    } finally {
      this.unlock();
    }
    return true;
  }

  /**
   * Free every block tagged with one of `ids`, found by walking the heap from
   * its start (blocks tile the heap). Used when a worker died holding arenas
   * whose chain heads were never reported. Returns the number of blocks freed.
   */
  releaseTagged(ids: ReadonlySet<number>, deadThread = 0): number {
    if (ids.size === 0 && deadThread === 0) return 0;
    this.lock();
    try {
      const u32 = this.u32;
      const found: number[] = [];
      /** Arenas of the dead thread's instances (their start arenas die with them). */
      const deadArenas = new Set<number>();
      this.forEachBlock((block) => {
        const b = block >>> 2;
        const tag = u32[b + (BLOCK.TAG >> 2)]!;
        const owner = u32[b + (BLOCK.OWNER >> 2)]!;
        if (tag === FREE_TAG) {
          // free already
        } else if (ids.has(tag)) {
          found.push(block);
        } else if (deadThread !== 0 && tag === CACHED_TAG && owner === deadThread) {
          found.push(block);
        } else if (deadThread !== 0 && owner === ((INSTANCE_OWNER | deadThread) >>> 0)) {
          // An instance of the dead thread: its stack goes too.
          deadArenas.add(tag);
          found.push(block);
        }
      });
      // Free from the top down so that trailing blocks shrink the carved region first.
      for (let i = found.length - 1; i >= 0; i--) this.give(found[i]!);
      const live = u32[HDR.LIVE_ARENAS >> 2]!;
      u32[HDR.LIVE_ARENAS >> 2] = Math.max(0, live - ids.size - deadArenas.size);
      return found.length;
    } finally {
      this.unlock();
    }
  }

  /** Thread tag of the current lock holder (0 = free); 1 + threadId, main thread = 1. */
  lockHolder(): number {
    return this.heapLock.holder();
  }

  /**
   * Does [ptr, ptr + len) lie inside the payload of one block of `arena`
   * (optionally skipping blocks held for an instance's lifetime, i.e. stacks)?
   * The chain lives in guest-writable memory: the walk is validated and bounded.
   */
  arenaContains(arena: Arena, ptr: number, len: number, skipInstanceBlocks = false): boolean {
    this.refreshIfGrown();
    const u32 = this.u32;
    let block = arena.head;
    let steps = 0;
    const limit = this.chainLimit();
    while (block !== 0) {
      if (++steps > limit) throw this.chainTooLong(arena.id, limit);
      this.checkBlock(block);
      const b = block >>> 2;
      const skip = skipInstanceBlocks && (u32[b + (BLOCK.OWNER >> 2)]! & INSTANCE_OWNER) !== 0;
      if (!skip && ptr >= block + BLOCK_HEADER_BYTES && ptr + len <= block + u32[b]!) return true;
      block = u32[b + (BLOCK.NEXT >> 2)]!;
    }
    return false;
  }

  private chainTooLong(arena: number, limit: number): CwasiError {
    return this.corrupt(`the chain of arena ${arena} is longer than the ${limit} blocks the host carved`);
  }

  /** Bytes of payload in the arena's blocks (diagnostics and tests). */
  arenaBytes(arena: Arena): number {
    let total = 0;
    let block = arena.head;
    let steps = 0;
    const limit = this.chainLimit();
    while (block !== 0) {
      if (++steps > limit) throw this.chainTooLong(arena.id, limit);
      this.checkBlock(block);
      total += this.u32[block >>> 2]! - BLOCK_HEADER_BYTES;
      block = this.u32[(block >>> 2) + (BLOCK.NEXT >> 2)]!;
    }
    return total;
  }

  /**
   * Heap figures for diagnostics. Never throws: a heap that could not be read
   * (busy lock, corrupt metadata) is reported as such with the figures that
   * need neither.
   */
  stats(): HeapStats {
    try {
      return this.statsLocked();
    } catch (err) {
      const busy = err instanceof HeapLockBusy;
      const u32 = this.words();
      return {
        state: busy ? 'busy' : 'corrupt',
        problem: (err as Error).message,
        ...this.headerFigures(u32),
        // As of the last read under the lock: counting them needs a walk.
        ...this.lastHeld,
        freeBlocks: 0,
        freeBytes: 0,
      };
    }
  }

  /** The figures read straight from the header words (no lock, no list walk). */
  private headerFigures(u32: Uint32Array): Omit<HeapStats, 'state' | 'problem' | 'freeBlocks' | 'freeBytes' | 'cachedBytes' | 'instanceBytes'> {
    return {
      heapStart: u32[HDR.HEAP_START >> 2]!,
      heapTop: u32[HDR.HEAP_TOP >> 2]!,
      memoryBytes: this.buffer.byteLength,
      maxBytes: this.maxBytes,
      bytesInUse: u32[HDR.BYTES_IN_USE >> 2]!,
      peakInUse: u32[HDR.PEAK_IN_USE >> 2]!,
      liveArenas: u32[HDR.LIVE_ARENAS >> 2]!,
    };
  }

  /**
   * Bytes in cached chunks and in instance blocks, counted by walking every
   * block (under the lock). Not kept as shared counters: a thread moves chunks
   * into and out of its cache without the lock, and a worker terminated
   * between changing a block and changing a counter would leave the counter
   * wrong for good; the blocks themselves are what the dead thread's
   * recovery (releaseTagged) reads, so counting them stays exact. Also
   * the number of blocks the walk met.
   */
  private heldTotals(): { cachedBytes: number; instanceBytes: number; blocks: number } {
    const u32 = this.u32;
    let cachedBytes = 0;
    let instanceBytes = 0;
    let blocks = 0;
    this.forEachBlock((block) => {
      blocks++;
      const b = block >>> 2;
      const tag = u32[b + (BLOCK.TAG >> 2)]!;
      if (tag === CACHED_TAG) cachedBytes += u32[b]!;
      else if (tag !== FREE_TAG && (u32[b + (BLOCK.OWNER >> 2)]! & INSTANCE_OWNER) !== 0) instanceBytes += u32[b]!;
    });
    return { cachedBytes, instanceBytes, blocks };
  }

  private statsLocked(): HeapStats {
    this.lock();
    try {
      const { blocks, ...held } = this.heldTotals();
      const free = this.freeListTotals();
      // With the lock free, the host's counts are exact (heap-counts.ts): a
      // walk that meets fewer blocks than they say met lists a guest rewrote
      // as surely as one that meets more.
      if (blocks !== this.counts.blocks || free.freeBlocks !== this.counts.freeBlocks) {
        throw this.corrupt(`the heap holds ${blocks} blocks, ${free.freeBlocks} of them free; the host made ${this.counts.blocks}, ${this.counts.freeBlocks} free`);
      }
      this.lastHeld = held;
      return {
        state: 'ok',
        ...this.headerFigures(this.u32),
        ...held,
        ...free,
      };
    } finally {
      this.unlock();
    }
  }

  /** Is [ptr, ptr + len) inside the memory as it is now? */
  inBounds(ptr: number, len: number): boolean {
    if (!Number.isInteger(ptr) || !Number.isInteger(len) || ptr < 0 || len < 0) return false;
    const end = ptr + len;
    if (end <= this.buffer.byteLength) return true;
    this.refreshIfGrown();
    return end <= this.buffer.byteLength;
  }
}
