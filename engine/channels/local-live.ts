// The live form of the Local Buffer: a streaming function's output goes into
// the ring while it runs, and a streaming consumer in another worker reads it
// as its input stream while both run (frames in engine/ring/ring.ts, "live
// stream"). What either side holds is its own read or write buffer and the
// ring: memory is bounded by the window, whatever the stream's length.
//
// Producer (LiveRingSink): each write becomes DATA frames of at most a
// quarter of the ring, copied straight from the function's memory; the writer
// blocks while the ring is full. A consumer that does not read while the
// ring is full (it was not launched beside its producer, no worker being
// free, or it has not started within LIVE_ATTACH_MS of being launched) would
// hold the producer's worker for ever, so the rest of the stream is then
// collected in the producer's arena and sent as one DESC frame when it ends
// (the consumer copies it across once it runs). The END frame carries the
// total.
//
// Neither side polls the ring beyond the ring's own short spin: a live chain
// has a thread per stage, often more than the machine has cores, and a
// thread polling for room or data takes the core the other side needs (64 MiB
// through three live stages on two cores: 45-50 ms sleeping and waking per
// frame, 230-350 ms polling up to 2 ms per wait).
//
// Consumer (LiveRingSource): reads frames straight into the function's read
// buffer, a DATA frame in as many reads as the buffer needs. A frame that
// overruns, a DESC that does not check out, or an END whose total differs
// from what arrived is E_BAD_DESCRIPTOR; a producer that gave up (failed,
// aborted) reads as STATUS.ABORTED. A consumer that returns before the END
// aborts the ring, so its producer's next write returns STATUS.ABORTED.

import { CwasiError } from '../errors.js';
import { STATUS } from '../abi.js';
import type { Arena, Heap } from '../memory/heap.js';
import {
  DESC_BYTES, END_BYTES, FRAME_DATA, FRAME_DESC, FRAME_END, FRAME_HEADER_BYTES, LIVE_AUX, Ring, type WaitOutcome,
} from '../ring/ring.js';
import { copyInto } from '../memory/copy.js';
import type { MemoryRef } from '../specs.js';
import type { SharedResolver } from './channel.js';
import { streamChunkBytes } from './local.js';
import type { StreamSink, StreamSource } from '../worker/stream-host.js';

/**
 * How long a live producer waits, with the ring full, for a consumer that was
 * launched beside it to start reading (a busy machine may take a while to
 * give its thread a core) before it keeps the rest in its own memory.
 */
export const LIVE_ATTACH_MS = 2000;
/** A live side's checks before it sleeps on the ring (Ring.spinChecks): a few, no polling. */
const LIVE_SPIN_CHECKS = 32;
/** Room a live producer keeps free for its DESC frame and its END frame. */
const TAIL_RESERVE_BYTES = 2 * FRAME_HEADER_BYTES + DESC_BYTES + END_BYTES;

function ringError(what: string, outcome: WaitOutcome | 'yielded'): CwasiError {
  if (outcome === 'timeout') return new CwasiError('E_TIMEOUT', `${what}: deadline passed`);
  return new CwasiError('E_CHANNEL', `${what}: ring ${outcome}`);
}

export class LiveRingSink implements StreamSink {
  private readonly ring: Ring;
  private readonly chunk: number;
  private readonly end8 = new Uint8Array(END_BYTES);
  private sent = 0;
  /** Bytes collected in the arena once the consumer was found not running: [ptr, ptr + len) of [ptr, ptr + cap). */
  private buffered: { ptr: number; len: number; cap: number } | undefined;
  private fullSince = 0;
  private readonly patienceMs: number;
  private gone = false;
  ended = false;

