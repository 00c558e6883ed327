// The receiving half of a connection: socket reads, the frame parser, and
// the placement of DATA payloads.
//
// READING. Plain TCP sockets read through node:net's `onread` with a buffer
// function called before every read. Inside a DATA payload whose consumer has
// called `receiveInto(dest)`, the read targets `dest` itself at the stream's
// current offset, sized to the bytes left in the frame, so the kernel copies
// the payload straight into the consumer's memory. While large DATA flows (a
// long frame or a live stream's frame just ended, or a long stream was opened), reads ask for exactly
// the next header or control payload, so the following payload lands in
// place too and a stream costs the kernel copy only. Everything else (the
// handshake, small frames, bytes of streams without a destination) lands in
// one reused read buffer. Sockets that cannot use `onread` (TLS, or an
// accepted socket that could not be re-created, see transport.ts) are read
// with 'data' events and payloads are copied from them.
//
// BACKPRESSURE. Per stream, by credit: a sender may send STREAM_INITIAL_WINDOW
// bytes of a stream before its consumer calls receiveInto, which grants the
// rest (protocol.ts, FLOW CONTROL); bytes that arrive before receiveInto are
// copied aside (incoming-stream.ts). A stream nobody claims therefore holds
// at most one window here and the connection keeps reading for the others.
// As a last resort, a connection holding more than `maxBufferedBytes` of such
// bytes (more than maxBufferedBytes / STREAM_INITIAL_WINDOW unclaimed streams
// at once, 32 by default) stops reading until a receiveInto or abort takes
// them; that, and only that, holds up the other streams on the connection.

import type net from 'node:net';
import { CwasiError } from '../errors.js';
import { FrameParser, type FrameHandler } from './frames.js';
import type { IncomingStream } from './incoming-stream.js';
import { EXACT_READS_MIN, HANDSHAKE_READ_BYTES, READ_BUFFER_BYTES, type Counters } from './options.js';
import { FLAG_END_OF_STREAM, FRAME_TYPE, MAX_CONTROL_PAYLOAD, PAYLOAD_LIMITS, type FrameHeader } from './protocol.js';

export type ReadMode = 'onread' | 'data';

/** What the reader needs from its connection. */
export interface ReaderHost {
  /** The connection's failure, once it failed (nothing more is parsed). */
  readonly failure: CwasiError | null;
  readonly authenticated: boolean;
  readonly peer: string;
  readonly role: 'client' | 'server';
  readonly counters: Counters;
  readonly maxBufferedBytes: number;
  /** A complete control frame (every type but DATA). */
  control(header: FrameHeader, payload: Uint8Array): void;
  /** The live incoming stream `id`; null for a stale id (its bytes are discarded); throws for an id never opened. */
  incomingFor(id: number): IncomingStream | null;
  /** The parser or a frame handler threw. */
  protocolFailure(err: unknown): void;
  noteBuffered(bytes: number): void;
  /** Reading paused at maxBufferedBytes (diagnostics). */
  notePaused(bufferedBytes: number): void;
}

export class ConnectionReader implements FrameHandler {
  private readonly host: ReaderHost;
  private socket: net.Socket | null = null;
  mode: ReadMode = 'onread';
  private readonly parser: FrameParser = new FrameParser(this);
  private readonly smallBuf = Buffer.allocUnsafe(HANDSHAKE_READ_BYTES);
  private readBuf: Buffer | null = null;
  /** The stream whose `dest` the pending socket read targets, if any. */
  directStream: IncomingStream | null = null;
  /** The stream of the DATA frame being parsed (null: its bytes are discarded). */
  private currentData: IncomingStream | null = null;
  private currentDataLength = 0;
  /** Large DATA is flowing: read exactly the next header or control payload (see EXACT_READS_MIN). */
  private exactReads = false;
  private readPaused = false;
  private inRead = false;
  private bufferedBytes = 0;
  lastReceiveAt = Date.now();

  readonly onread: net.OnReadOpts = {
    buffer: () => this.nextReadBuffer(),
    callback: (n: number, buf: Uint8Array) => this.onRead(n, buf),
  };

