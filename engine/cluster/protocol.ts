// Control messages between engine nodes, carried by NATS request/reply as
// JSON. Types only: no behaviour lives in this file. Bulk data never travels
// here (NATS refuses messages over 1 MiB): payloads move over the Networked
// Buffer (engine/net/) as streams named by a transfer id; only payloads up to
// INLINE_MAX_BYTES ride inline (base64), e.g. a producer's 8-byte spec.
//
// Subjects (per cluster):
//   cwasi.<cluster>.node.<name>.deploy    DeployRequest  → DeployReply
//   cwasi.<cluster>.node.<name>.run       RunRequest     → RunReply
//   cwasi.<cluster>.node.<name>.release   ReleaseRequest → ReleaseReply
//   cwasi.<cluster>.node.<name>.cancel    CancelRequest  (no reply)
//   cwasi.<cluster>.node.<name>.ping      PingRequest    → PingReply (is this name taken?)
// KV buckets (JetStream):
//   cwasi_<cluster>_nodes       key node name  → NodeRecord   (TTL: a silent node ages out)
//   cwasi_<cluster>_functions   key function   → FunctionRecord

import type { ErrorRecord } from '../errors.js';
import type { IfcMode } from '../selection.js';
import type { LiveSend, StepTiming } from '../specs.js';

/** Payloads up to this size may travel inline in a control message. */
export const INLINE_MAX_BYTES = 64 * 1024;

export interface NodeRecord {
  name: string;
  /** Networked Buffer listener, host:port. */
  address: string;
  pid: number;
  startedAt: number;
  heartbeatAt: number;
  /** The period this node heartbeats at: readers judge its age against it (absent in older records). */
  heartbeatMs?: number;
  functions: string[];
  /**
   * Set in the node's tombstone, the last record it puts when it closes: the
   * only way a node leaves the view (a delete marker, which anyone with
   * access to the bucket can write, is ignored).
   */
  leftAt?: number;
}

export interface FunctionRecord {
  name: string;
  host: string;
  group: string;
  trusted: boolean;
  domain: string;
}

/** A function to deploy on another node: a bundled name or the module bytes (base64). */
export interface RemoteFunctionConfig {
  name: string;
  module: string;
  moduleBase64?: string;
  trusted?: boolean;
  domain?: string;
  replicas?: number;
  memoryMaxBytes?: number;
  stackBytes?: number;
  streamWindowBytes?: number;
}

/**
 * Every request but a ping names the incarnation of the node it is for: that
 * node's `startedAt` as its sealed record announces it. A node refuses a
 * request for another incarnation (answering `E_NET` with
 * `details: { reason: 'epoch', epoch }`), so a sealed request captured
 * before a restart cannot be replayed after it, when the restarted node's
 * replay cache is empty.
 */
export interface ToIncarnation {
  epoch?: number;
}

export interface DeployRequest extends ToIncarnation {
  type: 'deploy';
  functions: RemoteFunctionConfig[];
}

export type DeployReply =
  | { ok: true; functions: FunctionRecord[] }
  | { ok: false; error: ErrorRecord };

/** Where a remote step's input comes from. */
export type RemoteInput =
  | { kind: 'inline'; base64: string }
  /** A Networked Buffer stream that `from` sends (or already sent) under `transfer`. */
  | { kind: 'stream'; transfer: string; from: string; live?: true; windowBytes?: number }
  /** The output of an earlier run on the same node, still held there. */
  | { kind: 'held'; held: string }
  /** remote-kv: stored in Redis. */
  | { kind: 'kv'; url: string; key: string; len: number; chunks: number };

/** A destination for a remote step's output. */
export interface RemoteSend {
  node: string;
  address: string;
  transfer: string;
  /** Send the output as a live stream while it is written (an open-ended stream). */
  live?: LiveSend;
}

export interface RemoteOutput {
  /** Keep the output on the node for later runs there (returns a `held` id). */
  hold: boolean;
  /** Return the bytes to the requester: inline when small, else streamed under this transfer id. */
  returnTransfer?: string;
  /** Stream the output to other nodes. */
  sendTo: RemoteSend[];
  /** Store the output in Redis. */
  kv?: { url: string; key: string; ttlSeconds: number; chunkBytes: number };
}

export interface RunRequest extends ToIncarnation {
  type: 'run';
  /** The node that coordinates the invocation (where streams back go). */
  coordinator: string;
  coordinatorAddress: string;
  invocationId: number;
  /** Absolute deadline, ms since epoch. */
  deadline: number;
  steps: string[];
  inputs: RemoteInput[];
  output: RemoteOutput;
  guestCallMode?: IfcMode;
  /** W3C traceparent of the coordinating invocation (engine/trace/context.ts); ignored when it does not parse. */
  traceparent?: string;
}

export interface RunResultMeta {
  threadId: number;
  outputLength: number;
  timings: StepTiming[];
  held?: string;
  /** The output when it was small enough to ride inline. */
  inlineBase64?: string;
  kvChunks?: number;
  logs?: string[];
}

export type RunReply =
  | { ok: true; result: RunResultMeta }
  | { ok: false; error: ErrorRecord };

export interface ReleaseRequest extends ToIncarnation {
  type: 'release';
  held: string[];
}

export interface ReleaseReply {
  ok: true;
  released: number;
}

export interface CancelRequest extends ToIncarnation {
  type: 'cancel';
  coordinator: string;
  invocationId: number;
}

/** Asked by a node about to start under a name: a live holder of the name answers. */
export interface PingRequest extends ToIncarnation {
  type: 'ping';
}

export interface PingReply {
  ok: true;
  node: string;
  pid: number;
  startedAt: number;
}

export type ControlRequest = DeployRequest | RunRequest | ReleaseRequest | CancelRequest | PingRequest;
