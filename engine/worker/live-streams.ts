// The live streams of a task (engine/channels/local-live.ts): a first step
// whose input is a live ring reads it as its input stream, a last step whose
// output goes to a live ring writes its output stream there while it runs.
// worker.ts opens them before the steps run, finishes them after, and
// aborts their rings when the task fails, so that the other side stops at
// once instead of waiting for its deadline.

import { LiveRingSink, LiveRingSource, awaitWindowReleased, letGo, windowBytesFor } from '../channels/local-live.js';
import type { SharedResolver } from '../channels/channel.js';
import type { Heap } from '../memory/heap.js';
import { Ring } from '../ring/ring.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import type { RunTask } from './protocol.js';
import type { InvocationContext, Slice } from './context.js';
import { liveStreams } from './stream-host.js';

type RingInput = Extract<InputSpec, { kind: 'ring' }>;

/** Is this input a live stream (read by the function, never placed whole)? */
export function isLiveInput(spec: InputSpec): spec is RingInput {
  return spec.kind === 'ring' && spec.live === true;
}

/** The first step reads `spec` as its input stream. */
export function openLiveInput(spec: RingInput, ctx: InvocationContext, shared: SharedResolver, deadline: number): void {
  const source = new LiveRingSource(shared.ringOf(spec.ringId), spec.sources, shared, deadline);
  ctx.stream = liveStreams(source, ctx.stream?.sink);
}

/** The last step writes its output stream into the live ring `output` names, if it names one. */
export function openLiveOutput(output: OutputSpec, ctx: InvocationContext, heap: Heap, generation: number, deadline: number, shared: SharedResolver): void {
  const live = output.rings?.find((r) => r.live === true);
  if (live === undefined) return;
  const sink = new LiveRingSink(shared.ringOf(live.ringId), heap, ctx.arena, generation, deadline, live.consumerStarting === true, live.inPlace === true ? windowBytesFor(heap, live.windowBytes) : 0);
  ctx.stream = liveStreams(ctx.stream?.source, sink);
}

/**
 * A step returned: a live input not read to its end tells the producer (its
 * ring is aborted), a live output its function reported whole is sent now.
 */
export function finishLive(ctx: InvocationContext, out: Slice, heap: Heap): void {
  const st = ctx.stream;
  if (st === undefined) return;
  st.source?.close();
  const sink = st.sink;
  if (sink instanceof LiveRingSink && !sink.ended) sink.sendWhole(heap.bytes().subarray(out.ptr, out.ptr + out.len));
}

/**
 * The task failed: abort every live ring it reads or writes. As a reader it
 * lets go of every chunk it held; as the writer of a window it waits for its
 * reader to do the same before its memory is freed (local-live.ts).
 */
export function abortLive(task: RunTask, shared: SharedResolver): void {
  const abort = (id: number, then: (ring: Ring) => void): void => {
    try {
      const ring = new Ring(shared.ringOf(id));
      ring.abort();
      then(ring);
    } catch {
      // a ring the task never got is nobody's to abort
    }
  };
  for (const s of task.inputs) if (isLiveInput(s)) abort(s.ringId, letGo);
  for (const r of task.output.rings ?? []) {
    if (r.live !== true) continue;
    abort(r.ringId, (ring) => {
      if (r.inPlace === true) awaitWindowReleased(ring.buffer);
    });
  }
}
