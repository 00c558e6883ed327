// The Networked Buffer data plane: authenticated, multiplexed TCP streams
// between engine nodes (protocol.ts has the wire format, auth.ts the
// handshake, frames.ts the parser).
//
//   const a = await NetTransport.listen({ secret, nodeName: 'a' });
//   const b = await NetTransport.listen({ secret, nodeName: 'b' });
//   b.on('stream', (s) => s.receiveInto(memoryView).then(...));
//   const out = await a.openStream(`${b.address.host}:${b.address.port}`, { fn: 'x' }, n);
//   await out.write(bytes); await out.end();   // end() resolves once b has every byte
//
// CONNECTIONS. `connect(address)` dials a peer's listener once and reuses the
// authenticated connection for every stream to that address; concurrent
// callers share one dial. A connection that fails is forgotten, so the next
// use dials again. Streams go from the side that opened the connection to the
// listener's side; each node listens, and node A's streams to B and B's
// streams to A use two different connections.
//
// WRITING (OutgoingStream). `write(chunk)` never copies the caller's bytes
// in JS: each DATA frame is a 16-byte header plus a Buffer *view* of the
// chunk (a SharedArrayBuffer or WebAssembly.Memory view is fine), handed to
// the socket in one writev; the kernel copies. The caller must keep the
// bytes unchanged until write() resolves, which happens when the socket has
// handed the chunk's last frame to the kernel. Frames of all streams on a
// connection go through one pump that takes one frame (≤ MAX_DATA_PAYLOAD) per
// stream in turn and stops while `socket.write()` reports a full queue, until
// 'drain': a connection never holds more than WRITE_HIGH_WATER +
// MAX_DATA_PAYLOAD bytes of DATA that the kernel has not taken.
//
// READING (IncomingStream). Plain TCP sockets read through node:net's
// `onread` with a buffer function called before every read. Inside a DATA
// payload whose consumer has called `receiveInto(dest)`, the read targets
// `dest` itself at the stream's current offset, sized to the bytes left in
// the frame, so the kernel copies the payload straight into the consumer's
// memory. While large DATA flows (a long frame just ended, or a long stream
// was opened), reads ask for exactly the next header or control payload, so
// the following payload lands in place too and a stream costs the kernel
// copy only. Everything else (the handshake, small frames, bytes of streams
// without a destination) lands in one reused read buffer. Node's net.Server has no
// `onread` option, so an accepted socket is re-created around its native
// handle (`adoptWithOnread`); if that is not possible, or with TLS, the
// socket is read with 'data' events and payloads are copied from them.
//
// OWNERSHIP OF A DESTINATION. `receiveInto(dest)` lends `dest` to the
// transport until the returned promise settles; a socket read may be
// targeted at it until then. When a stream fails while such a read is
// pending (the consumer aborted), the promise settles only after that read
// returned, or after the socket closed, so no byte lands in `dest` after it
// is handed back. Bytes beyond `totalBytes` never reach `dest`: every DATA
// frame is checked against the stream's remaining length before any of its
// payload is used.
//
// BACKPRESSURE. Bytes of a stream that arrive before its consumer called
// receiveInto are copied aside (the only allocating receive path); once a
// connection holds more than `maxBufferedBytes` of them it stops reading
// (the kernel buffers fill and the sender's pump waits for 'drain') until a
// receiveInto or abort takes them. This is connection-wide: a consumer that
// never calls receiveInto holds up the other streams on its connection, so
// consumers must call receiveInto or abort promptly.
//
// FAILURE. A socket error, EOF, close, a malformed frame, or a keepalive
// timeout fails the connection: every stream on it, in both directions,
// rejects with E_NET at once (a peer that dies closes its socket; a peer
// that goes silent is caught by the keepalive: each side sends a PING when it
// has sent nothing for `keepaliveIntervalMs`, and gives up when it has
// received nothing for `keepaliveTimeoutMs` while it was reading). Other
// connections are unaffected. A listener admits a connection only when the
// peer proves the cluster secret within `handshakeTimeoutMs`; anything else
// (wrong or missing proof, garbage, silence) destroys that connection and
// counts an auth failure.
//
// THREADING. Everything here runs on one event loop (the main thread of a
// node); no method may be called from another thread. Destinations and
// sources may be views of shared memory that worker threads also see; the
// transport only reads a source between write() and its resolution and only
// writes a destination between receiveInto() and its settlement.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { CwasiError, isErrorCode, type ErrorCode } from '../errors.js';
import { ClientHandshake, ServerHandshake, checkNodeName, checkSecret } from './auth.js';
import { checkOwnCertificate, checkPeerCertificate } from './identity.js';
import { FrameParser, decodeControl, encodeAbort, encodeFrame, encodeHeader, encodeMessage, encodeMeta, encodeOpen, type FrameHandler } from './frames.js';
import {
  FLAG_END_OF_STREAM,
  FRAME_HEADER_BYTES,
  FRAME_TYPE,
  MAX_CONTROL_PAYLOAD,
  MAX_DATA_PAYLOAD,
  MAX_TOTAL_BYTES,
  PAYLOAD_LIMITS,
  PING_TOKEN_BYTES,
  type FrameHeader,
  type HandshakeMessage,
  type NetMessage,
  type StreamMeta,
} from './protocol.js';

// ── Bounds and defaults ─────────────────────────────────────────────────────

/** Reused read buffer of an authenticated connection (reads that do not land in a consumer's buffer). */
export const READ_BUFFER_BYTES = 256 * 1024;
/** Read buffer during the handshake: what an unauthenticated peer costs us (handshake frames are ≤ 304 bytes). */
export const HANDSHAKE_READ_BYTES = 512;
/** Socket writable high-water mark: the DATA pump stops when the socket's queue reaches it. */
export const WRITE_HIGH_WATER = 256 * 1024;
/**
 * Hard cap on a socket's unsent queue. DATA stops at WRITE_HIGH_WATER (plus
 * the frame in hand) and OPEN frames wait until the queue is below it, so
 * only replies (PONG, END, ABORT to a peer that keeps sending but stops
 * reading) can grow the queue further; past this cap the connection is failed.
 */
export const MAX_WRITE_BACKLOG = 64 * 1024 * 1024;
/**
 * After a DATA frame at least this long, or an OPEN of a stream at least this
 * long, reads fetch exactly the header or control payload the parser needs
 * next, so the following DATA payload is read in place rather than into the
 * read buffer (and then copied).
 */
const EXACT_READS_MIN = 64 * 1024;
/** How long a graceful close waits for queued frames to flush before destroying the socket. */
const CLOSE_GRACE_MS = 1000;

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 1000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_STREAM_BYTES = 2 ** 32;
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;
export const DEFAULT_MAX_INCOMING_STREAMS = 1024;

// ── Public types ────────────────────────────────────────────────────────────

export interface NetTlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /** The cluster CA: both sides must present a certificate it signed. */
  ca: string | Buffer | Array<string | Buffer>;
  /** Check the server certificate's name against the dialled host (default true; needs IP SANs for IP addresses). */
  verifyHostname?: boolean;
}

