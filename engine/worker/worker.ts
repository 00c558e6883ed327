// Worker entry of the pool (Piscina runs the default export for each task).
//
// A worker keeps, per memory group it has seen, the group's Memory, a heap
// view and one instance per member it has run. A RunTask names the group,
// the steps (functions run back to back in this worker, each reading the
// previous output in place) and how inputs arrive and outputs leave; the
// endpoint of each input kind places it in the group's memory.
//
// Guest-initiated calls to functions outside the group leave through the
// parentPort (GuestCallRequest); the guest thread blocks on its call slot
// until the dispatcher has answered on the reply port (protocol.ts).

import { MessageChannel, parentPort, receiveMessageOnPort, threadId } from 'node:worker_threads';
import { takeCoverage } from 'node:v8';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { CwasiError, toErrorRecord } from '../errors.js';
import { Heap } from '../memory/heap.js';
import { bytesEndpoint } from '../channels/copy.js';
import { sharedEndpoint } from '../channels/embedded.js';
import { copyAcross, foreignEndpoint, foreignHeap, ringEndpoint, writeOutputToRings } from '../channels/local.js';
import { kvEndpoint, writeOutputToKv } from '../channels/remote-kv.js';
import type { PlaceTarget } from '../channels/channel.js';
import {
  type CallBridge, type InvocationContext, type RemoteCall, type Slice,
  GuestInstance, STATUS, newContext, releaseContext,
} from './host.js';
import {
  CALL_SLOTS, CALL_SLOT_BYTES, JOURNAL, JOURNAL_ARENAS, JOURNAL_FINISHED, JOURNAL_RUNNING,
  SLOT_FREE, SLOT_PENDING, SLOT_STATE, SLOT_STATUS,
  type ControlTask, type GroupInstall, type GuestCallReply, type GuestCallRequest, type InputSpec,
  type RunTask, type StepTiming, type Task, type TaskResult, type WorkerHello,
} from './protocol.js';

(globalThis as { __cwasiThreadId?: number }).__cwasiThreadId = threadId;

const now = (): number => performance.timeOrigin + performance.now();

// ── memory groups seen by this worker ──────────────────────────────────────

interface WorkerGroup {
  install: GroupInstall;
  heap: Heap;
  instances: Map<string, GuestInstance>;
  bridge: CallBridge;
}

const groups = new Map<string, WorkerGroup>();

function groupFor(install: GroupInstall): WorkerGroup {
  const existing = groups.get(install.groupId);
  if (existing !== undefined) {
    if (existing.install.generation === install.generation) return existing;
    dropGroup(existing);
  }
  const group: WorkerGroup = {
    install,
    heap: Heap.attach(install.memory),
    instances: new Map(),
    bridge: undefined as unknown as CallBridge,
  };
  group.bridge = makeBridge(group);
  groups.set(install.groupId, group);
  return group;
}

function dropGroup(group: WorkerGroup): void {
  for (const inst of group.instances.values()) inst.dispose();
  group.instances.clear();
  if (groups.get(group.install.groupId) === group) groups.delete(group.install.groupId);
}

function instanceFor(group: WorkerGroup, fn: string): GuestInstance {
  let inst = group.instances.get(fn);
  if (inst === undefined) {
    const module = group.install.modules[fn];
    if (module === undefined) throw new CwasiError('E_UNKNOWN_FUNCTION', `${fn} is not a member of memory group ${group.install.groupId}`);
    inst = new GuestInstance(fn, module, group.install.memory, group.heap);
    group.instances.set(fn, inst);
  }
  return inst;
}

// ── guest-initiated calls that leave the worker ────────────────────────────

const slotsBuffer = new SharedArrayBuffer(CALL_SLOTS * CALL_SLOT_BYTES);
const slots = new Int32Array(slotsBuffer);
const replyChannel = new MessageChannel();
const replyPort = replyChannel.port1;
/** Replies received while waiting for another slot. */
const earlyReplies = new Map<number, GuestCallReply>();
/** Slots whose caller gave up (deadline); their late replies are released and dropped. */
const abandoned = new Set<number>();
let helloSent = false;

