// The live form of the Networked Buffer: a streaming function's output goes
// to a streaming consumer on another node while it is written, as one
// open-ended stream (engine/net/protocol.ts, OPEN-ENDED STREAMS).
//
//   producer ─ring A─▶ drain (main thread) ─TCP─▶ feed (main thread) ─ring B─▶ consumer
//          producer's node                              consumer's node
//
// Sending: each piece the drain reads from ring A is written to the socket
// straight from the ring (the kernel copies it), and its room in the ring is
// freed once the socket took it. Receiving: the socket reads straight into
// ring B (DirectChunks: a frame's payload place, published once the read
// returned). The receiver's credit follows the ring's free room, so bytes
// normally find their place there; a chunk that arrives when the ring has no
// room (frame headers of short reads, a read across the ring's end) is copied
// to a queue, bounded by the credit: at most the ring's room when it was
// granted beyond what went into the ring. Memory on both nodes is the two
// rings; the only copies besides the kernel's are into and out of the two
// rings by the functions' workers.
//
// Attaching: the receiver grants no credit beyond the protocol's initial
// window until its consumer reads (attached to ring B); the sender tells its
// producer the stream is being read (drain.attach) only once credit beyond
// that initial window arrives. A consumer that cannot start (its node's
// pool is busy) thus never holds its producer's worker: the producer keeps
// the rest of its stream in its memory, as on one node (local-live.ts).

import { CwasiError, asCwasiError } from '../errors.js';
import type { IncomingStream, OutgoingStream } from '../net/transport.js';
import type { DirectChunks } from '../net/incoming-stream.js';
import { STREAM_INITIAL_WINDOW } from '../net/protocol.js';
import { LiveRingDrain, LiveRingFeed, carryingFailed } from './live-bridge.js';
import type { PooledRing, RingPool, RingPools } from '../ring/pools.js';
import type { EdgeContext, Transfer } from './channel.js';
import type { InputSpec, OutputSpec } from '../specs.js';

/**
 * The rings of a live edge between nodes when its producer sets no
 * `streamWindowBytes` (at least; `local.ringBytes` when larger): the bytes in
 * flight are bounded by the receiving ring's room, and each refill of it waits
 * for two main threads and a CREDIT frame, so a ring of 1 MiB held streams of
 * 16 MiB to about half the rate they reach with 4 MiB (2 cores, loopback).
 */
export const NETWORKED_LIVE_RING_BYTES = 4 * 2 ** 20;

/** The ring capacity of a live edge between nodes, on either node: its window rounded up to a power of two, or the default. */
export function networkedLiveRingBytes(streamRingBytes: number, windowBytes: number | undefined): number {
  return windowBytes === undefined ? Math.max(streamRingBytes, NETWORKED_LIVE_RING_BYTES) : 2 ** Math.ceil(Math.log2(windowBytes));
}

/** Pump the stream of `drain` into `out` and end it; resolves with its length once the receiver acknowledged every byte. */
export async function sendLive(out: OutgoingStream, drain: LiveRingDrain): Promise<number> {
  let attached = false;
  let total: number;
  try {
    total = await drain.pump(async (piece) => {
      await out.write(piece);
      if (!attached && out.allowed > STREAM_INITIAL_WINDOW) {
        attached = true;
        drain.attach();
      }
    });
  } catch (err) {
    // The receiver learns why: the producer gave up (E_CHANNEL, its own failure is reported by its run), or the carrying failed.
    const e = asCwasiError(err, 'E_CHANNEL');
    out.abort(e.code, `the live stream's producer side stopped: ${e.message}`);
    throw e;
  }
  await out.end();
  return total;
}

/**
 * Receive the open-ended stream `s` into `feed`'s ring (`window`: its
 * capacity), granting credit as the ring has room; ends the ring's stream (END frame, checked total) when
 * the sender ended. Rejects (and aborts the ring) when the stream fails;
 * aborts the stream when the consumer stopped reading.
 */
