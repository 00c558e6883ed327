// The one description of every option: its path as the caller writes it, the
// kind of value it takes, what it means, and (for a default that depends on
// the machine or on another option) how its default is found. The checks
// (check.ts), the known keys with their "did you mean" and the options table
// (table.ts) are all read from here; the default values are OPTION_DEFAULTS.

import { MAX_RING_BYTES, MIN_RING_BYTES } from '../ring/ring.js';
import { MAX_TOTAL_BYTES } from '../net/protocol.js';
import { MAX_KV_REPLICAS } from '../cluster/nats-cluster.js';
import { LIVENESS_BEATS } from '../cluster/registry.js';
import {
  boolean, bytesOrString, deadline, fn, name, object, oneOf, pemList, positive, positiveInt, string, stringOrList, whole, wholeOrInfinity, type Kind,
} from './kinds.js';

export interface OptionSpec {
  /** Dotted path inside the options object: `cluster.preAuth.total`. */
  readonly path: string;
  readonly kind: Kind;
  readonly meaning: string;
  /** The default as the table writes it, where OPTION_DEFAULTS has no value for the path (none, or computed). */
  readonly defaultText?: string;
  /** The value is a size in bytes (the table writes its default as 1 MiB, not 1048576). */
  readonly bytes?: boolean;
}

/** The options objects of the API: where each is given, and the prefix its errors put before a path. */
export interface OptionScope {
  readonly title: string;
  /** Before every path in an error (`close.force`); empty for Engine.create, whose options are the engine's own. */
  readonly prefix: string;
  readonly specs: readonly OptionSpec[];
}

const GiB = 2 ** 30;
/** A wasm32 memory addresses at most 4 GiB. */
const MAX_MEMORY_BYTES = 4 * GiB;
/** The per-function bound of the deployment schema (workflow/schema.ts). */
const MIN_MEMORY_BYTES = 1 << 20;
/** Redis refuses a string value over 512 MB. */
export const MAX_REDIS_CHUNK_BYTES = 512 * (1 << 20);
/** Largest maxQueue: every queued task holds a 4-byte cancel-board slot (worker/protocol.ts). */
export const MAX_QUEUE_LIMIT = 1_000_000;
/** Most worker threads. */
export const MAX_THREADS = 1024;

/** Thread counts are checked together (resolve.ts), so that every bad count gets one message. */
const threadCount: Kind = { type: 'number', rule: 'a number', plain: true, valid: (v) => typeof v === 'number' };
const threads: Kind = { type: 'number | { min, max }', rule: 'a number or { min, max }', plain: true, valid: (v) => typeof v === 'number' || object.valid(v) };
const natsReplicas: Kind = { type: 'number', rule: `an integer from 1 to ${MAX_KV_REPLICAS}`, valid: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_KV_REPLICAS };
const streamBytes: Kind = { type: 'number', rule: `a positive number up to ${MAX_TOTAL_BYTES}`, valid: (v) => positive.valid(v) && (v as number) <= MAX_TOTAL_BYTES };
const port = whole(0, 65535);
const secret: Kind = { ...bytesOrString, type: 'string | Uint8Array' };
const signal: Kind = { type: 'AbortSignal', rule: 'an AbortSignal', plain: true, valid: (v) => v instanceof AbortSignal };
const codes: Kind = { type: 'ErrorCode[]', rule: 'an array of error codes', valid: (v) => Array.isArray(v) && v.every((c) => typeof c === 'string') };
const nonNegative: Kind = { type: 'number', rule: 'a number of milliseconds ≥ 0', valid: (v) => typeof v === 'number' && v >= 0 };
const anyNumber: Kind = { type: 'number', rule: 'a number of milliseconds (or Infinity for none)', valid: (v) => typeof v === 'number' && !Number.isNaN(v) };

