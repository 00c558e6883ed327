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
// In place (`inPlace`: the consumer is a worker that reads the ring, an
// embedded or local edge): the producer's writes go into a window of
// WINDOW_SLOTS chunks in its own memory (allocated once, in its arena, which
// the task keeps until the edge is released), and each committed chunk is one
// DESC frame naming it. A function that reserves its output (stream_reserve)
// writes it straight into the chunk; the consumer copies a chunk across
// (local) or, when it shares the producer's memory (embedded), reads it where
// it lies (stream_next). The consumer frees a DESC frame only when it is done
// with its chunk, so the frames in the ring are the chunks in use: the
// producer reuses a chunk once its frame is gone, and waits while all are.
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
  DESC_BYTES, END_BYTES, STATE_ABORTED, FRAME_DATA, FRAME_DESC, FRAME_END, FRAME_HEADER_BYTES, LIVE_AUX, Ring, type WaitOutcome,
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
/**
 * A live stream's window on an embedded or local edge when its producer sets
 * none (streamWindowBytes): eight chunks of 512 KiB in the producer's memory.
 * 1 GiB through three live stages on two cores took 300-340 ms with a 1 MiB
 * window (a sleep and a wake every two chunks) and 190-250 ms with 4 MiB.
 */
export const LIVE_WINDOW_BYTES = 4 * 2 ** 20;
/** ... but never more than this share of the producer memory's maximum (a small memory keeps room for its work). */
const WINDOW_MEMORY_SHARE = 16;
/** The smallest window (the smallest streamWindowBytes). */
const MIN_WINDOW_BYTES = 64 * 1024;

/** A window the producer sets may take at most this share of its memory's maximum. */
const SET_WINDOW_MEMORY_SHARE = 4;

/** The window of a producer in `heap`: the one it sets (`streamWindowBytes`) or the default, each within its share of the memory. */
export function windowBytesFor(heap: Heap, set: number | undefined): number {
  const share = set === undefined ? WINDOW_MEMORY_SHARE : SET_WINDOW_MEMORY_SHARE;
  return Math.min(set ?? LIVE_WINDOW_BYTES, Math.max(MIN_WINDOW_BYTES, Math.floor(heap.maxBytes / share)));
}