export function receiveLive(s: IncomingStream, feed: LiveRingFeed, window: number, deadline: number): Promise<number> {
  const queue: Uint8Array[] = [];
  let flushing: Promise<void> | undefined;
  let failure: CwasiError | undefined;
  const fail = (err: unknown): void => {
    if (failure !== undefined) return;
    failure = asCwasiError(err, 'E_CHANNEL');
    feed.abort();
    s.abort(failure.code, `the consumer's side stopped: ${failure.message}`);
  };
  // Credit follows the room in the ring, so that what the sender sends lands in the ring itself (DirectChunks) and is
  // not copied aside: at most the ring's free space beyond what went in, less a margin for the frame headers of short
  // reads. Raised in steps of a quarter ring (a CREDIT frame per socket read would cost more than the bytes); when the
  // ring has less room than that, `watchRoom` waits for the consumer to free it.
  const step = Math.max(1, window >> 2);
  const margin = Math.min(window >> 4, 64 * 1024);
  let granted = 0;
  let watchingRoom = false;
  const stopped = new AbortController();
  const roomSignal = feed.signal === undefined ? stopped.signal : AbortSignal.any([feed.signal, stopped.signal]);
  const creditLimit = (): number => feed.written + Math.max(0, feed.ring.space() - margin);
  const grant = (): void => {
    if (failure !== undefined) return;
    // Only once the consumer reads: before, the sender keeps to the initial window (whenReading grants on attach).
    if (!feed.ring.consumerAttached) {
      watchAttach();
      return;
    }
    const limit = creditLimit();
    if (limit - granted >= step) {
      granted = limit;
      s.grant(limit);
    } else if (!watchingRoom && flushing === undefined) {
      // (A flush grants after each chunk it writes, and waits on the ring itself: one waiter at a time.)
      watchingRoom = true;
      void watchRoom().catch(fail);
    }
  };
  // Bound: each turn raises the credit by a step or returns; it returns when the ring cannot hold a step more than
  // the sender may already send (bytes on their way go in first, and their arrival calls grant again). It clears
  // `watchingRoom` as it returns, not a microtask later, so that a grant() right after starts the next watch.
  const watchRoom = async (): Promise<void> => {
    try {
      while (failure === undefined && s.active && flushing === undefined) {
        const need = granted + step + margin - feed.written;
        if (need > feed.ring.capacity) return;
        const o = await feed.ring.waitSpaceAsync(need, deadline, roomSignal);
        if (o !== 'ok' || failure !== undefined) return;
        const limit = creditLimit();
        if (limit > granted) {
          granted = limit;
          s.grant(limit);
        }
      }
    } finally {
      watchingRoom = false;
    }
  };
  const flush = async (): Promise<void> => {
    // Bound: each turn writes the oldest queued chunk (waiting for room) or ends.
    while (queue.length > 0) {
      await feed.write(queue[0]!);
      queue.shift();
      grant();
    }
    flushing = undefined;
    grant();
  };
  // A consumer that starts after the initial window arrived: grant once it has read (it empties the ring).
  // Started by the first bytes, whichever way they came in (a socket read straight into the ring, a chunk, a flush).
  let watching = false;
  const watchAttach = (): void => {
    if (watching || failure !== undefined) return;
    watching = true;
    void whenReading().catch(fail);
  };
  const whenReading = async (): Promise<void> => {
    try {
      while (!feed.ring.consumerAttached && failure === undefined && s.active) {
        const o = await feed.ring.waitSpaceAsync(feed.ring.capacity, Number.MAX_SAFE_INTEGER, feed.signal);
        if (o !== 'ok') return;
        if (!feed.ring.consumerAttached) return; // empty and nobody attached: no bytes came yet, the next ones start it again
      }
    } finally {
      watching = false;
    }
    grant();
  };
  // The consumer's side ended (its task finished, perhaps before the end of the stream): stop the sender.
  feed.signal?.addEventListener('abort', () => fail(new CwasiError('E_CHANNEL', 'the consumer stopped reading')), { once: true });
  const direct: DirectChunks = {
    // Socket reads land in the ring itself while nothing waits in the queue (bytes stay in order).
    view: (max) => (queue.length === 0 && failure === undefined ? feed.view(max) : null),
    commit: (n) => {
      feed.commit(n);
      grant();
    },
  };
  const received = s.receiveChunks((bytes) => {
    if (failure !== undefined) return;
    const took = queue.length === 0 ? feed.tryWrite(bytes) : 0;
    if (took < bytes.length) {
      // Bound: the credit keeps this within the ring's room, granted beyond what the ring took.
      // A copy: `bytes` is a view of the socket's read buffer (Buffer#slice would be a view too).
      queue.push(new Uint8Array(bytes.subarray(took)));
      flushing ??= flush().catch(fail);
    }
    grant();
  }, direct);
  void received.then(() => stopped.abort(), () => stopped.abort());
  return received.then(async (total) => {
    await flushing;
    if (failure !== undefined) throw failure;
    await feed.end(total);
    return total;
  }, (err: unknown) => {
    const e = asCwasiError(err, 'E_NET');
    fail(e);
    throw e;
  }).catch((err: unknown) => {
    fail(err);
    throw err instanceof CwasiError ? err : asCwasiError(err, 'E_CHANNEL');
  });
}

