// The worker's side of its call lane (layout in engine/lane/layout.ts): it
// takes every queued request before it sleeps, runs each call, writes the
// result into the slot (or posts it on the lane port when it is long) and
// wakes the main thread only when the main thread sleeps.
//
// Sleeping is Atomics.waitAsync, so between batches the thread's event loop
// runs: pool tasks, the control plane and timers go on as before. A batch
// yields to the event loop after TURN_MS. While calls come in quick
// succession the worker polls for the next one for up to SPIN_MAX_MS instead
// of sleeping (a wake costs tens of microseconds), but only while the engine's
// spin share allows one more spinner (workerData.lanes: fewer spinners than
// idle cores) and never after it noticed it lost its core while polling (a
// machine with other work on it): then it backs off for a while.

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { ErrorRecord } from '../errors.js';
import {
  FLAG_ERROR, FLAG_IN_MSG, FLAG_OK, FLAG_OUT_MSG, H, LANE_INLINE_BYTES, LANE_SLOTS, S,
  STATE_CANCELLED, STATE_CLAIMED, STATE_DONE, STATE_POSTED,
  laneViews, slotData, slotDeadline, slotWord, type LaneDown, type LaneUp, type LaneViews,
} from '../lane/layout.js';
import { copyInto, copyOut } from '../memory/copy.js';

/** A target as the main thread defined it on the lane port. */
export interface LaneTargetDef {
  fn: string;
  group: { groupId: string; generation: number; version: number };
  maxPayloadBytes: number;
  /** Steps after `fn`, run in the same call (a chain). */
  chain?: Array<{ fn: string; group: { groupId: string; generation: number; version: number } }>;
}

/** A failed call, as the worker reports it. */
export interface LaneFailure {
  error: ErrorRecord;
  groupId?: string;
  discardGroup: boolean;
}

/** What the worker offers its lane (engine/worker/worker.ts). */
export interface LaneRunner {
  /** A pool task is still running asynchronously: lane calls wait until it ends (kick()). */
  busy(): boolean;
  /** The call begins (journal it) before it is claimed. */
  begin(callId: number): void;
  /** The call ended (or was found cancelled). */
  end(): void;
  /** Run one call; `sink` gets the output (a view valid only inside sink); a failure is returned. */
  run(def: LaneTargetDef, input: Uint8Array, deadline: number, callId: number, sink: (out: Uint8Array) => void): LaneFailure | undefined;
}

/** Index of the spinner count and of the number of spinners allowed in workerData.lanes. */
export const SPIN_COUNT = 0;
export const SPIN_ALLOWED = 1;

/** A batch lets the event loop turn after this long. */
const TURN_MS = 4;
/** Longest poll for the next request. */
const SPIN_MAX_MS = 0.15;
/** A sleep shorter than this says requests come close together: poll next time. */
const SHORT_SLEEP_MS = 0.25;
/**
 * A gap this long between two looks at the clock while polling: the thread
 * lost its core to another thread (a scheduler slice is a millisecond or
 * more; shorter gaps are the machine's own interrupts, frequent on a VM).
 */
const PREEMPTED_MS = 0.2;
/** This many preemptions while polling, each within PREEMPT_WINDOW_MS of the last, stop polling for a while. */
const PREEMPTS_TO_BACK_OFF = 3;
const PREEMPT_WINDOW_MS = 200;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2000;

export class LaneServer {
  private readonly v: LaneViews;
  private readonly spinners: Int32Array;
  private tail = 0;
  private resHead = 0;
  private readonly targets: Array<LaneTargetDef | undefined> = [];
  private readonly inputs = new Map<number, Uint8Array>();
  private parked = false;
  private spinMs = 0;
  private noSpinUntil = 0;
  private backoffMs = BACKOFF_MIN_MS;
  private preemptions = 0;
  private lastPreempted = -Infinity;
  private sleptAt = 0;
  private callId = 0;
  private flags = 0;
  private slot = 0;
  private readonly sink = (out: Uint8Array): void => this.write(out);