/** Chunks of an in-place window: the producer fills one while the consumer holds up to all the others. */
export const WINDOW_SLOTS = 8;
/** Bytes of one DESC frame in the ring. */
const DESC_FRAME_BYTES = FRAME_HEADER_BYTES + DESC_BYTES;
/** A staging buffer's size when the producer reserves with no in-place window. */
const STAGING_BYTES = 256 * 1024;

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
  /** The in-place window: WINDOW_SLOTS chunks of `slotBytes` from `base`, and the chunks committed so far. */
  private window: { base: number; slotBytes: number; committed: number } | undefined;
  /** A buffer the function fills before `commit` when there is no window (or it gave up on the consumer). */
  private staging: { ptr: number; cap: number } | undefined;
  /** What the last `reserve` handed out, until `commit`. */
  private reserved: { ptr: number; len: number; inWindow: boolean } | undefined;
  ended = false;

  /**
   * `consumerStarting`: the consumer was launched beside this producer (it is
   * worth waiting for). `windowBytes` > 0: the consumer is a worker reading
   * this ring (an embedded or local edge): chunks of a window that large are
   * named in place, not copied in.
   */
  constructor(buffer: SharedArrayBuffer, private readonly heap: Heap, private readonly arena: Arena, private readonly generation: number, private readonly deadline: number, consumerStarting: boolean, windowBytes = 0) {
    this.ring = new Ring(buffer);
    this.ring.spinChecks = LIVE_SPIN_CHECKS;
    this.patienceMs = consumerStarting ? LIVE_ATTACH_MS : 0;
    this.chunk = Math.max(1, streamChunkBytes(this.ring.capacity) - TAIL_RESERVE_BYTES);
    if (windowBytes > 0 && this.ring.capacity >= (WINDOW_SLOTS + 1) * DESC_FRAME_BYTES + TAIL_RESERVE_BYTES) {
      // Chunks of whole 16-byte blocks.
      const slotBytes = Math.max(16, Math.floor(windowBytes / WINDOW_SLOTS / 16) * 16);
      this.window = { base: heap.allocIn(arena, WINDOW_SLOTS * slotBytes), slotBytes, committed: 0 };
      // The consumer is woken per two chunks (or looks every millisecond).
      this.ring.batchBytes = 2 * DESC_FRAME_BYTES;
    } else {
      this.ring.batchBytes = this.ring.capacity >> 2;
    }
  }

  /**
   * A place for the function's next output bytes, up to `max` of them (0:
   * as many as one chunk holds): a free chunk of the window (waiting while
   * the consumer holds them all), or a staging buffer. A negative status
   * when nobody reads any more.
   */
  reserve(max: number): { ptr: number; len: number } | number {
    if (this.gone) return STATUS.ABORTED;
    const w = this.window;
    if (w !== undefined && this.buffered === undefined) {
      const outcome = this.waitForSlot();
      if (outcome === 'aborted') {
        this.gone = true;
        return STATUS.ABORTED;
      }
      if (outcome === 'ok') {
        const ptr = w.base + (w.committed % WINDOW_SLOTS) * w.slotBytes;
        const len = max > 0 ? Math.min(max, w.slotBytes) : w.slotBytes;
        this.reserved = { ptr, len, inWindow: true };
        return { ptr, len };
      }
      // 'yielded': nobody reads; the rest is collected (below, through the staging buffer).
      this.buffered = { ptr: 0, len: 0, cap: 0 };
    }
    const cap = Math.max(STAGING_BYTES, w?.slotBytes ?? 0);
    this.staging ??= { ptr: this.heap.allocIn(this.arena, cap), cap };
    const len = max > 0 ? Math.min(max, this.staging.cap) : this.staging.cap;
    this.reserved = { ptr: this.staging.ptr, len, inWindow: false };
    return { ptr: this.staging.ptr, len };
  }

  /** Hand on the first `n` bytes of what `reserve` gave: 0, or a negative status. */
  commit(n: number): number {
    const r = this.reserved;
    if (r === undefined || n > r.len) throw new CwasiError('E_BAD_DESCRIPTOR', `live stream: commit of ${n} bytes after a reserve of ${r?.len ?? 0}`);
    this.reserved = undefined;
    if (this.gone) return STATUS.ABORTED;
    if (n === 0) return STATUS.OK;
    if (!r.inWindow) return this.write(this.heap.bytes().subarray(r.ptr, r.ptr + n));
    const w = this.window!;
    if (!this.ring.tryWriteDescriptor({ source: 0, generation: this.generation, ptr: r.ptr, len: n }, LIVE_AUX, false)) {
      throw new CwasiError('E_INTERNAL', 'live stream: no room for a chunk\'s frame');
    }
    w.committed++;
    this.sent += n;
    return STATUS.OK;
  }

  /**
   * Wait until a chunk of the window is free: fewer than WINDOW_SLOTS DESC
   * frames in the ring (the consumer frees each when done with its chunk).
   * With all in use it sleeps until half are free again.
   */
  private waitForSlot(): WaitOutcome | 'yielded' {
    const ring = this.ring;
    const inUse = (): number => ring.used / DESC_FRAME_BYTES;
    if (ring.used % DESC_FRAME_BYTES !== 0) throw new CwasiError('E_BAD_DESCRIPTOR', `live stream: ${ring.used} bytes in a ring of ${DESC_FRAME_BYTES}-byte frames`);
    if (inUse() < WINDOW_SLOTS) return ring.state === STATE_ABORTED ? 'aborted' : 'ok';
    const want = ring.capacity - (WINDOW_SLOTS >> 1) * DESC_FRAME_BYTES;
    const outcome = ring.waitForSpace(want, this.deadline, ring.consumerAttached ? undefined : this.shouldYield);
    if (outcome === 'ok' || outcome === 'yielded' || outcome === 'aborted') return outcome;
    throw ringError('live stream reserve', outcome);
  }

  write(src: Uint8Array): number {
    if (this.gone) return STATUS.ABORTED;
    if (this.window !== undefined && this.buffered === undefined) return this.writeThroughWindow(src);
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

  /** A write with an in-place window: copied into chunks (the function did not reserve them). */
  private writeThroughWindow(src: Uint8Array): number {
    let off = 0;
    while (off < src.length) {
      const r = this.reserve(src.length - off);
      if (typeof r === 'number') return r;
      if (this.buffered !== undefined) {
        // The consumer was given up on while waiting: the rest is collected.
        this.reserved = undefined;
        return this.write(src.subarray(off));
      }
      copyInto(this.heap.bytes(), r.ptr, src.subarray(off, off + r.len));
      const s = this.commit(r.len);
      if (s !== STATUS.OK) return s;
      off += r.len;
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
  /** A DESC frame's chunk being read (its frame still held in the ring): the source memory, where, and how far. */
  private desc: { heap: Heap; ptr: number; len: number; off: number } | undefined;
  /** A chunk handed out whole by `nextInPlace`: its frame is freed at the next call. */
  private holding = false;
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
    const d = this.step();
    if (typeof d === 'number') return d;
    if (d === null) {
      // A DATA frame: straight out of the ring.
      const n = Math.min(dst.length, this.frameLeft);
      const r = this.ring.read(dst.subarray(0, n), this.deadline);
      if (r.outcome !== 'ok') return this.lost(r.outcome);
      this.frameLeft -= n;
      this.received += n;
      return n;
    }
    const n = Math.min(dst.length, d.len - d.off);
    copyInto(dst, 0, d.heap.bytes().subarray(d.ptr + d.off, d.ptr + d.off + n));
    // Aborted during the copy: the chunk may have been freed and reused under it.
    if (!this.stillOpen()) return STATUS.ABORTED;
    this.advance(d, n);
    return n;
  }

  /**
   * After copying a chunk across: the ring was not aborted meanwhile (a
   * failed producer aborts it before it frees its window, so bytes copied
   * before this check were still the producer's).
   */
  stillOpen(): boolean {
    if (this.ring.state !== STATE_ABORTED) return true;
    this.failed = true;
    return false;
  }

  /**
   * The next piece of a chunk named in place, up to `max` bytes, where it
   * lies (valid until the next call: its frame is held until then); null
   * when the next bytes are a DATA frame's (read them); 0 at the end; or a
   * negative status.
   */
  nextInPlace(max: number): { heap: Heap; ptr: number; len: number } | null | number {
    const d = this.step();
    if (typeof d === 'number') return d;
    if (d === null) return null;
    const n = Math.min(max, d.len - d.off);
    const piece = { heap: d.heap, ptr: d.ptr + d.off, len: n };
    this.advance(d, n, true);
    return piece;
  }

  /**
   * The piece `nextInPlace` handed out was copied away: false when the ring
   * was aborted meanwhile (the copy is void), else its chunk goes back to
   * the producer now.
   */
  copied(): boolean {
    if (!this.stillOpen()) return false;
    this.release();
    return true;
  }

  /** Free the frame of the chunk last handed out whole. */
  private release(): void {
    if (!this.holding) return;
    this.holding = false;
    this.ring.consume(DESC_FRAME_BYTES);
  }

  /**
   * Free what the last call handed out, then make sure the next bytes are
   * ready: a DESC chunk (returned), a DATA frame's bytes (null, frameLeft
   * set), or a number: 0 at the end, a negative status.
   */
  private step(): { heap: Heap; ptr: number; len: number; off: number } | null | number {
    this.release();
    if (this.done) return 0;
    if (this.failed) return STATUS.ABORTED;
    for (;;) {
      if (this.frameLeft > 0) return null;
      if (this.desc !== undefined) {
        // A producer that failed frees its chunks once it aborted the ring: hand out nothing more of them.
        if (this.ring.state === STATE_ABORTED) return this.lost('aborted');
        return this.desc;
      }
      const f = this.ring.peekFrame(this.deadline);
      if (typeof f === 'string') return this.lost(f);
      const h = f.header;
      if (h.aux !== LIVE_AUX) throw this.bad(`a frame of a ${h.aux}-byte message in a live stream`);
      if (h.type === FRAME_DATA) {
        this.ring.consume(FRAME_HEADER_BYTES);
        this.frameLeft = h.length;
      } else if (h.type === FRAME_DESC) {
        if (f.desc === undefined) throw this.bad(`a DESC frame of ${h.length} bytes`);
        const ds = f.desc;
        const src = this.sources[ds.source];
        if (src === undefined) throw this.bad(`a descriptor naming source ${ds.source} of ${this.sources.length}`);
        const heap = this.shared.heapOf(src);
        if (heap.generation !== ds.generation || !heap.inBounds(ds.ptr, ds.len)) throw this.bad(`a descriptor [${ds.ptr}, +${ds.len}) of generation ${ds.generation} that does not check out`);
        // Chunks named in place: be woken per two of them, as their producer publishes them.
        this.ring.batchBytes = 2 * DESC_FRAME_BYTES;
        // The frame stays in the ring until its chunk has been read: the producer does not reuse it before.
        if (ds.len === 0) this.ring.consume(DESC_FRAME_BYTES);
        else this.desc = { heap, ptr: ds.ptr, len: ds.len, off: 0 };
      } else if (h.type === FRAME_END) {
        if (h.length !== END_BYTES) throw this.bad(`an END frame of ${h.length} bytes`);
        this.ring.consume(FRAME_HEADER_BYTES);
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

  /** `n` more bytes of the chunk `d` were handed out; a finished chunk's frame is freed (`hold`: at the next call). */
  private advance(d: { len: number; off: number }, n: number, hold = false): void {
    d.off += n;
    this.received += n;
    if (d.off < d.len) return;
    this.desc = undefined;
    if (hold) this.holding = true;
    else this.ring.consume(DESC_FRAME_BYTES);
  }

  close(): boolean {
    this.release();
    // Stopped before the end: tell the producer nobody reads any more.
    if (!this.done) {
      this.ring.abort();
      letGo(this.ring);
    }
    return this.done;
  }

  private lost(outcome: WaitOutcome): number {
    if (outcome === 'timeout') throw new CwasiError('E_TIMEOUT', 'live stream read: deadline passed');
    // The producer gave up (its failure is reported on its own) or closed without an END.
    this.failed = true;
    this.desc = undefined;
    this.holding = false;
    if (outcome === 'aborted') letGo(this.ring);
    return STATUS.ABORTED;
  }

  private bad(what: string): CwasiError {
    this.ring.abort();
    letGo(this.ring);
    this.failed = true;
    return new CwasiError('E_BAD_DESCRIPTOR', `live stream: ${what}`);
  }
}

/**
 * A consumer done with an aborted stream frees every frame left in its ring:
 * it holds none of the producer's chunks any more (awaitWindowReleased).
 */
export function letGo(ring: Ring): void {
  const u = ring.used;
  if (u > 0 && u <= ring.capacity) ring.consume(u);
}

/** How long a failed producer waits for its consumer to let go of its window's chunks before freeing them anyway. */
export const WINDOW_RELEASE_WAIT_MS = 1000;

/**
 * A failed producer, before it frees its window: wait (at most
 * WINDOW_RELEASE_WAIT_MS) until a consumer that started reading let go of
 * every chunk it was handed (it does at its next read, or when it returns,
 * once it sees the ring aborted), so that a consumer reading a chunk in
 * place never has it freed and reused under it in the meantime.
 */
export function awaitWindowReleased(buffer: SharedArrayBuffer): void {
  const ring = new Ring(buffer);
  if (!ring.consumerAttached) return;
  const until = performance.now() + WINDOW_RELEASE_WAIT_MS;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (ring.used !== 0 && performance.now() < until) Atomics.wait(nap, 0, 0, 1);
}
