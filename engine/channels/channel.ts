// The one interface every IFC mode implements, in two halves:
//
//  - Channel (main thread, used by the Request Dispatcher): for an edge
//    producer → consumer, what the producer's task must do with its output,
//    how the consumer's task will find it, and when the producer's bytes may
//    be freed.
//    The same channel carries a guest-initiated call's payload (openCall).
//    What the scheduler must know about a mode (does an edge chain steps into
//    one task, may it cross hosts, may its consumer start early) it reads from
//    the channel's properties, never from the mode's name.
//  - Endpoint and Emitter (worker side, used by engine/worker/worker.ts): an
//    endpoint places an input into the consumer's memory, an emitter hands an
//    output from the producer's memory on. The worker finds both through
//    the tables in endpoints.ts.
//
// Each mode lives in its own module (embedded.ts, local.ts, networked.ts,
// remote-kv.ts, copy.ts) and exports its halves.

import { whenUnlocked, type Arena, type Heap } from '../memory/heap.js';
import type { CwasiError } from '../errors.js';
import type { IfcMode } from '../selection.js';
import type { InputSpec, MemoryRef, MemorySlice, OutputSpec, RunSuccess } from '../specs.js';

/** A memory a task runs in, as the main thread knows it. */
export interface GroupRef {
  id: string;
  generation: number;
  /** The engine node the memory lives on. */
  host: string;
  /** The memory and the main thread's long-lived view of its heap; undefined on other hosts. */
  memory: WebAssembly.Memory | undefined;
  heap: Heap | undefined;
}

/** The output of a finished producer task, shared by all its consumers. */
export interface Produced {
  result: RunSuccess;
  /** The memory the producer ran in. */
  group: GroupRef;
  /** Key prefix when the output went to Redis. */
  kvKey?: string;
}

/** Facts about one edge at call time. */
export interface EdgeContext {
  from: string;
  to: string;
  mode: IfcMode;
  /** Memory group the producer runs in. */
  producerGroup: GroupRef;
  /** Memory group the consumer runs in. */
  consumerGroup: GroupRef;
  /** Identifies the transfer (invocation id and edge index) for keyed channels. */
  transferId: string;
  /** Absolute deadline of the invocation (ms since epoch). */
  deadline: number;
  /** The invocation's W3C traceparent, when it carries a trace (channels that cross hosts send it on). */
  traceparent?: string;
  /** The edge streams live (the channel carries live streams and the planner chose it: PlannedEdge.live). */
  live?: boolean;
  /** A live edge's window in bytes, when its producer sets one (else the channel's default ring). */
  windowBytes?: number;
  /**
   * A live edge whose channel carries the stream itself (live-bridge.ts, the
   * networked channel) reports here a failure of that carrying, which is the
   * invocation's (not its two sides' derived ones).
   */
  onBroken?: (err: CwasiError) => void;
}

/** One payload moving over one edge in one invocation. */
export interface Transfer {
  /**
   * Add what this edge needs to the producer's output spec (before the
   * producer runs). `consumerStartsEarly`: the consumer starts alongside its
   * producer on `earlyInput` (otherwise it gets `inputFor`'s, or runs as the
   * producer's continuation).
   */
  prepareOutput(output: OutputSpec, consumerStartsEarly: boolean): void;
  /**
   * The consumer's input spec before the producer finished, for channels that
   * stream (the consumer then runs alongside the producer); undefined otherwise.
   */
  earlyInput?(): InputSpec | undefined;
  /** The consumer's input spec, from the producer's finished output. */
  inputFor(produced: Produced): InputSpec | Promise<InputSpec>;
  /** The consumer finished (ok) or the invocation failed (not ok): free per-edge resources. */
  finish(ok: boolean): void;
}

/** A guest-initiated call about to be served over a channel. */
export interface CallContext {
  caller: string;
  callee: string;
  /** The payload, in the caller's memory. */
  payload: MemorySlice;
  /** The main thread's view of the caller's memory; throws E_BAD_DESCRIPTOR when it is gone. */
  callerHeap(): Heap;
  /** Unique among this engine's calls (keyed channels name their keys with it). */
  callId: string;
  /** Absolute deadline of the call (ms since epoch). */
  deadline: number;
}

/** One guest-call payload on its way to the callee, and what the callee does with its result. */
export interface CallTransfer {
  input: InputSpec;
  output: OutputSpec;
  /** The callee finished (ok) or the call failed: free what the payload took on the way. */
  finish(calleeOk: boolean): void | Promise<void>;
}

