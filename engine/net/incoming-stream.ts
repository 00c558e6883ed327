// The receiving end of a Networked Buffer stream.
//
// OWNERSHIP OF A DESTINATION. `receiveInto(dest)` lends `dest` to the
// transport until the returned promise settles; a socket read may be
// targeted at it until then (connection-reader.ts). When a stream fails while
// such a read is pending (the consumer aborted), the promise settles only
// after that read returned, or after the socket closed, so no byte lands in
// `dest` after it is handed back. Bytes beyond `totalBytes` never reach
// `dest`: every DATA frame is checked against the stream's remaining length
// before any of its payload is used.
//
// Bytes that arrive before receiveInto are copied aside here (the only
// allocating receive path) and counted against the connection's
// maxBufferedBytes through the StreamLink. The sender may send only
// STREAM_INITIAL_WINDOW of them before the consumer claims the stream:
// receiveInto grants the rest with one CREDIT (the bytes then land in `dest`
// directly, so they need no buffer here). FLOW CONTROL in protocol.ts.

import { CwasiError, type ErrorCode } from '../errors.js';
import { deferred } from './helpers.js';
import { STREAM_INITIAL_WINDOW, type StreamMeta } from './protocol.js';
import type { StreamLink } from './stream-link.js';
import { copyInto } from '../memory/copy.js';

/** The receiving end of a stream (from the transport's 'stream' event). */
export class IncomingStream {
  readonly id: number;
  /** The sending node's authenticated name. */
  readonly peer: string;
  readonly meta: StreamMeta;
  /** The declared length; MAX_TOTAL_BYTES for an open-ended stream. */
  readonly totalBytes: number;
  /** Opened without a length: read with receiveChunks (protocol.ts, OPEN-ENDED STREAMS). */
  readonly openEnded: boolean;
  /** @internal An open-ended stream's END_OF_STREAM arrived: `received` is its length. */ endSeen = false;
  /** The consumer of an open-ended stream (receiveChunks). */
  private onChunk: ((bytes: Uint8Array) => void) | null = null;
  /** Where its bytes may be read straight to, when the consumer offers a place (receiveChunks). */
  private direct: DirectChunks | null = null;
  private readonly link: StreamLink;
  /** @internal Bytes of the stream received so far (landed in dest, or buffered). */ received = 0;
  /** @internal The consumer's buffer, once receiveInto was called. */ dest: Uint8Array | null = null;
  /** Bytes that arrived before receiveInto, in order (copies). */
  private buffered: Uint8Array[] = [];
  /** @internal Total of `buffered`. */ bufferedBytes = 0;
  /** @internal The credit granted to the sender: DATA may carry bytes [0, creditLimit). */ creditLimit: number;
  private state: 'open' | 'done' | 'failed' = 'open';
  private error: CwasiError | null = null;
  private readonly landed = deferred();
  /** A failure waiting for a read targeted at `dest` to return before it is reported. */
  private settleAfterRead = false;
  /** Called once when at most `bytes` of the stream are left to land (whenRemaining). */
  private remaining: { bytes: number; then: () => void } | undefined;

  /** @internal */
  constructor(link: StreamLink, id: number, meta: StreamMeta, totalBytes: number, openEnded = false) {
    this.link = link;
    this.id = id;
    this.peer = link.peer;
    this.meta = meta;
    this.totalBytes = totalBytes;
    this.openEnded = openEnded;
    this.creditLimit = Math.min(totalBytes, STREAM_INITIAL_WINDOW);
  }

  /** Bytes received so far. */
  get bytesReceived(): number {
    return this.received;
  }

  /** @internal */
  get active(): boolean {
    return this.state === 'open';
  }

