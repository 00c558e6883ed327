// One socket to one peer: its handshake, its streams and its lifecycle. The
// byte work is in two halves, connection-reader.ts (reads, parsing, placing
// DATA) and connection-writer.ts (control frames, the DATA pump); the streams
// see the connection only through StreamLink (stream-link.ts), and the
// connection sees its transport only through ConnectionOwner.
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

import type net from 'node:net';
import tls from 'node:tls';
import { CwasiError, isErrorCode } from '../errors.js';
import { ClientHandshake, ServerHandshake } from './auth.js';
import { ConnectionReader, type ReadMode, type ReaderHost } from './connection-reader.js';
import { ConnectionWriter, type WriterHost } from './connection-writer.js';
import { decodeControl, encodeAbort, encodeCredit, encodeFrame, encodeMessage, encodeOpen } from './frames.js';
import { deferred, netError } from './helpers.js';
import { checkPeerCertificate } from './identity.js';
import { IncomingStream } from './incoming-stream.js';
import { CLOSE_GRACE_MS, type Counters, type NetConnection, type ResolvedOptions } from './options.js';
import { OutgoingStream } from './outgoing-stream.js';
import { FRAME_TYPE, PING_TOKEN_BYTES, type FrameHeader, type HandshakeMessage, type NetMessage, type StreamMeta } from './protocol.js';
import type { StreamLink } from './stream-link.js';

/** What a connection needs from the transport that owns it (NetTransport implements it). */
export interface ConnectionOwner {
  readonly nodeName: string;
  readonly secret: Uint8Array;
  readonly options: ResolvedOptions;
  readonly counters: Counters;
  /** True once the transport is closing (new incoming streams are refused). */
  readonly closing: boolean;
  /** Is anyone listening for incoming streams? */
  hasStreamConsumer(): boolean;
  /** Hand an incoming stream to the consumer (may throw: the listener's exception). */
  deliverStream(s: IncomingStream): void;
  /** Reading paused at maxBufferedBytes (diagnostics). */
  notePaused(peer: string, bufferedBytes: number): void;
  noteQueued(bytes: number): void;
  noteBuffered(bytes: number): void;
  onAuthenticated(conn: Connection): void;
  onHandshakeFailed(conn: Connection, err: CwasiError): void;
  /** Drop a failed (or retired) connection so the next use dials again. */
  forget(conn: Connection): void;
  /** An authenticated connection failed or its peer closed it (not a close of this node's own). */
  notePeerLost(peer: string, error: CwasiError): void;
}

/**
 * One socket to one peer. NetConnection is its public face; nothing outside
 * the transport's files calls its methods.
 */
export class Connection implements NetConnection, StreamLink, ReaderHost, WriterHost {
  readonly role: 'client' | 'server';
  readonly address: string;
  peer = '';
  private readonly owner: ConnectionOwner;
  private socket: net.Socket | null = null;
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  failure: CwasiError | null = null;
  private handshake: ClientHandshake | ServerHandshake | null;
  private readonly ready = deferred();
  private handshakeTimer: NodeJS.Timeout | null = null;
  private readonly reader: ConnectionReader;
  private readonly writer: ConnectionWriter;

  private readonly outgoing = new Map<number, OutgoingStream>();
  private readonly incoming = new Map<number, IncomingStream>();
  /** Next id for a stream this side opens: odd when we dialled, even when we accepted. */
  private nextStreamId: number;
  /** Highest id the peer opened (ids below it with no stream are stale, not unknown). */
  private lastPeerStreamId = 0;
  /** Out of stream ids: no new streams; closed once the last one finishes. */
  private retiring = false;

  private pingSentAt = 0;
  /** Round-trip time of the last PING, ms. */
  rttMs = NaN;

  constructor(owner: ConnectionOwner, role: 'client' | 'server', address: string) {
    this.owner = owner;
    this.role = role;
    this.address = address;
    this.nextStreamId = role === 'client' ? 1 : 2;
    this.handshake = role === 'client'
      ? new ClientHandshake(owner.secret, owner.nodeName)
      : new ServerHandshake(owner.secret, owner.nodeName);
    this.reader = new ConnectionReader(this);
    this.writer = new ConnectionWriter(this);
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
    return this.writer.queuedBytes;
  }

  get buffered(): number {
    return this.reader.buffered;
  }

