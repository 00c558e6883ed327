// The Networked Buffer transport's options, bounds and public types
// (transport.ts re-exports them). The options are checked and resolved once,
// at construction, by engine/options/ (NET_OPTIONS).

import type { CwasiError } from '../errors.js';
import { resolveNetOptions, type ResolvedNetOptions } from '../options/index.js';
import type { IncomingStream } from './incoming-stream.js';

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
export const EXACT_READS_MIN = 64 * 1024;
/** How long a graceful close waits for queued frames to flush before destroying the socket. */
export const CLOSE_GRACE_MS = 1000;

// The defaults of the options below: OPTION_DEFAULTS.net (engine/options/defaults.ts).

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
  /** Dialling: the peer must complete the handshake within this long. Also the pre-auth deadline when preAuthTimeoutMs is not given. */
  handshakeTimeoutMs?: number;
  /** An accepted connection must authenticate within this long (TLS handshake included); default handshakeTimeoutMs if given, else 2000. */
  preAuthTimeoutMs?: number;
  /** Largest stream accepted or opened. */
  maxStreamBytes?: number;
  /** Send a PING after this long without sending anything. */
  keepaliveIntervalMs?: number;
  /** Fail a connection after this long without receiving anything while reading. */
  keepaliveTimeoutMs?: number;
  /** Bytes per connection held for streams whose consumer has not called receiveInto; reading pauses beyond. */
  maxBufferedBytes?: number;
  /** Accepted connections allowed in the handshake at once, all addresses together; more are destroyed on arrival. */
  maxPendingHandshakes?: number;
  /** Accepted connections allowed in the handshake at once from one address (IPv4, or IPv6 /64); more are destroyed on arrival. */
  maxPendingPerAddress?: number;
  /** Source address for dialled connections (default: chosen by the OS). */
  localAddress?: string;
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
  /** Of bytesReceived: payload bytes a socket read put straight where they belong (a stream's destination, a live stream's ring); the rest was copied from the read buffer. */
  bytesLandedDirect: number;
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
  /** Accepted connections given a pre-auth slot (preauth.ts), and those holding one now. */
  preAuthAccepted: number;
  preAuthPending: number;
  /** Accepted connections destroyed on arrival: their address held maxPendingPerAddress slots / all maxPendingHandshakes slots were held. */
  preAuthRefusedPerAddress: number;
  preAuthRefusedGlobal: number;
  /** Admitted connections that did not authenticate within preAuthTimeoutMs. */
  preAuthTimeouts: number;
  /** Admitted connections that failed to authenticate otherwise (wrong proof, garbage, closed before proving, TLS refused). */
  preAuthBadAuth: number;
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

// ── Resolved options and counters (internal) ────────────────────────────────

/** Every option with its default filled in (engine/options/resolve.ts). */
export type ResolvedOptions = ResolvedNetOptions;

/** The cumulative part of NetStats (the gauges are summed over connections when stats() is called). */
export type Counters = Omit<NetStats, 'connectionsActive' | 'queuedBytes' | 'bufferedBytes' | 'preAuthPending'>;

export function newCounters(): Counters {
  return {
    bytesSent: 0,
    bytesReceived: 0,
    bytesLandedDirect: 0,
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
    preAuthAccepted: 0,
    preAuthRefusedPerAddress: 0,
    preAuthRefusedGlobal: 0,
    preAuthTimeouts: 0,
    preAuthBadAuth: 0,
  };
}

/** Check every option and fill in the defaults; E_CONFIG on a bad value. */
export function resolveOptions(opts: NetTransportOptions): ResolvedOptions {
  return resolveNetOptions(opts);
}
