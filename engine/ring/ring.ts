// A single-producer single-consumer byte ring over a SharedArrayBuffer,
// synchronised with Atomics: the Local Buffer's channel between threads.
// Its layout, frames and constants are in layout.ts (byte tables there).
//
// Threading contract: exactly one thread writes (the producer) and one reads
// (the consumer) at a time. The producer owns HEAD, the consumer owns TAIL;
// each only reads the other's. STATE may be written by either side (close,
// abort) and by the owner of the ring (reset, between transfers, when neither
// side is active). Blocking methods (`write`, `read`) are for threads that may
// block (workers); the `*Async` methods never block and are for the main
// thread; `tryWrite`/`tryRead` never wait at all.
//
// Each side wakes the other only when it made what the other waits for
// available (the *_WAITING word), or when it ends, closes or aborts: a side
// that batches (Ring.batchBytes) is woken once per batch, not per frame.

import { CwasiError } from '../errors.js';
import { copyInto } from '../memory/copy.js';
import {
  DESC_BYTES, FRAME, FRAME_DESC, decodeDescriptor, encodeDescriptor, FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_TYPE_MASK, MAX_RING_BYTES, MIN_RING_BYTES, RING, RING_HEADER_BYTES, RING_MAGIC,
  STATE_ABORTED, STATE_CLOSED, STATE_OPEN, type Descriptor, type FrameHeader, type WaitOutcome,
} from './layout.js';

export * from './layout.js';

const I_HEAD = RING.HEAD >> 2;
const I_PRODUCER_WAITING = RING.PRODUCER_WAITING >> 2;
const I_TAIL = RING.TAIL >> 2;
const I_CONSUMER_WAITING = RING.CONSUMER_WAITING >> 2;
const I_CONSUMER_ATTACHED = RING.CONSUMER_ATTACHED >> 2;
const I_STATE = RING.STATE >> 2;

/** Spin iterations before sleeping (a wake costs tens of microseconds). */
const SPIN = 2000;
/** Longest single sleep; waiters re-check STATE and their deadline after it. */
const MAX_SLEEP_MS = 100;
/** Longest sleep of a batching consumer (Ring.batchBytes): it then reads whatever is there. */
const BATCH_SLEEP_MS = 1;
/** pollNear: wake this long before the expected time, and poll until this long after it (ms). */
const POLL_EARLY_MS = 0.15;
const POLL_LATE_MS = 0.3;

