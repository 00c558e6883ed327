// The cancel board: how an abort and a worker agree on whether a pool task
// runs. Shared by the dispatcher (worker-registry.ts, pool-runner.ts) and the
// worker (worker.ts); nothing else writes it.
//
// One Int32Array over a SharedArrayBuffer made by the engine and given to
// every worker as workerData, with one slot for every task the pool can hold
// at once (cancelBoardSlots: maxThreads + maxQueue + a spare).
// The dispatcher leases a free slot to each task (RunTask.cancelSlot) and
// holds it until the task has settled in the pool; no two live tasks share
// one. Both sides change a slot only by compare-and-swap from 0, so exactly
// one of them wins:
//   the worker, taking the task: 0 → SLOT_STARTED (the task has begun), or
//     it finds the task's id there and returns E_ABORTED without running it;
//   the dispatcher, cancelling: 0 → the task's id (the worker will return at
//     once; nobody is killed), or it finds SLOT_STARTED and terminates the
//     worker running the task.
// A task whose slot is still 0 never began anywhere: if its worker exits
// before taking it, the dispatcher may hand it to the pool again. A settled
// task's slot is reset to 0 before it is leased again.
//
//  ┌────────────┬──────┬─────────────────────────────────────────────────────┐
//  │ offset     │ type │ value                                               │
//  ├────────────┼──────┼─────────────────────────────────────────────────────┤
//  │ 4 × slot   │ i32  │ 0            leased, not begun, not cancelled       │
//  │            │      │ SLOT_STARTED a worker has begun the task            │
//  │            │      │ task id > 0  cancelled before any worker began it   │
//  └────────────┴──────┴─────────────────────────────────────────────────────┘

import { CwasiError } from '../errors.js';

/** A worker has begun the task (task ids are positive, so this is no id). */
export const SLOT_STARTED = -1;
/** Slots beyond maxThreads + maxQueue: tasks refused by a full queue hold one until their rejection settles. */
export const CANCEL_BOARD_SPARE = 64;

export function cancelBoardSlots(maxThreads: number, maxQueue: number): number {
  return maxThreads + maxQueue + CANCEL_BOARD_SPARE;
}

/**
 * Worker, taking a task: claim its slot. True: the task is the worker's to
 * run. False: the dispatcher cancelled it first (return E_ABORTED, run
 * nothing). A slot outside the board, or holding another task's mark, is a
 * dispatcher bug and refused (E_INTERNAL).
 */
export function claimTask(board: Int32Array, slot: number, taskId: number): boolean {
  if (!Number.isInteger(slot) || slot < 0 || slot >= board.length) {
    throw new CwasiError('E_INTERNAL', `task ${taskId} names cancel slot ${slot} of ${board.length}`);
  }
  const prev = Atomics.compareExchange(board, slot, 0, SLOT_STARTED);
  if (prev === 0) return true;
  if (prev === taskId) return false;
  throw new CwasiError('E_INTERNAL', `task ${taskId}: cancel slot ${slot} holds ${prev}`);
}

/**
 * Dispatcher, cancelling a task: 'marked' when no worker has claimed it (the
 * one that takes it will return at once), 'started' when one has (terminate
 * that worker).
 */
export function markCancelled(board: Int32Array, slot: number, taskId: number): 'marked' | 'started' {
  const prev = Atomics.compareExchange(board, slot, 0, taskId);
  return prev === SLOT_STARTED ? 'started' : 'marked';
}

/**
 * Has a worker claimed the task in `slot`? A worker publishes RUNNING in its
 * journal just before it claims, so a journal alone does not prove the task
 * began: an abort between the two still finds the slot free, marks it, and
 * the worker returns without running anything.
 */
export function claimed(board: Int32Array, slot: number): boolean {
  return Atomics.load(board, slot) === SLOT_STARTED;
}

/** Has no worker claimed the task in `slot` (so handing it to the pool again is safe)? */
export function unclaimed(board: Int32Array, slot: number): boolean {
  return Atomics.load(board, slot) === 0;
}