export interface NetTransportOptions {
  /** The cluster secret (≥ 16 bytes); never sent. */
  secret: Uint8Array;
  /** This node's name, reported to peers and authenticated by the handshake. */
  nodeName: string;
  /** Address to listen on; loopback unless told otherwise. */
  host?: string;
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  /** Use TLS (mutual, with a cluster CA) under the handshake. */
  tls?: NetTlsOptions;
  /** A peer must complete the handshake within this long (also bounds dialling). */
  handshakeTimeoutMs?: number;
  /** Largest stream accepted or opened. */
  maxStreamBytes?: number;
  /** Send a PING after this long without sending anything. */
  keepaliveIntervalMs?: number;
  /** Fail a connection after this long without receiving anything while reading. */
  keepaliveTimeoutMs?: number;
  /** Bytes per connection held for streams whose consumer has not called receiveInto; reading pauses beyond. */
  maxBufferedBytes?: number;
  /** Accepted connections allowed in the handshake at once; more are destroyed on arrival. */
  maxPendingHandshakes?: number;
  /** Incoming streams open at once per connection; more are refused with E_QUEUE_FULL. */
  maxIncomingStreams?: number;
}

export interface NetAddress {
  host: string;
  port: number;
}

/** An authenticated connection to a peer, as `connect()` returns it. */
export interface NetConnection {
  /** The peer's authenticated node name. */
  readonly peer: string;
  /** The remote address, "host:port". */
  readonly address: string;
  /** 'client' when this node dialled, 'server' when it accepted. */
  readonly role: 'client' | 'server';
  /** True once the connection failed or was closed. */
  readonly closed: boolean;
  /** Streams in flight on it (both directions). */
  readonly activeStreams: number;
}

export interface NetStats {
  /** Wire bytes handed to sockets / read from sockets (headers included). */
  bytesSent: number;
  bytesReceived: number;
  /** Outgoing streams opened / incoming streams handed to a consumer. */
  streamsOpened: number;
  streamsAccepted: number;
  /** Streams finished: outgoing acknowledged by the peer, incoming fully received. */
  streamsCompleted: number;
  /** Streams that failed or were aborted (either direction). */
  streamsFailed: number;
  /** Authenticated connections ever / now. */
  connectionsOpened: number;
  connectionsActive: number;
  /** Connections that did not authenticate (wrong proof, garbage, timeout, closed mid-handshake, over the pending limit). */
  authFailures: number;
  /** Of which: handshake deadline expired. */
  handshakeTimeouts: number;
  /** Authenticated connections failed for malformed or out-of-protocol frames. */
  protocolErrors: number;
  /** Connections failed by the keepalive. */
  keepaliveTimeouts: number;
  /** Bytes in socket send queues now, and the most seen on one connection. */
  queuedBytes: number;
  peakQueuedBytes: number;
  /** Bytes held for streams without a destination now, and the most seen on one connection. */
  bufferedBytes: number;
  peakBufferedBytes: number;
  /** Times a connection stopped reading because maxBufferedBytes was reached. */
  readPauses: number;
  /** Accepted connections read with 'data' events instead of onread (TLS, or the socket could not be re-created). */
  dataEventConnections: number;
}

export interface NetTransportEvents {
  /** A peer opened a stream to this node. Call receiveInto() or abort() on it promptly. */
  stream: [stream: IncomingStream];
  /** A connection stopped reading: its buffered bytes reached maxBufferedBytes (diagnostics). */
  readPaused: [info: { peer: string; bufferedBytes: number }];
  /**
   * An authenticated connection to `peer` failed or the peer closed it (not a
   * close of this node's own): whatever depends on that peer can fail at once.
   */
  peerLost: [info: { peer: string; error: CwasiError }];
}

// ── Helpers ─────────────────────────────────────────────────────────────────

type Settle = { resolve: () => void; reject: (err: CwasiError) => void };

/** A promise with its settle functions, marked handled so a failure nobody awaits is not an unhandled rejection. */
function deferred(): { promise: Promise<void> } & Settle {
  let resolve!: () => void;
  let reject!: (err: CwasiError) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

function positiveOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new CwasiError('E_CONFIG', `${name} must be a positive number, got ${String(value)}`);
  return value;
}

/** "host:port" or "[v6]:port" → parts; E_CONFIG when malformed. */
export function parseAddress(address: string): NetAddress & { key: string } {
  const m = typeof address === 'string' ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim()) : null;
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new CwasiError('E_CONFIG', `peer address must be "host:port", got ${JSON.stringify(address)}`);
  const host = (m[1] ?? m[2])!;
  return { host, port, key: `${host.toLowerCase()}:${port}` };
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function netError(message: string, details: Record<string, unknown>, cause?: unknown): CwasiError {
  return new CwasiError('E_NET', message, details, cause === undefined ? undefined : { cause });
}

/**
 * net.Server has no `onread` option (Node 20/22), so re-create an accepted
 * socket around its native handle with one. The server was created with
 * `pauseOnConnect`, so the handle has not read yet. Destroying the handle-less
 * original releases the server's connection count without closing the
 * handle. Relies on the long-stable but undocumented `_handle`; returns null
 * (the caller falls back to 'data' events) when it is not there.
 */
function adoptWithOnread(raw: net.Socket, onread: net.OnReadOpts): net.Socket | null {
  const holder = raw as unknown as { _handle?: { readStart?: unknown } | null };
  const handle = holder._handle;
  if (handle === null || typeof handle !== 'object' || typeof handle.readStart !== 'function') return null;
  holder._handle = null;
  raw.destroy();
  const opts = { handle, onread, readable: true, writable: true, allowHalfOpen: false, writableHighWaterMark: WRITE_HIGH_WATER };
  return new net.Socket(opts as unknown as net.SocketConstructorOpts);
}

// ── Streams ─────────────────────────────────────────────────────────────────

interface WriteJob extends Settle {
  /** A view of the caller's chunk (never a copy). */
  buf: Buffer;
  /** Its length when written: a view whose buffer was detached meanwhile reads as length 0. */
  length: number;
  /** Bytes of `buf` already framed. */
  off: number;
  settled: boolean;
}

/** The sending end of a stream (from `openStream`). */
export class OutgoingStream {
  readonly id: number;
  readonly peer: string;
  readonly meta: StreamMeta;
  readonly totalBytes: number;
  /** @internal */ readonly conn: Connection;
  /** Bytes accepted by write() so far. */
  private queued = 0;
  /** @internal Bytes put in DATA frames so far. */ sent = 0;
  /** @internal Chunks waiting for the pump, oldest first. */ readonly jobs: WriteJob[] = [];
  /** @internal In the connection's send queue. */ scheduled = false;
  private state: 'open' | 'ended' | 'delivered' | 'failed' = 'open';
  private error: CwasiError | null = null;
  private readonly deliveredAt = deferred();

