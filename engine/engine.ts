// The public API: Engine.create → deploy → invoke → stats → close.
//
// An Engine owns a Piscina pool of worker threads, a Function Coordinator
// (placement, memory groups, channels) and a Request Dispatcher (per-call IFC
// selection and data movement).

import { readFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, resolve } from 'node:path';
import { Piscina } from 'piscina';
import { CwasiError } from './errors.js';
import { FunctionCoordinator, bundledFunctionsDir, type DeployedFunction, type FunctionConfig } from './coordinator.js';
import { RequestDispatcher, type InputFill, type InvocationReport, type InvokeOptions, type Plan } from './dispatcher.js';
import { FileInputs, type FileInputStats } from './batch/files.js';
import { mapInputs, type MapInput, type MapOptions, type MapResult } from './batch/map.js';
import type { Channel } from './channels/channel.js';
import { createCopyChannel } from './channels/copy.js';
import { createEmbeddedChannel } from './channels/embedded.js';
import { createLocalChannel, type LocalTransport } from './channels/local.js';
import { RingPools } from './ring/pools.js';
import { closeRedisClients, createRemoteKvChannel } from './channels/remote-kv.js';
import { createNetworkedChannel } from './channels/networked.js';
import { networkedLiveRingBytes } from './channels/networked-live.js';
import { ClusterMember, type ClusterOptions, type ClusterStats } from './cluster/member.js';
import { ClusterPlacement } from './cluster-placement.js';
import type { RemoteFunctionConfig } from './cluster/protocol.js';
import type { HeapStats } from './memory/heap.js';
import type { IfcMode } from './selection.js';
import type { LatencySummary } from './stats.js';
import { buildGraph, type WorkflowGraph } from './workflow/graph.js';
import { parseWorkflow, validateWorkflowDocument, type WorkflowDocument } from './workflow/schema.js';
import { type WorkerData } from './worker/protocol.js';
import { cancelBoardSlots } from './worker/cancel-board.js';
import type { WorkerStats } from './worker/control.js';
import type { GuestCallLimits } from './guest-calls.js';
import { OPTION_DEFAULTS, resolveEngineOptions, type ResolvedEngineOptions } from './options/index.js';
import { abortAfter, closeLimit, type CloseOptions } from './close.js';

/**
 * Engine.create's options. Their kinds, ranges and defaults are described
 * once, in engine/options/spec.ts and OPTION_DEFAULTS (the README's options
 * table is written from them); an unknown key or a bad value is E_CONFIG.
 */
export interface EngineOptions {
  /** Worker threads: a number (min = max) or bounds. */
  threads?: number | { min?: number; max?: number };
  /** Tasks that may wait for a worker before invoke() fails with E_QUEUE_FULL. */
  maxQueue?: number;
  /** Largest input, output or guest-call payload in bytes. */
  maxPayloadBytes?: number;
  /** Largest size a function memory may grow to, in bytes. */
  memoryMaxBytes?: number;
  /** Default deadline of an invocation in milliseconds (Infinity for none). */
  timeoutMs?: number;
  /** Directory of bundled functions (default: the package's dist/functions). */
  functionsDir?: string;
  /** Name of this engine's host in placements. */
  hostName?: string;
  /**
   * Local Buffer settings. `sameWorker` runs a sequential local edge (one
   * out-edge, one in-edge) in one worker: the host copies the output across
   * memories once, without a ring or a thread handoff; false keeps every
   * local edge on a ring between two workers.
   */
  local?: { transport?: LocalTransport; ringBytes?: number; sameWorker?: boolean };
  /** Redis for the remote-kv baseline (default REDIS_URL, else the local server). */
  redis?: { url?: string; ttlSeconds?: number; chunkBytes?: number };
  /** Inputs at least this large are copied straight into the entry function's memory. */
  directInputBytes?: number;
  /**
   * Lean calls of one function (invoke, map) go through a shared-memory call
   * lane per worker instead of a pool message (default true; engine/lane/).
   */
  callLane?: boolean;
  /** Join a cluster of engine nodes (NATS JetStream registry, Networked Buffer between nodes). */
  cluster?: ClusterOptions;
  /**
   * Limits on calls started from inside functions (status -5 beyond them):
   * nesting depth, calls in flight per invocation and per engine.
   */
  guestCalls?: Partial<GuestCallLimits>;
}

