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
// it, so every walk is bounded (walkLimit) and every block pointer is checked
// (checkBlock) before use.

import { CwasiError } from '../errors.js';
import { HeapLock } from './heap-lock.js';
import { BLOCK, BLOCK_ALIGN, BLOCK_HEADER_BYTES, FREE_TAG, HDR, MAX_PAGES, MIN_SPLIT_BYTES, WASM_PAGE } from './layout.js';

/** Upper bound on list walks; a longer list means the metadata is corrupt. */
const MAX_WALK = 1 << 22;

export class HeapBlocks {
  readonly memory: WebAssembly.Memory;
  protected readonly heapLock: HeapLock;
  protected buffer!: SharedArrayBuffer;
  protected i32!: Int32Array;
  protected u32!: Uint32Array;

  protected constructor(memory: WebAssembly.Memory, lockBuffer: SharedArrayBuffer) {
    this.memory = memory;
    this.heapLock = new HeapLock(lockBuffer);
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
    const walk = this.walkLimit();
    while (block < u32[HDR.HEAP_TOP >> 2]!) {
      this.checkBlock(block);
      visit(block);
      block += u32[block >>> 2]!;
      if (++steps > walk) throw this.corrupt('heap walk does not end');
    }
  }

  /** Count and bytes of the blocks on the free list (with the lock held). */
  protected freeListTotals(): { freeBlocks: number; freeBytes: number } {
    const u32 = this.u32;
    let freeBlocks = 0;
    let freeBytes = 0;
    let cur = u32[HDR.FREE_HEAD >> 2]!;
    const walk = this.walkLimit();
    while (cur !== 0) {
      this.checkBlock(cur);
      freeBlocks++;
      freeBytes += u32[cur >>> 2]!;
      cur = u32[(cur >>> 2) + (BLOCK.NEXT >> 2)]!;
      if (freeBlocks > walk) throw this.corrupt('free list does not end');
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
    const walk = this.walkLimit();
    while (cur !== 0) {
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
          taken = need;
        } else {
          this.link(prev, next);
        }
        u32[c] = taken;
        this.account(taken);
        return cur;
      }
      if (next === 0 && cur + size === top) {
        // The last free block touches the top: extend it instead of leaving a hole.
        this.ensureCapacity(cur + need);
        this.link(prev, 0);
        u32[c] = need;
        u32[HDR.HEAP_TOP >> 2] = cur + need;
        this.account(need);
        return cur;
      }
      prev = cur;
      cur = next;
      if (++steps > walk) throw this.corrupt('free list does not end');
    }
    const end = top + need;
    this.ensureCapacity(end);
    this.u32[top >>> 2] = need;
    this.u32[HDR.HEAP_TOP >> 2] = end;
    this.account(need);
    return top;
  }

  /** Return a block to the address-ordered free list, merging with its neighbours. */
  protected give(block: number): void {
    const u32 = this.u32;
    let size = u32[block >>> 2]!;
    u32[HDR.BYTES_IN_USE >> 2] = u32[HDR.BYTES_IN_USE >> 2]! - size;
    let prev = 0;
    let next = u32[HDR.FREE_HEAD >> 2]!;
    let steps = 0;
    const walk = this.walkLimit();
    while (next !== 0 && next < block) {
      this.checkBlock(next);
      prev = next;
      next = u32[(next >>> 2) + (BLOCK.NEXT >> 2)]!;
      if (++steps > walk) throw this.corrupt('free list does not end');
    }
    if (next === block) throw this.corrupt(`block ${block} freed twice`);
    if (next !== 0) this.checkBlock(next);
    // Merge with the following free block.
    if (next !== 0 && block + size === next) {
      size += u32[next >>> 2]!;
      next = u32[(next >>> 2) + (BLOCK.NEXT >> 2)]!;
    }
    const top = u32[HDR.HEAP_TOP >> 2]!;
    if (prev !== 0 && prev + u32[prev >>> 2]! === block) {
      // Merge into the preceding free block, which keeps its place in the list.
      const merged = u32[prev >>> 2]! + size;
      if (prev + merged === top && next === 0) {
        // The free run ends at the top: hand it back to the uncarved region.
        u32[HDR.HEAP_TOP >> 2] = prev;
        this.link(this.findPrev(prev), 0);
        return;
      }
      u32[prev >>> 2] = merged;
      u32[(prev >>> 2) + (BLOCK.NEXT >> 2)] = next;
      return;
    }
    if (block + size === top && next === 0) {
      u32[HDR.HEAP_TOP >> 2] = block;
      this.link(prev, 0);
      return;
    }
    const b = block >>> 2;
    u32[b] = size;
    u32[b + (BLOCK.TAG >> 2)] = FREE_TAG;
    u32[b + (BLOCK.NEXT >> 2)] = next;
    this.link(prev, block);
  }

  protected findPrev(block: number): number {
    const u32 = this.u32;
    let prev = 0;
    let cur = u32[HDR.FREE_HEAD >> 2]!;
    let steps = 0;
    const walk = this.walkLimit();
    while (cur !== 0 && cur !== block) {
      prev = cur;
      cur = u32[(cur >>> 2) + (BLOCK.NEXT >> 2)]!;
      if (++steps > walk) throw this.corrupt('free list does not end');
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
   * Longest list a consistent heap can hold: every block is at least
   * BLOCK_ALIGN bytes, so a walk longer than the carved heap allows is a
   * cycle the guest wrote, found in time proportional to the heap, not 4 M steps.
   */
  protected walkLimit(): number {
    const span = (this.u32[HDR.HEAP_TOP >> 2]! - this.u32[HDR.HEAP_START >> 2]!) / BLOCK_ALIGN;
    return Math.min(MAX_WALK, Math.max(span, 0) + 1);
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
