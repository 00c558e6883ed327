// Options checked (check.ts) and resolved: every default filled in from
// OPTION_DEFAULTS, and the checks that involve more than one value (thread
// bounds, keepalive timeout against interval) made. Each API entry point
// calls one function here and works with its result only.

import { availableParallelism } from 'node:os';
import net from 'node:net';
import { CwasiError, type ErrorCode } from '../errors.js';
import type { EngineOptions } from '../engine.js';
import type { MapOptions } from '../batch/map.js';
import type { CloseOptions } from '../close.js';
import type { NetTransportOptions } from '../net/options.js';
import type { ClusterOptions } from '../cluster/member.js';
import { checkOptions } from './check.js';
import { listenAddress, nodeName } from './cluster.js';
import { OPTION_DEFAULTS, filled, type GuestCallLimits } from './defaults.js';
import { optionError, shown } from './kinds.js';
import { MAX_THREADS } from './spec.js';

export interface ResolvedEngineOptions {
  minThreads: number;
  maxThreads: number;
  maxQueue: number;
  maxPayloadBytes: number;
  memoryMaxBytes: number;
  timeoutMs: number;
  /** Undefined: the package's own bundled functions. */
  functionsDir: string | undefined;
  hostName: string;
  directInputBytes: number;
  callLane: boolean;
  local: { transport: 'descriptor' | 'stream'; ringBytes: number; sameWorker: boolean };
  redis: { url: string; ttlSeconds: number; chunkBytes: number };
  guestCalls: GuestCallLimits;
  /** The cluster options with the node's name filled in, or undefined without a cluster. */
  cluster: (ClusterOptions & { name: string }) | undefined;
}

/** Thread bounds: a number is min = max; else min defaults to the cores, max to twice that (at least min). */
function threadBounds(t: EngineOptions['threads']): { minThreads: number; maxThreads: number } {
  const cores = availableParallelism();
  const minThreads = typeof t === 'number' ? t : t?.min ?? cores;
  const maxThreads = typeof t === 'number' ? t : t?.max ?? Math.max(minThreads, 2 * cores);
  const whole = Number.isSafeInteger(minThreads) && Number.isSafeInteger(maxThreads);
  if (!(whole && minThreads >= 1 && maxThreads >= minThreads && maxThreads <= MAX_THREADS)) {
    throw optionError('threads', `must be whole numbers with 1 <= min <= max <= ${MAX_THREADS}, got min ${minThreads}, max ${maxThreads} (invalid thread bounds)`);
  }
  return { minThreads, maxThreads };
}

/** Engine.create's options, checked and complete; E_CONFIG naming the first option that is unknown or wrong. */
export function resolveEngineOptions(o: EngineOptions): ResolvedEngineOptions {
  checkOptions(o, 'engine');
  const d = OPTION_DEFAULTS.engine;
  const cluster = o.cluster === undefined ? undefined : { ...o.cluster, name: nodeName(o.cluster.name) };
  // Parsed now, so that a bad address fails before a thread starts or NATS is dialled.
  if (cluster !== undefined) listenAddress(cluster.listen);
  return {
    ...threadBounds(o.threads),
    maxQueue: o.maxQueue ?? d.maxQueue,
    maxPayloadBytes: o.maxPayloadBytes ?? d.maxPayloadBytes,
    memoryMaxBytes: o.memoryMaxBytes ?? d.memoryMaxBytes,
    timeoutMs: o.timeoutMs ?? d.timeoutMs,
    functionsDir: o.functionsDir,
    hostName: cluster?.name ?? o.hostName ?? d.hostName,
    directInputBytes: o.directInputBytes ?? d.directInputBytes,
    callLane: o.callLane ?? d.callLane,
    local: filled(d.local, o.local),
    redis: filled({ ...d.redis, url: process.env.REDIS_URL ?? d.redis.url }, o.redis),
    guestCalls: resolveGuestCallLimits(o.guestCalls),
    cluster,
  };
}