export interface FunctionPlacement {
  name: string;
  host: string;
  group: string;
  trusted: boolean;
  domain: string;
  embedded: boolean;
  source: string;
  staticRegion: { start: number; end: number } | null;
}

export interface EdgePlan {
  from: string;
  to: string;
  mode: IfcMode;
  reason: string;
  /** Runs inside one task with its producer (embedded chain). */
  chained: boolean;
  /** Set when a blanket `*` override could not apply to this edge: why (`mode` is then the rules' choice). */
  overrideRefused?: string;
}

export interface PlanReport {
  target: string;
  kind: 'workflow' | 'function';
  functions: FunctionPlacement[];
  edges: EdgePlan[];
  segments: string[][];
  output: string;
}

export interface DeployResult {
  functions: FunctionPlacement[];
  workflow?: PlanReport;
}

export interface EngineStats {
  invocations: { started: number; completed: number; failed: number; inFlight: number; guestCalls: number };
  latencyMs: LatencySummary;
  latencyByTarget: Record<string, LatencySummary>;
  edgesByMode: Record<IfcMode, number>;
  pool: { threads: number; minThreads: number; maxThreads: number; queueSize: number; completed: number; utilization: number; runTimeMs: LatencySummary; waitTimeMs: LatencySummary };
  memory: Array<HeapStats & { id: string; generation: number; members: string[]; embedded: boolean; discards: number }>;
  /** Local Buffer rings: edges with a pool, rings made, rings leased now and their data bytes (a live stream's window), rings kept for reuse and theirs. */
  rings: { edges: number; rings: number; inUse: number; inUseBytes: number; idle: number; idleBytes: number };
  /** File inputs of map(): read calls and where they landed (straight into a function memory, or a buffer). */
  fileInputs: FileInputStats;
  /** How late this thread's event loop ran its timers since the engine was created (perf_hooks.monitorEventLoopDelay, 10 ms resolution). */
  eventLoop: { delayP50Ms: number; delayP99Ms: number; delayMaxMs: number };
  /** The workers' call lanes (engine/lane/): calls taken, calls sent to the pool instead, calls re-posted after a worker exit, calls moved from a busy lane to an idle one, and calls in lanes now. */
  lanes: { lanes: number; calls: number; overflow: number; reposted: number; moved: number; inFlight: number };
}


/** How long close() waits for threads still loading the worker module. */
const WORKER_START_LIMIT_MS = 10_000;

/** Default of EngineOptions.maxPayloadBytes. */
export const DEFAULT_MAX_PAYLOAD_BYTES: number = OPTION_DEFAULTS.engine.maxPayloadBytes;

