// Request Dispatcher: call-time work. For each invocation it takes the plan of
// the target (a workflow, or one function), selects the IFC mode of every edge
// (through the Function Coordinator's pure selection), opens one transfer per
// edge on the mode's channel, runs each segment as a pool task as soon as its
// inputs are ready, hands every producer's output to its consumers and frees
// it once they have all finished. Guest-initiated calls that leave a worker
// arrive here too (GuestCallRequest) and take the same path.
//
// This class is the facade; each job lives in its own module of engine/dispatch/:
//
//   types.ts               what an invocation takes and reports, plans, options
//   planner.ts             plans: segments, edges and their channels (cached)
//   invocation.ts          one invocation's abort and deadline; the deadline sweeper
//   inputs.ts              invocation inputs placed into the entry memory
//   dag-run.ts             a multi-segment run (launch, hand over, release)
//   pool-runner.ts         a segment as a pool task (replicas, queue bound, abort)
//   remote-runner.ts       a segment on another node of the cluster
//   worker-registry.ts     the pool's threads, cancel board, journal recovery
//   share-server.ts        memories and rings handed to workers on request
//   guest-call-service.ts  calls that leave a worker, over their mode's channel
//   lane-route.ts          which calls take a worker's call lane (engine/lane/)

import type { Piscina } from 'piscina';
import { CwasiError, asCwasiError } from './errors.js';
import type { Channel } from './channels/channel.js';
import type { FunctionCoordinator, MemoryGroup } from './coordinator.js';
import { OPTION_DEFAULTS } from './options/defaults.js';
import { IFC_MODES, type IfcMode } from './selection.js';
import type { InputSpec, OutputSpec } from './specs.js';
import { LatencyRecorder } from './stats.js';
import type { WorkflowGraph } from './workflow/graph.js';
import type { WorkerStats } from './worker/control.js';
import type { GuestCallRequest, ShareRequest, WorkerHello, WorkerMessage } from './worker/protocol.js';
import { DagRun, runSingle } from './dispatch/dag-run.js';
import { GuestCallService } from './dispatch/guest-call-service.js';
import { placeFill } from './dispatch/inputs.js';
import { DeadlineSweeper, Invocation, abortedError, now } from './dispatch/invocation.js';
import { Planner } from './dispatch/planner.js';
import { PoolRunner } from './dispatch/pool-runner.js';
import { SegmentRunner } from './dispatch/segment-runner.js';
import { serveShare } from './dispatch/share-server.js';
import { WorkerRegistry } from './dispatch/worker-registry.js';
import { laneOptions, laneTargetOf } from './dispatch/lane-route.js';
import { LaneSet, staleMemory, type LaneCall, type LaneTarget } from './lane/lanes.js';
import { checkInvocationTimeout } from './options/index.js';
import { startSpan, type TraceContext } from './trace/context.js';
import { debug, invokeTracing, spanFields, tracingWanted, type InvokeEvent } from './trace/channels.js';
import type {
  ClusterContext, DispatchContext, DispatcherOptions, InputArena, InputFill, InvocationReport, InvokeOptions, Plan, SegmentResult, SegmentRun,
} from './dispatch/types.js';

const outputOf = (r: InvocationReport): Uint8Array => r.output;

/** A segment this node runs for an invocation coordinated by another node (cluster/member.ts). */
export interface RemoteSegmentOptions {
  invocationId: number;
  deadline: number;
  signal: AbortSignal;
  guestCallMode?: IfcMode;
  /** The coordinating node. */
  coordinator: string;
  /** The coordinating invocation's traceparent (sealed in the run request). */
  traceparent?: string;
}

export type {
  DispatcherOptions, EdgeReport, InputFill, InvocationReport, InvokeOptions, Plan, PlannedEdge, RemoteRunner, ClusterContext, Segment, StepReport,
} from './dispatch/types.js';

