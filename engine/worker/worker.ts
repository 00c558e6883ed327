// Worker entry of the pool (Piscina runs the default export for each task).
//
// A worker keeps, per memory group it has seen, the group's Memory, a heap
// view and one instance per member it has run. A RunTask names the group,
// the steps (run back to back here, each reading the previous output in
// place), how inputs arrive and outputs leave (the endpoint of each input
// kind places it), and maybe a continuation consumer run on the output after.
//
// Shared objects (memories with their modules, rings) are named by key in
// task messages and fetched from the main thread (main-link.ts); guest calls
// to functions outside the group leave the same way. Single-function calls
// also arrive on the call lane (lane-server.ts), served between tasks.

import { threadId, workerData } from 'node:worker_threads';
import { takeCoverage } from 'node:v8';
import { CwasiError, toErrorRecord } from '../errors.js';
import { Heap } from '../memory/heap.js';
import { emitOutput, placeInput } from '../channels/endpoints.js';
import { copyAcross } from '../channels/local.js';
import { ringAborted } from '../ring/layout.js';
import type { PlaceTarget, SharedResolver } from '../channels/channel.js';
import { claimTask } from './cancel-board.js';
import { serveControl, type WorkerControl, type WorkerStats } from './control.js';
import {
  type CallBridge, type InvocationContext, type Slice,
  GuestInstance, newContext, releaseContext,
} from './host.js';
import { OrphanRegions } from './pins.js';
import { LaneServer, SPIN_ALLOWED, SPIN_COUNT, type LaneFailure, type LaneRunner, type LaneTargetDef } from './lane-server.js';
import { controlChannel, ctl, laneBuffer, laneChannel, onAbandonedRelease, requestShared, sendHello } from './main-link.js';
import { DEFAULT_CALL_LIMITS } from './context.js';
import { TaskJournal } from './journal.js';
import { transferOut } from './transfer-out.js';
import { makeBridge } from './call-bridge.js';
import { debug } from '../trace/channels.js';
import { abortLive, finishLive, isLiveInput, openLiveInput, openLiveOutput } from './live-streams.js';
import {
  type WorkerData, type GroupInstall, type GroupKey, type MemoryRef, type ReleaseToken,
  type RunSuccess, type RunTask, type StepTiming, type Task, type TaskResult,
} from './protocol.js';

(globalThis as { __cwasiThreadId?: number }).__cwasiThreadId = threadId;

const now = (): number => performance.timeOrigin + performance.now();

// ── links to the main thread (main-link.ts), shared objects ────────────────

onAbandonedRelease((token) => releaseToken(token));

/** Latest install seen per group id. */
const installs = new Map<string, GroupInstall>();
const rings = new Map<number, SharedArrayBuffer>();
const heaps = new WeakMap<WebAssembly.Memory, Heap>();

function installFor(key: GroupKey): GroupInstall {
  const have = installs.get(key.groupId);
  if (have !== undefined && have.generation === key.generation && have.version >= key.version) return have;
  if (have !== undefined && have.generation > key.generation) {
    throw new CwasiError('E_BAD_DESCRIPTOR', `memory group ${key.groupId} generation ${key.generation} was discarded`);
  }
  const reply = requestShared(`group:${key.groupId}#${key.generation}`);
  if (!('install' in reply) || reply.install.generation !== key.generation) {
    throw new CwasiError('E_BAD_DESCRIPTOR', `memory group ${key.groupId} generation ${key.generation} is gone`);
  }
  installs.set(key.groupId, reply.install);
  return reply.install;
}

function heapFor(install: GroupInstall): Heap {
  const memory = install.memory;
  let heap = heaps.get(memory);
  if (heap === undefined) {
    // One view per memory for the worker's lifetime: it may cache chunks.
    heap = Heap.attach(memory, install.heapLock, true);
    heaps.set(memory, heap);
  }
  return heap;
}

/** The engine's polling share (workerData.lanes: pollers now, pollers allowed), shared with the lane (lane-server.ts). */
const pollShare = new Int32Array((workerData as WorkerData).lanes);

