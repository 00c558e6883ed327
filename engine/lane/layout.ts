// The call lane: one SharedArrayBuffer per worker through which the main
// thread hands single-function calls to that worker and takes their results,
// without a message per call. Made by the worker at start and sent in its
// hello; both sides use only the constants of this file.
//
// Two queues of slot numbers (requests main → worker, responses worker →
// main), each a single-producer single-consumer ring of LANE_SLOTS entries
// indexed by a free-running i32 count (count & (LANE_SLOTS - 1)); a call
// lives in one slot from post to drain. Each side sets its SLEEPING word
// before it waits on the other's count and clears it when it wakes, so a
// futex notify is issued only when the other side actually sleeps (Dekker:
// both store, then load, with sequentially consistent atomics).
//
// HEADER (i32 words)
//  ┌────────┬─────────────────┬────────────┬──────────────────────────────────────────┐
//  │ offset │ field           │ written by │ meaning                                  │
//  ├────────┼─────────────────┼────────────┼──────────────────────────────────────────┤
//  │ 0      │ REQ_HEAD        │ main       │ requests posted (free-running count)     │
//  │ 4      │ REQ_TAIL        │ worker     │ requests taken                           │
//  │ 8      │ RES_HEAD        │ worker     │ responses posted                         │
//  │ 12     │ RES_TAIL        │ main       │ responses taken                          │
//  │ 16     │ WORKER_SLEEPING │ worker     │ 1: waits on REQ_HEAD (notify it)         │
//  │ 20     │ MAIN_SLEEPING   │ main       │ 1: waits on RES_HEAD (notify it)         │
//  │ 24     │ WORKER_SPINNING │ worker     │ 1: polls REQ_HEAD without sleeping       │
//  │ 28     │ (reserved)      │ —          │ unused; the polling share of all lanes   │
//  │        │                 │            │ is workerData.lanes (spin-share.ts)      │
//  │ 64     │ REQ_QUEUE       │ main       │ LANE_SLOTS × i32 slot numbers            │
//  │ 64+4S  │ RES_QUEUE       │ worker     │ LANE_SLOTS × i32 slot numbers            │
//  │ 1024   │ SLOTS           │ both       │ LANE_SLOTS × SLOT_BYTES, layout below    │
//  └────────┴─────────────────┴────────────┴──────────────────────────────────────────┘
//
// SLOT (SLOT_BYTES each, at 1024 + slot × SLOT_BYTES)
//  ┌────────┬──────┬──────────┬───────────────────────────────────────────────────────┐
//  │ offset │ type │ field    │ meaning                                               │
//  ├────────┼──────┼──────────┼───────────────────────────────────────────────────────┤
//  │ 0      │ i32  │ STATE    │ FREE → POSTED (main) → CLAIMED (worker, CAS) → DONE   │
//  │        │      │          │ (worker); POSTED → CANCELLED (main, CAS): the worker  │
//  │        │      │          │ hands it back unrun                                   │
//  │ 4      │ i32  │ CALL_ID  │ the call's id (the worker journals it as −id)         │
//  │ 8      │ i32  │ TARGET   │ index of the target (function, memory) in the lane's  │
//  │        │      │          │ target table, defined by a message before first use   │
//  │ 12     │ u32  │ IN_LEN   │ input length                                          │
//  │ 16     │ f64  │ DEADLINE │ ms since the epoch; the worker refuses a call past it │
//  │ 24     │ u32  │ OUT_LEN  │ output length (DONE, FLAG_OK)                         │
//  │ 28     │ i32  │ FLAGS    │ FLAG_IN_MSG: input came as a message on the lane port │
//  │        │      │          │ FLAG_OK: succeeded; FLAG_OUT_MSG: output as a message │
//  │        │      │          │ FLAG_ERROR: a failure record as a message             │
//  │ 32     │ u32  │ RUN_US   │ the call's run on the worker in µs (DONE; at most     │
//  │        │      │          │ 2^31 − 1): the main thread's estimate of the work     │
//  │        │      │          │ queued on a lane (lanes.ts)                           │
//  │ 64     │ u8[] │ DATA     │ input, then output, inline (≤ LANE_INLINE_BYTES)      │
//  └────────┴──────┴──────────┴───────────────────────────────────────────────────────┘
//
// Inputs and outputs longer than LANE_INLINE_BYTES, and failure records, go
// as messages on the lane's MessagePort, read with receiveMessageOnPort in
// the order the slots name them (each side posts before it publishes the
// slot, so the message is there when the slot is seen). Lengths and indexes
// read from the lane are checked before use on both sides.

export const LANE_SLOTS = 64;
export const SLOT_BYTES = 4096;
export const SLOT_HEADER_BYTES = 64;
export const LANE_INLINE_BYTES = SLOT_BYTES - SLOT_HEADER_BYTES;
export const SLOTS_OFFSET = 1024;
export const LANE_BYTES = SLOTS_OFFSET + LANE_SLOTS * SLOT_BYTES;

/** Header word indexes (i32). */
export const H = {
  REQ_HEAD: 0, REQ_TAIL: 1, RES_HEAD: 2, RES_TAIL: 3, WORKER_SLEEPING: 4, MAIN_SLEEPING: 5, WORKER_SPINNING: 6,
  REQ_QUEUE: 16, RES_QUEUE: 16 + LANE_SLOTS,
} as const;

/** Slot field byte offsets. */
export const S = { STATE: 0, CALL_ID: 4, TARGET: 8, IN_LEN: 12, DEADLINE: 16, OUT_LEN: 24, FLAGS: 28, RUN_US: 32, DATA: SLOT_HEADER_BYTES } as const;

export const STATE_FREE = 0;
export const STATE_POSTED = 1;
export const STATE_CLAIMED = 2;
export const STATE_DONE = 3;
export const STATE_CANCELLED = 4;

export const FLAG_IN_MSG = 1;
export const FLAG_OK = 2;
export const FLAG_OUT_MSG = 4;
export const FLAG_ERROR = 8;

/** The i32 index of a slot's field. */
export function slotWord(slot: number, field: number): number {
  return (SLOTS_OFFSET + slot * SLOT_BYTES + field) >> 2;
}

/** The byte offset of a slot's inline data. */
export function slotData(slot: number): number {
  return SLOTS_OFFSET + slot * SLOT_BYTES + S.DATA;
}

/** The f64 index of a slot's deadline. */
export function slotDeadline(slot: number): number {
  return (SLOTS_OFFSET + slot * SLOT_BYTES + S.DEADLINE) >> 3;
}

/** Views of one lane. */
export interface LaneViews {
  i32: Int32Array;
  f64: Float64Array;
  u8: Uint8Array;
}

export function laneViews(sab: SharedArrayBuffer): LaneViews {
  return { i32: new Int32Array(sab), f64: new Float64Array(sab), u8: new Uint8Array(sab) };
}

/** Messages on a lane's port, main → worker. */
export type LaneDown =
  | {
    type: 'target'; index: number; fn: string; group: { groupId: string; generation: number; version: number }; maxPayloadBytes: number;
    /** Steps run after `fn` in the same call (a chain planned into one task), each reading the previous output. */
    chain?: Array<{ fn: string; group: { groupId: string; generation: number; version: number } }>;
  }
  | { type: 'input'; callId: number; bytes: Uint8Array };

/** Messages on a lane's port, worker → main, one per slot that says so, in response order. */
export type LaneUp =
  | { type: 'output'; callId: number; bytes: Uint8Array }
  | { type: 'error'; callId: number; error: import('../errors.js').ErrorRecord; groupId?: string; discardGroup: boolean };