  /** @internal */
  constructor(conn: Connection, id: number, meta: StreamMeta, totalBytes: number) {
    this.conn = conn;
    this.id = id;
    this.peer = conn.peer;
    this.meta = meta;
    this.totalBytes = totalBytes;
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
    this.conn.schedule(this);
    return done.promise;
  }

  /**
   * Finish the stream: every declared byte must have been written. Resolves
   * when the peer acknowledged that all bytes landed in its consumer's
   * buffer; rejects with the peer's code when it aborted, E_NET when the
   * connection failed first.
   */
  end(): Promise<void> {
    if (this.error !== null) return Promise.reject(this.error);
    if (this.state === 'open') {
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
    this.conn.sendAbort(this.id, err);
    this.fail(err);
  }

  /** @internal The peer acknowledged every byte. */
  onDelivered(): void {
    if (!this.active) return;
    this.state = 'delivered';
    this.conn.outgoing.delete(this.id);
    this.conn.transport.counters.streamsCompleted++;
    this.deliveredAt.resolve();
  }

  /** @internal The stream failed (peer abort, connection failure, local abort). */
  fail(err: CwasiError): void {
    if (!this.active) return;
    this.state = 'failed';
    this.error = err;
    this.conn.outgoing.delete(this.id);
    this.conn.transport.counters.streamsFailed++;
    for (const job of this.jobs.splice(0)) job.reject(err);
    this.deliveredAt.reject(err);
  }
}

/** The receiving end of a stream (from the transport's 'stream' event). */
export class IncomingStream {
  readonly id: number;
  /** The sending node's authenticated name. */
  readonly peer: string;
  readonly meta: StreamMeta;
  readonly totalBytes: number;
  /** @internal */ readonly conn: Connection;
  /** @internal Bytes of the stream received so far (landed in dest, or buffered). */ received = 0;
  /** @internal The consumer's buffer, once receiveInto was called. */ dest: Uint8Array | null = null;
  /** Bytes that arrived before receiveInto, in order (copies). */
  private buffered: Uint8Array[] = [];
  /** @internal Total of `buffered`. */ bufferedBytes = 0;
  private state: 'open' | 'done' | 'failed' = 'open';
  private error: CwasiError | null = null;
  private readonly landed = deferred();
  /** A failure waiting for a read targeted at `dest` to return before it is reported. */
  private settleAfterRead = false;

  /** @internal */
  constructor(conn: Connection, id: number, meta: StreamMeta, totalBytes: number) {
    this.conn = conn;
    this.id = id;
    this.peer = conn.peer;
    this.meta = meta;
    this.totalBytes = totalBytes;
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
    if (this.dest !== null) return Promise.reject(new CwasiError('E_INTERNAL', `stream ${this.id} from ${this.peer}: receiveInto() called twice`));
    if (this.error !== null) return Promise.reject(this.error);
    if (!(dest instanceof Uint8Array)) return Promise.reject(new CwasiError('E_CONFIG', 'receiveInto() takes a Uint8Array'));
    // Bound: the destination must hold every declared byte before any byte is placed in it.
    if (dest.length < this.totalBytes) {
      return Promise.reject(new CwasiError('E_BAD_DESCRIPTOR', `stream ${this.id} from ${this.peer}: a ${dest.length}-byte destination cannot hold ${this.totalBytes} bytes`));
    }
    this.dest = dest;
    let at = 0;
    for (const chunk of this.buffered) {
      dest.set(chunk, at);
      at += chunk.length;
    }
    this.buffered = [];
    this.conn.releaseBuffered(this.bufferedBytes);
    this.bufferedBytes = 0;
    if (this.received === this.totalBytes) this.complete();
    return this.landed.promise;
  }

  /** Give up on the stream: receiveInto rejects with `code`, and the sender's writes and end() reject with it too. */
  abort(code: ErrorCode = 'E_ABORTED', message = 'stream aborted by the receiver'): void {
    if (!this.active) return;
    const err = new CwasiError(code, message, { streamId: this.id, peer: this.peer });
    this.conn.sendAbort(this.id, err);
    this.fail(err);
  }

  /** @internal Can the next socket read target `dest` directly? (Fails the stream if `dest` was detached.) */
  canReceiveDirect(): boolean {
    return this.state === 'open' && this.dest !== null && this.destIntact();
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

  /** @internal The next `n` bytes of the stream are these (a view valid only now). */
  accept(bytes: Uint8Array): void {
    if (this.state !== 'open') return;
    if (this.dest !== null) {
      if (!this.destIntact()) return;
      this.dest.set(bytes, this.received);
    } else {
      // Allocates: the slow path for bytes that arrive before a destination (bounded by maxBufferedBytes).
      this.buffered.push(new Uint8Array(bytes)); // a copy (Buffer#slice would be a view of the read buffer)
      this.bufferedBytes += bytes.length;
      this.conn.holdBuffered(bytes.length);
    }
    this.received += bytes.length;
  }

  /** @internal A socket read targeted at `dest` returned `n` bytes (n may be 0 after a failure). */
  landedDirect(n: number): void {
    if (this.state === 'open') this.received += n;
    if (this.settleAfterRead) {
      this.settleAfterRead = false;
      this.landed.reject(this.error!);
    }
  }

  /** @internal Every byte arrived; resolve once they are all in `dest`. */
  complete(): void {
    if (this.state !== 'open' || this.dest === null || this.received !== this.totalBytes) return;
    this.state = 'done';
    this.conn.incoming.delete(this.id);
    this.conn.transport.counters.streamsCompleted++;
    this.conn.sendEnd(this.id);
    this.landed.resolve();
  }

  /** @internal The stream failed. `readPending`: a socket read targeted at `dest` has not returned yet. */
  fail(err: CwasiError, readPending = this.conn.directStream === this): void {
    if (!this.active) return;
    this.state = 'failed';
    this.error = err;
    this.conn.incoming.delete(this.id);
    this.conn.transport.counters.streamsFailed++;
    if (this.bufferedBytes > 0) {
      this.buffered = [];
      this.conn.releaseBuffered(this.bufferedBytes);
      this.bufferedBytes = 0;
    }
    // The destination is handed back only when no read can land in it any more.
    if (readPending) this.settleAfterRead = true;
    else this.landed.reject(err);
  }
}

// ── Connection ──────────────────────────────────────────────────────────────

type ReadMode = 'onread' | 'data';

/**
 * One socket to one peer, with its parser, handshake, streams and pump.
 * Exported for the stream classes' signatures only: NetConnection is its
 * public face, and nothing outside this file should call its methods.
 */
export class Connection implements NetConnection, FrameHandler {
  readonly transport: NetTransport;
  readonly role: 'client' | 'server';
  readonly address: string;
  peer = '';
  private socket: net.Socket | null = null;
  private mode: ReadMode = 'onread';
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  private failure: CwasiError | null = null;
  private readonly parser: FrameParser = new FrameParser(this);
  private handshake: ClientHandshake | ServerHandshake | null;
  private readonly ready = deferred();
  private handshakeTimer: NodeJS.Timeout | null = null;

