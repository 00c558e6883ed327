// Types of the Request Dispatcher (engine/dispatcher.ts and engine/dispatch/):
// what an invocation takes and reports, the plan of a target, the
// dispatcher's options, and the context its modules share. Types only.

import type { Piscina } from 'piscina';
import type { Channel, GroupRef } from '../channels/channel.js';
import type { CwasiError } from '../errors.js';
import type { RingPools } from '../ring/pools.js';
import type { NetworkPeer } from '../channels/networked.js';
import type { RunRequest, RunResultMeta } from '../cluster/protocol.js';
import type { FunctionCoordinator, MemoryGroup } from '../coordinator.js';
import type { GuestCallLimits } from '../guest-calls.js';
import type { Arena } from '../memory/heap.js';
import type { IfcMode, Selection } from '../selection.js';
import type { InputSpec, OutputSpec, RunSuccess } from '../specs.js';
import type { GraphEdge, WorkflowGraph } from '../workflow/graph.js';
import type { Invocation } from './invocation.js';

export interface InvokeOptions {
  signal?: AbortSignal;
  /** Deadline of this invocation in milliseconds (default: the engine's). */
  timeoutMs?: number;
  /**
   * Force IFC modes for this invocation: keys "from->to" for one edge, "*" for
   * every edge. Embedding stays refused where the trust rules forbid it.
   */
  modes?: Record<string, IfcMode>;
  /** Force the mode of guest-initiated calls (benchmarks); default: selection. */
  guestCallMode?: IfcMode;
  /**
   * A W3C traceparent (`00-<trace id>-<span id>-<flags>`, e.g. an incoming HTTP
   * request's header): the invocation becomes a child span of it, and its trace id
   * travels with the call to workers and other nodes. One that does not parse is ignored.
   */
  traceparent?: string;
}

/**
 * An input that writes itself where the dispatcher places it: straight into
 * the first function's memory when the target has one entry function on this
 * host, else into a fresh buffer. File inputs use it to go from disk into wasm
 * memory with one read and no intermediate copy (engine/batch/files.ts).
 */
export interface InputFill {
  readonly byteLength: number;
  /** Write exactly `byteLength` bytes into `into`; `inMemory` says whether `into` is a function memory. */
  fill(into: Uint8Array, inMemory: boolean): Promise<void>;
}

export interface EdgeReport {
  from: string;
  to: string;
  mode: IfcMode;
  reason: string;
  bytes: number;
}

export interface StepReport {
  fn: string;
  group: string;
  threadId: number;
  /** When the step's input was complete in its memory (ms, performance.timeOrigin based). */
  inputReady: number;
  done: number;
  /** Bytes of the step's output. */
  outputBytes: number;
}

export interface InvocationReport {
  target: string;
  /** The output function's result. */
  output: Uint8Array;
  /** Results of every sink (and of the output function). */
  outputs: Record<string, Uint8Array>;
  edges: EdgeReport[];
  steps: StepReport[];
  startedAt: number;
  finishedAt: number;
  latencyMs: number;
  logs: string[];
}

export interface PlannedEdge {
  edge: GraphEdge;
  selection: Selection;
  from: Segment;
  to: Segment;
  /** Position of this edge among the consumer's inputs. */
  slot: number;
  channel: Channel;
  /** Producer and consumer stream and run at once, the stream flowing live between them (Channel.carriesLiveStreams). */
  live: boolean;
  /** A live edge's window: its producer's streamWindowBytes, when it sets one. */
  windowBytes?: number;
}

export interface Segment {
  id: number;
  steps: string[];
  group: MemoryGroup;
  inEdges: PlannedEdge[];
  outEdges: PlannedEdge[];
  /** The last step is the target's output function or a sink: return its bytes. */
  returnsBytes: boolean;
}

export interface Plan {
  target: string;
  graph: WorkflowGraph;
  segments: Segment[];
  /** Edges between segments (moved by a channel). */
  edges: PlannedEdge[];
  /** Edges inside segments (embedded, handed over in place). */
  chained: Array<{ edge: GraphEdge; selection: Selection }>;
}

