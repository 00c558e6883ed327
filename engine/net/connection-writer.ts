// The sending half of a connection: control frames, and the DATA pump that
// takes the outgoing streams' chunks to the socket.
//
// Frames of all streams on a connection go through one pump that takes one
// frame (≤ MAX_DATA_PAYLOAD) per stream in turn and stops while
// `socket.write()` reports a full queue, until 'drain': a connection never
// holds more than WRITE_HIGH_WATER + MAX_DATA_PAYLOAD bytes of DATA that the
// kernel has not taken. Each DATA frame is a pooled 16-byte header and a
// view of the caller's chunk, corked into one writev; a chunk's promise
// resolves from the write callback of its last frame (the kernel has the
// bytes). A stream that has used its credit leaves the turn until a CREDIT
// raises it (OutgoingStream.onCredit schedules it again), so it never holds
// the pump. Control frames (OPEN, END, ABORT, CREDIT, PING, PONG) are written
// at once, bounded by MAX_WRITE_BACKLOG.

import type net from 'node:net';
import type { CwasiError } from '../errors.js';
import { encodeHeader } from './frames.js';
import { netError } from './helpers.js';
import { MAX_WRITE_BACKLOG, WRITE_HIGH_WATER, type Counters } from './options.js';
import type { OutgoingStream } from './outgoing-stream.js';
import { FLAG_END_OF_STREAM, FRAME_HEADER_BYTES, FRAME_TYPE, MAX_DATA_PAYLOAD } from './protocol.js';

/** What the writer needs from its connection. */
export interface WriterHost {
  /** The connection's failure, once it failed (nothing is written after it). */
  readonly failure: CwasiError | null;
  readonly counters: Counters;
  noteQueued(bytes: number): void;
  describe(): string;
  details(reason: string): Record<string, unknown>;
  fail(err: CwasiError): void;
}

export class ConnectionWriter {
  private readonly host: WriterHost;
  private socket: net.Socket | null = null;
  private readonly sendQueue: OutgoingStream[] = [];
  private writeBlocked = false;
  private writableWaiters: Array<() => void> = [];
  lastSendAt = Date.now();

  constructor(host: WriterHost) {
    this.host = host;
  }

  attach(socket: net.Socket): void {
    this.socket = socket;
    socket.on('drain', () => this.onDrain());
  }

  /** Bytes the socket has not handed to the kernel yet. */
  get queuedBytes(): number {
    return this.socket?.writableLength ?? 0;
  }

  /** Queue a control frame. Bound: MAX_WRITE_BACKLOG caps what a peer that does not read can make us hold. */
  writeFrame(frame: Buffer): void {
    const sock = this.socket;
    if (sock === null || this.host.failure !== null) return;
    if (sock.writableLength > MAX_WRITE_BACKLOG) {
      this.host.fail(netError(`${this.host.describe()} is not reading (${sock.writableLength} bytes queued)`, this.host.details('backlog')));
      return;
    }
    sock.write(frame);
    this.lastSendAt = Date.now();
    this.host.counters.bytesSent += frame.length;
    this.host.noteQueued(sock.writableLength);
  }

  /** Resolves when the socket queue is below its high-water mark (OPEN frames wait here: they are the caller's traffic). */
  whenWritable(): Promise<void> {
    if (!this.writeBlocked && (this.socket?.writableLength ?? 0) < WRITE_HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /** A stream has a new chunk to send. */
  schedule(s: OutgoingStream): void {
    if (!s.scheduled) {
      s.scheduled = true;
      this.sendQueue.push(s);
    }
    if (!this.writeBlocked) this.pump();
  }

  /** Take a stream out of the pump's turn (it failed). */
  drop(s: OutgoingStream): void {
    const i = this.sendQueue.indexOf(s);
    if (i >= 0) this.sendQueue.splice(i, 1);
    s.scheduled = false;
  }

  /** The connection failed: nothing more is sent; wake openers waiting for room (they see the failure). */
  stop(): void {
    this.sendQueue.length = 0;
    for (const wake of this.writableWaiters.splice(0)) wake();
  }

  /** Write DATA frames, one per stream in turn, until the socket reports a full queue. */
  private pump(): void {
    const sock = this.socket;
    if (sock === null) return;
    while (!this.writeBlocked && this.sendQueue.length > 0 && this.host.failure === null) {
      const s = this.sendQueue.shift()!;
      const job = s.jobs[0];
      if (job?.eos === true && s.active) {
        // An open-ended stream ended: an empty DATA frame marks its end (it needs no credit).
        s.jobs.shift();
        s.scheduled = false;
        if (!sock.write(encodeHeader(FRAME_TYPE.DATA, FLAG_END_OF_STREAM, s.id, 0))) this.writeBlocked = true;
        this.host.counters.bytesSent += FRAME_HEADER_BYTES;
        continue;
      }
      // Out of credit: leave the turn; the peer's CREDIT schedules the stream again.
      if (job === undefined || !s.active || s.sent >= s.allowed) {
        s.scheduled = false;
        continue;
      }
      // Bound: the chunk must still be as long as when it was written (a non-shared
      // WebAssembly memory that grows detaches its old buffer, and views of it read as empty).
      if (job.buf.length !== job.length) {
        s.scheduled = false;
        s.abort('E_BAD_DESCRIPTOR', `stream ${s.id} to ${this.host.describe()}: a chunk's buffer was detached before write() resolved`);
        continue;
      }
      // Bound: a frame never carries bytes past the stream's credit.
      const n = Math.min(MAX_DATA_PAYLOAD, job.buf.length - job.off, s.allowed - s.sent);
      s.sent += n;
      const header = encodeHeader(FRAME_TYPE.DATA, !s.openEnded && s.sent === s.totalBytes ? FLAG_END_OF_STREAM : 0, s.id, n);
      const payload = job.buf.subarray(job.off, job.off + n);
      job.off += n;
      const last = job.off === job.buf.length;
      if (last) s.jobs.shift();
      sock.cork();
      sock.write(header);
      const ok = sock.write(payload, last ? (err) => (err ? job.reject(this.host.failure ?? netError(`write to ${this.host.describe()} failed: ${err.message}`, this.host.details('write'), err)) : job.resolve()) : undefined);
      sock.uncork();
      this.lastSendAt = Date.now();
      this.host.counters.bytesSent += FRAME_HEADER_BYTES + n;
      this.host.noteQueued(sock.writableLength);
      if (s.jobs.length > 0 && (s.sent < s.allowed || s.jobs[0]!.eos === true)) this.sendQueue.push(s);
      else s.scheduled = false;
      // Bound: stop at the high-water mark; 'drain' resumes.
      if (!ok) this.writeBlocked = true;
    }
  }

  private onDrain(): void {
    this.writeBlocked = false;
    this.pump();
    if (!this.writeBlocked) for (const wake of this.writableWaiters.splice(0)) wake();
  }
}
