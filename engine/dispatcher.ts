// Request Dispatcher: call-time work. For each invocation it takes the plan of
// the target (a workflow, or one function), selects the IFC mode of every edge
// (through the Function Coordinator's pure selection), opens one transfer per
// edge on the mode's channel, runs each segment as a pool task as soon as its
// inputs are ready, hands every producer's output to its consumers and frees
// it once they have all finished. Guest-initiated calls that leave a worker
// arrive here too (GuestCallRequest) and take the same path.
//
// A segment is a maximal chain of functions joined by embedded edges (one
// in-edge, one out-edge each): it runs inside one task, each step reading the
// previous step's output in place, so the handoff costs a function call.

import { setMaxListeners } from 'node:events';
import type { Piscina } from 'piscina';
import { CwasiError, asCwasiError, toErrorRecord, type ErrorRecord } from './errors.js';
import type { DeployedFunction, FunctionCoordinator, MemoryGroup } from './coordinator.js';
import { releaseKept, type CallTransfer, type Channel, type GroupRef, type Produced, type Transfer } from './channels/channel.js';
import type { RingPools } from './channels/local.js';
import { createHeldChannel, newTransferId, type NetworkPeer } from './channels/networked.js';
import { INLINE_MAX_BYTES, type RemoteInput, type RemoteOutput, type RunRequest, type RunResultMeta } from './cluster/protocol.js';
import { Heap, HeapLockBusy, whenUnlocked, type Arena } from './memory/heap.js';
import { IFC_MODES, type IfcMode, type Selection } from './selection.js';
import { LatencyRecorder } from './stats.js';
import { checkModeOverrides, type GraphEdge, type WorkflowGraph } from './workflow/graph.js';
import {
  CALL_SLOTS_OFFSET, CALL_SLOT_BYTES, CANCEL_BOARD_SLOTS, CTRL_SHARE_STATE, JOURNAL, JOURNAL_ENTRY_BYTES, JOURNAL_OFFSET, JOURNAL_RUNNING, SHARE_ANSWERED,
  SLOT_DONE, SLOT_STATE, SLOT_STATUS,
  type GuestCallReply, type GuestCallRequest, type InputSpec, type OutputSpec, type RunSuccess, type RunTask,
  type ShareReply, type ShareRequest, type TaskResult, type WorkerHello, type WorkerMessage,
} from './worker/protocol.js';
import { STATUS, statusOf } from './abi.js';
import { DEFAULT_GUEST_CALL_LIMITS, GuestCallGate, type GuestCallLimits } from './guest-calls.js';
import type { MessagePort } from 'node:worker_threads';
import type { Remote } from 'comlink';
import { controlOf, withTimeout, type WorkerControl, type WorkerStats } from './worker/control.js';

/** How long a control-plane call to a worker may take (it answers between tasks). */
const CONTROL_TIMEOUT_MS = 2000;

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
}

/** How long a file input waits, on later event-loop turns, for a busy heap lock before going through a buffer. */
const FILL_LOCK_PATIENCE_MS = 250;

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
  channels: Record<IfcMode, Channel | undefined>;
  rings: RingPools;
  maxPayloadBytes: number;
  timeoutMs: number;
  maxThreads: number;
  /** Tasks that may wait for a worker; more are refused with E_QUEUE_FULL. */
  maxQueue: number;
  /** The cancel board the workers read (given to them as workerData). */
  cancelBoard: SharedArrayBuffer;
  /** Inputs at least this large are copied by the main thread straight into the entry function's memory. */
  directInputBytes: number;
  /** Runs steps on other nodes (cluster mode). */
  remote?: RemoteRunner;
  /** Deploy again the functions placed on `host` (it restarted and lost them). */
  redeploy?: (host: string) => Promise<void>;
  /** Learn about a function deployed on another node (cluster registry). */
  lookupRemote?: (name: string) => Promise<void>;
  /** Limits on guest-initiated calls (engine/guest-calls.ts). */
  guestCallLimits?: GuestCallLimits;
}

/** Cluster membership as the dispatcher uses it (engine/cluster/member.ts). */
export interface RemoteRunner extends NetworkPeer {
  run(node: string, req: Omit<RunRequest, 'type' | 'coordinator' | 'coordinatorAddress'>, signal: AbortSignal): Promise<RunResultMeta>;
}

const now = (): number => performance.timeOrigin + performance.now();

/** Counting semaphore for `replicas` (invocations of one function that may run at once). */
class Semaphore {
  private waiters: Array<() => void> = [];
  constructor(private available: number) {}

  async acquire(signal: AbortSignal): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== grant);
        reject(signal.reason);
      };
      this.waiters.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available++;
  }
}

/**
 * Life of one pool task of an invocation, and where an abort or a deadline
 * (Invocation.abort → cancelTasks) ends it. The invocation's promise rejects
 * with E_ABORTED / E_TIMEOUT at once in every state (runSegment races the
 * task against whenAborted); the table says what frees the worker.
 *
 *  state        │ entered when                          │ an abort there
 *  ─────────────┼───────────────────────────────────────┼───────────────────────────────────────────
 *  waiting      │ runSegment, before pool.run (replicas │ the semaphore wait rejects; nothing was
 *               │ semaphore, queue bound)               │ handed to the pool (inv.aborted checked last)
 *  queued       │ pool.run: in Piscina's queue or posted│ cancel board marked; the worker that takes
 *               │ to a worker that has not taken it     │ it reads the mark after publishing RUNNING
 *               │                                       │ and returns at once
 *  starting     │ worker published JOURNAL RUNNING,     │ the journal says RUNNING: the worker is
 *               │ fetching memories (share requests),   │ terminated. If this thread has not yet read
 *               │ placing inputs                        │ the worker's hello (a new thread), the task
 *               │                                       │ stays in `cancelled` and is terminated when
 *               │                                       │ the hello or a share request arrives; the
 *               │                                       │ worker also reads the board again before the
 *               │                                       │ guest runs
 *  running      │ guest code runs (or waits on a guest  │ worker terminated (the only way to stop a
 *               │ call, whose callee tasks are this     │ wasm loop); its journal frees what it held
 *               │ invocation's too)                     │ (forgetThread); Piscina replaces it
 *  finishing    │ result posted, not yet read here      │ the late result is dropped, kept outputs
 *               │                                       │ released (runSegment's late handler)
 *  remote       │ runRemote: on another node            │ remote.run gets inv.signal: the request is
 *               │                                       │ cancelled there, streams cancelled here
 *
 * A group discard (a member trapped) does not change these states: a task
 * of the discarded generation fails with E_FUNCTION_TRAP when it settles,
 * and a worker replaced after it starts in `queued` like any other.
 *
 * One invocation in flight. Cancellation is the engine's own, not Piscina's:
 * tasks go to the pool without an AbortSignal (one per task showed up at
 * several percent of the main thread), and `abort()` cancels them — a queued
 * task finds its id on the cancel board when it starts, a running one has its
 * worker terminated (the only way to stop a wasm loop).
 */