const shared: SharedResolver = {
  startPolling(): boolean {
    if (Atomics.add(pollShare, SPIN_COUNT, 1) < Atomics.load(pollShare, SPIN_ALLOWED)) return true;
    Atomics.sub(pollShare, SPIN_COUNT, 1);
    return false;
  },
  stopPolling(): void {
    Atomics.sub(pollShare, SPIN_COUNT, 1);
  },
  heapOf(ref: MemoryRef): Heap {
    // Another function's memory (a source to copy from, a result to release).
    // Its corruption is its owner's fate: reported as a bad descriptor, so
    // that the task reading it fails without its own memory being discarded.
    try {
      return heapFor(installFor({ groupId: ref.groupId, generation: ref.generation, version: 0 }));
    } catch (err) {
      if (err instanceof CwasiError && err.code === 'E_MEMORY_CORRUPT') {
        throw new CwasiError('E_BAD_DESCRIPTOR', `memory ${ref.groupId}#${ref.generation} it reads from is corrupt: ${err.message}`);
      }
      throw err;
    }
  },
  ringOf(id: number): SharedArrayBuffer {
    let sab = rings.get(id);
    if (sab === undefined) {
      // The main thread aborts a ring it drops (a failed transfer, one more than its pool keeps): forget those
      // here, or their buffers stay alive as long as this worker.
      for (const [known, buffer] of rings) if (ringAborted(buffer)) rings.delete(known);
      const reply = requestShared(`ring:${id}`);
      if (!('ring' in reply)) throw new CwasiError('E_CHANNEL', `ring ${id} is gone`);
      sab = reply.ring;
      rings.set(id, sab);
    }
    return sab;
  },
};

// ── memory groups seen by this worker ──────────────────────────────────────

interface WorkerGroup {
  install: GroupInstall;
  heap: Heap;
  instances: Map<string, GuestInstance>;
  bridge: CallBridge;
}

const groups = new Map<string, WorkerGroup>();

function groupFor(key: GroupKey): WorkerGroup {
  const existing = groups.get(key.groupId);
  if (existing !== undefined && existing.install.generation === key.generation) {
    if (existing.install.version < key.version) existing.install = installFor(key);
    return existing;
  }
  const install = installFor(key);
  if (existing !== undefined) dropGroup(existing);
  const group: WorkerGroup = { install, heap: heapFor(install), instances: new Map(), bridge: undefined as unknown as CallBridge };
  group.bridge = makeBridge({
    group, onArena: (id) => journalArena(group, id), instanceFor: (fn) => instanceFor(group, fn),
    placeTarget: (ctx) => placeTarget(group, ctx), releaseToken,
  });
  groups.set(key.groupId, group);
  return group;
}

function dropGroup(group: WorkerGroup): void {
  try {
    if (group.heap.generation === group.install.generation) group.heap.flushCache();
  } catch {
    // a corrupt or discarded memory keeps its chunks
  }
  for (const inst of group.instances.values()) inst.dispose();
  group.instances.clear();
  // A discarded memory takes its orphaned regions with it.
  if (group.heap.generation !== group.install.generation) OrphanRegions.forget(group.heap);
  if (groups.get(group.install.groupId) === group) groups.delete(group.install.groupId);
}

function instanceFor(group: WorkerGroup, fn: string): GuestInstance {
  let inst = group.instances.get(fn);
  if (inst === undefined) {
    const module = group.install.modules[fn];
    if (module === undefined) throw new CwasiError('E_UNKNOWN_FUNCTION', `${fn} is not a member of memory group ${group.install.groupId}`);
    inst = new GuestInstance(fn, module, group.install.memory, group.heap, group.install.stackBytes[fn]);
    group.instances.set(fn, inst);
  }
  return inst;
}

// ── the task journal (journal.ts) ──────────────────────────────────────────

const journal = new TaskJournal(ctl);
/** The memory groups of the running task, in step order (journal entries name them by index). */
let journalGroups: WorkerGroup[] = [];

function journalStart(taskId: number): void {
  journal.start(taskId);
}

function journalArena(group: WorkerGroup, id: number): void {
  journal.arena(journalGroups.indexOf(group), id);
}

const NO_GROUPS: ReadonlySet<WorkerGroup> = new Set();

function journalEnd(): void {
  activeGroups = NO_GROUPS;
  journal.end();
}

