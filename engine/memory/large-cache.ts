// One thread's cache of large blocks in one memory (heap.ts): blocks above a
// standard chunk and up to LARGE_CACHE_MAX_BYTES that the thread released,
// kept for its own next allocations of about the same size while it is busy.
// The next call on that thread then writes where its last one did, in its own
// core's caches, instead of in a block another thread just freed; two workers
// taking turns over one free list measured a 2 MiB copy 2.4× slower.
//
// Only the bookkeeping lives here: which blocks, their sizes as the host
// recorded them (a block's size word is the guest's to overwrite), and the
// idle timer. The heap moves blocks in and out under its own rules and gives
// them back when `onIdle` asks (nothing taken or kept for LARGE_CACHE_IDLE_MS).

import { CHUNK_BLOCK_BYTES, LARGE_CACHE_BLOCKS, LARGE_CACHE_IDLE_MS, LARGE_CACHE_MAX_BYTES } from './layout.js';

export interface CachedBlock {
  block: number;
  /** The block's size when it was released, header included. */
  size: number;
}

export class LargeBlockCache {
  /** Newest last. */
  private readonly blocks: CachedBlock[] = [];
  private usedAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `onIdle`: give every block back now (returns false when that must wait, e.g. for a busy lock). */
  constructor(private readonly onIdle: () => boolean) {}

  get length(): number {
    return this.blocks.length;
  }

  /** Would a released block of `size` bytes be kept? */
  accepts(size: number): boolean {
    return size > CHUNK_BLOCK_BYTES && size <= LARGE_CACHE_MAX_BYTES && this.blocks.length < LARGE_CACHE_BLOCKS;
  }

  keep(block: number, size: number): void {
    this.blocks.push({ block, size });
    this.usedAt = performance.now();
    this.arm(LARGE_CACHE_IDLE_MS);
  }

  /** The newest block that fits `need` bytes without wasting more than a quarter of it, taken out; or undefined. */
  take(need: number): CachedBlock | undefined {
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const b = this.blocks[i]!;
      if (b.size < need || b.size > need + (need >> 2)) continue;
      this.blocks.splice(i, 1);
      this.usedAt = performance.now();
      return b;
    }
    return undefined;
  }

  /** Every block, taken out (for the heap to give back). */
  drain(): CachedBlock[] {
    return this.blocks.splice(0);
  }

  private arm(ms: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(this.trim, ms);
    this.timer.unref?.();
  }

  private readonly trim = (): void => {
    this.timer = undefined;
    if (this.blocks.length === 0) return;
    const idle = performance.now() - this.usedAt;
    if (idle < LARGE_CACHE_IDLE_MS) this.arm(LARGE_CACHE_IDLE_MS - idle);
    else if (!this.onIdle()) this.arm(LARGE_CACHE_IDLE_MS);
  };
}
