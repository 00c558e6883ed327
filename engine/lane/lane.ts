// The main thread's side of one worker's call lane (layout.ts): posts calls
// into free slots, takes every response per wake, settles each call once.
//
// A lane waits for responses with one Atomics.waitAsync, armed only while
// calls are outstanding; the main thread never blocks on the lane. When the
// worker was polling for work as a call was posted (WORKER_SPINNING), the
// answer is likely to come within microseconds: the lane then looks again
// on the next few event-loop turns (setImmediate, so timers and I/O still
// run between looks) before it falls back to the wake.

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { CwasiError } from '../errors.js';
import type { MemoryGroup } from '../coordinator.js';
import type { WorkflowGraph } from '../workflow/graph.js';
import {
  FLAG_ERROR, FLAG_IN_MSG, FLAG_OK, FLAG_OUT_MSG, H, LANE_INLINE_BYTES, LANE_SLOTS, S,
  STATE_CANCELLED, STATE_CLAIMED, STATE_DONE, STATE_FREE, STATE_POSTED,
  laneViews, slotData, slotDeadline, slotWord, type LaneDown, type LaneUp, type LaneViews,
} from './layout.js';
import { copyInto, copyOut } from '../memory/copy.js';

/** What a lane can run: one function, or a chain planned into one task, on this node, making no guest calls. */
export interface LaneTarget {
  /** What the caller invoked (a function, or a workflow of one function) and its graph (for the pool path). */
  name: string;
  graph: WorkflowGraph;
  fn: string;
  group: MemoryGroup;
  /** The group's generation when the target was resolved (a discard makes the target stale). */
  generation: number;
  /** Key of the target's definition on a lane: functions and memory generations. */
  key: string;
  maxPayloadBytes: number;
  /** Steps after `fn` (a chain), with their memories' generations when resolved. */
  chain?: Array<{ fn: string; group: MemoryGroup; generation: number }>;
  /** Moving average of the worker's run time of a call to this target, ms (set from the lane's RUN_US). */
  runMs?: number;
}

/** What a call to a target never measured is expected to cost a lane, ms. */
export const UNMEASURED_RUN_MS = 1;

/** The target's memories, each with its generation when the target was resolved (first step first). */
export function targetMemories(t: LaneTarget): Array<{ group: MemoryGroup; generation: number }> {
  return t.chain === undefined ? [t] : [t, ...t.chain];
}

/** A memory of the target was discarded since it was resolved: the first such, or undefined. */
export function staleMemory(t: LaneTarget): MemoryGroup | undefined {
  if (t.group.generation !== t.generation) return t.group;
  if (t.chain !== undefined) for (const s of t.chain) if (s.group.generation !== s.generation) return s.group;
  return undefined;
}

/** One call through a lane, from post to settle. */
export interface LaneCall {
  id: number;
  target: LaneTarget;
  input: Uint8Array;
  deadline: number;
  timeoutMs: number;
  startedAt: number;
  /** The run the lane expects of it (its target's runMs when posted), ms: counted in CallLane.expectedMs while it is there. */
  expectMs?: number;
  lane: CallLane | undefined;
  slot: number;
  settled: boolean;
  /** The call was taken back from a busy lane and posted to an idle one as this call (lanes.ts rebalance). */
  movedTo?: LaneCall;
  /** Set while the pool runs the call instead (its lane's worker died before claiming it): aborts that run. */
  fallback?: AbortController;
  resolve(out: Uint8Array): void;
  reject(err: CwasiError): void;
}

/** What a lane reports back to its set. */
export interface LaneEvents {
  /** Settle a call that is not settled yet: with its output, or with its error. */
  settle(call: LaneCall, out: Uint8Array | undefined, err: CwasiError | undefined): void;
  /** The call's response was taken (whatever it said), and its slot is free again. */
  released(call: LaneCall): void;
  /** A call failed in a way that discards its memory group (a trap in an embedding group, a corrupt heap). */
  discard(groupId: string, generation: number, reason: string): void;
}

/** How long the lane looks again on later event-loop turns when the worker was polling. */
const POLL_MS = 0.1;

export class CallLane {
  /** Slots holding a call: posted, running, done and not yet taken, or cancelled and not yet handed back. */
  outstanding = 0;
  /** Of those, cancelled ones the worker has not handed back yet (they will not run). */
  private cancelled = 0;
  /** The runs its outstanding calls are expected to take, ms (each call's expectMs). */
  expectedMs = 0;
  alive = true;
  /** The claimed call its worker was ended for (lanes.ts abort): other calls the exit finds begun were caught by that kill. */
  killedFor: LaneCall | undefined;
  private readonly v: LaneViews;
  private readonly free: number[] = [];
  private readonly calls: Array<LaneCall | undefined> = new Array(LANE_SLOTS).fill(undefined);
  private readonly targetIndex = new Map<string, number>();
  private head = 0;
  private resTail = 0;
  private armed = false;
  private polling = false;
  private pollUntil = 0;