  readonly outgoing = new Map<number, OutgoingStream>();
  readonly incoming = new Map<number, IncomingStream>();
  /** Next id for a stream this side opens: odd when we dialled, even when we accepted. */
  private nextStreamId: number;
  /** Highest id the peer opened (ids below it with no stream are stale, not unknown). */
  private lastPeerStreamId = 0;
  /** Out of stream ids: no new streams; closed once the last one finishes. */
  private retiring = false;

  // Reading.
  private readonly smallBuf = Buffer.allocUnsafe(HANDSHAKE_READ_BYTES);
  private readBuf: Buffer | null = null;
  /** @internal The stream whose `dest` the pending socket read targets, if any. */
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

  // Writing.
  private readonly sendQueue: OutgoingStream[] = [];
  private writeBlocked = false;
  private writableWaiters: Array<() => void> = [];
  lastSendAt = Date.now();
  private pingSentAt = 0;
  /** Round-trip time of the last PING, ms. */
  rttMs = NaN;

  readonly onread: net.OnReadOpts = {
    buffer: () => this.nextReadBuffer(),
    callback: (n: number, buf: Uint8Array) => this.onRead(n, buf),
  };

  constructor(transport: NetTransport, role: 'client' | 'server', address: string) {
    this.transport = transport;
    this.role = role;
    this.address = address;
    this.nextStreamId = role === 'client' ? 1 : 2;
    this.handshake = role === 'client'
      ? new ClientHandshake(transport.secret, transport.nodeName)
      : new ServerHandshake(transport.secret, transport.nodeName);
    // Bound: until authenticated, no control frame larger than a greeting is read.
    this.parser.controlLimit = PAYLOAD_LIMITS[FRAME_TYPE.HELLO].max;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  get authenticated(): boolean {
    return this.state === 'open';
  }

  get activeStreams(): number {
    return this.outgoing.size + this.incoming.size;
  }

  /** Bytes the socket has not handed to the kernel yet. */
  get queuedBytes(): number {
    return this.socket?.writableLength ?? 0;
  }

  get buffered(): number {
    return this.bufferedBytes;
  }

  /** Resolves once authenticated; rejects with E_AUTH / E_NET / E_TIMEOUT. */
  get whenReady(): Promise<void> {
    return this.ready.promise;
  }

  // ── Set-up ──

  /** Start using `socket`. A client speaks first (HELLO); writes made before the socket connects are queued by Node. */
  attach(socket: net.Socket, mode: ReadMode, deadlineMs: number): void {
    this.socket = socket;
    this.mode = mode;
    socket.setNoDelay(true);
    socket.on('error', (err) => this.fail(netError(`connection to ${this.describe()} failed: ${err.message}`, this.details('socket-error'), err)));
    socket.on('end', () => this.fail(netError(`${this.describe()} closed the connection`, this.details('eof'))));
    socket.on('close', () => this.fail(netError(`connection to ${this.describe()} closed`, this.details('closed'))));
    socket.on('drain', () => this.onDrain());
    // With `onread` in effect node:net never emits 'data'. The listener is there for TLS, and as a
    // safety net should a Node version ignore `onread` on a re-created socket (onChunk notes it).
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    this.handshakeTimer = setTimeout(() => {
      this.transport.counters.handshakeTimeouts++;
      this.fail(new CwasiError('E_TIMEOUT', `${this.describe()} did not complete the handshake within ${deadlineMs} ms`, this.details('handshake-timeout')));
    }, deadlineMs);
    if (this.handshake instanceof ClientHandshake) this.writeFrame(encodeMessage(this.handshake.hello()));
  }

  private describe(): string {
    return this.peer !== '' ? `node ${JSON.stringify(this.peer)} (${this.address})` : this.address;
  }

  private details(reason: string): Record<string, unknown> {
    return { peer: this.peer, address: this.address, reason };
  }

  // ── Reading ──

  /** Where the next socket read lands (called by node:net before every read). */
  private nextReadBuffer(): Uint8Array {
    const buf = this.readBuf;
    if (buf === null || this.failure !== null) return this.smallBuf;
    const remaining = this.parser.dataRemaining;
    if (remaining > 0) {
      const s = this.currentData;
      if (s !== null && s.canReceiveDirect()) {
        // Straight into the consumer's buffer: at most the rest of this frame, which
        // dataStart checked against the stream's remaining length and dest's size.
        this.directStream = s;
        return s.dest!.subarray(s.received, s.received + remaining);
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
      this.transport.counters.bytesReceived += n;
      const s = this.directStream;
      if (s !== null) {
        this.directStream = null;
        s.landedDirect(n);
        if (this.failure === null) this.parser.deliveredDirect(n);
      } else if (this.failure === null) {
        this.parser.push(buf.subarray(0, n));
      }
    } catch (err) {
      this.protocolFailure(err);
    } finally {
      this.inRead = false;
    }
    return !this.readPaused && this.failure === null;
  }

  /** 'data' event (TLS or a socket that could not be re-created): the chunk is Node's, copied where it belongs. */
  private onChunk(chunk: Buffer): void {
    if (this.mode === 'onread') {
      // `onread` did not take: fall back to copying from 'data' chunks (correct, slower).
      this.mode = 'data';
      if (this.role === 'server') this.transport.counters.dataEventConnections++;
    }
    this.inRead = true;
    try {
      this.lastReceiveAt = Date.now();
      this.transport.counters.bytesReceived += chunk.length;
      if (this.failure === null) this.parser.push(chunk);
    } catch (err) {
      this.protocolFailure(err);
    } finally {
      this.inRead = false;
    }
    if (this.readPaused && this.failure === null) this.socket?.pause();
  }

  /** The parser or a frame handler threw: the peer broke the protocol or failed authentication. */
  private protocolFailure(err: unknown): void {
    const e = err instanceof CwasiError ? err : new CwasiError('E_INTERNAL', String(err), undefined, { cause: err });
    if (this.state === 'handshake') {
      // A refused proof is answered, so an honest peer with the wrong secret can tell; garbage is not.
      const refused = e.code === 'E_AUTH';
      if (refused && this.role === 'server') this.writeFrame(encodeAbort(0, 'E_AUTH', 'authentication failed'));
      // A peer that does not speak the protocol has not proved the secret either.
      this.fail(refused ? e : new CwasiError('E_AUTH', `${this.describe()} broke the handshake: ${e.message}`, this.details('handshake-protocol'), { cause: e }), refused);
      return;
    }
    this.transport.counters.protocolErrors++;
    this.fail(netError(`connection to ${this.describe()} failed: ${e.message}`, { ...this.details('protocol'), code: e.code }, e));
  }

  // FrameHandler: called by the parser.

  control(header: FrameHeader, payload: Uint8Array): void {
    const msg = decodeControl(header, payload);
    if (this.state === 'handshake') {
      this.onHandshakeMessage(msg);
      return;
    }
    switch (msg.type) {
      case 'open':
        this.onOpen(msg.streamId, msg.meta, msg.totalBytes);
        return;
      case 'end': {
        const s = this.outgoing.get(msg.streamId);
        if (s !== undefined) {
          if (s.sent !== s.totalBytes) throw new CwasiError('E_BAD_DESCRIPTOR', `END for stream ${msg.streamId} after ${s.sent} of ${s.totalBytes} bytes were sent`);
          s.onDelivered();
        } else if (!this.isStale(msg.streamId, this.nextStreamId - 2, true)) {
          throw new CwasiError('E_BAD_DESCRIPTOR', `END for stream ${msg.streamId}, which this node never opened`);
        }
        return;
      }
      case 'abort':
        this.onAbort(msg.streamId, msg.code, msg.message);
        return;
      case 'ping':
        this.writeFrame(encodeFrame(FRAME_TYPE.PONG, 0, 0, msg.token));
        return;
      case 'pong':
        if (this.pingSentAt > 0) this.rttMs = performance.now() - this.pingSentAt;
        return;
      default:
        throw new CwasiError('E_BAD_DESCRIPTOR', `${msg.type} after the handshake`);
    }
  }

  dataStart(streamId: number, flags: number, length: number): void {
    if (this.state !== 'open') throw new CwasiError('E_AUTH', 'DATA before authentication');
    this.currentDataLength = length;
    const s = this.incoming.get(streamId);
    if (s === undefined) {
      if (!this.isStale(streamId, this.lastPeerStreamId, false)) throw new CwasiError('E_BAD_DESCRIPTOR', `DATA for stream ${streamId}, which was never opened`);
      this.currentData = null; // a stream this node aborted or refused: discard what was in flight
      return;
    }
    // Bound: every DATA frame is checked against the stream's declared length before its payload is used.
    const end = s.received + length;
    if (end > s.totalBytes) throw new CwasiError('E_BAD_DESCRIPTOR', `stream ${streamId}: DATA of ${length} bytes at ${s.received} overruns its ${s.totalBytes} bytes`);
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
    if (this.bufferedBytes > this.transport.options.maxBufferedBytes && !this.readPaused) {
      this.readPaused = true;
      this.transport.counters.readPauses++;
      this.transport.emit('readPaused', { peer: this.peer, bufferedBytes: this.bufferedBytes });
    }
  }

  dataEnd(): void {
    const s = this.currentData;
    this.currentData = null;
    this.exactReads = this.mode === 'onread' && this.currentDataLength >= EXACT_READS_MIN;
    if (s !== null && s.received === s.totalBytes) s.complete();
  }

  /** A frame for stream `id` that has no live stream: stale (at or below the last id opened, same parity) or unknown. */
  private isStale(id: number, lastOpened: number, ours: boolean): boolean {
    const parity = (ours ? this.nextStreamId : this.peerParity()) & 1;
    return (id & 1) === parity && id <= lastOpened;
  }

  private peerParity(): number {
    return this.role === 'client' ? 0 : 1;
  }

  private onHandshakeMessage(msg: Exclude<NetMessage, { type: 'data' }>): void {
    if (msg.type === 'abort' && msg.streamId === 0) {
      const code = isErrorCode(msg.code) ? msg.code : 'E_AUTH';
      throw new CwasiError(code, `${this.describe()} refused the connection: ${msg.message}`);
    }
    if (msg.type !== 'hello' && msg.type !== 'challenge' && msg.type !== 'proof' && msg.type !== 'welcome') {
      throw new CwasiError('E_AUTH', `${msg.type} before authentication`);
    }
    const hs = this.handshake!;
    // With TLS the name a peer claims must be in its certificate (identity.ts).
    if ((msg.type === 'hello' || msg.type === 'challenge') && this.socket instanceof tls.TLSSocket) checkPeerCertificate(this.socket, msg.nodeName);
    if (hs instanceof ClientHandshake) {
      const reply = hs.receive(msg as HandshakeMessage);
      if (reply !== null) this.writeFrame(encodeMessage(reply));
      if (hs.done) this.onAuthenticated(hs.peer!);
    } else {
      this.writeFrame(encodeMessage(hs.receive(msg as HandshakeMessage)));
      if (hs.done) this.onAuthenticated(hs.peer!);
    }
  }

  private onAuthenticated(peer: string): void {
    this.peer = peer;
    this.state = 'open';
    this.handshake = null;
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.readBuf = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    this.parser.controlLimit = MAX_CONTROL_PAYLOAD;
    this.lastReceiveAt = Date.now();
    this.transport.onAuthenticated(this);
    this.ready.resolve();
  }

  private onOpen(id: number, meta: StreamMeta, totalBytes: number): void {
    // Ids the peer opens have its parity and strictly increase.
    if ((id & 1) !== this.peerParity() || id <= this.lastPeerStreamId) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `OPEN of stream ${id}: not a new id of the peer's parity (last ${this.lastPeerStreamId})`);
    }
    this.lastPeerStreamId = id;
    const t = this.transport;
    // Bound: the stream's length against this node's limit, before anything is accepted for it.
    if (totalBytes > t.options.maxStreamBytes) {
      this.sendAbort(id, new CwasiError('E_PAYLOAD_TOO_LARGE', `node ${JSON.stringify(t.nodeName)} accepts streams of at most ${t.options.maxStreamBytes} bytes; this one has ${totalBytes}`));
      return;
    }
    // Bound: open incoming streams per connection.
    if (this.incoming.size >= t.options.maxIncomingStreams) {
      this.sendAbort(id, new CwasiError('E_QUEUE_FULL', `node ${JSON.stringify(t.nodeName)} has ${this.incoming.size} incoming streams open on this connection`));
      return;
    }
    if (t.closing || t.listenerCount('stream') === 0) {
      this.sendAbort(id, new CwasiError('E_NET', `node ${JSON.stringify(t.nodeName)} has no consumer for incoming streams`));
      return;
    }
    const s = new IncomingStream(this, id, meta, totalBytes);
    this.incoming.set(id, s);
    if (totalBytes >= EXACT_READS_MIN && this.mode === 'onread') this.exactReads = true;
    t.counters.streamsAccepted++;
    try {
      t.emit('stream', s);
    } catch (err) {
      s.abort('E_INTERNAL', `the 'stream' listener threw: ${err instanceof Error ? err.message : String(err)}`);
      // A throwing listener is a bug in the consumer: surface it like any listener exception.
      process.nextTick(() => {
        throw err;
      });
    }
  }

