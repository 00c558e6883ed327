// One invocation's life on this node (abort, deadline, its pool tasks) and
// the one timer that expires every invocation's deadline.

import { setMaxListeners } from 'node:events';
import { CwasiError } from '../errors.js';
import type { InvokeOptions } from './types.js';
import type { TraceContext } from '../trace/context.js';

export const now = (): number => performance.timeOrigin + performance.now();


/**
 * Life of one pool task of an invocation, and where an abort or a deadline
 * (Invocation.abort → cancelTasks) ends it. The invocation's promise rejects
 * with E_ABORTED / E_TIMEOUT at once in every state (runSegment races the
 * task against whenAborted); the table says what frees the worker.
 *
 *  state        │ entered when                          │ an abort there
 *  ─────────────┼───────────────────────────────────────┼───────────────────────────────────────────
 *  waiting      │ runSegment, before pool.run (replicas │ the semaphore wait rejects; nothing was
 *               │ semaphore, queue bound)               │ handed to the pool (inv.aborted checked last)
 *  queued       │ pool.run: in Piscina's queue or posted│ the task's own cancel-board slot is marked
 *               │ to a worker that has not claimed it   │ (compare-and-swap from 0); the worker that
 *               │ (slot 0)                              │ takes it finds the mark and returns at once;
 *               │                                       │ nobody is killed. A worker that exits before
 *               │                                       │ claiming it: the task is posted again
 *  starting     │ worker published JOURNAL RUNNING and  │ the slot says STARTED: the worker the
 *               │ claimed the slot (STARTED), fetching  │ journals name is terminated. If this thread
 *               │ memories (share requests), placing    │ has not yet read the worker's hello (a new
 *               │ inputs                                │ thread), the task stays in `cancelled` and
 *               │                                       │ is terminated when the hello or a share
 *               │                                       │ request arrives. A worker that holds a heap
 *               │                                       │ lock then is not terminated but asked to
 *               │                                       │ exit at its unlock (exit-request.ts), so
 *               │                                       │ the memory is not left half-updated
 *  running      │ guest code runs (or waits on a guest  │ worker terminated (the only way to stop a
 *               │ call, whose callee tasks are this     │ wasm loop); its journal frees what it held
 *               │ invocation's too)                     │ (forgetThread); Piscina replaces it
 *  finishing    │ result posted, not yet read here      │ the late result is dropped, kept outputs
 *               │                                       │ released (runSegment's late handler)
 *  remote       │ runRemote: on another node            │ remote.run gets inv.signal: the request is
 *               │                                       │ cancelled there, streams cancelled here
 *
 * A group discard (a member trapped) does not change these states: a task
 * of the discarded generation fails with E_FUNCTION_TRAP when it settles,
 * and a worker replaced after it starts in `queued` like any other.
 *
 * One invocation in flight. Cancellation is the engine's own, not Piscina's:
 * tasks go to the pool without an AbortSignal (one per task showed up at
 * several percent of the main thread), and `abort()` cancels them — a queued
 * task finds its id on the cancel board when it starts, a running one has its
 * worker terminated (the only way to stop a wasm loop).
 */
export class Invocation {
  aborted = false;
  reason: CwasiError | undefined;
  /** Pool tasks of this invocation not yet settled. */
  readonly tasks = new Set<number>();
  onAbort: (() => void) | undefined;
  /** The invocation's span when it carries a trace (someone observes, or the caller passed a traceparent). */
  trace: TraceContext | undefined;
  /** Whether its tasks report per-step timings (a report or a trace reads them). */
  wantsTimings = true;
  private controller: AbortController | undefined;
  private abortWaiters: Array<(err: CwasiError) => void> | undefined;

  constructor(
    readonly id: number,
    readonly target: string,
    readonly deadline: number,
    readonly opts: InvokeOptions,
  ) {}

  /** An AbortSignal for APIs that take one (created on first use). */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      // Every task of a fan-out may listen to it.
      setMaxListeners(0, this.controller.signal);
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: CwasiError): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.onAbort?.();
    const waiters = this.abortWaiters;
    this.abortWaiters = undefined;
    for (const w of waiters ?? []) w(reason);
  }

  /** Rejects when the invocation is aborted (for racing a pool task). */
  whenAborted(): Promise<never> {
    if (this.aborted) return Promise.reject(this.reason);
    return new Promise<never>((_, reject) => (this.abortWaiters ??= []).push(reject));
  }
}

/**
 * Aborts invocations whose deadline passed. One timer for all of them, armed
 * for the earliest deadline, instead of a timer and a composite AbortSignal per
 * invocation (both show up in profiles at tens of thousands of calls a second).
 */
export class DeadlineSweeper {
  private readonly live = new Map<number, { deadline: number; expire: () => void }>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  add(id: number, deadline: number, expire: () => void): void {
    if (!Number.isFinite(deadline)) return;
    this.live.set(id, { deadline, expire });
    if (deadline < this.armedFor) this.arm(deadline);
  }

  /**
   * The timer stays armed when the last entry goes: it fires once for nothing
   * (unref'd), where clearing and arming it again for every call of a
   * sequential caller cost microseconds each.
   */
  delete(id: number): void {
    this.live.delete(id);
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    if (this.live.size === 0) return;
    const t = Date.now();
    let next = Infinity;
    for (const [id, e] of this.live) {
      if (e.deadline <= t) {
        this.live.delete(id);
        e.expire();
      } else if (e.deadline < next) {
        next = e.deadline;
      }
    }
    if (next !== Infinity) this.arm(next);
  }
}

/**
 * The error an invocation ends with when the caller's signal aborts: the
 * signal's reason as `cause`, and E_TIMEOUT rather than E_ABORTED for a
 * timeout signal (`AbortSignal.timeout()` aborts with a TimeoutError: a
 * deadline the caller set, not a cancellation).
 */
export function abortedError(signal: AbortSignal): CwasiError {
  const reason: unknown = signal.reason;
  if (reason instanceof CwasiError) return reason;
  const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  const timedOut = (reason as { name?: unknown } | null)?.name === 'TimeoutError';
  return new CwasiError(timedOut ? 'E_TIMEOUT' : 'E_ABORTED', `invocation ${timedOut ? 'timed out' : 'aborted'}: ${why}`, undefined,
    reason === undefined ? undefined : { cause: reason });
}