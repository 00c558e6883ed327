// Invocation inputs on their way into the entry function's memory: an
// InputFill written straight into it, a large input copied there by this
// thread, and the arenas both take, released when the invocation ends.

import type { MemoryGroup } from '../coordinator.js';
import { CwasiError } from '../errors.js';
import { HeapLockBusy, whenUnlocked, type Arena } from '../memory/heap.js';
import type { InputSpec } from '../specs.js';
import type { Invocation } from './invocation.js';
import type { InputArena, InputFill, Plan, Segment } from './types.js';

/** What placing an input needs to know: where this node is, from what size to copy in, and how to discard a corrupt memory. */
export interface InputPlacement {
  readonly hostName: string;
  readonly directInputBytes: number;
  discardGroup(groupId: string, generation: number, reason: string): void;
}
import { copyInto } from '../memory/copy.js';

/** How long a file input waits, on later event-loop turns, for a busy heap lock before going through a buffer. */
const FILL_LOCK_PATIENCE_MS = 250;
/** Inputs up to this size are copied into memory in one go (well under a millisecond here). */
const ONE_TURN_COPY_BYTES = 4 * 2 ** 20;
/** A longer copy runs this long at most before it lets the event loop turn (other calls, timers, aborts). */
const COPY_TURN_MS = 1;
/** Bytes copied between two looks at the clock. */
const COPY_STEP_BYTES = 256 * 1024;

/**
 * Let an InputFill write the invocation input: into the entry function's
 * memory (an arena released when the invocation ends) when there is exactly
 * one entry segment on this host, else into a new buffer.
 */
export async function placeFill(ctx: InputPlacement, plan: Plan, fill: InputFill, inv: Invocation, arenas: InputArena[]): Promise<Uint8Array | InputSpec> {
  const len = fill.byteLength;
  const entries = plan.segments.filter((s) => s.inEdges.length === 0);
  const g = entries.length === 1 ? entries[0]!.group : undefined;
  const intoBuffer = async (): Promise<Uint8Array> => {
    const bytes = new Uint8Array(len);
    await fill.fill(bytes, false);
    if (inv.aborted) throw inv.reason!;
    return bytes;
  };
  if (g === undefined || g.host !== ctx.hostName) return intoBuffer();
  const generation = g.generation;
  let arena: Arena | undefined;
  let ptr: number | undefined;
  // The heap lock may be busy (a worker inside the heap, perhaps descheduled
  // on a loaded machine). The main thread never waits for it: it tries again
  // on later turns of the event loop for a while, then gives up and sends
  // the bytes through a buffer for the worker to place.
  for (let delay = 1, waited = 0; ptr === undefined; delay = Math.min(2 * delay, 16)) {
    try {
      if (arena === undefined) {
        arena = g.heap.newArena();
        arenas.push({ group: g, generation, arena });
      }
      ptr = g.heap.allocIn(arena, len);
    } catch (err) {
      if (!(err instanceof HeapLockBusy)) throw discardIfCorrupt(ctx, g, generation, err);
      if (waited >= FILL_LOCK_PATIENCE_MS || inv.aborted) return intoBuffer();
      await new Promise((resolve) => setTimeout(resolve, delay));
      waited += delay;
    }
  }
  // A view taken now stays valid if the memory grows meanwhile (a grown shared buffer is not detached).
  await fill.fill(g.heap.bytes().subarray(ptr, ptr + len), true);
  if (inv.aborted) throw inv.reason!;
  return { kind: 'shared', groupId: g.id, generation, ptr, len };
}

/**
 * The invocation input for an entry segment: cloned when small, copied by
 * this thread into the memory when large. A copy longer than ONE_TURN_COPY_BYTES
 * is done in slices of about COPY_TURN_MS with the event loop turning between
 * them, so that a service's other calls, timers and aborts do not wait for it
 * (the caller must not change the input until the call settles; an abort
 * between slices ends the copy).
 */
export function entryInput(ctx: InputPlacement, seg: Segment, input: Uint8Array | InputSpec, arenas: InputArena[], inv: Invocation): InputSpec | Promise<InputSpec> {
  // Already placed in this segment's memory by an InputFill.
  if (!(input instanceof Uint8Array)) return input;
  const g = seg.group;
  if (input.byteLength < ctx.directInputBytes || g.host !== ctx.hostName) {
    return { kind: 'bytes', bytes: input };
  }
  const arena = g.heap.newArena();
  let ptr: number;
  try {
    ptr = g.heap.allocIn(arena, input.byteLength);
  } catch (err) {
    g.heap.release(arena); // empty: takes no lock
    // The lock is busy (a worker inside the heap): let the worker place the bytes instead of waiting here.
    if (err instanceof HeapLockBusy) return { kind: 'bytes', bytes: input };
    throw discardIfCorrupt(ctx, g, g.generation, err);
  }
  arenas.push({ group: g, generation: g.generation, arena });
  const spec: InputSpec = { kind: 'shared', groupId: g.id, generation: g.generation, ptr, len: input.byteLength };
  // A view taken now stays valid if the memory grows meanwhile (a grown shared buffer is not detached).
  const dst = g.heap.bytes().subarray(ptr, ptr + input.byteLength);
  if (input.byteLength <= ONE_TURN_COPY_BYTES) {
    copyInto(dst, 0, input);
    return spec;
  }
  return copyInTurns(dst, input, inv).then(() => spec);
}

/** Copy `src` into `dst` in slices of about COPY_TURN_MS, the event loop turning between them. */
async function copyInTurns(dst: Uint8Array, src: Uint8Array, inv: Invocation): Promise<void> {
  let off = 0;
  for (;;) {
    const until = performance.now() + COPY_TURN_MS;
    do {
      const end = Math.min(src.length, off + COPY_STEP_BYTES);
      copyInto(dst, off, src.subarray(off, end));
      off = end;
    } while (off < src.length && performance.now() < until);
    if (off >= src.length) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (inv.aborted) throw inv.reason!;
  }
}

/**
 * A heap that failed validation while this thread placed an input (a guest
 * rewrote its lists) is discarded here, at once: one fate, and the next
 * input goes into a fresh memory instead of meeting the same forgery.
 * Returns `err` for the caller to throw.
 */
function discardIfCorrupt(ctx: InputPlacement, g: MemoryGroup, generation: number, err: unknown): unknown {
  if (err instanceof CwasiError && err.code === 'E_MEMORY_CORRUPT') ctx.discardGroup(g.id, generation, `placing an input: ${err.message}`);
  return err;
}

export function releaseInputArenas(ctx: InputPlacement, arenas: InputArena[]): void {
  for (const a of arenas) {
    if (a.group.generation !== a.generation) continue;
    const heap = a.group.heap;
    whenUnlocked(() => {
      if (a.group.generation === a.generation) heap.release(a.arena);
    }, (err) => ctx.discardGroup(a.group.id, a.generation, `freeing an input: ${err.message}`));
  }
}
