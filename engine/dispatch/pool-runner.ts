// The pool runner: runs one segment of an invocation as a Piscina task on
// this node, within the function's replicas, the queue bound and the
// invocation's abort, and turns what the worker reports into a result or a
// coded error. The states a task goes through and what an abort does in each
// are tabled above Invocation (invocation.ts).

import type { Piscina } from 'piscina';
import { CwasiError } from '../errors.js';
import { releaseKept } from '../channels/channel.js';
import type { GuestCallLimits } from '../guest-calls.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import type { RunTask, TaskResult } from '../worker/protocol.js';
import type { Invocation } from './invocation.js';
import type { DispatchContext, SegmentResult, SegmentRun } from './types.js';
import type { WorkerRegistry } from './worker-registry.js';

/** How many times a task whose worker exited before it began is handed to the pool in all. */
const MAX_UNSTARTED_POSTS = 3;

/** Piscina's rejection of the tasks on a worker that exited. */
function isWorkerExit(err: unknown): boolean {
  return err instanceof Error && !(err instanceof CwasiError) && /worker exited/i.test(err.message);
}

/** Counting semaphore for `replicas` (invocations of one function that may run at once). */
export class Semaphore {
  private waiters: Array<() => void> = [];
  constructor(private available: number) {}

  async acquire(signal: AbortSignal): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== grant);
        reject(signal.reason);
      };
      this.waiters.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available++;
  }
}

export class PoolRunner {
  private nextTaskId = 1;
  private tasksInPool = 0;
  private readonly semaphores = new Map<string, Semaphore>();

  constructor(
    private readonly ctx: DispatchContext,
    private readonly pool: Piscina,
    private readonly registry: WorkerRegistry,
    private readonly callLimits: GuestCallLimits,
    private readonly closing: () => boolean,
  ) {}

  /** How long tasks took in their workers, per first function (ms, moving average): when a producer is likely done. */
  private readonly runMs = new Map<string, number>();

  /** The usual worker time of a task starting with `fn` (ms), once one has run. */
  expectedRunMs(fn: string): number | undefined {
    return this.runMs.get(fn);
  }

  /** Tasks that wait for or hold a worker. */
  get held(): number {
    return this.tasksInPool;
  }

  /** Workers free for more tasks (the pool may grow to maxThreads). */
  freeWorkers(): number {
    return Math.max(0, this.ctx.options.maxThreads - this.tasksInPool);
  }

