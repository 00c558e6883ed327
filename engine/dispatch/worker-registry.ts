// The worker registry: the pool's threads this node knows (their reply
// ports, control blocks and control APIs, from each one's hello), the tasks
// in flight that a dead thread's journal may refer to, the cancel board, and
// recovery: when a thread exits, what its task held goes back to the heaps.

import type { Piscina } from 'piscina';
import type { MessagePort } from 'node:worker_threads';
import type { Remote } from 'comlink';
import { CwasiError } from '../errors.js';
import type { GroupRef } from '../channels/channel.js';
import type { FunctionCoordinator, MemoryGroup } from '../coordinator.js';
import { whenUnlocked } from '../memory/heap.js';
import { controlOf, withTimeout, type WorkerControl, type WorkerStats } from '../worker/control.js';
import { claimed, markCancelled, unclaimed } from '../worker/cancel-board.js';
import { terminateOrAsk } from '../worker/exit-request.js';
import { JOURNAL, JOURNAL_ENTRY_BYTES, JOURNAL_OFFSET, JOURNAL_RUNNING, type WorkerHello } from '../worker/protocol.js';
import type { Invocation } from './invocation.js';
import type { LaneSet } from '../lane/lanes.js';

/** How long a control-plane call to a worker may take (it answers between tasks). */
const CONTROL_TIMEOUT_MS = 2000;
/** How long a thread asked to exit at its heap unlock may take before it is terminated anyway. */
const EXIT_REQUEST_GRACE_MS = 1000;

export interface WorkerLink {
  port: MessagePort;
  /** The worker's control block (protocol.ts): share state, call slots, journal. */
  control: Int32Array;
  /** The worker's control API (comlink). */
  api: Remote<WorkerControl>;
}

/** A task handed to the pool and not yet settled: what a dead thread's journal refers to. */
export interface LiveTask {
  groups: MemoryGroup[];
  refs: GroupRef[];
  fn: string;
  /** Its cancel-board slot (protocol.ts CANCEL BOARD), held until the task settles. */
  slot: number;
}

export class WorkerRegistry {
  readonly workers = new Map<number, WorkerLink>();
  /** Callbacks waiting for a thread's hello (see whenWorkersStarted). */
  private readonly helloWaiters = new Map<number, () => void>();
  readonly liveTasks = new Map<number, LiveTask>();
  /** Ids of cancelled tasks, one slot per live task (protocol.ts CANCEL BOARD); shared with every worker. */
  private readonly cancelBoard: Int32Array;
  /** Board slots no live task holds (a stack: the most recently freed is reused first). */
  private readonly freeSlots: number[];
  /**
   * Cancelled tasks that have not settled in the pool: looked up again when a
   * worker becomes known (hello) or asks for a memory, so that a task already
   * RUNNING in a thread this side could not see yet is still terminated.
   */
  private readonly cancelled = new Set<number>();

  constructor(
    private readonly pool: Piscina,
    private readonly coordinator: FunctionCoordinator,
    cancelBoard: SharedArrayBuffer,
    private readonly discardGroup: (groupId: string, generation: number, reason: string) => void,
    /** The pool's call lanes (engine/lane/lanes.ts): each hello brings one, each exit ends one. */
    private readonly lanes?: LaneSet,
  ) {
    this.cancelBoard = new Int32Array(cancelBoard);
    this.freeSlots = Array.from({ length: this.cancelBoard.length }, (_, i) => this.cancelBoard.length - 1 - i);
  }

  /** A board slot for a task about to enter the pool, or undefined when every slot is held (the pool is full). */
  leaseSlot(): number | undefined {
    return this.freeSlots.pop();
  }

  /** The task has not begun in any worker (its slot was never claimed): handing it to the pool again is safe. */
  neverStarted(taskId: number): boolean {
    const live = this.liveTasks.get(taskId);
    return live !== undefined && unclaimed(this.cancelBoard, live.slot);
  }

  /** Return a slot that was leased but never reached the pool. */
  returnSlot(slot: number): void {
    Atomics.store(this.cancelBoard, slot, 0);
    this.freeSlots.push(slot);
  }

  /** A thread finished loading the worker module: learn its ports and control block. */
  hello(hello: WorkerHello): void {
    this.workers.set(hello.threadId, { port: hello.replyPort, control: new Int32Array(hello.control), api: controlOf(hello.controlPort) });
    hello.replyPort.unref();
    this.lanes?.add(hello.threadId, hello.lane, hello.lanePort);
    // When the thread is gone (killed on abort, or retired when idle) its cached
    // chunks and its instances' stacks in every memory go back to the heaps.
    const worker = this.pool.threads.find((w) => w.threadId === hello.threadId);
    worker?.once('exit', () => this.forgetThread(hello.threadId));
    this.helloWaiters.get(hello.threadId)?.();
    this.terminateIfCancelled(hello.threadId);
  }

  /** A task settled in the pool (whatever its outcome): its journal entry no longer matters. */
  settled(taskId: number): void {
    const live = this.liveTasks.get(taskId);
    this.liveTasks.delete(taskId);
    this.cancelled.delete(taskId);
    // No worker reads this task's slot any more: clear it for the next lease.
    if (live !== undefined) this.returnSlot(live.slot);
  }