  /**
   * Receive the whole stream into `dest[0, totalBytes)`. `dest` may be a
   * view of a SharedArrayBuffer or a WebAssembly memory; it belongs to the
   * transport until the promise settles. Resolves when every byte landed;
   * rejects with the sender's code when it aborted, E_NET when the
   * connection failed, E_BAD_DESCRIPTOR when `dest` is too small.
   */
  receiveInto(dest: Uint8Array): Promise<void> {
    if (this.dest !== null || this.onChunk !== null) return Promise.reject(new CwasiError('E_INTERNAL', `stream ${this.id} from ${this.peer}: received twice`));
    if (this.openEnded) return Promise.reject(new CwasiError('E_INTERNAL', `stream ${this.id} from ${this.peer} is open-ended: use receiveChunks()`));
    if (this.error !== null) return Promise.reject(this.error);
    if (!(dest instanceof Uint8Array)) return Promise.reject(new CwasiError('E_CONFIG', 'receiveInto() takes a Uint8Array'));
    // Bound: the destination must hold every declared byte before any byte is placed in it.
    if (dest.length < this.totalBytes) {
      return Promise.reject(new CwasiError('E_BAD_DESCRIPTOR', `stream ${this.id} from ${this.peer}: a ${dest.length}-byte destination cannot hold ${this.totalBytes} bytes`));
    }
    this.dest = dest;
    let at = 0;
    for (const chunk of this.buffered) {
      copyInto(dest, at, chunk);
      at += chunk.length;
    }
    this.buffered = [];
    this.link.releaseBuffered(this.bufferedBytes);
    this.bufferedBytes = 0;
    if (this.received === this.totalBytes) this.complete();
    else if (this.creditLimit < this.totalBytes) {
      // Everything else has a place now: let the sender finish.
      this.creditLimit = this.totalBytes;
      this.link.sendCredit(this.id, this.totalBytes);
    }
    return this.landed.promise;
  }