  private onAbort(id: number, code: string, message: string): void {
    const err = new CwasiError(isErrorCode(code) ? code : 'E_INTERNAL', message, { peer: this.peer, streamId: id, remote: true });
    if (id === 0) {
      this.fail(netError(`${this.describe()} closed the connection: ${code}: ${message}`, { ...this.details('peer-abort'), code }));
      return;
    }
    const out = this.outgoing.get(id);
    if (out !== undefined) {
      this.dropFromSendQueue(out);
      out.fail(err);
      return;
    }
    const inc = this.incoming.get(id);
    if (inc !== undefined) {
      if (this.currentData === inc) this.currentData = null;
      inc.fail(err);
    }
    // Otherwise both sides gave up on it at once: nothing to do.
  }

  /** @internal Bytes held for a stream without a destination. */
  holdBuffered(n: number): void {
    this.bufferedBytes += n;
    this.transport.noteBuffered(this.bufferedBytes);
  }

  /** @internal Held bytes were taken (receiveInto) or dropped (failure): resume reading when below the limit. */
  releaseBuffered(n: number): void {
    this.bufferedBytes -= n;
    if (this.readPaused && this.bufferedBytes <= this.transport.options.maxBufferedBytes) {
      this.readPaused = false;
      // Inside a read callback, returning true keeps reading; outside, restart the socket.
      if (!this.inRead && this.failure === null) this.socket?.resume();
    }
  }