// ── guest-initiated calls that leave the worker ────────────────────────────

function releaseToken(token: ReleaseToken): void {
  try {
    const heap = shared.heapOf(token);
    if (heap.generation !== token.generation) return;
    for (const a of token.arenas) heap.release({ id: a.id, head: a.head });
  } catch {
    // A discarded memory: nothing to give back.
  }
}

function placeTarget(group: WorkerGroup, ctx: InvocationContext): PlaceTarget {
  return {
    groupId: group.install.groupId,
    generation: group.install.generation,
    heap: group.heap,
    arena: ctx.arena,
    maxPayloadBytes: ctx.maxPayloadBytes,
    deadline: ctx.deadline,
    shared,
  };
}

// ── tasks ──────────────────────────────────────────────────────────────────

interface RunState {
  task: RunTask;
  /** The memory group of every step (steps of one task may live in different memories). */
  groups: WorkerGroup[];
  contexts: InvocationContext[];
  /** Index of the step running (or failing). */
  at: number;
}

/** The engine's cancel board (protocol.ts CANCEL BOARD). */
const cancelBoard = new Int32Array((workerData as WorkerData).cancelBoard);

function run(task: RunTask): TaskResult | Promise<TaskResult> {
  // Publish RUNNING before claiming the task: a dispatcher that finds the slot
  // claimed looks for the task in the journals and finds this worker (one it
  // has not met yet is terminated when its hello or a share request arrives).
  journalStart(task.taskId);
  if (debug.enabled) debug('task %d %s on thread %d trace %s', task.taskId, task.steps.join(' → '), threadId, task.traceparent ?? '-');
  try {
    if (!claimTask(cancelBoard, task.cancelSlot, task.taskId)) throw new CwasiError('E_ABORTED', 'cancelled before it started');
  } catch (err) {
    journalEnd();
    return { ok: false, threadId, fn: task.steps[0] ?? '?', error: toErrorRecord(err, 'E_INTERNAL', true), discardGroup: false };
  }
  const state: RunState = { task, groups: [], contexts: [], at: 0 };
  let pending: Promise<TaskResult> | undefined;
  try {
    // Only remote-kv inputs and outputs are asynchronous; the rest stays synchronous.
    const placed = begin(state, true);
    if (placed instanceof Promise) {
      pending = placed.then((inputs) => complete(state, inputs)).catch((err) => failure(state, err)).then(transferOut);
      return pending;
    }
    const done = complete(state, placed);
    if (done instanceof Promise) {
      pending = done.catch((err) => failure(state, err)).then(transferOut);
      return pending;
    }
    return transferOut(done);
  } catch (err) {
    return failure(state, err);
  } finally {
    if (pending === undefined) {
      journalEnd();
    } else {
      // Lane calls wait while this task's journal is open (lane-server.ts busy()).
      asyncTasks++;
      void pending.finally(() => {
        journalEnd();
        asyncTasks--;
        lane.kick();
      });
    }
  }
}

/**
 * Resolve the groups, create every step's context and place the first step's
 * inputs. `journal`: the task's own groups are the journal's (a continuation
 * runs in groups the task already journals).
 */
function begin(state: RunState, journal: boolean): Slice[] | Promise<Slice[]> {
  const task = state.task;
  if (OrphanRegions.count > 0) OrphanRegions.reap();
  if (Date.now() > task.deadline) throw new CwasiError('E_TIMEOUT', 'deadline passed before the task started');
  if (task.groups.length !== task.steps.length) throw new CwasiError('E_INTERNAL', 'a task needs one memory group per step');
  for (const key of task.groups) state.groups.push(groupFor(key));
  if (journal) {
    journalGroups = state.groups;
    activeGroups = new Set(state.groups);
  } else if (state.groups.some((g) => !journalGroups.includes(g))) {
    throw new CwasiError('E_INTERNAL', 'a continuation must run in a memory its task already uses');
  }
  // Contexts of every step are ready before the first one runs, so that
  // between two steps there is nothing but the handoff itself.
  task.steps.forEach((fn, i) => state.contexts.push(newContext(fn, state.groups[i]!.heap, state.groups[i]!.bridge, task)));
  const target = placeTarget(state.groups[0]!, state.contexts[0]!);
  const inputs: Slice[] = [];
  for (let i = 0; i < task.inputs.length; i++) {
    const spec = task.inputs[i]!;
    if (isLiveInput(spec)) {
      // Read by the function as its input stream while its producer writes it.
      openLiveInput(spec, state.contexts[0]!, shared, task.deadline);
      continue;
    }
    const placed = placeInput(spec, target);
    if (placed instanceof Promise) {
      // Asynchronous endpoint: place this and the remaining inputs in order.
      return (async () => {
        inputs.push(await placed);
        for (let k = i + 1; k < task.inputs.length; k++) inputs.push(await placeInput(task.inputs[k]!, target));
        return inputs;
      })();
    }
    inputs.push(placed);
  }
  return inputs;
}

