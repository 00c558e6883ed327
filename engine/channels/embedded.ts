// `embedded` (Function Embedding): caller and callee are trusted, in one trust
// domain, on one host, and were placed in one memory group. The producer's
// output stays where it was written; the consumer gets its (ptr, len) and
// reads it in place: no byte is copied, whatever the size. The producer's
// arena is freed once every consumer has finished.

import { CwasiError } from '../errors.js';
import { HEADER_BYTES } from '../memory/layout.js';
import { releaseKept, type CallContext, type CallTransfer, type Channel, type EdgeContext, type Endpoint, type PlaceTarget, type Produced, type Transfer } from './channel.js';
import type { InputSpec, OutputSpec } from '../specs.js';

export const embeddedChannel: Channel = {
  mode: 'embedded',
  chainsInOneTask: 'always',
  crossesHosts: false,
  startsConsumerEarly: 'never',
  callsRunInline: true,
  openCall(call: CallContext): CallTransfer {
    // The callee reads the payload in place and keeps its result where it wrote it.
    return { input: { kind: 'shared', ...call.payload }, output: { keep: true, bytes: false }, finish() {} };
  },
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
