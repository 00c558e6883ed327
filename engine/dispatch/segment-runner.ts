// The segment runner: what one invocation's run (dag-run.ts) uses to get its
// work done. It runs a segment where the segment is placed (this node's pool,
// or another node of the cluster), places the entry input in the entry
// function's memory, and answers the two questions early starts are planned
// on (free workers, when a producer is likely done). The dispatcher builds one
// from its parts; nothing here calls back up into the dispatcher.

import type { DeployedFunction, FunctionCoordinator, MemoryGroup } from '../coordinator.js';
import type { IfcMode } from '../selection.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import { entryInput, releaseInputArenas, type InputPlacement } from './inputs.js';
import type { Invocation } from './invocation.js';
import type { PoolRunner } from './pool-runner.js';
import { runRemote } from './remote-runner.js';
import type { ClusterContext, InputArena, Segment, SegmentResult, SegmentRun } from './types.js';

export interface SegmentRunnerParts {
  coordinator: FunctionCoordinator;
  pool: PoolRunner;
  /** Edges taken per mode (the engine's statistics). */
  modeCounts: Record<IfcMode, number>;
  directInputBytes: number;
  cluster(): ClusterContext | undefined;
  memoryGroupOf(ref: { groupId: string; generation: number }): MemoryGroup;
  discardGroup(groupId: string, generation: number, reason: string): void;
  /**
   * Consumers may poll near a producer's expected end: present when the engine
   * has call lanes (their workers poll), called before each such estimate.
   */
  polling?: () => void;
}

export class SegmentRunner implements InputPlacement {
  readonly modeCounts: Record<IfcMode, number>;
  readonly directInputBytes: number;

  constructor(private readonly parts: SegmentRunnerParts) {
    this.modeCounts = parts.modeCounts;
    this.directInputBytes = parts.directInputBytes;
  }

  get hostName(): string {
    return this.parts.coordinator.hostName;
  }

  /** A deployed function, by name (for reports and continuation checks). */
  fn(name: string): DeployedFunction | undefined {
    return this.parts.coordinator.get(name);
  }

  /** Run one segment: on this node's pool, or on the node it is placed on. */
  run(seg: SegmentRun, inputs: InputSpec[], output: OutputSpec, inv: Invocation, callDepth = 0): Promise<SegmentResult> {
    if (seg.group.host !== this.hostName) return runRemote(this.parts.cluster(), this.parts.memoryGroupOf, seg, inputs, output, inv);
    return this.parts.pool.run(seg, inputs, output, inv, callDepth);
  }

  /** Workers free for more tasks (the pool may grow to maxThreads). */
  freeWorkers(): number {
    return this.parts.pool.freeWorkers();
  }

  /**
   * When a producer segment launched now is likely done (ms, performance.timeOrigin +
   * performance.now()), from how long its tasks took; undefined when unknown
   * or when no consumer may poll (the engine has no call lanes).
   */
  expectedReadyAt(seg: Pick<Segment, 'steps'>): number | undefined {
    const polling = this.parts.polling;
    const ms = polling === undefined ? undefined : this.parts.pool.expectedRunMs(seg.steps[0]!);
    if (ms === undefined) return undefined;
    polling!();
    return performance.timeOrigin + performance.now() + ms;
  }

  /** The invocation input for an entry segment (inputs.ts). */
  entryInput(seg: Segment, input: Uint8Array | InputSpec, arenas: InputArena[], inv: Invocation): InputSpec | Promise<InputSpec> {
    return entryInput(this, seg, input, arenas, inv);
  }

  releaseInputs(arenas: InputArena[]): void {
    releaseInputArenas(this, arenas);
  }

  discardGroup(groupId: string, generation: number, reason: string): void {
    this.parts.discardGroup(groupId, generation, reason);
  }
}
