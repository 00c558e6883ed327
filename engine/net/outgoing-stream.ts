// The sending end of a Networked Buffer stream.
//
// WRITING. `write(chunk)` never copies the caller's bytes in JS: each DATA
// frame is a 16-byte header plus a Buffer *view* of the chunk (a
// SharedArrayBuffer or WebAssembly.Memory view is fine), handed to the socket
// in one writev; the kernel copies. The caller must keep the bytes unchanged
// until write() resolves, which happens when the socket has handed the
// chunk's last frame to the kernel. The stream only queues its chunks
// (`jobs`); the connection's writer (connection-writer.ts) frames and sends
// them, one frame per stream in turn, never past the stream's credit
// (`allowed`: STREAM_INITIAL_WINDOW from OPEN, raised by the receiver's CREDIT
// once its consumer claimed the stream; see FLOW CONTROL in protocol.ts). A
// stream out of credit waits without holding up the others.

import { CwasiError, type ErrorCode } from '../errors.js';
import { deferred, type Settle } from './helpers.js';
import { MAX_TOTAL_BYTES, STREAM_INITIAL_WINDOW, type StreamMeta } from './protocol.js';
import type { StreamLink } from './stream-link.js';

export interface WriteJob extends Settle {
  /** A view of the caller's chunk (never a copy). */
  buf: Buffer;
  /** Its length when written: a view whose buffer was detached meanwhile reads as length 0. */
  length: number;
  /** Bytes of `buf` already framed. */
  off: number;
  settled: boolean;
  /** The empty last job of an open-ended stream: its frame carries END_OF_STREAM. */
  eos?: boolean;
}

/** The sending end of a stream (from `openStream`). */
export class OutgoingStream {
  readonly id: number;
  readonly peer: string;
  readonly meta: StreamMeta;
  /** The declared length; MAX_TOTAL_BYTES for an open-ended stream (its length is bytesWritten once ended). */
  readonly totalBytes: number;
  /** Opened without a length (protocol.ts, OPEN-ENDED STREAMS). */
  readonly openEnded: boolean;
  private readonly link: StreamLink;
  /** Bytes accepted by write() so far. */
  private queued = 0;
  /** @internal Bytes put in DATA frames so far. */ sent = 0;
  /** @internal Chunks waiting for the pump, oldest first. */ readonly jobs: WriteJob[] = [];
  /** @internal In the connection's send queue. */ scheduled = false;
  /** @internal The credit limit: DATA may carry bytes [0, allowed) of the stream. */ allowed: number;
  private state: 'open' | 'ended' | 'delivered' | 'failed' = 'open';
  private error: CwasiError | null = null;
  private readonly deliveredAt = deferred();

  /** @internal */
  constructor(link: StreamLink, id: number, meta: StreamMeta, totalBytes: number | null) {
    this.link = link;
    this.id = id;
    this.peer = link.peer;
    this.meta = meta;
    this.openEnded = totalBytes === null;
    this.totalBytes = totalBytes ?? MAX_TOTAL_BYTES;
    this.allowed = Math.min(this.totalBytes, STREAM_INITIAL_WINDOW);
  }

  /** The bytes the peer must acknowledge with END: the declared length, or (open-ended) what was written once ended. */
  get finalBytes(): number | undefined {
    return this.openEnded ? (this.state === 'open' ? undefined : this.queued) : this.totalBytes;
  }

  /** Bytes accepted by write() so far. */
  get bytesWritten(): number {
    return this.queued;
  }

  /**
   * Settles with the stream: resolves when the peer acknowledged every byte,
   * rejects as soon as the stream fails (the peer aborted it, the connection
   * failed, or it was aborted here). A producer can watch it to stop early.
   */
  get delivered(): Promise<void> {
    return this.deliveredAt.promise;
  }

  /** @internal Still sending or waiting for the peer's acknowledgement. */
  get active(): boolean {
    return this.state === 'open' || this.state === 'ended';
  }