export class RequestDispatcher implements DispatchContext {
  readonly coordinator: FunctionCoordinator;
  readonly invocations = new Map<number, Invocation>();
  readonly modeCounts = Object.fromEntries(IFC_MODES.map((m) => [m, 0])) as Record<IfcMode, number>;
  readonly latency = new LatencyRecorder();
  readonly latencyByTarget = new Map<string, LatencyRecorder>();
  counters = { started: 0, completed: 0, failed: 0, guestCalls: 0 };
  /** Test seam: sees every worker message before it is handled (`deliver` handles it). */
  hooks: { onWorkerMessage?(message: unknown, deliver: () => void): void } = {};
  closing = false;
  private readonly pool: Piscina;
  private readonly planner: Planner;
  private readonly registry: WorkerRegistry;
  private readonly poolRunner: PoolRunner;
  /** What invocations run their segments with (segment-runner.ts). */
  private readonly segments: SegmentRunner;
  private readonly guestCalls: GuestCallService;
  private readonly sweeper = new DeadlineSweeper();
  private nextId = 1;
  private _cluster: ClusterContext | undefined;
  /** The workers' call lanes, unless the engine runs without them (callLane: false). */
  readonly lanes: LaneSet | undefined;
  private readonly laneTargets = new Map<WorkflowGraph, LaneTarget | null>();

  constructor(readonly options: DispatcherOptions) {
    this.pool = options.pool;
    this.coordinator = options.coordinator;
    this.planner = new Planner(this.coordinator, this);
    this.lanes = options.laneShare === undefined ? undefined : new LaneSet(options.laneShare, {
      fallback: (call, signal) => this.invokeOnPool(call, signal),
      terminate: (threadId, taskId) => this.registry.terminateRunning(threadId, taskId),
      discard: (id, gen, why) => this.discardGroup(id, gen, why),
      settled: (call, ok) => this.laneSettled(call, ok),
      poolCanGrow: () => this.pool.threads.length < options.maxThreads,
      threads: () => this.pool.threads.length,
      runsPoolTask: (threadId) => this.registry.runsPoolTask(threadId),
    });
    this.registry = new WorkerRegistry(this.pool, this.coordinator, options.cancelBoard, (id, gen, why) => this.discardGroup(id, gen, why), this.lanes);
    const limits = options.guestCallLimits ?? OPTION_DEFAULTS.engine.guestCalls;
    this.guestCalls = new GuestCallService(this, this.registry, this.sweeper, this.counters, limits);
    this.poolRunner = new PoolRunner(this, this.pool, this.registry, this.guestCalls.gate.limits, () => this.closing);
    const lanes = this.lanes;
    this.segments = new SegmentRunner({
      coordinator: this.coordinator,
      pool: this.poolRunner,
      modeCounts: this.modeCounts,
      directInputBytes: options.directInputBytes,
      cluster: () => this._cluster,
      memoryGroupOf: (ref) => this.memoryGroupOf(ref),
      discardGroup: (id, gen, why) => this.discardGroup(id, gen, why),
      ...(lanes !== undefined ? { polling: () => lanes.touchPolling() } : {}),
    });
  }

  get inFlight(): number {
    return this.invocations.size;
  }

  // ── planning ────────────────────────────────────────────────────────────

  /** Forget cached plans (after a deploy changed placements). */
  invalidatePlans(): void {
    this.planner.invalidate();
    this.laneTargets.clear();
  }

  plan(graph: WorkflowGraph, modes?: Record<string, IfcMode>): Plan {
    return this.planner.plan(graph, modes);
  }

  /** The engine joined a cluster: steps on other nodes run through it, cross-host edges take its channels. Once. */
  joinCluster(cluster: ClusterContext): void {
    if (this._cluster !== undefined) throw new CwasiError('E_INTERNAL', 'this engine already joined a cluster');
    this._cluster = cluster;
    this.invalidatePlans();
  }

  get cluster(): ClusterContext | undefined {
    return this._cluster;
  }

  channel(mode: IfcMode): Channel | undefined {
    return this.options.channels[mode] ?? this._cluster?.channels[mode];
  }

  // ── invocation ──────────────────────────────────────────────────────────