/** Run every step, then emit the output as the task asked. */
function complete(state: RunState, firstInputs: Slice[]): TaskResult | Promise<TaskResult> {
  const { task, contexts, groups } = state;
  const instances = task.steps.map((fn, i) => instanceFor(groups[i]!, fn));
  // Step times go into a preallocated array: between one step returning and
  // the next starting nothing allocates, so the handoff is only the loop.
  const stamps = new Float64Array(3 * task.steps.length);
  let inputs = firstInputs;
  let out: Slice | undefined;
  const lastAt = task.steps.length - 1;
  // The live output is the last step's (its window lies in that step's memory): a failure here is that step's.
  state.at = lastAt;
  openLiveOutput(task.output, contexts[lastAt]!, groups[lastAt]!.heap, groups[lastAt]!.install.generation, task.deadline, shared);
  for (let i = 0; i < task.steps.length; i++) {
    state.at = i;
    if (i > 0 && groups[i] !== groups[i - 1]) {
      // Another memory (a local edge run in this worker): the host copies the
      // previous output across once; this function never sees that memory.
      const prev = groups[i - 1]!;
      inputs = [copyAcross(prev.heap, prev.install.generation, out!.ptr, out!.len, placeTarget(groups[i]!, contexts[i]!))];
    }
    stamps[3 * i] = now();
    out = instances[i]!.invoke(contexts[i]!, inputs);
    finishLive(contexts[i]!, out, groups[i]!.heap);
    stamps[3 * i + 1] = now();
    stamps[3 * i + 2] = out.len;
    inputs = [out];
    // The step before this one is no longer referenced: free it.
    if (i >= 1) releaseContext(contexts[i - 1]!);
  }
  const timings: StepTiming[] = task.skipTimings === true ? []
    : task.steps.map((fn, i) => ({ fn, inputReady: stamps[3 * i]!, done: stamps[3 * i + 1]!, outputBytes: stamps[3 * i + 2]! }));
  const last = contexts[contexts.length - 1]!;
  const group = groups[groups.length - 1]!;
  const result: RunSuccess = { ok: true, threadId, outputLength: out!.len, timings, runMs: stamps[3 * task.steps.length - 2]! - stamps[0]! };
  for (const c of contexts) if (c.logs.length > 0) (result.logs ??= []).push(...c.logs);
  const output = task.output;
  const finish = (): TaskResult | Promise<TaskResult> => {
    if (output.keep) {
      const arenas = [last.arena, ...last.extraArenas].filter((a) => a.id !== 0).map((a) => ({ id: a.id, head: a.head }));
      result.kept = { ptr: out!.ptr, len: out!.len, arenas };
    } else {
      releaseContext(last);
    }
    if (task.then === undefined || result.kept === undefined) return result;
    const then = runThen(task, group, result.kept);
    if (then instanceof Promise) return then.then((t) => ({ ...result, then: t }));
    (result as TaskResult & { ok: true }).then = then;
    return result;
  };
  const emitted = emitOutput(output, { heap: group.heap, generation: group.install.generation, ptr: out!.ptr, len: out!.len, deadline: task.deadline, shared }, result);
  return emitted instanceof Promise ? emitted.then(finish) : finish();
}

/**
 * The task's continuation (RunTask.then): a consumer run right after the
 * steps, on the output the last one kept in `group`, read in place. Its
 * failure is its own: the steps before it succeeded.
 */
