// The task journal a worker keeps in its control block (layout in
// protocol.ts): which task runs and which arenas it created, so that the main
// thread can release them if the worker dies mid-task. Written only by the
// worker; each field is published with a store the reader pairs with a load.

import { JOURNAL, JOURNAL_ARENAS, JOURNAL_ENTRY_BYTES, JOURNAL_FINISHED, JOURNAL_OFFSET, JOURNAL_RUNNING } from './protocol.js';

const J = JOURNAL_OFFSET >> 2;

export class TaskJournal {
  private journaling = false;

  constructor(private readonly ctl: Int32Array) {}

  start(taskId: number): void {
    const ctl = this.ctl;
    Atomics.store(ctl, J + (JOURNAL.COUNT >> 2), 0);
    Atomics.store(ctl, J + (JOURNAL.OVERFLOW >> 2), 0);
    Atomics.store(ctl, J + (JOURNAL.TASK >> 2), taskId);
    // Publish RUNNING last: a reader that sees it sees this task's id.
    Atomics.store(ctl, J + (JOURNAL.STATE >> 2), JOURNAL_RUNNING);
    this.journaling = true;
  }

  /** Record arena `id` of the task's memory group number `groupIndex` (-1: not one of the task's). */
  arena(groupIndex: number, id: number): void {
    if (!this.journaling) return;
    const ctl = this.ctl;
    const n = ctl[J + (JOURNAL.COUNT >> 2)]!;
    if (n >= JOURNAL_ARENAS || groupIndex < 0) {
      // Not recordable: a killed task then costs its memories (discarded whole).
      Atomics.store(ctl, J + (JOURNAL.OVERFLOW >> 2), 1);
      return;
    }
    const at = J + (JOURNAL.ARENAS >> 2) + n * (JOURNAL_ENTRY_BYTES >> 2);
    ctl[at] = groupIndex;
    ctl[at + 1] = id;
    // Publish the entry before the count: a reader that sees the count sees the entry.
    Atomics.store(ctl, J + (JOURNAL.COUNT >> 2), n + 1);
  }

  end(): void {
    this.journaling = false;
    Atomics.store(this.ctl, J + (JOURNAL.STATE >> 2), JOURNAL_FINISHED);
  }

  running(): boolean {
    return Atomics.load(this.ctl, J + (JOURNAL.STATE >> 2)) === JOURNAL_RUNNING;
  }

  task(): number {
    return Atomics.load(this.ctl, J + (JOURNAL.TASK >> 2));
  }
}
