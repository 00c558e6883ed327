// Layout of every cwasi function memory: a shared WebAssembly.Memory that one
// function (or one embedding group) lives in. This file is the one definition
// of the layout; the main thread, the workers and the guest runtime
// (asm-functions/rt/cwasi-rt.ts, which mirrors BLOCK_HEADER_BYTES and
// BLOCK_SIZE) all follow it.
//
//  offset 0                                                       STATIC_BASE
//  ┌───────────────────────────────┬───────────────────────────────┐
//  │ MEMORY HEADER (table below)   │ reserved, never handed out    │
//  ├───────────────────────────────┴───────────────────────────────┤ STATIC_BASE
//  │ static region of member 1  [memoryBase₁, staticEnd₁)          │
//  │ static region of member 2  [memoryBase₂, staticEnd₂)  ...     │ read-only data segments,
//  ├───────────────────────────────────────────────────────────────┤ re-applied on every instantiation
//  │ HEAP: blocks handed out by engine/memory/heap.ts              │ heapStart (64 KiB aligned)
//  │   ┌────────┬──────────────────┐┌────────┬─────────┐           │
//  │   │ header │ payload          ││ header │ payload │  ...      │
//  │   └────────┴──────────────────┘└────────┴─────────┘           │ heapTop
//  ├───────────────────────────────────────────────────────────────┤
//  │ not yet carved (memory.grow extends this up to the maximum)   │
//  └───────────────────────────────────────────────────────────────┘ memory.buffer.byteLength
//
// MEMORY HEADER (all fields u32/i32, little endian; byte offsets)
//
//  ┌────────┬────────────────┬────────────────────────────────────────────────┐
//  │ offset │ field          │ meaning                                        │
//  ├────────┼────────────────┼────────────────────────────────────────────────┤
//  │  0     │ MAGIC          │ 0x49535743 ('CWSI'), written once at creation   │
//  │  4     │ VERSION        │ LAYOUT_VERSION                                  │
//  │  8     │ reserved       │ zero (lock, block counts outside: heap-lock.ts) │
//  │ 12     │ GENERATION     │ bumped when the memory is discarded (one fate)  │
//  │ 16     │ HEAP_START     │ first heap byte                                 │
//  │ 20     │ HEAP_TOP       │ end of the carved heap                          │
//  │ 24     │ FREE_HEAD      │ first free block, address ordered (0 = none)    │
//  │ 28     │ BYTES_IN_USE   │ bytes in allocated blocks, headers included     │
//  │ 32     │ LIVE_ARENAS    │ arenas created and not yet released             │
//  │ 36     │ ARENA_SEQ      │ last arena id handed out                        │
//  │ 40     │ PEAK_IN_USE    │ high-water mark of BYTES_IN_USE                 │
//  │ 44     │ MAX_BYTES_LO   │ memory maximum in bytes, low 32 bits            │
//  │ 48     │ MAX_BYTES_HI   │ ... high bits (a 4 GiB maximum sets 1 here)     │
//  │ 52     │ reserved       │ zero                                            │
//  │ 56..   │ reserved       │ zero (cached and instance bytes are counted by  │
//  │        │                │ walking the blocks: heap.ts heldTotals)         │
//  └────────┴────────────────┴────────────────────────────────────────────────┘
//
// HEAP BLOCK (16-byte header, payload 16-byte aligned)
//
//  ┌────────┬────────────┬──────────────────────────────────────────────────────┐
//  │ offset │ field      │ meaning                                              │
//  ├────────┼────────────┼──────────────────────────────────────────────────────┤
//  │  0     │ SIZE       │ block bytes including this header, multiple of 16    │
//  │  4     │ TAG        │ FREE_TAG when free, CACHED_TAG when parked in a      │
//  │        │            │ thread's chunk cache, else the owning arena's id     │
//  │  8     │ NEXT       │ free: next free block; in use: next block of arena   │
//  │ 12     │ OWNER      │ cached: 1 + thread id of the caching thread;         │
//  │        │            │ instance block: INSTANCE_OWNER | (1 + thread id)     │
//  └────────┴────────────┴──────────────────────────────────────────────────────┘

export const LAYOUT_MAGIC = 0x49535743;
/** 2: the heap lock moved out of the memory into a host-owned buffer. */
export const LAYOUT_VERSION = 2;

/** Byte offsets of the memory header fields. */
export const HDR = {
  MAGIC: 0,
  VERSION: 4,
  GENERATION: 12,
  HEAP_START: 16,
  HEAP_TOP: 20,
  FREE_HEAD: 24,
  BYTES_IN_USE: 28,
  LIVE_ARENAS: 32,
  ARENA_SEQ: 36,
  PEAK_IN_USE: 40,
  MAX_BYTES_LO: 44,
  MAX_BYTES_HI: 48,
} as const;

/** Bytes reserved for the header; nothing else is ever placed below this. */
export const HEADER_BYTES = 1024;
/** Lowest memoryBase a module may use (the bundled functions' regions start here). */
export const STATIC_BASE = HEADER_BYTES;
/**
 * Static regions, so that any module can be embedded beside any other:
 *
 *   [STATIC_BASE, USER_STATIC_BASE)       bundled functions (build.mjs fails if they outgrow it)
 *   [USER_STATIC_BASE, STATIC_LIMIT)      modules built by `cwasi build`, packed in build order
 *   [STATIC_LIMIT, ...)                   heap (a memory's heap never starts lower)
 */
export const USER_STATIC_BASE = 256 * 1024;
/** End of the range static regions are placed in; every heap starts at or above it. */
export const STATIC_LIMIT = 1024 * 1024;

/** Byte offsets inside a heap block header. */
export const BLOCK = {
  SIZE: 0,
  TAG: 4,
  NEXT: 8,
  OWNER: 12,
} as const;

export const BLOCK_HEADER_BYTES = 16;
export const BLOCK_ALIGN = 16;
/** A free remainder smaller than this stays inside the allocated block. */
export const MIN_SPLIT_BYTES = 64;
/** Tag of a free block (never a valid arena id). */
export const FREE_TAG = 0xf4eef4ee;
/** Tag of a block parked in a thread's chunk cache (never a valid arena id). */
export const CACHED_TAG = 0xcac4edcc;
/** OWNER flag of a block held for an instance's lifetime by the thread in the low bits. */
export const INSTANCE_OWNER = 0x80000000;
/** Total size of a standard arena chunk block (header included). */
export const CHUNK_BLOCK_BYTES = 64 * 1024;
/** Payload of a standard chunk: what the guest's bump allocator gets per refill. */
export const DEFAULT_CHUNK_BYTES = CHUNK_BLOCK_BYTES - 16;
/** Host allocations up to this size bump-allocate inside a chunk instead of taking a block. */
export const HOST_BUMP_MAX_BYTES = 4096;
/** Standard chunks a thread keeps per memory for reuse without taking the heap lock. */
export const CHUNK_CACHE_BLOCKS = 8;
/** Larger blocks (up to LARGE_CACHE_MAX_BYTES each) a thread keeps per memory while it is busy (large-cache.ts); returned after LARGE_CACHE_IDLE_MS unused. */
export const LARGE_CACHE_BLOCKS = 3;
export const LARGE_CACHE_MAX_BYTES = 8 * 2 ** 20;
export const LARGE_CACHE_IDLE_MS = 100;

export const WASM_PAGE = 65536;
/** wasm32 can address at most 65536 pages. */
export const MAX_PAGES = 65536;

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}