function runThen(task: RunTask, group: WorkerGroup, kept: { ptr: number; len: number }): TaskResult | Promise<TaskResult> {
  const then = task.then!;
  const sub: RunTask = {
    type: 'run', taskId: task.taskId, cancelSlot: task.cancelSlot, invocationId: task.invocationId, steps: then.steps, groups: then.groups,
    inputs: [{ kind: 'shared', groupId: group.install.groupId, generation: group.install.generation, ptr: kept.ptr, len: kept.len }],
    output: then.output, deadline: task.deadline, maxPayloadBytes: task.maxPayloadBytes, forceRemote: task.forceRemote,
    callDepth: task.callDepth, callLimits: task.callLimits,
  };
  if (task.traceparent !== undefined) sub.traceparent = task.traceparent;
  if (task.skipTimings === true) sub.skipTimings = true;
  const state: RunState = { task: sub, groups: [], contexts: [], at: 0 };
  try {
    const placed = begin(state, false);
    const done = placed instanceof Promise ? placed.then((inputs) => complete(state, inputs)) : complete(state, placed);
    return done instanceof Promise ? done.catch((err) => failure(state, err)) : done;
  } catch (err) {
    return failure(state, err);
  }
}

/** Turn a failure into a RunFailure, releasing what the task held. */
function failure(state: RunState, err: unknown): TaskResult {
  const step = state.task.steps[state.at] ?? '?';
  const group = state.groups[state.at];
  // With its stack and cause: the main thread rebuilds the error with both (errors.ts).
  const error = toErrorRecord(err, 'E_FUNCTION_TRAP', true);
  abortLive(state.task, shared);
  const trapped = state.contexts.some((c) => c.groupTrapped) || error.code === 'E_FUNCTION_TRAP';
  const corrupt = error.code === 'E_MEMORY_CORRUPT';
  if (group !== undefined) {
    // A trapped instance is not reused; in an embedding group the dispatcher discards the memory.
    const inst = group.instances.get(step);
    if (trapped && inst) {
      inst.dispose();
      group.instances.delete(step);
    }
  }
  if (!corrupt) {
    for (const c of state.contexts) {
      try {
        releaseContext(c);
      } catch {
        // corrupt heap: the group is discarded below
      }
    }
  }
  // What a call that hit the memory limit allocated is garbage now (its pins
  // went with its arenas above): collect it, so its regions go back to the memory.
  const inst = group?.instances.get(step);
  if (inst !== undefined && !trapped && !corrupt && error.code === 'E_MEMORY_LIMIT') collectOrDrop(group!, step, inst);
  const discard = (group !== undefined && trapped && group.install.embedded) || corrupt;
  if (discard && group !== undefined) dropGroup(group);
  const failed: TaskResult = { ok: false, threadId, fn: step, error, discardGroup: discard };
  // A memory found corrupt before its group was set up (its header) is named by the task.
  const groupId = group?.install.groupId ?? state.task.groups[state.at]?.groupId;
  if (groupId !== undefined) failed.groupId = groupId;
  return failed;
}

function collectOrDrop(group: WorkerGroup, step: string, inst: GuestInstance): void {
  try {
    inst.collect();
  } catch {
    inst.dispose();
    group.instances.delete(step);
  }
}

// ── the control plane (comlink, engine/worker/control.ts) ──────────────────

/** Groups the running task uses: never dropped under its feet. */
let activeGroups: ReadonlySet<WorkerGroup> = NO_GROUPS;

const controlApi: WorkerControl = {
  stats(): WorkerStats {
    const running = journal.running();
    return {
      threadId,
      groups: [...groups.values()].map((g) => ({
        groupId: g.install.groupId, generation: g.install.generation, version: g.install.version, instances: [...g.instances.keys()],
        heaps: Object.fromEntries([...g.instances].map(([fn, inst]) => [fn, inst.heapFigures()])),
      })),
      rings: rings.size,
      runningTask: running ? journal.task() : undefined,
      heapUsedBytes: process.memoryUsage().heapUsed,
    };
  },
  dropGroup(groupId: string, generation: number): boolean {
    const g = groups.get(groupId);
    if (g === undefined || g.install.generation !== generation || activeGroups.has(g)) return false;
    dropGroup(g);
    return true;
  },
  flushCoverage(): boolean {
    if (!process.env.NODE_V8_COVERAGE) return false;
    takeCoverage();
    return true;
  },
};

