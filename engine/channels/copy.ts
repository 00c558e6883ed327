// `copy`: the baseline a Node user would write without cwasi. The producer's
// output is copied out of its memory and posted to the main thread, posted
// again (structured clone: a copy) to the consumer's worker and copied into its
// memory. Never chosen by selection; forced per edge for comparisons.
//
// Live form: between a function that writes an output stream and one that
// reads an input stream, the stream goes chunk by chunk through the main
// thread, which copies each chunk from the producer's ring into the
// consumer's (live-bridge.ts): three copies, the window bounded by two rings.

import { CwasiError } from '../errors.js';
import { releaseKept, type CallContext, type CallTransfer, type Channel, type EdgeContext, type Emitter, type Endpoint, type PlaceTarget, type Produced, type Transfer } from './channel.js';
import { openBridgedLive, type LiveCarry } from './live-bridge.js';
import type { RingPools } from '../ring/pools.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import { copyInto, copyOut } from '../memory/copy.js';

/** The live form: the main thread copies each chunk from the producer's ring into the consumer's. */
const copyChunks: LiveCarry = async (drain, feed) => {
  const total = await drain.pump((piece) => {
    if (feed.ring.consumerAttached) drain.attach();
    return feed.write(piece);
  });
  await feed.end(total);
};

export function createCopyChannel(pools: RingPools): Channel {
  return {
    mode: 'copy',
    chainsInOneTask: 'never',
    crossesHosts: true,
    startsConsumerEarly: 'never',
    callsRunInline: false,
    // Out of the producer's memory, cloned to the main thread, cloned to the consumer's worker, into its memory.
    copies: 4,
    carriesLiveStreams: 'on-this-host',
    openCall(call: CallContext): CallTransfer {
      const p = call.payload;
      const heap = call.callerHeap();
      if (!heap.inBounds(p.ptr, p.len)) throw new CwasiError('E_BAD_DESCRIPTOR', 'guest call payload outside the caller memory');
      return { input: { kind: 'bytes', bytes: copyOut(heap.bytes().subarray(p.ptr, p.ptr + p.len)) }, output: { keep: false, bytes: true }, finish() {} };
    },
    open(edge: EdgeContext): Transfer {
      if (edge.live === true) return openBridgedLive(pools, edge, copyChunks);
      return {
        prepareOutput(output: OutputSpec): void {
          output.bytes = true;
        },
        inputFor(produced: Produced): InputSpec {
          const bytes = produced.result.bytes;
          if (bytes === undefined) throw new CwasiError('E_INTERNAL', 'copy edge: producer returned no bytes');
          return { kind: 'bytes', bytes };
        },
        finish(): void {
          // nothing held per edge
        },
      };
    },
    release(produced: Produced): void {
      // Whole outputs belong to the garbage collector; a live producer's remainder is kept in its memory.
      releaseKept(produced);
    },
  };
}

export const bytesEndpoint: Endpoint<'bytes'> = {
  kind: 'bytes',
  place(spec, target: PlaceTarget) {
    const len = spec.bytes.byteLength;
    if (target.maxPayloadBytes > 0 && len > target.maxPayloadBytes) {
      throw new CwasiError('E_PAYLOAD_TOO_LARGE', `input of ${len} bytes exceeds the limit of ${target.maxPayloadBytes}`);
    }
    const ptr = target.heap.allocIn(target.arena, len);
    copyInto(target.heap.bytes(), ptr, spec.bytes);
    return { ptr, len };
  },
};

/** Producer: copy the output out of the memory into the task result (also how engine results leave). */
export const bytesEmitter: Emitter = {
  wants: (output) => output.bytes,
  emit(_output, src, result) {
    result.bytes = copyOut(src.heap.bytes().subarray(src.ptr, src.ptr + src.len));
  },
};
