// The main thread's two ends of a live stream that does not go from one
// worker's ring straight to another's (local-live.ts): the producer writes
// its stream into a ring here as always, the main thread drains it and hands
// each chunk on (to another node's socket, to Redis, to a second ring), and
// on the consumer's side the main thread feeds the chunks into the ring its
// consumer reads. Both workers run exactly the code of a local live stream;
// the channel decides what lies between the two rings.
//
//   producer ──ring A──▶ LiveRingDrain ──(channel)──▶ LiveRingFeed ──ring B──▶ consumer
//
// Neither end blocks the main thread: every wait is an Atomics.waitAsync,
// and what a guest wrote into ring A is checked (frame magic, sequence,
// lengths, the END total) before any of it is passed on. Memory is bounded
// by the two rings and what the channel holds in between (each channel
// bounds its own: the Networked Buffer by its credit, see networked-live.ts).

import { CwasiError, asCwasiError } from '../errors.js';
import type { Heap } from '../memory/heap.js';
import {
  DESC, DESC_BYTES, END_BYTES, FRAME_DATA, FRAME_DESC, FRAME_END, FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_TYPE_MASK, LIVE_AUX, Ring, STATE_OPEN, type WaitOutcome,
} from '../ring/ring.js';
import { streamChunkBytes } from './local.js';
import type { RingPools } from '../ring/pools.js';
import type { EdgeContext, Transfer } from './channel.js';
import type { InputSpec, OutputSpec } from '../specs.js';

/**
 * A failure of the carrying itself (a peer lost, a frame that does not check
 * out), as opposed to one that follows from a side that gave up (E_CHANNEL:
 * a producer that failed, a consumer that stopped reading), the deadline or
 * an abort, each reported where it happened.
 */
export function carryingFailed(err: CwasiError): boolean {
  return err.code !== 'E_CHANNEL' && err.code !== 'E_TIMEOUT' && err.code !== 'E_ABORTED';
}

/** The largest piece a drain hands on at once (a DESC remainder goes in pieces this size). */
export const DRAIN_PIECE_BYTES = 1024 * 1024;

function lost(what: string, outcome: WaitOutcome): CwasiError {
  if (outcome === 'timeout') return new CwasiError('E_TIMEOUT', `${what}: deadline passed`);
  return new CwasiError('E_CHANNEL', `${what}: the stream was ${outcome === 'aborted' ? 'aborted' : 'closed without its end'}`);
}

/**
 * Reads a live stream out of the ring its producer writes, on the main
 * thread, and hands it on piece by piece, as fast as the channel takes them.
 */
export class LiveRingDrain {
  readonly ring: Ring;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private readonly small = new Uint8Array(Math.max(DESC_BYTES, END_BYTES));
  private seq = 0;

  /** `producerHeap`: the producer's memory (a DESC frame names a remainder kept there). */
  constructor(buffer: SharedArrayBuffer, private readonly producerHeap: () => Heap | undefined, private readonly generation: number, private readonly deadline: number, private readonly signal?: AbortSignal) {
    this.ring = new Ring(buffer);
    // Woken per quarter ring, as a worker reading a live stream is (local-live.ts).
    this.ring.batchBytes = this.ring.capacity >> 2;
  }

  /**
   * Tell the producer its stream is being read (the channel calls this once
   * the consumer at the far end reads): it then waits for room however long
   * the consumer takes. Until then a producer whose ring stays full keeps
   * the rest of its stream in its memory (LIVE_ATTACH_MS, local-live.ts) and
   * names it in a DESC frame, so a consumer that has no worker yet never
   * holds its producer's worker.
   */
  attach(): void {
    this.ring.attachConsumer();
  }