serveControl(controlApi, controlChannel.port1);

// ── the call lane (lane-server.ts) ─────────────────────────────────────────

/** Pool tasks still running asynchronously (remote-kv endpoints). */
let asyncTasks = 0;

const laneRunner: LaneRunner = {
  busy: () => asyncTasks > 0,
  begin: (callId) => journalStart(-callId),
  end: journalEnd,
  run(def, input, deadline, callId, sink) {
    if (def.chain !== undefined) return runChain(def, input, deadline, callId, sink);
    const task: RunTask = {
      type: 'run', taskId: -callId, cancelSlot: -1, invocationId: callId, steps: [def.fn], groups: [def.group], inputs: [], output: LANE_OUTPUT,
      deadline, maxPayloadBytes: def.maxPayloadBytes, forceRemote: [], callDepth: 0, callLimits: DEFAULT_CALL_LIMITS,
    };
    const state: RunState = { task, groups: [], contexts: [], at: 0 };
    try {
      if (OrphanRegions.count > 0) OrphanRegions.reap();
      if (Date.now() > deadline) throw new CwasiError('E_TIMEOUT', 'deadline passed before the call started');
      const group = groupFor(def.group);
      state.groups.push(group);
      journalGroups = state.groups;
      activeGroups = new Set(state.groups);
      const ctx = newContext(def.fn, group.heap, group.bridge, task);
      state.contexts.push(ctx);
      const placed = placeInput({ kind: 'bytes', bytes: input }, placeTarget(group, ctx)) as Slice;
      const out = instanceFor(group, def.fn).invoke(ctx, [placed]);
      sink(group.heap.bytes().subarray(out.ptr, out.ptr + out.len));
      releaseContext(ctx);
      return undefined;
    } catch (err) {
      const f = failure(state, err);
      return laneFailure(f);
    }
  },
};
const LANE_OUTPUT = { keep: false, bytes: true } as const;

/** A task result's failure as the lane reports it (undefined: it succeeded). */
function laneFailure(r: TaskResult): LaneFailure | undefined {
  return r.ok ? undefined : { error: r.error, discardGroup: r.discardGroup, ...(r.groupId !== undefined ? { groupId: r.groupId } : {}) };
}

/** A lane call of a chain: the steps run as a pool task's would (begin, complete), the output to `sink`. */
function runChain(def: LaneTargetDef, input: Uint8Array, deadline: number, callId: number, sink: (out: Uint8Array) => void): LaneFailure | undefined {
  const chain = def.chain!;
  const task: RunTask = {
    type: 'run', taskId: -callId, cancelSlot: -1, invocationId: callId, steps: [def.fn, ...chain.map((s) => s.fn)], groups: [def.group, ...chain.map((s) => s.group)],
    inputs: [{ kind: 'bytes', bytes: input }], output: LANE_OUTPUT, deadline, maxPayloadBytes: def.maxPayloadBytes, forceRemote: [], callDepth: 0,
    callLimits: DEFAULT_CALL_LIMITS, skipTimings: true,
  };
  const state: RunState = { task, groups: [], contexts: [], at: 0 };
  let result: TaskResult;
  try {
    const placed = begin(state, true);
    const done = placed instanceof Promise ? undefined : complete(state, placed);
    if (done === undefined || done instanceof Promise) throw new CwasiError('E_INTERNAL', 'a lane chain placed or emitted asynchronously');
    result = done;
  } catch (err) {
    result = failure(state, err);
  }
  if (!result.ok) return laneFailure(result);
  sink(result.bytes!);
  return undefined;
}
const lane = new LaneServer(laneBuffer, laneChannel.port1, (workerData as WorkerData).lanes, laneRunner);
laneChannel.port1.unref();
lane.start();
// Say hello at start, so that even a worker that never runs a task can be
// reached. From a microtask: the hello then means the module loader is done
// with this file (Node 20 aborts the process if a worker is terminated inside
// require() of an ES module), and close() waits for it before terminating.
queueMicrotask(sendHello);

export default function handle(task: Task): TaskResult | Promise<TaskResult> {
  return run(task);
}