export class Engine {
  private readonly pool: Piscina;
  private readonly coordinator: FunctionCoordinator;
  private readonly dispatcher: RequestDispatcher;
  private readonly rings: RingPools;
  private readonly channels: Readonly<Record<IfcMode, Channel | undefined>>;
  private readonly workflows = new Map<string, WorkflowGraph>();
  private readonly functionGraphs = new Map<string, WorkflowGraph>();
  private readonly minThreads: number;
  private readonly maxThreads: number;
  private closed = false;
  /** Where functions with `host: "auto"` go, and deploying those placed on other nodes (cluster-placement.ts). */
  private readonly placement: ClusterPlacement;
  /** Event-loop delay on this thread (EngineStats.eventLoop): what a service's other work waits. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private closing: Promise<void> | undefined;
  private member: ClusterMember | undefined;
  private inflight = 0;
  private drained: (() => void) | undefined;
  private readonly fileInputs: FileInputs;

  private constructor(options: ResolvedEngineOptions) {
    this.minThreads = options.minThreads;
    this.maxThreads = options.maxThreads;
    const maxQueue = options.maxQueue;
    this.fileInputs = new FileInputs(options.maxPayloadBytes);
    this.loopDelay.enable();
    const workerData: WorkerData = { cancelBoard: new SharedArrayBuffer(cancelBoardSlots(this.maxThreads, maxQueue) * 4), lanes: new SharedArrayBuffer(8) };
    this.pool = new Piscina({
      workerData,
      filename: new URL('./worker/worker.js', import.meta.url).href,
      minThreads: this.minThreads,
      maxThreads: this.maxThreads,
      maxQueue,
      idleTimeout: 30_000,
      // Idle workers wait with Atomics.waitAsync, so their event loop runs between
      // tasks: the control plane (comlink) answers, and client reconnect timers fire.
      atomics: 'async',
    });
    this.rings = new RingPools(options.local.ringBytes);
    this.coordinator = new FunctionCoordinator({
      hostName: options.hostName,
      functionsDir: options.functionsDir ?? bundledFunctionsDir(),
      memoryMaxBytes: options.memoryMaxBytes,
    });
    this.placement = new ClusterPlacement(this.coordinator, () => this.member);
    this.channels = {
      embedded: createEmbeddedChannel(this.rings),
      local: createLocalChannel(this.rings, options.local.transport, options.local.sameWorker),
      copy: createCopyChannel(this.rings),
      'remote-kv': createRemoteKvChannel({
        url: options.redis.url,
        ttlSeconds: options.redis.ttlSeconds,
        chunkBytes: options.redis.chunkBytes,
        keyPrefix: `cwasi:${process.pid}:${Date.now().toString(36)}`,
        pools: this.rings,
      }),
      networked: undefined,
    };
    this.dispatcher = new RequestDispatcher({
      pool: this.pool,
      coordinator: this.coordinator,
      channels: this.channels,
      rings: this.rings,
      maxPayloadBytes: options.maxPayloadBytes,
      timeoutMs: options.timeoutMs,
      maxThreads: this.maxThreads,
      maxQueue,
      cancelBoard: workerData.cancelBoard,
      ...(options.callLane ? { laneShare: workerData.lanes } : {}),
      directInputBytes: options.directInputBytes,
      guestCallLimits: options.guestCalls,
    });
    this.pool.on('message', (m: unknown) => this.dispatcher.onWorkerMessage(m));
    this.pool.on('error', () => {
      // A worker crashed outside a task; the task that ran on it (if any) fails with E_WORKER_DIED.
    });
  }

  /** Create an engine and start its worker pool (and join its cluster, when asked). */
  static async create(options: EngineOptions = {}): Promise<Engine> {
    const resolved = resolveEngineOptions(options);
    const engine = new Engine(resolved);
    if (resolved.cluster !== undefined) {
      try {
        await engine.joinCluster(resolved.cluster);
      } catch (err) {
        await engine.close();
        throw err;
      }
    }
    return engine;
  }

  private async joinCluster(cluster: ClusterOptions): Promise<void> {
    const self = this.coordinator.hostName;
    this.member = await ClusterMember.join(cluster, {
      deployLocal: async (functions: RemoteFunctionConfig[]) => {
        const configs: FunctionConfig[] = functions.map((f) => ({
          name: f.name,
          module: f.moduleBase64 !== undefined ? new Uint8Array(Buffer.from(f.moduleBase64, 'base64')) : f.module,
          ...(f.trusted !== undefined ? { trusted: f.trusted } : {}),
          ...(f.domain !== undefined ? { domain: f.domain } : {}),
          ...(f.replicas !== undefined ? { replicas: f.replicas } : {}),
          ...(f.memoryMaxBytes !== undefined ? { memoryMaxBytes: f.memoryMaxBytes } : {}),
          ...(f.stackBytes !== undefined ? { stackBytes: f.stackBytes } : {}),
          ...(f.streamWindowBytes !== undefined ? { streamWindowBytes: f.streamWindowBytes } : {}),
        }));
        const deployed = await this.coordinator.deploy(configs);
        this.dispatcher.invalidatePlans();
        return deployed.map((d) => ({ name: d.name, host: self, group: d.group.id, trusted: d.placement.trusted, domain: d.placement.domain }));
      },
      groupOf: (fn: string) => this.coordinator.require(fn).group.ref(),
      leaseRing: (windowBytes) => {
        const capacity = networkedLiveRingBytes(this.rings.streamRingBytes, windowBytes);
        const pool = this.rings.forEdge('\u0000cluster', '\u0000live', capacity);
        const r = pool.acquire();
        return { id: r.id, buffer: r.ring.buffer, capacity: r.ring.capacity, giveBack: (clean: boolean) => pool.giveBack(r, clean) };
      },
      runLocal: (steps, inputs, output, opts) => this.dispatcher.runLocal(steps, inputs, output, opts),
      hostedFunctions: () => this.coordinator.list().filter((f) => f.placement.host === self).map((f) => f.name),
      maxThreads: this.maxThreads,
    });
    const member = this.member;
    this.dispatcher.joinCluster({
      remote: member,
      channels: { networked: createNetworkedChannel(member, this.rings) },
      redeploy: (host) => this.placement.deployElsewhere(this.coordinator.list().filter((f) => f.placement.host === host && f.bytes.length > 0), false),
      lookupRemote: async (name) => {
        const rec = await member.registry.getFunction(name);
        if (rec !== undefined && rec.host !== self) this.coordinator.registerRemote(rec);
      },
    });
  }