class Invocation {
  aborted = false;
  expired = false;
  reason: CwasiError | undefined;
  /** Pool tasks of this invocation not yet settled. */
  readonly tasks = new Set<number>();
  onAbort: (() => void) | undefined;
  private controller: AbortController | undefined;
  private abortWaiters: Array<(err: CwasiError) => void> | undefined;

  constructor(
    readonly id: number,
    readonly target: string,
    readonly deadline: number,
    readonly opts: InvokeOptions,
  ) {}

  /** An AbortSignal for APIs that take one (created on first use). */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      // Every task of a fan-out may listen to it.
      setMaxListeners(0, this.controller.signal);
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  timedOut(): boolean {
    return this.expired;
  }

  abort(reason: CwasiError, expired = false): void {
    if (this.aborted) return;
    this.aborted = true;
    this.expired = expired;
    this.reason = reason;
    this.controller?.abort(reason);
    this.onAbort?.();
    const waiters = this.abortWaiters;
    this.abortWaiters = undefined;
    for (const w of waiters ?? []) w(reason);
  }

  /** Rejects when the invocation is aborted (for racing a pool task). */
  whenAborted(): Promise<never> {
    if (this.aborted) return Promise.reject(this.reason);
    return new Promise<never>((_, reject) => (this.abortWaiters ??= []).push(reject));
  }
}

/**
 * Aborts invocations whose deadline passed. One timer for all of them, armed
 * for the earliest deadline, instead of a timer and a composite AbortSignal per
 * invocation (both show up in profiles at tens of thousands of calls a second).
 */
class DeadlineSweeper {
  private readonly live = new Map<number, { deadline: number; expire: () => void }>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  add(id: number, deadline: number, expire: () => void): void {
    if (!Number.isFinite(deadline)) return;
    this.live.set(id, { deadline, expire });
    if (deadline < this.armedFor) this.arm(deadline);
  }

  delete(id: number): void {
    this.live.delete(id);
    if (this.live.size === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.armedFor = Infinity;
    }
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const t = Date.now();
    let next = Infinity;
    for (const [id, e] of this.live) {
      if (e.deadline <= t) {
        this.live.delete(id);
        e.expire();
      } else if (e.deadline < next) {
        next = e.deadline;
      }
    }
    if (next !== Infinity) this.arm(next);
  }
}

interface WorkerLink {
  port: MessagePort;
  /** The worker's control block (protocol.ts): share state, call slots, journal. */
  control: Int32Array;
  /** The worker's control API (comlink). */
  api: Remote<WorkerControl>;
}

export class RequestDispatcher {
  private readonly pool: Piscina;
  private readonly coordinator: FunctionCoordinator;
  private nextTaskId = 1;
  /** Tasks handed to the pool and not yet settled: what a dead thread's journal refers to. */
  private readonly liveTasks = new Map<number, { groups: MemoryGroup[]; refs: GroupRef[]; fn: string }>();
  /** Ids of cancelled tasks, by slot (protocol.ts CANCEL BOARD); shared with every worker. */
  private readonly cancelBoard: Int32Array;
  /**
   * Cancelled tasks that have not settled in the pool: looked up again when a
   * worker becomes known (hello) or asks for a memory, so that a task already
   * RUNNING in a thread this side could not see yet is still terminated.
   */
  private readonly cancelled = new Set<number>();
  /** Test seam: sees every worker message before it is handled (`deliver` handles it). */
  hooks: { onWorkerMessage?(message: unknown, deliver: () => void): void } = {};
  private tasksInPool = 0;
  private readonly semaphores = new Map<string, Semaphore>();
  private readonly invocations = new Map<number, Invocation>();
  private readonly workers = new Map<number, WorkerLink>();
  /** Callbacks waiting for a thread's hello (see whenWorkersStarted). */
  private readonly helloWaiters = new Map<number, () => void>();
  private readonly plans = new Map<string, Plan>();
  private readonly sweeper = new DeadlineSweeper();
  private nextId = 1;
  /** Guest calls in flight per calling worker thread. */
  private readonly callers = new Map<number, number>();
  readonly latency = new LatencyRecorder();
  readonly latencyByTarget = new Map<string, LatencyRecorder>();
  counters = { started: 0, completed: 0, failed: 0, guestCalls: 0 };
  readonly modeCounts = Object.fromEntries(IFC_MODES.map((m) => [m, 0])) as Record<IfcMode, number>;

  constructor(private readonly options: DispatcherOptions) {
    this.pool = options.pool;
    this.coordinator = options.coordinator;
    this.cancelBoard = new Int32Array(options.cancelBoard);
    this.gate = new GuestCallGate(options.guestCallLimits ?? DEFAULT_GUEST_CALL_LIMITS, (req) => this.guestCall(req), (req, err) => {
      const link = this.workers.get(req.threadId);
      if (link !== undefined) this.replyToCall(link, req, { type: 'cwasi:reply', slot: req.slot, ok: false, error: toErrorRecord(err) as ErrorRecord }, statusOf(err));
    });
  }

  /** Admits guest calls within their limits, a bounded number per turn of the event loop. */
  private readonly gate: GuestCallGate;

  get inFlight(): number {
    return this.invocations.size;
  }

  // ── planning ────────────────────────────────────────────────────────────

  /** Is a worker free for one more task (the pool may grow to maxThreads)? */
  private workerFree(): boolean {
    return this.tasksInPool < this.options.maxThreads;
  }

  /** Forget cached plans (after a deploy changed placements). */
  invalidatePlans(): void {
    this.plans.clear();
  }

