// `embedded` (Function Embedding): caller and callee are trusted, in one trust
// domain, on one host, and were placed in one memory group. The producer's
// output stays where it was written; the consumer gets its (ptr, len) and
// reads it in place: no byte is copied, whatever the size. The producer's
// arena is freed once every consumer has finished.
//
// A consumer that runs as its own task (fan-out, fan-in) may start alongside
// its producer while a worker is free: it then waits on a descriptor ring
// (engine/ring/ring.ts, the `local` channel's descriptor form) into which the
// producer's worker writes one DESC frame naming the output the moment the
// producer returns. The handoff then goes worker to worker: no main-thread
// hop, so no wake of a main thread that slept while the producer ran (the
// cost that grew with the producer's run time, and so with the payload). The
// ring endpoint sees that the descriptor names the consumer's own memory and
// reads it in place. One consumer that did not start early runs as the
// producer's continuation: in the producer's own task, right after it, on the
// slice in place (its worker is free and holds the memory); any other gets
// the slice directly (`shared`) in a task of its own. Rings of consumers that
// did not start early get no frame.

import { CwasiError } from '../errors.js';
import { HEADER_BYTES } from '../memory/layout.js';
import { releaseKept, type CallContext, type CallTransfer, type Channel, type EdgeContext, type Endpoint, type PlaceTarget, type Produced, type Transfer } from './channel.js';
import { DESCRIPTOR_RING_BYTES, openLiveTransfer } from './local.js';
import type { RingPools } from '../ring/pools.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import { waitForGate } from './landing-gate.js';

/**
 * How long an early consumer spins before it sleeps on its ring. Short: it
 * starts with its producer, which usually runs far longer than any spin, and
 * on a machine with few cores a spinning consumer takes the CPU from the
 * producer and the main thread (`local`'s 2 ms made the 2 MiB fan-out
 * handoff slower in runs here, on 2 loaded cores).
 */
export const EARLY_CONSUMER_SPIN_MS = 0.05;

/** The embedded channel; early-started consumers wait on descriptor rings leased from `pools`. */
export function createEmbeddedChannel(pools: RingPools): Channel {
  return {
    mode: 'embedded',
    copies: 0,
    chainsInOneTask: 'always',
    crossesHosts: false,
    // An early consumer waits on its ring in a worker: only while one is free.
    startsConsumerEarly: 'while-a-worker-is-free',
    // One consumer not started early runs in the producer's task (dag-run.ts): that worker is free, and holds the memory.
    continuesInProducerTask: true,
    callsRunInline: true,
    // Two streaming functions of one domain run at once, the stream through a ring (local-live.ts).
    carriesLiveStreams: 'on-this-host',
    prepare(from: string, to: string): void {
      // One ring made at deploy time, so that the first invocation does not create it.
      const pool = pools.forEdge(from, to, DESCRIPTOR_RING_BYTES);
      if (pool.created === 0) pool.giveBack(pool.acquire(), true);
    },
    openCall(call: CallContext): CallTransfer {
      // The callee reads the payload in place and keeps its result where it wrote it.
      return { input: { kind: 'shared', ...call.payload }, output: { keep: true, bytes: false }, finish() {} };
    },
    open(edge: EdgeContext): Transfer {
      if (edge.consumerGroup.id !== edge.producerGroup.id) {
        throw new CwasiError('E_EMBED_REFUSED', `${edge.from} → ${edge.to}: the consumer does not share the producer's memory`);
      }
      if (edge.live === true) return openLiveTransfer(pools, edge);
      const pool = pools.forEdge(edge.from, edge.to, DESCRIPTOR_RING_BYTES);
      const ring = pool.acquire();
      let returned = false;
      const source = { groupId: edge.producerGroup.id, generation: edge.producerGroup.generation };
      const early: InputSpec = { kind: 'ring', ringId: ring.id, sources: [source], spinMs: EARLY_CONSUMER_SPIN_MS };
      return {
        prepareOutput(output: OutputSpec, consumerStartsEarly: boolean): void {
          output.keep = true;
          // The producer's worker names its output in this ring as soon as the producer returns;
          // a consumer that starts later is given the slice itself (inputFor, or as a continuation).
          if (consumerStartsEarly) (output.rings ??= []).push({ ringId: ring.id, stream: false });
        },
        earlyInput(): InputSpec {
          return early;
        },
        inputFor(produced: Produced): InputSpec {
          const kept = produced.result.kept;
          if (kept === undefined) throw new CwasiError('E_INTERNAL', 'embedded edge: producer kept no output');
          const g = produced.group;
          return { kind: 'shared', groupId: g.id, generation: g.generation, ptr: kept.ptr, len: kept.len };
        },
        finish(ok: boolean): void {
          // The bytes are released with the producer's output; the ring goes back
          // to its pool (aborted when not ok, which wakes a consumer still waiting on it).
          if (returned) return;
          returned = true;
          pool.giveBack(ring, ok);
        },
      };
    },
    release(produced: Produced): void {
      releaseKept(produced);
    },
  };
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
    // Handed over while its last bytes were landing: wait for them.
    if (spec.gate !== undefined) waitForGate(spec.gate, target.deadline);
    return { ptr: spec.ptr, len: spec.len };
  },
};