function sendHello(): void {
  if (helloSent || parentPort === null) return;
  helloSent = true;
  const hello: WorkerHello = { type: 'cwasi:hello', threadId, replyPort: replyChannel.port2, slots: slotsBuffer };
  parentPort.postMessage(hello, [replyChannel.port2]);
}

function slotIndex(slot: number, field: number): number {
  return (slot * CALL_SLOT_BYTES + field) >> 2;
}

function allocSlot(): number {
  for (let i = 0; i < CALL_SLOTS; i++) {
    if (abandoned.has(i)) continue;
    // Only this thread moves a slot out of FREE, so a plain check suffices.
    if (Atomics.load(slots, slotIndex(i, SLOT_STATE)) === SLOT_FREE) return i;
  }
  throw new CwasiError('E_QUEUE_FULL', `more than ${CALL_SLOTS} guest calls in flight in one worker`);
}

function drainReplies(): void {
  for (;;) {
    const m = receiveMessageOnPort(replyPort);
    if (m === undefined) return;
    const reply = m.message as GuestCallReply;
    if (abandoned.has(reply.slot)) {
      abandoned.delete(reply.slot);
      if (reply.ok && reply.release) releaseToken(reply.release);
      Atomics.store(slots, slotIndex(reply.slot, SLOT_STATE), SLOT_FREE);
      continue;
    }
    earlyReplies.set(reply.slot, reply);
  }
}

function releaseToken(token: NonNullable<Extract<GuestCallReply, { ok: true }>['release']>): void {
  try {
    const heap = foreignHeap(token.memory);
    for (const a of token.arenas) heap.release({ id: a.id, head: a.head });
  } catch {
    // A discarded memory: nothing to give back.
  }
}

/** Spin this long for a reply before sleeping (a wake costs ~25 µs). */
const CALL_SPIN_MS = 0.05;

/** Journal of the task running now (protocol.ts TASK JOURNAL). */
let journal: Int32Array | undefined;

function journalArena(id: number): void {
  const j = journal;
  if (j === undefined) return;
  const n = j[JOURNAL.COUNT >> 2]!;
  if (n >= JOURNAL_ARENAS) {
    Atomics.store(j, JOURNAL.OVERFLOW >> 2, 1);
    return;
  }
  j[(JOURNAL.ARENAS >> 2) + n] = id;
  // Publish the id before the count: a reader that sees the count sees the id.
  Atomics.store(j, JOURNAL.COUNT >> 2, n + 1);
}