  plan(graph: WorkflowGraph, modes?: Record<string, IfcMode>): Plan {
    const key = modes === undefined ? graph.name : `${graph.name}\u0000${JSON.stringify(modes)}`;
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = this.buildPlan(graph, modes);
      this.plans.set(key, plan);
    }
    return plan;
  }

  private buildPlan(graph: WorkflowGraph, modes: Record<string, IfcMode> | undefined): Plan {
    const fns = new Map<string, DeployedFunction>(graph.nodes.map((n) => [n, this.coordinator.require(n)]));
    const selections = new Map<GraphEdge, Selection>();
    checkModeOverrides(graph, modes);
    for (const e of graph.edges) {
      const own = modes?.[`${e.from}->${e.to}`] ?? e.mode;
      let sel: Selection;
      if (own === undefined && modes?.['*'] !== undefined) {
        // A blanket "*" asks for a mode on every edge; where the placement
        // cannot serve it the rules choose, and the plan says why.
        sel = this.coordinator.trySelect(e.from, e.to, modes['*']);
      } else {
        sel = this.coordinator.select(e.from, e.to, own);
      }
      if (this.options.channels[sel.mode] === undefined) {
        throw new CwasiError('E_CONFIG', `${e.from} → ${e.to} needs the ${sel.mode} channel, which this engine was not configured for`);
      }
      selections.set(e, sel);
    }
    // Chain nodes joined by embedded edges with one out-edge and one in-edge.
    const next = new Map<string, GraphEdge>();
    const chainedInto = new Set<string>();
    const here = this.coordinator.hostName;
    for (const e of graph.edges) {
      const chains = this.options.channels[selections.get(e)!.mode]!.chainsInOneTask;
      // Some channels chain only steps of this host (the worker copies across once).
      const chainsHere = chains === 'always' || (chains === 'on-this-host' && fns.get(e.from)!.placement.host === here && fns.get(e.to)!.placement.host === here);
      if (chainsHere && graph.outEdges.get(e.from)!.length === 1 && graph.inEdges.get(e.to)!.length === 1 && e.from !== graph.output) {
        next.set(e.from, e);
        chainedInto.add(e.to);
      }
    }
    const segments: Segment[] = [];
    const segmentOf = new Map<string, Segment>();
    const chained: Plan['chained'] = [];
    for (const n of graph.order) {
      if (chainedInto.has(n)) continue;
      const steps = [n];
      let cur = n;
      while (next.has(cur)) {
        const e = next.get(cur)!;
        chained.push({ edge: e, selection: selections.get(e)! });
        cur = e.to;
        steps.push(cur);
      }
      const last = steps[steps.length - 1]!;
      const seg: Segment = {
        id: segments.length, steps, group: fns.get(n)!.group, inEdges: [], outEdges: [],
        returnsBytes: last === graph.output || graph.sinks.includes(last),
      };
      segments.push(seg);
      for (const s of steps) segmentOf.set(s, seg);
    }
    const edges: PlannedEdge[] = [];
    const self = this.coordinator.hostName;
    for (const e of graph.edges) {
      if (next.get(e.from) === e) continue;
      const sel = selections.get(e)!;
      const from = segmentOf.get(e.from)!;
      const to = segmentOf.get(e.to)!;
      let channel = this.options.channels[sel.mode]!;
      if (!channel.crossesHosts && from.group.host !== self) {
        // Both ends on the same other node: the output stays held there.
        if (from.group.host !== to.group.host) throw new CwasiError('E_CONFIG', `${e.from} → ${e.to}: ${sel.mode} cannot cross hosts`);
        channel = this.heldChannel(sel.mode);
      } else if (!channel.crossesHosts && to.group.host !== self) {
        throw new CwasiError('E_CONFIG', `${e.from} → ${e.to}: ${sel.mode} cannot cross hosts`);
      }
      const pe: PlannedEdge = {
        edge: e, selection: sel, from, to, slot: graph.inEdges.get(e.to)!.indexOf(e), channel,
      };
      pe.from.outEdges.push(pe);
      pe.to.inEdges.push(pe);
      edges.push(pe);
    }
    for (const seg of segments) seg.inEdges.sort((a, b) => a.slot - b.slot);
    return { target: graph.name, graph, segments, edges, chained };
  }

  private readonly heldChannels = new Map<IfcMode, Channel>();

  /** Join a cluster: steps on other nodes run through `remote`, cross-host edges use `networked`. */
  attachRemote(remote: RemoteRunner, networked: Channel, redeploy: (host: string) => Promise<void>, lookupRemote: (name: string) => Promise<void>): void {
    this.options.remote = remote;
    this.options.redeploy = redeploy;
    this.options.lookupRemote = lookupRemote;
    this.options.channels.networked = networked;
    this.invalidatePlans();
  }

  private heldChannel(mode: IfcMode): Channel {
    let ch = this.heldChannels.get(mode);
    if (ch === undefined) {
      const remote = this.options.remote;
      if (remote === undefined) throw new CwasiError('E_CONFIG', 'functions on other hosts need a cluster');
      this.heldChannels.set(mode, (ch = createHeldChannel(remote, mode)));
    }
    return ch;
  }

  // ── invocation ──────────────────────────────────────────────────────────

  /** `lean`: the caller only wants the output (skip building per-step and per-edge records where possible). */
  async invoke(target: string, graph: WorkflowGraph, input: Uint8Array | InputFill, opts: InvokeOptions = {}, lean = false): Promise<InvocationReport> {
    const fill = input instanceof Uint8Array ? undefined : input;
    if (fill !== undefined && !(typeof fill === 'object' && fill !== null && typeof fill.fill === 'function' && Number.isSafeInteger(fill.byteLength) && fill.byteLength >= 0)) {
      throw new CwasiError('E_CONFIG', 'input must be a Uint8Array');
    }
    if (input.byteLength > this.options.maxPayloadBytes) {
      throw new CwasiError('E_PAYLOAD_TOO_LARGE', `input of ${input.byteLength} bytes exceeds the limit of ${this.options.maxPayloadBytes}`);
    }
    if (opts.signal?.aborted) throw abortedError(opts.signal);
    const plan = this.plan(graph, opts.modes);
    const timeoutMs = opts.timeoutMs ?? this.options.timeoutMs;
    const inv = new Invocation(this.nextId++, target, Date.now() + timeoutMs, opts);
    inv.onAbort = () => this.cancelTasks(inv);
    const user = opts.signal;
    const onUserAbort = () => inv.abort(abortedError(user!));
    user?.addEventListener('abort', onUserAbort, { once: true });
    this.sweeper.add(inv.id, inv.deadline, () => {
      inv.abort(new CwasiError('E_TIMEOUT', `${target}: deadline of ${timeoutMs} ms exceeded`), true);
    });
    this.invocations.set(inv.id, inv);
    this.counters.started++;
    const startedAt = now();
    const filledArenas: Array<{ group: MemoryGroup; generation: number; arena: Arena }> = [];
    try {
      const entry = fill === undefined ? input as Uint8Array : await this.placeFill(plan, fill, inv, filledArenas);
      const report = await this.execute(plan, entry, inv, startedAt, lean);
      this.counters.completed++;
      this.latency.record(report.latencyMs);
      let rec = this.latencyByTarget.get(target);
      if (rec === undefined) this.latencyByTarget.set(target, (rec = new LatencyRecorder()));
      rec.record(report.latencyMs);
      return report;
    } catch (err) {
      this.counters.failed++;
      // A worker may see the deadline pass before this thread's sweeper runs (a busy
      // main thread): expire the invocation here, so its error (and the cancelling of
      // its other tasks) does not depend on which side noticed first.
      if (!inv.aborted && Date.now() >= inv.deadline) {
        inv.abort(new CwasiError('E_TIMEOUT', `${target}: deadline of ${timeoutMs} ms exceeded`), true);
      }
      throw this.finalError(err, inv);
    } finally {
      this.releaseInputArenas(filledArenas);
      this.invocations.delete(inv.id);
      this.sweeper.delete(inv.id);
      user?.removeEventListener('abort', onUserAbort);
    }
  }

  /**
   * Let an InputFill write the invocation input: into the entry function's
   * memory (an arena released when the invocation ends) when there is exactly
   * one entry segment on this host, else into a new buffer.
   */
  private async placeFill(plan: Plan, fill: InputFill, inv: Invocation, arenas: Array<{ group: MemoryGroup; generation: number; arena: Arena }>): Promise<Uint8Array | InputSpec> {
    const len = fill.byteLength;
    const entries = plan.segments.filter((s) => s.inEdges.length === 0);
    const g = entries.length === 1 ? entries[0]!.group : undefined;
    const intoBuffer = async (): Promise<Uint8Array> => {
      const bytes = new Uint8Array(len);
      await fill.fill(bytes, false);
      if (inv.aborted) throw inv.reason!;
      return bytes;
    };
    if (g === undefined || g.host !== this.coordinator.hostName) return intoBuffer();
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
        if (!(err instanceof HeapLockBusy)) throw err;
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

  private finalError(err: unknown, inv: Invocation): CwasiError {
    if (inv.aborted) return inv.reason!;
    return asCwasiError(err);
  }

  private async execute(plan: Plan, input: Uint8Array | InputSpec, inv: Invocation, startedAt: number, lean: boolean): Promise<InvocationReport> {
    if (plan.segments.length === 1 && plan.edges.length === 0) return this.executeSingle(plan, input, inv, startedAt, lean);
    const segs = plan.segments;
    const outputs = segs.map((s): OutputSpec => ({ keep: false, bytes: s.returnsBytes }));
    const transfers = new Map<PlannedEdge, Transfer>();
    const state = segs.map((s) => ({
      inputs: new Array<InputSpec | undefined>(s.inEdges.length),
      missing: s.inEdges.length,
      launched: false,
      produced: undefined as Produced | undefined,
      consumersLeft: s.outEdges.length,
      released: false,
    }));
    const report: InvocationReport = {
      target: plan.target, output: new Uint8Array(0), outputs: {}, edges: [], steps: [], startedAt, finishedAt: 0, latencyMs: 0, logs: [],
    };
    const inputArenas: Array<{ group: MemoryGroup; generation: number; arena: Arena }> = [];
    let failure: unknown;
    let running = 0;
    let settle!: () => void;
    const allSettled = new Promise<void>((r) => (settle = r));

    const releaseProduced = async (seg: Segment) => {
      const st = state[seg.id]!;
      if (st.released || st.produced === undefined) return;
      st.released = true;
      const channels = new Set(seg.outEdges.map((e) => e.channel));
      // An output kept in memory that no channel consumed (a sink) is freed like any kept output.
      if (channels.size === 0) releaseKept(st.produced);
      for (const ch of channels) {
        try {
          await ch.release(st.produced);
        } catch {
          // freeing failed: the memory is discarded elsewhere if it is corrupt
        }
      }
    };

    const fail = (err: unknown) => {
      if (failure === undefined) failure = err;
      // Wake anything blocked on a ring of this invocation.
      for (const [pe, t] of transfers) {
        if (!state[pe.to.id]!.launched || state[pe.to.id]!.produced === undefined) t.finish(false);
      }
    };

    const consumerFinished = (seg: Segment, ok: boolean) => {
      for (const pe of seg.inEdges) {
        transfers.get(pe)?.finish(ok);
        const pst = state[pe.from.id]!;
        pst.consumersLeft--;
        if (pst.consumersLeft === 0) void releaseProduced(pe.from);
      }
    };

    const launch = (seg: Segment, inputs: InputSpec[]) => {
      const st = state[seg.id]!;
      st.launched = true;
      running++;
      this.runSegment(seg, inputs, outputs[seg.id]!, inv)
        .then(async ({ result, group }) => {
          const produced: Produced = { result, group };
          const kvKey = outputs[seg.id]!.kv?.key;
          if (kvKey !== undefined) produced.kvKey = kvKey;
          st.produced = produced;
          result.timings.forEach((t) => report.steps.push({ ...t, group: this.coordinator.get(t.fn)?.group.id ?? seg.group.id, threadId: result.threadId }));
          if (result.logs) report.logs.push(...result.logs);
          const last = seg.steps[seg.steps.length - 1]!;
          if (seg.returnsBytes && result.bytes !== undefined) report.outputs[last] = result.bytes;
          consumerFinished(seg, true);
          if (failure !== undefined) return;
          for (const pe of seg.outEdges) {
            report.edges.push(edgeReport(pe, result.outputLength));
            const cst = state[pe.to.id]!;
            if (cst.launched) continue;
            cst.inputs[pe.to.inEdges.indexOf(pe)] = await transfers.get(pe)!.inputFor(produced);
            if (--cst.missing === 0 && failure === undefined) launch(pe.to, cst.inputs as InputSpec[]);
          }
          if (seg.outEdges.length === 0) await releaseProduced(seg);
        })
        .catch((err) => {
          consumerFinished(seg, false);
          fail(err);
        })
        .finally(() => {
          if (--running === 0) settle();
        });
    };

    try {
      for (const pe of plan.edges) {
        const t = pe.channel.open({
          from: pe.edge.from, to: pe.edge.to, mode: pe.selection.mode,
          producerGroup: pe.from.group.ref(), consumerGroup: pe.to.group.ref(),
          transferId: `${inv.id}.${pe.edge.index}`, deadline: inv.deadline,
        });
        transfers.set(pe, t);
        t.prepareOutput(outputs[pe.from.id]!);
        this.modeCounts[pe.selection.mode]++;
      }
      for (const c of plan.chained) {
        this.modeCounts[c.selection.mode]++;
        report.edges.push({ from: c.edge.from, to: c.edge.to, mode: c.selection.mode, reason: c.selection.reason, bytes: -1 });
      }
      // Entry segments get the invocation input; consumers of streaming edges start alongside their producers.
      for (const seg of segs) {
        if (seg.inEdges.length === 0) {
          launch(seg, [this.entryInput(seg, input, inputArenas)]);
        }
      }
      for (const seg of segs) {
        if (seg.inEdges.length === 0) continue;
        const early = seg.inEdges.map((pe) => transfers.get(pe)!.earlyInput?.());
        if (!early.every((e) => e !== undefined)) continue;
        // A consumer that would wait on a local ring starts early only while a
        // worker is free, so that waiting never takes a worker from other work.
        // (Streams to other nodes and stream-form rings start early always.)
        const waitsOnWorker = seg.group.host === this.coordinator.hostName && seg.inEdges.some((pe) => pe.channel.startsConsumerEarly === 'while-a-worker-is-free');
        if (waitsOnWorker && !this.workerFree()) continue;
        launch(seg, early as InputSpec[]);
      }
    } catch (err) {
      fail(err);
    }
    if (running > 0) await allSettled;
    // Free whatever is still held (failures, outputs nobody consumed).
    for (const t of transfers.values()) t.finish(failure === undefined);
    for (const seg of segs) await releaseProduced(seg);
    this.releaseInputArenas(inputArenas);
    if (failure !== undefined) throw failure;
    const out = report.outputs[plan.graph.output];
    if (out === undefined) throw new CwasiError('E_INTERNAL', `${plan.target}: the output function produced no bytes`);
    report.output = out;
    // Edge byte counts of chained edges are the producer's output length.
    report.finishedAt = now();
    report.latencyMs = report.finishedAt - startedAt;
    return report;
  }

  /** One segment, no channels: the common case of invoking a function (or an embedded chain). */
  private async executeSingle(plan: Plan, input: Uint8Array | InputSpec, inv: Invocation, startedAt: number, lean: boolean): Promise<InvocationReport> {
    const seg = plan.segments[0]!;
    const arenas: Array<{ group: MemoryGroup; generation: number; arena: Arena }> = [];
    try {
      const { result } = await this.runSegment(seg, [this.entryInput(seg, input, arenas)], { keep: false, bytes: true }, inv);
      const output = result.bytes;
      if (output === undefined) throw new CwasiError('E_INTERNAL', `${plan.target}: the output function produced no bytes`);
      const last = seg.steps[seg.steps.length - 1]!;
      for (const c of plan.chained) this.modeCounts[c.selection.mode]++;
      const finishedAt = now();
      return {
        target: plan.target,
        output,
        outputs: lean ? {} : { [last]: output },
        edges: lean ? [] : plan.chained.map((c) => ({ from: c.edge.from, to: c.edge.to, mode: c.selection.mode, reason: c.selection.reason, bytes: -1 })),
        steps: lean ? [] : result.timings.map((t) => ({ ...t, group: this.coordinator.get(t.fn)?.group.id ?? seg.group.id, threadId: result.threadId })),
        startedAt,
        finishedAt,
        latencyMs: finishedAt - startedAt,
        logs: result.logs ?? [],
      };
    } finally {
      this.releaseInputArenas(arenas);
    }
  }

  private releaseInputArenas(arenas: Array<{ group: MemoryGroup; generation: number; arena: Arena }>): void {
    for (const a of arenas) {
      if (a.group.generation !== a.generation) continue;
      const heap = a.group.heap;
      whenUnlocked(() => {
        if (a.group.generation === a.generation) heap.release(a.arena);
      }, (err) => this.discardGroup(a.group.id, a.generation, `freeing an input: ${err.message}`));
    }
  }

  /** The invocation input for an entry segment: cloned when small, copied by this thread into the memory when large. */
  private entryInput(seg: Segment, input: Uint8Array | InputSpec, arenas: Array<{ group: MemoryGroup; generation: number; arena: Arena }>): InputSpec {
    // Already placed in this segment's memory by an InputFill.
    if (!(input instanceof Uint8Array)) return input;
    const g = seg.group;
    if (input.byteLength < this.options.directInputBytes || g.host !== this.coordinator.hostName) {
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
      throw err;
    }
    arenas.push({ group: g, generation: g.generation, arena });
    g.heap.bytes().set(input, ptr);
    return { kind: 'shared', groupId: g.id, generation: g.generation, ptr, len: input.byteLength };
  }

  /** Run one segment as a pool task; resolves with its result and the memory it ran in. */
  private async runSegment(seg: Pick<Segment, 'steps' | 'group'>, inputs: InputSpec[], output: OutputSpec, inv: Invocation, callDepth = 0): Promise<{ result: RunSuccess; group: GroupRef }> {
    const group = seg.group;
    if (group.host !== this.coordinator.hostName) return this.runRemote(seg, inputs, output, inv);
    const limited = seg.steps.filter((s) => this.coordinator.get(s)?.replicas !== undefined);
    const acquired: Semaphore[] = [];
    try {
      for (const s of limited) {
        let sem = this.semaphores.get(s);
        if (sem === undefined) this.semaphores.set(s, (sem = new Semaphore(this.coordinator.get(s)!.replicas!)));
        await sem.acquire(inv.signal);
        acquired.push(sem);
      }
    } catch (err) {
      for (const s of acquired) s.release();
      throw err;
    }
    // Piscina does not count tasks that carry an AbortSignal against its maxQueue: bound them here.
    if (this.tasksInPool >= this.options.maxThreads + this.options.maxQueue) {
      for (const s of acquired) s.release();
      throw new CwasiError('E_QUEUE_FULL', `${seg.steps[0]}: the queue is full (${this.tasksInPool} tasks wait for or hold a worker; maxQueue ${this.options.maxQueue})`);
    }
    // Steps of one task may live in different memories (a local edge run in one worker).
    const groups = seg.steps.map((fn, i) => (i === 0 ? group : this.coordinator.require(fn).group));
    const refs = groups.map((g) => g.ref());
    const taskId = this.nextTaskId = (this.nextTaskId % 0x7fffffff) + 1;
    // A forced guest-call mode whose calls do not run inline sends every call through this dispatcher.
    const forced = inv.opts.guestCallMode;
    const forceRemote = forced !== undefined && this.options.channels[forced]?.callsRunInline !== true ? ['*'] : [];
    const task: RunTask = {
      type: 'run', taskId, invocationId: inv.id, steps: seg.steps, groups: groups.map((g) => g.key()), inputs, output,
      deadline: inv.deadline, maxPayloadBytes: this.options.maxPayloadBytes, forceRemote,
      callDepth, callLimits: this.gate.limits,
    };
    let res: TaskResult;
    if (inv.aborted) {
      for (const s of acquired) s.release();
      throw inv.reason!;
    }
    this.tasksInPool++;
    inv.tasks.add(taskId);
    this.liveTasks.set(taskId, { groups, refs, fn: seg.steps[0]! });
    const running = this.pool.run(task) as Promise<TaskResult>;
    try {
      res = await Promise.race([running, inv.whenAborted()]);
    } catch (err) {
      const e = this.taskError(err, inv, seg.steps[0]!);
      // An aborted task may still be in the pool. If it finishes after all,
      // nobody takes its output; if its worker dies, the thread's exit frees
      // what its journal says it held (forgetThread).
      void running.then((late) => {
        if (late.ok && 'kept' in late && late.kept !== undefined) releaseKept({ result: late, group: refs[refs.length - 1]! });
      }, () => {}).finally(() => {
        this.liveTasks.delete(taskId);
        this.cancelled.delete(taskId);
      });
      throw e;
    } finally {
      this.tasksInPool--;
      inv.tasks.delete(taskId);
      for (const s of acquired) s.release();
    }
    this.liveTasks.delete(taskId);
    this.cancelled.delete(taskId);
    const discarded = groups.findIndex((g, i) => g.generation !== refs[i]!.generation);
    if (discarded >= 0) {
      // Discarded while the task waited or ran (a member trapped): one fate, whatever the worker saw.
      const g = groups[discarded]!;
      throw new CwasiError('E_FUNCTION_TRAP', `${seg.steps.join(' → ')}: memory group ${g.id} was discarded while it ran (${g.lastDiscardReason ?? 'trap'})`);
    }
    if (!res.ok) {
      const failed = res as Extract<TaskResult, { ok: false }>;
      const at = groups.findIndex((g) => g.id === failed.groupId);
      if (failed.discardGroup && at >= 0) this.discardGroup(refs[at]!.id, refs[at]!.generation, `${failed.fn}: ${failed.error.message}`);
      throw CwasiError.fromRecord(failed.error);
    }
    return { result: res, group: refs[refs.length - 1]! };
  }

  /** Run a segment placed on another node: its inputs travel inline or as Networked Buffer streams. */
  private async runRemote(seg: Pick<Segment, 'steps' | 'group'>, inputs: InputSpec[], output: OutputSpec, inv: Invocation): Promise<{ result: RunSuccess; group: GroupRef }> {
    const remote = this.options.remote;
    const host = seg.group.host;
    if (remote === undefined) {
      throw new CwasiError('E_CONFIG', `${seg.steps[0]} is placed on host "${host}", but this engine is not part of a cluster`);
    }
    const self = remote.self;
    const sends: Array<Promise<void>> = [];
    const transfers: string[] = [];
    const newTransfer = () => {
      const t = newTransferId(self);
      transfers.push(t);
      return t;
    };
    const stream = (bytes: Uint8Array): RemoteInput => {
      if (bytes.length <= INLINE_MAX_BYTES) return { kind: 'inline', base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
      const transfer = newTransfer();
      const p = remote.send(host, transfer, bytes, inv.deadline);
      p.catch(() => {});
      sends.push(p);
      return { kind: 'stream', transfer, from: self };
    };
    const remoteInputs: RemoteInput[] = inputs.map((spec): RemoteInput => {
      switch (spec.kind) {
        case 'bytes': return stream(spec.bytes);
        case 'shared':
        case 'foreign': {
          // Bytes in a memory of this node: stream them from where they lie.
          const g = this.memoryGroupOf(spec);
          if (!g.heap.inBounds(spec.ptr, spec.len)) throw new CwasiError('E_BAD_DESCRIPTOR', `slice [${spec.ptr}, +${spec.len}) is outside memory ${g.id}`);
          return stream(g.heap.bytes().subarray(spec.ptr, spec.ptr + spec.len));
        }
        case 'net': return { kind: 'stream', transfer: spec.transfer, from: spec.from };
        case 'held':
          if (spec.host !== host) throw new CwasiError('E_INTERNAL', `output held on ${spec.host} handed to a step on ${host}`);
          return { kind: 'held', held: spec.held };
        case 'kv': return spec;
        case 'ring': throw new CwasiError('E_INTERNAL', 'a ring cannot reach another node');
      }
    });
    const out: RemoteOutput = { hold: output.hold === true, sendTo: (output.net ?? []).map((n) => ({ node: n.node, address: n.address, transfer: n.transfer })) };
    if (output.kv) out.kv = output.kv;
    let returned: Promise<Uint8Array> | undefined;
    if (output.bytes) {
      out.returnTransfer = newTransfer();
      returned = remote.expect(out.returnTransfer, host, (n) => new Uint8Array(n), inv.deadline);
      returned.catch(() => {});
    }
    try {
      const request = {
        invocationId: inv.id, deadline: inv.deadline, steps: seg.steps, inputs: remoteInputs, output: out,
        ...(inv.opts.guestCallMode ? { guestCallMode: inv.opts.guestCallMode } : {}),
      };
      let meta: RunResultMeta;
      try {
        meta = await remote.run(host, request, inv.signal);
      } catch (err) {
        // A node that restarted has lost its functions: deploy them again, once, and retry
        // (only when no input had to be streamed: a stream cannot be sent twice).
        if (!(err instanceof CwasiError && err.code === 'E_UNKNOWN_FUNCTION' && this.options.redeploy && sends.length === 0)) throw err;
        await this.options.redeploy(host);
        meta = await remote.run(host, request, inv.signal);
      }
      const result: RunSuccess = { ok: true, threadId: meta.threadId, outputLength: meta.outputLength, timings: meta.timings };
      if (meta.logs) result.logs = meta.logs;
      if (meta.held !== undefined) result.held = meta.held;
      if (meta.kvChunks !== undefined) result.kvChunks = meta.kvChunks;
      if (returned !== undefined) {
        if (meta.inlineBase64 !== undefined) {
          remote.cancel(out.returnTransfer!, 'returned inline');
          result.bytes = new Uint8Array(Buffer.from(meta.inlineBase64, 'base64'));
        } else {
          result.bytes = await returned;
        }
      }
      return { result, group: seg.group.ref() };
    } catch (err) {
      for (const t of transfers) remote.cancel(t, 'the remote run failed');
      if (inv.aborted) throw inv.reason!;
      throw err;
    } finally {
      await Promise.allSettled(sends);
    }
  }

  /** Run steps on this node's pool for a request from another node. */
  async runLocal(steps: string[], inputs: InputSpec[], output: OutputSpec, opts: { invocationId: number; deadline: number; signal: AbortSignal; guestCallMode?: IfcMode }): Promise<{ result: RunSuccess; group: GroupRef }> {
    const group = this.coordinator.require(steps[0]!).group;
    // A local id: the requester's invocation ids may collide with this node's own.
    const inv = new Invocation(this.nextId++, steps[0]!, opts.deadline, opts.guestCallMode ? { guestCallMode: opts.guestCallMode } : {});
    inv.onAbort = () => this.cancelTasks(inv);
    const onAbort = () => inv.abort(abortedError(opts.signal), Date.now() >= opts.deadline);
    opts.signal.addEventListener('abort', onAbort, { once: true });
    if (opts.signal.aborted) onAbort();
    this.invocations.set(inv.id, inv);
    try {
      return await this.runSegment({ steps, group }, inputs, output, inv);
    } finally {
      this.invocations.delete(inv.id);
      opts.signal.removeEventListener('abort', onAbort);
    }
  }

  private taskError(err: unknown, inv: Invocation, fn: string): CwasiError {
    if (err instanceof CwasiError) return err;
    const e = err as Error;
    if (inv.aborted) return inv.reason!;
    const msg = e?.message ?? String(err);
    if (/queue is at limit/i.test(msg)) return new CwasiError('E_QUEUE_FULL', `${fn}: the task queue is full`);
    if (/terminat|destroy|closed/i.test(msg) && this.closing) return new CwasiError('E_CLOSED', `${fn}: the engine closed`);
    return new CwasiError('E_WORKER_DIED', `${fn}: the worker running it died: ${msg}`);
  }

  closing = false;

  /**
   * One fate: discard a memory group's generation, and tell every worker to
   * drop its instances of it now rather than when it next sees the group.
   */
  discardGroup(groupId: string, generation: number, reason: string): void {
    if (!this.coordinator.discard(groupId, generation, reason)) return;
    this.invalidatePlans();
    for (const link of this.workers.values()) {
      void withTimeout(link.api.dropGroup(groupId, generation), CONTROL_TIMEOUT_MS, 'dropGroup').catch(() => {});
    }
  }

  /** Every worker's own report, over the control plane (a busy worker answers when its task ends). */
  async workerStats(timeoutMs = CONTROL_TIMEOUT_MS): Promise<WorkerStats[]> {
    const all = await Promise.allSettled([...this.workers.values()].map((l) => withTimeout(l.api.stats(), timeoutMs, 'stats')));
    return all.filter((r): r is PromiseFulfilledResult<WorkerStats> => r.status === 'fulfilled').map((r) => r.value);
  }

  /** Ask every worker to write its coverage (before the pool terminates them). */
  async flushCoverage(): Promise<void> {
    await Promise.allSettled([...this.workers.values()].map((l) => withTimeout(l.api.flushCoverage(), CONTROL_TIMEOUT_MS, 'flushCoverage')));
  }

  /**
   * A worker thread exited (killed on abort or deadline, crashed, or retired
   * when idle): free what the task it was running held, then its cached
   * chunks and its instances' stacks in every memory.
   */
  private forgetThread(threadId: number): void {
    const link = this.workers.get(threadId);
    this.workers.delete(threadId);
    if (link !== undefined) {
      const J = JOURNAL_OFFSET >> 2;
      const taskId = Atomics.load(link.control, J + (JOURNAL.TASK >> 2));
      const live = this.liveTasks.get(taskId);
      if (live !== undefined && Atomics.load(link.control, J + (JOURNAL.STATE >> 2)) === JOURNAL_RUNNING) {
        this.recover(link.control, threadId, live.groups, live.refs, new CwasiError('E_WORKER_DIED', `${live.fn}: its worker exited`));
      }
    }
    for (const g of this.coordinator.groupsList()) {
      if (g.heap === undefined || g.host !== this.coordinator.hostName) continue;
      const heap = g.heap;
      const generation = g.generation;
      whenUnlocked(() => {
        if (g.generation === generation) heap.releaseTagged(new Set(), threadId + 1);
      }, (err) => this.discardGroup(g.id, generation, `heap inconsistent after thread ${threadId} exited: ${err.message}`));
    }
  }

  /**
   * Cancel the pool tasks of an aborted invocation. Mark first, then look:
   * a worker publishes RUNNING before it reads the board, so either it sees
   * the mark and returns at once, or this sees it running and terminates it.
   */
  private cancelTasks(inv: Invocation): void {
    const J = JOURNAL_OFFSET >> 2;
    for (const taskId of inv.tasks) {
      Atomics.store(this.cancelBoard, taskId & (CANCEL_BOARD_SLOTS - 1), taskId);
      this.cancelled.add(taskId);
      for (const [threadId, link] of this.workers) {
        if (Atomics.load(link.control, J + (JOURNAL.TASK >> 2)) === taskId && Atomics.load(link.control, J + (JOURNAL.STATE >> 2)) === JOURNAL_RUNNING) {
          this.terminate(threadId);
        }
      }
    }
  }

  /** Terminate `threadId` if its journal says it runs a cancelled task; true when it did. */
  private terminateIfCancelled(threadId: number): boolean {
    if (this.cancelled.size === 0) return false;
    const link = this.workers.get(threadId);
    if (link === undefined) return false;
    const J = JOURNAL_OFFSET >> 2;
    if (Atomics.load(link.control, J + (JOURNAL.STATE >> 2)) !== JOURNAL_RUNNING) return false;
    if (!this.cancelled.has(Atomics.load(link.control, J + (JOURNAL.TASK >> 2)))) return false;
    this.terminate(threadId);
    return true;
  }

  private terminate(threadId: number): void {
    const worker = this.pool.threads.find((w) => w.threadId === threadId);
    void worker?.terminate();
  }

  /** A task's thread died: free the arenas its journal (the thread's control block) says the task held. */
  private recover(j: Int32Array, threadId: number, groups: MemoryGroup[], refs: GroupRef[], cause: CwasiError): void {
    const J = JOURNAL_OFFSET >> 2;
    const overflow = Atomics.load(j, J + (JOURNAL.OVERFLOW >> 2)) === 1;
    const n = Atomics.load(j, J + (JOURNAL.COUNT >> 2));
    const ids = groups.map(() => new Set<number>());
    for (let i = 0; i < n; i++) {
      const at = J + (JOURNAL.ARENAS >> 2) + i * (JOURNAL_ENTRY_BYTES >> 2);
      ids[j[at]!]?.add(j[at + 1]! >>> 0);
    }
    const seen = new Set<MemoryGroup>();
    groups.forEach((group, i) => {
      if (seen.has(group) || group.generation !== refs[i]!.generation) return;
      seen.add(group);
      const discard = (why: string) => {
        this.discardGroup(refs[i]!.id, refs[i]!.generation, `${why} (${cause.code})`);
      };
      const heap = group.heap;
      if (heap.lockHolder() === threadId + 1) return discard('worker killed holding the heap lock');
      if (overflow) return discard('worker killed holding arenas its journal could not record');
      // Every index of this group (an embedded chain repeats a group).
      const mine = new Set<number>();
      groups.forEach((g, k) => {
        if (g === group) for (const id of ids[k]!) mine.add(id);
      });
      whenUnlocked(() => {
        if (group.generation === refs[i]!.generation) heap.releaseTagged(mine, threadId + 1);
      }, (err) => discard(`heap inconsistent after a killed task: ${err.message}`));
    });
  }

  /**
   * Resolve once every thread of the pool has finished loading the worker
   * module (said hello) or exited, or after `limitMs`. Terminating a thread
   * while Node is still inside require() of the worker module aborts the
   * whole process (Node 20), so close() waits for this first.
   */
  async whenWorkersStarted(limitMs: number): Promise<void> {
    const starting = this.pool.threads.filter((w) => !this.workers.has(w.threadId));
    if (starting.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => { timer = setTimeout(resolve, limitMs); });
    const started = Promise.all(starting.map((w) => new Promise<void>((resolve) => {
      const id = w.threadId;
      const done = (): void => {
        w.off('exit', done);
        this.helloWaiters.delete(id);
        resolve();
      };
      w.once('exit', done);
      this.helloWaiters.set(id, done);
    })));
    await Promise.race([started, limit]);
    clearTimeout(timer);
    for (const w of starting) this.helloWaiters.delete(w.threadId);
  }

  // ── guest-initiated calls ───────────────────────────────────────────────

  onWorkerMessage(message: unknown): void {
    const hook = this.hooks.onWorkerMessage;
    if (hook !== undefined) hook(message, () => this.handleWorkerMessage(message));
    else this.handleWorkerMessage(message);
  }

  private handleWorkerMessage(message: unknown): void {
    const m = message as WorkerMessage;
    if (m === null || typeof m !== 'object') return;
    if (m.type === 'cwasi:hello') {
      const hello = m as WorkerHello;
      this.workers.set(hello.threadId, { port: hello.replyPort, control: new Int32Array(hello.control), api: controlOf(hello.controlPort) });
      hello.replyPort.unref();
      // When the thread is gone (killed on abort, or retired when idle) its cached
      // chunks and its instances' stacks in every memory go back to the heaps.
      const worker = this.pool.threads.find((w) => w.threadId === hello.threadId);
      worker?.once('exit', () => this.forgetThread(hello.threadId));
      this.helloWaiters.get(hello.threadId)?.();
      this.terminateIfCancelled(hello.threadId);
    } else if (m.type === 'cwasi:call') {
      this.gate.push(m as GuestCallRequest);
    } else if (m.type === 'cwasi:share') {
      this.share(m as ShareRequest);
    }
  }

  /** A worker asks for a shared object it has not seen (a group's memory and modules, a ring). */
  private share(req: ShareRequest): void {
    const link = this.workers.get(req.threadId);
    if (link === undefined) return;
    // A task cancelled while this thread could not see its worker: stop it here, before it gets its memory.
    if (this.terminateIfCancelled(req.threadId)) return;
    let reply: ShareReply;
    const [kind, rest] = [req.key.slice(0, req.key.indexOf(':')), req.key.slice(req.key.indexOf(':') + 1)];
    if (kind === 'group') {
      const hash = rest.lastIndexOf('#');
      const g = this.coordinator.group(rest.slice(0, hash));
      const gen = Number(rest.slice(hash + 1));
      reply = g !== undefined && g.memory !== undefined && g.generation === gen
        ? { type: 'cwasi:shared', key: req.key, install: g.install() }
        : { type: 'cwasi:shared', key: req.key, missing: 'no such memory group generation' };
    } else if (kind === 'ring') {
      const ring = this.options.rings.byId(Number(rest));
      reply = ring !== undefined ? { type: 'cwasi:shared', key: req.key, ring: ring.buffer } : { type: 'cwasi:shared', key: req.key, missing: 'no such ring' };
    } else {
      reply = { type: 'cwasi:shared', key: req.key, missing: 'unknown key' };
    }
    // Post the answer first, then wake the worker: it reads the port after the wake.
    link.port.postMessage(reply);
    Atomics.store(link.control, CTRL_SHARE_STATE >> 2, SHARE_ANSWERED);
    Atomics.notify(link.control, CTRL_SHARE_STATE >> 2);
  }

  /** The memory a slice names, as the main thread holds it (undefined when discarded). */
  private memoryGroupOf(ref: { groupId: string; generation: number }): MemoryGroup {
    const g = this.coordinator.group(ref.groupId);
    if (g === undefined || g.generation !== ref.generation || g.memory === undefined) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `memory ${ref.groupId}#${ref.generation} is gone`);
    }
    return g;
  }

  private async guestCall(req: GuestCallRequest): Promise<void> {
    const link = this.workers.get(req.threadId);
    if (link === undefined) return;
    this.counters.guestCalls++;
    this.callers.set(req.threadId, (this.callers.get(req.threadId) ?? 0) + 1);
    let reply: GuestCallReply;
    let status: number = STATUS.OK;
    const cleanups: Array<() => void | Promise<void>> = [];
    let calleeOk = false;
    try {
      if (this.callers.size >= this.options.maxThreads) {
        // Every worker the pool may have is a caller waiting on a call: the callee could never run.
        throw new CwasiError('E_QUEUE_FULL', `every worker is waiting on a guest call; ${req.caller} → ${req.target} refused to avoid a deadlock`);
      }
      const parent = this.invocations.get(req.invocationId);
      let callee = this.coordinator.get(req.target);
      if (callee === undefined && this.options.lookupRemote !== undefined) {
        // Deployed on another node of the cluster: learn where from the registry.
        await this.options.lookupRemote(req.target);
        callee = this.coordinator.get(req.target);
      }
      if (callee === undefined) throw new CwasiError('E_UNKNOWN_FUNCTION', `${req.caller} called "${req.target}", which is not deployed`);
      const sel = this.coordinator.select(req.caller, req.target, parent?.opts.guestCallMode);
      let inv = parent;
      if (inv === undefined) {
        inv = new Invocation(req.invocationId, req.target, req.deadline, {});
        const own = inv;
        own.onAbort = () => this.cancelTasks(own);
        const sweepId = -this.nextId++;
        this.sweeper.add(sweepId, req.deadline, () => own.abort(new CwasiError('E_TIMEOUT', `${req.target}: deadline exceeded`), true));
        cleanups.push(() => this.sweeper.delete(sweepId));
      }
      const channel = this.options.channels[sel.mode];
      if (channel?.openCall === undefined) throw new CwasiError('E_CONFIG', `guest calls over ${sel.mode} are not available in this engine`);
      this.modeCounts[sel.mode]++;
      const p = req.payload;
      const call: CallTransfer = await channel.openCall({
        caller: req.caller, callee: req.target, payload: p, callerHeap: () => this.memoryGroupOf(p).heap,
        callId: `${process.pid}.${req.threadId}.${req.slot}.${this.counters.guestCalls}`, deadline: req.deadline,
      });
      cleanups.push(() => call.finish(calleeOk));
      const { input, output } = call;
      const { result, group } = await this.runSegment({ steps: [req.target], group: callee.group }, [input], output, inv!, req.depth);
      calleeOk = true;
      if (result.kept !== undefined) {
        reply = {
          type: 'cwasi:reply', slot: req.slot, ok: true, mode: sel.mode,
          result: { kind: 'foreign', groupId: group.id, generation: group.generation, ptr: result.kept.ptr, len: result.kept.len },
          release: { groupId: group.id, generation: group.generation, arenas: result.kept.arenas },
        };
      } else if (result.bytes !== undefined) {
        reply = { type: 'cwasi:reply', slot: req.slot, ok: true, mode: sel.mode, result: { kind: 'bytes', bytes: result.bytes } };
      } else {
        throw new CwasiError('E_INTERNAL', 'guest call result carries no output');
      }
    } catch (err) {
      const e = asCwasiError(err, 'E_GUEST_CALL');
      status = statusOf(e);
      reply = { type: 'cwasi:reply', slot: req.slot, ok: false, error: toErrorRecord(e) as ErrorRecord };
    } finally {
      const n = (this.callers.get(req.threadId) ?? 1) - 1;
      if (n === 0) this.callers.delete(req.threadId);
      else this.callers.set(req.threadId, n);
      for (const c of cleanups) await c();
    }
    this.replyToCall(link, req, reply, status);
  }

  private replyToCall(link: { port: MessagePort; control: Int32Array }, req: GuestCallRequest, reply: GuestCallReply, status: number): void {
    // Post the reply first, then publish DONE: the woken caller finds it on its port.
    link.port.postMessage(reply);
    const base = CALL_SLOTS_OFFSET + req.slot * CALL_SLOT_BYTES;
    Atomics.store(link.control, (base + SLOT_STATUS) >> 2, status);
    Atomics.store(link.control, (base + SLOT_STATE) >> 2, SLOT_DONE);
    Atomics.notify(link.control, (base + SLOT_STATE) >> 2);
  }
}

function edgeReport(pe: PlannedEdge, bytes: number): EdgeReport {
  return { from: pe.edge.from, to: pe.edge.to, mode: pe.selection.mode, reason: pe.selection.reason, bytes };
}

function abortedError(signal: AbortSignal): CwasiError {
  const reason = signal.reason;
  if (reason instanceof CwasiError) return reason;
  const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return new CwasiError('E_ABORTED', `invocation aborted: ${why}`);
}

/** Heap of a memory seen from the main thread (for tests and diagnostics). */
export function heapOf(memory: WebAssembly.Memory, lockBuffer: SharedArrayBuffer): Heap {
  return Heap.attach(memory, lockBuffer);
}

