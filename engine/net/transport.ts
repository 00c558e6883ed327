// The Networked Buffer data plane: authenticated, multiplexed TCP streams
// between engine nodes. This file is the listener and the dialler
// (NetTransport) and the module's public face; the rest is split by concern:
//
//   protocol.ts          the wire format (types and byte tables only)
//   frames.ts            frame encoding and the incremental parser
//   auth.ts, identity.ts the handshake, and certificate names under TLS
//   options.ts           options, bounds, defaults, the public types
//   connection.ts        one connection: handshake, streams, keepalive, failure
//   connection-reader.ts socket reads, DATA placement, backpressure
//   connection-writer.ts control frames and the DATA pump
//   outgoing-stream.ts   the sending end of a stream
//   incoming-stream.ts   the receiving end, and who owns its destination
//   stream-link.ts       the narrow interface streams use to reach their connection
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
// streams to A use two different connections. Node's net.Server has no
// `onread` option, so an accepted socket is re-created around its native
// handle (`adoptWithOnread`); if that is not possible, or with TLS, the
// socket is read with 'data' events (connection-reader.ts).
//
// THREADING. Everything here runs on one event loop (the main thread of a
// node); no method may be called from another thread. Destinations and
// sources may be views of shared memory that worker threads also see; the
// transport only reads a source between write() and its resolution and only
// writes a destination between receiveInto() and its settlement.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { CwasiError } from '../errors.js';
import { checkNodeName, checkSecret } from './auth.js';
import { Connection, type ConnectionOwner } from './connection.js';
import type { ReadMode } from './connection-reader.js';
import { encodeMeta } from './frames.js';
import { formatAddress, parseAddress } from './helpers.js';
import { checkOwnCertificate } from './identity.js';
import type { IncomingStream } from './incoming-stream.js';
import {
  WRITE_HIGH_WATER,
  newCounters,
  resolveOptions,
  type Counters,
  type NetAddress,
  type NetConnection,
  type NetStats,
  type NetTlsOptions,
  type NetTransportEvents,
  type NetTransportOptions,
  type ResolvedOptions,
} from './options.js';
import type { OutgoingStream } from './outgoing-stream.js';
import { PreAuthGate, addressKey, type PreAuthSlot } from './preauth.js';
import type { StreamMeta } from './protocol.js';

export {
  HANDSHAKE_READ_BYTES,
  MAX_WRITE_BACKLOG,
  READ_BUFFER_BYTES,
  WRITE_HIGH_WATER,
  type NetAddress,
  type NetConnection,
  type NetStats,
  type NetTlsOptions,
  type NetTransportEvents,
  type NetTransportOptions,
} from './options.js';
export { parseAddress } from './helpers.js';
export { Connection } from './connection.js';
export { IncomingStream, type DirectChunks } from './incoming-stream.js';
export { OutgoingStream } from './outgoing-stream.js';

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

// ── Transport ───────────────────────────────────────────────────────────────

export class NetTransport extends EventEmitter<NetTransportEvents> implements ConnectionOwner {
  readonly nodeName: string;
  /** Where this node listens. */
  readonly address: NetAddress;
  /** @internal */ readonly secret: Uint8Array;
  /** @internal */ readonly options: ResolvedOptions;
  /** @internal */ readonly counters: Counters = newCounters();

