// cwasi guest runtime: AssemblyScript's managed-memory semantics for modules
// that share one memory with other modules and other threads.
//
// What a program sees is what the language's own incremental runtime gives
// it: objects reachable from globals (and from the stack) survive, whether
// the instance is between two invocations or inside one; garbage is
// collected; `heap.alloc`/`heap.free` manage raw blocks by hand.
//
// What differs is where the memory comes from. The built-in runtimes keep
// their state in module globals but take memory from `__heap_base` upward and
// with `memory.grow`, so two modules, or two instances on two threads, hand
// out the same bytes. Here every instance allocates only inside regions the
// host grants it (`cwasi.region_grow`, carved from the memory's heap under the
// host's lock), and its allocator and collector state lives in its own wasm
// globals and its own first region. Nothing here is shared or atomic.
//
//   block.ts        block layout (header, flags, object header)
//   region-heap.ts  the allocator: TLSF free lists over the instance's regions
//   collector.ts    mark and sweep: roots, output pins, thresholds
//
// The host's side: engine/worker/host.ts (regions, the output pin table, the
// instance's shadow stack) and asm-functions/ABI.md ("Memory").

import {
  FREE, GC_INFO, GC_LINK, HEADER, MANAGED, OBJECT_DATA, PINNED, RT_ID, RT_SIZE, blockSizeFor, sizeOf,
} from "./block";
import {
  LARGE, allocate, corrupt, freeBlock, growInPlace, payloadOf, regionOf, releaseIfLargeEmpty, shrinkInPlace, tooLarge, tryAllocate,
  tryAllocateLarge,
} from "./region-heap";
import {
  collect, collections, configure, due, held, liveBytes, setPinned, setRenewing,
} from "./collector";

/**
 * Largest request whose size arithmetic (headers, alignment) cannot overflow
 * 32 bits. Larger ones go to the host, which refuses them with E_MEMORY_LIMIT
 * naming the size, so that no allocation ends in a bare `unreachable`.
 */
// @ts-ignore: decorator
@inline const MAX_REQUEST: usize = 0xFFFF_FF00;


/** A used block for `size` block bytes, collecting first when that is due or when it avoids growing. */
function allocateManaged(size: usize): usize {
  if (due()) collect();
  let block = size >= LARGE ? tryAllocateLarge(size) : tryAllocate(size);
  if (block == 0) {
    collect();
    block = allocate(size);
  }
  return block;
}

/** Is `ptr` the payload of a used raw block of this instance? (heap.free/realloc of anything else is a bug.) */
function rawBlock(ptr: usize): usize {
  let block = ptr - HEADER;
  if (regionOf(ptr) == 0 || (load<u32>(block) & (FREE | MANAGED)) != 0) corrupt("cwasi heap: corrupt raw block (heap.free or heap.realloc of something heap.alloc did not return)");
  return block;
}

// @ts-ignore: decorator
@unsafe @global
export function __alloc(size: usize): usize {
  if (size > MAX_REQUEST) tooLarge();
  return allocate(blockSizeFor(size)) + HEADER;
}

// @ts-ignore: decorator
@unsafe @global
export function __realloc(ptr: usize, size: usize): usize {
  if (size > MAX_REQUEST) tooLarge();
  let block = rawBlock(ptr);
  let need = blockSizeFor(size);
  let have = sizeOf(block);
  if (need <= have) {
    shrinkInPlace(block, need);
    return ptr;
  }
  if (growInPlace(block, need)) return ptr;
  let moved = allocate(need) + HEADER;
  memory.copy(moved, ptr, have - HEADER);
  releaseIfLargeEmpty(freeBlock(block));
  return moved;
}

// @ts-ignore: decorator
@unsafe @global
export function __free(ptr: usize): void {
  if (ptr == 0) return;
  releaseIfLargeEmpty(freeBlock(rawBlock(ptr)));
}

// @ts-ignore: decorator
@unsafe @global
export function __new(size: usize, id: u32): usize {
  let ptr = __cwasi_new_bytes(size, id);
  // Blocks are reused: the standard library expects new objects zeroed.
  memory.fill(ptr, 0, size);
  return ptr;
}