  /** This node in its cluster: name, listener, live nodes, Networked Buffer statistics. */
  clusterStats(): ClusterStats | undefined {
    return this.member?.stats();
  }

  /** Names of the functions bundled with the engine (usable as `module`). */
  bundledFunctions(): string[] {
    return this.coordinator.bundled();
  }

  /**
   * Deploy functions or a workflow. A workflow document (parsed JSON) deploys
   * its functions and registers the workflow under its name; relative module
   * paths resolve against `baseDir`.
   */
  async deploy(target: WorkflowDocument | FunctionConfig | FunctionConfig[], baseDir = process.cwd()): Promise<DeployResult> {
    this.checkOpen();
    // A function config names its module; anything else is read as a workflow document.
    if (Array.isArray(target) || ('module' in target && !('functions' in target))) {
      const list = this.placement.placeAuto(Array.isArray(target) ? target : [target as FunctionConfig]);
      const deployed = await this.coordinator.deploy(list, baseDir);
      await this.placement.deployElsewhere(deployed);
      this.dispatcher.invalidatePlans();
      for (const d of deployed) this.functionGraphs.delete(d.name);
      return { functions: deployed.map(placementOf) };
    }
    const doc = validateWorkflowDocument(target, `workflow "${(target as { name?: unknown }).name ?? '?'}"`);
    const graph = buildGraph(doc);
    if (this.coordinator.get(doc.name) !== undefined && this.workflows.get(doc.name) === undefined && !(doc.name in doc.functions)) {
      throw new CwasiError('E_WORKFLOW_INVALID', `"${doc.name}" already names a deployed function`);
    }
    const configs = this.placement.placeAuto(Object.entries(doc.functions).map(([name, decl]): FunctionConfig => ({ name, ...decl })));
    const existed = new Set(this.coordinator.list().map((f) => f.name));
    const deployed = await this.coordinator.deploy(configs, baseDir);
    let plan: Plan;
    try {
      // Selection for every edge now, so that a refused embedding fails the deploy.
      for (const e of graph.edges) this.coordinator.select(e.from, e.to, e.mode);
      await this.placement.deployElsewhere(deployed);
      this.dispatcher.invalidatePlans();
      plan = this.dispatcher.plan(graph);
    } catch (err) {
      // All or nothing: forget the functions this call added.
      this.coordinator.undeploy(deployed.map((d) => d.name).filter((n) => !existed.has(n)));
      this.dispatcher.invalidatePlans();
      throw err;
    }
    for (const e of plan.edges) this.coordinator.prepareEdge(e);
    this.workflows.set(doc.name, graph);
    return { functions: deployed.map(placementOf), workflow: this.planReport(plan, 'workflow') };
  }

