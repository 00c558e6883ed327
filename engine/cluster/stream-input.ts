// A whole payload another node streams to a step of this node: received
// straight into the step's memory, and handed to the step before all of it
// landed. Once at most EARLY_START_BYTES are left, the step's input is
// given out with a landing gate (engine/channels/landing-gate.ts) that its
// worker waits on before the function runs: handing a task to a worker
// (0.55 ms from the last byte to the task in a worker on a 2-core AMD EPYC,
// 0.2 ms more to its input) then overlaps the last bytes instead of
// following them (0.13-0.22 ms from the last byte to the input, measured
// the same way). A stream shorter than that is given out at once, when it
// opens. The worker waits at most for the rest of one stream the node is
// already receiving with all its credit granted: it never waits on another
// task.

import type { CwasiError } from '../errors.js';
import type { Arena, Heap } from '../memory/heap.js';
import type { InputSpec } from '../specs.js';
import type { NetworkPeer } from '../channels/networked.js';
import type { GroupRef } from '../channels/channel.js';
import { newGate, openGate } from '../channels/landing-gate.js';

/** Hand a step its streamed input when this much is left to land: one DATA frame (protocol.ts MAX_DATA_PAYLOAD). */
export const EARLY_START_BYTES = 4 * 1024 * 1024;

/** How a stream handed out early ended: the arena may be freed only once `settled` has (a read may be targeted at it until then). */
export interface StreamLanding {
  settled: Promise<void>;
  /** The stream's own error, once it failed (a step that waited on it fails with E_CHANNEL). */
  failure: CwasiError | undefined;
}

/** An input's allocation in a step's memory, freed when the run ends (after its stream settled). */
export interface InputArena {
  heap: Heap;
  arena: Arena;
  landing?: StreamLanding;
}

/**
 * Receive `transfer` from `from` into a new allocation of `arena` in `heap`
 * (the memory of `group`); `spec` resolves with the step's input, gated while
 * the bytes land, or rejects with the stream's error if it failed first.
 */
export function receiveStreamInput(
  peer: Pick<NetworkPeer, 'expect'>, input: { transfer: string; from: string }, group: GroupRef, heap: Heap, arena: Arena, deadline: number, onEarly: () => void,
): { spec: Promise<InputSpec>; landing: StreamLanding } {
  let ptr = 0;
  let len = 0;
  const gate = newGate();
  const slice = (): InputSpec => ({ kind: 'shared', groupId: group.id, generation: group.generation, ptr, len });
  const landing: StreamLanding = { settled: Promise.resolve(), failure: undefined };
  const spec = new Promise<InputSpec>((resolve, reject) => {
    const landed = peer.expect(input.transfer, input.from, (n) => {
      ptr = heap.allocIn(arena, n);
      len = n;
      return heap.bytes().subarray(ptr, ptr + n);
    }, deadline, {
      bytes: EARLY_START_BYTES,
      then: () => {
        onEarly();
        resolve({ ...slice(), gate: gate.buffer as SharedArrayBuffer } as InputSpec);
      },
    });
    landing.settled = landed.then(() => {
      openGate(gate, true);
      resolve(slice());
    }, (err: CwasiError) => {
      // The failure is recorded before the gate says so: whoever sees the step fail finds it.
      landing.failure = err;
      openGate(gate, false);
      reject(err);
    });
  });
  return { spec, landing };
}

/** The first stream of `landings` that failed, if any (the error a step that waited on it should report). */
export function failedLanding(landings: ReadonlyArray<{ landing?: StreamLanding }>): CwasiError | undefined {
  for (const l of landings) if (l.landing?.failure !== undefined) return l.landing.failure;
  return undefined;
}