  /** A lean invocation: its output only. Through a worker's call lane where it can (lane-route.ts). */
  invokeOutput(target: string, graph: WorkflowGraph, input: Uint8Array | InputFill, opts?: InvokeOptions): Promise<Uint8Array> {
    if (this.lanes !== undefined && input instanceof Uint8Array && laneOptions(opts) && !tracingWanted(undefined)) {
      const viaLane = this.viaLane(graph, input, opts);
      if (viaLane !== undefined) return viaLane;
    }
    return this.invoke(target, graph, input, opts, true).then(outputOf);
  }

  private viaLane(graph: WorkflowGraph, input: Uint8Array, opts: InvokeOptions | undefined): Promise<Uint8Array> | undefined {
    if (input.byteLength >= this.options.directInputBytes || input.byteLength > this.options.maxPayloadBytes || this.closing) return undefined;
    // maxQueue bounds lane and pool calls together; the pool path refuses the excess.
    if (this.lanes!.inFlight + this.poolRunner.held >= this.options.maxThreads + this.options.maxQueue) return undefined;
    const timeoutMs = opts?.timeoutMs ?? this.options.timeoutMs;
    // Anything to refuse is refused by the pool path, with its errors.
    if (!(timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1) || opts?.signal?.aborted === true) return undefined;
    let t = this.laneTargets.get(graph);
    // Resolved again after a memory of the target was discarded: its fresh generation takes lane calls too.
    if (t === undefined || (t !== null && staleMemory(t) !== undefined)) {
      this.laneTargets.set(graph, t = laneTargetOf(this.coordinator, this.plan(graph), graph, this.options.maxPayloadBytes));
    }
    if (t === null || staleMemory(t) !== undefined) return undefined;
    const p = this.lanes!.call(t, input, { signal: opts?.signal, deadline: Date.now() + timeoutMs, timeoutMs });
    if (p !== undefined) this.counters.started++;
    return p;
  }

  private laneSettled(call: LaneCall, ok: boolean): void {
    if (!ok) {
      this.counters.failed++;
      return;
    }
    this.counters.completed++;
    const ms = performance.now() - call.startedAt;
    this.latency.record(ms);
    let rec = this.latencyByTarget.get(call.target.name);
    if (rec === undefined) this.latencyByTarget.set(call.target.name, (rec = new LatencyRecorder()));
    rec.record(ms);
  }

  /** A lane call whose worker exited before it began: the pool runs it, within what is left of its deadline. */
  private invokeOnPool(call: LaneCall, signal: AbortSignal): Promise<Uint8Array> {
    const left = Math.max(1, Math.floor(call.deadline - Date.now()));
    return this.invoke(call.target.name, call.target.graph, call.input, { timeoutMs: left, signal }, true).then(outputOf);
  }

  invoke(target: string, graph: WorkflowGraph, input: Uint8Array | InputFill, opts: InvokeOptions = {}, lean = false): Promise<InvocationReport> {
    // Tracing costs nothing unless someone observes (trace/channels.ts) or the caller passed a traceparent.
    if (!tracingWanted(opts.traceparent)) return this.execute(target, graph, input, opts, lean, undefined, undefined);
    const trace = startSpan(opts.traceparent);
    if (!invokeTracing.hasSubscribers) return this.execute(target, graph, input, opts, lean, trace, undefined);
    const ev: InvokeEvent = {
      target, node: this.coordinator.hostName, invocationId: 0, ...spanFields(trace), inputBytes: typeof input?.byteLength === 'number' ? input.byteLength : 0,
    };
    return invokeTracing.tracePromise(() => this.execute(target, graph, input, opts, lean, trace, ev), ev);
  }

