// Every worker's call lane (lane.ts), and which one a call takes: the lane
// with the fewest calls outstanding that has a free slot (so one call at a
// time keeps going to the same warm worker). With as many lanes as cores the
// main thread has no core of its own and each sleeping worker woken takes one
// from a running thread: a call then goes where it is expected to start
// soonest, the runs queued there (each target's moving average, measured by
// the worker) plus WAKE_COST_MS when that worker sleeps, so short calls stay
// with a worker that is awake and long ones spread. When no lane has room, or no
// lane is idle while the pool may still start threads, or the pool has no
// lane yet, the call is not taken here and goes through Piscina
// (the caller's fallback), as do multi-step, cross-node, traced and reported
// invocations and functions that make guest calls.
//
// Abort and deadline: a call still POSTED is cancelled in its slot (the
// worker hands it back unrun); one the worker has claimed is running guest
// code, and only ending that worker stops it, as for a pool task
// (dispatch/invocation.ts). A worker that exits with calls in its lane: those
// it never claimed are posted again (another lane, or the fallback), the one
// it was running fails with E_WORKER_DIED (unless the worker was ended for
// another call: then it runs again), and what that call held is freed
// from the worker's journal (the call id, negated, is its journal task id).

import { availableParallelism } from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import { CwasiError } from '../errors.js';
import { DeadlineSweeper, abortedError } from '../dispatch/invocation.js';
import { SpinShare } from './spin-share.js';
import type { LiveTask } from '../dispatch/worker-registry.js';
import { CallLane, targetMemories, type LaneCall, type LaneTarget } from './lane.js';
import { LANE_SLOTS, STATE_CLAIMED, STATE_DONE, STATE_POSTED } from './layout.js';

export type { LaneCall, LaneTarget } from './lane.js';

/** What waking a sleeping lane worker is counted as when the lanes have every core, ms of queued work. */
export const WAKE_COST_MS = 0.5;
export { staleMemory } from './lane.js';

export interface LaneHooks {
  /** Run a call the lanes gave up on (its worker died before claiming it) through the pool instead; `signal` aborts that run. */
  fallback(call: LaneCall, signal: AbortSignal): Promise<Uint8Array>;
  /** End a worker that still runs the claimed call journaled as `taskId` (the call id negated): a claimed call was aborted. True when it did. */
  terminate(threadId: number, taskId: number): boolean;
  discard(groupId: string, generation: number, reason: string): void;
  /** A call settled: latency and outcome, for the engine's statistics. */
  settled(call: LaneCall, ok: boolean): void;
  /** The pool may start another thread: a call no idle lane takes goes to the pool, which grows. */
  poolCanGrow(): boolean;
  /** Threads of the pool, started or starting (each brings a lane when it says hello). */
  threads(): number;
  /** The worker runs a pool task now: its lane waits until that ends. */
  runsPoolTask(threadId: number): boolean;
}

export interface LaneCallOptions {
  signal?: AbortSignal | undefined;
  deadline: number;
  /** The deadline's length, for its error message. */
  timeoutMs: number;
}

export class LaneSet {
  private readonly lanes: CallLane[] = [];
  private readonly byThread = new Map<number, CallLane>();
  private readonly sweeper = new DeadlineSweeper();
  /** Calls in lanes by id (journal lookups). */
  private readonly live = new Map<number, LaneCall>();
  private nextId = 1;
  private outstanding = 0;
  /** Referenced while calls are outstanding: a pending Atomics.waitAsync does not keep the process alive. */
  private readonly keepAlive: NodeJS.Timeout;
  /** Calls that wait for the lane of a worker still starting (every lane was busy). */
  private waiting: LaneCall[] = [];
  /** Calls taken, by lane use (stats). */
  counts = { laned: 0, overflow: 0, reposted: 0, moved: 0 };

  private readonly spin: SpinShare;
  /** Workflow consumers that asked to poll near their producer's end (touchPolling): the share is kept current for them too. */
  private pollRequests = 0;

