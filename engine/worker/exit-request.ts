// Cancelling a task whose worker holds a heap lock. Terminating a thread
// inside a heap critical section leaves the memory's metadata half-updated,
// so its recovery must discard the whole memory group, failing every other
// invocation in it. Instead the dispatcher asks: it sets the worker's
// EXIT_REQUEST word (control block, protocol.ts), and the worker exits at its
// next heap unlock, or at its next lock before changing anything
// (heap-lock.ts). A worker holding no lock is terminated at once.
//
// Order (both sides sequentially consistent):
//   dispatcher: EXIT_REQUEST = 1, then read each heap's lock holder
//   worker:     take the lock, name itself holder, then read EXIT_REQUEST
// So either the dispatcher sees the worker holding a lock (and leaves the
// exit to it), or the worker sees the request as soon as it takes one.

import { CTRL_EXIT_REQUEST } from './protocol.js';

export interface LockView {
  /** Thread tag of the lock's holder (0 = free). */
  lockHolder(): number;
}

/**
 * Ask the worker with thread tag `tag` to go: 'asked' when it holds one of
 * `heaps`' locks (it exits at the unlock), 'terminated' after calling
 * `terminate` when it holds none.
 */
export function terminateOrAsk(control: Int32Array, tag: number, heaps: Iterable<LockView>, terminate: () => void): 'asked' | 'terminated' {
  Atomics.store(control, CTRL_EXIT_REQUEST >> 2, 1);
  for (const h of heaps) {
    if (h.lockHolder() === tag) return 'asked';
  }
  terminate();
  return 'terminated';
}
