// The one interface every IFC mode implements, in two halves:
//
//  - Channel (main thread, used by the Request Dispatcher): for an edge
//    producer → consumer, what the producer's task must do with its output,
//    how the consumer's task will find it, and when the producer's bytes may
//    be freed.
//  - Endpoint (worker side, used by engine/worker/worker.ts): place an input
//    into the consumer's memory, or emit an output from the producer's memory.
//
// Each mode lives in its own module (embedded.ts, local.ts, networked.ts,
// remote-kv.ts, copy.ts) and exports one of each.

import type { Arena, Heap } from '../memory/heap.js';
import type { IfcMode } from '../selection.js';
import type { InputSpec, MemoryRef, OutputSpec, RunSuccess } from '../specs.js';

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
}

/** One payload moving over one edge in one invocation. */
export interface Transfer {
  /** Add what this edge needs to the producer's output spec (before the producer runs). */
  prepareOutput(output: OutputSpec): void;
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

export interface Channel {
  readonly mode: IfcMode;
  open(edge: EdgeContext): Transfer;
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
