// Messages between the main thread (Request Dispatcher) and the pool's
// workers. Types only: no behaviour lives in this file.
//
//   main → worker   RunTask                        as Piscina tasks
//   main ↔ worker   WorkerControl (control.ts)     comlink RPC on the worker's control port
//   worker → main   TaskResult                     as the Piscina task result
//   worker → main   WorkerHello, GuestCallRequest, ShareRequest   on parentPort
//   main → worker   GuestCallReply, ShareReply     on the worker's reply port,
//                                                  then a wake on its control block
//   main ↔ worker   single-function calls          on the worker's call lane
//                                                  (engine/lane/layout.ts)
//
// Task messages carry only plain data. Shared objects (a group's Memory and
// compiled Modules, ring SharedArrayBuffers) are named by key; a worker that
// has not seen a key asks for it once (ShareRequest) and keeps it, because
// cloning a Memory or a Module into every task costs tens of microseconds.
//
// Byte-level layouts used beside these messages are defined where they live:
// the memory header and heap blocks in engine/memory/layout.ts, the worker
// control block below, the ring in engine/ring/ring.ts.

import type { MessagePort } from 'node:worker_threads';
import type { ErrorRecord } from '../errors.js';
import type { IfcMode } from '../selection.js';
import type { ArenaRef, InputSpec, MemoryRef, MemorySlice, OutputSpec, RunSuccess } from '../specs.js';

export type { ArenaRef, InputSpec, KeptOutput, MemoryRef, MemorySlice, OutputSpec, RunSuccess, StepTiming } from '../specs.js';

/** Names one generation (and membership version) of a memory group. */
export interface GroupKey {
  groupId: string;
  generation: number;
  /** Bumped when members join the group; instances of older versions stay valid. */
  version: number;
}

/** What a worker needs to run members of one memory group (shared once per key). */
export interface GroupInstall extends GroupKey {
  memory: WebAssembly.Memory;
  /** The heap's lock (heap.ts HEAP LOCK): outside the memory, where no guest can write it. */
  heapLock: SharedArrayBuffer;
  /** Shadow stack bytes of each member's instances, by function name. */
  stackBytes: Record<string, number>;
  /** Every member's compiled module, by function name. */
  modules: Record<string, WebAssembly.Module>;
  /** Guest-initiated calls between members run inline (an embedding group). */
  embedded: boolean;
}

export interface RunTask {
  type: 'run';
  /** Unique per task; the worker writes it into its journal. */
  taskId: number;
  /** The task's slot on the cancel board (CANCEL BOARD), leased to it alone while it is in the pool. */
  cancelSlot: number;
  invocationId: number;
  /**
   * Functions run one after another in this task. Each gets the previous
   * output: in place when both share a memory (embedded), copied across once
   * by the host when they do not (a local edge run in one worker).
   */
  steps: string[];
  /** The memory group of each step. */
  groups: GroupKey[];
  inputs: InputSpec[];
  output: OutputSpec;
  /** Absolute deadline (ms since epoch) checked by host functions. */
  deadline: number;
  /** Payload limit in bytes (inputs, outputs, guest-call payloads). */
  maxPayloadBytes: number;
  /** Guest-call targets that must go through the dispatcher even if embeddable ('*' = all). */
  forceRemote: string[];
  /** Guest calls between the invocation's entry and this task (0: not started by a guest). */
  callDepth: number;
  /** The invocation's W3C traceparent, when it carries a trace (engine/trace/context.ts). */
  traceparent?: string;
  /** Nobody reads this task's per-step timings (a lean, untraced call): the result carries none, a smaller message. */
  skipTimings?: true;
  /** Guest-call limits the worker enforces itself (engine/guest-calls.ts). */
  callLimits: { maxDepth: number; maxInFlightPerInvocation: number };
  /**
   * A continuation: a consumer that runs in this task once the steps
   * returned, on the output the last step kept, read in place (its steps all
   * live in that step's memory). Its result comes back as the result's `then`.
   */
  then?: { steps: string[]; groups: GroupKey[]; output: OutputSpec };
}

export type Task = RunTask;

export interface RunFailure {
  ok: false;
  threadId: number;
  error: ErrorRecord;
  /** The function that failed, when known, and the memory it ran in. */
  fn?: string;
  groupId?: string;
  /** The memory must be discarded (trap in an embedding group, corrupt heap). */
  discardGroup: boolean;
}

/** A task's result; `then` is its continuation's, when the task had one and its steps succeeded. */
export type TaskResult = (RunSuccess & { then?: RunSuccess | RunFailure }) | RunFailure;

