// The allocator of one guest instance: a two-level segregated fit (TLSF)
// allocator over regions the host grants (cwasi.region_grow), never over
// `__heap_base` or a bare `memory.grow`.
//
// Threading contract: every global here belongs to one instance (wasm
// globals are per instance), and an instance runs on one thread at a time,
// so nothing here is atomic. Several instances, of one module or of several,
// share one memory; each allocates only inside its own regions, which the
// host carved for it from the memory's heap (engine/memory/heap.ts), so their
// blocks never overlap.
//
// REGION (a host block's payload; R is 16-byte aligned, S a multiple of 16)
//
//   R + 0   ┌──────────────────────────────────────────┐
//           │ u32 NEXT region of this instance (0: end)│
//   R + 4   │ u32 END  = R + S                         │
//   R + 8   │ u32 FIRST block of the region            │
//   R + 12  ├──────────────────────────────────────────┤
//           │ the allocator's root (first region only) │ ROOT_BYTES
//   FIRST   ├──────────────────────────────────────────┤ ≡ 12 mod 16
//           │ blocks (block.ts), tiling the region     │
//   R+S-4   ├──────────────────────────────────────────┤
//           │ u32 tail sentinel: size 0 (| LEFTFREE)   │
//   R + S   └──────────────────────────────────────────┘
//
// ROOT (free lists by size class; FL first-level classes × SL second-level)
//
//   +0               u32 FL bitmap: which first-level classes have blocks
//   +4               u32 SL bitmap per first-level class   (FL_COUNT words)
//   +4+4·FL_COUNT    u32 list head per (fl, sl)            (FL_COUNT·SL_COUNT words)
//
// Sizes below SMALL (256) have one class per 16 bytes (fl 0); above, each
// power of two is split into SL_COUNT classes. Allocation rounds a request up
// to the next class, so any block on a non-empty list of that class fits.

import {
  ALIGN_MASK, FLAGS, FREE, HEADER, LEFTFREE, MIN_BLOCK, NEXT, PREV, sizeOf,
} from "./block";

// @ts-ignore: decorator
@external("cwasi", "region_grow")
declare function region_grow(bytes: usize, mayFail: i32): usize;

/** Refuse a request too large for any region: the host traps with E_MEMORY_LIMIT naming it. */
export function tooLarge(): void {
  region_grow(<usize>-1, 0);
  unreachable();
}

// @ts-ignore: decorator
@external("cwasi", "region_free")
declare function region_free(region: usize): void;

// @ts-ignore: decorator
@inline const R_NEXT: usize = 0;
// @ts-ignore: decorator
@inline const R_END: usize = 4;
// @ts-ignore: decorator
@inline const R_FIRST: usize = 8;
// @ts-ignore: decorator
@inline const R_HEADER: usize = 12;

// @ts-ignore: decorator
@inline const SL_BITS: u32 = 4;
// @ts-ignore: decorator
@inline const SL_COUNT: u32 = 16;
// @ts-ignore: decorator
@inline const SMALL_BITS: u32 = 8;
// @ts-ignore: decorator
@inline const SMALL: usize = 256;
/** First-level classes for sizes below 2^32: fl 0 (small) and one per power of two from 2^8 to 2^31. */
// @ts-ignore: decorator
@inline const FL_COUNT: u32 = 25;
// @ts-ignore: decorator
@inline const FL_MAP: usize = 0;
// @ts-ignore: decorator
@inline const SL_MAPS: usize = 4;
// @ts-ignore: decorator
@inline const HEADS: usize = SL_MAPS + (<usize>FL_COUNT << 2);
/** Root size rounded to 16, so that FIRST stays ≡ 12 mod 16. */
// @ts-ignore: decorator
@inline const ROOT_BYTES: usize = (HEADS + (<usize>(FL_COUNT * SL_COUNT) << 2) + ALIGN_MASK) & ~ALIGN_MASK;

/** Flag in a region's END word (END is 16-aligned): the region was made for one large block. */
// @ts-ignore: decorator
@inline const LARGE_REGION: u32 = 1;
/**
 * Blocks this large get a region of their own, given back as soon as the
 * block is free: buffers that grow by doubling (a library's output buffer, a
 * large array) then never fragment the regions of small objects, and the
 * memory in use follows them down as well as up.
 */
