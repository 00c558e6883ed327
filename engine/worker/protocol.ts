// Messages between the main thread (Request Dispatcher) and the pool's
// workers. Types only: no behaviour lives in this file.
//
//   main → worker   RunTask / ControlTask       as Piscina tasks
//   worker → main   TaskResult                  as the Piscina task result
//   worker → main   WorkerHello, GuestCallRequest   on the worker's parentPort
//   main → worker   GuestCallReply              on the worker's reply port,
//                                               then a wake on its call slot
//
// Byte-level layouts used beside these messages are defined where they live:
// the memory header and heap blocks in engine/memory/layout.ts, the call slots
// below, the ring in engine/ring/ring.ts.

import type { MessagePort } from 'node:worker_threads';
import type { ErrorRecord } from '../errors.js';
import type { IfcMode } from '../selection.js';

/** What a worker needs to run members of one memory group. */
export interface GroupInstall {
  groupId: string;
  generation: number;
  memory: WebAssembly.Memory;
  /** Every member's compiled module, by function name. */
  modules: Record<string, WebAssembly.Module>;
  /** Members whose guest-initiated calls to each other run inline (embedded). */
  embedded: boolean;
}

/** A byte range in a function memory, named so that a stale one can be refused. */
export interface MemorySlice {
  groupId: string;
  /** Generation of the memory; a discarded memory's slices are refused. */
  generation: number;
  memory: WebAssembly.Memory;
  ptr: number;
  len: number;
}

/** A memory a ring descriptor may point into. */
export interface MemorySource {
  groupId: string;
  generation: number;
  memory: WebAssembly.Memory;
}

/** Where one input of a step comes from; the kind names the channel's endpoint. */
export type InputSpec =
  /** `copy`: bytes cloned into the task message. Also how engine inputs arrive. */
  | { kind: 'bytes'; bytes: Uint8Array }
  /** `embedded`: bytes already in the step's own memory, read in place (zero copy). */
  | ({ kind: 'shared' } & MemorySlice)
  /** `local`: bytes in another function's memory; the host copies them across once. */
  | ({ kind: 'foreign' } & MemorySlice)
  /**
   * `local`: frames arrive through a SharedArrayBuffer ring (engine/ring/ring.ts):
   * DATA frames carry bytes, a DESC frame points into `sources[i]`, which only
   * the host reads.
   */
  | { kind: 'ring'; ring: SharedArrayBuffer; sources: MemorySource[] }
  /** `remote-kv`: bytes stored in Redis under `key` in `chunks` parts. */
  | { kind: 'kv'; url: string; key: string; len: number; chunks: number };

/** What a step does with its output. Several may apply (fan-out to mixed modes). */
export interface OutputSpec {
  /** Keep the output in the memory and return its slice and arena (`embedded`, `local`). */
  keep: boolean;
  /** Copy the output out and return it as bytes (`copy`, engine results). */
  bytes: boolean;
  /**
   * Hand the output to consumers through these rings (`local`): a DESC frame,
   * or (stream) DATA frames while the consumer drains them.
   */
  rings?: Array<{ ring: SharedArrayBuffer; stream: boolean }>;
  /** Store the output in Redis (`remote-kv`). */
  kv?: { url: string; key: string; ttlSeconds: number; chunkBytes: number };
}

export interface RunTask {
  type: 'run';
  invocationId: number;
  install: GroupInstall;
  /** Functions run one after another in this task; each gets the previous output in place. */
  steps: string[];
  inputs: InputSpec[];
  output: OutputSpec;
  /** Absolute deadline (ms since epoch) checked by host functions. */
  deadline: number;
  /** Payload limit in bytes (inputs, outputs, guest-call payloads). */
  maxPayloadBytes: number;
  /** Guest-call targets that must go through the dispatcher even if embeddable (edge overrides). */
  forceRemote: string[];
  /** Where the worker records what it holds, so a killed task can be cleaned up (TASK JOURNAL). */
  journal: SharedArrayBuffer;
}