  constructor(sab: SharedArrayBuffer, private readonly port: MessagePort, spinShare: SharedArrayBuffer, private readonly runner: LaneRunner) {
    this.v = laneViews(sab);
    this.spinners = new Int32Array(spinShare);
  }

  start(): void {
    this.serve();
  }

  /** A pool task ended: serve what queued meanwhile. */
  kick(): void {
    if (!this.parked) return;
    this.parked = false;
    this.serve();
  }

  private readonly serve = (): void => {
    const a = this.v.i32;
    Atomics.store(a, H.WORKER_SLEEPING, 0);
    if (this.sleptAt !== 0) {
      if (performance.now() - this.sleptAt < SHORT_SLEEP_MS) this.spinMs = SPIN_MAX_MS;
      this.sleptAt = 0;
    }
    if (this.runner.busy()) {
      this.parked = true;
      return;
    }
    const turnEnd = performance.now() + TURN_MS;
    for (;;) {
      while (this.tail !== Atomics.load(a, H.REQ_HEAD)) {
        const slot = a[H.REQ_QUEUE + (this.tail & (LANE_SLOTS - 1))]!;
        this.tail = (this.tail + 1) | 0;
        Atomics.store(a, H.REQ_TAIL, this.tail);
        if (slot >= 0 && slot < LANE_SLOTS) this.handle(slot);
        if (performance.now() > turnEnd) {
          setImmediate(this.serve);
          return;
        }
      }
      if (this.spin()) continue;
      Atomics.store(a, H.WORKER_SLEEPING, 1);
      if (Atomics.load(a, H.REQ_HEAD) !== this.tail) {
        Atomics.store(a, H.WORKER_SLEEPING, 0);
        continue;
      }
      const w = Atomics.waitAsync(a, H.REQ_HEAD, this.tail);
      if (!w.async) {
        Atomics.store(a, H.WORKER_SLEEPING, 0);
        continue;
      }
      this.sleptAt = performance.now();
      void w.value.then(this.serve);
      return;
    }
  };

  /** Poll for the next request while that is likely to pay; true when one came. */
  private spin(): boolean {
    if (this.spinMs === 0) return false;
    const start = performance.now();
    if (start < this.noSpinUntil) return false;
    const share = this.spinners;
    if (Atomics.add(share, SPIN_COUNT, 1) >= Atomics.load(share, SPIN_ALLOWED)) {
      Atomics.sub(share, SPIN_COUNT, 1);
      return false;
    }
    const a = this.v.i32;
    Atomics.store(a, H.WORKER_SPINNING, 1);
    const until = start + this.spinMs;
    let last = start;
    let got = false;
    let preempted = false;
    for (;;) {
      if (Atomics.load(a, H.REQ_HEAD) !== this.tail) {
        got = true;
        break;
      }
      const t = performance.now();
      if (t - last > PREEMPTED_MS) {
        preempted = true;
        break;
      }
      if (t >= until) break;
      last = t;
    }
    Atomics.store(a, H.WORKER_SPINNING, 0);
    Atomics.sub(share, SPIN_COUNT, 1);
    if (preempted) {
      // Another thread took the core. Once in a while is the machine's own
      // housekeeping; often means polling costs someone else's work: back off.
      this.spinMs = 0;
      const t = performance.now();
      if (t - this.lastPreempted < PREEMPT_WINDOW_MS && ++this.preemptions >= PREEMPTS_TO_BACK_OFF) {
        this.noSpinUntil = t + this.backoffMs;
        this.backoffMs = Math.min(2 * this.backoffMs, BACKOFF_MAX_MS);
        this.preemptions = 0;
      } else if (t - this.lastPreempted >= PREEMPT_WINDOW_MS) {
        this.preemptions = 1;
      }
      this.lastPreempted = t;
      return got;
    }
    if (got) this.backoffMs = BACKOFF_MIN_MS;
    else this.spinMs = 0;
    return got;
  }