  /** `cores`: the cores the lanes share with the main thread (availableParallelism; tests give their own). */
  constructor(spinShare: SharedArrayBuffer, private readonly hooks: LaneHooks, private readonly cores = availableParallelism()) {
    this.spin = new SpinShare(spinShare, () => this.counts.laned + this.pollRequests);
    this.keepAlive = setInterval(() => {}, 2 ** 30);
    this.keepAlive.unref();
  }

  get size(): number {
    return this.lanes.length;
  }

  /** A worker said hello with its lane. */
  add(threadId: number, sab: SharedArrayBuffer, port: MessagePort): void {
    if (this.byThread.has(threadId)) return;
    const lane = new CallLane(threadId, sab, port, {
      // A worker that saw the deadline pass first says so in its words: one message for a deadline, whoever noticed.
      settle: (call, out, err) => this.settle(call, out, err?.code === 'E_TIMEOUT' ? this.expired(call) : err),
      released: (call) => this.released(call),
      discard: (id, gen, why) => this.hooks.discard(id, gen, why),
    });
    this.lanes.push(lane);
    this.byThread.set(threadId, lane);
    this.flushWaiting();
    // A replacement worker: a call queued behind a running one elsewhere starts here instead.
    if (lane.outstanding === 0 && this.outstanding > 0) this.rebalance(lane);
  }