  // ── Writing ──

  /** Queue a control frame. Bound: MAX_WRITE_BACKLOG caps what a peer that does not read can make us hold. */
  private writeFrame(frame: Buffer): void {
    const sock = this.socket;
    if (sock === null || this.failure !== null) return;
    if (sock.writableLength > MAX_WRITE_BACKLOG) {
      this.fail(netError(`${this.describe()} is not reading (${sock.writableLength} bytes queued)`, this.details('backlog')));
      return;
    }
    sock.write(frame);
    this.lastSendAt = Date.now();
    this.transport.counters.bytesSent += frame.length;
    this.transport.noteQueued(sock.writableLength);
  }

  /** Resolves when the socket queue is below its high-water mark (OPEN frames wait here: they are the caller's traffic). */
  private whenWritable(): Promise<void> {
    if (!this.writeBlocked && (this.socket?.writableLength ?? 0) < WRITE_HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /** @internal A stream has a new chunk to send. */
  schedule(s: OutgoingStream): void {
    if (!s.scheduled) {
      s.scheduled = true;
      this.sendQueue.push(s);
    }
    if (!this.writeBlocked) this.pump();
  }

  private dropFromSendQueue(s: OutgoingStream): void {
    const i = this.sendQueue.indexOf(s);
    if (i >= 0) this.sendQueue.splice(i, 1);
    s.scheduled = false;
  }

  /**
   * Write DATA frames, one per stream in turn, until the socket reports a full
   * queue. Each frame: a pooled 16-byte header and a view of the caller's
   * chunk, corked into one writev. A chunk's promise resolves from the write
   * callback of its last frame (the kernel has the bytes).
   */
  private pump(): void {
    const sock = this.socket;
    if (sock === null) return;
    while (!this.writeBlocked && this.sendQueue.length > 0 && this.failure === null) {
      const s = this.sendQueue.shift()!;
      const job = s.jobs[0];
      if (job === undefined || !s.active) {
        s.scheduled = false;
        continue;
      }
      // Bound: the chunk must still be as long as when it was written (a non-shared
      // WebAssembly memory that grows detaches its old buffer, and views of it read as empty).
      if (job.buf.length !== job.length) {
        s.scheduled = false;
        s.abort('E_BAD_DESCRIPTOR', `stream ${s.id} to ${this.describe()}: a chunk's buffer was detached before write() resolved`);
        continue;
      }
      const n = Math.min(MAX_DATA_PAYLOAD, job.buf.length - job.off);
      s.sent += n;
      const header = encodeHeader(FRAME_TYPE.DATA, s.sent === s.totalBytes ? FLAG_END_OF_STREAM : 0, s.id, n);
      const payload = job.buf.subarray(job.off, job.off + n);
      job.off += n;
      const last = job.off === job.buf.length;
      if (last) s.jobs.shift();
      sock.cork();
      sock.write(header);
      const ok = sock.write(payload, last ? (err) => (err ? job.reject(this.failure ?? netError(`write to ${this.describe()} failed: ${err.message}`, this.details('write'), err)) : job.resolve()) : undefined);
      sock.uncork();
      this.lastSendAt = Date.now();
      this.transport.counters.bytesSent += FRAME_HEADER_BYTES + n;
      this.transport.noteQueued(sock.writableLength);
      if (s.jobs.length > 0) this.sendQueue.push(s);
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

  /** @internal */
  sendAbort(id: number, err: CwasiError): void {
    this.writeFrame(encodeAbort(id, err.code, err.message));
  }

  /** @internal */
  sendEnd(id: number): void {
    this.writeFrame(encodeFrame(FRAME_TYPE.END, 0, id));
  }

  /** Open a stream to the peer (after the connection is authenticated). */
  async openStream(meta: StreamMeta, metaBytes: Uint8Array, totalBytes: number): Promise<OutgoingStream> {
    await this.whenWritable();
    if (this.failure !== null) throw this.failure.code === 'E_NET' ? this.failure : netError(this.failure.message, this.details('closed'), this.failure);
    // Bound: ids are u32; a connection that used them all is retired (the keepalive timer closes it
    // once its streams finish) and the next use dials again.
    if (this.nextStreamId > 0xffffffff || this.retiring) {
      this.retiring = true;
      this.transport.forget(this);
      throw netError(`connection to ${this.describe()} ran out of stream ids`, this.details('ids-exhausted'));
    }
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s = new OutgoingStream(this, id, meta, totalBytes);
    this.outgoing.set(id, s);
    this.transport.counters.streamsOpened++;
    this.writeFrame(encodeOpen(id, totalBytes, metaBytes));
    return s;
  }

  // ── Liveness and failure ──

  /** Called by the transport's timer. */
  keepalive(now: number, intervalMs: number, timeoutMs: number): void {
    if (this.state !== 'open') return;
    if (this.retiring && this.activeStreams === 0) {
      this.close('retired after using every stream id');
      return;
    }
    if (this.readPaused) {
      // Not reading: silence is our doing, not the peer's.
      this.lastReceiveAt = now;
    } else if (now - this.lastReceiveAt > timeoutMs) {
      this.transport.counters.keepaliveTimeouts++;
      this.fail(netError(`${this.describe()} sent nothing for ${now - this.lastReceiveAt} ms (keepalive timeout ${timeoutMs} ms)`, this.details('keepalive')));
      return;
    }
    if (now - this.lastSendAt >= intervalMs) {
      this.pingSentAt = performance.now();
      this.writeFrame(encodeFrame(FRAME_TYPE.PING, 0, 0, new Uint8Array(PING_TOKEN_BYTES)));
    }
  }

  /**
   * Fail the connection once: stop reading, fail every stream (E_NET), and
   * close the socket — at once, or after flushing queued frames when
   * `graceful` (a refusal message, or a local close()).
   */
  fail(err: CwasiError, graceful = false): void {
    if (this.failure !== null) return;
    this.failure = err;
    const wasHandshake = this.state === 'handshake';
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.parser.stop();
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    const sock = this.socket;
    if (sock !== null) {
      if (graceful && !sock.destroyed) {
        // pause() stops reads at once (node:net calls readStop for onread sockets), so no read can
        // land in a destination handed back below; end() flushes queued frames, then FIN.
        sock.pause();
        const timer = setTimeout(() => sock.destroy(), CLOSE_GRACE_MS);
        timer.unref();
        sock.end(() => {
          clearTimeout(timer);
          sock.destroy();
        });
      } else {
        sock.destroy();
      }
    }
    const streamErr = err.code === 'E_NET' ? err : netError(`connection to ${this.describe()} failed: ${err.message}`, { ...this.details(err.code), code: err.code }, err);
    // No read is pending any more (the socket is paused or destroyed), so destinations can be handed
    // back now, including one whose stream was aborted while a read targeted it.
    const pending = this.directStream;
    this.directStream = null;
    pending?.landedDirect(0);
    for (const s of [...this.outgoing.values()]) s.fail(streamErr);
    for (const s of [...this.incoming.values()]) s.fail(streamErr, false);
    this.sendQueue.length = 0;
    for (const wake of this.writableWaiters.splice(0)) wake();
    if (wasHandshake) this.transport.onHandshakeFailed(this, err);
    this.transport.forget(this);
    this.ready.reject(err);
    if (wasOpen && !graceful) this.transport.emit('peerLost', { peer: this.peer, error: streamErr });
  }

  /** Graceful close (transport.close()). */
  close(reason: string): void {
    this.fail(netError(`connection to ${this.describe()} closed: ${reason}`, this.details('local-close')), true);
  }

  /** Resolves when the socket is fully closed. */
  whenClosed(): Promise<void> {
    const sock = this.socket;
    if (sock === null || sock.closed) return Promise.resolve();
    return new Promise((resolve) => sock.once('close', () => resolve()));
  }
}

// ── Transport ───────────────────────────────────────────────────────────────

interface ResolvedOptions {
  handshakeTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  maxStreamBytes: number;
  maxBufferedBytes: number;
  maxPendingHandshakes: number;
  maxIncomingStreams: number;
}

type Counters = Omit<NetStats, 'connectionsActive' | 'queuedBytes' | 'bufferedBytes'>;

export class NetTransport extends EventEmitter<NetTransportEvents> {
  readonly nodeName: string;
  /** Where this node listens. */
  readonly address: NetAddress;
  /** @internal */ readonly secret: Uint8Array;
  /** @internal */ readonly options: ResolvedOptions;
  /** @internal */ readonly counters: Counters = {
    bytesSent: 0,
    bytesReceived: 0,
    streamsOpened: 0,
    streamsAccepted: 0,
    streamsCompleted: 0,
    streamsFailed: 0,
    connectionsOpened: 0,
    authFailures: 0,
    handshakeTimeouts: 0,
    protocolErrors: 0,
    keepaliveTimeouts: 0,
    peakQueuedBytes: 0,
    peakBufferedBytes: 0,
    readPauses: 0,
    dataEventConnections: 0,
  };
  private readonly server: net.Server;
  private readonly tlsOptions: NetTlsOptions | undefined;
  /** Every connection, authenticated or not. */
  private readonly connections = new Set<Connection>();
  /** Dialled connections by "host:port" (lower case), shared by concurrent connect() calls. */
  private readonly peers = new Map<string, { conn: Connection; promise: Promise<Connection> }>();
  private pendingHandshakes = 0;
  private readonly timer: NodeJS.Timeout;
  private lastTick = Date.now();
  private closePromise: Promise<void> | null = null;

  /** Listen and resolve once bound. */
  static async listen(opts: NetTransportOptions): Promise<NetTransport> {
    const t = new NetTransport(opts);
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new CwasiError('E_NET', `cannot listen on ${formatAddress(host, opts.port ?? 0)}: ${err.message}`, { host, port: opts.port ?? 0 }, { cause: err }));
      t.server.once('error', onError);
      t.server.listen({ host, port: opts.port ?? 0 }, () => {
        t.server.off('error', onError);
        resolve();
      });
    }).catch((err: unknown) => {
      clearInterval(t.timer);
      throw err;
    });
    const bound = t.server.address() as net.AddressInfo;
    t.address.host = bound.address;
    t.address.port = bound.port;
    t.server.on('error', () => {}); // after binding, per-connection errors arrive on the sockets
    return t;
  }

  private constructor(opts: NetTransportOptions) {
    super();
    checkSecret(opts.secret);
    checkNodeName(opts.nodeName);
    if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)) throw new CwasiError('E_CONFIG', `port must be 0..65535, got ${opts.port}`);
    const maxStreamBytes = positiveOption(opts.maxStreamBytes, DEFAULT_MAX_STREAM_BYTES, 'maxStreamBytes');
    if (maxStreamBytes > MAX_TOTAL_BYTES) throw new CwasiError('E_CONFIG', `maxStreamBytes must be at most ${MAX_TOTAL_BYTES}`);
    this.options = {
      handshakeTimeoutMs: positiveOption(opts.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 'handshakeTimeoutMs'),
      keepaliveIntervalMs: positiveOption(opts.keepaliveIntervalMs, DEFAULT_KEEPALIVE_INTERVAL_MS, 'keepaliveIntervalMs'),
      keepaliveTimeoutMs: positiveOption(opts.keepaliveTimeoutMs, DEFAULT_KEEPALIVE_TIMEOUT_MS, 'keepaliveTimeoutMs'),
      maxStreamBytes,
      maxBufferedBytes: positiveOption(opts.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES, 'maxBufferedBytes'),
      maxPendingHandshakes: positiveOption(opts.maxPendingHandshakes, DEFAULT_MAX_PENDING_HANDSHAKES, 'maxPendingHandshakes'),
      maxIncomingStreams: positiveOption(opts.maxIncomingStreams, DEFAULT_MAX_INCOMING_STREAMS, 'maxIncomingStreams'),
    };
    if (this.options.keepaliveTimeoutMs <= this.options.keepaliveIntervalMs) {
      throw new CwasiError('E_CONFIG', 'keepaliveTimeoutMs must be longer than keepaliveIntervalMs');
    }
    this.secret = Uint8Array.from(opts.secret);
    this.nodeName = opts.nodeName;
    this.tlsOptions = opts.tls;
    if (opts.tls) checkOwnCertificate(opts.tls.cert, opts.nodeName);
    this.address = { host: opts.host ?? '127.0.0.1', port: 0 };
    this.server = opts.tls
      ? tls.createServer({
        key: opts.tls.key,
        cert: opts.tls.cert,
        ca: opts.tls.ca,
        requestCert: true,
        rejectUnauthorized: true,
        handshakeTimeout: this.options.handshakeTimeoutMs,
      }, (socket) => this.onAccept(socket, 'data'))
      : net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.onAccept(socket, 'onread'));
    // The keepalive clock; checks every connection a few times per interval.
    const tickMs = Math.max(5, Math.min(this.options.keepaliveIntervalMs, this.options.keepaliveTimeoutMs / 4));
    this.timer = setInterval(() => this.tick(tickMs), tickMs);
    this.timer.unref();
  }