  private async execute(
    target: string, graph: WorkflowGraph, input: Uint8Array | InputFill, opts: InvokeOptions, lean: boolean,
    trace: TraceContext | undefined, ev: InvokeEvent | undefined,
  ): Promise<InvocationReport> {
    const fill = input instanceof Uint8Array ? undefined : input;
    if (!(input instanceof Uint8Array) && !(typeof fill === 'object' && fill !== null && typeof fill.fill === 'function' && Number.isSafeInteger(fill.byteLength) && fill.byteLength >= 0)) {
      const got = input === null ? 'null' : input === undefined ? 'undefined' : typeof input === 'object' ? (input as object).constructor?.name ?? 'an object' : `a ${typeof input}`;
      throw new CwasiError('E_INVALID_ARG', `the input of ${target} must be a Uint8Array (a Buffer is one), got ${got}`
        + (typeof input === 'string' ? ': encode text with new TextEncoder().encode(text)' : ''), { argument: 'input' });
    }
    if (input.byteLength > this.options.maxPayloadBytes) {
      throw new CwasiError('E_PAYLOAD_TOO_LARGE', `input of ${input.byteLength} bytes exceeds the limit of ${this.options.maxPayloadBytes}`);
    }
    if (opts.signal?.aborted) throw abortedError(opts.signal);
    if (opts.timeoutMs !== undefined) checkInvocationTimeout(opts.timeoutMs);
    const plan = this.plan(graph, opts.modes);
    const timeoutMs = opts.timeoutMs ?? this.options.timeoutMs;
    // A deadline already spent fails now, not only if the call outlasts the current millisecond.
    if (timeoutMs <= 0) throw new CwasiError('E_TIMEOUT', `${target}: deadline of ${timeoutMs} ms exceeded`);
    const inv = new Invocation(this.nextId++, target, Date.now() + timeoutMs, opts);
    inv.trace = trace;
    // Nobody reads per-step timings of a lean, untraced call: its tasks do not send them.
    inv.wantsTimings = !lean || trace !== undefined;
    if (ev !== undefined) ev.invocationId = inv.id;
    if (trace !== undefined && debug.enabled) debug('invoke %s #%d trace %s', target, inv.id, trace.traceparent);
    inv.onAbort = () => this.registry.cancelTasks(inv);
    const user = opts.signal;
    const onUserAbort = () => inv.abort(abortedError(user!));
    user?.addEventListener('abort', onUserAbort, { once: true });
    this.sweeper.add(inv.id, inv.deadline, () => {
      inv.abort(new CwasiError('E_TIMEOUT', `${target}: deadline of ${timeoutMs} ms exceeded`));
    });
    this.invocations.set(inv.id, inv);
    this.counters.started++;
    const startedAt = now();
    const filledArenas: InputArena[] = [];
    try {
      const entry = fill === undefined ? input as Uint8Array : await placeFill(this.segments, plan, fill, inv, filledArenas);
      const report = plan.segments.length === 1 && plan.edges.length === 0
        ? await runSingle(this.segments, plan, entry, inv, startedAt, lean)
        : await new DagRun(this.segments, plan, inv, startedAt, lean).run(entry);
      this.counters.completed++;
      this.latency.record(report.latencyMs);
      let rec = this.latencyByTarget.get(target);
      if (rec === undefined) this.latencyByTarget.set(target, (rec = new LatencyRecorder()));
      rec.record(report.latencyMs);
      if (ev !== undefined) {
        ev.outputBytes = report.output.byteLength;
        ev.latencyMs = report.latencyMs;
      }
      return report;
    } catch (err) {
      this.counters.failed++;
      if (ev !== undefined) ev.latencyMs = now() - startedAt;
      // A worker may see the deadline pass before this thread's sweeper runs (a busy
      // main thread): expire the invocation here, so its error (and the cancelling of
      // its other tasks) does not depend on which side noticed first.
      if (!inv.aborted && Date.now() >= inv.deadline) {
        inv.abort(new CwasiError('E_TIMEOUT', `${target}: deadline of ${timeoutMs} ms exceeded`));
      }
      throw inv.aborted ? inv.reason! : asCwasiError(err);
    } finally {
      this.segments.releaseInputs(filledArenas);
      this.invocations.delete(inv.id);
      this.sweeper.delete(inv.id);
      user?.removeEventListener('abort', onUserAbort);
    }
  }

  /** Run one segment: on this node's pool, or on the node it is placed on. */
  runSegment(seg: SegmentRun, inputs: InputSpec[], output: OutputSpec, inv: Invocation, callDepth = 0): Promise<SegmentResult> {
    return this.segments.run(seg, inputs, output, inv, callDepth);
  }