  constructor(readonly threadId: number, sab: SharedArrayBuffer, private readonly port: MessagePort, private readonly events: LaneEvents) {
    this.v = laneViews(sab);
    for (let s = LANE_SLOTS - 1; s >= 0; s--) this.free.push(s);
    port.unref();
  }

  /** Calls this lane's worker will still run or is running (cancelled records it has not handed back do not count). */
  get load(): number {
    return this.outstanding - this.cancelled;
  }

  /** The worker is not sleeping on its lane (running something, or polling). */
  get workerAwake(): boolean {
    return Atomics.load(this.v.i32, H.WORKER_SLEEPING) === 0;
  }

  get hasRoom(): boolean {
    return this.alive && this.free.length > 0;
  }

  /** Hand `call` to the worker (the caller checked hasRoom). */
  post(call: LaneCall): void {
    const { i32: a, f64, u8 } = this.v;
    const slot = this.free.pop()!;
    const target = this.indexOf(call.target);
    const len = call.input.byteLength;
    let flags = 0;
    if (len <= LANE_INLINE_BYTES) {
      copyInto(u8, slotData(slot), call.input);
    } else {
      const down: LaneDown = { type: 'input', callId: call.id, bytes: call.input };
      this.port.postMessage(down);
      flags = FLAG_IN_MSG;
    }
    a[slotWord(slot, S.CALL_ID)] = call.id;
    a[slotWord(slot, S.TARGET)] = target;
    a[slotWord(slot, S.IN_LEN)] = len;
    a[slotWord(slot, S.FLAGS)] = flags;
    f64[slotDeadline(slot)] = call.deadline;
    Atomics.store(a, slotWord(slot, S.STATE), STATE_POSTED);
    a[H.REQ_QUEUE + (this.head & (LANE_SLOTS - 1))] = slot;
    this.head = (this.head + 1) | 0;
    Atomics.store(a, H.REQ_HEAD, this.head);
    call.lane = this;
    call.slot = slot;
    this.calls[slot] = call;
    this.outstanding++;
    call.expectMs = call.target.runMs ?? UNMEASURED_RUN_MS;
    this.expectedMs += call.expectMs;
    if (Atomics.load(a, H.WORKER_SLEEPING) === 1) Atomics.notify(a, H.REQ_HEAD);
    if (Atomics.load(a, H.WORKER_SPINNING) === 1) {
      this.pollUntil = performance.now() + POLL_MS;
      if (!this.polling) {
        this.polling = true;
        setImmediate(this.poll);
      }
    } else {
      this.arm();
    }
  }

  /**
   * Cancel a posted call. 'unstarted': the worker will hand it back unrun;
   * 'running': it began (only ending its worker stops it); 'done': its
   * response is waiting to be taken.
   */
  cancel(call: LaneCall): 'unstarted' | 'running' | 'done' {
    const prev = Atomics.compareExchange(this.v.i32, slotWord(call.slot, S.STATE), STATE_POSTED, STATE_CANCELLED);
    if (prev === STATE_POSTED) {
      this.cancelled++;
      this.unexpect(call);
    }
    if (prev === STATE_POSTED || prev === STATE_CANCELLED) return 'unstarted';
    return prev === STATE_CLAIMED ? 'running' : 'done';
  }

  /** The call no longer waits or runs here: its expected run leaves the lane's sum. */
  private unexpect(call: LaneCall): void {
    if (call.expectMs === undefined) return;
    this.expectedMs = Math.max(0, this.expectedMs - call.expectMs);
    call.expectMs = undefined;
  }

  /** The state word of a call's slot (tests, and the set when the worker died). */
  stateOf(call: LaneCall): number {
    return Atomics.load(this.v.i32, slotWord(call.slot, S.STATE));
  }

  /** Calls still in this lane's slots. */
  pending(): LaneCall[] {
    return this.calls.filter((c): c is LaneCall => c !== undefined);
  }

  /** Forget a call whose worker is gone (the set re-posts or fails it). */
  drop(call: LaneCall): void {
    if (this.calls[call.slot] !== call) return;
    this.calls[call.slot] = undefined;
    this.outstanding--;
    this.unexpect(call);
  }

  /** The worker is gone: stop waiting on its lane. */
  close(): void {
    this.alive = false;
    Atomics.notify(this.v.i32, H.RES_HEAD);
  }

  /** Take every response the worker has posted. */
  drain(): void {
    const a = this.v.i32;
    let head = Atomics.load(a, H.RES_HEAD);
    while (this.resTail !== head) {
      const slot = a[H.RES_QUEUE + (this.resTail & (LANE_SLOTS - 1))]!;
      this.resTail = (this.resTail + 1) | 0;
      if (slot >= 0 && slot < LANE_SLOTS) this.take(slot);
      if (this.resTail === head) head = Atomics.load(a, H.RES_HEAD);
    }
    Atomics.store(a, H.RES_TAIL, this.resTail);
  }

