// The collector of one guest instance: a stop-the-world mark and sweep over
// the instance's own regions, run from `__new` (and `__renew`) when the bytes
// allocated since the last collection reach the bytes that survived it, so
// memory in use stays within about twice the live data.
//
// Roots:
//  - the module's globals (`__visit_globals`, emitted by the compiler);
//  - the shadow stack from `__stack_pointer` up to the instance's stack top
//    (the compiler spills every live reference there before any call that
//    may allocate, and zeroes each frame);
//  - objects pinned with `__pin`;
//  - the OUTPUT PIN TABLE: byte ranges the host handed to other code (an
//    output, a call payload) that must stay untouched until it is done.
//
// OUTPUT PIN TABLE (host-owned block below the instance's stack; the host
// writes a slot on this instance's thread; nobody else writes it)
//
//   slot + 0   u32 PTR     first byte of the range (0: slot unused)
//   slot + 4   u32 LEN     bytes
//   slot + 8   u32 ANCHOR  a block of the host arena that owns the range
//   slot + 12  u32 TAG     that arena's id
//
// A pin lives while its anchor block still carries the arena's id (the
// block's TAG word, engine/memory/layout.ts BLOCK.TAG). The host releases an
// arena, from any thread, by freeing its blocks, which rewrites their tags:
// releasing an output never touches this instance's allocator state, and the
// collector, on this instance's thread, sees the pin die and clears the slot.
//
// Invariants: only MANAGED blocks are ever freed here; a MARK bit is set only
// during a collection and cleared by its sweep; the gray stack (GC_LINK) is
// empty outside a collection.

import {
  FLAGS, FREE, GC_INFO, GC_LINK, MANAGED, MARK, OBJECT_DATA, PINNED, sizeOf,
} from "./block";
import {
  allocatedSince, corrupt, firstBlock, freeBlock, heldBytes, nextRegion, regionOf, regionTail, regions, releaseEmptyRegions, resetAllocated, setTarget, stepBlock,
} from "./region-heap";

/** Bytes allocated before the first collection, and the least between two. */
// @ts-ignore: decorator
@inline const MIN_THRESHOLD: usize = 256 << 10;

// @ts-ignore: decorator
@inline const PIN_PTR: usize = 0;
// @ts-ignore: decorator
@inline const PIN_LEN: usize = 4;
// @ts-ignore: decorator
@inline const PIN_ANCHOR: usize = 8;
// @ts-ignore: decorator
@inline const PIN_TAG: usize = 12;
// @ts-ignore: decorator
@inline export const PIN_SLOT_BYTES: usize = 16;
/** Offset of a host heap block's TAG word (engine/memory/layout.ts BLOCK.TAG). */
// @ts-ignore: decorator
@inline const HOST_BLOCK_TAG: usize = 4;

/** Collect when allocatedSince reaches this. */
export let threshold: usize = MIN_THRESHOLD;
/** Block bytes that survived the last collection. */
export let liveBytes: usize = 0;
/** Collections run so far. */
export let collections: u32 = 0;
/** Objects pinned with __pin (when 0, no walk looks for them). */
export let pinnedObjects: i32 = 0;
/** Set by the host (cwasi_rt_init). */
export let pinTable: usize = 0;
export let pinSlots: u32 = 0;
export let stackTop: usize = 0;
/** An object being renewed: kept alive across the collection its __new may run. */
export let renewing: usize = 0;

let gray: usize = 0;

export function setRenewing(ptr: usize): void {
  renewing = ptr;
}

export function setPinned(delta: i32): void {
  pinnedObjects += delta;
}

export function configure(table: usize, slots: u32, top: usize): void {
  pinTable = table;
  pinSlots = slots;
  stackTop = top;
}

/** Is a collection due? (Checked by __new before it allocates.) */
// @ts-ignore: decorator
@inline export function due(): bool {
  return allocatedSince >= threshold;
}

/** Mark the object whose data starts at `ptr` (a reference the program holds). */
// @ts-ignore: decorator
@global @unsafe
export function __visit(ptr: usize, cookie: u32): void {
  if (ptr == 0 || regionOf(ptr) == 0) return; // static data, or not this instance's
  let block = ptr - OBJECT_DATA;
  if ((load<u32>(block) & (MANAGED | FREE)) != MANAGED) return;
  let info = load<u32>(block, GC_INFO);
  if (info & MARK) return;
  store<u32>(block, info | MARK, GC_INFO);
  store<u32>(block, <u32>gray, GC_LINK);
  gray = block;
}