export const ENGINE_OPTIONS: readonly OptionSpec[] = [
  { path: 'threads', kind: threads, meaning: `Worker threads: a number (min = max) or bounds; whole numbers with 1 ≤ min ≤ max ≤ ${MAX_THREADS}`, defaultText: 'min = cores, max = 2 × cores' },
  { path: 'threads.min', kind: threadCount, meaning: 'Threads kept started', defaultText: 'cores' },
  { path: 'threads.max', kind: threadCount, meaning: 'Most threads', defaultText: 'max(min, 2 × cores)' },
  { path: 'maxQueue', kind: whole(0, MAX_QUEUE_LIMIT), meaning: 'Calls that may wait for a worker (in its call lane or the pool queue) before invoke() fails with E_QUEUE_FULL' },
  { path: 'maxPayloadBytes', kind: whole(1, MAX_MEMORY_BYTES, 'bytes'), bytes: true, meaning: 'Largest input, output or guest-call payload (the default is exported as `DEFAULT_MAX_PAYLOAD_BYTES`)' },
  { path: 'memoryMaxBytes', kind: whole(MIN_MEMORY_BYTES, MAX_MEMORY_BYTES, 'bytes'), bytes: true, meaning: 'Largest size a function memory may grow to' },
  { path: 'timeoutMs', kind: deadline, meaning: 'Default deadline of an invocation' },
  { path: 'functionsDir', kind: name, meaning: 'Folder of bundled functions: manifest.json and the .wasm files build.mjs writes', defaultText: "the package's dist/functions" },
  { path: 'hostName', kind: name, meaning: "This engine's host name in placements (cluster.name when in a cluster)" },
  { path: 'directInputBytes', kind: wholeOrInfinity(0, 'bytes'), bytes: true, meaning: "Inputs at least this large are written straight into the first function's memory; Infinity: never" },
  { path: 'callLane', kind: boolean, meaning: 'Calls of one local function, or of a workflow run as one task, through invoke() and map() (inputs under directInputBytes, no modes or traceparent) go through a shared-memory call lane per worker instead of a pool message; false: every call is a pool task' },
  { path: 'local', kind: object, meaning: 'Local Buffer settings' },
  { path: 'local.transport', kind: oneOf('descriptor', 'stream'), meaning: 'Local Buffer form' },
  { path: 'local.ringBytes', kind: whole(MIN_RING_BYTES, MAX_RING_BYTES, 'bytes'), bytes: true, meaning: "Stream ring size, rounded up to a power of two; the 'stream' transport's rings are at least 8 MiB (LOCAL_STREAM_RING_BYTES in cwasi/primitives: DATA frames of 2 MiB), this when larger" },
  { path: 'local.sameWorker', kind: boolean, meaning: 'Run a sequential local edge (one out-edge, one in-edge) in one worker, the host copying the output across memories once; false keeps every local edge on a ring between two workers' },
  { path: 'redis', kind: object, meaning: 'Redis for the remote-kv mode' },
  { path: 'redis.url', kind: name, meaning: 'Redis server URL', defaultText: 'REDIS_URL, else redis://127.0.0.1:6379' },
  { path: 'redis.ttlSeconds', kind: whole(1, Number.MAX_SAFE_INTEGER, 'seconds'), meaning: 'Lifetime of a stored payload' },
  { path: 'redis.chunkBytes', kind: whole(1, MAX_REDIS_CHUNK_BYTES, 'bytes'), bytes: true, meaning: 'Largest value written at once' },
  { path: 'cluster', kind: object, meaning: 'Join a cluster of engine nodes (NATS JetStream registry, Networked Buffer between nodes)', defaultText: 'none' },
  { path: 'cluster.nats', kind: stringOrList, meaning: 'NATS server URL, a comma-separated list or an array (a NATS cluster); required', defaultText: 'none' },
  { path: 'cluster.natsReplicas', kind: natsReplicas, meaning: "Copies of each registry KV bucket on a JetStream cluster" },
  { path: 'cluster.natsAuth', kind: object, meaning: "Credentials and TLS of the NATS connection (the server's own auth)", defaultText: 'none' },
  { path: 'cluster.natsAuth.user', kind: string, meaning: 'NATS user', defaultText: 'none' },
  { path: 'cluster.natsAuth.pass', kind: string, meaning: 'Password of cluster.natsAuth.user', defaultText: 'none' },
  { path: 'cluster.natsAuth.token', kind: string, meaning: 'NATS token', defaultText: 'none' },
  { path: 'cluster.natsAuth.nkeySeed', kind: string, meaning: 'NKey user seed ("SU…")', defaultText: 'none' },
  { path: 'cluster.natsAuth.nkeySeedFile', kind: name, meaning: 'File holding the NKey user seed', defaultText: 'none' },
  { path: 'cluster.natsAuth.credsFile', kind: name, meaning: '.creds file (JWT and NKey seed)', defaultText: 'none' },
  { path: 'cluster.natsAuth.tls', kind: object, meaning: "TLS to the server ({} for the system's CAs)", defaultText: 'none' },
  { path: 'cluster.natsAuth.tls.caFile', kind: name, meaning: 'CA that signed the server certificate (PEM file)', defaultText: 'none' },
  { path: 'cluster.natsAuth.tls.certFile', kind: name, meaning: 'Client certificate (PEM file); needs keyFile', defaultText: 'none' },
  { path: 'cluster.natsAuth.tls.keyFile', kind: name, meaning: 'Key of certFile (PEM file)', defaultText: 'none' },
  { path: 'cluster.cluster', kind: name, meaning: 'Cluster name: nodes of one cluster share registry buckets and subjects' },
  { path: 'cluster.name', kind: name, meaning: "This node's name, 1-64 letters, digits, _ . -; the engine's host name", defaultText: '<hostname>-<pid>' },
  { path: 'cluster.listen', kind: string, meaning: 'Networked Buffer listener, "host:port" ([v6]:port; port 0 picks a free one)' },
  { path: 'cluster.secret', kind: secret, meaning: 'The cluster secret, at least 16 bytes', defaultText: 'cluster.secretFile, else CWASI_SECRET' },
  { path: 'cluster.secretFile', kind: name, meaning: 'File holding the cluster secret', defaultText: 'none' },
  { path: 'cluster.tls', kind: object, meaning: 'Networked Buffer over mutual TLS', defaultText: 'none' },
  { path: 'cluster.tls.key', kind: bytesOrString, meaning: "This node's private key (PEM)", defaultText: 'none' },
  { path: 'cluster.tls.cert', kind: bytesOrString, meaning: "This node's certificate (PEM)", defaultText: 'none' },
  { path: 'cluster.tls.ca', kind: pemList, meaning: "The cluster CA that signed every node's certificate", defaultText: 'none' },
  { path: 'cluster.tls.verifyHostname', kind: boolean, meaning: "Check the server certificate's name against the dialled host", defaultText: 'true' },
  { path: 'cluster.heartbeatMs', kind: positive, meaning: 'Period of this node\'s heartbeat in the registry' },
  { path: 'cluster.staleMs', kind: positive, meaning: 'A node silent this long is dead', defaultText: `${LIVENESS_BEATS} × cluster.heartbeatMs` },
  { path: 'cluster.preAuth', kind: object, meaning: 'Admission of peers that have not yet proved the secret' },
  { path: 'cluster.preAuth.perAddress', kind: positive, meaning: 'Connections in the handshake at once from one address' },
  { path: 'cluster.preAuth.total', kind: positive, meaning: 'Connections in the handshake at once, all addresses together' },
  { path: 'cluster.preAuth.timeoutMs', kind: positive, meaning: 'An accepted connection must authenticate within this long' },
  { path: 'guestCalls', kind: object, meaning: 'Limits on calls started from inside functions (status -5 and E_GUEST_CALL beyond them)' },
  { path: 'guestCalls.maxDepth', kind: positiveInt, meaning: 'Deepest chain of nested guest calls' },
  { path: 'guestCalls.maxInFlightPerInvocation', kind: positiveInt, meaning: 'Calls one invocation may have in flight' },
  { path: 'guestCalls.maxInFlight', kind: positiveInt, meaning: 'Calls the whole engine may have in flight' },
];

