// The block allocator under a cwasi heap (heap.ts): an address-ordered free
// list of blocks carved upwards from the heap start, with the memory views,
// the growth of the memory and the validation of every block pointer read
// back from it. The block header and memory header layouts are the tables in
// layout.ts; the arenas, the chunk cache and the diagnostics live in heap.ts.
//
// Under the heap lock: blocks tile [heapStart, heapTop); the free list
// (FREE_HEAD, then each free block's NEXT) is kept in address order; give()
// merges a freed block with its free neighbours and hands a free run that
// reaches heapTop back to the uncarved region. Guest code can overwrite any of
// it, so every block pointer is checked (checkBlock) before use and every walk
// is bounded by the host's own counts (heap-counts.ts), never by anything in
// the memory: the free list by the free blocks the host recorded, the tiling
// and the arena chains by the blocks it carved. A walk that would go further
// has met a list the host never built: E_MEMORY_CORRUPT, and the memory's
// owner discards it. take() and give() keep the counts in step with every
// change they make to the list and the tiling.

import { CwasiError } from '../errors.js';
import { HeapCounts } from './heap-counts.js';
import { HeapLock } from './heap-lock.js';
import { BLOCK, BLOCK_ALIGN, BLOCK_HEADER_BYTES, FREE_TAG, HDR, MAX_PAGES, MIN_SPLIT_BYTES, WASM_PAGE } from './layout.js';

export class HeapBlocks {
  readonly memory: WebAssembly.Memory;
  protected readonly heapLock: HeapLock;
  /** The host's counts of blocks and free blocks, in the lock's buffer. */
  protected readonly counts: HeapCounts;
  protected buffer!: SharedArrayBuffer;
  protected i32!: Int32Array;
  protected u32!: Uint32Array;

  protected constructor(memory: WebAssembly.Memory, lockBuffer: SharedArrayBuffer) {
    this.memory = memory;
    this.heapLock = new HeapLock(lockBuffer);
    this.counts = new HeapCounts(lockBuffer);
    this.refresh();
  }

  get maxBytes(): number {
    return this.u32[HDR.MAX_BYTES_LO >> 2]! + this.u32[HDR.MAX_BYTES_HI >> 2]! * 2 ** 32;
  }

  /** Visit every block in address order (blocks tile the heap), with the lock held; validated and bounded. */
  protected forEachBlock(visit: (block: number) => void): void {
    const u32 = this.u32;
    let block = u32[HDR.HEAP_START >> 2]!;
    let steps = 0;
    const limit = this.counts.blocks;
    while (block < u32[HDR.HEAP_TOP >> 2]!) {
      if (++steps > limit) throw this.corrupt(`the heap holds more than the ${limit} blocks the host carved`);
      this.checkBlock(block);
      visit(block);
      block += u32[block >>> 2]!;
    }
  }

  /** Count and bytes of the blocks on the free list (with the lock held). */
  protected freeListTotals(): { freeBlocks: number; freeBytes: number } {
    const u32 = this.u32;
    let freeBlocks = 0;
    let freeBytes = 0;
    let cur = u32[HDR.FREE_HEAD >> 2]!;
    const limit = this.counts.freeBlocks;
    while (cur !== 0) {
      if (++freeBlocks > limit) throw this.freeListTooLong(limit);
      this.checkBlock(cur);
      freeBytes += u32[cur >>> 2]!;
      cur = u32[(cur >>> 2) + (BLOCK.NEXT >> 2)]!;
    }
    return { freeBlocks, freeBytes };
  }

  // ── internals (called with the lock held) ──────────────────────────────