// TASK JOURNAL: one small SharedArrayBuffer per running task (pooled by the
// dispatcher). The worker writes it; the dispatcher reads it only after the
// task was aborted or its worker died, to free the arenas the task held.
//
//  ┌────────┬──────────┬──────────────────────────────────────────────────────┐
//  │ offset │ field    │ meaning                                              │
//  ├────────┼──────────┼──────────────────────────────────────────────────────┤
//  │ 0      │ STATE    │ 0 queued, 1 running, 2 finished                      │
//  │ 4      │ THREAD   │ 1 + threadId of the worker running the task          │
//  │ 8      │ COUNT    │ arena ids recorded below                             │
//  │ 12     │ OVERFLOW │ 1 when more arenas were created than fit             │
//  │ 16..   │ ARENAS   │ u32 arena ids, JOURNAL_ARENAS of them                │
//  └────────┴──────────┴──────────────────────────────────────────────────────┘

export const JOURNAL = { STATE: 0, THREAD: 4, COUNT: 8, OVERFLOW: 12, ARENAS: 16 } as const;
export const JOURNAL_ARENAS = 60;
export const JOURNAL_BYTES = JOURNAL.ARENAS + JOURNAL_ARENAS * 4;
export const JOURNAL_QUEUED = 0;
export const JOURNAL_RUNNING = 1;
export const JOURNAL_FINISHED = 2;

export interface ControlTask {
  type: 'flush-coverage' | 'ping';
  /** Barrier so that every worker of the pool takes exactly one control task. */
  barrier?: SharedArrayBuffer;
  parties?: number;
}

export type Task = RunTask | ControlTask;

/** Per-step timestamps (ms, performance.timeOrigin + performance.now()). */
export interface StepTiming {
  fn: string;
  /** The step's input is complete in its memory (the paper's "callee has the payload"). */
  inputReady: number;
  /** cwasi_main returned. */
  done: number;
}

/** An arena by value (see engine/memory/heap.ts). */
export interface ArenaRef {
  id: number;
  head: number;
}

export interface KeptOutput {
  ptr: number;
  len: number;
  /** Arenas holding the output (and what it references); released by the dispatcher. */
  arenas: ArenaRef[];
}

export interface RunSuccess {
  ok: true;
  threadId: number;
  /** Present when output.keep was asked. */
  kept?: KeptOutput;
  /** Present when output.bytes was asked. */
  bytes?: Uint8Array;
  /** Present when output.kv was asked: chunks written. */
  kvChunks?: number;
  outputLength: number;
  timings: StepTiming[];
  /** Guest log lines, when any. */
  logs?: string[];
}

export interface RunFailure {
  ok: false;
  threadId: number;
  error: ErrorRecord;
  /** The function that failed, when known. */
  fn?: string;
  /** The memory must be discarded (trap in an embedding group, corrupt heap). */
  discardGroup: boolean;
}

export type TaskResult = RunSuccess | RunFailure | { ok: true; threadId: number; control: true };

// ── guest-initiated calls that leave the worker ────────────────────────────
//
// CALL SLOTS: one Int32Array per worker over a SharedArrayBuffer of
// CALL_SLOTS × CALL_SLOT_BYTES bytes, created by the worker, sent in WorkerHello.
//
//  ┌────────┬────────┬───────────────────────────────────────────────────────┐
//  │ offset │ field  │ meaning                                               │
//  ├────────┼────────┼───────────────────────────────────────────────────────┤
//  │ 0      │ STATE  │ 0 free, 1 pending (worker wrote it), 2 done (main)    │
//  │ 4      │ STATUS │ guest status code written by main before STATE = 2   │
//  └────────┴────────┴───────────────────────────────────────────────────────┘

export const CALL_SLOTS = 1024;
export const CALL_SLOT_BYTES = 8;
export const SLOT_STATE = 0;
export const SLOT_STATUS = 4;
export const SLOT_FREE = 0;
export const SLOT_PENDING = 1;
export const SLOT_DONE = 2;

export interface WorkerHello {
  type: 'cwasi:hello';
  threadId: number;
  replyPort: MessagePort;
  slots: SharedArrayBuffer;
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
}

export type GuestCallReply =
  | { type: 'cwasi:reply'; slot: number; ok: true; mode: IfcMode; result: InputSpec; release?: ReleaseToken }
  | { type: 'cwasi:reply'; slot: number; ok: false; error: ErrorRecord };

/** A kept output the receiver must release once it copied the bytes. */
export interface ReleaseToken {
  memory: WebAssembly.Memory;
  arenas: ArenaRef[];
}

export type WorkerMessage = WorkerHello | GuestCallRequest;