export const MAP_OPTIONS: readonly OptionSpec[] = [
  { path: 'concurrency', kind: positiveInt, meaning: 'Inputs in flight or waiting to be consumed at once', defaultText: "2 × the engine's maximum threads" },
  { path: 'ordered', kind: boolean, meaning: 'Yield results in input order, else as they finish' },
  { path: 'signal', kind: signal, meaning: 'Aborts the run (E_ABORTED)', defaultText: 'none' },
  { path: 'onError', kind: oneOf('continue', 'stop'), meaning: "'continue': a failed input is yielded as { error }; 'stop': the first failure is the last result" },
  { path: 'retries', kind: whole(0, Number.MAX_SAFE_INTEGER), meaning: 'Extra attempts for a failure whose code is in retryOn' },
  { path: 'retryOn', kind: codes, meaning: 'Codes worth retrying', defaultText: 'RETRYABLE_CODES' },
  { path: 'retryDelayMs', kind: nonNegative, meaning: 'Longest wait before a retry; one also starts when another input settles' },
  { path: 'timeoutMs', kind: anyNumber, meaning: 'Deadline of each attempt', defaultText: "the engine's timeoutMs" },
  { path: 'modes', kind: object, meaning: 'Force modes, as for invoke()', defaultText: 'none' },
  { path: 'onSettled', kind: fn, meaning: 'Called when an input settles, before its result is yielded', defaultText: 'none' },
];