  /**
   * Send the next bytes of the stream. Resolves when the socket handed the
   * chunk's last byte to the kernel; until then the caller must not change
   * `chunk` (it is sent from the caller's memory, not copied).
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.error !== null) return Promise.reject(this.error);
    if (this.state !== 'open') return Promise.reject(new CwasiError('E_CLOSED', `stream ${this.id} to ${this.peer}: write() after end()`));
    if (!(chunk instanceof Uint8Array)) return Promise.reject(new CwasiError('E_CONFIG', 'write() takes a Uint8Array'));
    // Bound: a stream never sends more than the totalBytes it declared.
    if (this.queued + chunk.length > this.totalBytes) {
      const err = new CwasiError('E_BAD_DESCRIPTOR', `stream ${this.id} to ${this.peer}: writing ${chunk.length} bytes at ${this.queued} exceeds its declared ${this.totalBytes}`);
      this.abort(err.code, err.message);
      return Promise.reject(err);
    }
    if (chunk.length === 0) return Promise.resolve();
    this.queued += chunk.length;
    const done = deferred();
    const job: WriteJob = {
      buf: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      length: chunk.byteLength,
      off: 0,
      settled: false,
      resolve: () => {
        if (!job.settled) {
          job.settled = true;
          done.resolve();
        }
      },
      reject: (err) => {
        if (!job.settled) {
          job.settled = true;
          done.reject(err);
        }
      },
    };
    this.jobs.push(job);
    this.link.schedule(this);
    return done.promise;
  }

  /**
   * Finish the stream: every declared byte must have been written (an
   * open-ended stream ends where its writes ended). Resolves
   * when the peer acknowledged that all bytes landed in its consumer's
   * buffer; rejects with the peer's code when it aborted, E_NET when the
   * connection failed first.
   */
  end(): Promise<void> {
    if (this.error !== null) return Promise.reject(this.error);
    if (this.state === 'open' && this.openEnded) {
      // The length is what was written: an empty frame marked END_OF_STREAM follows the last chunk.
      this.state = 'ended';
      this.jobs.push({ buf: Buffer.alloc(0), length: 0, off: 0, settled: false, eos: true, resolve() {}, reject() {} });
      this.link.schedule(this);
    } else if (this.state === 'open') {
      if (this.queued !== this.totalBytes) {
        const err = new CwasiError('E_BAD_DESCRIPTOR', `stream ${this.id} to ${this.peer}: end() after ${this.queued} of ${this.totalBytes} bytes`);
        this.abort(err.code, err.message);
        return Promise.reject(err);
      }
      this.state = 'ended';
    }
    return this.deliveredAt.promise;
  }

  /** Give up on the stream: pending writes and end() reject with `code`, and the peer's receiveInto rejects with it too. */
  abort(code: ErrorCode = 'E_ABORTED', message = 'stream aborted by the sender'): void {
    if (!this.active) return;
    const err = new CwasiError(code, message, { streamId: this.id, peer: this.peer });
    this.link.sendAbort(this.id, err);
    this.fail(err);
  }

  /** @internal The peer raised the credit limit (checked by the connection: it grows, ≤ totalBytes). */
  onCredit(limit: number): void {
    if (!this.active || limit <= this.allowed) return;
    this.allowed = limit;
    if (this.jobs.length > 0) this.link.schedule(this);
  }

  /** @internal The peer acknowledged every byte. */
  onDelivered(): void {
    if (!this.active) return;
    this.state = 'delivered';
    this.link.streamClosed('out', this.id, true);
    this.deliveredAt.resolve();
  }

  /** @internal The stream failed (peer abort, connection failure, local abort). */
  fail(err: CwasiError): void {
    if (!this.active) return;
    this.state = 'failed';
    this.error = err;
    this.link.streamClosed('out', this.id, false);
    for (const job of this.jobs.splice(0)) job.reject(err);
    this.deliveredAt.reject(err);
  }
}