  /**
   * Run one segment as a pool task; resolves with its result and the memory
   * it ran in. (One method, not several: admission, the race with the abort
   * and the late-result handler share the task's bookkeeping, in order.)
   */
  async run(seg: SegmentRun, inputs: InputSpec[], output: OutputSpec, inv: Invocation, callDepth = 0): Promise<SegmentResult> {
    const group = seg.group;
    const limited = seg.steps.filter((s) => this.ctx.coordinator.get(s)?.replicas !== undefined);
    const acquired: Semaphore[] = [];
    try {
      for (const s of limited) {
        let sem = this.semaphores.get(s);
        if (sem === undefined) this.semaphores.set(s, (sem = new Semaphore(this.ctx.coordinator.get(s)!.replicas!)));
        await sem.acquire(inv.signal);
        acquired.push(sem);
      }
    } catch (err) {
      for (const s of acquired) s.release();
      throw err;
    }
    // Piscina does not count tasks that carry an AbortSignal against its maxQueue: bound them here.
    // Calls in the workers' lanes count too (engine/lane/lanes.ts).
    const held = this.tasksInPool + (this.ctx.lanes?.inFlight ?? 0);
    if (held >= this.ctx.options.maxThreads + this.ctx.options.maxQueue) {
      for (const s of acquired) s.release();
      throw new CwasiError('E_QUEUE_FULL', `${seg.steps[0]}: the queue is full (${held} calls wait for or hold a worker; maxQueue ${this.ctx.options.maxQueue})`);
    }
    // Steps of one task may live in different memories (a local edge run in one worker).
    const groups = seg.steps.map((fn, i) => (i === 0 ? group : this.ctx.coordinator.require(fn).group));
    const refs = groups.map((g) => g.ref());
    const taskId = this.nextTaskId = (this.nextTaskId % 0x7fffffff) + 1;
    const cancelSlot = this.registry.leaseSlot();
    if (cancelSlot === undefined) {
      for (const s of acquired) s.release();
      throw new CwasiError('E_QUEUE_FULL', `${seg.steps[0]}: the pool holds as many tasks as it can track (maxThreads + maxQueue)`);
    }
    // A forced guest-call mode whose calls do not run inline sends every call through this dispatcher.
    const forced = inv.opts.guestCallMode;
    const forceRemote = forced !== undefined && this.ctx.channel(forced)?.callsRunInline !== true ? ['*'] : [];
    const task: RunTask = {
      type: 'run', taskId, cancelSlot, invocationId: inv.id, steps: seg.steps, groups: groups.map((g) => g.key()), inputs, output,
      deadline: inv.deadline, maxPayloadBytes: this.ctx.options.maxPayloadBytes, forceRemote,
      callDepth, callLimits: this.callLimits,
    };
    if (inv.trace !== undefined) task.traceparent = inv.trace.traceparent;
    if (!inv.wantsTimings) task.skipTimings = true;
    // A continuation's steps live in the memory of the task's last step (the caller chose them so).
    if (seg.then !== undefined) task.then = { steps: seg.then.steps, groups: seg.then.steps.map(() => task.groups[task.groups.length - 1]!), output: seg.then.output };
    let res!: TaskResult;
    if (inv.aborted) {
      for (const s of acquired) s.release();
      this.registry.returnSlot(cancelSlot);
      throw inv.reason!;
    }
    this.tasksInPool++;
    inv.tasks.add(taskId);
    this.registry.liveTasks.set(taskId, { groups, refs, fn: seg.steps[0]!, slot: cancelSlot });
    let running = this.pool.run(task) as Promise<TaskResult>;
    try {
      for (let posted = 1; ; posted++) {
        try {
          res = await Promise.race([running, inv.whenAborted()]);
          break;
        } catch (err) {
          // Its worker went away before the task began there (killed for another
          // task's abort just as it took this one, or crashed): nothing of it ran,
          // so it goes to another worker instead of failing with E_WORKER_DIED.
          if (posted >= MAX_UNSTARTED_POSTS || inv.aborted || this.closing() || !isWorkerExit(err) || !this.registry.neverStarted(taskId)) throw err;
          running = this.pool.run(task) as Promise<TaskResult>;
        }
      }
    } catch (err) {
      const e = this.taskError(err, inv, seg.steps[0]!);
      // An aborted task may still be in the pool. If it finishes after all,
      // nobody takes its output; if its worker dies, the thread's exit frees
      // what its journal says it held (forgetThread).
      void running.then((late) => {
        if (!late.ok) return;
        if (late.then?.ok === true && late.then.kept !== undefined) releaseKept({ result: late.then, group: refs[refs.length - 1]! });
        if (late.kept !== undefined) releaseKept({ result: late, group: refs[refs.length - 1]! });
      }, () => {}).finally(() => this.registry.settled(taskId));
      throw e;
    } finally {
      this.tasksInPool--;
      inv.tasks.delete(taskId);
      for (const s of acquired) s.release();
    }
    this.registry.settled(taskId);
    const discarded = groups.findIndex((g, i) => g.generation !== refs[i]!.generation);
    if (discarded >= 0) {
      // Discarded while the task waited or ran (a member trapped): one fate, whatever the worker saw.
      const g = groups[discarded]!;
      throw new CwasiError('E_FUNCTION_TRAP', `${seg.steps.join(' → ')}: memory group ${g.id} was discarded while it ran (${g.lastDiscardReason ?? 'trap'})`);
    }
    if (!res.ok) {
      const failed = res as Extract<TaskResult, { ok: false }>;
      const at = groups.findIndex((g) => g.id === failed.groupId);
      if (failed.discardGroup && at >= 0) this.ctx.discardGroup(refs[at]!.id, refs[at]!.generation, `${failed.fn}: ${failed.error.message}`);
      throw CwasiError.fromRecord(failed.error);
    }
    if (res.runMs !== undefined && Number.isFinite(res.runMs)) {
      const was = this.runMs.get(seg.steps[0]!);
      this.runMs.set(seg.steps[0]!, was === undefined ? res.runMs : was + (res.runMs - was) / 8);
    }
    const done: SegmentResult = { result: res, group: refs[refs.length - 1]! };
    const then = res.then;
    if (then === undefined) return done;
    delete res.then;
    if (then.ok) {
      done.then = { ok: true, result: then };
    } else {
      if (then.discardGroup && then.groupId === done.group.id) this.ctx.discardGroup(done.group.id, done.group.generation, `${then.fn}: ${then.error.message}`);
      done.then = { ok: false, error: CwasiError.fromRecord(then.error) };
    }
    return done;
  }

  private taskError(err: unknown, inv: Invocation, fn: string): CwasiError {
    if (err instanceof CwasiError) return err;
    const e = err as Error;
    if (inv.aborted) return inv.reason!;
    const msg = e?.message ?? String(err);
    if (/queue is at limit/i.test(msg)) return new CwasiError('E_QUEUE_FULL', `${fn}: the task queue is full`);
    if (/terminat|destroy|closed/i.test(msg) && this.closing()) return new CwasiError('E_CLOSED', `${fn}: the engine closed`);
    return new CwasiError('E_WORKER_DIED', `${fn}: the worker running it died: ${msg}`);
  }
}