  constructor(host: ReaderHost) {
    this.host = host;
    // Bound: until authenticated, no control frame larger than a greeting is read.
    this.parser.controlLimit = PAYLOAD_LIMITS[FRAME_TYPE.HELLO].max;
  }

  attach(socket: net.Socket, mode: ReadMode): void {
    this.socket = socket;
    this.mode = mode;
    // With `onread` in effect node:net never emits 'data'. The listener is there for TLS, and as a
    // safety net should a Node version ignore `onread` on a re-created socket (onChunk notes it).
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
  }

  get buffered(): number {
    return this.bufferedBytes;
  }

  /** Not reading because maxBufferedBytes was reached. */
  get paused(): boolean {
    return this.readPaused;
  }

  /** The handshake succeeded: full-size reads and control frames from now on. */
  authenticated(): void {
    this.readBuf = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    this.parser.controlLimit = MAX_CONTROL_PAYLOAD;
    this.lastReceiveAt = Date.now();
  }

  /** A stream of `totalBytes` was opened: if long, read exactly the next header so its payload lands in place. */
  streamOpened(totalBytes: number): void {
    if (totalBytes >= EXACT_READS_MIN && this.mode === 'onread') this.exactReads = true;
  }

  /** A stream was aborted: discard the rest of a DATA frame of it being parsed. */
  streamGone(s: IncomingStream): void {
    if (this.currentData === s) this.currentData = null;
    // A live stream that stopped without its END no longer keeps reads exact (the next long frame turns them on again).
    if (s.openEnded) this.exactReads = false;
  }

  /** The connection failed: parse nothing more. */
  stop(): void {
    this.parser.stop();
  }

  /** No read is pending any more (the socket is paused or destroyed): hand back a destination a read targeted. */
  releaseDirect(): void {
    const pending = this.directStream;
    this.directStream = null;
    pending?.landedDirect(0);
  }

  // ── Socket reads ──

  /** Where the next socket read lands (called by node:net before every read). */
  private nextReadBuffer(): Uint8Array {
    const buf = this.readBuf;
    if (buf === null || this.host.failure !== null) return this.smallBuf;
    const remaining = this.parser.dataRemaining;
    if (remaining > 0) {
      const s = this.currentData;
      // Straight into the consumer's buffer: at most the rest of this frame, which
      // dataStart checked against the stream's remaining length and credit.
      const direct = s === null ? null : s.directView(remaining);
      if (direct !== null && direct.length > 0) {
        this.directStream = s;
        return direct;
      }
      return buf;
    }
    if (this.exactReads) {
      // Exactly the rest of the next header or control frame, so that a following long payload is read in place.
      const missing = this.parser.headerBytesMissing || this.parser.controlBytesMissing;
      if (missing > 0) return buf.subarray(0, missing);
    }
    return buf;
  }

  /** node:net `onread` callback: `n` bytes landed in the buffer nextReadBuffer returned. Return false to stop reading. */
  private onRead(n: number, buf: Uint8Array): boolean {
    this.inRead = true;
    try {
      this.lastReceiveAt = Date.now();
      this.host.counters.bytesReceived += n;
      const s = this.directStream;
      if (s !== null) {
        this.directStream = null;
        this.host.counters.bytesLandedDirect += n;
        s.landedDirect(n);
        if (this.host.failure === null) this.parser.deliveredDirect(n);
      } else if (this.host.failure === null) {
        this.parser.push(buf.subarray(0, n));
      }
    } catch (err) {
      this.host.protocolFailure(err);
    } finally {
      this.inRead = false;
    }
    return !this.readPaused && this.host.failure === null;
  }