  /**
   * Receive an open-ended stream chunk by chunk: `onChunk` gets each piece
   * as it arrives, as a view valid only during the call (copy what you
   * keep). Bytes that arrived before are handed over first. Resolves with
   * the stream's length once its END_OF_STREAM arrived (END is then sent);
   * rejects like receiveInto. The sender may send only up to the credit:
   * raise it with `grant` as the bytes are taken.
   */
  receiveChunks(onChunk: (bytes: Uint8Array) => void, direct?: DirectChunks): Promise<number> {
    if (this.dest !== null || this.onChunk !== null) return Promise.reject(new CwasiError('E_INTERNAL', `stream ${this.id} from ${this.peer}: received twice`));
    if (!this.openEnded) return Promise.reject(new CwasiError('E_INTERNAL', `stream ${this.id} from ${this.peer} has a length: use receiveInto()`));
    if (this.error !== null) return Promise.reject(this.error);
    this.onChunk = onChunk;
    this.direct = direct ?? null;
    const early = this.buffered;
    this.buffered = [];
    this.link.releaseBuffered(this.bufferedBytes);
    this.bufferedBytes = 0;
    try {
      for (const chunk of early) onChunk(chunk);
    } catch (err) {
      this.abort('E_INTERNAL', `the chunk consumer threw: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (this.endSeen) this.complete();
    return this.landed.promise.then(() => this.received);
  }

  /** Let the sender of an open-ended stream send bytes [0, limit) (only ever raised). */
  grant(limit: number): void {
    if (!this.active || limit <= this.creditLimit) return;
    this.creditLimit = Math.min(limit, this.totalBytes);
    this.link.sendCredit(this.id, this.creditLimit);
  }

  /** Give up on the stream: receiveInto rejects with `code`, and the sender's writes and end() reject with it too. */
  abort(code: ErrorCode = 'E_ABORTED', message = 'stream aborted by the receiver'): void {
    if (!this.active) return;
    const err = new CwasiError(code, message, { streamId: this.id, peer: this.peer });
    this.link.sendAbort(this.id, err);
    this.fail(err);
  }

  /**
   * @internal Where the next socket read of up to `max` bytes of this
   * stream may land directly: the rest of `dest`, or a place the chunk
   * consumer offers; null: read into the connection's buffer. (Fails the
   * stream if `dest` was detached.)
   */
  directView(max: number): Uint8Array | null {
    if (this.state !== 'open') return null;
    if (this.openEnded) return this.direct === null || this.onChunk === null ? null : this.direct.view(max);
    if (this.dest === null || !this.destIntact()) return null;
    return this.dest.subarray(this.received, this.received + max);
  }

  /**
   * Bound: `dest` must still hold totalBytes. A view of a non-shared memory
   * that grew (its old buffer detached) reads as length 0: fail the stream
   * rather than write past it or read into an empty buffer.
   */
  private destIntact(): boolean {
    if (this.dest!.length >= this.totalBytes) return true;
    this.abort('E_BAD_DESCRIPTOR', `stream ${this.id} from ${this.peer}: the destination was detached while receiving (did a non-shared memory grow?)`);
    return false;
  }

  /**
   * Call `then` once at most `bytes` of the stream are left to land (at once
   * when that is so already), never after the stream failed or finished
   * otherwise: whoever waits for the rest may get ready meanwhile.
   */
  whenRemaining(bytes: number, then: () => void): void {
    this.remaining = { bytes, then };
    this.checkRemaining();
  }

  private checkRemaining(): void {
    const r = this.remaining;
    if (r === undefined || this.state !== 'open' || this.totalBytes - this.received > r.bytes) return;
    this.remaining = undefined;
    // The receiver's own callback: its failure is not the stream's (nor the connection's).
    try {
      r.then();
    } catch {
      // nothing to undo here
    }
  }

  /** @internal The next `n` bytes of the stream are these (a view valid only now). */
  accept(bytes: Uint8Array): void {
    if (this.state !== 'open') return;
    if (this.onChunk !== null) {
      this.onChunk(bytes);
    } else if (this.dest !== null) {
      if (!this.destIntact()) return;
      copyInto(this.dest, this.received, bytes);
    } else {
      // Allocates: the slow path for bytes that arrive before a destination (bounded by maxBufferedBytes).
      this.buffered.push(new Uint8Array(bytes)); // a copy (Buffer#slice would be a view of the read buffer)
      this.bufferedBytes += bytes.length;
      this.link.holdBuffered(bytes.length);
    }
    this.received += bytes.length;
    this.checkRemaining();
  }

  /** @internal A socket read targeted at `dest` returned `n` bytes (n may be 0 after a failure). */
  landedDirect(n: number): void {
    if (this.state === 'open') {
      this.received += n;
      this.checkRemaining();
      if (this.openEnded && n > 0) this.direct?.commit(n);
    }
    if (this.settleAfterRead) {
      this.settleAfterRead = false;
      this.landed.reject(this.error!);
    }
  }

  /** @internal Every byte arrived; resolve once they are all in `dest`. */
  complete(): void {
    if (this.state !== 'open') return;
    if (this.openEnded ? !this.endSeen || this.onChunk === null : this.dest === null || this.received !== this.totalBytes) return;
    this.state = 'done';
    this.link.streamClosed('in', this.id, true);
    this.link.sendEnd(this.id);
    this.landed.resolve();
  }

  /** @internal The stream failed. `readPending`: a socket read targeted at `dest` has not returned yet. */
  fail(err: CwasiError, readPending = this.link.readPendingInto(this)): void {
    if (!this.active) return;
    this.state = 'failed';
    this.error = err;
    this.link.streamClosed('in', this.id, false);
    if (this.bufferedBytes > 0) {
      this.buffered = [];
      this.link.releaseBuffered(this.bufferedBytes);
      this.bufferedBytes = 0;
    }
    // The destination is handed back only when no read can land in it any more.
    if (readPending) this.settleAfterRead = true;
    else this.landed.reject(err);
  }
}

/**
 * A chunk consumer's place for bytes of an open-ended stream (a live
 * stream's ring, channels/networked-live.ts): the connection reads socket
 * bytes straight into `view(max)` (at most `max`, which the frame being read
 * has left; null when there is no room) and then calls `commit(n)`, before
 * any other JavaScript runs, with what landed there.
 */
export interface DirectChunks {
  view(max: number): Uint8Array | null;
  commit(n: number): void;
}
