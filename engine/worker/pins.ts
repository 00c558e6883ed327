// Output pins: how bytes in a guest's own (garbage-collected) heap stay put
// while other code still reads them, and what happens to them when the
// instance that owns them goes away first.
//
// An instance's output (or a call payload it handed out) lies in its heap,
// which its collector (asm-functions/rt/collector.ts) may reuse once nothing
// in the guest refers to it. The host therefore writes a pin into the
// instance's OUTPUT PIN TABLE, the first part of the instance block (below its
// shadow stack), on the instance's own thread:
//
//  ┌────────┬────────┬────────────────────────────────────────────────────┐
//  │ offset │ field  │ meaning                                            │
//  ├────────┼────────┼────────────────────────────────────────────────────┤
//  │ 0      │ PTR    │ first byte of the pinned range (0: slot unused)    │
//  │ 4      │ LEN    │ bytes                                              │
//  │ 8      │ ANCHOR │ a host heap block of the arena that owns the range │
//  │ 12     │ TAG    │ that arena's id                                    │
//  └────────┴────────┴────────────────────────────────────────────────────┘
//
// The pin lives as long as the anchor block still carries the arena's id.
// Releasing the arena (heap.ts release, on whichever thread holds it: the
// consumer's worker, the main thread for a held output, a dead thread's
// recovery) frees or caches its blocks, which rewrites their TAG words, and
// that alone ends the pin. Nobody but the owner thread ever writes the pin
// table or the instance's allocator state.

import type { Heap } from '../memory/heap.js';

/** Byte offsets inside one pin slot (the table above). */
export const PIN = {
  PTR: 0,
  LEN: 4,
  ANCHOR: 8,
  TAG: 12,
} as const;

export const PIN_SLOT_BYTES = 16;
/** Slots per instance: one per output or payload still being read (more are copied out instead). */
export const PIN_SLOTS = 256;
export const PIN_TABLE_BYTES = PIN_SLOTS * PIN_SLOT_BYTES;

/** The host's own record of a pin it wrote (the guest can write over the table; this copy it cannot). */
export interface Pin {
  ptr: number;
  len: number;
  anchor: number;
  tag: number;
}

interface Orphan {
  heap: Heap;
  region: number;
  tag: number;
  pins: Pin[];
}

/**
 * Regions of disposed instances (a trapped function, a dropped group) that
 * still hold a pinned output. Each is freed once all its pins have died;
 * the worker calls `reap()` before every task.
 */
export class OrphanRegions {
  private static readonly held: Orphan[] = [];

  static keep(heap: Heap, region: number, tag: number, pins: Pin[]): void {
    OrphanRegions.held.push({ heap, region, tag, pins });
  }

  /** Free the orphans whose pins have all died; returns how many remain. */
  static reap(): number {
    const held = OrphanRegions.held;
    for (let i = held.length - 1; i >= 0; i--) {
      const o = held[i]!;
      try {
        if (o.pins.some((p) => o.heap.blockTagged(p.anchor, p.tag))) continue;
        o.heap.freeRegion(o.region, o.tag);
      } catch {
        // A corrupt or discarded memory: its regions go with it.
      }
      held.splice(i, 1);
    }
    return held.length;
  }

  /** Forget the orphans of a memory that is being discarded whole. */
  static forget(heap: Heap): void {
    const held = OrphanRegions.held;
    for (let i = held.length - 1; i >= 0; i--) if (held[i]!.heap === heap) held.splice(i, 1);
  }

  static get count(): number {
    return OrphanRegions.held.length;
  }
}