  /** 'data' event (TLS or a socket that could not be re-created): the chunk is Node's, copied where it belongs. */
  private onChunk(chunk: Buffer): void {
    if (this.mode === 'onread') {
      // `onread` did not take: fall back to copying from 'data' chunks (correct, slower).
      this.mode = 'data';
      if (this.host.role === 'server') this.host.counters.dataEventConnections++;
    }
    this.inRead = true;
    try {
      this.lastReceiveAt = Date.now();
      this.host.counters.bytesReceived += chunk.length;
      if (this.host.failure === null) this.parser.push(chunk);
    } catch (err) {
      this.host.protocolFailure(err);
    } finally {
      this.inRead = false;
    }
    if (this.readPaused && this.host.failure === null) this.socket?.pause();
  }

  // ── FrameHandler: called by the parser ──

  control(header: FrameHeader, payload: Uint8Array): void {
    this.host.control(header, payload);
  }

  dataStart(streamId: number, flags: number, length: number): void {
    if (!this.host.authenticated) throw new CwasiError('E_AUTH', 'DATA before authentication');
    this.currentDataLength = length;
    const s = this.host.incomingFor(streamId);
    if (s === null) {
      this.currentData = null; // a stream this node aborted or refused: discard what was in flight
      return;
    }
    const end = s.received + length;
    if (s.openEnded) {
      // Bound: nothing after END_OF_STREAM, nothing past the credit this node granted.
      if (s.endSeen) throw new CwasiError('E_BAD_DESCRIPTOR', `stream ${streamId}: DATA after its END_OF_STREAM`);
      if (end > s.creditLimit) throw new CwasiError('E_BAD_DESCRIPTOR', `stream ${streamId}: DATA of ${length} bytes at ${s.received} exceeds its credit of ${s.creditLimit} bytes`);
      if ((flags & FLAG_END_OF_STREAM) !== 0) s.endSeen = true;
      this.currentData = s;
      return;
    }
    // Bound: every DATA frame is checked against the stream's declared length before its payload is used.
    if (end > s.totalBytes) throw new CwasiError('E_BAD_DESCRIPTOR', `stream ${streamId}: DATA of ${length} bytes at ${s.received} overruns its ${s.totalBytes} bytes`);
    // Bound: and against the credit this node granted (flow control; FLOW CONTROL in protocol.ts).
    if (end > s.creditLimit) throw new CwasiError('E_BAD_DESCRIPTOR', `stream ${streamId}: DATA of ${length} bytes at ${s.received} exceeds its credit of ${s.creditLimit} bytes`);
    if (((flags & FLAG_END_OF_STREAM) !== 0) !== (end === s.totalBytes)) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `stream ${streamId}: END_OF_STREAM must mark exactly the frame that completes it`);
    }
    this.currentData = s;
  }

  data(bytes: Uint8Array): void {
    const s = this.currentData;
    if (s === null) return;
    s.accept(bytes);
    // Bound: bytes held for streams without a destination; stop reading past the limit.
    if (this.bufferedBytes > this.host.maxBufferedBytes && !this.readPaused) {
      this.readPaused = true;
      this.host.counters.readPauses++;
      this.host.notePaused(this.bufferedBytes);
    }
  }

  dataEnd(): void {
    const s = this.currentData;
    this.currentData = null;
    // A live (open-ended) stream's frames are as long as its producer's pieces, a short one often between two long
    // ones (a piece split at its ring's end): while one flows, the next payload is read in place too.
    this.exactReads = this.mode === 'onread' && (this.currentDataLength >= EXACT_READS_MIN || (s !== null && s.openEnded && !s.endSeen));
    if (s !== null && (s.openEnded ? s.endSeen : s.received === s.totalBytes)) s.complete();
  }

  // ── Held bytes ──

  /** Bytes held for a stream without a destination. */
  holdBuffered(n: number): void {
    this.bufferedBytes += n;
    this.host.noteBuffered(this.bufferedBytes);
  }

  /** Held bytes were taken (receiveInto) or dropped (failure): resume reading when below the limit. */
  releaseBuffered(n: number): void {
    this.bufferedBytes -= n;
    if (this.readPaused && this.bufferedBytes <= this.host.maxBufferedBytes) {
      this.readPaused = false;
      // Inside a read callback, returning true keeps reading; outside, restart the socket.
      if (!this.inRead && this.host.failure === null) this.socket?.resume();
    }
  }
}
