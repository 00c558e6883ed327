// The lock of a cwasi heap (heap.ts): a three-state futex mutex (0 free,
// 1 held, 2 held with waiters) in a SharedArrayBuffer of its own.
//
// Why not in the function's memory: a guest can write every byte of it, and a
// lock word it could set would make every host thread that needs the heap
// wait on the guest. Everything else the host reads from the memory is
// validated on every read, so a guest that scribbles over it gets
// E_MEMORY_CORRUPT, never a wait. The main thread never sleeps on the lock at
// all: it spins for at most MAIN_LOCK_SPIN_MS and otherwise gets
// HeapLockBusy with nothing changed (callers retry later or take a path
// without the heap); workers wait, bounded by LOCK_TIMEOUT_MS.
//
// The same buffer holds the host's own counts of the heap's blocks
// (heap-counts.ts): what bounds every walk of the heap's lists, for the same
// reason the lock is here: a guest cannot write them.
//
// HEAP LOCK AND HOST COUNTS (Int32Array over its own 16-byte SharedArrayBuffer)
//
//  ┌────────┬─────────────┬──────────────────────────────────────────────────┐
//  │ offset │ field       │ meaning                                          │
//  ├────────┼─────────────┼──────────────────────────────────────────────────┤
//  │ 0      │ STATE       │ 0 free, 1 held, 2 held with waiters              │
//  │ 4      │ HOLDER      │ 1 + thread id of the holder (0 = none)           │
//  │ 8      │ FREE_BLOCKS │ blocks the host put on the free list and has not │
//  │        │             │ taken off it (changed under the lock)            │
//  │ 12     │ BLOCKS      │ blocks the host carved that tile the heap        │
//  │        │             │ (changed under the lock)                         │
//  └────────┴─────────────┴──────────────────────────────────────────────────┘

import { isMainThread } from 'node:worker_threads';
import { CwasiError } from '../errors.js';

export const HEAP_LOCK_BYTES = 16;
/** Int32 indices of the fields in the table above. */
const LOCK_STATE = 0;
const LOCK_HOLDER = 1;
export const COUNT_FREE_BLOCKS = 2;
export const COUNT_BLOCKS = 3;
const SPIN_BEFORE_WAIT = 200;
/** A lock held longer than this means its holder died inside the critical section. */
const LOCK_TIMEOUT_MS = 5000;
/**
 * The most the main thread spins for the lock. Critical sections are short
 * host code; one that takes longer has a preempted or dead holder, and the
 * event loop must not wait for either.
 */
export const MAIN_LOCK_SPIN_MS = 2;

export const threadTag = (): number => {
  // 1 + worker threadId (the main thread is 0) so 0 keeps meaning "nobody".
  return 1 + ((globalThis as { __cwasiThreadId?: number }).__cwasiThreadId ?? 0);
};

/**
 * The main thread could not take the heap lock within MAIN_LOCK_SPIN_MS.
 * Nothing was changed; the caller retries later or takes a path that does
 * not need this heap.
 */
export class HeapLockBusy extends CwasiError {
  constructor(holder: number) {
    super('E_INTERNAL', `heap lock busy (held by thread ${holder - 1})`);
  }
}

/**
 * Run a main-thread heap operation now, or, while the lock is busy, again on
 * later turns of the event loop (never blocking it). A lock still busy after
 * LOCK_TIMEOUT_MS, or metadata that fails validation, ends in `onFail` with
 * E_MEMORY_CORRUPT: the caller discards the memory.
 */
export function whenUnlocked(op: () => void, onFail: (err: CwasiError) => void): void {
  const started = Date.now();
  let delay = 1;
  const attempt = (): void => {
    try {
      op();
    } catch (err) {
      if (err instanceof HeapLockBusy && Date.now() - started < LOCK_TIMEOUT_MS) {
        setTimeout(attempt, delay).unref();
        delay = Math.min(delay * 2, 50);
        return;
      }
      onFail(err instanceof HeapLockBusy
        ? new CwasiError('E_MEMORY_CORRUPT', `heap lock held for over ${LOCK_TIMEOUT_MS} ms: ${err.message}`)
        : err instanceof CwasiError ? err : new CwasiError('E_MEMORY_CORRUPT', String(err)));
    }
  };
  attempt();
}