  /**
   * Hand every piece to `send` in order (a view into the ring or the
   * producer's memory, valid until the promise `send` returns settles);
   * resolves with the stream's length once its END arrived and checked out.
   * Rejects with a typed error when the producer gave up, the deadline
   * passed, the signal fired, `send` failed, or a frame does not check out
   * (the ring is then aborted, so the producer stops too).
   */
  async pump(send: (piece: Uint8Array) => void | Promise<void>): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const h = await this.readHeader();
        if (h.type === FRAME_DATA) {
          let left = h.length;
          while (left > 0) {
            let view = this.ring.peek(left);
            if (view.length === 0) {
              const o = await this.ring.waitDataAsync(this.deadline, this.signal);
              if (o !== 'ok') throw lost('live stream drain', o);
              view = this.ring.peek(left);
            }
            await send(view);
            this.ring.consume(view.length);
            left -= view.length;
            total += view.length;
          }
        } else if (h.type === FRAME_DESC) {
          if (h.length !== DESC_BYTES) throw this.bad(`a DESC frame of ${h.length} bytes`);
          const d = await this.readSmall(DESC_BYTES);
          const dv = new DataView(d.buffer, 0, DESC_BYTES);
          const source = dv.getUint32(DESC.SOURCE, true);
          const gen = dv.getUint32(DESC.GENERATION, true);
          const ptr = dv.getUint32(DESC.PTR, true);
          const len = dv.getUint32(DESC.LEN, true);
          const heap = this.producerHeap();
          if (source !== 0 || heap === undefined || gen !== this.generation || heap.generation !== gen || !heap.inBounds(ptr, len)) {
            throw this.bad(`a descriptor [${ptr}, +${len}) of source ${source}, generation ${gen} that does not check out`);
          }
          for (let off = 0; off < len; off += DRAIN_PIECE_BYTES) {
            const n = Math.min(DRAIN_PIECE_BYTES, len - off);
            // The producer's task keeps these bytes until its transfer finished.
            await send(heap.bytes().subarray(ptr + off, ptr + off + n));
            total += n;
          }
        } else if (h.type === FRAME_END) {
          if (h.length !== END_BYTES) throw this.bad(`an END frame of ${h.length} bytes`);
          const e = await this.readSmall(END_BYTES);
          const dv = new DataView(e.buffer, 0, END_BYTES);
          const declared = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
          if (declared !== total) throw this.bad(`an END frame saying ${declared} bytes after ${total}`);
          return total;
        } else {
          throw this.bad(`a frame of type ${h.type}`);
        }
      }
    } catch (err) {
      this.ring.abort();
      throw err;
    }
  }

  private async readHeader(): Promise<{ type: number; length: number }> {
    const r = await this.ring.readAsync(this.header, this.deadline, this.signal);
    if (r.outcome !== 'ok') throw lost('live stream drain', r.outcome);
    const dv = new DataView(this.header.buffer);
    const word = dv.getUint32(0, true);
    if ((word & ~FRAME_TYPE_MASK) >>> 0 !== FRAME_MAGIC) throw this.bad(`a frame with a bad magic (0x${word.toString(16)})`);
    const seq = dv.getUint32(8, true);
    if (seq !== this.seq) throw this.bad(`frame ${seq} where ${this.seq} was due`);
    this.seq = (this.seq + 1) >>> 0;
    if (dv.getUint32(12, true) !== LIVE_AUX) throw this.bad('a frame of a whole message in a live stream');
    return { type: word & FRAME_TYPE_MASK, length: dv.getUint32(4, true) };
  }

  private async readSmall(n: number): Promise<Uint8Array> {
    const b = this.small.subarray(0, n);
    const r = await this.ring.readAsync(b, this.deadline, this.signal);
    if (r.outcome !== 'ok') throw lost('live stream drain', r.outcome);
    return this.small;
  }

  private bad(what: string): CwasiError {
    this.ring.abort();
    return new CwasiError('E_BAD_DESCRIPTOR', `live stream: ${what}`);
  }
}

/**
 * Writes a live stream into the ring its consumer reads, on the main thread:
 * DATA frames of at most a quarter of the ring, then the END frame with the
 * total. `write` waits (asynchronously) for room; `tryWrite` takes what fits
 * now and never waits.
 */
export class LiveRingFeed {
  readonly ring: Ring;
  private readonly chunk: number;
  private readonly end8 = new Uint8Array(END_BYTES);
  /** Bytes written into the ring so far. */
  written = 0;

  constructor(buffer: SharedArrayBuffer, private readonly deadline: number, readonly signal?: AbortSignal) {
    this.ring = new Ring(buffer);
    this.chunk = Math.max(1, streamChunkBytes(this.ring.capacity) - FRAME_HEADER_BYTES - END_BYTES);
  }

  /** Write what fits now, in whole frames; returns the bytes taken (0 when the ring is full or aborted). */
  tryWrite(src: Uint8Array): number {
    if (this.ring.state !== STATE_OPEN) return 0;
    let off = 0;
    while (off < src.length) {
      const room = this.ring.space() - FRAME_HEADER_BYTES - (FRAME_HEADER_BYTES + END_BYTES);
      const n = Math.min(this.chunk, src.length - off, room);
      if (n <= 0) break;
      this.ring.writeFrame(FRAME_DATA, LIVE_AUX, src.subarray(off, off + n));
      off += n;
    }
    this.written += off;
    return off;
  }