  /** Read, validate and deploy a workflow file. */
  async deployFile(path: string): Promise<DeployResult> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new CwasiError('E_IO', `cannot read workflow ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
    }
    return this.deploy(parseWorkflow(text, path), dirname(resolve(path)));
  }

  /** Invoke a workflow or a function; resolves with the output bytes. */
  invoke(target: string, input: Uint8Array, options?: InvokeOptions): Promise<Uint8Array> {
    return this.run(target, input, options, true, true);
  }

  /** Invoke and report what happened: outputs, the mode of every edge, per-step timings. */
  invokeWithReport(target: string, input: Uint8Array, options?: InvokeOptions): Promise<InvocationReport> {
    return this.run(target, input, options, false);
  }

  /**
   * Apply `target` to every input of an iterable or async iterable (bytes,
   * `{ key, bytes }` or `{ key, file }`); yields `{ index, key?, output }` or
   * `{ index, key?, error }` per input. Concurrency is bounded and the intake
   * follows the consumer (engine/batch/map.ts). A file input is read straight
   * into the first function's memory. Throws E_UNKNOWN_FUNCTION at once for an
   * unknown target.
   */
  map(target: string, inputs: Iterable<MapInput> | AsyncIterable<MapInput>, options: MapOptions = {}): AsyncGenerator<MapResult, void, undefined> {
    this.checkOpen();
    this.graphFor(target);
    return mapInputs({
      invoke: (input, opts) => this.run(target, input, opts, true, true),
      openFile: (path) => this.fileInputs.open(path),
      defaultConcurrency: 2 * this.maxThreads,
    }, inputs, options);
  }

  private readonly settledOne = (): void => {
    if (--this.inflight === 0 && this.drained !== undefined) this.drained();
  };

  private run(target: string, input: Uint8Array | InputFill, options: InvokeOptions | undefined, lean: true, outputOnly: true): Promise<Uint8Array>;
  private run(target: string, input: Uint8Array | InputFill, options: InvokeOptions | undefined, lean: boolean): Promise<InvocationReport>;
  private run(target: string, input: Uint8Array | InputFill, options: InvokeOptions | undefined, lean: boolean, outputOnly = false): Promise<InvocationReport | Uint8Array> {
    if (this.closed) return Promise.reject(new CwasiError('E_CLOSED', 'the engine is closed'));
    if (typeof target !== 'string') return Promise.reject(new CwasiError('E_INVALID_ARG', `the target must be a function or workflow name (a string), got ${typeof target}`, { argument: 'target' }));
    let graph: WorkflowGraph;
    try {
      graph = this.graphFor(target);
    } catch (err) {
      return Promise.reject(err);
    }
    this.inflight++;
    const call = outputOnly ? this.dispatcher.invokeOutput(target, graph, input, options) : this.dispatcher.invoke(target, graph, input, options, lean);
    return call.finally(this.settledOne);
  }

  /** How `target` would run: placements, each edge's mode and the reason. */
  plan(target: string, modes?: Record<string, IfcMode>): PlanReport {
    const graph = this.graphFor(target);
    return this.planReport(this.dispatcher.plan(graph, modes), this.workflows.has(target) ? 'workflow' : 'function');
  }

  functions(): FunctionPlacement[] {
    return this.coordinator.list().map(placementOf);
  }

  workflowNames(): string[] {
    return [...this.workflows.keys()];
  }

  stats(): EngineStats {
    const d = this.dispatcher;
    const byTarget: Record<string, LatencySummary> = {};
    for (const [k, v] of d.latencyByTarget) byTarget[k] = v.summary();
    const summarize = (h: { mean: number; p50: number; p90: number; p99: number; max: number } | undefined, count: number): LatencySummary =>
      h === undefined || count === 0 ? { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 }
        : { count, meanMs: h.mean, p50Ms: h.p50, p90Ms: h.p90, p99Ms: h.p99, maxMs: h.max };
    const pool = this.pool;
    const completed = pool.completed;
    return {
      invocations: { ...d.counters, inFlight: d.inFlight },
      latencyMs: d.latency.summary(),
      latencyByTarget: byTarget,
      edgesByMode: { ...d.modeCounts },
      pool: {
        threads: pool.threads.length,
        minThreads: this.minThreads,
        maxThreads: this.maxThreads,
        queueSize: pool.queueSize,
        completed,
        utilization: pool.utilization,
        runTimeMs: summarize(pool.histogram.runTime, completed),
        waitTimeMs: summarize(pool.histogram.waitTime, completed),
      },
      memory: this.memoryStats(),
      rings: this.rings.stats(),
      fileInputs: { ...this.fileInputs.counters },
      eventLoop: this.eventLoopStats(),
      lanes: d.lanes === undefined ? { lanes: 0, calls: 0, overflow: 0, reposted: 0, moved: 0, inFlight: 0 }
        : { lanes: d.lanes.size, calls: d.lanes.counts.laned, overflow: d.lanes.counts.overflow, reposted: d.lanes.counts.reposted, moved: d.lanes.counts.moved, inFlight: d.lanes.inFlight },
    };
  }

  private eventLoopStats(): EngineStats['eventLoop'] {
    const h = this.loopDelay;
    // The histogram is in nanoseconds and empty (min > max) until its first sample.
    if (h.count === 0) return { delayP50Ms: 0, delayP99Ms: 0, delayMaxMs: 0 };
    return { delayP50Ms: h.percentile(50) / 1e6, delayP99Ms: h.percentile(99) / 1e6, delayMaxMs: h.max / 1e6 };
  }

  /**
   * Every local memory's heap figures. Never throws: a memory whose heap is
   * busy is reported as such; one whose metadata fails validation is
   * reported and discarded (one fate), and the next invocation gets a fresh one.
   */
  private memoryStats(): EngineStats['memory'] {
    const out: EngineStats['memory'] = [];
    for (const g of this.coordinator.groupsList()) {
      if (g.memory === undefined || g.host !== this.coordinator.hostName) continue;
      const st = g.stats();
      out.push(st);
      if (st.state === 'corrupt') this.dispatcher.discardGroup(g.id, st.generation, `stats: ${st.problem ?? 'heap metadata corrupt'}`);
    }
    return out;
  }

  /**
   * Stop accepting invocations, let the ones in flight finish, then stop the
   * workers and close channels. Safe to call more than once.
   */
  close(options: CloseOptions = {}): Promise<void> {
    const limit = closeLimit(options);
    if (limit instanceof CwasiError) return Promise.reject(limit);
    if (this.closing === undefined) this.closing = this.doClose(limit);
    else if (limit !== undefined && this.inflight > 0) abortAfter(this.dispatcher.invocations, limit, this.closing);
    return this.closing;
  }

  /** `await using engine = await Engine.create()`: closed (waiting for calls in flight) when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async doClose(limit: number | undefined): Promise<void> {
    this.closed = true;
    this.loopDelay.disable();
    const drained = this.inflight > 0 ? new Promise<void>((resolve) => (this.drained = resolve)) : undefined;
    if (drained !== undefined && limit !== undefined) queueMicrotask(() => abortAfter(this.dispatcher.invocations, limit, this.closing, this.dispatcher.lanes));
    await drained;
    // Each worker writes its coverage before the pool terminates it (terminated workers write nothing).
    if (process.env.NODE_V8_COVERAGE) await this.dispatcher.flushCoverage();
    this.dispatcher.closing = true;
    await this.member?.close();
    await this.dispatcher.whenWorkersStarted(WORKER_START_LIMIT_MS);
    await this.pool.destroy();
    this.dispatcher.lanes?.close();
    for (const ch of [...Object.values(this.channels), ...Object.values(this.dispatcher.cluster?.channels ?? {})]) await ch?.close?.();
    await closeRedisClients();
    this.rings.close();
  }

  /** What each worker holds (memory groups, instances, rings, the task it runs), over the control plane. */
  workerStats(): Promise<WorkerStats[]> {
    return this.dispatcher.workerStats();
  }

  private checkOpen(): void {
    if (this.closed) throw new CwasiError('E_CLOSED', 'the engine is closed');
  }

  private graphFor(target: string): WorkflowGraph {
    const wf = this.workflows.get(target);
    if (wf !== undefined) return wf;
    let g = this.functionGraphs.get(target);
    if (g === undefined) {
      this.coordinator.require(target);
      g = buildGraph({ name: target, functions: { [target]: { module: target } } });
      this.functionGraphs.set(target, g);
    }
    return g;
  }

  private planReport(plan: Plan, kind: 'workflow' | 'function'): PlanReport {
    const edges: EdgePlan[] = [
      ...plan.chained.map((c) => ({ edge: c.edge, selection: c.selection, chained: true })),
      ...plan.edges.map((e) => ({ edge: e.edge, selection: e.selection, chained: false })),
    ].sort((a, b) => a.edge.index - b.edge.index).map(({ edge, selection, chained }) => ({
      from: edge.from, to: edge.to, mode: selection.mode, reason: selection.reason, chained,
      ...(selection.refused !== undefined ? { overrideRefused: selection.refused } : {}),
    }));
    return {
      target: plan.target,
      kind,
      functions: plan.graph.nodes.map((n) => placementOf(this.coordinator.require(n))),
      edges,
      segments: plan.segments.map((s) => s.steps),
      output: plan.graph.output,
    };
  }
}

function placementOf(d: DeployedFunction): FunctionPlacement {
  return {
    name: d.name,
    host: d.placement.host,
    group: d.placement.group,
    trusted: d.placement.trusted,
    domain: d.placement.domain,
    embedded: d.group.embedded,
    source: d.source,
    staticRegion: d.staticRegion.end === 0 ? null : { start: d.staticRegion.start, end: d.staticRegion.end },
  };
}