  /** Resolves once authenticated; rejects with E_AUTH / E_NET / E_TIMEOUT. */
  get whenReady(): Promise<void> {
    return this.ready.promise;
  }

  /** node:net `onread` options for a socket dialled or adopted for this connection. */
  get onread(): net.OnReadOpts {
    return this.reader.onread;
  }

  // ReaderHost / WriterHost

  get counters(): Counters {
    return this.owner.counters;
  }

  get maxBufferedBytes(): number {
    return this.owner.options.maxBufferedBytes;
  }

  noteQueued(bytes: number): void {
    this.owner.noteQueued(bytes);
  }

  noteBuffered(bytes: number): void {
    this.owner.noteBuffered(bytes);
  }

  notePaused(bufferedBytes: number): void {
    this.owner.notePaused(this.peer, bufferedBytes);
  }

  // ── Set-up ──

  /** Start using `socket`. A client speaks first (HELLO); writes made before the socket connects are queued by Node. */
  attach(socket: net.Socket, mode: ReadMode, deadlineMs: number): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('error', (err) => this.fail(netError(`connection to ${this.describe()} failed: ${err.message}`, this.details('socket-error'), err)));
    socket.on('end', () => this.fail(netError(`${this.describe()} closed the connection`, this.details('eof'))));
    socket.on('close', () => this.fail(netError(`connection to ${this.describe()} closed`, this.details('closed'))));
    this.writer.attach(socket);
    this.reader.attach(socket, mode);
    this.handshakeTimer = setTimeout(() => {
      this.owner.counters.handshakeTimeouts++;
      this.fail(new CwasiError('E_TIMEOUT', `${this.describe()} did not complete the handshake within ${deadlineMs} ms`, this.details('handshake-timeout')));
    }, deadlineMs);
    if (this.handshake instanceof ClientHandshake) this.writer.writeFrame(encodeMessage(this.handshake.hello()));
  }

  describe(): string {
    return this.peer !== '' ? `node ${JSON.stringify(this.peer)} (${this.address})` : this.address;
  }

  details(reason: string): Record<string, unknown> {
    return { peer: this.peer, address: this.address, reason };
  }

  /** The parser or a frame handler threw: the peer broke the protocol or failed authentication. */
  protocolFailure(err: unknown): void {
    const e = err instanceof CwasiError ? err : new CwasiError('E_INTERNAL', String(err), undefined, { cause: err });
    if (this.state === 'handshake') {
      // A refused proof is answered, so an honest peer with the wrong secret can tell; garbage is not.
      const refused = e.code === 'E_AUTH';
      if (refused && this.role === 'server') this.writer.writeFrame(encodeAbort(0, 'E_AUTH', 'authentication failed'));
      // A peer that does not speak the protocol has not proved the secret either.
      this.fail(refused ? e : new CwasiError('E_AUTH', `${this.describe()} broke the handshake: ${e.message}`, this.details('handshake-protocol'), { cause: e }), refused);
      return;
    }
    this.owner.counters.protocolErrors++;
    this.fail(netError(`connection to ${this.describe()} failed: ${e.message}`, { ...this.details('protocol'), code: e.code }, e));
  }

  // ── Frames other than DATA (the reader hands them over) ──

  control(header: FrameHeader, payload: Uint8Array): void {
    const msg = decodeControl(header, payload);
    if (this.state === 'handshake') {
      this.onHandshakeMessage(msg);
      return;
    }
    switch (msg.type) {
      case 'open':
        this.onOpen(msg.streamId, msg.meta, msg.totalBytes, msg.openEnded === true);
        return;
      case 'end': {
        const s = this.outgoing.get(msg.streamId);
        if (s !== undefined) {
          // An open-ended stream is complete once it ended and every byte went out.
          if (s.sent !== s.finalBytes || s.jobs.length > 0) throw new CwasiError('E_BAD_DESCRIPTOR', `END for stream ${msg.streamId} after ${s.sent} of ${s.finalBytes ?? 'an unended'} bytes were sent`);
          s.onDelivered();
        } else if (!this.isStale(msg.streamId, this.nextStreamId - 2, true)) {
          throw new CwasiError('E_BAD_DESCRIPTOR', `END for stream ${msg.streamId}, which this node never opened`);
        }
        return;
      }
      case 'abort':
        this.onAbort(msg.streamId, msg.code, msg.message);
        return;
      case 'credit':
        this.onCredit(msg.streamId, msg.limit);
        return;
      case 'ping':
        this.writer.writeFrame(encodeFrame(FRAME_TYPE.PONG, 0, 0, msg.token));
        return;
      case 'pong':
        if (this.pingSentAt > 0) this.rttMs = performance.now() - this.pingSentAt;
        return;
      default:
        throw new CwasiError('E_BAD_DESCRIPTOR', `${msg.type} after the handshake`);
    }
  }

  incomingFor(id: number): IncomingStream | null {
    const s = this.incoming.get(id);
    if (s !== undefined) return s;
    if (!this.isStale(id, this.lastPeerStreamId, false)) throw new CwasiError('E_BAD_DESCRIPTOR', `DATA for stream ${id}, which was never opened`);
    return null;
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
      if (reply !== null) this.writer.writeFrame(encodeMessage(reply));
      if (hs.done) this.onAuthenticated(hs.peer!);
    } else {
      this.writer.writeFrame(encodeMessage(hs.receive(msg as HandshakeMessage)));
      if (hs.done) this.onAuthenticated(hs.peer!);
    }
  }

  private onAuthenticated(peer: string): void {
    this.peer = peer;
    this.state = 'open';
    this.handshake = null;
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.reader.authenticated();
    this.owner.onAuthenticated(this);
    this.ready.resolve();
  }

  private onOpen(id: number, meta: StreamMeta, totalBytes: number, openEnded: boolean): void {
    // Ids the peer opens have its parity and strictly increase.
    if ((id & 1) !== this.peerParity() || id <= this.lastPeerStreamId) {
      throw new CwasiError('E_BAD_DESCRIPTOR', `OPEN of stream ${id}: not a new id of the peer's parity (last ${this.lastPeerStreamId})`);
    }
    this.lastPeerStreamId = id;
    const t = this.owner;
    // Bound: the stream's length against this node's limit, before anything is accepted for it
    // (an open-ended stream is bounded by the credit its consumer grants instead).
    if (!openEnded && totalBytes > t.options.maxStreamBytes) {
      this.sendAbort(id, new CwasiError('E_PAYLOAD_TOO_LARGE', `node ${JSON.stringify(t.nodeName)} accepts streams of at most ${t.options.maxStreamBytes} bytes; this one has ${totalBytes}`));
      return;
    }
    // Bound: open incoming streams per connection.
    if (this.incoming.size >= t.options.maxIncomingStreams) {
      this.sendAbort(id, new CwasiError('E_QUEUE_FULL', `node ${JSON.stringify(t.nodeName)} has ${this.incoming.size} incoming streams open on this connection`));
      return;
    }
    if (t.closing || !t.hasStreamConsumer()) {
      this.sendAbort(id, new CwasiError('E_NET', `node ${JSON.stringify(t.nodeName)} has no consumer for incoming streams`));
      return;
    }
    const s = new IncomingStream(this, id, meta, totalBytes, openEnded);
    this.incoming.set(id, s);
    // Exact reads place long payloads in their destination; chunks of an open-ended stream have none.
    if (!openEnded) this.reader.streamOpened(totalBytes);
    t.counters.streamsAccepted++;
    try {
      t.deliverStream(s);
    } catch (err) {
      s.abort('E_INTERNAL', `the 'stream' listener threw: ${err instanceof Error ? err.message : String(err)}`);
      // A throwing listener is a bug in the consumer: surface it like any listener exception.
      process.nextTick(() => {
        throw err;
      });
    }
  }

  private onCredit(id: number, limit: number): void {
    const s = this.outgoing.get(id);
    if (s === undefined) {
      // A stream that finished or failed here meanwhile: the credit is stale.
      if (!this.isStale(id, this.nextStreamId - 2, true)) throw new CwasiError('E_BAD_DESCRIPTOR', `CREDIT for stream ${id}, which this node never opened`);
      return;
    }
    // Bound: a credit only grows and never passes the stream's declared length.
    if (limit < s.allowed || limit > s.totalBytes) throw new CwasiError('E_BAD_DESCRIPTOR', `CREDIT of ${limit} for stream ${id} (credit ${s.allowed}, ${s.totalBytes} bytes)`);
    s.onCredit(limit);
  }

  private onAbort(id: number, code: string, message: string): void {
    const err = new CwasiError(isErrorCode(code) ? code : 'E_INTERNAL', message, { peer: this.peer, streamId: id, remote: true });
    if (id === 0) {
      this.fail(netError(`${this.describe()} closed the connection: ${code}: ${message}`, { ...this.details('peer-abort'), code }));
      return;
    }
    const out = this.outgoing.get(id);
    if (out !== undefined) {
      this.writer.drop(out);
      out.fail(err);
      return;
    }
    const inc = this.incoming.get(id);
    if (inc !== undefined) {
      this.reader.streamGone(inc);
      inc.fail(err);
    }
    // Otherwise both sides gave up on it at once: nothing to do.
  }

  // ── StreamLink: what the streams ask of the connection ──

  sendAbort(id: number, err: CwasiError): void {
    this.writer.writeFrame(encodeAbort(id, err.code, err.message));
  }

  sendCredit(id: number, limit: number): void {
    this.writer.writeFrame(encodeCredit(id, limit));
  }

  sendEnd(id: number): void {
    this.writer.writeFrame(encodeFrame(FRAME_TYPE.END, 0, id));
  }

  schedule(s: OutgoingStream): void {
    this.writer.schedule(s);
  }

  holdBuffered(n: number): void {
    this.reader.holdBuffered(n);
  }

  releaseBuffered(n: number): void {
    this.reader.releaseBuffered(n);
  }

  readPendingInto(s: IncomingStream): boolean {
    return this.reader.directStream === s;
  }

  streamClosed(direction: 'in' | 'out', id: number, ok: boolean): void {
    (direction === 'in' ? this.incoming : this.outgoing).delete(id);
    if (ok) this.owner.counters.streamsCompleted++;
    else this.owner.counters.streamsFailed++;
  }

  /** Open a stream to the peer (after the connection is authenticated). */
  /** `totalBytes` null: an open-ended stream (protocol.ts). */
  async openStream(meta: StreamMeta, metaBytes: Uint8Array, totalBytes: number | null): Promise<OutgoingStream> {
    await this.writer.whenWritable();
    if (this.failure !== null) throw this.failure.code === 'E_NET' ? this.failure : netError(this.failure.message, this.details('closed'), this.failure);
    // Bound: ids are u32; a connection that used them all is retired (the keepalive timer closes it
    // once its streams finish) and the next use dials again.
    if (this.nextStreamId > 0xffffffff || this.retiring) {
      this.retiring = true;
      this.owner.forget(this);
      throw netError(`connection to ${this.describe()} ran out of stream ids`, this.details('ids-exhausted'));
    }
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s = new OutgoingStream(this, id, meta, totalBytes);
    this.outgoing.set(id, s);
    this.owner.counters.streamsOpened++;
    this.writer.writeFrame(encodeOpen(id, totalBytes, metaBytes));
    return s;
  }

  // ── Liveness and failure ──

  /** This event loop was blocked: what the peer sent has not been read yet, so restart the receive clock. */
  restartReceiveClock(now: number): void {
    this.reader.lastReceiveAt = now;
  }

  /** Called by the transport's timer. */
  keepalive(now: number, intervalMs: number, timeoutMs: number): void {
    if (this.state !== 'open') return;
    if (this.retiring && this.activeStreams === 0) {
      this.close('retired after using every stream id');
      return;
    }
    const r = this.reader;
    if (r.paused) {
      // Not reading: silence is our doing, not the peer's.
      r.lastReceiveAt = now;
    } else if (now - r.lastReceiveAt > timeoutMs) {
      this.owner.counters.keepaliveTimeouts++;
      this.fail(netError(`${this.describe()} sent nothing for ${now - r.lastReceiveAt} ms (keepalive timeout ${timeoutMs} ms)`, this.details('keepalive')));
      return;
    }
    if (now - this.writer.lastSendAt >= intervalMs) {
      this.pingSentAt = performance.now();
      this.writer.writeFrame(encodeFrame(FRAME_TYPE.PING, 0, 0, new Uint8Array(PING_TOKEN_BYTES)));
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
    this.reader.stop();
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
    this.reader.releaseDirect();
    for (const s of [...this.outgoing.values()]) s.fail(streamErr);
    for (const s of [...this.incoming.values()]) s.fail(streamErr, false);
    this.writer.stop();
    if (wasHandshake) this.owner.onHandshakeFailed(this, err);
    this.owner.forget(this);
    this.ready.reject(err);
    if (wasOpen && !graceful) this.owner.notePeerLost(this.peer, streamErr);
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