// @ts-ignore: decorator
@inline export const LARGE: usize = 16 << 10;

/** Smallest region asked for; later regions grow with the heap. */
// @ts-ignore: decorator
@inline const MIN_REGION: usize = 128 << 10;
// @ts-ignore: decorator
@inline const MAX_GROWTH: usize = 8 << 20;
/** Region bytes beyond its blocks: header and tail sentinel. */
// @ts-ignore: decorator
@inline const REGION_OVERHEAD: usize = R_HEADER + 4;

/** The root (0 until the first region arrives). */
let root: usize = 0;
/** This instance's regions, newest first. */
export let regions: usize = 0;
/** Bounds of all regions: a quick test before the exact one. */
export let regionsLo: usize = <usize>-1;
export let regionsHi: usize = 0;
/** Bytes of all regions held from the host. */
export let heldBytes: usize = 0;
/** Of which in large-object regions. */
let largeBytes: usize = 0;
/** What the small-object regions should hold after growing: the live data and a cycle's allocations (set by the collector). */
let targetBytes: usize = 0;

export function setTarget(bytes: usize): void {
  targetBytes = bytes;
}
/** Block bytes handed out since the collector last ran (it resets this). */
export let allocatedSince: usize = 0;

export function resetAllocated(): void {
  allocatedSince = 0;
}

/**
 * A broken invariant: the guest wrote over its own heap metadata. `message`
 * is a literal ("cwasi heap: corrupt …", which the host reports as
 * E_MEMORY_CORRUPT): building it would allocate from the damaged heap.
 */
export function corrupt(message: string): void {
  abort(message);
}

// @ts-ignore: decorator
@inline function headAt(fl: u32, sl: u32): usize {
  return root + HEADS + (<usize>(fl * SL_COUNT + sl) << 2);
}

// @ts-ignore: decorator
@inline function slMapAt(fl: u32): usize {
  return root + SL_MAPS + (<usize>fl << 2);
}

/** Size class of an exact block size (insertion). */
// @ts-ignore: decorator
@inline function flOf(size: usize): u32 {
  if (size < SMALL) return 0;
  return (31 - clz<u32>(<u32>size)) - (SMALL_BITS - 1);
}

// @ts-ignore: decorator
@inline function slOf(size: usize, fl: u32): u32 {
  if (fl == 0) return <u32>(size >> 4);
  let bits = 31 - clz<u32>(<u32>size);
  return (<u32>(size >> (bits - SL_BITS))) ^ SL_COUNT;
}

function insertFree(block: usize): void {
  let size = sizeOf(block);
  let fl = flOf(size);
  let sl = slOf(size, fl);
  let head = load<u32>(headAt(fl, sl));
  store<u32>(block, 0, PREV);
  store<u32>(block, head, NEXT);
  if (head != 0) store<u32>(head, <u32>block, PREV);
  store<u32>(headAt(fl, sl), <u32>block);
  store<u32>(root, load<u32>(root, FL_MAP) | (1 << fl), FL_MAP);
  store<u32>(slMapAt(fl), load<u32>(slMapAt(fl)) | (1 << sl));
}

function removeFree(block: usize): void {
  let size = sizeOf(block);
  let fl = flOf(size);
  if (fl >= FL_COUNT) corrupt("cwasi heap: corrupt free block size");
  let sl = slOf(size, fl);
  let prev = <usize>load<u32>(block, PREV);
  let next = <usize>load<u32>(block, NEXT);
  if (prev != 0) store<u32>(prev, <u32>next, NEXT);
  if (next != 0) store<u32>(next, <u32>prev, PREV);
  let head = headAt(fl, sl);
  if (<usize>load<u32>(head) == block) {
    store<u32>(head, <u32>next);
    if (next == 0) {
      let map = load<u32>(slMapAt(fl)) & ~(1 << sl);
      store<u32>(slMapAt(fl), map);
      if (map == 0) store<u32>(root, load<u32>(root, FL_MAP) & ~(1 << fl), FL_MAP);
    }
  } else if (prev == 0) {
    corrupt("cwasi heap: corrupt free list"); // a block off its list's head must have a predecessor
  }
}