  /**
   * Run `input` through `target` on a lane; undefined when no lane has room
   * (the caller takes the pool path).
   */
  call(target: LaneTarget, input: Uint8Array, opts: LaneCallOptions): Promise<Uint8Array> | undefined {
    const lane = this.pick();
    // A worker still starting gets the call when its lane arrives, rather than a busy one now.
    const wait = lane !== undefined && this.pickedLoad > 0 && this.lanes.length < this.hooks.threads();
    if (lane === undefined || (!wait && this.pickedLoad > 0 && this.hooks.poolCanGrow())) {
      this.counts.overflow++;
      return undefined;
    }
    this.counts.laned++;
    this.spin.touch();
    let call!: LaneCall;
    const promise = new Promise<Uint8Array>((resolve, reject) => {
      call = {
        id: this.nextId = (this.nextId % 0x3fffffff) + 1, target, input, deadline: opts.deadline, timeoutMs: opts.timeoutMs, startedAt: performance.now(),
        lane: undefined, slot: -1, settled: false, resolve, reject,
      };
    });
    const signal = opts.signal;
    if (signal !== undefined) {
      const onAbort = (): void => this.abort(call, abortedError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => signal.removeEventListener('abort', onAbort);
      promise.then(settle, settle);
    }
    this.enter(wait ? undefined : lane, call);
    return promise;
  }

  /** Track `call` and post it to `lane`, or keep it waiting for a lane (undefined). */
  private enter(lane: CallLane | undefined, call: LaneCall): void {
    this.sweeper.add(call.id, call.deadline, () => this.abort(call, this.expired(call)));
    if (this.outstanding++ === 0) this.keepAlive.ref();
    this.live.set(call.id, call);
    if (lane !== undefined) lane.post(call);
    else this.waiting.push(call);
  }

  /** Post waiting calls: to idle lanes while a worker is still starting, to any lane with room once none is. */
  private flushWaiting(): void {
    if (this.waiting.length === 0) return;
    const starting = this.lanes.length < this.hooks.threads();
    const still: LaneCall[] = [];
    for (const call of this.waiting) {
      if (call.settled) continue;
      const lane = this.pick();
      if (lane === undefined || (starting && this.pickedLoad > 0)) still.push(call);
      else lane.post(call);
    }
    this.waiting = still;
  }

  /** The journal entry of a lane call (task id −call id) whose worker died: what it held. */
  liveTask(taskId: number): LiveTask | undefined {
    const c = taskId < 0 ? this.live.get(-taskId) : undefined;
    if (c === undefined) return undefined;
    const groups = targetMemories(c.target).map((m) => m.group);
    return { groups, refs: groups.map((g) => g.ref()), fn: c.target.fn, slot: -1 };
  }

  /** The function of the lane call journaled as `taskId` when its worker has claimed it (runningTasks). */
  runningFn(taskId: number): string | undefined {
    const c = taskId < 0 ? this.live.get(-taskId) : undefined;
    return c?.lane !== undefined && c.lane.stateOf(c) === STATE_CLAIMED ? c.target.fn : undefined;
  }

  /** The worker `threadId` exited: settle or re-post every call in its lane. */
  workerExited(threadId: number): void {
    const lane = this.byThread.get(threadId);
    if (lane === undefined) return;
    this.byThread.delete(threadId);
    this.lanes.splice(this.lanes.indexOf(lane), 1);
    // Calls kept for a worker that will not come go to the lanes there are.
    queueMicrotask(() => this.flushWaiting());
    // Answers it posted before it went are good.
    lane.drain();
    lane.close();
    for (const call of lane.pending()) {
      const state = lane.stateOf(call);
      lane.drop(call);
      this.released(call);
      if (call.settled) continue;
      if (state === STATE_POSTED) {
        this.repost(call);
      } else if ((state === STATE_CLAIMED || state === STATE_DONE) && lane.killedFor !== undefined) {
        // Ended for another call (settled above), which may have returned just
        // before the kill landed and let the worker take this one: it makes no
        // guest calls and what it held is freed from the journal, so it runs again.
        this.repost(call);
      } else {
        this.settle(call, undefined, state === STATE_CLAIMED || state === STATE_DONE
          ? new CwasiError('E_WORKER_DIED', `${call.target.fn}: the worker running it exited`)
          : new CwasiError('E_INTERNAL', `${call.target.fn}: lane slot in state ${state} when its worker exited`));
      }
    }
  }

  /** A consumer may poll near its producer's end: keep the polling share current (it is 0 while nothing asks). */
  touchPolling(): void {
    this.pollRequests++;
    this.spin.touch();
  }

  /** Calls in lanes now (stats, tests). */
  get inFlight(): number {
    return this.outstanding;
  }

  /** Abort every call in a lane (a forced close). */
  abortAll(reason: CwasiError): void {
    for (const call of [...this.waiting]) this.abort(call, reason);
    for (const lane of [...this.lanes]) for (const call of lane.pending()) this.abort(call, reason);
  }

  close(): void {
    this.spin.stop();
    for (const lane of this.lanes) lane.close();
    clearInterval(this.keepAlive);
  }

  /**
   * The lane with a free slot and the fewest calls outstanding, or, when the
   * lanes have every core, the one whose queued runs (plus a wake-up if its
   * worker sleeps) are expected to end first; ties go to fewer calls.
   */
  private pick(): CallLane | undefined {
    const crowded = this.lanes.length >= this.cores;
    let best: CallLane | undefined;
    let bestCost = Infinity;
    let bestLoad = Infinity;
    for (const lane of this.lanes) {
      if (!lane.hasRoom) continue;
      // A worker running a pool task (perhaps a long one) is taken only when every other lane is full.
      const pooled = this.hooks.runsPoolTask(lane.threadId);
      const load = lane.load + (pooled ? LANE_SLOTS : 0);
      const cost = !crowded ? load : pooled ? Infinity : lane.expectedMs + (lane.workerAwake ? 0 : WAKE_COST_MS);
      if (best === undefined || cost < bestCost || (cost === bestCost && load < bestLoad)) {
        best = lane;
        bestCost = cost;
        bestLoad = load;
      }
      if (!crowded && load === 0) break;
    }
    this.pickedLoad = bestLoad;
    return best;
  }

  /** The load of the lane pick() returned last (0: its worker is idle). */
  private pickedLoad = 0;

  private repost(call: LaneCall): void {
    this.counts.reposted++;
    const lane = this.pick();
    // As in call(): a worker still starting takes it rather than a busy lane.
    const wait = lane !== undefined && this.pickedLoad > 0 && this.lanes.length < this.hooks.threads();
    if (lane !== undefined) {
      call.lane = undefined;
      this.enter(wait ? undefined : lane, call);
      return;
    }
    call.fallback = new AbortController();
    this.hooks.fallback(call, call.fallback.signal).then((out) => {
      if (!call.settled) this.settle(call, out, undefined);
    }, (err: unknown) => {
      if (call.settled) return;
      // The pool run had what was left of the deadline: report the call's own.
      const e = err instanceof CwasiError && err.code === 'E_TIMEOUT' ? this.expired(call)
        : err instanceof CwasiError ? err : new CwasiError('E_INTERNAL', String(err));
      this.settle(call, undefined, e);
    });
  }

  /** The error of a call whose deadline passed. */
  private expired(call: LaneCall): CwasiError {
    return new CwasiError('E_TIMEOUT', `${call.target.fn}: deadline of ${call.timeoutMs} ms exceeded`);
  }

  private settle(call: LaneCall, out: Uint8Array | undefined, err: CwasiError | undefined): void {
    call.settled = true;
    if (out !== undefined) call.resolve(out);
    else call.reject(err!);
    this.hooks.settled(call, out !== undefined);
  }

  private abort(call: LaneCall, reason: CwasiError): void {
    while (call.movedTo !== undefined) call = call.movedTo;
    if (call.settled) return;
    this.settle(call, undefined, reason);
    call.fallback?.abort(reason);
    const lane = call.lane;
    if (lane === undefined && this.waiting.includes(call)) {
      this.waiting = this.waiting.filter((c) => c !== call);
      this.released(call);
      return;
    }
    if (lane === undefined || !lane.alive) return;
    // Claimed: it began, but it may have ended since (a call that found its deadline
    // passed returns at once) and the worker taken the next call: the hook checks.
    if (lane.cancel(call) === 'running' && this.hooks.terminate(lane.threadId, -call.id)) lane.killedFor = call;
  }

  private released(call: LaneCall): void {
    // A moved call's record was forgotten when it moved (forget): only its slot was left.
    if (call.movedTo === undefined) this.forget(call);
    const lane = call.lane;
    if (lane !== undefined && lane.alive && this.outstanding > lane.load) this.rebalance(lane);
  }

  /** Stop tracking a call: its deadline, its journal id, the count that keeps the process alive. */
  private forget(call: LaneCall): void {
    this.sweeper.delete(call.id);
    this.live.delete(call.id);
    if (--this.outstanding === 0) this.keepAlive.unref();
  }

  /**
   * A call just left `to`: take back the oldest call another lane holds
   * unstarted behind a pool task its worker runs (however long that is), or,
   * when `to` has nothing left, behind a running call, and post it to `to`,
   * so that no call waits for a busy worker while another is free.
   */
  private rebalance(to: CallLane): void {
    if (!to.hasRoom || this.hooks.runsPoolTask(to.threadId)) return;
    const idle = to.load === 0;
    let from: LaneCall | undefined;
    for (const lane of this.lanes) {
      if (lane === to || !lane.alive || lane.load === 0) continue;
      if (!(idle && lane.load >= 2) && !this.hooks.runsPoolTask(lane.threadId)) continue;
      for (const c of lane.pending()) {
        if (!c.settled && lane.stateOf(c) === STATE_POSTED && (from === undefined || c.id < from.id)) from = c;
      }
    }
    if (from === undefined || from.lane?.cancel(from) !== 'unstarted') return;
    // The old record keeps its slot until that worker hands it back unrun; the call is the moved one from now on.
    const moved: LaneCall = { ...from, id: this.nextId = (this.nextId % 0x3fffffff) + 1, lane: undefined, slot: -1 };
    delete moved.movedTo;
    this.counts.moved++;
    this.enter(to, moved);
    this.forget(from);
    from.movedTo = moved;
    from.settled = true;
  }
}