  /** `consumerStarting`: the consumer was launched beside this producer (it is worth waiting for). */
  constructor(buffer: SharedArrayBuffer, private readonly heap: Heap, private readonly arena: Arena, private readonly generation: number, private readonly deadline: number, consumerStarting: boolean) {
    this.ring = new Ring(buffer);
    this.ring.spinChecks = LIVE_SPIN_CHECKS;
    this.ring.batchBytes = this.ring.capacity >> 2;
    this.patienceMs = consumerStarting ? LIVE_ATTACH_MS : 0;
    this.chunk = Math.max(1, streamChunkBytes(this.ring.capacity) - TAIL_RESERVE_BYTES);
  }

  write(src: Uint8Array): number {
    if (this.gone) return STATUS.ABORTED;
    let off = 0;
    while (off < src.length) {
      if (this.buffered !== undefined) {
        this.collect(src.subarray(off));
        return STATUS.OK;
      }
      const n = Math.min(this.chunk, src.length - off);
      const ring = this.ring;
      const attached = ring.consumerAttached;
      const outcome = ring.waitForSpace(FRAME_HEADER_BYTES + n + TAIL_RESERVE_BYTES, this.deadline, attached ? undefined : this.shouldYield);
      if (outcome === 'yielded') {
        this.buffered = { ptr: 0, len: 0, cap: 0 };
        continue;
      }
      if (outcome === 'aborted') {
        this.gone = true;
        return STATUS.ABORTED;
      }
      if (outcome !== 'ok') throw ringError('live stream write', outcome);
      ring.writeFrame(FRAME_DATA, LIVE_AUX, src.subarray(off, off + n));
      this.fullSince = 0;
      off += n;
      this.sent += n;
    }
    return STATUS.OK;
  }

  /** A function with a live output that returned it whole: send it as the stream. */
  sendWhole(out: Uint8Array): void {
    if (this.write(out) === STATUS.OK) this.end();
  }

  end(): { ptr: number; len: number } {
    this.ended = true;
    const b = this.buffered;
    const kept = b !== undefined && b.len > 0 ? { ptr: b.ptr, len: b.len } : { ptr: 0, len: 0 };
    if (this.gone) return kept;
    const ring = this.ring;
    // The reserve kept room for both frames; the ring may still be fuller if nobody reads yet.
    const outcome = ring.waitForSpace(TAIL_RESERVE_BYTES, this.deadline);
    if (outcome === 'aborted') return kept;
    if (outcome !== 'ok') throw ringError('live stream end', outcome);
    if (kept.len > 0) {
      // Nobody read while the stream was written: the rest stays in the producer's memory (the task keeps it) and one DESC names it.
      if (!ring.tryWriteDescriptor({ source: 0, generation: this.generation, ptr: kept.ptr, len: kept.len }, LIVE_AUX)) {
        throw new CwasiError('E_INTERNAL', 'live stream: no room for the descriptor frame');
      }
    }
    const total = this.sent + kept.len;
    const dv = new DataView(this.end8.buffer);
    dv.setUint32(0, total >>> 0, true);
    dv.setUint32(4, Math.floor(total / 2 ** 32), true);
    // The last frame: the consumer must see it whatever it waits for.
    ring.writeFrame(FRAME_END, LIVE_AUX, this.end8, true);
    return kept;
  }

  /** The ring has been full this long with no consumer reading: stop waiting for one. */
  private readonly shouldYield = (): boolean => {
    if (this.ring.consumerAttached) return false;
    const t = performance.now();
    if (this.fullSince === 0) this.fullSince = t;
    return t - this.fullSince >= this.patienceMs;
  };

  /** Append to the arena buffer, growing it (a copy) when full. */
  private collect(src: Uint8Array): void {
    const b = this.buffered!;
    if (b.cap - b.len < src.length) {
      const cap = Math.max(2 * b.cap, b.len + src.length, 64 * 1024);
      const at = this.heap.allocIn(this.arena, cap);
      const bytes = this.heap.bytes();
      if (b.len > 0) bytes.copyWithin(at, b.ptr, b.ptr + b.len);
      b.ptr = at;
      b.cap = cap;
    }
    copyInto(this.heap.bytes(), b.ptr + b.len, src);
    b.len += src.length;
  }
}