/** Guest-call limits with the defaults filled in; E_CONFIG naming guestCalls.<limit> unless each is a positive integer. */
export function resolveGuestCallLimits(given: Partial<GuestCallLimits> | undefined): GuestCallLimits {
  if (given !== undefined) checkOptions({ guestCalls: given }, 'engine');
  return filled(OPTION_DEFAULTS.engine.guestCalls, given);
}

export interface ResolvedMapOptions {
  concurrency: number;
  ordered: boolean;
  onError: 'continue' | 'stop';
  retries: number;
  retryDelayMs: number;
  retryOn: ReadonlySet<ErrorCode>;
}

/** engine.map()'s options with the defaults filled in; E_CONFIG naming map.<option> when one is unknown or wrong. */
export function resolveMapOptions(o: MapOptions, defaultConcurrency: number, retryable: readonly ErrorCode[]): ResolvedMapOptions {
  checkOptions(o, 'map');
  const d = OPTION_DEFAULTS.map;
  return {
    concurrency: o.concurrency ?? defaultConcurrency,
    ordered: o.ordered ?? d.ordered,
    onError: o.onError ?? d.onError,
    retries: o.retries ?? d.retries,
    retryDelayMs: o.retryDelayMs ?? d.retryDelayMs,
    retryOn: new Set(o.retryOn ?? retryable),
  };
}

/** How long engine.close() waits for calls in flight (ms; 0 with force), undefined for "until they finish". */
export function resolveCloseLimit(o: CloseOptions): number | undefined {
  checkOptions(o, 'close');
  if (o.force === true) return 0;
  return o.timeoutMs === undefined || o.timeoutMs === Number.POSITIVE_INFINITY ? undefined : o.timeoutMs;
}

/**
 * One invocation's deadline: any number (one already spent, zero or less,
 * fails that invocation with E_TIMEOUT), but a number: NaN would be no deadline.
 */
export function checkInvocationTimeout(v: unknown): void {
  if (typeof v !== 'number' || Number.isNaN(v)) throw optionError('timeoutMs', `must be a number of milliseconds (or Infinity for none), got ${shown(v)}`);
}

export type ResolvedNetOptions = Required<Omit<NetTransportOptions, 'secret' | 'nodeName' | 'host' | 'tls' | 'localAddress'>> & { localAddress: string | undefined };

/** The Networked Buffer transport's options with the defaults filled in; E_CONFIG naming the first bad one. */
export function resolveNetOptions(o: NetTransportOptions): ResolvedNetOptions {
  checkOptions(o, 'net');
  const d = OPTION_DEFAULTS.net;
  const r: ResolvedNetOptions = {
    port: o.port ?? d.port,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? d.handshakeTimeoutMs,
    preAuthTimeoutMs: o.preAuthTimeoutMs ?? o.handshakeTimeoutMs ?? d.preAuthTimeoutMs,
    maxStreamBytes: o.maxStreamBytes ?? d.maxStreamBytes,
    keepaliveIntervalMs: o.keepaliveIntervalMs ?? d.keepaliveIntervalMs,
    keepaliveTimeoutMs: o.keepaliveTimeoutMs ?? d.keepaliveTimeoutMs,
    maxBufferedBytes: o.maxBufferedBytes ?? d.maxBufferedBytes,
    maxPendingHandshakes: o.maxPendingHandshakes ?? d.maxPendingHandshakes,
    maxPendingPerAddress: o.maxPendingPerAddress ?? d.maxPendingPerAddress,
    maxIncomingStreams: o.maxIncomingStreams ?? d.maxIncomingStreams,
    localAddress: o.localAddress,
  };
  if (o.localAddress !== undefined && net.isIP(o.localAddress) === 0) throw optionError('localAddress', `must be an IP address, got ${shown(o.localAddress)}`);
  if (r.keepaliveTimeoutMs <= r.keepaliveIntervalMs) {
    throw new CwasiError('E_CONFIG', 'keepaliveTimeoutMs must be longer than keepaliveIntervalMs', { option: 'keepaliveTimeoutMs' });
  }
  return r;
}
