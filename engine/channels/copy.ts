// `copy`: the baseline a Node user would write without cwasi. The producer's
// output is copied out of its memory and posted to the main thread, posted
// again (structured clone: a copy) to the consumer's worker and copied into its
// memory. Never chosen by selection; forced per edge for comparisons.

import { CwasiError } from '../errors.js';
import type { CallContext, CallTransfer, Channel, Emitter, Endpoint, PlaceTarget, Produced, Transfer } from './channel.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import { copyInto, copyOut } from '../memory/copy.js';

export const copyChannel: Channel = {
  mode: 'copy',
  chainsInOneTask: 'never',
  crossesHosts: true,
  startsConsumerEarly: 'never',
  callsRunInline: false,
  // Out of the producer's memory, cloned to the main thread, cloned to the consumer's worker, into its memory.
  copies: 4,
  openCall(call: CallContext): CallTransfer {
    const p = call.payload;
    const heap = call.callerHeap();
    if (!heap.inBounds(p.ptr, p.len)) throw new CwasiError('E_BAD_DESCRIPTOR', 'guest call payload outside the caller memory');
    return { input: { kind: 'bytes', bytes: copyOut(heap.bytes().subarray(p.ptr, p.ptr + p.len)) }, output: { keep: false, bytes: true }, finish() {} };
  },
  open(): Transfer {
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
  release(): void {
    // The bytes belong to the garbage collector.
  },
};

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
