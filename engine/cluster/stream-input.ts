// A whole payload another node streams to a step of this node: received
// straight into the step's memory, and handed to the step before all of it
// landed. Once at most EARLY_START_BYTES are left, the step's input is
// given out with a landing gate (engine/channels/landing-gate.ts) that its
// worker waits on before the function runs: handing a task to a worker
// (0.55 ms from the last byte to the task in a worker on a 2-core AMD EPYC,
// 0.2 ms more to its input) then overlaps the last bytes instead of
// following them (0.13-0.22 ms from the last byte to the input, measured
// the same way). A stream shorter than that is given out as it opens.
//
// A worker so handed an input waits for the rest of one stream this node is
// already receiving with all its credit granted; it never waits on another
// task. A sender that stalls holds that worker until the run ends (its
// deadline, a cancel: the stream is then aborted), so no more than
// `maxWaiting` steps wait on gates at once; the others get their input once
// it landed, as before.

import type { CwasiError } from '../errors.js';
import { whenUnlocked, type Arena, type Heap } from '../memory/heap.js';
import type { InputSpec } from '../specs.js';
import type { NetworkPeer } from '../channels/networked.js';
import type { GroupRef } from '../channels/channel.js';
import { newGate, openGate } from '../channels/landing-gate.js';

/** Hand a step its streamed input when this much is left to land: one DATA frame (protocol.ts MAX_DATA_PAYLOAD). */
export const EARLY_START_BYTES = 4 * 1024 * 1024;

/** How a stream given out to a step is landing. */
export interface StreamLanding {
  /** Settles once no socket read can target the arena any more: it may be freed then, not before. */
  settled: Promise<void>;
  /** Rejects with the stream's error if it fails (never resolves): a run waiting on other inputs ends at once. */
  failed: Promise<never>;
  /** The stream's own error, once it failed (a step that waited on it fails with E_CHANNEL). */
  failure: CwasiError | undefined;
  /** The stream landed or failed. */
  done: boolean;
  /** Give up on the stream (the run ended before it landed). */
  abort(reason: string): void;
}

/** An input's allocation in a step's memory, freed when the run ends (after its stream settled). */
export interface InputArena {
  heap: Heap;
  arena: Arena;
  landing?: StreamLanding;
}

/** The streamed inputs of one node's runs. */
export class StreamInputs {
  /** Inputs handed to their step before their last bytes landed. */
  handedEarly = 0;
  /** Steps holding a worker on a gate now. */
  private waiting = 0;

  /** `maxWaiting`: steps that may wait on gates at once (fewer than the node's workers). */
  constructor(private readonly maxWaiting: number) {}

  /**
   * Receive `transfer` from `from` into a new allocation of `arena` in `heap`
   * (the memory of `group`): `spec` resolves with the step's input, gated
   * while the bytes land, or rejects with the stream's error if it failed
   * before it was given out.
   */
  receive(
    peer: Pick<NetworkPeer, 'expect'>, input: { transfer: string; from: string }, group: GroupRef, heap: Heap, arena: Arena, deadline: number,
  ): { spec: Promise<InputSpec>; input: InputArena } {
    let ptr = 0;
    let len = 0;
    let gated = false;
    let readsDone: Promise<void> = Promise.resolve();
    const gate = newGate();
    const slice = (): InputSpec => ({ kind: 'shared', groupId: group.id, generation: group.generation, ptr, len });
    let fail: (err: CwasiError) => void = () => {};
    const landing: StreamLanding = {
      settled: Promise.resolve(),
      failed: new Promise<never>((_, reject) => { fail = reject; }),
      failure: undefined,
      done: false,
      abort: () => {},
    };
    landing.failed.catch(() => {});
    const spec = new Promise<InputSpec>((resolve, reject) => {
      const landed = peer.expect(input.transfer, input.from, (n) => {
        ptr = heap.allocIn(arena, n);
        len = n;
        return heap.bytes().subarray(ptr, ptr + n);
      }, deadline, {
        early: {
          bytes: EARLY_START_BYTES,
          then: () => {
            if (this.waiting >= this.maxWaiting) return;
            this.waiting++;
            this.handedEarly++;
            gated = true;
            resolve({ ...slice(), gate: gate.buffer as SharedArrayBuffer } as InputSpec);
          },
        },
        receiving: (reads, abort) => {
          readsDone = reads;
          landing.abort = abort;
        },
      });
      landing.settled = landed.then(() => {
        openGate(gate, true);
        resolve(slice());
      }, (err: CwasiError) => {
        // Recorded before the gate says so: whoever sees the step fail finds it.
        landing.failure = err;
        openGate(gate, false);
        fail(err);
        reject(err);
      }).finally(() => {
        landing.done = true;
        if (gated) this.waiting--;
      }).then(() => readsDone);
    });
    return { spec, input: { heap, arena, landing } };
  }
}

/** `inputs` once all are given out, or the first stream among `arenas` that fails meanwhile. */
export function untilLandingFails<T>(inputs: Promise<T>, arenas: readonly InputArena[]): Promise<T> {
  const failures = arenas.flatMap((a) => (a.landing !== undefined ? [a.landing.failed] : []));
  return failures.length === 0 ? inputs : Promise.race([inputs, ...failures]);
}

/** The first stream among `arenas` that failed, if any (the error a step that waited on it reports). */
export function failedLanding(arenas: readonly InputArena[]): CwasiError | undefined {
  for (const a of arenas) if (a.landing?.failure !== undefined) return a.landing.failure;
  return undefined;
}

/** The run is over: give up on a stream still landing, and free the arena once no read can target it. */
export function releaseInput(a: InputArena): void {
  if (a.landing !== undefined && !a.landing.done) a.landing.abort('the run that expected it ended');
  void (a.landing?.settled ?? Promise.resolve()).then(() => whenUnlocked(() => a.heap.release(a.arena), () => {}));
}
