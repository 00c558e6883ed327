// `local` (Local Buffer): caller and callee on one host that may not share a
// memory (untrusted, other trust domain). The bytes travel through a
// host-owned SharedArrayBuffer ring (engine/ring/ring.ts) leased from the
// edge's pool; the consumer's wasm never sees the producer's memory.
//
// Descriptor form (default). Every function memory is a shared
// WebAssembly.Memory, so the producer keeps its output in place and writes
// one DESC frame (source, generation, ptr, len) into the ring. The consumer's
// host bounds-checks it and copies the bytes straight into the consumer's
// memory: one copy end to end. Lifetime rule: the producer's arena is freed by
// the dispatcher only after every consumer has finished, and a descriptor whose
// generation differs from the source memory's header is refused, so bytes of a
// reused or discarded memory are never read.
//
// Either form, the dispatcher may start the consumer alongside its producer
// when a worker is free: the consumer then waits on the ring and the handoff
// goes from worker to worker without the main thread (otherwise the consumer
// starts after the producer finished and finds the frame waiting).
//
// Stream form (`local.transport: 'stream'`). The consumer runs alongside the
// producer; the producer writes its output as DATA frames of about a quarter
// of the ring (streamChunkBytes), waiting while the ring is full, and the
// consumer drains them into its memory (copy in, copy out, overlapped). A
// producer whose consumer has not started within STREAM_ATTACH_MS sends the
// rest as one DESC frame instead of holding its worker, so a saturated pool
// cannot deadlock.
//
// Live form (local-live.ts): between a function that writes an output stream
// and one that reads an input stream, whatever the transport option, both
// run at once and the stream flows through a stream-sized ring as it is
// written; the planner never chains such an edge into one task.

import { CwasiError } from '../errors.js';
import type { Heap } from '../memory/heap.js';
import {
  DESC_BYTES, FRAME_DATA, FRAME_DESC, FRAME_HEADER_BYTES, Ring, type WaitOutcome,
} from '../ring/ring.js';
import { releaseKept, type CallContext, type CallTransfer, type Channel, type EdgeContext, type Emitter, type Endpoint, type PlaceTarget, type Produced, type Transfer } from './channel.js';
import type { InputSpec, MemoryRef, OutputSpec } from '../specs.js';
import type { RingPools } from '../ring/pools.js';
import { copyInto } from '../memory/copy.js';

export type LocalTransport = 'descriptor' | 'stream';

/** The ring of a live window: only its frames (a DESC per chunk in use, the END) pass through it. */
const LIVE_FRAME_RING_BYTES = 4096;

/** How long a streaming producer waits for its consumer to start before handing over a descriptor. */
export const STREAM_ATTACH_MS = 5;
/** A consumer waiting on a ring spins this long before it sleeps (a wake costs 50-150 µs here). */
export const CONSUMER_SPIN_MS = 2;
/**
 * A streaming producer waits for room, and its consumer for the next frame
 * once the stream has started, with no more than the ring's own short spin
 * before they sleep: each side polling for up to 2 ms made a 100 MiB stream
 * 41-54 ms against 35 ms sleeping with two CPU-bound processes on the two
 * cores (`cwasi bench local-buffer --contend 2`), and no faster idle (1.03-1.05×
 * one memcpy polling, 1.11× sleeping).
 */
export const STREAMING_SPIN_MS = 0;
/** DATA frames a streaming ring holds at once (streamChunkBytes). */
export const STREAM_FRAMES_PER_RING = 4;
/** Room a streaming producer keeps free for the DESC frame it sends if its consumer never starts. */
const YIELD_RESERVE_BYTES = FRAME_HEADER_BYTES + DESC_BYTES;
/** Below this, frames are too small to pay for their headers and waits. */
const MIN_STREAM_CHUNK_BYTES = 256;
/** Ring capacity used for descriptor-only transfers (one DESC frame fits many times). */
export const DESCRIPTOR_RING_BYTES = 256;

/**
 * The smallest ring of the stream form (`local.ringBytes` when larger): four
 * DATA frames of 2 MiB. 100 MiB between two workers on a 2-core AMD EPYC
 * (32 MiB L3), same-process medians, ÷ one memcpy: 4 MiB rings (1 MiB frames)
 * 0.69-0.99, 8 MiB 1.05-1.28, 16 MiB 0.85-1.00 — the producer's copies into
 * a 4 MiB ring were fast but it waited for room more often, and a 16 MiB ring's
 * 4 MiB frames fell out of the cache before the consumer read them.
 */
export const LOCAL_STREAM_RING_BYTES = 8 * 2 ** 20;

/** Ring capacity of a transfer: a few descriptor frames, or the stream ring size. */
export function ringBytesFor(pools: RingPools, transport: LocalTransport): number {
  return transport === 'stream' ? Math.max(pools.streamRingBytes, LOCAL_STREAM_RING_BYTES) : DESCRIPTOR_RING_BYTES;
}