/**
 * `__new` without zeroing the payload, for objects that hold no references
 * (the SDK's `Bytes.alloc` of an ArrayBuffer the caller fills): the
 * collector never reads such a payload, and zeroing 100 MiB costs milliseconds.
 */
// @ts-ignore: decorator
@unsafe @global
export function __cwasi_new_bytes(size: usize, id: u32): usize {
  if (size > MAX_REQUEST - OBJECT_DATA) tooLarge();
  let block = allocateManaged(blockSizeFor(size + OBJECT_DATA - HEADER));
  store<u32>(block, load<u32>(block) | MANAGED);
  store<u32>(block, 0, GC_INFO);
  store<u32>(block, 0, GC_LINK);
  store<u32>(block, id, RT_ID);
  store<u32>(block, <u32>size, RT_SIZE);
  return block + OBJECT_DATA;
}

// @ts-ignore: decorator
@unsafe @global
export function __renew(oldPtr: usize, size: usize): usize {
  if (size > MAX_REQUEST - OBJECT_DATA) tooLarge();
  let block = oldPtr - OBJECT_DATA;
  let oldSize = <usize>load<u32>(block, RT_SIZE);
  let need = blockSizeFor(size + OBJECT_DATA - HEADER);
  if (need <= sizeOf(block) || growInPlace(block, need)) {
    if (size > oldSize) memory.fill(oldPtr + oldSize, 0, size - oldSize);
    store<u32>(block, <u32>size, RT_SIZE);
    return oldPtr;
  }
  // Moved: the old object stays until it is garbage (the stack may still
  // hold it), and survives the collection the new allocation may run.
  setRenewing(oldPtr);
  let newPtr = __new(size, load<u32>(block, RT_ID));
  setRenewing(0);
  memory.copy(newPtr, oldPtr, min(size, oldSize));
  return newPtr;
}

// @ts-ignore: decorator
@global @unsafe
export function __link(parentPtr: usize, childPtr: usize, expectMultiple: bool): void {
  // A stop-the-world collector needs no write barrier.
}

// @ts-ignore: decorator
@global @unsafe
export function __pin(ptr: usize): usize {
  if (ptr != 0 && regionOf(ptr) != 0) {
    let block = ptr - OBJECT_DATA;
    let info = load<u32>(block, GC_INFO);
    if (!(info & PINNED)) {
      store<u32>(block, info | PINNED, GC_INFO);
      setPinned(1);
    }
  }
  return ptr;
}

// @ts-ignore: decorator
@global @unsafe
export function __unpin(ptr: usize): void {
  if (ptr != 0 && regionOf(ptr) != 0) {
    let block = ptr - OBJECT_DATA;
    let info = load<u32>(block, GC_INFO);
    if (info & PINNED) {
      store<u32>(block, info & ~PINNED, GC_INFO);
      setPinned(-1);
    }
  }
}

// @ts-ignore: decorator
@global @unsafe
export function __collect(): void {
  collect();
}

// @ts-ignore: decorator
@global @unsafe
export function __reset(): void {
  // Nothing: an instance's heap lives as long as the instance.
}

// ABI exports of the runtime (ABI.md). The runtime file's exports are module exports.

/**
 * Called by the host once, before `_start`: the output pin table (`slots`
 * entries at `pinTable`) and the top of the instance's shadow stack.
 */
export function cwasi_rt_init(pinTable: usize, slots: u32, stackTop: usize): void {
  configure(pinTable, slots, stackTop);
}

/** Run a full collection; returns the block bytes still in use. */
export function cwasi_rt_collect(): usize {
  collect();
  return liveBytes;
}

/** Region bytes the instance holds from the host. */
export function cwasi_rt_held(): usize {
  return held();
}

/** Block bytes in use after the last collection. */
export function cwasi_rt_live(): usize {
  return liveBytes;
}

/** Collections run so far. */
export function cwasi_rt_collections(): u32 {
  return collections;
}