  /** Unlink a free block of at least `need` bytes, or carve one at the top. */
  protected take(need: number): number {
    const u32 = this.u32;
    const top = u32[HDR.HEAP_TOP >> 2]!;
    let prev = 0;
    let cur = u32[HDR.FREE_HEAD >> 2]!;
    let steps = 0;
    const limit = this.counts.freeBlocks;
    while (cur !== 0) {
      if (++steps > limit) throw this.freeListTooLong(limit);
      this.checkBlock(cur);
      const c = cur >>> 2;
      const size = u32[c]!;
      const next = u32[c + (BLOCK.NEXT >> 2)]!;
      if (size >= need) {
        let taken = size;
        if (size - need >= MIN_SPLIT_BYTES) {
          // Split: the remainder stays on the free list in cur's place.
          const rest = cur + need;
          const r = rest >>> 2;
          u32[r] = size - need;
          u32[r + (BLOCK.TAG >> 2)] = FREE_TAG;
          u32[r + (BLOCK.NEXT >> 2)] = next;
          this.link(prev, rest);
          this.counts.addBlocks(1);
          taken = need;
        } else {
          this.link(prev, next);
          this.counts.addFree(-1);
        }
        u32[c] = taken;
        this.account(taken);
        return cur;
      }
      if (next === 0 && cur + size === top) {
        // The last free block touches the top: extend it instead of leaving a hole.
        this.ensureCapacity(cur + need);
        this.link(prev, 0);
        this.counts.addFree(-1);
        u32[c] = need;
        u32[HDR.HEAP_TOP >> 2] = cur + need;
        this.account(need);
        return cur;
      }
      prev = cur;
      cur = next;
    }
    const end = top + need;
    this.ensureCapacity(end);
    this.u32[top >>> 2] = need;
    this.u32[HDR.HEAP_TOP >> 2] = end;
    this.counts.addBlocks(1);
    this.account(need);
    return top;
  }

  /**
   * Return a block to the address-ordered free list, merging with its
   * neighbours. The counts follow each change: a merge joins two blocks of
   * the tiling into one, a merged or handed-back free block leaves the list,
   * a block that stays on its own joins it.
   */
  protected give(block: number): void {
    const u32 = this.u32;
    let size = u32[block >>> 2]!;
    u32[HDR.BYTES_IN_USE >> 2] = u32[HDR.BYTES_IN_USE >> 2]! - size;
    let prev = 0;
    let next = u32[HDR.FREE_HEAD >> 2]!;
    let steps = 0;
    const limit = this.counts.freeBlocks;
    while (next !== 0 && next < block) {
      if (++steps > limit) throw this.freeListTooLong(limit);
      this.checkBlock(next);
      prev = next;
      next = u32[(next >>> 2) + (BLOCK.NEXT >> 2)]!;
    }
    if (next === block) throw this.corrupt(`block ${block} freed twice`);
    if (next !== 0) this.checkBlock(next);
    const counts = this.counts;
    // Merge with the following free block, which leaves the list.
    if (next !== 0 && block + size === next) {
      size += u32[next >>> 2]!;
      next = u32[(next >>> 2) + (BLOCK.NEXT >> 2)]!;
      counts.addBlocks(-1);
      counts.addFree(-1);
    }
    const top = u32[HDR.HEAP_TOP >> 2]!;
    if (prev !== 0 && prev + u32[prev >>> 2]! === block) {
      // Merge into the preceding free block, which keeps its place in the list.
      const merged = u32[prev >>> 2]! + size;
      counts.addBlocks(-1);
      if (prev + merged === top && next === 0) {
        // The free run ends at the top: hand it back to the uncarved region.
        u32[HDR.HEAP_TOP >> 2] = prev;
        this.link(this.findPrev(prev), 0);
        counts.addBlocks(-1);
        counts.addFree(-1);
        return;
      }
      u32[prev >>> 2] = merged;
      u32[(prev >>> 2) + (BLOCK.NEXT >> 2)] = next;
      return;
    }
    if (block + size === top && next === 0) {
      u32[HDR.HEAP_TOP >> 2] = block;
      this.link(prev, 0);
      counts.addBlocks(-1);
      return;
    }
    const b = block >>> 2;
    u32[b] = size;
    u32[b + (BLOCK.TAG >> 2)] = FREE_TAG;
    u32[b + (BLOCK.NEXT >> 2)] = next;
    this.link(prev, block);
    counts.addFree(1);
  }

