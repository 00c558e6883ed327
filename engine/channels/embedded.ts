// `embedded` (Function Embedding): caller and callee are trusted, in one trust
// domain, on one host, and were placed in one memory group. The producer's
// output stays where it was written; the consumer gets its (ptr, len) and
// reads it in place: no byte is copied, whatever the size. The producer's
// arena is freed once every consumer has finished.

import { CwasiError } from '../errors.js';
import { HEADER_BYTES } from '../memory/layout.js';
import { whenUnlocked } from '../memory/heap.js';
import type { Channel, EdgeContext, Endpoint, PlaceTarget, Produced, Transfer } from './channel.js';
import type { InputSpec, OutputSpec } from '../specs.js';

export const embeddedChannel: Channel = {
  mode: 'embedded',
  open(edge: EdgeContext): Transfer {
    if (edge.consumerGroup.id !== edge.producerGroup.id) {
      throw new CwasiError('E_EMBED_REFUSED', `${edge.from} → ${edge.to}: the consumer does not share the producer's memory`);
    }
    return {
      prepareOutput(output: OutputSpec): void {
        output.keep = true;
      },
      inputFor(produced: Produced): InputSpec {
        const kept = produced.result.kept;
        if (kept === undefined) throw new CwasiError('E_INTERNAL', 'embedded edge: producer kept no output');
        const g = produced.group;
        return { kind: 'shared', groupId: g.id, generation: g.generation, ptr: kept.ptr, len: kept.len };
      },
      finish(): void {
        // the bytes are released with the producer's output
      },
    };
  },
  release(produced: Produced): void {
    releaseKept(produced);
  },
};

/** Free the arenas of a kept output (shared by `embedded` and `local`). */
export function releaseKept(produced: Produced): void {
  const kept = produced.result.kept;
  if (kept === undefined || kept.arenas.length === 0) return;
  const heap = produced.group.heap;
  // A discarded memory is garbage already; its heap may be inconsistent.
  if (heap === undefined || heap.generation !== produced.group.generation) return;
  const arenas = kept.arenas;
  kept.arenas = [];
  for (const a of arenas) {
    // A busy lock is retried on later turns of the event loop; a memory whose
    // lock stays held or whose metadata is corrupt keeps these blocks until it
    // is discarded (the next task on it detects the same).
    whenUnlocked(() => {
      if (heap.generation === produced.group.generation) heap.release({ id: a.id, head: a.head });
    }, () => {});
  }
}

export const sharedEndpoint: Endpoint<'shared'> = {
  kind: 'shared',
  place(spec, target: PlaceTarget) {
    if (spec.groupId !== target.groupId || spec.generation !== target.generation) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `slice of memory ${spec.groupId}#${spec.generation} handed to a function in ${target.groupId}#${target.generation}`);
    }
    if (!target.heap.inBounds(spec.ptr, spec.len)) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `slice [${spec.ptr}, +${spec.len}) is outside the memory`);
    }
    if (spec.len > 0 && spec.ptr < HEADER_BYTES) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `slice [${spec.ptr}, +${spec.len}) overlaps the memory header`);
    }
    return { ptr: spec.ptr, len: spec.len };
  },
};