/**
 * `sameWorker`: two steps on this host joined by a local edge run in one
 * worker (the host copies across once; no ring, no handoff between threads).
 */
export function createLocalChannel(pools: RingPools, transport: LocalTransport, sameWorker = true): Channel {
  return {
    mode: 'local',
    // Descriptor: the consumer's host copies once, memory to memory; stream: into the ring and out of it.
    copies: transport === 'stream' ? 2 : 1,
    chainsInOneTask: sameWorker ? 'on-this-host' : 'never',
    crossesHosts: false,
    // A descriptor-form consumer waits on its ring in a worker; a stream-form one always starts with its producer.
    startsConsumerEarly: transport === 'stream' ? 'always' : 'while-a-worker-is-free',
    carriesLiveStreams: 'on-this-host',
    callsRunInline: false,
    prepare(from: string, to: string): void {
      const pool = pools.forEdge(from, to, ringBytesFor(pools, transport));
      if (pool.created === 0) pool.giveBack(pool.acquire(), true);
    },
    openCall(call: CallContext): CallTransfer {
      // The payload stays in the caller's memory; one DESC frame names it and the callee's host copies it across.
      const p = call.payload;
      const pool = pools.forEdge(call.caller, call.callee, DESCRIPTOR_RING_BYTES);
      const leased = pool.acquire();
      if (!leased.ring.tryWriteDescriptor({ source: 0, generation: p.generation, ptr: p.ptr, len: p.len }, p.len)) {
        pool.giveBack(leased, false);
        throw new CwasiError('E_CHANNEL', 'local buffer: descriptor ring is not empty');
      }
      return {
        input: { kind: 'ring', ringId: leased.id, sources: [{ groupId: p.groupId, generation: p.generation }] },
        output: { keep: true, bytes: false },
        finish: (calleeOk) => pool.giveBack(leased, calleeOk),
      };
    },
    open(edge: EdgeContext): Transfer {
      if (edge.live === true) return openLiveTransfer(pools, edge);
      const stream = transport === 'stream';
      const pool = pools.forEdge(edge.from, edge.to, ringBytesFor(pools, transport));
      const ring = pool.acquire();
      let returned = false;
      const source: MemoryRef = { groupId: edge.producerGroup.id, generation: edge.producerGroup.generation };
      const spec: InputSpec = { kind: 'ring', ringId: ring.id, sources: [source] };
      return {
        prepareOutput(output: OutputSpec): void {
          output.keep = true;
          (output.rings ??= []).push({ ringId: ring.id, stream });
        },
        earlyInput(): InputSpec | undefined {
          // The consumer may start alongside its producer and wait on the ring:
          // the descriptor then goes worker to worker, with no main-thread hop.
          return spec;
        },
        inputFor(): InputSpec {
          return spec;
        },
        finish(ok: boolean): void {
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

/**
 * A live stream's transfer (local-live.ts), for every channel that carries
 * live streams: a stream-sized ring whose consumer reads it as its input
 * stream, whether it starts beside its producer or after it (then the
 * producer kept what nobody read in its memory, and the ring names it).
 */
export function openLiveTransfer(pools: RingPools, edge: EdgeContext): Transfer {
  // The producer's window lies in its own memory (its size, if it sets one; local-live.ts
  // chooses otherwise); the ring carries only the frames that name its chunks.
  const pool = pools.forEdge(edge.from, edge.to, LIVE_FRAME_RING_BYTES);
  const ring = pool.acquire();
  let returned = false;
  const spec: InputSpec = { kind: 'ring', ringId: ring.id, sources: [{ groupId: edge.producerGroup.id, generation: edge.producerGroup.generation }], live: true };
  return {
    prepareOutput(output: OutputSpec, consumerStartsEarly: boolean): void {
      output.keep = true;
      // The producer waits for a consumer launched beside it, never for one that is not;
      // its consumer is a worker that reads its chunks where they lie (in place).
      (output.rings ??= []).push({ ringId: ring.id, stream: true, live: true, consumerStarting: consumerStartsEarly, inPlace: true, ...(edge.windowBytes !== undefined ? { windowBytes: edge.windowBytes } : {}) });
    },
    earlyInput: () => spec,
    inputFor: () => spec,
    finish(ok: boolean): void {
      if (returned) return;
      returned = true;
      pool.giveBack(ring, ok);
    },
  };
}

// ── worker side ──────────────────────────────────────────────────────────

/** Check a descriptor against its source memory; returns the source bytes. */
function sourceBytes(source: Heap, generation: number, ptr: number, len: number): Uint8Array {
  if (source.generation !== generation) {
    throw new CwasiError('E_BAD_DESCRIPTOR', `descriptor of generation ${generation} refused: the producer's memory is at ${source.generation}`);
  }
  if (!source.inBounds(ptr, len)) {
    throw new CwasiError('E_BAD_DESCRIPTOR', `descriptor [${ptr}, +${len}) is outside the producer's memory`);
  }
  return source.bytes().subarray(ptr, ptr + len);
}

function checkLimit(len: number, target: PlaceTarget): void {
  if (target.maxPayloadBytes > 0 && len > target.maxPayloadBytes) {
    throw new CwasiError('E_PAYLOAD_TOO_LARGE', `input of ${len} bytes exceeds the limit of ${target.maxPayloadBytes}`);
  }
}

/** Copy [ptr, ptr+len) of another memory into the target's arena (bounds-checked on both sides). */
export function copyAcross(source: Heap, generation: number, ptr: number, len: number, target: PlaceTarget): { ptr: number; len: number } {
  const src = sourceBytes(source, generation, ptr, len);
  checkLimit(len, target);
  const dst = target.heap.allocIn(target.arena, len);
  copyInto(target.heap.bytes(), dst, src);
  return { ptr: dst, len };
}

function channelError(what: string, outcome: WaitOutcome | 'yielded'): CwasiError {
  if (outcome === 'timeout') return new CwasiError('E_TIMEOUT', `${what}: deadline passed`);
  return new CwasiError('E_CHANNEL', `${what}: ring ${outcome === 'aborted' ? 'aborted by the other side' : outcome}`);
}

/** Consumer: read one message (DATA frames and/or a DESC frame) from a ring into the target memory. */
export const ringEndpoint: Endpoint<'ring'> = {
  kind: 'ring',
  place(spec, target: PlaceTarget) {
    const ring = new Ring(target.shared.ringOf(spec.ringId));
    // The producer is running (or done): spin a little before sleeping on the ring
    // (never longer than CONSUMER_SPIN_MS, whatever the spec asks).
    const spin = spec.spinMs;
    ring.spinMs = typeof spin === 'number' && spin >= 0 && spin < CONSUMER_SPIN_MS ? spin : CONSUMER_SPIN_MS;
    ring.attachConsumer();
    if (typeof spec.readyAt === 'number' && Number.isFinite(spec.readyAt) && target.shared.startPolling?.() === true) {
      try {
        ring.pollNear(spec.readyAt, target.deadline);
      } finally {
        target.shared.stopPolling?.();
      }
    }
    let header = ring.readHeader(target.deadline);
    if (typeof header === 'string') throw channelError('local buffer read', header);
    const total = header.aux;
    checkLimit(total, target);
    let dst = -1;
    let off = 0;
    for (;;) {
      if (header.type === FRAME_DATA) {
        if (header.length > total - off) {
          ring.abort();
          throw new CwasiError('E_BAD_DESCRIPTOR', `ring DATA frame of ${header.length} bytes overruns the ${total}-byte message`);
        }
        if (dst < 0) {
          dst = target.heap.allocIn(target.arena, total);
          // A stream has started: the next frames come as fast as the producer copies, not worth polling
          // for; be woken per batch of them (the producer wakes this side for its last frame whatever).
          ring.spinMs = STREAMING_SPIN_MS;
          ring.batchBytes = ring.capacity >> 2;
        }
        const r = ring.read(target.heap.bytes().subarray(dst + off, dst + off + header.length), target.deadline);
        if (r.outcome !== 'ok') throw channelError('local buffer read', r.outcome);
        off += header.length;
      } else if (header.type === FRAME_DESC) {
        if (header.length !== DESC_BYTES) {
          ring.abort();
          throw new CwasiError('E_BAD_DESCRIPTOR', `ring DESC frame of ${header.length} bytes`);
        }
        const d = ring.readDescriptor(target.deadline);
        if (typeof d === 'string') throw channelError('local buffer read', d);
        const src = spec.sources[d.source];
        if (src === undefined || d.len !== total - off) {
          ring.abort();
          throw new CwasiError('E_BAD_DESCRIPTOR', src === undefined
            ? `ring descriptor names source ${d.source} of ${spec.sources.length}`
            : `ring descriptor of ${d.len} bytes, ${total - off} expected`);
        }
        if (src.groupId === target.groupId && src.generation === target.generation && off === 0) {
          // The producer shares this memory after all: read in place, reserve nothing.
          sourceBytes(target.heap, d.generation, d.ptr, d.len);
          return { ptr: d.ptr, len: d.len };
        }
        // Reserved only now that the bytes must be copied across.
        if (dst < 0) dst = target.heap.allocIn(target.arena, total);
        copyInto(target.heap.bytes(), dst + off, sourceBytes(target.shared.heapOf(src), d.generation, d.ptr, d.len));
        off += d.len;
      } else {
        ring.abort();
        throw new CwasiError('E_BAD_DESCRIPTOR', `unknown ring frame type ${header.type}`);
      }
      if (off === total) return { ptr: dst < 0 ? target.heap.allocIn(target.arena, 0) : dst, len: total };
      header = ring.readHeader(target.deadline);
      if (typeof header === 'string') throw channelError('local buffer read', header);
      if (header.aux !== total) throw new CwasiError('E_BAD_DESCRIPTOR', `ring frame belongs to a ${header.aux}-byte message, ${total} expected`);
    }
  },
};

/** Producer: hand an output (in `heap`, generation `generation`) to the consumers behind `rings`. */
export function writeOutputToRings(
  rings: NonNullable<OutputSpec['rings']>, heap: Heap, generation: number, out: { ptr: number; len: number }, deadline: number,
  resolveRing: (id: number) => SharedArrayBuffer,
): void {
  for (const r of rings) {
    // A live ring got the output while the function wrote it (local-live.ts).
    if (r.live === true) continue;
    const ring = new Ring(resolveRing(r.ringId));
    if (r.stream) streamOut(ring, heap, generation, out, deadline);
    else if (!ring.tryWriteDescriptor({ source: 0, generation, ptr: out.ptr, len: out.len }, out.len)) {
      throw new CwasiError('E_CHANNEL', 'local buffer: descriptor ring is not empty');
    }
  }
}

/** Producer side of the channel for the worker: DESC or DATA frames into every ring the task names. */
export const ringEmitter: Emitter = {
  wants: (output) => output.rings !== undefined && output.rings.length > 0,
  emit(output, src) {
    writeOutputToRings(output.rings!, src.heap, src.generation, src, src.deadline, src.shared.ringOf);
  },
};

/**
 * Payload bytes of one DATA frame in a ring of `capacity`: a quarter of what
 * is left once the yield descriptor's room is set aside, so that the producer
 * fills the next frames while the consumer drains the one before. (Half-ring
 * frames never left room for a second frame beside the reserve: the two sides
 * took turns, and the stream ran at half of one copy's speed.)
 */
export function streamChunkBytes(capacity: number): number {
  const quarter = Math.floor((capacity - YIELD_RESERVE_BYTES) / STREAM_FRAMES_PER_RING) - FRAME_HEADER_BYTES;
  // A ring too small to hold several useful frames holds one at a time.
  return quarter >= MIN_STREAM_CHUNK_BYTES ? quarter : Math.max(1, capacity - YIELD_RESERVE_BYTES - FRAME_HEADER_BYTES);
}

function streamOut(ring: Ring, heap: Heap, generation: number, out: { ptr: number; len: number }, deadline: number): void {
  const chunk = streamChunkBytes(ring.capacity);
  let off = 0;
  let fullSince = 0;
  // Yield to a descriptor when the consumer has not started: never hold a worker for a reader that is not running.
  const shouldYield = (): boolean => {
    if (ring.consumerAttached) return false;
    const t = performance.now();
    if (fullSince === 0) fullSince = t;
    return t - fullSince > STREAM_ATTACH_MS;
  };
  do {
    const n = Math.min(chunk, out.len - off);
    // Once the consumer reads, stop checking whether to yield (an attached consumer never goes away).
    const attached = ring.consumerAttached;
    ring.spinMs = STREAMING_SPIN_MS;
    const outcome = ring.waitForSpace(FRAME_HEADER_BYTES + n + YIELD_RESERVE_BYTES, deadline, attached ? undefined : shouldYield);
    if (outcome === 'yielded') {
      if (!ring.tryWriteDescriptor({ source: 0, generation, ptr: out.ptr + off, len: out.len - off }, out.len)) {
        throw new CwasiError('E_INTERNAL', 'local buffer: no room for the descriptor frame');
      }
      return;
    }
    if (outcome !== 'ok') throw channelError('local buffer write', outcome);
    // The last frame wakes the consumer whatever it waits for (it may batch: below).
    ring.writeFrame(FRAME_DATA, out.len, heap.bytes().subarray(out.ptr + off, out.ptr + off + n), off + n === out.len);
    off += n;
    // Wake-ups per batch, not per frame, once the consumer reads (Ring.batchBytes).
    if (attached) ring.batchBytes = ring.capacity >> 2;
  } while (off < out.len);
}

/** Guest-call results that arrive as a slice of another memory (no ring: the reply carries the descriptor). */
export const foreignEndpoint: Endpoint<'foreign'> = {
  kind: 'foreign',
  place(spec, target: PlaceTarget) {
    if (spec.groupId === target.groupId && spec.generation === target.generation) {
      sourceBytes(target.heap, spec.generation, spec.ptr, spec.len);
      return { ptr: spec.ptr, len: spec.len };
    }
    return copyAcross(target.shared.heapOf(spec), spec.generation, spec.ptr, spec.len, target);
  },
};