export class LiveRingSource implements StreamSource {
  private readonly ring: Ring;
  /** Bytes of the DATA frame being read that are still in the ring. */
  private frameLeft = 0;
  /** A DESC frame being copied: its source bytes, and how far. */
  private desc: { bytes: Uint8Array; off: number } | undefined;
  private received = 0;
  private done = false;
  private failed = false;

  constructor(buffer: SharedArrayBuffer, private readonly sources: readonly MemoryRef[], private readonly shared: SharedResolver, private readonly deadline: number) {
    this.ring = new Ring(buffer);
    this.ring.spinChecks = LIVE_SPIN_CHECKS;
    this.ring.batchBytes = this.ring.capacity >> 2;
    this.ring.attachConsumer();
  }

  read(dst: Uint8Array): number {
    if (this.done) return 0;
    if (this.failed) return STATUS.ABORTED;
    for (;;) {
      if (this.frameLeft > 0) {
        const n = Math.min(dst.length, this.frameLeft);
        const r = this.ring.read(dst.subarray(0, n), this.deadline);
        if (r.outcome !== 'ok') return this.lost(r.outcome);
        this.frameLeft -= n;
        this.received += n;
        return n;
      }
      const d = this.desc;
      if (d !== undefined) {
        const n = Math.min(dst.length, d.bytes.length - d.off);
        copyInto(dst, 0, d.bytes.subarray(d.off, d.off + n));
        d.off += n;
        this.received += n;
        if (d.off === d.bytes.length) this.desc = undefined;
        return n;
      }
      const h = this.ring.readHeader(this.deadline);
      if (typeof h === 'string') return this.lost(h);
      if (h.aux !== LIVE_AUX) throw this.bad(`a frame of a ${h.aux}-byte message in a live stream`);
      if (h.type === FRAME_DATA) {
        this.frameLeft = h.length;
      } else if (h.type === FRAME_DESC) {
        if (h.length !== DESC_BYTES) throw this.bad(`a DESC frame of ${h.length} bytes`);
        const ds = this.ring.readDescriptor(this.deadline);
        if (typeof ds === 'string') return this.lost(ds);
        const src = this.sources[ds.source];
        if (src === undefined) throw this.bad(`a descriptor naming source ${ds.source} of ${this.sources.length}`);
        const heap = this.shared.heapOf(src);
        if (heap.generation !== ds.generation || !heap.inBounds(ds.ptr, ds.len)) throw this.bad(`a descriptor [${ds.ptr}, +${ds.len}) of generation ${ds.generation} that does not check out`);
        this.desc = { bytes: heap.bytes().subarray(ds.ptr, ds.ptr + ds.len), off: 0 };
        if (ds.len === 0) this.desc = undefined;
      } else if (h.type === FRAME_END) {
        if (h.length !== END_BYTES) throw this.bad(`an END frame of ${h.length} bytes`);
        const b = new Uint8Array(END_BYTES);
        const r = this.ring.read(b, this.deadline);
        if (r.outcome !== 'ok') return this.lost(r.outcome);
        const dv = new DataView(b.buffer);
        const total = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
        if (total !== this.received) throw this.bad(`an END frame saying ${total} bytes after ${this.received}`);
        this.done = true;
        return 0;
      } else {
        throw this.bad(`a frame of type ${h.type}`);
      }
    }
  }

  close(): boolean {
    // Stopped before the end: tell the producer nobody reads any more.
    if (!this.done) this.ring.abort();
    return this.done;
  }

  private lost(outcome: WaitOutcome): number {
    if (outcome === 'timeout') throw new CwasiError('E_TIMEOUT', 'live stream read: deadline passed');
    // The producer gave up (its failure is reported on its own) or closed without an END.
    this.failed = true;
    return STATUS.ABORTED;
  }

  private bad(what: string): CwasiError {
    this.ring.abort();
    this.failed = true;
    return new CwasiError('E_BAD_DESCRIPTOR', `live stream: ${what}`);
  }
}