export const CLOSE_OPTIONS: readonly OptionSpec[] = [
  { path: 'timeoutMs', kind: nonNegative, meaning: 'Wait at most this long for invocations in flight, then end them with E_CLOSED', defaultText: 'wait for them' },
  { path: 'force', kind: boolean, meaning: 'End invocations in flight at once with E_CLOSED' },
];

export const NET_OPTIONS: readonly OptionSpec[] = [
  { path: 'secret', kind: secret, meaning: 'The cluster secret (≥ 16 bytes); never sent', defaultText: 'required' },
  { path: 'nodeName', kind: name, meaning: "This node's name, authenticated by the handshake", defaultText: 'required' },
  { path: 'host', kind: name, meaning: 'Address to listen on', defaultText: 'loopback' },
  { path: 'port', kind: port, meaning: 'Port to listen on; 0 picks a free one' },
  { path: 'tls', kind: object, meaning: 'Mutual TLS with a cluster CA under the handshake', defaultText: 'none' },
  { path: 'handshakeTimeoutMs', kind: positive, meaning: 'A dialled peer must complete the handshake within this long' },
  { path: 'preAuthTimeoutMs', kind: positive, meaning: 'An accepted connection must authenticate within this long', defaultText: 'handshakeTimeoutMs if given, else 2000' },
  { path: 'maxStreamBytes', kind: streamBytes, bytes: true, meaning: 'Largest stream accepted or opened' },
  { path: 'keepaliveIntervalMs', kind: positive, meaning: 'Send a PING after this long without sending' },
  { path: 'keepaliveTimeoutMs', kind: positive, meaning: 'Fail a connection after this long without receiving; longer than keepaliveIntervalMs' },
  { path: 'maxBufferedBytes', kind: positive, bytes: true, meaning: 'Bytes per connection held for streams without a destination' },
  { path: 'maxPendingHandshakes', kind: positive, meaning: 'Accepted connections in the handshake at once' },
  { path: 'maxPendingPerAddress', kind: positive, meaning: 'Accepted connections in the handshake at once from one address' },
  { path: 'localAddress', kind: string, meaning: 'Source IP address of dialled connections', defaultText: "the OS's choice" },
  { path: 'maxIncomingStreams', kind: positive, meaning: 'Incoming streams open at once per connection' },
];

export const SCOPES = {
  engine: { title: 'Engine.create(options)', prefix: '', specs: ENGINE_OPTIONS },
  map: { title: 'engine.map(target, inputs, options)', prefix: 'map.', specs: MAP_OPTIONS },
  close: { title: 'engine.close(options)', prefix: 'close.', specs: CLOSE_OPTIONS },
  net: { title: 'NetTransport.listen(options)', prefix: '', specs: NET_OPTIONS },
} as const satisfies Record<string, OptionScope>;

export type ScopeName = keyof typeof SCOPES;
