// The state of one invocation of one guest instance (InvocationContext) and
// what a worker's call bridge offers it: kept apart from the instance
// (host.ts) so both stay readable.

import type { CwasiError } from '../errors.js';
import type { Arena, Heap } from '../memory/heap.js';
import type { GuestInstance } from './host.js';
import type { StreamState } from './stream-host.js';
import { OPTION_DEFAULTS } from '../options/defaults.js';

/** A byte range inside one memory. */
export interface Slice {
  ptr: number;
  len: number;
}

/** A call started by the guest; resolved inline (embedded) or by the dispatcher. */
export interface PendingCall {
  target: string;
  /** Resolved result, or the remote call's slot until it completes. */
  status: number | undefined;
  result: Slice | undefined;
  remote: RemoteCall | undefined;
}

/** A remote call in flight: the bridge knows how to wait for it. */
export interface RemoteCall {
  slot: number;
}

/** What a guest-initiated call that leaves this instance needs from the worker. */
export interface CallBridge {
  /** Start a call through the dispatcher; returns its slot or throws a CwasiError. */
  start(ctx: InvocationContext, target: string, payload: Slice): RemoteCall;
  /** Wait for it; places the result in ctx's arena. Returns a status and the slice. */
  wait(ctx: InvocationContext, call: RemoteCall): { status: number; result?: Slice; error?: CwasiError };
  /** Resolve an embedded callee in this instance's group, or undefined. */
  embeddedPeer(ctx: InvocationContext, target: string): GuestInstance | undefined;
  /** Journal a new arena of this invocation tree for clean-up (called by Heap.newArena under the heap lock; a bound function). */
  recordArena?: (arena: Arena) => void;
  /** The guest returned without waiting for this call: drop its reply when it comes. */
  abandon?(call: RemoteCall): void;
}

/** Guest-call limits checked here before a call reaches the dispatcher (ABI.md, status -5). */
export interface CallLimits {
  maxDepth: number;
  maxInFlightPerInvocation: number;
}

/** Used where no task says otherwise (module initialisation makes no calls). */
export const DEFAULT_CALL_LIMITS: CallLimits = OPTION_DEFAULTS.engine.guestCalls;

/** State of one invocation of one instance. */
export interface InvocationContext {
  fn: string;
  invocationId: number;
  heap: Heap;
  arena: Arena;
  /** Arenas of inline callees whose results this invocation still references. */
  extraArenas: Arena[];
  deadline: number;
  maxPayloadBytes: number;
  forceRemote: readonly string[];
  /** Guest calls between the invocation's entry and this context. */
  callDepth: number;
  callLimits: CallLimits;
  /** The invocation's W3C traceparent, when it carries a trace; guest calls that leave the worker carry it on. */
  traceparent: string | undefined;
  output: Slice | undefined;
  failure: { code: number; message: string } | undefined;
  /** A host-side error that made the guest trap (limit, deadline, bad pointer). */
  hostError: CwasiError | undefined;
  lastCallError: CwasiError | undefined;
  /** An embedded callee trapped: the whole group must be discarded (one fate). */
  groupTrapped: boolean;
  /** The invocation's inputs and the host's input table (an output may lie in an input, never in the table). */
  inputs: readonly Slice[];
  table: Slice | undefined;
  /** Results of this invocation's calls, read in place (an output may be one of them, or lie in one). */
  results: Slice[];
  calls: Map<number, PendingCall>;
  nextHandle: number;
  logs: string[];
  bridge: CallBridge;
  /** The call's input and output streams, once the function touched one (stream-host.ts). */
  stream?: StreamState;
}

export function newContext(
  fn: string, heap: Heap, bridge: CallBridge,
  opts: { invocationId: number; deadline: number; maxPayloadBytes: number; forceRemote: readonly string[]; callDepth?: number; callLimits?: CallLimits; traceparent?: string | undefined },
): InvocationContext {
  const arena = heap.newArena(bridge.recordArena);
  return {
    fn, heap, bridge,
    invocationId: opts.invocationId,
    arena,
    extraArenas: [],
    results: [],
    deadline: opts.deadline,
    maxPayloadBytes: opts.maxPayloadBytes,
    forceRemote: opts.forceRemote,
    callDepth: opts.callDepth ?? 0,
    callLimits: opts.callLimits ?? DEFAULT_CALL_LIMITS,
    traceparent: opts.traceparent,
    output: undefined,
    failure: undefined,
    hostError: undefined,
    lastCallError: undefined,
    groupTrapped: false,
    inputs: [],
    table: undefined,
    calls: new Map(),
    nextHandle: 1,
    logs: [],
  };
}

/** Release everything an invocation allocated (its arena and its inline callees'). */
export function releaseContext(ctx: InvocationContext): void {
  for (const a of ctx.extraArenas) ctx.heap.release(a);
  ctx.extraArenas.length = 0;
  ctx.heap.release(ctx.arena);
}