/** Where a dispatcher asks this worker thread to exit at its next heap unlock (exit-request.ts); unset on the main thread. */
let exitWord: Int32Array | undefined;
let exitIndex = 0;
/** Exit code of a worker that left at a heap unlock because its task was cancelled. */
export const EXIT_AT_UNLOCK_CODE = 86;

/** Worker threads: exit (instead of entering or after leaving a critical section) once `words[index]` is not 0. */
export function exitAtUnlockWhenAsked(words: Int32Array, index: number): void {
  exitWord = words;
  exitIndex = index;
}

function exitAsked(): boolean {
  return exitWord !== undefined && Atomics.load(exitWord, exitIndex) !== 0;
}

function exitIfAsked(): void {
  if (exitAsked()) process.exit(EXIT_AT_UNLOCK_CODE);
}

export class HeapLock {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEAP_LOCK_BYTES) {
      throw new CwasiError('E_INTERNAL', 'a heap needs its lock buffer');
    }
    this.buffer = buffer;
    this.words = new Int32Array(buffer, 0, HEAP_LOCK_BYTES >> 2);
  }

  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer(HEAP_LOCK_BYTES);
  }

  /** Thread tag of the holder (0 = free). */
  holder(): number {
    return Atomics.load(this.words, LOCK_STATE) === 0 ? 0 : Atomics.load(this.words, LOCK_HOLDER);
  }

  lock(): void {
    const w = this.words;
    // The tag first: between taking the lock and naming its holder there is no call.
    const me = threadTag();
    // Fast path: 0 → 1 takes the lock uncontended.
    const c = Atomics.compareExchange(w, LOCK_STATE, 0, 1);
    if (c !== 0) {
      if (isMainThread) this.lockMain();
      else this.lockSlow(c);
    }
    Atomics.store(w, LOCK_HOLDER, me);
    // Asked to exit (exit-request.ts): leave before changing anything (unlock() exits).
    if (exitAsked()) this.unlock();
  }

  /** The main thread spins, bounded, and never sleeps (see the top of this file). */
  private lockMain(): void {
    const w = this.words;
    const until = performance.now() + MAIN_LOCK_SPIN_MS;
    for (let i = 0; ; i++) {
      // Take it only when free (0 → 1); a waiter's state 2 stays, so its holder still notifies.
      if (Atomics.load(w, LOCK_STATE) === 0 && Atomics.compareExchange(w, LOCK_STATE, 0, 1) === 0) return;
      if ((i & 63) === 63 && performance.now() > until) throw new HeapLockBusy(Atomics.load(w, LOCK_HOLDER));
    }
  }

  private lockSlow(observed: number): void {
    const w = this.words;
    let c = observed;
    // Spin briefly: critical sections are a few hundred nanoseconds and waking
    // a sleeping core costs tens of microseconds.
    for (let i = 0; i < SPIN_BEFORE_WAIT; i++) {
      if (c === 0 && (c = Atomics.compareExchange(w, LOCK_STATE, 0, 1)) === 0) return;
      c = Atomics.load(w, LOCK_STATE);
    }
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    // Announce a waiter (state 2) so the holder's unlock notifies us; the CAS
    // loop avoids sleeping on a lock that was released in between.
    if (c !== 2) c = Atomics.exchange(w, LOCK_STATE, 2);
    while (c !== 0) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const holder = Atomics.load(w, LOCK_HOLDER) - 1;
        throw new CwasiError('E_MEMORY_CORRUPT', `heap lock held for over ${LOCK_TIMEOUT_MS} ms (holder thread ${holder})`);
      }
      Atomics.wait(w, LOCK_STATE, 2, Math.min(left, 50));
      c = Atomics.exchange(w, LOCK_STATE, 2);
    }
  }

  unlock(): void {
    const w = this.words;
    Atomics.store(w, LOCK_HOLDER, 0);
    // 1 → 0: nobody waited. 2 → 0 plus a notify wakes one waiter, which
    // re-takes the lock in state 2 so that later unlocks keep notifying.
    if (Atomics.sub(w, LOCK_STATE, 1) !== 1) {
      Atomics.store(w, LOCK_STATE, 0);
      Atomics.notify(w, LOCK_STATE, 1);
    }
    exitIfAsked();
  }
}