export class Ring {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  private readonly mask: number;
  private readonly i32: Int32Array;
  private readonly data: Uint8Array;
  private readonly scratch = new Uint8Array(FRAME_HEADER_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly descFrame = new Uint8Array(FRAME_HEADER_BYTES + DESC_BYTES);
  private readonly descView = new DataView(this.descFrame.buffer);
  /**
   * Spin at least this long before sleeping when a blocking wait starts.
   * Worth it when the other side is known to be running (a consumer started
   * alongside its producer, on an otherwise idle core): waking a sleeping
   * thread costs tens to hundreds of microseconds on these machines.
   */
  spinMs = 0;
  /**
   * Checks of the other side's index before a blocking wait sleeps. A live
   * stream's two sides (local-live.ts) set it low: each stage has a thread,
   * often more than the machine has cores, and a spinning thread takes the
   * core the other side needs.
   */
  spinChecks = SPIN;
  /**
   * Batch wake-ups (a live stream's sides, local-live.ts): a consumer that
   * sleeps asks to be woken once this many bytes are readable (it still
   * looks every BATCH_SLEEP_MS, for a producer that slowed down), a producer
   * once twice this much room is free. 0: wake on every frame.
   */
  batchBytes = 0;
  /** Frames written (producer side) / read (consumer side) since the last reset, as seen by this view. */
  private seqOut = 0;
  private seqIn = 0;

  /** Allocate and initialise a ring of `capacity` data bytes (rounded up to a power of two). */
  static create(capacity: number): Ring {
    if (!Number.isInteger(capacity) || capacity < MIN_RING_BYTES || capacity > MAX_RING_BYTES) {
      throw new CwasiError('E_CONFIG', `ring capacity must be ${MIN_RING_BYTES}..${MAX_RING_BYTES} bytes, got ${capacity}`);
    }
    const cap = 2 ** Math.ceil(Math.log2(capacity));
    const sab = new SharedArrayBuffer(RING_HEADER_BYTES + cap);
    const i32 = new Int32Array(sab);
    i32[RING.CAPACITY >> 2] = cap;
    // Publish the magic last: a view that sees it sees the capacity.
    Atomics.store(i32, RING.MAGIC >> 2, RING_MAGIC);
    return new Ring(sab);
  }

  constructor(buffer: SharedArrayBuffer) {
    if (buffer.byteLength < RING_HEADER_BYTES + MIN_RING_BYTES) throw new CwasiError('E_BAD_DESCRIPTOR', 'ring buffer too small');
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer, 0, RING_HEADER_BYTES >> 2);
    if (Atomics.load(this.i32, RING.MAGIC >> 2) !== RING_MAGIC) throw new CwasiError('E_BAD_DESCRIPTOR', 'not a ring (bad magic)');
    const cap = this.i32[RING.CAPACITY >> 2]!;
    if (cap < MIN_RING_BYTES || (cap & (cap - 1)) !== 0 || RING_HEADER_BYTES + cap !== buffer.byteLength) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `ring capacity ${cap} does not match its buffer`);
    }
    this.capacity = cap;
    this.mask = cap - 1;
    this.data = new Uint8Array(buffer, RING_HEADER_BYTES, cap);
    this.seqOut = 0;
    this.seqIn = 0;
  }

  // ── state ────────────────────────────────────────────────────────────────

  get state(): number {
    return Atomics.load(this.i32, I_STATE);
  }

  /** Bytes written and not yet read. */
  get used(): number {
    return (Atomics.load(this.i32, I_HEAD) - Atomics.load(this.i32, I_TAIL)) >>> 0;
  }

  /** Readable bytes are there (a corrupt count, over capacity, is not readable). */
  private hasData(): boolean {
    const u = this.used;
    return u > 0 && u <= this.capacity;
  }

  get consumerAttached(): boolean {
    return Atomics.load(this.i32, I_CONSUMER_ATTACHED) === 1;
  }

  /** Consumer: announce that a reader is running (the producer may then wait for it). */
  attachConsumer(): void {
    Atomics.store(this.i32, I_CONSUMER_ATTACHED, 1);
  }

  /** Producer: no more frames will follow; a reader that drained the ring sees 'closed'. */
  close(): void {
    Atomics.compareExchange(this.i32, I_STATE, STATE_OPEN, STATE_CLOSED);
    this.wakeAll();
  }

  /** Either side (or the ring's owner): give up; both sides' waits end with 'aborted'. */
  abort(): void {
    Atomics.store(this.i32, I_STATE, STATE_ABORTED);
    this.wakeAll();
  }

  /** Owner only, when neither side is active: empty the ring for the next transfer. */
  reset(): void {
    // Order matters for a stale reader: indices first, then reopen.
    Atomics.store(this.i32, I_HEAD, 0);
    Atomics.store(this.i32, I_TAIL, 0);
    Atomics.store(this.i32, I_PRODUCER_WAITING, 0);
    Atomics.store(this.i32, I_CONSUMER_WAITING, 0);
    Atomics.store(this.i32, I_CONSUMER_ATTACHED, 0);
    Atomics.add(this.i32, RING.RESETS >> 2, 1);
    Atomics.store(this.i32, I_STATE, STATE_OPEN);
    this.seqOut = 0;
    this.seqIn = 0;
  }

  private wakeAll(): void {
    Atomics.notify(this.i32, I_HEAD);
    Atomics.notify(this.i32, I_TAIL);
  }

  // ── producer ─────────────────────────────────────────────────────────────

  /** Free bytes (producer's view). */
  space(): number {
    return this.capacity - this.used;
  }

  /**
   * Copy up to `src.length` bytes into the ring without waiting; returns how
   * many were written (0 when full). Never allocates.
   */
  tryWrite(src: Uint8Array): number {
    // An aborted ring takes nothing more.
    if (Atomics.load(this.i32, I_STATE) === STATE_ABORTED) return 0;
    const head = Atomics.load(this.i32, I_HEAD) >>> 0;
    const used = (head - (Atomics.load(this.i32, I_TAIL) >>> 0)) >>> 0;
    if (used > this.capacity) {
      // Only a corrupt ring gets here: never compute a negative count from it.
      this.abort();
      return 0;
    }
    const n = Math.min(this.capacity - used, src.length);
    if (n === 0) return 0;
    this.copyIn(head, n === src.length ? src : src.subarray(0, n));
    this.publish(head + n);
    return n;
  }

  /**
   * Write a whole frame (header, then `payload`) at once; the caller made
   * sure it fits (`waitForSpace`). Returns false, writing nothing, when it does not.
   */
  writeFrame(type: number, total: number, payload: Uint8Array, force = false): boolean {
    const head = Atomics.load(this.i32, I_HEAD) >>> 0;
    if (this.space() < FRAME_HEADER_BYTES + payload.length) return false;
    this.encodeHeader(type, payload.length, total);
    this.copyIn(head, this.scratch);
    this.copyIn(head + FRAME_HEADER_BYTES, payload);
    this.publish(head + FRAME_HEADER_BYTES + payload.length, force);
    return true;
  }

  /**
   * The place of the next frame's payload, for a writer that fills it in
   * place (a socket read): up to `max` bytes, contiguous in the data area
   * after room for the header; null when there is none. Nothing is written
   * until `commitFrame`.
   */
  reserveFrame(max: number): Uint8Array | null {
    if (Atomics.load(this.i32, I_STATE) === STATE_ABORTED) return null;
    const at = ((Atomics.load(this.i32, I_HEAD) >>> 0) + FRAME_HEADER_BYTES) & this.mask;
    const n = Math.min(max, this.space() - FRAME_HEADER_BYTES, this.capacity - at);
    return n > 0 ? this.data.subarray(at, at + n) : null;
  }

  /** Publish a frame whose `length` payload bytes were written where `reserveFrame` said. */
  commitFrame(type: number, aux: number, length: number): void {
    const head = Atomics.load(this.i32, I_HEAD) >>> 0;
    this.encodeHeader(type, length, aux);
    this.copyIn(head, this.scratch);
    this.publish(head + FRAME_HEADER_BYTES + length);
  }

  /** Copy `src` into the data area at stream position `pos`, wrapping at the end. */
  private copyIn(pos: number, src: Uint8Array): void {
    const at = pos & this.mask;
    const first = Math.min(src.length, this.capacity - at);
    copyInto(this.data, at, first === src.length ? src : src.subarray(0, first));
    if (src.length > first) copyInto(this.data, 0, src.subarray(first));
  }

  /** `force`: wake a sleeping consumer whatever it waits for (the last frames of a stream). */
  private publish(newHead: number, force = false): void {
    // Publish the bytes: the consumer reads HEAD before touching them.
    Atomics.store(this.i32, I_HEAD, newHead | 0);
    // Wake a sleeping consumer (it raised CONSUMER_WAITING before re-reading HEAD) once what it waits for is there.
    const want = Atomics.load(this.i32, I_CONSUMER_WAITING);
    if (want !== 0 && (force || ((newHead - Atomics.load(this.i32, I_TAIL)) >>> 0) >= want)) Atomics.notify(this.i32, I_HEAD);
  }

  /**
   * Block until at least `bytes` are free (workers only). `shouldYield` is
   * polled while the ring is full; when it returns true the wait ends with
   * 'yielded' so the producer can take another route.
   */
  waitForSpace(bytes: number, deadline: number, shouldYield?: () => boolean): WaitOutcome | 'yielded' {
    if (bytes > this.capacity) throw new CwasiError('E_INTERNAL', `waiting for ${bytes} bytes in a ${this.capacity}-byte ring`);
    // A batching producer sleeps until twice its batch is free, then writes frames back to back.
    const want = Math.min(this.capacity, Math.max(bytes, 2 * this.batchBytes));
    if (shouldYield === undefined) return this.waitOn(I_TAIL, I_PRODUCER_WAITING, () => this.space() >= bytes, deadline, false, want);
    for (;;) {
      if (this.space() >= bytes) return 'ok';
      if (shouldYield()) return 'yielded';
      // Sleep in short slices so that the yield condition is re-checked.
      const outcome = this.waitOn(I_TAIL, I_PRODUCER_WAITING, () => this.space() >= bytes, Math.min(deadline, Date.now() + 1), false, want);
      if (outcome === 'ok') return 'ok';
      if (outcome !== 'timeout' || Date.now() >= deadline) return outcome;
    }
  }

  /**
   * Write all of `src`, blocking while the ring is full (workers only).
   * `shouldYield` is polled while waiting: returning true stops the write
   * early (the caller falls back to another route); the result is then the
   * number of bytes written so far.
   */
  write(src: Uint8Array, deadline: number, shouldYield?: () => boolean): { written: number; outcome: WaitOutcome | 'yielded' } {
    let off = 0;
    while (off < src.length) {
      const n = this.tryWrite(off === 0 ? src : src.subarray(off));
      off += n;
      if (off === src.length) break;
      if (n === 0) {
        const outcome = this.waitForSpace(1, deadline, shouldYield);
        if (outcome !== 'ok') return { written: off, outcome };
      }
    }
    return { written: off, outcome: 'ok' };
  }

  /** Write all of `src` without blocking the thread (main thread). */
  async writeAsync(src: Uint8Array, deadline: number, signal?: AbortSignal): Promise<WaitOutcome> {
    let off = 0;
    while (off < src.length) {
      if (signal?.aborted) return 'aborted';
      const n = this.tryWrite(off === 0 ? src : src.subarray(off));
      off += n;
      if (off === src.length) break;
      if (n === 0) {
        const outcome = await this.waitAsyncFor(I_TAIL, I_PRODUCER_WAITING, () => this.space() > 0, deadline, signal);
        if (outcome !== 'ok') return outcome;
      }
    }
    return 'ok';
  }

  /** Write a frame header (blocking; the header is tiny). */
  writeHeader(type: number, length: number, total: number, deadline: number): WaitOutcome {
    this.encodeHeader(type, length, total);
    return this.write(this.scratch, deadline).outcome as WaitOutcome;
  }

  /** Write a frame header without blocking the thread. Allocates a 16-byte copy. */
  async writeHeaderAsync(type: number, length: number, total: number, deadline: number): Promise<WaitOutcome> {
    this.encodeHeader(type, length, total);
    return this.writeAsync(this.scratch.slice(), deadline);
  }

  /** Write a whole DESC frame (header and descriptor) without waiting; false when it does not fit. */
  tryWriteDescriptor(d: Descriptor, total: number, force = true): boolean {
    const head = Atomics.load(this.i32, I_HEAD) >>> 0;
    if (this.space() < FRAME_HEADER_BYTES + DESC_BYTES) return false;
    const dv = this.descView;
    dv.setUint32(FRAME.TYPE, (FRAME_MAGIC | FRAME_DESC) >>> 0, true);
    dv.setUint32(FRAME.LENGTH, DESC_BYTES, true);
    dv.setUint32(FRAME.SEQ, this.seqOut++ >>> 0, true);
    dv.setUint32(FRAME.AUX, total >>> 0, true);
    encodeDescriptor(dv, FRAME_HEADER_BYTES, d);
    this.copyIn(head, this.descFrame);
    // A descriptor names the rest of a message: the consumer needs it whatever it waits for
    // (a stream of chunks named in place, local-live.ts, batches them like DATA frames).
    this.publish(head + this.descFrame.length, force);
    return true;
  }

  private encodeHeader(type: number, length: number, aux: number): void {
    const dv = this.scratchView;
    dv.setUint32(FRAME.TYPE, (FRAME_MAGIC | type) >>> 0, true);
    dv.setUint32(FRAME.LENGTH, length >>> 0, true);
    dv.setUint32(FRAME.SEQ, this.seqOut++ >>> 0, true);
    dv.setUint32(FRAME.AUX, aux >>> 0, true);
  }

  // ── consumer ─────────────────────────────────────────────────────────────

  /** Copy up to `dst.length` available bytes out of the ring without waiting; returns the count. */
  tryRead(dst: Uint8Array): number {
    const tail = Atomics.load(this.i32, I_TAIL) >>> 0;
    const head = Atomics.load(this.i32, I_HEAD) >>> 0;
    const avail = (head - tail) >>> 0;
    if (avail > this.capacity) {
      // Only a corrupt or concurrently reset ring gets here.
      this.abort();
      return 0;
    }
    const n = Math.min(avail, dst.length);
    if (n === 0) return 0;
    const at = tail & this.mask;
    const first = Math.min(n, this.capacity - at);
    copyInto(dst, 0, this.data.subarray(at, at + first));
    if (n > first) copyInto(dst, first, this.data.subarray(0, n - first));
    // Publish the freed space: the producer reads TAIL before reusing it.
    this.freed(tail + n);
    return n;
  }

  /** Fill all of `dst`, blocking while the ring is empty (workers only). */
  read(dst: Uint8Array, deadline: number): { read: number; outcome: WaitOutcome } {
    let off = 0;
    while (off < dst.length) {
      const n = this.tryRead(off === 0 ? dst : dst.subarray(off));
      off += n;
      if (off === dst.length) break;
      if (n === 0) {
        const outcome = this.waitForBytes(1, deadline);
        if (outcome !== 'ok') return { read: off, outcome };
      }
    }
    return { read: off, outcome: 'ok' };
  }

  /** Fill all of `dst` without blocking the thread (main thread). */
  async readAsync(dst: Uint8Array, deadline: number, signal?: AbortSignal): Promise<{ read: number; outcome: WaitOutcome }> {
    let off = 0;
    while (off < dst.length) {
      if (signal?.aborted) return { read: off, outcome: 'aborted' };
      const n = this.tryRead(off === 0 ? dst : dst.subarray(off));
      off += n;
      if (off === dst.length) break;
      if (n === 0) {
        const outcome = await this.waitDataAsync(deadline, signal);
        if (outcome !== 'ok') return { read: off, outcome };
      }
    }
    return { read: off, outcome: 'ok' };
  }

  /** Wait until bytes are readable, without blocking the thread (main thread). */
  waitDataAsync(deadline: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.batchBytes === 0) return this.waitAsyncFor(I_HEAD, I_CONSUMER_WAITING, () => this.hasData(), deadline, signal);
    return this.waitAsyncFor(I_HEAD, I_CONSUMER_WAITING, () => this.hasData(), deadline, signal, Math.min(this.batchBytes, this.capacity >> 1), BATCH_SLEEP_MS);
  }

  /** Wait until `bytes` are free, without blocking the thread (main thread). */
  waitSpaceAsync(bytes: number, deadline: number, signal?: AbortSignal): Promise<WaitOutcome> {
    return this.waitAsyncFor(I_TAIL, I_PRODUCER_WAITING, () => this.space() >= bytes, deadline, signal, bytes);
  }

  /**
   * A view of up to `max` readable bytes where they lie in the ring (up to
   * the end of the data area: call again after `consume` for the rest). The
   * bytes stay the consumer's until `consume` frees them; empty when none.
   */
  peek(max: number): Uint8Array {
    const tail = Atomics.load(this.i32, I_TAIL) >>> 0;
    const avail = (Atomics.load(this.i32, I_HEAD) - tail) >>> 0;
    if (avail > this.capacity) {
      this.abort();
      return this.data.subarray(0, 0);
    }
    const at = tail & this.mask;
    const n = Math.min(avail, max, this.capacity - at);
    return this.data.subarray(at, at + n);
  }

  /** Free `n` bytes that `peek` showed (the producer may reuse them). */
  consume(n: number): void {
    this.freed((Atomics.load(this.i32, I_TAIL) >>> 0) + n);
  }

  /** Publish TAIL; wake a sleeping producer (it set PRODUCER_WAITING before re-reading TAIL) once the room it waits for is free. */
  private freed(newTail: number): void {
    Atomics.store(this.i32, I_TAIL, newTail | 0);
    const want = Atomics.load(this.i32, I_PRODUCER_WAITING);
    if (want !== 0 && this.capacity - ((Atomics.load(this.i32, I_HEAD) - newTail) >>> 0) >= want) Atomics.notify(this.i32, I_TAIL);
  }

  /**
   * Before reading a message due about `at` (performance.timeOrigin +
   * performance.now() ms): sleep until POLL_EARLY_MS before it (woken sooner
   * if the producer is early), then poll until POLL_LATE_MS after it. Returns
   * once data is there or the window passed; reading then goes on as usual.
   */
  pollNear(at: number, deadline: number): void {
    const clock = (): number => performance.timeOrigin + performance.now();
    for (;;) {
      if (this.hasData() || Atomics.load(this.i32, I_STATE) !== STATE_OPEN) return;
      const t = clock();
      if (t > at + POLL_LATE_MS || Date.now() >= deadline) return;
      if (t >= at - POLL_EARLY_MS) continue;
      const observed = Atomics.load(this.i32, I_HEAD);
      Atomics.store(this.i32, I_CONSUMER_WAITING, 1);
      try {
        if (!this.hasData()) Atomics.wait(this.i32, I_HEAD, observed, Math.min(at - POLL_EARLY_MS - t, MAX_SLEEP_MS));
      } finally {
        Atomics.store(this.i32, I_CONSUMER_WAITING, 0);
      }
    }
  }

  /**
   * The next frame's header and (DESC) descriptor, held: nothing is freed
   * until the caller `consume`s the frame (a live window's chunk, local-live.ts)
   * or its header, then reads the payload as usual.
   */
  peekFrame(deadline: number): { header: FrameHeader; desc?: Descriptor } | WaitOutcome {
    const o = this.waitForBytes(FRAME_HEADER_BYTES, deadline);
    if (o !== 'ok') return o;
    const tail = Atomics.load(this.i32, I_TAIL) >>> 0;
    this.copyOut(tail, this.scratch);
    const header = this.decodeHeader();
    if (header.type !== FRAME_DESC || header.length !== DESC_BYTES) return { header };
    const o2 = this.waitForBytes(FRAME_HEADER_BYTES + DESC_BYTES, deadline);
    if (o2 !== 'ok') return o2;
    const buf = this.descFrame.subarray(0, DESC_BYTES);
    this.copyOut(tail + FRAME_HEADER_BYTES, buf);
    return { header, desc: decodeDescriptor(this.descView, 0) };
  }

  /** Copy `dst.length` bytes at stream position `pos` out of the data area, wrapping at the end. */
  private copyOut(pos: number, dst: Uint8Array): void {
    const at = pos & this.mask;
    const first = Math.min(dst.length, this.capacity - at);
    copyInto(dst, 0, this.data.subarray(at, at + first));
    if (dst.length > first) copyInto(dst, first, this.data.subarray(0, dst.length - first));
  }

  /** Block until at least `n` bytes are readable (workers only); a batching consumer is woken once a batch is there, and looks every BATCH_SLEEP_MS for less. */
  private waitForBytes(n: number, deadline: number): WaitOutcome {
    const ready = (): boolean => this.used >= n && this.used <= this.capacity;
    const batch = this.batchBytes === 0 ? 0 : Math.min(this.batchBytes, this.capacity >> 1);
    return ready() && Atomics.load(this.i32, I_STATE) !== STATE_ABORTED ? 'ok' : this.waitOn(I_HEAD, I_CONSUMER_WAITING, ready, deadline, true, Math.max(n, batch), batch === 0 ? MAX_SLEEP_MS : BATCH_SLEEP_MS);
  }

  /** Read and validate the next frame header (blocking); a wait that ends early leaves the ring unusable for framed reads until reset. */
  readHeader(deadline: number): FrameHeader | WaitOutcome {
    const r = this.read(this.scratch, deadline);
    if (r.outcome !== 'ok') return r.outcome;
    return this.decodeHeader();
  }

  async readHeaderAsync(deadline: number): Promise<FrameHeader | WaitOutcome> {
    const r = await this.readAsync(this.scratch, deadline);
    if (r.outcome !== 'ok') return r.outcome;
    return this.decodeHeader();
  }

  /** Read a DESC payload after its header. */
  readDescriptor(deadline: number): Descriptor | WaitOutcome {
    const buf = this.descFrame.subarray(0, DESC_BYTES);
    const r = this.read(buf, deadline);
    if (r.outcome !== 'ok') return r.outcome;
    return decodeDescriptor(this.descView, 0);
  }

  private decodeHeader(): FrameHeader {
    const dv = this.scratchView;
    const word = dv.getUint32(FRAME.TYPE, true);
    const seq = dv.getUint32(FRAME.SEQ, true);
    if ((word & ~FRAME_TYPE_MASK) >>> 0 !== FRAME_MAGIC) {
      this.abort();
      throw new CwasiError('E_BAD_DESCRIPTOR', `ring frame has a bad magic (0x${word.toString(16)})`);
    }
    if (seq !== this.seqIn) {
      this.abort();
      throw new CwasiError('E_BAD_DESCRIPTOR', `ring frame out of sequence (got ${seq}, expected ${this.seqIn})`);
    }
    this.seqIn = (this.seqIn + 1) >>> 0;
    return { type: word & FRAME_TYPE_MASK, length: dv.getUint32(FRAME.LENGTH, true), seq, aux: dv.getUint32(FRAME.AUX, true) };
  }

  // ── waiting ──────────────────────────────────────────────────────────────

  /**
   * Block until `ready()`: spin, then sleep on the other side's index. The flag (`want`: what the other side must make available
   * before it wakes this one) is raised before the index is re-read, and the other side publishes its index before reading the
   * flag, so a wake-up cannot be lost between the check and the sleep. `sliceMs`: the longest sleep.
   */
  private waitOn(index: number, flag: number, ready: () => boolean, deadline: number, reading: boolean, want = 1, sliceMs = MAX_SLEEP_MS): WaitOutcome {
    const spinUntil = this.spinMs > 0 ? performance.now() + this.spinMs : 0;
    for (let i = 0; ; i++) {
      // Aborted wins over ready: the transfer is dead even if bytes or space remain.
      if (Atomics.load(this.i32, I_STATE) === STATE_ABORTED) return 'aborted';
      if (ready()) return 'ok';
      const s = Atomics.load(this.i32, I_STATE);
      // Closed means no more frames; bytes written before close() still count.
      if (s === STATE_CLOSED && reading) return ready() ? 'ok' : 'closed';
      if (i >= this.spinChecks && (spinUntil === 0 || performance.now() >= spinUntil || Date.now() >= deadline)) break;
    }
    for (;;) {
      const observed = Atomics.load(this.i32, index);
      Atomics.store(this.i32, flag, want);
      try {
        if (Atomics.load(this.i32, I_STATE) === STATE_ABORTED) return 'aborted';
        if (ready()) return 'ok';
        const s = Atomics.load(this.i32, I_STATE);
        if (s === STATE_CLOSED && reading) return ready() ? 'ok' : 'closed';
        const left = deadline - Date.now();
        if (left <= 0) return 'timeout';
        Atomics.wait(this.i32, index, observed, Math.min(left, sliceMs));
      } finally {
        Atomics.store(this.i32, flag, 0);
      }
    }
  }

  private async waitAsyncFor(index: number, flag: number, ready: () => boolean, deadline: number, signal?: AbortSignal, want = 1, sliceMs = MAX_SLEEP_MS): Promise<WaitOutcome> {
    const reading = index === I_HEAD;
    for (;;) {
      const observed = Atomics.load(this.i32, index);
      Atomics.store(this.i32, flag, want);
      let keepAlive: NodeJS.Timeout | undefined;
      try {
        if (Atomics.load(this.i32, I_STATE) === STATE_ABORTED) return 'aborted';
        if (ready()) return 'ok';
        const s = Atomics.load(this.i32, I_STATE);
        if (s === STATE_CLOSED && reading) return ready() ? 'ok' : 'closed';
        if (signal?.aborted) return 'aborted';
        const left = deadline - Date.now();
        if (left <= 0) return 'timeout';
        const slice = Math.min(left, sliceMs);
        const w = Atomics.waitAsync(this.i32, index, observed, slice);
        // A pending waitAsync does not keep Node's event loop alive; this timer does.
        if (w.async) keepAlive = setTimeout(() => {}, slice + 1);
        if (w.async) {
          if (signal === undefined) {
            await w.value;
          } else {
            // Wake on the signal too: an abort must not wait for the next slice.
            let onAbort: (() => void) | undefined;
            await Promise.race([w.value, new Promise<void>((resolve) => {
              onAbort = resolve;
              signal.addEventListener('abort', onAbort, { once: true });
            })]);
            signal.removeEventListener('abort', onAbort!);
          }
        }
      } finally {
        if (keepAlive !== undefined) clearTimeout(keepAlive);
        Atomics.store(this.i32, flag, 0);
      }
    }
  }

}