// ── the worker control block ───────────────────────────────────────────────
//
// One SharedArrayBuffer per worker, created by the worker and sent in
// WorkerHello. The worker blocks on it while the main thread answers a guest
// call or a share request; the main thread reads the journal after a task was
// killed, to free the arenas the task held.
//
//  ┌──────────────────────┬──────────────────────────────────────────────────────┐
//  │ offset               │ field                                                │
//  ├──────────────────────┼──────────────────────────────────────────────────────┤
//  │ 0                    │ SHARE_STATE: 0 idle, 1 waiting (worker), 2 answered  │
//  │ 4                    │ EXIT_REQUEST: 1 = the dispatcher asks the worker to  │
//  │                      │ exit at its next heap unlock (it was cancelled while │
//  │                      │ holding a heap lock: exit-request.ts)                │
//  │ 8 + 8·i              │ CALL SLOT i: STATE (0 free, 1 pending, 2 done),      │
//  │                      │              STATUS (guest status, written before    │
//  │                      │              STATE = 2)                              │
//  │ JOURNAL_OFFSET       │ JOURNAL: TASK id, STATE (0 idle, 1 running,          │
//  │                      │ 2 finished), COUNT, OVERFLOW, then JOURNAL_ARENAS    │
//  │                      │ entries of { u32 step index (its memory group),      │
//  │                      │ u32 arena id } (arena ids are per memory)            │
//  │                      │ u32 arena ids created by the running task            │
//  └──────────────────────┴──────────────────────────────────────────────────────┘

export const CTRL_SHARE_STATE = 0;
export const CTRL_EXIT_REQUEST = 4;
export const SHARE_IDLE = 0;
export const SHARE_WAITING = 1;
export const SHARE_ANSWERED = 2;

export const CALL_SLOTS = 1024;
export const CALL_SLOTS_OFFSET = 8;
export const CALL_SLOT_BYTES = 8;
export const SLOT_STATE = 0;
export const SLOT_STATUS = 4;
export const SLOT_FREE = 0;
export const SLOT_PENDING = 1;
export const SLOT_DONE = 2;

export const JOURNAL_OFFSET = CALL_SLOTS_OFFSET + CALL_SLOTS * CALL_SLOT_BYTES;
export const JOURNAL = { TASK: 0, STATE: 4, COUNT: 8, OVERFLOW: 12, ARENAS: 16 } as const;
export const JOURNAL_ARENAS = 60;
/** Bytes per journal entry: u32 index of the task's group, u32 arena id. */
export const JOURNAL_ENTRY_BYTES = 8;
export const JOURNAL_RUNNING = 1;
export const JOURNAL_FINISHED = 2;
export const CONTROL_BLOCK_BYTES = JOURNAL_OFFSET + JOURNAL.ARENAS + JOURNAL_ARENAS * JOURNAL_ENTRY_BYTES;

// CANCEL BOARD: see cancel-board.ts (one slot per task in the pool).

/** What every worker gets at start (Piscina workerData). */
export interface WorkerData {
  cancelBoard: SharedArrayBuffer;
  /** Shared by every worker's lane: i32 spinners now, i32 spinners allowed (lane-server.ts). */
  lanes: SharedArrayBuffer;
}

export interface WorkerHello {
  type: 'cwasi:hello';
  threadId: number;
  replyPort: MessagePort;
  /** The worker's control block (layout above). */
  control: SharedArrayBuffer;
  /** The worker's comlink control API (engine/worker/control.ts). */
  controlPort: MessagePort;
  /** The worker's call lane (engine/lane/layout.ts) and its port for long inputs, outputs and failures. */
  lane: SharedArrayBuffer;
  lanePort: MessagePort;
}

export interface GuestCallRequest {
  type: 'cwasi:call';
  threadId: number;
  slot: number;
  invocationId: number;
  caller: string;
  target: string;
  payload: MemorySlice;
  deadline: number;
  /** Depth of the call this starts (the caller's depth + 1). */
  depth: number;
  /** The calling invocation's W3C traceparent, when it carries a trace. */
  traceparent?: string;
}

/** A kept output the receiver must release (or adopt) once it copied the bytes. */
export interface ReleaseToken extends MemoryRef {
  arenas: ArenaRef[];
}

export type GuestCallReply =
  | { type: 'cwasi:reply'; slot: number; ok: true; mode: IfcMode; result: InputSpec; release?: ReleaseToken }
  | { type: 'cwasi:reply'; slot: number; ok: false; error: ErrorRecord };

/** Keys of shared objects: `group:<id>#<generation>` or `ring:<id>`. */
export interface ShareRequest {
  type: 'cwasi:share';
  threadId: number;
  key: string;
}

export type ShareReply =
  | { type: 'cwasi:shared'; key: string; install: GroupInstall }
  | { type: 'cwasi:shared'; key: string; ring: SharedArrayBuffer }
  | { type: 'cwasi:shared'; key: string; missing: string };

export type WorkerMessage = WorkerHello | GuestCallRequest | ShareRequest;
export type ReplyMessage = GuestCallReply | ShareReply;