  private readonly server: net.Server;
  private readonly tlsOptions: NetTlsOptions | undefined;
  /** Every connection, authenticated or not. */
  private readonly connections = new Set<Connection>();
  /** Dialled connections by "host:port" (lower case), shared by concurrent connect() calls. */
  private readonly peers = new Map<string, { conn: Connection; promise: Promise<Connection> }>();
  /** Pre-auth slots (preauth.ts): of accepted connections in the handshake, and of TLS sockets by "ip:port" until their TLS handshake ends. */
  private readonly gate: PreAuthGate;
  private readonly slots = new Map<Connection, PreAuthSlot>();
  private readonly tlsSlots = new Map<string, PreAuthSlot>();
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
    this.options = resolveOptions(opts);
    this.gate = new PreAuthGate(this.options, this.counters);
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
        handshakeTimeout: this.options.preAuthTimeoutMs,
      }, (socket) => this.onAccept(socket, 'data'))
      : net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.onAccept(socket, 'onread'));
    if (opts.tls) this.guardTls(this.server as tls.Server);
    // The keepalive clock; checks every connection a few times per interval.
    const tickMs = Math.max(5, Math.min(this.options.keepaliveIntervalMs, this.options.keepaliveTimeoutMs / 4));
    this.timer = setInterval(() => this.tick(tickMs), tickMs);
    this.timer.unref();
  }

  /**
   * Known peers' hosts (their listen addresses; a cluster's live nodes): when
   * pre-auth slots are scarce, connections from these addresses take the
   * slots kept for peers (preauth.ts), so a flood from other addresses does
   * not lock them out. Asked only while the unreserved slots are all held.
   */
  preferPeers(hosts: () => Iterable<string>): void {
    this.gate.preferred = (key) => {
      for (const h of hosts()) if (net.isIP(h) !== 0 && addressKey(h) === key) return true;
      return false;
    };
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
   * listener. Waits while the connection's send queue is full. `totalBytes`
   * null opens an open-ended stream: its length is what was written when
   * `end()` is called; the peer reads it with `receiveChunks`.
   */
  async openStream(peerAddress: string, meta: StreamMeta, totalBytes: number | null): Promise<OutgoingStream> {
    this.assertOpen();
    // Bound: the declared length, checked before anything is sent.
    if (totalBytes !== null && (!Number.isSafeInteger(totalBytes) || totalBytes < 0)) throw new CwasiError('E_CONFIG', `totalBytes must be a non-negative integer, got ${String(totalBytes)}`);
    if (totalBytes !== null && totalBytes > this.options.maxStreamBytes) throw new CwasiError('E_PAYLOAD_TOO_LARGE', `a stream of ${totalBytes} bytes exceeds maxStreamBytes ${this.options.maxStreamBytes}`);
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
    return { ...this.counters, connectionsActive: active, queuedBytes: queued, bufferedBytes: buffered, preAuthPending: this.gate.pending };
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
        const local = this.options.localAddress ?? loopbackSource(this.address.host, host);
        const common = { host, port, noDelay: true, writableHighWaterMark: WRITE_HIGH_WATER, ...(local !== undefined ? { localAddress: local } : {}) };
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
    let slot: PreAuthSlot | null | undefined;
    if (mode === 'data' && this.tlsOptions) {
      // TLS: the slot was taken when the TCP connection arrived (guardTls).
      slot = this.tlsSlots.get(remote);
      this.tlsSlots.delete(remote);
    }
    if (this.closePromise !== null) {
      socket.destroy();
      return;
    }
    // Bound: unauthenticated connections held at once, per address and overall (preauth.ts).
    slot ??= this.gate.admit(socket.remoteAddress ?? '?');
    if (slot === null || slot.released) {
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
    this.slots.set(conn, slot);
    this.connections.add(conn);
    // The deadline runs from arrival (under TLS it covers the TLS handshake too).
    const deadline = Math.max(1, this.options.preAuthTimeoutMs - (Date.now() - slot.admittedAt));
    conn.attach(sock, mode, deadline);
  }

  /**
   * Under TLS the listener sees a connection only after its TLS handshake, so
   * the pre-auth slot is taken when the TCP connection arrives and released
   * when it closes (or authenticates); TLS failures are counted here.
   */
  private guardTls(server: tls.Server): void {
    server.on('connection', (raw: net.Socket) => {
      if (this.closePromise !== null) return;
      const slot = this.gate.admit(raw.remoteAddress ?? '?');
      if (slot === null) {
        raw.destroy();
        return;
      }
      const key = formatAddress(raw.remoteAddress ?? '?', raw.remotePort ?? 0);
      this.tlsSlots.set(key, slot);
      raw.once('close', () => {
        this.gate.release(slot);
        if (this.tlsSlots.get(key) === slot) this.tlsSlots.delete(key);
      });
    });
    server.on('tlsClientError', (err: Error & { code?: string }, sock: tls.TLSSocket) => {
      const key = formatAddress(sock.remoteAddress ?? '?', sock.remotePort ?? 0);
      const slot = this.tlsSlots.get(key);
      if (slot === undefined || slot.released) return;
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') this.counters.preAuthTimeouts++;
      else this.counters.preAuthBadAuth++;
    });
  }

  /** @internal A connection authenticated. */
  onAuthenticated(conn: Connection): void {
    this.releaseSlot(conn);
    this.counters.connectionsOpened++;
  }

  /** @internal A connection failed before authenticating. */
  onHandshakeFailed(conn: Connection, err: CwasiError): void {
    this.releaseSlot(conn);
    if (conn.role === 'server' && this.closing) {
      // closed by close(), not refused
    } else if (conn.role === 'server') {
      this.counters.authFailures++;
      if (err.details?.reason === 'handshake-timeout') this.counters.preAuthTimeouts++;
      else this.counters.preAuthBadAuth++;
    } else if (err.code === 'E_AUTH') {
      this.counters.authFailures++;
    }
  }

  private releaseSlot(conn: Connection): void {
    const slot = this.slots.get(conn);
    if (slot === undefined) return;
    this.slots.delete(conn);
    this.gate.release(slot);
  }

  /** @internal */
  hasStreamConsumer(): boolean {
    return this.listenerCount('stream') > 0;
  }

  /** @internal */
  deliverStream(s: IncomingStream): void {
    this.emit('stream', s);
  }

  /** @internal */
  notePaused(peer: string, bufferedBytes: number): void {
    this.emit('readPaused', { peer, bufferedBytes });
  }

  /** @internal */
  notePeerLost(peer: string, error: CwasiError): void {
    this.emit('peerLost', { peer, error });
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
      if (late) c.restartReceiveClock(now);
      c.keepalive(now, this.options.keepaliveIntervalMs, this.options.keepaliveTimeoutMs);
    }
  }
}

/**
 * A listener on one loopback address (say 127.0.0.2) dials loopback peers
 * from that address, not from the OS's default 127.0.0.1: its peers then see
 * it under the address its record announces (preferPeers). Elsewhere the OS
 * chooses, which on a one-address host is the listen address anyway.
 */
function loopbackSource(listenHost: string, peerHost: string): string | undefined {
  const loop = (h: string) => (net.isIPv4(h) && h.startsWith('127.')) || h === '::1';
  if (!loop(listenHost) || !loop(peerHost) || net.isIPv4(listenHost) !== net.isIPv4(peerHost)) return undefined;
  return listenHost;
}