  protected findPrev(block: number): number {
    const u32 = this.u32;
    let prev = 0;
    let cur = u32[HDR.FREE_HEAD >> 2]!;
    let steps = 0;
    const limit = this.counts.freeBlocks;
    while (cur !== 0 && cur !== block) {
      if (++steps > limit) throw this.freeListTooLong(limit);
      prev = cur;
      cur = u32[(cur >>> 2) + (BLOCK.NEXT >> 2)]!;
    }
    return prev;
  }

  protected link(prev: number, target: number): void {
    if (prev === 0) this.u32[HDR.FREE_HEAD >> 2] = target;
    else this.u32[(prev >>> 2) + (BLOCK.NEXT >> 2)] = target;
  }

  protected account(bytes: number): void {
    const u32 = this.u32;
    const inUse = u32[HDR.BYTES_IN_USE >> 2]! + bytes;
    u32[HDR.BYTES_IN_USE >> 2] = inUse;
    if (inUse > u32[HDR.PEAK_IN_USE >> 2]!) u32[HDR.PEAK_IN_USE >> 2] = inUse;
  }

  protected ensureCapacity(end: number): void {
    if (end <= this.buffer.byteLength) return;
    this.refreshIfGrown();
    if (end <= this.buffer.byteLength) return;
    const max = Math.min(this.maxBytes, MAX_PAGES * WASM_PAGE);
    if (end > max) {
      throw new CwasiError('E_MEMORY_LIMIT', `memory maximum of ${max} bytes reached (needs ${end})`, { needBytes: end, maxBytes: max });
    }
    const have = this.buffer.byteLength / WASM_PAGE;
    const needPages = Math.ceil(end / WASM_PAGE) - have;
    // Grow by at least 1/8 of the current size to keep the number of grows small.
    const wantPages = Math.min(Math.max(needPages, Math.ceil(have / 8)), max / WASM_PAGE - have);
    try {
      this.memory.grow(wantPages);
    } catch {
      try {
        this.memory.grow(needPages);
      } catch (err) {
        throw new CwasiError('E_MEMORY_LIMIT', `memory could not grow to ${end} bytes: ${(err as Error).message}`, { needBytes: end });
      }
    }
    this.refresh();
  }

  protected checkBlock(block: number): void {
    const top = this.u32[HDR.HEAP_TOP >> 2]!;
    if (block % BLOCK_ALIGN !== 0 || block < this.u32[HDR.HEAP_START >> 2]! || block + BLOCK_HEADER_BYTES > top) {
      throw this.corrupt(`block pointer ${block} outside the heap`);
    }
    const size = this.u32[block >>> 2]!;
    if (size < BLOCK_HEADER_BYTES || size % BLOCK_ALIGN !== 0 || block + size > top) {
      throw this.corrupt(`block ${block} has invalid size ${size}`);
    }
  }

  /**
   * Longest arena chain a consistent heap can hold: every block of it is one
   * of the blocks the host carved (read without the lock, this still counts
   * every block of an arena the calling thread holds; heap-counts.ts).
   */
  protected chainLimit(): number {
    return this.counts.blocks;
  }

  protected freeListTooLong(limit: number): CwasiError {
    return this.corrupt(`the free list is longer than the ${limit} free blocks the host recorded`);
  }

  protected corrupt(what: string): CwasiError {
    return new CwasiError('E_MEMORY_CORRUPT', `heap metadata corrupt: ${what}`);
  }

  protected refresh(): void {
    this.buffer = this.memory.buffer as unknown as SharedArrayBuffer;
    this.i32 = new Int32Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
  }

  protected refreshIfGrown(): void {
    const buffer = this.memory.buffer as unknown as SharedArrayBuffer;
    if (buffer.byteLength !== this.buffer.byteLength) this.refresh();
  }

  protected lock(): void {
    this.heapLock.lock();
    this.refreshIfGrown();
  }

  protected unlock(): void {
    this.heapLock.unlock();
  }
}