  /**
   * A place in the ring for up to `max` bytes read straight into it (a
   * socket read), keeping room for the END frame; null when there is none.
   * `commit` publishes what landed there as a DATA frame.
   */
  view(max: number): Uint8Array | null {
    if (this.ring.state !== STATE_OPEN) return null;
    return this.ring.reserveFrame(Math.min(max, this.chunk, this.ring.space() - 2 * FRAME_HEADER_BYTES - END_BYTES));
  }

  commit(n: number): void {
    this.ring.commitFrame(FRAME_DATA, LIVE_AUX, n);
    this.written += n;
  }

  /** Write all of `src`, waiting for room. */
  async write(src: Uint8Array): Promise<void> {
    let off = this.tryWrite(src);
    while (off < src.length) {
      const n = Math.min(this.chunk, src.length - off);
      await this.room(FRAME_HEADER_BYTES + n + FRAME_HEADER_BYTES + END_BYTES);
      off += this.tryWrite(src.subarray(off, off + n));
    }
  }

  /** The stream ended after `total` bytes: write the END frame (the consumer checks the total). */
  async end(total: number): Promise<void> {
    if (total !== this.written) throw new CwasiError('E_CHANNEL', `live stream feed: ending at ${total} bytes after writing ${this.written}`);
    await this.room(FRAME_HEADER_BYTES + END_BYTES);
    const dv = new DataView(this.end8.buffer);
    dv.setUint32(0, total >>> 0, true);
    dv.setUint32(4, Math.floor(total / 2 ** 32), true);
    this.ring.writeFrame(FRAME_END, LIVE_AUX, this.end8, true);
  }

  abort(): void {
    this.ring.abort();
  }

  private async room(bytes: number): Promise<void> {
    const o = await this.ring.waitSpaceAsync(bytes, this.deadline, this.signal);
    if (o !== 'ok') throw lost('live stream feed', o);
  }
}

/**
 * What lies between the drain and the feed of a bridged live edge on this
 * node: carry the stream from `drain` to `feed` and end it there. Call
 * `drain.attach()` once the consumer reads (`feed.ring.consumerAttached`).
 */
export type LiveCarry = (drain: LiveRingDrain, feed: LiveRingFeed, signal: AbortSignal) => Promise<void>;

/**
 * A live edge whose two ends run on this node, bridged through the main
 * thread by `carry` (copy: straight from ring to ring; remote-kv: through
 * chunk keys in Redis). The producer writes ring A, the consumer reads ring
 * B, both exactly as in a local live stream. A failure of the carrying
 * itself (Redis down, a frame that does not check out) is the edge's
 * (`edge.onBroken`); a producer that gave up or a consumer that stopped
 * reading is reported by that side.
 */
export function openBridgedLive(pools: RingPools, edge: EdgeContext, carry: LiveCarry): Transfer {
  const window = edge.windowBytes === undefined ? pools.streamRingBytes : 2 ** Math.ceil(Math.log2(edge.windowBytes));
  const outPool = pools.forEdge(edge.from, `${edge.to}\u0000out`, window);
  const inPool = pools.forEdge(`${edge.from}\u0000in`, edge.to, window);
  const a = outPool.acquire();
  const b = inPool.acquire();
  const stop = new AbortController();
  const producer = edge.producerGroup;
  const drain = new LiveRingDrain(a.ring.buffer, () => producer.heap, producer.generation, edge.deadline, stop.signal);
  const feed = new LiveRingFeed(b.ring.buffer, edge.deadline, stop.signal);
  let clean = false;
  const carried = carry(drain, feed, stop.signal).then(() => {
    clean = true;
  }, (err: unknown) => {
    // The producer's own failure (it aborted its ring) and the consumer's early return are reported by them.
    const e = asCwasiError(err, 'E_CHANNEL');
    if (!stop.signal.aborted && carryingFailed(e)) edge.onBroken?.(e);
    a.ring.abort();
    b.ring.abort();
  });
  const spec: InputSpec = { kind: 'ring', ringId: b.id, sources: [], live: true };
  let returned = false;
  return {
    prepareOutput(output: OutputSpec, consumerStartsEarly: boolean): void {
      output.keep = true;
      // The producer waits for a consumer launched beside it, never for one that is not.
      (output.rings ??= []).push({ ringId: a.id, stream: true, live: true, consumerStarting: consumerStartsEarly });
    },
    earlyInput: () => spec,
    inputFor: () => spec,
    finish(ok: boolean): void {
      if (returned) return;
      returned = true;
      if (!ok) stop.abort();
      // Rings go back once the carrying settled (it reads them until then).
      void carried.then(() => {
        outPool.giveBack(a, ok && clean);
        inPool.giveBack(b, ok && clean);
      });
    },
  };
}
