// The host's own counts of a cwasi heap: how many blocks it has carved (they
// tile [heapStart, heapTop)) and how many of them it has put on the free list.
// They live beside the heap lock in its host-owned SharedArrayBuffer (the
// table is in heap-lock.ts), never in the function's memory.
//
// Why: the free list, the block sizes and the arena chains live in the memory,
// where a guest can rewrite them into a list of millions of valid-looking
// blocks. A walk bounded by anything read from the memory (its heap span, a
// header field) then runs as long as the guest likes, under the heap lock and
// on whichever thread asked, the main thread included. A walk bounded by these
// counts visits at most what the host itself made; one that goes further has
// met structure the host never built, which is corruption (heap-blocks.ts).
//
// Threading contract: both counts change only under the heap lock, in the
// same critical section as the list or the tiling they count, so a thread
// holding the lock reads them exact (the lock's atomics order these plain
// accesses). A thread that reads them without the lock (an arena chain walk)
// gets a value some critical section left, which still counts every block of
// an arena that thread owns. A thread terminated inside a critical section
// leaves the lock held and its memory is discarded (worker-registry.ts), so a
// half-made change to a count is never read.

import { COUNT_BLOCKS, COUNT_FREE_BLOCKS, HEAP_LOCK_BYTES } from './heap-lock.js';

export class HeapCounts {
  private readonly words: Int32Array;

  /** `buffer`: the heap's lock buffer (HeapLock.create). */
  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, HEAP_LOCK_BYTES >> 2);
  }

  /** Blocks on the free list as the host left it (never negative: a forged merge may push the count below 0). */
  get freeBlocks(): number {
    return Math.max(0, this.words[COUNT_FREE_BLOCKS]!);
  }

  /** Blocks that tile the carved heap as the host left it. */
  get blocks(): number {
    return Math.max(0, this.words[COUNT_BLOCKS]!);
  }

  /** With the lock held: the free list gained (or, negative, lost) `n` blocks. */
  addFree(n: number): void {
    this.words[COUNT_FREE_BLOCKS] = this.words[COUNT_FREE_BLOCKS]! + n;
  }

  /** With the lock held: the tiling gained (or, negative, lost) `n` blocks. */
  addBlocks(n: number): void {
    this.words[COUNT_BLOCKS] = this.words[COUNT_BLOCKS]! + n;
  }
}
