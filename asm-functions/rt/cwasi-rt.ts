// cwasi guest runtime: a per-invocation arena allocator for memories shared by
// several modules and several threads.
//
// The built-in AssemblyScript runtimes keep their allocator state in module
// globals, so two modules (or two threads) allocating in one shared memory hand
// out overlapping blocks. This runtime keeps nothing shared in its globals:
//
//  - The host owns the heap. Its state (free list, top, lock) lives in the
//    memory header (engine/memory/layout.ts) and is changed only under an
//    Atomics lock, so every thread and every module sees the same heap.
//  - Each instance is used by exactly one thread at a time. Its two globals,
//    `cur` and `end`, bound the chunk the current invocation bump-allocates
//    from. When a chunk runs out the runtime asks the host for another one
//    (`cwasi.arena_grow`), which the host links into the invocation's arena.
//  - When the invocation's output has been consumed the host frees the whole
//    arena at once. `__free` is therefore a no-op except for the last block.
//
// Chunk layout, as handed out by the host (see HEAP BLOCK in layout.ts):
//
//   chunk - 16  ┌──────────────────────────────┐
//               │ u32 block size (bytes, incl. │  written by the host
//               │     this 16-byte header)     │
//               │ u32 arena id                 │
//               │ u32 next block in arena      │
//               │ u32 reserved                 │
//   chunk       ╞══════════════════════════════╡ <- value returned by arena_grow
//               │ bump region                  │
//   chunk - 16 + size  ─────────────────────────┘ <- `end`
//
// Objects keep AssemblyScript's own header (BLOCK mmInfo + OBJECT), so
// strings, arrays and typed arrays work unchanged. asc treats any custom
// runtime like its incremental one, whose `__new` hands out zeroed memory and
// whose `__renew` zeroes what it adds; the standard library relies on that,
// and chunks are reused between invocations, so this runtime zeroes too.
// asc also emits a shadow stack for such runtimes; the build exports its
// pointer (export-stack-pointer.mjs) and the host gives every instance a
// stack region of its own.

import {
  AL_MASK, BLOCK, BLOCK_OVERHEAD, OBJECT, OBJECT_OVERHEAD,
} from "~lib/rt/common";

/** Bytes of the host's block header in front of every chunk (layout.ts BLOCK_HEADER_BYTES). */
// @ts-ignore: decorator
@inline const CHUNK_HEADER: usize = 16;
/** Offset of the u32 block size inside that header (layout.ts BLOCK_SIZE). */
// @ts-ignore: decorator
@inline const CHUNK_SIZE_FIELD: usize = 0;

// @ts-ignore: decorator
@external("cwasi", "arena_grow")
declare function arena_grow(minBytes: usize): usize;

/** Next free byte of the current chunk (0 when no chunk is attached). */
let cur: usize = 0;
/** End of the current chunk. */
let end: usize = 0;

// @ts-ignore: decorator
@inline function alignedStart(offset: usize): usize {
  // The payload (offset + BLOCK_OVERHEAD) must be 16-byte aligned.
  return ((offset + BLOCK_OVERHEAD + AL_MASK) & ~AL_MASK) - BLOCK_OVERHEAD;
}

// @ts-ignore: decorator
@inline function computeSize(size: usize): usize {
  return ((size + BLOCK_OVERHEAD + AL_MASK) & ~AL_MASK) - BLOCK_OVERHEAD;
}

function refill(need: usize): void {
  // Ask for room for the block, its header and worst-case alignment.
  let chunk = arena_grow(need + BLOCK_OVERHEAD + AL_SIZE_PADDING);
  if (chunk == 0) unreachable(); // host refused: memory limit reached
  let header = chunk - CHUNK_HEADER;
  cur = chunk;
  end = header + <usize>load<u32>(header + CHUNK_SIZE_FIELD);
}

// @ts-ignore: decorator
@inline const AL_SIZE_PADDING: usize = 32;
/**
 * Largest request whose size arithmetic (alignment, headers, padding) cannot
 * overflow 32 bits. Anything larger cannot fit in a wasm32 memory anyway; it
 * is still sent to the host, which refuses it with E_MEMORY_LIMIT naming the
 * size, so that no allocation ends in a bare `unreachable`.
 */
// @ts-ignore: decorator
@inline const MAX_REQUEST: usize = 0xFFFF_FF00;

/** Have the host refuse a request no memory can hold (arena_grow traps with E_MEMORY_LIMIT). */
function tooLarge(size: usize): void {
  arena_grow(size);
  unreachable(); // not reached: a wasm32 memory has no room for MAX_REQUEST bytes beside its header
}