  /** True once close() was called. */
  get closing(): boolean {
    return this.closePromise !== null;
  }

  /**
   * The authenticated connection to `address` ("host:port"), dialled on first
   * use and shared afterwards. Rejects with E_NET (unreachable, closed),
   * E_AUTH (the peer refused our proof or could not prove its own), or
   * E_TIMEOUT (no authenticated connection within handshakeTimeoutMs).
   */
  connect(address: string): Promise<NetConnection> {
    return this.connectInternal(address);
  }

  /**
   * Open a stream of exactly `totalBytes` bytes to the node at `peerAddress`,
   * with `meta` (a JSON object ≤ 64 KiB) delivered to the peer's 'stream'
   * listener. Waits while the connection's send queue is full.
   */
  async openStream(peerAddress: string, meta: StreamMeta, totalBytes: number): Promise<OutgoingStream> {
    this.assertOpen();
    // Bound: the declared length, checked before anything is sent.
    if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) throw new CwasiError('E_CONFIG', `totalBytes must be a non-negative integer, got ${String(totalBytes)}`);
    if (totalBytes > this.options.maxStreamBytes) throw new CwasiError('E_PAYLOAD_TOO_LARGE', `a stream of ${totalBytes} bytes exceeds maxStreamBytes ${this.options.maxStreamBytes}`);
    const metaBytes = encodeMeta(meta);
    try {
      return await (await this.connectInternal(peerAddress)).openStream(meta, metaBytes, totalBytes);
    } catch (err) {
      // A connection retired for running out of stream ids is forgotten: dial a fresh one, once.
      if (!(err instanceof CwasiError && err.details?.reason === 'ids-exhausted')) throw err;
      return (await this.connectInternal(peerAddress)).openStream(meta, metaBytes, totalBytes);
    }
  }

  stats(): NetStats {
    let active = 0;
    let queued = 0;
    let buffered = 0;
    for (const c of this.connections) {
      if (c.authenticated) active++;
      queued += c.queuedBytes;
      buffered += c.buffered;
    }
    return { ...this.counters, connectionsActive: active, queuedBytes: queued, bufferedBytes: buffered };
  }

  /**
   * Stop listening and close every connection: streams still in flight fail
   * with E_NET, queued frames are flushed, sockets that do not close within
   * a second are destroyed. Idempotent; later opens reject with E_CLOSED.
   */
  close(): Promise<void> {
    if (this.closePromise === null) this.closePromise = this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    clearInterval(this.timer);
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const conns = [...this.connections];
    for (const c of conns) c.close(`node ${JSON.stringify(this.nodeName)} is shutting down`);
    await Promise.all([serverClosed, ...conns.map((c) => c.whenClosed())]);
  }

  private assertOpen(): void {
    if (this.closePromise !== null) throw new CwasiError('E_CLOSED', `the transport of node ${JSON.stringify(this.nodeName)} is closed`);
  }

  private connectInternal(address: string): Promise<Connection> {
    try {
      this.assertOpen();
      const { host, port, key } = parseAddress(address);
      const existing = this.peers.get(key);
      if (existing !== undefined) return existing.promise;
      const conn = new Connection(this, 'client', formatAddress(host, port));
      // Registered before dialling, so that a failure at any point (forget()) removes it again.
      const promise = conn.whenReady.then(() => conn);
      this.connections.add(conn);
      this.peers.set(key, { conn, promise });
      let socket: net.Socket;
      try {
        const common = { host, port, noDelay: true, writableHighWaterMark: WRITE_HIGH_WATER };
        socket = this.tlsOptions
          ? tls.connect({
            ...common,
            key: this.tlsOptions.key,
            cert: this.tlsOptions.cert,
            ca: this.tlsOptions.ca,
            ...(net.isIP(host) === 0 ? { servername: host } : {}),
            ...(this.tlsOptions.verifyHostname === false ? { checkServerIdentity: () => undefined } : {}),
          })
          : net.connect({ ...common, onread: conn.onread });
      } catch (err) {
        conn.fail(new CwasiError('E_CONFIG', `cannot dial ${address}: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err }));
        return promise;
      }
      conn.attach(socket, this.tlsOptions ? 'data' : 'onread', this.options.handshakeTimeoutMs);
      return promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private onAccept(socket: net.Socket, mode: ReadMode): void {
    const remote = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    // Bound: unauthenticated connections held at once.
    if (this.closePromise !== null || this.pendingHandshakes >= this.options.maxPendingHandshakes) {
      if (this.closePromise === null) this.counters.authFailures++;
      socket.destroy();
      return;
    }
    socket.on('error', () => {}); // errors before attach; attach adds the real handler
    const conn = new Connection(this, 'server', remote);
    let sock: net.Socket | null = socket;
    if (mode === 'onread') {
      sock = adoptWithOnread(socket, conn.onread);
      if (sock === null) {
        sock = socket;
        mode = 'data';
        socket.resume();
      }
    }
    if (mode === 'data') this.counters.dataEventConnections++;
    this.pendingHandshakes++;
    this.connections.add(conn);
    conn.attach(sock, mode, this.options.handshakeTimeoutMs);
  }

  /** @internal A connection authenticated. */
  onAuthenticated(conn: Connection): void {
    if (conn.role === 'server') this.pendingHandshakes--;
    this.counters.connectionsOpened++;
  }

  /** @internal A connection failed before authenticating. */
  onHandshakeFailed(conn: Connection, err: CwasiError): void {
    if (conn.role === 'server' && this.closing) {
      this.pendingHandshakes--; // closed by close(), not refused
    } else if (conn.role === 'server') {
      this.pendingHandshakes--;
      this.counters.authFailures++;
    } else if (err.code === 'E_AUTH') {
      this.counters.authFailures++;
    }
  }

  /** @internal Drop a connection that failed (or was retired) so the next use dials again. */
  forget(conn: Connection): void {
    if (conn.closed) this.connections.delete(conn);
    for (const [key, entry] of this.peers) if (entry.conn === conn) this.peers.delete(key);
  }

  /** @internal */
  noteQueued(bytes: number): void {
    if (bytes > this.counters.peakQueuedBytes) this.counters.peakQueuedBytes = bytes;
  }

  /** @internal */
  noteBuffered(bytes: number): void {
    if (bytes > this.counters.peakBufferedBytes) this.counters.peakBufferedBytes = bytes;
  }

  private tick(tickMs: number): void {
    const now = Date.now();
    // A late tick means this event loop was blocked: pending reads have not run yet, so the
    // silence is ours. Restart every connection's receive clock instead of judging peers.
    const late = now - this.lastTick > 3 * tickMs;
    this.lastTick = now;
    for (const c of this.connections) {
      if (late) c.lastReceiveAt = now;
      c.keepalive(now, this.options.keepaliveIntervalMs, this.options.keepaliveTimeoutMs);
    }
  }
}