  /** The worker's journal says it runs a task or a lane call. */
  /** The worker runs a pool task now (its journal says RUNNING, under a task id; lane calls journal negative ids). */
  runsPoolTask(threadId: number): boolean {
    const link = this.workers.get(threadId);
    return link !== undefined && Atomics.load(link.control, (JOURNAL_OFFSET + JOURNAL.STATE) >> 2) === JOURNAL_RUNNING
      && Atomics.load(link.control, (JOURNAL_OFFSET + JOURNAL.TASK) >> 2) > 0;
  }

  /**
   * The first function of every task that has started (placing inputs or
   * running guest code): a worker's journal says RUNNING and the worker has
   * claimed the task's cancel slot, so an abort from now on ends it by ending
   * its worker. Read from shared memory, so a worker inside a wasm loop is
   * seen too (its control API is not).
   */
  runningTasks(): string[] {
    const J = JOURNAL_OFFSET >> 2;
    const out: string[] = [];
    for (const link of this.workers.values()) {
      if (Atomics.load(link.control, J + (JOURNAL.STATE >> 2)) !== JOURNAL_RUNNING) continue;
      const taskId = Atomics.load(link.control, J + (JOURNAL.TASK >> 2));
      const live = this.liveTasks.get(taskId);
      if (live !== undefined && claimed(this.cancelBoard, live.slot)) out.push(live.fn);
      const laned = live === undefined ? this.lanes?.runningFn(taskId) : undefined;
      if (laned !== undefined) out.push(laned);
    }
    return out;
  }

  /** Tell every worker to drop its instances of a discarded generation now rather than when it next sees the group. */
  dropGroupEverywhere(groupId: string, generation: number): void {
    for (const link of this.workers.values()) {
      void withTimeout(link.api.dropGroup(groupId, generation), CONTROL_TIMEOUT_MS, 'dropGroup').catch(() => {});
    }
  }

  /** Every worker's own report, over the control plane (a busy worker answers when its task ends). */
  async workerStats(timeoutMs = CONTROL_TIMEOUT_MS): Promise<WorkerStats[]> {
    const all = await Promise.allSettled([...this.workers.values()].map((l) => withTimeout(l.api.stats(), timeoutMs, 'stats')));
    return all.filter((r): r is PromiseFulfilledResult<WorkerStats> => r.status === 'fulfilled').map((r) => r.value);
  }

  /** Ask every worker to write its coverage (before the pool terminates them). */
  async flushCoverage(): Promise<void> {
    await Promise.allSettled([...this.workers.values()].map((l) => withTimeout(l.api.flushCoverage(), CONTROL_TIMEOUT_MS, 'flushCoverage')));
  }

  /**
   * A worker thread exited (killed on abort or deadline, crashed, or retired
   * when idle): free what the task it was running held, then its cached
   * chunks and its instances' stacks in every memory.
   */
  private forgetThread(threadId: number): void {
    const link = this.workers.get(threadId);
    this.workers.delete(threadId);
    if (link !== undefined) {
      const J = JOURNAL_OFFSET >> 2;
      const taskId = Atomics.load(link.control, J + (JOURNAL.TASK >> 2));
      // A lane call journals its id negated (engine/lane/lanes.ts).
      const live = this.liveTasks.get(taskId) ?? this.lanes?.liveTask(taskId);
      if (live !== undefined && Atomics.load(link.control, J + (JOURNAL.STATE >> 2)) === JOURNAL_RUNNING) {
        this.recover(link.control, threadId, live.groups, live.refs, new CwasiError('E_WORKER_DIED', `${live.fn}: its worker exited`));
      }
    }
    this.lanes?.workerExited(threadId);
    for (const g of this.coordinator.groupsList()) {
      if (g.heap === undefined || g.host !== this.coordinator.hostName) continue;
      const heap = g.heap;
      const generation = g.generation;
      whenUnlocked(() => {
        if (g.generation === generation) heap.releaseTagged(new Set(), threadId + 1);
      }, (err) => this.discardGroup(g.id, generation, `heap inconsistent after thread ${threadId} exited: ${err.message}`));
    }
  }

  /**
   * Cancel the pool tasks of an aborted invocation. The task's slot decides,
   * by compare-and-swap against the worker's own claim (protocol.ts CANCEL
   * BOARD): a task not yet claimed is marked, and the worker that takes it
   * returns at once (no kill, so no other task can be caught by one); a
   * claimed task has begun, and its worker is terminated.
   */
  cancelTasks(inv: Invocation): void {
    const J = JOURNAL_OFFSET >> 2;
    for (const taskId of inv.tasks) {
      const live = this.liveTasks.get(taskId);
      if (live === undefined) continue;
      if (markCancelled(this.cancelBoard, live.slot, taskId) === 'marked') continue;
      this.cancelled.add(taskId);
      for (const [threadId, link] of this.workers) {
        // STATE before TASK: a worker that ends this task and starts the next writes
        // TASK before RUNNING, so read the other way round the next one could pass.
        if (Atomics.load(link.control, J + (JOURNAL.STATE >> 2)) === JOURNAL_RUNNING && Atomics.load(link.control, J + (JOURNAL.TASK >> 2)) === taskId) {
          this.terminate(threadId);
        }
      }
    }
  }