  private take(slot: number): void {
    const { i32: a, u8 } = this.v;
    const call = this.calls[slot];
    const state = Atomics.load(a, slotWord(slot, S.STATE));
    let out: Uint8Array | undefined;
    let err: CwasiError | undefined;
    // Discarded before this response (by another call's trap), not by this call's own failure below.
    const discarded = call === undefined ? undefined : staleMemory(call.target);
    if (state === STATE_DONE) {
      const flags = a[slotWord(slot, S.FLAGS)]!;
      const len = a[slotWord(slot, S.OUT_LEN)]! >>> 0;
      if (call !== undefined) {
        const ran = (a[slotWord(slot, S.RUN_US)]! >>> 0) / 1000;
        const t = call.target;
        t.runMs = t.runMs === undefined ? ran : t.runMs + (ran - t.runMs) / 8;
        this.unexpect(call);
      }
      if ((flags & FLAG_ERROR) !== 0) {
        const up = this.message(call);
        if (up?.type === 'error') {
          err = CwasiError.fromRecord(up.error);
          const m = call === undefined ? undefined : targetMemories(call.target).find((x) => x.group.id === up.groupId);
          if (up.discardGroup && m !== undefined) this.events.discard(m.group.id, m.generation, `${call!.target.fn}: ${up.error.message}`);
        } else {
          err = new CwasiError('E_INTERNAL', `lane call ${call?.id}: its failure record is missing`);
        }
      } else if ((flags & FLAG_OUT_MSG) !== 0) {
        const up = this.message(call);
        if (up?.type === 'output' && up.bytes instanceof Uint8Array && up.bytes.byteLength === len) out = up.bytes;
        else err = new CwasiError('E_INTERNAL', `lane call ${call?.id}: its output message is missing or of the wrong length`);
      } else if ((flags & FLAG_OK) !== 0 && len <= LANE_INLINE_BYTES) {
        out = copyOut(u8.subarray(slotData(slot), slotData(slot) + len));
      } else {
        err = new CwasiError('E_INTERNAL', `lane call ${call?.id}: output length ${len} outside the slot`);
      }
    } else if (state !== STATE_CANCELLED) {
      // Neither finished nor handed back: the slot is not the worker's to return.
      return;
    } else {
      this.cancelled--;
    }
    Atomics.store(a, slotWord(slot, S.STATE), STATE_FREE);
    this.calls[slot] = undefined;
    this.free.push(slot);
    this.outstanding--;
    if (call === undefined) return;
    const g = discarded;
    if (!call.settled && g !== undefined && state === STATE_DONE) {
      // Discarded while the call waited or ran (a member trapped): one fate, whatever the worker saw.
      out = undefined;
      err = new CwasiError('E_FUNCTION_TRAP', `${call.target.fn}: memory group ${g.id} was discarded while it ran (${g.lastDiscardReason ?? 'trap'})`);
    }
    if (!call.settled) {
      // (An error object only when there is one: building one captures a stack, microseconds per call.)
      if (out === undefined && err === undefined) err = new CwasiError('E_INTERNAL', `lane call ${call.id} was handed back unrun`);
      this.events.settle(call, out, err);
    }
    this.events.released(call);
  }

  /** The next message on the lane port: it belongs to the slot being taken. */
  private message(call: LaneCall | undefined): LaneUp | undefined {
    const m = receiveMessageOnPort(this.port);
    const up = m?.message as LaneUp | undefined;
    if (up === undefined || call === undefined || up.callId !== call.id) return undefined;
    return up;
  }

  private indexOf(target: LaneTarget): number {
    let index = this.targetIndex.get(target.key);
    if (index === undefined) {
      index = this.targetIndex.size;
      this.targetIndex.set(target.key, index);
      const g = target.group.key();
      const down: LaneDown = { type: 'target', index, fn: target.fn, group: g, maxPayloadBytes: target.maxPayloadBytes };
      if (target.chain !== undefined) down.chain = target.chain.map((s) => ({ fn: s.fn, group: s.group.key() }));
      this.port.postMessage(down);
    }
    return index;
  }

  private readonly poll = (): void => {
    this.polling = false;
    this.drain();
    if (this.outstanding === 0) return;
    if (performance.now() < this.pollUntil) {
      this.polling = true;
      setImmediate(this.poll);
      return;
    }
    this.arm();
  };

  private arm(): void {
    if (this.armed || this.outstanding === 0 || !this.alive) return;
    const a = this.v.i32;
    Atomics.store(a, H.MAIN_SLEEPING, 1);
    const w = Atomics.waitAsync(a, H.RES_HEAD, this.resTail);
    if (!w.async) {
      Atomics.store(a, H.MAIN_SLEEPING, 0);
      queueMicrotask(this.wake);
      return;
    }
    this.armed = true;
    void w.value.then(this.wake);
  }

  private readonly wake = (): void => {
    this.armed = false;
    Atomics.store(this.v.i32, H.MAIN_SLEEPING, 0);
    if (!this.alive) return;
    this.drain();
    this.arm();
  };
}