  /** Run steps on this node's pool for a request from another node. */
  runLocal(steps: string[], inputs: InputSpec[], output: OutputSpec, opts: RemoteSegmentOptions): Promise<SegmentResult> {
    if (!tracingWanted(opts.traceparent)) return this.executeLocal(steps, inputs, output, opts, undefined, undefined);
    const trace = startSpan(opts.traceparent);
    if (!invokeTracing.hasSubscribers) return this.executeLocal(steps, inputs, output, opts, trace, undefined);
    const ev: InvokeEvent = {
      target: steps[0]!, node: this.coordinator.hostName, invocationId: 0, ...spanFields(trace), inputBytes: -1, remote: { coordinator: opts.coordinator, steps },
    };
    const startedAt = now();
    return invokeTracing.tracePromise(async () => {
      try {
        const r = await this.executeLocal(steps, inputs, output, opts, trace, ev);
        ev.outputBytes = r.result.outputLength;
        return r;
      } finally {
        ev.latencyMs = now() - startedAt;
      }
    }, ev);
  }

  private async executeLocal(steps: string[], inputs: InputSpec[], output: OutputSpec, opts: RemoteSegmentOptions, trace: TraceContext | undefined, ev: InvokeEvent | undefined): Promise<SegmentResult> {
    const group = this.coordinator.require(steps[0]!).group;
    // A local id: the requester's invocation ids may collide with this node's own.
    const inv = new Invocation(this.nextId++, steps[0]!, opts.deadline, opts.guestCallMode ? { guestCallMode: opts.guestCallMode } : {});
    inv.trace = trace;
    if (ev !== undefined) ev.invocationId = inv.id;
    if (trace !== undefined && debug.enabled) debug('run %s for %s #%d trace %s', steps.join(' → '), opts.coordinator, inv.id, trace.traceparent);
    inv.onAbort = () => this.registry.cancelTasks(inv);
    const onAbort = () => inv.abort(abortedError(opts.signal));
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

  /**
   * One fate: discard a memory group's generation, and tell every worker to
   * drop its instances of it now rather than when it next sees the group.
   */
  discardGroup(groupId: string, generation: number, reason: string): void {
    if (!this.coordinator.discard(groupId, generation, reason)) return;
    this.invalidatePlans();
    this.registry.dropGroupEverywhere(groupId, generation);
  }

  /** The memory a slice names, as the main thread holds it; throws E_BAD_DESCRIPTOR when it is gone. */
  memoryGroupOf(ref: { groupId: string; generation: number }): MemoryGroup {
    const g = this.coordinator.group(ref.groupId);
    if (g === undefined || g.generation !== ref.generation || g.memory === undefined) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `memory ${ref.groupId}#${ref.generation} is gone`);
    }
    return g;
  }

  // ── workers ─────────────────────────────────────────────────────────────

  /** Every worker's own report, over the control plane (a busy worker answers when its task ends). */
  workerStats(timeoutMs?: number): Promise<WorkerStats[]> {
    return this.registry.workerStats(timeoutMs);
  }

  /** Ask every worker to write its coverage (before the pool terminates them). */
  flushCoverage(): Promise<void> {
    return this.registry.flushCoverage();
  }

  /** Resolve once every thread has said hello or exited, or after `limitMs` (worker-registry.ts). */
  whenWorkersStarted(limitMs: number): Promise<void> {
    return this.registry.whenWorkersStarted(limitMs);
  }

  /** The first function of every task a worker has started and not finished (worker-registry.ts). */
  runningTasks(): string[] {
    return this.registry.runningTasks();
  }

  onWorkerMessage(message: unknown): void {
    const hook = this.hooks.onWorkerMessage;
    if (hook !== undefined) hook(message, () => this.handleWorkerMessage(message));
    else this.handleWorkerMessage(message);
  }

  private handleWorkerMessage(message: unknown): void {
    const m = message as WorkerMessage;
    if (m === null || typeof m !== 'object') return;
    if (m.type === 'cwasi:hello') this.registry.hello(m as WorkerHello);
    else if (m.type === 'cwasi:call') this.guestCalls.push(m as GuestCallRequest);
    else if (m.type === 'cwasi:share') serveShare(m as ShareRequest, this.registry, this.coordinator, this.options.rings);
  }
}