  private handle(slot: number): void {
    const { i32: a, f64, u8 } = this.v;
    const callId = a[slotWord(slot, S.CALL_ID)]!;
    this.runner.begin(callId);
    if (Atomics.compareExchange(a, slotWord(slot, S.STATE), STATE_POSTED, STATE_CLAIMED) !== STATE_POSTED) {
      // Cancelled before it began: hand the slot back unrun (its state stays CANCELLED).
      this.runner.end();
      if ((a[slotWord(slot, S.FLAGS)]! & FLAG_IN_MSG) !== 0) {
        // Its input came as a message: take it off the port and drop it.
        this.readPort();
        this.inputs.delete(callId);
      }
      if (Atomics.load(a, slotWord(slot, S.STATE)) === STATE_CANCELLED) this.respond(slot);
      return;
    }
    this.callId = callId;
    this.slot = slot;
    this.flags = 0;
    let failure: LaneFailure | undefined;
    const index = a[slotWord(slot, S.TARGET)]!;
    const flags = a[slotWord(slot, S.FLAGS)]!;
    let def = this.targets[index];
    let input: Uint8Array | undefined;
    if (def === undefined || (flags & FLAG_IN_MSG) !== 0) {
      this.readPort();
      def = this.targets[index];
    }
    if ((flags & FLAG_IN_MSG) !== 0) {
      input = this.inputs.get(callId);
      this.inputs.delete(callId);
    } else {
      const len = a[slotWord(slot, S.IN_LEN)]! >>> 0;
      if (len <= LANE_INLINE_BYTES) input = u8.subarray(slotData(slot), slotData(slot) + len);
    }
    const started = performance.now();
    if (def === undefined || input === undefined) {
      failure = { error: { code: 'E_INTERNAL', message: `lane call ${callId}: target ${index} or its input is missing` }, discardGroup: false };
    } else {
      failure = this.runner.run(def, input, f64[slotDeadline(slot)]!, callId, this.sink);
    }
    a[slotWord(slot, S.RUN_US)] = Math.min(0x7fffffff, Math.round((performance.now() - started) * 1000));
    if (failure !== undefined) {
      const up: LaneUp = { type: 'error', callId, error: failure.error, discardGroup: failure.discardGroup };
      if (failure.groupId !== undefined) up.groupId = failure.groupId;
      this.port.postMessage(up);
      this.flags = FLAG_ERROR;
    }
    a[slotWord(slot, S.FLAGS)] = this.flags;
    Atomics.store(a, slotWord(slot, S.STATE), STATE_DONE);
    this.runner.end();
    this.respond(slot);
  }

  /** The output of the running call: inline when it fits, else as a message. */
  private write(out: Uint8Array): void {
    const { i32: a, u8 } = this.v;
    const slot = this.slot;
    a[slotWord(slot, S.OUT_LEN)] = out.byteLength;
    if (out.byteLength <= LANE_INLINE_BYTES) {
      copyInto(u8, slotData(slot), out);
      this.flags = FLAG_OK;
      return;
    }
    const bytes = copyOut(out);
    const up: LaneUp = { type: 'output', callId: this.callId, bytes };
    this.port.postMessage(up, [bytes.buffer]);
    this.flags = FLAG_OK | FLAG_OUT_MSG;
  }

  private respond(slot: number): void {
    const a = this.v.i32;
    a[H.RES_QUEUE + (this.resHead & (LANE_SLOTS - 1))] = slot;
    this.resHead = (this.resHead + 1) | 0;
    Atomics.store(a, H.RES_HEAD, this.resHead);
    if (Atomics.load(a, H.MAIN_SLEEPING) === 1) Atomics.notify(a, H.RES_HEAD);
  }

  /** Target definitions and long inputs the main thread posted before the slots that use them. */
  private readPort(): void {
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (m === undefined) return;
      const msg = m.message as LaneDown;
      if (msg.type === 'target') {
        if (Number.isInteger(msg.index) && msg.index >= 0 && msg.index < 65536) {
          this.targets[msg.index] = { fn: msg.fn, group: msg.group, maxPayloadBytes: msg.maxPayloadBytes, ...(msg.chain !== undefined ? { chain: msg.chain } : {}) };
        }
      } else if (msg.type === 'input' && msg.bytes instanceof Uint8Array) {
        this.inputs.set(msg.callId, msg.bytes);
      }
    }
  }
}