/** What the live form needs from the cluster member (NetworkPeer). */
export interface LivePeer {
  readonly self: string;
  sendLive(node: string, transfer: string, drain: LiveRingDrain, deadline: number, traceparent?: string): Promise<void>;
  expectLive(transfer: string, from: string, feed: LiveRingFeed, windowBytes: number, deadline: number): Promise<number>;
  cancel(transfer: string, reason: string): void;
}

/**
 * A live edge between two nodes, as the coordinating node sees it: it runs
 * the producer's side (a ring here, streamed to the consumer's node), the
 * consumer's side (the stream received into a ring here), or neither (the
 * producer's node streams straight to the consumer's).
 */
export function openNetworkedLive(peer: LivePeer, pools: RingPools, edge: EdgeContext, transfer: string): Transfer {
  const self = peer.self;
  const from = edge.producerGroup.host;
  const to = edge.consumerGroup.host;
  const capacity = networkedLiveRingBytes(pools.streamRingBytes, edge.windowBytes);
  const window = edge.windowBytes !== undefined ? { windowBytes: edge.windowBytes } : {};
  const stop = new AbortController();
  let leg: { pool: RingPool; ring: PooledRing; done: Promise<unknown> } | undefined;
  let input: InputSpec = { kind: 'net', transfer, from, live: true, ...window };
  if (from === self || to === self) {
    const pool = pools.forEdge(edge.from, `${edge.to}\u0000net`, capacity);
    const ring = pool.acquire();
    let done: Promise<unknown>;
    if (from === self) {
      const producer = edge.producerGroup;
      const drain = new LiveRingDrain(ring.ring.buffer, () => producer.heap, producer.generation, edge.deadline, stop.signal);
      done = peer.sendLive(to, transfer, drain, edge.deadline, edge.traceparent);
    } else {
      done = peer.expectLive(transfer, from, new LiveRingFeed(ring.ring.buffer, edge.deadline, stop.signal), ring.ring.capacity, edge.deadline);
      input = { kind: 'ring', ringId: ring.id, sources: [], live: true };
    }
    done.catch((err: unknown) => {
      const e = asCwasiError(err, 'E_NET');
      if (!stop.signal.aborted && carryingFailed(e)) edge.onBroken?.(e);
      ring.ring.abort();
    });
    leg = { pool, ring, done };
  }
  let finished = false;
  return {
    prepareOutput(output: OutputSpec, consumerStartsEarly: boolean): void {
      if (from === self) {
        output.keep = true;
        // The producer waits for a consumer launched beside it, never for one that is not.
        (output.rings ??= []).push({ ringId: leg!.ring.id, stream: true, live: true, consumerStarting: consumerStartsEarly });
      } else {
        (output.net ??= []).push({ node: to, address: '', transfer, live: { consumerStarting: consumerStartsEarly, ...window } });
      }
    },
    earlyInput: () => input,
    inputFor: () => input,
    finish(ok: boolean): void {
      if (finished) return;
      finished = true;
      if (!ok) {
        stop.abort();
        peer.cancel(transfer, 'the invocation failed');
        leg?.ring.ring.abort();
      } else if (to === self) {
        // The consumer finished: a stream it did not read to its end is given up (the producer stops).
        stop.abort();
      }
      const l = leg;
      if (l !== undefined) void l.done.then(() => l.pool.giveBack(l.ring, ok), () => l.pool.giveBack(l.ring, false));
    },
  };
}