function makeBridge(group: WorkerGroup): CallBridge {
  return {
    onArena(arena) {
      journalArena(arena.id);
    },
    embeddedPeer(_ctx, target) {
      if (!group.install.embedded || group.install.modules[target] === undefined) return undefined;
      return instanceFor(group, target);
    },
    start(ctx, target, payload): RemoteCall {
      sendHello();
      const slot = allocSlot();
      // Publish PENDING before the request can be answered.
      Atomics.store(slots, slotIndex(slot, SLOT_STATE), SLOT_PENDING);
      const req: GuestCallRequest = {
        type: 'cwasi:call', threadId, slot, invocationId: ctx.invocationId, caller: ctx.fn, target,
        payload: { groupId: group.install.groupId, generation: group.install.generation, memory: group.install.memory, ptr: payload.ptr, len: payload.len },
        deadline: ctx.deadline,
      };
      parentPort!.postMessage(req);
      return { slot };
    },
    wait(ctx, call) {
      const state = slotIndex(call.slot, SLOT_STATE);
      const spinUntil = performance.now() + CALL_SPIN_MS;
      while (Atomics.load(slots, state) === SLOT_PENDING) {
        if (performance.now() < spinUntil) continue;
        const left = ctx.deadline - Date.now();
        if (left <= 0) {
          abandoned.add(call.slot);
          return { status: STATUS.ABORTED, error: new CwasiError('E_TIMEOUT', `${ctx.fn}: deadline passed waiting for a call`) };
        }
        // Sleeps until the dispatcher stores DONE and notifies (or the deadline).
        Atomics.wait(slots, state, SLOT_PENDING, Math.min(left, 1000));
      }
      const status = Atomics.load(slots, slotIndex(call.slot, SLOT_STATUS));
      let reply = earlyReplies.get(call.slot);
      if (reply === undefined) {
        drainReplies();
        reply = earlyReplies.get(call.slot);
      }
      earlyReplies.delete(call.slot);
      Atomics.store(slots, state, SLOT_FREE);
      if (reply === undefined) {
        return { status: STATUS.CALL_FAILED, error: new CwasiError('E_INTERNAL', 'guest call completed without a reply') };
      }
      if (!reply.ok) return { status: status || STATUS.CALL_FAILED, error: CwasiError.fromRecord(reply.error) };
      const target = placeTarget(group, ctx);
      const r = reply.result;
      if (r.kind === 'foreign' && r.groupId === group.install.groupId && r.generation === group.install.generation) {
        // The callee shares this memory: take its result in place and keep its arenas with the caller's.
        if (!group.heap.inBounds(r.ptr, r.len)) return { status: STATUS.CALL_FAILED, error: new CwasiError('E_BAD_DESCRIPTOR', 'call result outside the memory') };
        for (const a of reply.release?.arenas ?? []) ctx.extraArenas.push({ id: a.id, head: a.head });
        return { status: STATUS.OK, result: { ptr: r.ptr, len: r.len } };
      }
      try {
        let result: Slice;
        if (r.kind === 'bytes') result = bytesEndpoint.place(r, target) as Slice;
        else if (r.kind === 'foreign' || r.kind === 'shared') result = copyAcross(foreignHeap(r.memory), r.generation, r.ptr, r.len, target);
        else throw new CwasiError('E_INTERNAL', `guest call result of kind ${r.kind}`);
        return { status: STATUS.OK, result };
      } catch (err) {
        const e = err instanceof CwasiError ? err : new CwasiError('E_CHANNEL', String(err));
        return { status: e.code === 'E_PAYLOAD_TOO_LARGE' || e.code === 'E_MEMORY_LIMIT' ? STATUS.LIMIT : STATUS.CALL_FAILED, error: e };
      } finally {
        if (reply.release) releaseToken(reply.release);
      }
    },
  };
}

function placeTarget(group: WorkerGroup, ctx: InvocationContext): PlaceTarget {
  return {
    groupId: group.install.groupId,
    generation: group.install.generation,
    heap: group.heap,
    arena: ctx.arena,
    maxPayloadBytes: ctx.maxPayloadBytes,
    deadline: ctx.deadline,
  };
}

async function placeInput(spec: InputSpec, target: PlaceTarget): Promise<Slice> {
  switch (spec.kind) {
    case 'bytes': return bytesEndpoint.place(spec, target);
    case 'shared': return sharedEndpoint.place(spec, target);
    case 'foreign': return foreignEndpoint.place(spec, target);
    case 'ring': return ringEndpoint.place(spec, target);
    case 'kv': return kvEndpoint.place(spec, target);
  }
}

// ── tasks ──────────────────────────────────────────────────────────────────

async function run(task: RunTask): Promise<TaskResult> {
  journal = new Int32Array(task.journal);
  Atomics.store(journal, JOURNAL.THREAD >> 2, threadId + 1);
  Atomics.store(journal, JOURNAL.STATE >> 2, JOURNAL_RUNNING);
  try {
    return await runSteps(task);
  } finally {
    Atomics.store(journal, JOURNAL.STATE >> 2, JOURNAL_FINISHED);
    journal = undefined;
  }
}