/** A free block of at least `size` bytes, still on its list (0 when none). */
function findFree(size: usize): usize {
  let fl: u32, sl: u32;
  if (size < SMALL) {
    fl = 0;
    sl = <u32>(size >> 4);
  } else {
    // Round up to the next class boundary: every block of that class fits.
    let bits = 31 - clz<u32>(<u32>size);
    let up = <u64>size + ((<u64>1 << (bits - SL_BITS)) - 1);
    if (up >= (<u64>1 << 32)) return 0;
    let ub = 31 - clz<u32>(<u32>up);
    fl = ub - (SMALL_BITS - 1);
    sl = (<u32>(<usize>up >> (ub - SL_BITS))) ^ SL_COUNT;
  }
  let slMap = load<u32>(slMapAt(fl)) & (<u32>-1 << sl);
  if (slMap == 0) {
    if (fl + 1 >= FL_COUNT) return 0;
    let flMap = load<u32>(root, FL_MAP) & (<u32>-1 << (fl + 1));
    if (flMap == 0) return 0;
    fl = ctz<u32>(flMap);
    slMap = load<u32>(slMapAt(fl));
    if (slMap == 0) corrupt("cwasi heap: corrupt size class bitmap");
  }
  return <usize>load<u32>(headAt(fl, ctz<u32>(slMap)));
}

/**
 * Return `block` (used) to the free lists, merged with free neighbours.
 * Returns the merged block's address (it may start at the left neighbour).
 */
export function freeBlock(block: usize): usize {
  let size = sizeOf(block);
  let info = load<u32>(block);
  let right = block + size;
  let rinfo = load<u32>(right);
  if (rinfo & FREE) {
    removeFree(right);
    size += <usize>(rinfo & ~FLAGS);
    right = block + size;
    rinfo = load<u32>(right);
  }
  if (info & LEFTFREE) {
    let left = <usize>load<u32>(block - 4);
    if (left >= block || (left & ALIGN_MASK) != 12 || !(load<u32>(left) & FREE) || left + sizeOf(left) != block) corrupt("cwasi heap: corrupt left neighbour");
    removeFree(left);
    size += sizeOf(left);
    block = left;
  }
  store<u32>(block, <u32>size | FREE);
  store<u32>(block + size - 4, <u32>block);
  store<u32>(right, rinfo | LEFTFREE);
  insertFree(block);
  return block;
}

/** Take `block` (free, off its list) as a used block of `size`, freeing any large remainder. */
function takeBlock(block: usize, size: usize): void {
  let have = sizeOf(block);
  if (have - size >= MIN_BLOCK) {
    store<u32>(block, <u32>size);
    let rest = block + size;
    let restSize = have - size;
    store<u32>(rest, <u32>restSize | FREE);
    store<u32>(rest + restSize - 4, <u32>rest);
    insertFree(rest); // its right neighbour already carries LEFTFREE
  } else {
    store<u32>(block, <u32>have);
    let right = block + have;
    store<u32>(right, load<u32>(right) & ~LEFTFREE);
  }
}

/** A used block of exactly `size` bytes from the free lists, or 0. */
export function tryAllocate(size: usize): usize {
  if (root == 0) return 0;
  let block = findFree(size);
  if (block == 0) return 0;
  if (sizeOf(block) < size || !(load<u32>(block) & FREE) || regionOf(block) == 0) corrupt("cwasi heap: corrupt free block");
  removeFree(block);
  takeBlock(block, size);
  allocatedSince += size;
  return block;
}

/**
 * A used block of `size` bytes, growing the heap by a new region when needed.
 * A large block (LARGE and up) always gets a region of its own.
 */
export function allocate(size: usize): usize {
  let large = size >= LARGE && root != 0;
  let block: usize = large ? 0 : tryAllocate(size);
  if (block != 0) return block;
  // The new region's one free block fits, even where its size class is
  // below the class findFree would round this request up to.
  block = addRegion(size, large, false);
  removeFree(block);
  takeBlock(block, size);
  allocatedSince += size;
  return block;
}