export interface DispatcherOptions {
  pool: Piscina;
  coordinator: FunctionCoordinator;
  /** This node's channels; a cluster adds its own when the engine joins (ClusterContext.channels). */
  channels: Readonly<Record<IfcMode, Channel | undefined>>;
  rings: RingPools;
  maxPayloadBytes: number;
  timeoutMs: number;
  maxThreads: number;
  /** Tasks that may wait for a worker; more are refused with E_QUEUE_FULL. */
  maxQueue: number;
  /** The cancel board the workers read (given to them as workerData). */
  cancelBoard: SharedArrayBuffer;
  /** The lanes' spin share (workerData.lanes); absent: no call lanes, every call is a pool task. */
  laneShare?: SharedArrayBuffer;
  /** Inputs at least this large are copied by the main thread straight into the entry function's memory. */
  directInputBytes: number;
  /** Limits on guest-initiated calls (engine/guest-calls.ts). */
  guestCallLimits?: GuestCallLimits;
}

/**
 * This node's part in a cluster, as the dispatcher uses it: built once, when
 * the engine has joined (engine.ts), and handed to the dispatcher whole.
 */
export interface ClusterContext {
  /** Runs steps on other nodes. */
  readonly remote: RemoteRunner;
  /** The channels of edges that cross hosts (the Networked Buffer). */
  readonly channels: Readonly<Partial<Record<IfcMode, Channel>>>;
  /** Deploy again the functions placed on `host` (it restarted and lost them). */
  redeploy(host: string): Promise<void>;
  /** Learn about a function deployed on another node (cluster registry). */
  lookupRemote(name: string): Promise<void>;
}

/** Cluster membership as the dispatcher uses it (engine/cluster/member.ts). */
export interface RemoteRunner extends NetworkPeer {
  run(node: string, req: Omit<RunRequest, 'type' | 'coordinator' | 'coordinatorAddress'>, signal: AbortSignal): Promise<RunResultMeta>;
}

/** What running a segment gives back: its result and the memory it ran in. */
export interface SegmentResult {
  result: RunSuccess;
  group: GroupRef;
  /** The continuation's outcome, when the segment had one (SegmentRun.then). */
  then?: { ok: true; result: RunSuccess } | { ok: false; error: CwasiError };
}

/**
 * A segment to run. `then`: a consumer segment whose steps all live in the
 * memory where this one's last step keeps its output (an embedded edge); it
 * runs in the same task right after, on that output in place, rather than as
 * a task of its own dispatched once this one returned.
 */
export interface SegmentRun extends Pick<Segment, 'steps' | 'group'> {
  then?: { steps: string[]; output: OutputSpec };
}

/** An arena this thread took in a memory for an invocation input; released when the invocation ends. */
export interface InputArena {
  group: MemoryGroup;
  generation: number;
  arena: Arena;
}

/** What the pool runner, the guest-call service and the planner share with the dispatcher (which provides it); an invocation's run gets a SegmentRunner instead (segment-runner.ts). */
export interface DispatchContext {
  readonly options: DispatcherOptions;
  /** The cluster, once the engine joined one. */
  readonly cluster: ClusterContext | undefined;
  /** The channel of a mode: this node's, or the cluster's; undefined when the engine has none. */
  channel(mode: IfcMode): Channel | undefined;
  readonly coordinator: FunctionCoordinator;
  readonly modeCounts: Record<IfcMode, number>;
  /** Invocations in flight, by id (guest calls join their parent's). */
  readonly invocations: Map<number, Invocation>;
  /** Run one segment: on this node's pool, or on the node it is placed on. */
  runSegment(seg: SegmentRun, inputs: InputSpec[], output: OutputSpec, inv: Invocation, callDepth?: number): Promise<SegmentResult>;
  /** The workers' call lanes, when the engine uses them: their calls count against maxQueue. */
  readonly lanes?: { readonly inFlight: number } | undefined;
  /** One fate: discard a memory group's generation everywhere. */
  discardGroup(groupId: string, generation: number, reason: string): void;
  /** The memory a slice names, as the main thread holds it; throws E_BAD_DESCRIPTOR when it is gone. */
  memoryGroupOf(ref: { groupId: string; generation: number }): MemoryGroup;
}