async function runSteps(task: RunTask): Promise<TaskResult> {
  let group: WorkerGroup | undefined;
  const contexts: InvocationContext[] = [];
  const timings: StepTiming[] = [];
  let step = task.steps[0] ?? '?';
  try {
    if (Date.now() > task.deadline) throw new CwasiError('E_TIMEOUT', 'deadline passed before the task started');
    group = groupFor(task.install);
    const opts = { invocationId: task.invocationId, deadline: task.deadline, maxPayloadBytes: task.maxPayloadBytes, forceRemote: task.forceRemote };
    let inputs: Slice[] = [];
    let out: Slice | undefined;
    for (let i = 0; i < task.steps.length; i++) {
      step = task.steps[i]!;
      const inst = instanceFor(group, step);
      const ctx = newContext(step, group.heap, group.bridge, opts);
      contexts.push(ctx);
      if (i === 0) {
        const target = placeTarget(group, ctx);
        for (const spec of task.inputs) inputs.push(await placeInput(spec, target));
      } else {
        inputs = [out!];
      }
      const inputReady = now();
      out = inst.invoke(ctx, inputs);
      timings.push({ fn: step, inputReady, done: now() });
      // The step before this one is no longer referenced: free it.
      if (i >= 1) releaseContext(contexts[i - 1]!);
    }
    const last = contexts[contexts.length - 1]!;
    const result: TaskResult = { ok: true, threadId, outputLength: out!.len, timings };
    const logs = contexts.flatMap((c) => c.logs);
    if (logs.length > 0) result.logs = logs;
    const transfer: ArrayBuffer[] = [];
    if (task.output.bytes) {
      const bytes = new Uint8Array(out!.len);
      bytes.set(group.heap.bytes().subarray(out!.ptr, out!.ptr + out!.len));
      result.bytes = bytes;
      transfer.push(bytes.buffer);
    }
    if (task.output.rings) writeOutputToRings(task.output.rings, group.heap, group.install.generation, out!, task.deadline);
    if (task.output.kv) result.kvChunks = await writeOutputToKv(task.output.kv, group.heap, out!);
    if (task.output.keep) {
      const arenas = [last.arena, ...last.extraArenas].filter((a) => a.id !== 0).map((a) => ({ id: a.id, head: a.head }));
      result.kept = { ptr: out!.ptr, len: out!.len, arenas };
    } else {
      releaseContext(last);
    }
    if (transfer.length === 0) return result;
    // Transfer the output bytes instead of cloning them a second time.
    return move({ [transferableSymbol]: transfer, [valueSymbol]: result } as never) as unknown as TaskResult;
  } catch (err) {
    const error = toErrorRecord(err, 'E_FUNCTION_TRAP');
    const trapped = contexts.some((c) => c.groupTrapped) || error.code === 'E_FUNCTION_TRAP';
    const corrupt = error.code === 'E_MEMORY_CORRUPT';
    if (group !== undefined) {
      // A trapped instance is not reused; its memory may be discarded by the dispatcher.
      const inst = group.instances.get(step);
      if (trapped && inst) {
        inst.dispose();
        group.instances.delete(step);
      }
      for (const c of contexts) {
        try {
          releaseContext(c);
        } catch {
          // corrupt heap: the group is discarded below
        }
      }
      if ((trapped && group.install.embedded) || corrupt) dropGroup(group);
    }
    return { ok: false, threadId, fn: step, error, discardGroup: (trapped && (group?.install.embedded ?? false)) || corrupt };
  }
}

function control(task: ControlTask): TaskResult {
  if (task.barrier !== undefined && task.parties !== undefined) {
    // Hold this worker until every party arrived, so each worker takes one task.
    const b = new Int32Array(task.barrier);
    Atomics.add(b, 0, 1);
    Atomics.notify(b, 0);
    const deadline = Date.now() + 2000;
    let seen: number;
    while ((seen = Atomics.load(b, 0)) < task.parties && Date.now() < deadline) Atomics.wait(b, 0, seen, 50);
  }
  if (task.type === 'flush-coverage' && process.env.NODE_V8_COVERAGE) takeCoverage();
  return { ok: true, threadId, control: true };
}

export default async function handle(task: Task): Promise<TaskResult> {
  sendHello();
  if (task.type === 'run') return run(task);
  return control(task);
}