/**
 * Ask the host for a region able to hold a block of `size`; returns its one
 * free block. A large-object region is exactly that big; other regions grow
 * with the small-object heap.
 */
function addRegion(size: usize, large: bool, mayFail: bool): usize {
  if (root == 0) large = false; // the root's region is never given back
  let reserve: usize = root == 0 ? ROOT_BYTES : 0;
  // A small-object heap grows by a quarter, or at once to what the
  // collector's last cycle says it needs: a heap sized to its live data plus
  // one cycle's allocations collects on schedule instead of whenever it is
  // full, and stops growing after its first cycles.
  let small = heldBytes - largeBytes;
  let growth: usize = large ? 0 : (small >> 2) & ~ALIGN_MASK;
  if (!large && targetBytes > small + growth) growth = (targetBytes - small + ALIGN_MASK) & ~ALIGN_MASK;
  if (!large && growth < MIN_REGION) growth = MIN_REGION;
  if (growth > MAX_GROWTH) growth = MAX_GROWTH;
  let need = <u64>size + REGION_OVERHEAD + reserve;
  if (need > <u64>growth) growth = <usize>((need + ALIGN_MASK) & ~(<u64>ALIGN_MASK));
  if (need >= 0xFFFF_FF00) tooLarge();
  // The growth step may not fit under the memory's maximum where the request
  // itself still does: then only what the request needs (which traps with
  // E_MEMORY_LIMIT naming its size when even that does not fit).
  let r = region_grow(growth, 1);
  if (r == 0) {
    growth = <usize>((need + ALIGN_MASK) & ~(<u64>ALIGN_MASK));
    r = region_grow(growth, mayFail ? 1 : 0);
    if (r == 0 && mayFail) return 0;
  }
  if (r == 0 || (r & ALIGN_MASK) != 0) corrupt("cwasi heap: corrupt region address");
  let end = r + growth;
  let first = r + R_HEADER + reserve;
  store<u32>(r, <u32>regions, R_NEXT);
  store<u32>(r, <u32>end | (large ? LARGE_REGION : 0), R_END);
  store<u32>(r, <u32>first, R_FIRST);
  if (large) largeBytes += growth;
  if (root == 0) {
    root = r + R_HEADER;
    memory.fill(root, 0, ROOT_BYTES);
  }
  regions = r;
  if (r < regionsLo) regionsLo = r;
  if (end > regionsHi) regionsHi = end;
  heldBytes += growth;
  let size0 = end - 4 - first;
  store<u32>(first, <u32>size0 | FREE);
  store<u32>(first + size0 - 4, <u32>first);
  store<u32>(end - 4, LEFTFREE); // tail sentinel
  insertFree(first);
  return first;
}

/** A large block in a region of its own, or 0 when the memory has no room for one now. */
export function tryAllocateLarge(size: usize): usize {
  let block = addRegion(size, true, true);
  if (block == 0) return 0;
  removeFree(block);
  takeBlock(block, size);
  allocatedSince += size;
  return block;
}

/**
 * After `block` (merged, free) was freed outside a collection: when it fills
 * a large-object region, give the region back now.
 */
export function releaseIfLargeEmpty(block: usize): void {
  let r = regionOf(block);
  if (r == 0 || !isLarge(r)) return;
  let end = regionEnd(r);
  if (<usize>load<u32>(r, R_FIRST) != block || block + sizeOf(block) != end - 4) return;
  releaseEmptyRegions(<usize>-1); // releases only empty large regions (keep: everything else)
}

/** The region holding `ptr`, or 0. */
export function regionOf(ptr: usize): usize {
  if (ptr < regionsLo || ptr >= regionsHi) return 0;
  let r = regions;
  while (r != 0) {
    if (ptr >= r && ptr < regionEnd(r)) return r;
    r = <usize>load<u32>(r, R_NEXT);
  }
  return 0;
}

// @ts-ignore: decorator
@inline export function firstBlock(region: usize): usize {
  return <usize>load<u32>(region, R_FIRST);
}