function drain(): void {
  while (gray != 0) {
    let block = gray;
    gray = <usize>load<u32>(block, GC_LINK);
    store<u32>(block, 0, GC_LINK);
    __visit_members(block + OBJECT_DATA, 0);
  }
}

/** Mark every object overlapping [ptr, ptr + len) (a pinned output range). */
function markRange(ptr: usize, len: usize): void {
  let r = regionOf(ptr);
  if (r == 0) return; // static data, an input, a host block: not ours to keep
  let end = ptr + len;
  let block = firstBlock(r);
  let size = sizeOf(block);
  while (size != 0 && block < end) {
    let info = load<u32>(block);
    if (block + size > ptr && (info & (MANAGED | FREE)) == MANAGED) __visit(block + OBJECT_DATA, 0);
    block += size;
    size = sizeOf(block);
  }
}

function markPinTable(): void {
  let limit = <usize>memory.size() << 16;
  for (let i: u32 = 0; i < pinSlots; i++) {
    let slot = pinTable + <usize>i * PIN_SLOT_BYTES;
    let ptr = <usize>load<u32>(slot, PIN_PTR);
    if (ptr == 0) continue;
    let anchor = <usize>load<u32>(slot, PIN_ANCHOR);
    if (anchor + 8 > limit || load<u32>(anchor, HOST_BLOCK_TAG) != load<u32>(slot, PIN_TAG)) {
      store<u32>(slot, 0, PIN_PTR); // its arena was released: the pin is gone
      continue;
    }
    markRange(ptr, <usize>load<u32>(slot, PIN_LEN));
  }
}

function markPinnedObjects(): void {
  let r = regions;
  while (r != 0) {
    let tail = regionTail(r);
    let block = firstBlock(r);
    let size = sizeOf(block);
    while (size != 0) {
      if ((load<u32>(block) & (MANAGED | FREE)) == MANAGED && (load<u32>(block, GC_INFO) & PINNED)) {
        __visit(block + OBJECT_DATA, 0);
      }
      block = stepBlock(block, size, tail);
      size = sizeOf(block);
    }
    if (block != tail) corrupt("cwasi heap: corrupt block size"); // a size of 0 before the region's end
    r = nextRegion(r);
  }
}

function markRoots(): void {
  __visit_globals(0);
  // The shadow stack: every slot holds a reference or 0.
  let sp = __stack_pointer;
  while (sp < stackTop) {
    __visit(load<u32>(sp), 0);
    sp += 4;
  }
  if (renewing != 0) __visit(renewing, 0);
  if (pinnedObjects > 0) markPinnedObjects();
  if (pinSlots != 0) markPinTable();
}

/** Free every unmarked object; returns the bytes of the blocks left in use. */
function sweep(): usize {
  let live: usize = 0;
  let r = regions;
  while (r != 0) {
    let tail = regionTail(r);
    let block = firstBlock(r);
    let info = load<u32>(block);
    let size = <usize>(info & ~FLAGS);
    while (size != 0) {
      if (!(info & FREE)) {
        if (info & MANAGED) {
          let gc = load<u32>(block, GC_INFO);
          if (gc & (MARK | PINNED)) {
            store<u32>(block, gc & ~MARK, GC_INFO);
            live += size;
          } else {
            block = freeBlock(block);
            size = sizeOf(block);
          }
        } else {
          live += size; // raw blocks are the program's to free
        }
      }
      block = stepBlock(block, size, tail);
      info = load<u32>(block);
      size = <usize>(info & ~FLAGS);
    }
    if (block != tail) corrupt("cwasi heap: corrupt block size"); // a size of 0 before the region's end
    r = nextRegion(r);
  }
  return live;
}

/** A full collection. */
export function collect(): void {
  markRoots();
  drain();
  liveBytes = sweep();
  threshold = liveBytes > MIN_THRESHOLD ? liveBytes : MIN_THRESHOLD;
  // Keep room for the live data and two cycles' allocations; give back the rest.
  releaseEmptyRegions(liveBytes + 2 * threshold);
  setTarget(liveBytes + threshold + (threshold >> 1));
  resetAllocated();
  collections++;
}

/** Held region bytes, for the host's diagnostics. */
export function held(): usize {
  return heldBytes;
}