// @ts-ignore: decorator
@unsafe @global
export function __alloc(size: usize): usize {
  // No AssemblyScript BLOCK_MAXSIZE (1 GiB) here: a block's size is a plain
  // u32 in this runtime, so Bytes.alloc may take up to what the memory holds.
  if (size > MAX_REQUEST) tooLarge(size);
  let payloadSize = computeSize(size);
  let start = alignedStart(cur);
  if (cur == 0 || start + BLOCK_OVERHEAD + payloadSize > end) {
    refill(payloadSize);
    start = alignedStart(cur);
  }
  let ptr = start + BLOCK_OVERHEAD;
  changetype<BLOCK>(start).mmInfo = payloadSize;
  cur = ptr + payloadSize;
  return ptr;
}

// @ts-ignore: decorator
@unsafe @global
export function __realloc(ptr: usize, size: usize): usize {
  if (size > MAX_REQUEST) tooLarge(size);
  let block = changetype<BLOCK>(ptr - BLOCK_OVERHEAD);
  let actualSize = block.mmInfo;
  let payloadSize = computeSize(size);
  let isLast = ptr + actualSize == cur;
  if (payloadSize <= actualSize) {
    if (isLast) {
      cur = ptr + payloadSize;
      block.mmInfo = payloadSize;
    }
    return ptr;
  }
  if (isLast && ptr + payloadSize <= end) {
    block.mmInfo = payloadSize;
    cur = ptr + payloadSize;
    return ptr;
  }
  // Doubling, unless doubling alone would exceed what can be asked for.
  let doubled = actualSize <= (MAX_REQUEST >> 1) ? actualSize << 1 : payloadSize;
  let newPtr = __alloc(max<usize>(payloadSize, doubled));
  memory.copy(newPtr, ptr, actualSize);
  return newPtr;
}

// @ts-ignore: decorator
@unsafe @global
export function __free(ptr: usize): void {
  let block = changetype<BLOCK>(ptr - BLOCK_OVERHEAD);
  if (ptr + block.mmInfo == cur) cur = changetype<usize>(block);
}

// @ts-ignore: decorator
@unsafe @global
export function __reset(): void {
  cur = 0;
  end = 0;
}

// @ts-ignore: decorator
@unsafe @global
export function __new(size: usize, id: u32): usize {
  if (size > MAX_REQUEST - OBJECT_OVERHEAD) tooLarge(size);
  let ptr = __alloc(OBJECT_OVERHEAD + size);
  let object = changetype<OBJECT>(ptr - BLOCK_OVERHEAD);
  object.gcInfo = 0;
  object.gcInfo2 = 0;
  object.rtId = id;
  object.rtSize = <u32>size;
  // Reused chunks are dirty; the standard library expects zeroed objects.
  memory.fill(ptr + OBJECT_OVERHEAD, 0, size);
  return ptr + OBJECT_OVERHEAD;
}

// @ts-ignore: decorator
@unsafe @global
export function __renew(oldPtr: usize, size: usize): usize {
  if (size > MAX_REQUEST - OBJECT_OVERHEAD) tooLarge(size);
  let oldSize = <usize>changetype<OBJECT>(oldPtr - OBJECT_OVERHEAD - BLOCK_OVERHEAD).rtSize;
  let newPtr = __realloc(oldPtr - OBJECT_OVERHEAD, OBJECT_OVERHEAD + size);
  changetype<OBJECT>(newPtr - BLOCK_OVERHEAD).rtSize = <u32>size;
  // Zero what the object gained, as the incremental runtime does.
  if (size > oldSize) memory.fill(newPtr + OBJECT_OVERHEAD + oldSize, 0, size - oldSize);
  return newPtr + OBJECT_OVERHEAD;
}

// @ts-ignore: decorator
@global @unsafe
export function __link(parentPtr: usize, childPtr: usize, expectMultiple: bool): void {
  // no garbage collector: arenas are freed whole
}

// @ts-ignore: decorator
@global @unsafe
export function __pin(ptr: usize): usize {
  return ptr;
}

// @ts-ignore: decorator
@global @unsafe
export function __unpin(ptr: usize): void {
  // nothing is ever collected
}

// @ts-ignore: decorator
@global @unsafe
function __visit(ptr: usize, cookie: u32): void {
  // no garbage collector
}

// @ts-ignore: decorator
@global @unsafe
export function __collect(): void {
  // no garbage collector
}

// ABI exports of the runtime (ABI.md). The runtime file's exports are module exports.

/** Raw, 16-byte aligned allocation in the current invocation's arena. */
export function cwasi_alloc(size: usize): usize {
  return __alloc(size);
}

/** Current bump pointer (host saves it around nested invocations). */
export function cwasi_rt_cur(): usize {
  return cur;
}

/** Current chunk end. */
export function cwasi_rt_end(): usize {
  return end;
}

/** Attach the instance to a chunk (0, 0 detaches: the next allocation asks the host). */
export function cwasi_rt_set(newCur: usize, newEnd: usize): void {
  cur = newCur;
  end = newEnd;
}