/** When a consumer may start before its producer finished (its input then comes from `earlyInput`). */
export type EarlyStart =
  /** never: the consumer starts once its producer's output is handed over */
  | 'never'
  /** always (the consumer waits on a stream that does not hold a worker of this pool) */
  | 'always'
  /** only while a worker is free: the waiting consumer holds one, and must not take it from other work */
  | 'while-a-worker-is-free';

export interface Channel {
  readonly mode: IfcMode;
  /**
   * Whether two steps joined by this channel (one out-edge, one in-edge) run
   * back to back in one task: always, only when both are on this host, or never.
   */
  readonly chainsInOneTask: 'always' | 'on-this-host' | 'never';
  /** Whether producer and consumer may be on different hosts. */
  readonly crossesHosts: boolean;
  readonly startsConsumerEarly: EarlyStart;
  /**
   * Whether an edge from a function that writes an output stream to one that
   * reads an input stream runs live: both run at once in two workers, the
   * stream flowing between them while it is written (local-live.ts,
   * live-bridge.ts): between two functions on this node, or on two nodes.
   */
  readonly carriesLiveStreams?: 'on-this-host' | 'across-hosts';
  /**
   * A consumer that has not started may run in its producer's task right
   * after it, on the output in place (the consumer shares the producer's
   * memory): no task of its own, no wake of another thread.
   */
  readonly continuesInProducerTask?: boolean;
  /** Copies of a payload this channel makes between buffers in user space (kernel socket copies not counted; reported on `cwasi:edge`). */
  readonly copies: number;
  /** A guest call's callee runs inline in the caller's worker (the worker decides; forcing another mode forbids it). */
  readonly callsRunInline: boolean;
  /** Deploy-time set-up of an edge from → to (a ring pool with one ring for `local`); optional. */
  prepare?(from: string, to: string): void;
  open(edge: EdgeContext): Transfer;
  /** Carry a guest call's payload to its callee; undefined when the mode serves no guest calls. */
  openCall?(call: CallContext): CallTransfer | Promise<CallTransfer>;
  /** Every consumer of `produced` has finished: the producer's bytes may be freed. */
  release(produced: Produced): void | Promise<void>;
  close?(): Promise<void>;
}

/** Resolves shared objects named in task messages (worker side). */
export interface SharedResolver {
  /** Heap view of a memory by group and generation; throws E_BAD_DESCRIPTOR when it is gone. */
  heapOf(ref: MemoryRef): Heap;
  /** A ring's SharedArrayBuffer by id. */
  ringOf(id: number): SharedArrayBuffer;
  /** Take one of the engine's polling places (a core no other work uses); false when none is free. */
  startPolling?(): boolean;
  /** Give back the place startPolling took. */
  stopPolling?(): void;
}

/** Where a worker places an input: the consumer's memory and invocation arena. */
export interface PlaceTarget {
  groupId: string;
  generation: number;
  heap: Heap;
  arena: Arena;
  maxPayloadBytes: number;
  deadline: number;
  shared: SharedResolver;
}

export interface Endpoint<K extends InputSpec['kind'] = InputSpec['kind']> {
  readonly kind: K;
  /** Make the input available in the target memory; returns where it is. */
  place(spec: Extract<InputSpec, { kind: K }>, target: PlaceTarget): { ptr: number; len: number } | Promise<{ ptr: number; len: number }>;
}

/** What an emitter reads: the producer's output in its memory. */
export interface EmitSource {
  heap: Heap;
  generation: number;
  ptr: number;
  len: number;
  deadline: number;
  shared: SharedResolver;
}

/** Worker side of a channel for outputs: hands the output on as the task's OutputSpec asks. */
export interface Emitter {
  /** Does `output` ask this emitter for anything? */
  wants(output: OutputSpec): boolean;
  /** Hand the output on; may record what it did in `result` (bytes, chunks written). */
  emit(output: OutputSpec, source: EmitSource, result: RunSuccess): void | Promise<void>;
}

/**
 * Free the arenas of a kept output (`embedded`, `local`, `networked` keep
 * outputs in the producer's memory; so does any output nobody consumed).
 */
export function releaseKept(produced: Produced): void {
  const kept = produced.result.kept;
  if (kept === undefined || kept.arenas.length === 0) return;
  const heap = produced.group.heap;
  // A discarded memory is garbage already; its heap may be inconsistent.
  if (heap === undefined || heap.generation !== produced.group.generation) return;
  const arenas = kept.arenas;
  kept.arenas = [];
  for (const a of arenas) {
    // A busy lock is retried on later turns of the event loop; a memory whose
    // lock stays held or whose metadata is corrupt keeps these blocks until it
    // is discarded (the next task on it detects the same).
    whenUnlocked(() => {
      if (heap.generation === produced.group.generation) heap.release({ id: a.id, head: a.head });
    }, () => {});
  }
}