  /** Terminate `threadId` if its journal says it still runs `taskId` (a lane call: its id negated), not a task it took after; true when it did. */
  terminateRunning(threadId: number, taskId: number): boolean {
    const link = this.workers.get(threadId);
    if (link === undefined) return false;
    const J = JOURNAL_OFFSET >> 2;
    if (Atomics.load(link.control, J + (JOURNAL.STATE >> 2)) !== JOURNAL_RUNNING) return false;
    if (Atomics.load(link.control, J + (JOURNAL.TASK >> 2)) !== taskId) return false;
    this.terminate(threadId);
    return true;
  }

  /** Terminate `threadId` if its journal says it runs a cancelled task; true when it did. */
  terminateIfCancelled(threadId: number): boolean {
    if (this.cancelled.size === 0) return false;
    const link = this.workers.get(threadId);
    if (link === undefined) return false;
    const J = JOURNAL_OFFSET >> 2;
    if (Atomics.load(link.control, J + (JOURNAL.STATE >> 2)) !== JOURNAL_RUNNING) return false;
    if (!this.cancelled.has(Atomics.load(link.control, J + (JOURNAL.TASK >> 2)))) return false;
    this.terminate(threadId);
    return true;
  }

  /**
   * End a thread running a cancelled task: at once, or, when it holds a heap
   * lock, at its unlock (exit-request.ts), so that no memory is left
   * half-updated and discarded. A thread asked to go that is still there
   * after EXIT_REQUEST_GRACE_MS is terminated all the same.
   */
  terminate(threadId: number): void {
    const worker = this.pool.threads.find((w) => w.threadId === threadId);
    if (worker === undefined) return;
    const link = this.workers.get(threadId);
    const kill = (): void => void worker.terminate();
    if (link === undefined) return kill();
    const heaps = this.coordinator.groupsList().filter((g) => g.heap !== undefined && g.host === this.coordinator.hostName).map((g) => g.heap!);
    if (terminateOrAsk(link.control, threadId + 1, heaps, kill) === 'asked') {
      setTimeout(() => {
        if (this.workers.get(threadId) === link) kill();
      }, EXIT_REQUEST_GRACE_MS).unref();
    }
  }

  /** A task's thread died: free the arenas its journal (the thread's control block) says the task held. */
  private recover(j: Int32Array, threadId: number, groups: MemoryGroup[], refs: GroupRef[], cause: CwasiError): void {
    const J = JOURNAL_OFFSET >> 2;
    const overflow = Atomics.load(j, J + (JOURNAL.OVERFLOW >> 2)) === 1;
    const n = Atomics.load(j, J + (JOURNAL.COUNT >> 2));
    const ids = groups.map(() => new Set<number>());
    for (let i = 0; i < n; i++) {
      const at = J + (JOURNAL.ARENAS >> 2) + i * (JOURNAL_ENTRY_BYTES >> 2);
      ids[j[at]!]?.add(j[at + 1]! >>> 0);
    }
    const seen = new Set<MemoryGroup>();
    groups.forEach((group, i) => {
      if (seen.has(group) || group.generation !== refs[i]!.generation) return;
      seen.add(group);
      const discard = (why: string) => {
        this.discardGroup(refs[i]!.id, refs[i]!.generation, `${why} (${cause.code})`);
      };
      const heap = group.heap;
      if (heap.lockHolder() === threadId + 1) return discard('worker killed holding the heap lock');
      if (overflow) return discard('worker killed holding arenas its journal could not record');
      // Every index of this group (an embedded chain repeats a group).
      const mine = new Set<number>();
      groups.forEach((g, k) => {
        if (g === group) for (const id of ids[k]!) mine.add(id);
      });
      whenUnlocked(() => {
        if (group.generation === refs[i]!.generation) heap.releaseTagged(mine, threadId + 1);
      }, (err) => discard(`heap inconsistent after a killed task: ${err.message}`));
    });
  }

  /**
   * Resolve once every thread of the pool has finished loading the worker
   * module (said hello) or exited, or after `limitMs`. Terminating a thread
   * while Node is still inside require() of the worker module aborts the
   * whole process (Node 20), so close() waits for this first.
   */
  async whenWorkersStarted(limitMs: number): Promise<void> {
    const starting = this.pool.threads.filter((w) => !this.workers.has(w.threadId));
    if (starting.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => { timer = setTimeout(resolve, limitMs); });
    const started = Promise.all(starting.map((w) => new Promise<void>((resolve) => {
      const id = w.threadId;
      const done = (): void => {
        w.off('exit', done);
        this.helloWaiters.delete(id);
        resolve();
      };
      w.once('exit', done);
      this.helloWaiters.set(id, done);
    })));
    await Promise.race([started, limit]);
    clearTimeout(timer);
    for (const w of starting) this.helloWaiters.delete(w.threadId);
  }
}