/** Where a region's blocks end: its tail sentinel (a walk that passes it read a corrupt size). */
// @ts-ignore: decorator
@inline export function regionTail(region: usize): usize {
  return regionEnd(region) - 4;
}

/** The next block of a walk over a region, checked: sizes are 16-byte multiples and stay inside. */
// @ts-ignore: decorator
@inline export function stepBlock(block: usize, size: usize, tail: usize): usize {
  let next = block + size;
  if ((size & ALIGN_MASK) != 0 || next > tail || next <= block) corrupt("cwasi heap: corrupt block size");
  return next;
}

// @ts-ignore: decorator
@inline export function regionEnd(region: usize): usize {
  return <usize>(load<u32>(region, R_END) & ~(<u32>ALIGN_MASK));
}

// @ts-ignore: decorator
@inline function isLarge(region: usize): bool {
  return (load<u32>(region, R_END) & LARGE_REGION) != 0;
}

// @ts-ignore: decorator
@inline export function nextRegion(region: usize): usize {
  return <usize>load<u32>(region, R_NEXT);
}

/**
 * Give regions that hold nothing back to the host (never the root's), as
 * long as at least `keep` bytes stay held: a heap that shrank below what its
 * next cycle needs would only grow again (the memory in use would swing with
 * every collection instead of tracking the live data).
 */
export function releaseEmptyRegions(keep: usize): void {
  let prev: usize = 0;
  let r = regions;
  while (r != 0) {
    let next = <usize>load<u32>(r, R_NEXT);
    let first = <usize>load<u32>(r, R_FIRST);
    let end = regionEnd(r);
    let isRoot = root >= r && root < end;
    let large = isLarge(r);
    if (!isRoot && (large || heldBytes - (end - r) >= keep) && (load<u32>(first) & FREE) && first + sizeOf(first) == end - 4) {
      removeFree(first);
      if (prev == 0) regions = next;
      else store<u32>(prev, <u32>next, R_NEXT);
      heldBytes -= end - r;
      if (large) largeBytes -= end - r;
      region_free(r);
    } else {
      prev = r;
    }
    r = next;
  }
  // Recompute the bounds over what is left.
  regionsLo = <usize>-1;
  regionsHi = 0;
  r = regions;
  while (r != 0) {
    let end = regionEnd(r);
    if (r < regionsLo) regionsLo = r;
    if (end > regionsHi) regionsHi = end;
    r = <usize>load<u32>(r, R_NEXT);
  }
}

/**
 * Grow a used block in place to `size` bytes by taking its free right
 * neighbour (the address stays, so no reference to it goes stale).
 */
export function growInPlace(block: usize, size: usize): bool {
  let have = sizeOf(block);
  let right = block + have;
  let rinfo = load<u32>(right);
  if (!(rinfo & FREE)) return false;
  let total = have + <usize>(rinfo & ~FLAGS);
  if (total < size) return false;
  removeFree(right);
  let flags = load<u32>(block) & FLAGS;
  // Merge, then split what is not needed off again.
  store<u32>(block, <u32>total | flags);
  store<u32>(block + total, load<u32>(block + total) & ~LEFTFREE);
  if (total - size >= MIN_BLOCK) {
    store<u32>(block, <u32>size | flags);
    let rest = block + size;
    let restSize = total - size;
    store<u32>(rest, <u32>restSize | FREE);
    store<u32>(rest + restSize - 4, <u32>rest);
    store<u32>(rest + restSize, load<u32>(rest + restSize) | LEFTFREE);
    insertFree(rest);
  }
  allocatedSince += sizeOf(block) - have;
  return true;
}

/** Shrink a used block to `size`, freeing the rest when it is worth a block. */
export function shrinkInPlace(block: usize, size: usize): void {
  let have = sizeOf(block);
  if (have - size < MIN_BLOCK) return;
  let flags = load<u32>(block) & FLAGS;
  store<u32>(block, <u32>size | flags);
  let rest = block + size;
  store<u32>(rest, <u32>(have - size)); // used for a moment, then freed (merges right)
  freeBlock(rest);
}

/** Payload bytes a used block can hold. */
// @ts-ignore: decorator
@inline export function payloadOf(block: usize): usize {
  return sizeOf(block) - HEADER;
}
