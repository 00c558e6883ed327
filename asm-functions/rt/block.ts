// Blocks of the cwasi guest heap: the one definition of their layout, used by
// the allocator (region-heap.ts) and the collector (collector.ts).
//
// A block starts 4 bytes before a 16-byte boundary, so that its payload is
// 16-byte aligned, and its total size (header included) is a multiple of 16.
//
//   block         ┌──────────────────────────────────────────────────────┐
//   (≡ 12 mod 16) │ u32 INFO: total size | FREE | LEFTFREE | MANAGED      │
//   block + 4     ╞══════════════════════════════════════════════════════╡ payload (16-aligned)
//
//   free block:   +4  u32 prev free block in its size class (0 = none)
//                 +8  u32 next free block in its size class (0 = none)
//                 ... unused
//                 +size-4  u32 the block's own address (read by the right
//                          neighbour to find it when coalescing)
//
//   raw block (__alloc, heap.alloc): the payload belongs to the caller; the
//                 collector never frees it (only __free / __realloc do).
//
//   object (MANAGED, __new), AssemblyScript's OBJECT header:
//                 +4  u32 GC_INFO: MARK | PINNED
//                 +8  u32 GC_LINK: next object on the collector's gray stack
//                 +12 u32 RT_ID    class id (the compiler's)
//                 +16 u32 RT_SIZE  payload bytes of the object
//                 +20 ... object data (the pointer the program holds), 16-aligned
//
// Invariants kept by region-heap.ts:
//  - blocks tile each region from its first block to its tail sentinel (an
//    INFO word of size 0), so a region can be walked block by block;
//  - a free block never has a free right neighbour (they are coalesced), and
//    its right neighbour carries LEFTFREE;
//  - only MANAGED blocks are ever freed by the collector.

/** Alignment of every payload. */
// @ts-ignore: decorator
@inline export const ALIGN: usize = 16;
// @ts-ignore: decorator
@inline export const ALIGN_MASK: usize = ALIGN - 1;

/** Byte offset of the INFO word; the payload follows it. */
// @ts-ignore: decorator
@inline export const INFO: usize = 0;
// @ts-ignore: decorator
@inline export const HEADER: usize = 4;
/** INFO flags (the size is a multiple of 16, so the low 4 bits are free). */
// @ts-ignore: decorator
@inline export const FREE: u32 = 1;
// @ts-ignore: decorator
@inline export const LEFTFREE: u32 = 2;
// @ts-ignore: decorator
@inline export const MANAGED: u32 = 4;
// @ts-ignore: decorator
@inline export const FLAGS: u32 = 15;
/** Smallest block: header, two free-list links and the back pointer. */
// @ts-ignore: decorator
@inline export const MIN_BLOCK: usize = 16;

/** Free block links. */
// @ts-ignore: decorator
@inline export const PREV: usize = 4;
// @ts-ignore: decorator
@inline export const NEXT: usize = 8;

/** Object header fields, as byte offsets from the block. */
// @ts-ignore: decorator
@inline export const GC_INFO: usize = 4;
// @ts-ignore: decorator
@inline export const GC_LINK: usize = 8;
// @ts-ignore: decorator
@inline export const RT_ID: usize = 12;
// @ts-ignore: decorator
@inline export const RT_SIZE: usize = 16;
/** Block address to object data (AssemblyScript's TOTAL_OVERHEAD). */
// @ts-ignore: decorator
@inline export const OBJECT_DATA: usize = 20;
/** GC_INFO flags. */
// @ts-ignore: decorator
@inline export const MARK: u32 = 1;
// @ts-ignore: decorator
@inline export const PINNED: u32 = 2;

/** Total block size for a payload of `bytes` (header included, multiple of 16). */
// @ts-ignore: decorator
@inline export function blockSizeFor(bytes: usize): usize {
  let size = (bytes + HEADER + ALIGN_MASK) & ~ALIGN_MASK;
  return size < MIN_BLOCK ? MIN_BLOCK : size;
}

// @ts-ignore: decorator
@inline export function infoOf(block: usize): u32 {
  return load<u32>(block, INFO);
}

// @ts-ignore: decorator
@inline export function sizeOf(block: usize): usize {
  return <usize>(load<u32>(block, INFO) & ~FLAGS);
}
