// An engine's membership in a cluster: the Networked Buffer listener, the
// NATS registry (engine/cluster/registry.ts) and the control subjects of
// engine/cluster/protocol.ts.
//
// As a requester (the node coordinating an invocation) it asks other nodes to
// deploy functions and to run steps, streams payloads to them and receives
// theirs. As a server it answers those requests with its own engine: a run
// places its inputs (inline bytes, streams received straight into the target
// memory, outputs it holds from earlier runs, Redis keys), runs the steps on
// its pool, then holds the output and/or streams it where the request says.
// It replies once the steps ran; outgoing streams may still be flowing, and
// the output's memory stays kept until they are delivered.
//
// Every control message and its reply is sealed with the cluster secret
// (engine/cluster/signing.ts); one that is not, was altered or is replayed is
// answered E_AUTH and does nothing. An incoming stream is accepted only from
// the authenticated connection of the node the request named as its sender,
// and transfer ids carry 128 random bits, so no other peer can supply or
// guess one.
//
// Every remote step (a request to a node, a stream expected from or sent to
// it) is tied to that node's liveness (engine/cluster/liveness.ts): a node
// whose connection fails or whose heartbeat stops fails the step with E_NET
// within its liveness window, not at the deadline.

import { CwasiError, asCwasiError, toErrorRecord, untilAborted, type ErrorRecord } from '../errors.js';
import { NetTransport, type OutgoingStream, type NetTlsOptions, type NetStats } from '../net/transport.js';
import { hostOf } from '../net/helpers.js';
import type { ExpectHooks, NetworkPeer } from '../channels/networked.js';
import type { GroupRef } from '../channels/channel.js';
import type { InputSpec, OutputSpec, RunSuccess } from '../worker/protocol.js';
import type { IfcMode } from '../selection.js';
import { ClusterRegistry } from './registry.js';
import type { RingLease } from './live-legs.js';
import { ControlSigner, replyContext } from './signing.js';
import { ControlClient } from './control-client.js';
import { natsConnectionOptions, type NatsAuthOptions } from './nats-auth.js';
import { NodeLiveness, type NodeWatch } from './liveness.js';
import { StreamInbox } from './inbox.js';
import { StreamInputs, failedLanding, releaseInput, untilLandingFails, type InputArena } from './stream-input.js';
import { streamSpan, traceparentOf } from '../trace/channels.js';
import { readSecret, resolveCluster } from '../options/index.js';
import {
  INLINE_MAX_BYTES,
  type CancelRequest, type ControlRequest, type DeployReply, type DeployRequest, type FunctionRecord, type NodeRecord,
  type ReleaseReply, type ReleaseRequest, type RemoteFunctionConfig, type RemoteInput, type RunReply, type RunRequest,
  type RunResultMeta, type PingReply,
} from './protocol.js';
import { whenUnlocked, type Heap } from '../memory/heap.js';
import type { LiveRingDrain, LiveRingFeed } from '../channels/live-bridge.js';
import { receiveLive, sendLive } from '../channels/networked-live.js';
import { openLiveInput, openLiveOutputs, settleLiveLegs, type LiveLeg, type LiveLegHost } from './live-legs.js';

export interface ClusterOptions {
  /**
   * NATS server URL, e.g. nats://127.0.0.1:4222; on a NATS cluster several,
   * comma-separated or as an array (engine/cluster/nats-cluster.ts).
   */
  nats: string | string[];
  /** Copies of each registry KV bucket on a JetStream cluster, 1..5 (default 1). */
  natsReplicas?: number;
  /** Cluster name: nodes of one cluster share registry buckets and subjects (default "default"). */
  cluster?: string;
  /** This node's name (default <hostname>-<pid>). */
  name?: string;
  /** Networked Buffer listener, host:port (default 127.0.0.1:0 — loopback, any free port). */
  listen?: string;
  /** The cluster secret (≥ 16 bytes), or read from secretFile. */
  secret?: Uint8Array | string;
  secretFile?: string;
  tls?: NetTlsOptions;
  /** Credentials and TLS for the NATS connection (the server's own auth). */
  natsAuth?: NatsAuthOptions;
  heartbeatMs?: number;
  /** A node silent this long is dead (default 3 × heartbeat). */
  staleMs?: number;
  /** Admission limits of this node's Networked Buffer listener before a peer proves the secret (engine/net/preauth.ts). */
  preAuth?: { perAddress?: number; total?: number; timeoutMs?: number };
}

/** What the member needs from its engine. */
export interface MemberHooks {
  deployLocal(functions: RemoteFunctionConfig[]): Promise<FunctionRecord[]>;
  /** A ring for a live stream between nodes: `windowBytes` (rounded up to a power of two), or the default (networked-live.ts, networkedLiveRingBytes). */
  leaseRing(windowBytes?: number): RingLease;
  /** The memory group steps[0] runs in on this node. */
  groupOf(fn: string): GroupRef;
  runLocal(steps: string[], inputs: InputSpec[], output: OutputSpec, opts: { invocationId: number; deadline: number; signal: AbortSignal; guestCallMode?: IfcMode; coordinator: string; traceparent?: string }): Promise<{ result: RunSuccess; group: GroupRef }>;
  hostedFunctions(): string[];
  /** The most worker threads this node's pool runs (StreamInputs lets fewer wait on streams). */ maxThreads: number;
}

interface Held {
  group: GroupRef;
  ptr: number;
  len: number;
  arenas: Array<{ id: number; head: number }>;
  /** Outgoing streams still reading the bytes. */
  sending: Promise<unknown>;
  /** The coordinator it is held for: when that node is lost, nobody will release it. */
  owner: string;
  ownerWatch: NodeWatch;
  /** Frees it once its invocation's deadline is well past, whatever the owner does. */
  lease: NodeJS.Timeout | undefined;
}

const encoder = new TextEncoder();
/** Outgoing streams are written in slices of this size (bounded socket queue). */
const SEND_SLICE_BYTES = 8 * 1024 * 1024;
/** Extra time a requester waits past an invocation's deadline for a reply. */
const REPLY_GRACE_MS = 2000;
/** A held output is freed this long after its invocation's deadline if its owner has not released it. */
const HELD_LEASE_GRACE_MS = 2 * REPLY_GRACE_MS;
const CONTROL_VERBS = new Set(['deploy', 'run', 'release', 'cancel', 'ping']);

function authError(message: string): { ok: false; error: ErrorRecord } {
  return { ok: false, error: { code: 'E_AUTH', message } };
}

/** This node in its cluster, as `engine.clusterStats()` reports it. */
export interface ClusterStats {
  node: string;
  address: string;
  liveNodes: string[];
  /** Outputs held here for later steps of their coordinators' invocations. */
  held: number;
  /** The held outputs by the coordinator that owns them: how many, how many bytes. */
  heldBy: Record<string, { outputs: number; bytes: number }>;
  /** Held outputs freed without a release: their owner was lost, or their lease (deadline + grace) ran out. */
  heldFreed: { ownerLost: number; leaseExpired: number };
  /** Streamed inputs handed to their step's worker before their last bytes landed (stream-input.ts). */
  inputsHandedEarly: number;
  waiting: number;
  net: NetStats;
  /** Remote steps failed with E_NET because their node was lost, by how it was noticed. */
  nodesLost: { connection: number; heartbeat: number; restarted: number };
  /**
   * What was refused as unauthentic: control messages (answered E_AUTH),
   * registry records and delete markers (ignored), replies not sealed by the
   * node asked (ignored), incoming streams.
   */
  refused: { control: number; records: number; replies: number; streams: number };
  /** The NATS server this node is connected to now, and how often it reconnected (failovers included). */
  nats: { server: string; connected: boolean; reconnects: number };
  /** The registry streams' configuration (bucket-guard.ts): settings put back, and a difference that could not be (null when none). */
  registry: { repairs: number; problem: string | null };
}

export class ClusterMember implements NetworkPeer {
  readonly self: string;
  readonly cluster: string;
  readonly transport: NetTransport;
  readonly registry: ClusterRegistry;
  private readonly hooks: MemberHooks;
  /** What a run's live streams need of this member. */
  private readonly liveHost: LiveLegHost;
  private readonly signer: ControlSigner;
  private readonly held = new Map<string, Held>();
  private readonly runs = new Map<string, Set<AbortController>>();
  /** Outgoing streams by transfer id, so that cancel() stops a send nobody will claim. */
  private readonly sending = new Map<string, OutgoingStream>();
  private readonly liveness: NodeLiveness;
  private readonly inbox: StreamInbox;
  private readonly control: ControlClient;
  private heldSeq = 0;
  /** Authentic requests refused because they named another incarnation of this node. */
  private staleRefused = 0;
  private readonly heldFreed = { ownerLost: 0, leaseExpired: 0 };
  private readonly streamInputs: StreamInputs;
  private readonly startedAt = Date.now();
  private closing = false;

  private constructor(self: string, cluster: string, transport: NetTransport, registry: ClusterRegistry, hooks: MemberHooks, signer: ControlSigner, staleMs: number) {
    this.self = self;
    this.liveness = new NodeLiveness(self, registry, transport, staleMs);
    this.inbox = new StreamInbox(this.liveness, (s) => streamSpan(this.self, s.peer, s.meta.traceparent, s.totalBytes));
    this.control = new ControlClient(cluster, registry, signer, this.liveness);
    this.signer = signer;
    this.cluster = cluster;
    this.transport = transport;
    this.registry = registry;
    this.hooks = hooks;
    this.streamInputs = new StreamInputs(Math.max(1, hooks.maxThreads - 1));
    this.liveHost = { leaseRing: (w) => hooks.leaseRing(w), groupOf: (fn) => hooks.groupOf(fn), sendLive: (...a) => this.sendLive(...a), expectLive: (...a) => this.expectLive(...a) };
  }

  get address(): string {
    const a = this.transport.address;
    return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  }

  /** Start the listener, join the registry and answer control requests. */
  static async join(opts: ClusterOptions, hooks: MemberHooks): Promise<ClusterMember> {
    const { name: self, cluster, host, port, heartbeatMs, staleMs, natsReplicas, preAuth } = resolveCluster(opts);
    const secret = readSecret(opts);
    const connection = natsConnectionOptions(opts.natsAuth);
    const signer = new ControlSigner(secret, self);
    const transport = await NetTransport.listen({
      secret, nodeName: self, host, port, ...(opts.tls ? { tls: opts.tls } : {}),
      maxPendingPerAddress: preAuth.perAddress, maxPendingHandshakes: preAuth.total, preAuthTimeoutMs: preAuth.timeoutMs,
    });
    let registry: ClusterRegistry;
    try {
      registry = await ClusterRegistry.open({ nats: opts.nats, cluster, node: self, heartbeatMs, staleMs, signer, connection, replicas: natsReplicas });
    } catch (err) {
      await transport.close();
      throw err;
    }
    const member = new ClusterMember(self, cluster, transport, registry, hooks, signer, staleMs);
    try {
      await member.control.claimName(self);
    } catch (err) {
      // Not registry.close(): that withdraws the record under this name, which is the holder's.
      await registry.nc.close().catch(() => {});
      await transport.close();
      throw err;
    }
    transport.on('stream', (s) => member.inbox.onStream(s));
    // When pre-auth slots run short, the cluster's live nodes keep theirs.
    transport.preferPeers(() => member.registry.liveNodes().map((n) => hostOf(n.address)));
    member.subscribe();
    const startedAt = member.startedAt;
    try {
      await registry.announce((): NodeRecord => ({
        name: self, address: member.address, pid: process.pid, startedAt, heartbeatAt: Date.now(), heartbeatMs, functions: hooks.hostedFunctions(),
      }));
    } catch (err) {
      // Subscribed and listening: a half-joined member would answer for the name and keep the process alive.
      await member.close();
      throw err;
    }
    return member;
  }

  private subject(node: string, verb: string): string {
    return this.control.subject(node, verb);
  }

  // ── serving control requests ───────────────────────────────────────────

  private subscribe(): void {
    this.registry.nc.subscribe(this.subject(this.self, '*'), {
      callback: (err, msg) => {
        if (err) return;
        let req: ControlRequest;
        let nonce: string;
        try {
          const opened = this.signer.open<ControlRequest>(msg.subject, msg.data, true);
          req = opened.body;
          nonce = opened.nonce;
          const verb = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
          if (req === null || typeof req !== 'object' || req.type !== verb || !CONTROL_VERBS.has(verb)) {
            throw new CwasiError('E_AUTH', `control message refused: a ${String((req as { type?: unknown } | null)?.type)} request on the ${verb} subject`);
          }
          if ((req.type === 'run' || req.type === 'cancel') && req.coordinator !== opened.from) {
            throw new CwasiError('E_AUTH', `control message refused: sealed by "${opened.from}" on behalf of "${req.coordinator}"`);
          }
        } catch (e) {
          // Unsealed replies: a refused requester has no claim to a MAC from this node.
          if (msg.reply) msg.respond(encoder.encode(JSON.stringify(authError(asCwasiError(e, 'E_AUTH').message))));
          return;
        }
        if (req.type !== 'ping' && req.epoch !== this.startedAt) {
          // Authentic, but for another incarnation of this node: captured
          // before a restart and replayed, or sent on a view not yet caught up.
          this.staleRefused++;
          const reply = { ok: false, error: { code: 'E_NET', message: `node "${this.self}" restarted: the ${req.type} request was for its incarnation ${String(req.epoch)}, this is ${this.startedAt}`, details: { reason: 'epoch', epoch: this.startedAt } } };
          if (msg.reply) msg.respond(this.signer.seal(replyContext(nonce), reply).data);
          return;
        }
        void this.serve(req).then((reply) => {
          if (reply !== undefined && msg.reply) msg.respond(this.signer.seal(replyContext(nonce), reply).data);
        });
      },
    });
  }

  private async serve(req: ControlRequest): Promise<unknown> {
    try {
      switch (req.type) {
        case 'deploy': return await this.serveDeploy(req);
        case 'run': return await this.serveRun(req);
        case 'release': return this.serveRelease(req);
        case 'cancel': this.serveCancel(req); return undefined;
        case 'ping': return { ok: true, node: this.self, pid: process.pid, startedAt: this.startedAt } satisfies PingReply;
        default: return { ok: false, error: { code: 'E_CONFIG', message: `unknown control request ${(req as { type: string }).type}` } };
      }
    } catch (err) {
      return { ok: false, error: toErrorRecord(err) };
    }
  }

  private async serveDeploy(req: DeployRequest): Promise<DeployReply> {
    return { ok: true, functions: await this.hooks.deployLocal(req.functions) };
  }

  private serveCancel(req: CancelRequest): void {
    for (const c of this.runs.get(`${req.coordinator}:${req.invocationId}`) ?? []) c.abort(new CwasiError('E_ABORTED', 'cancelled by the coordinating node'));
  }

  private serveRelease(req: ReleaseRequest): ReleaseReply {
    let released = 0;
    for (const id of req.held) if (this.dropHeld(id)) released++;
    return { ok: true, released };
  }

  /**
   * Keep `kept`'s bytes for `owner`'s later steps until it releases them, it
   * is lost (liveness.ts: its connection fails, its heartbeats stop, it
   * restarts), or the lease after `deadline` runs out.
   */
  private hold(h: Omit<Held, 'ownerWatch' | 'lease'>, deadline: number): string {
    const id = `${this.self}:${++this.heldSeq}`;
    const ownerWatch = this.liveness.watch(h.owner, `holding output ${id}`, false);
    ownerWatch.failed.catch(() => {
      if (this.dropHeld(id)) this.heldFreed.ownerLost++;
    });
    let lease: NodeJS.Timeout | undefined;
    if (Number.isFinite(deadline)) {
      lease = setTimeout(() => {
        if (this.dropHeld(id)) this.heldFreed.leaseExpired++;
      }, Math.max(0, deadline - Date.now()) + HELD_LEASE_GRACE_MS);
      lease.unref();
    }
    this.held.set(id, { ...h, ownerWatch, lease });
    return id;
  }

  private dropHeld(id: string): boolean {
    const h = this.held.get(id);
    if (h === undefined) return false;
    this.held.delete(id);
    h.ownerWatch.stop();
    clearTimeout(h.lease);
    void h.sending.finally(() => this.freeArenas(h.group, h.arenas));
    return true;
  }

  private freeArenas(group: GroupRef, arenas: Array<{ id: number; head: number }>): void {
    const heap = group.heap;
    if (heap === undefined || heap.generation !== group.generation) return;
    // Released when the lock is free; corrupt memory is discarded by its owner.
    for (const a of arenas) {
      whenUnlocked(() => {
        if (heap.generation === group.generation) heap.release({ id: a.id, head: a.head });
      }, () => {});
    }
  }

  private async serveRun(req: RunRequest): Promise<RunReply> {
    const key = `${req.coordinator}:${req.invocationId}`;
    const controller = new AbortController();
    let set = this.runs.get(key);
    if (set === undefined) this.runs.set(key, (set = new Set()));
    set.add(controller);
    const timer = setTimeout(() => controller.abort(new CwasiError('E_TIMEOUT', 'deadline passed')), Math.max(0, req.deadline - Date.now()));
    const inputArenas: InputArena[] = [];
    // Live streams this run reads or writes while it runs, each through a ring of this node.
    const lives: LiveLeg[] = [];
    let ran = false;
    try {
      // Every step must be deployed here before any input is claimed: a run refused with
      // E_UNKNOWN_FUNCTION leaves its streams unclaimed for the retry after a redeploy.
      const group = this.hooks.groupOf(req.steps[0]!);
      for (const step of req.steps.slice(1)) this.hooks.groupOf(step);
      const heap = group.heap;
      if (heap === undefined) throw new CwasiError('E_INTERNAL', `${req.steps[0]} does not run on ${this.self}`);
      // Claim every stream at once: they share one connection, and a stream nobody
      // receives yet holds that connection's buffer (fan-in would otherwise stall).
      const placed = req.inputs.map((input) => this.placeRemoteInput(input, group, heap, req.deadline, inputArenas, lives));
      placed.forEach((p) => p.catch(() => {}));
      // A cancel (or the deadline) ends the wait for streams that may never come.
      const dropStreams = () => {
        for (const input of req.inputs) if (input.kind === 'stream') this.cancel(input.transfer, 'the run was cancelled');
      };
      controller.signal.addEventListener('abort', dropStreams, { once: true });
      let inputs: InputSpec[];
      try {
        inputs = await untilAborted(untilLandingFails(Promise.all(placed), inputArenas), controller.signal);
      } finally {
        controller.signal.removeEventListener('abort', dropStreams);
      }
      const output: OutputSpec = { keep: true, bytes: false };
      if (req.output.kv) output.kv = req.output.kv;
      openLiveOutputs(this.liveHost, req, output, controller.signal, lives);
      const { result, group: ranIn } = await this.hooks.runLocal(req.steps, inputs, output, {
        invocationId: req.invocationId, deadline: req.deadline, signal: controller.signal, coordinator: req.coordinator,
        ...(req.guestCallMode ? { guestCallMode: req.guestCallMode } : {}),
        ...(traceparentOf(req) !== undefined ? { traceparent: req.traceparent! } : {}),
      }).catch((err: unknown) => { throw (controller.signal.aborted ? undefined : failedLanding(inputArenas)) ?? err; }); // a step whose input stream failed reports the stream's error
      ran = true;
      const kept = result.kept!;
      const bytes = ranIn.heap!.bytes().subarray(kept.ptr, kept.ptr + kept.len);
      const meta: RunResultMeta = { threadId: result.threadId, outputLength: result.outputLength, timings: result.timings };
      if (result.logs) meta.logs = result.logs;
      if (result.kvChunks !== undefined) meta.kvChunks = result.kvChunks;
      // Streams to other nodes and back to the coordinator read straight from the kept output.
      const sends: Array<Promise<void>> = [];
      for (const dest of req.output.sendTo) if (dest.live === undefined) sends.push(this.send(dest.node, dest.transfer, bytes, req.deadline, traceparentOf(req)));
      // A live output streams on while the rest of it is read from the kept output (a DESC remainder).
      for (const l of lives) sends.push(l.done.then(() => {}));
      if (req.output.returnTransfer !== undefined) {
        if (kept.len <= INLINE_MAX_BYTES) meta.inlineBase64 = Buffer.from(bytes).toString('base64');
        else sends.push(this.sendTo(req.coordinatorAddress, req.coordinator, req.output.returnTransfer, bytes, req.deadline, traceparentOf(req)));
      }
      const sending = Promise.allSettled(sends);
      // The output may lie in an input (a step that returns its input in
      // place): inputs received into this memory live as long as the output.
      const arenas = [...kept.arenas];
      if (ranIn.id === group.id) for (const a of inputArenas.splice(0)) arenas.push(a.arena);
      if (req.output.hold) {
        meta.held = this.hold({ group: ranIn, ptr: kept.ptr, len: kept.len, arenas, sending, owner: req.coordinator }, req.deadline);
      } else {
        void sending.then(() => this.freeArenas(ranIn, arenas));
      }
      return { ok: true, result: meta };
    } finally {
      clearTimeout(timer);
      settleLiveLegs(lives, ran);
      set.delete(controller);
      if (set.size === 0) this.runs.delete(key);
      // Released when the lock is free; a heap that fails validation was discarded.
      for (const a of inputArenas) releaseInput(a);
    }
  }

  private async placeRemoteInput(input: RemoteInput, group: GroupRef, heap: Heap, deadline: number, arenas: InputArena[], lives: LiveLeg[]): Promise<InputSpec> {
    switch (input.kind) {
      case 'inline':
        return { kind: 'bytes', bytes: new Uint8Array(Buffer.from(input.base64, 'base64')) };
      case 'kv':
        return input;
      case 'held': {
        const h = this.held.get(input.held);
        if (h === undefined) throw new CwasiError('E_CHANNEL', `output ${input.held} is no longer held on ${this.self}`);
        const slice = { groupId: h.group.id, generation: h.group.generation, ptr: h.ptr, len: h.len };
        return h.group.id === group.id ? { kind: 'shared', ...slice } : { kind: 'foreign', ...slice };
      }
      case 'stream': {
        // Live: read as the first step's input stream through a ring here; else landed in this memory (stream-input.ts).
        if (input.live === true) return openLiveInput(this.liveHost, input, deadline, lives);
        const r = this.streamInputs.receive(this, input, group, heap, heap.newArena(), deadline);
        arenas.push(r.input);
        return r.spec;
      }
    }
  }

  // ── the Networked Buffer (NetworkPeer) ─────────────────────────────────

  async addressOf(node: string): Promise<string> {
    if (node === this.self) return this.address;
    return (await this.registry.requireNode(node)).address;
  }

  async send(node: string, transfer: string, bytes: Uint8Array, deadline: number, traceparent?: string): Promise<void> {
    return this.sendTo(await this.addressOf(node), node, transfer, bytes, deadline, traceparent);
  }

  private sendTo(address: string, node: string, transfer: string, bytes: Uint8Array, deadline: number, traceparent?: string): Promise<void> {
    return this.streamTo(address, node, transfer, bytes.length, deadline, traceparent, async (s) => {
      // Every slice queued at once: the connection's writer keeps the socket fed (and bounded) without a turn per slice.
      const writes: Array<Promise<void>> = [];
      for (let off = 0; off < bytes.length; off += SEND_SLICE_BYTES) writes.push(s.write(bytes.subarray(off, Math.min(bytes.length, off + SEND_SLICE_BYTES))));
      await Promise.all(writes);
      await s.end();
    });
  }

  /** Stream what a producer writes into `drain`'s ring to `node` while it writes it (channels/networked-live.ts). */
  async sendLive(node: string, transfer: string, drain: LiveRingDrain, deadline: number, traceparent?: string): Promise<void> {
    await this.streamTo(await this.addressOf(node), node, transfer, null, deadline, traceparent, async (s) => {
      await sendLive(s, drain);
    });
  }

  /** Open a stream of `totalBytes` (null: open-ended) to `node` and `write` it, watching the node's liveness and the deadline. */
  private async streamTo(address: string, node: string, transfer: string, totalBytes: number | null, deadline: number, traceparent: string | undefined, write: (s: OutgoingStream) => Promise<void>): Promise<void> {
    const watch = this.liveness.watch(node, `a stream to it (${transfer})`);
    let stream: OutgoingStream | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const opening = this.transport.openStream(address, traceparent === undefined ? { transfer, deadline } : { transfer, deadline, traceparent }, totalBytes);
      // Lost before the stream opened: abort it when it does.
      watch.failed.catch(() => opening.then((s) => s.abort('E_NET', 'the receiver was lost'), () => {}));
      stream = await Promise.race([opening, watch.failed]);
      const s = stream;
      this.sending.set(transfer, s);
      timer = setTimeout(() => s.abort('E_TIMEOUT', `deadline passed sending to ${node}`), Math.max(0, deadline - Date.now()));
      const writing = write(s);
      writing.catch(() => {});
      await Promise.race([writing, watch.failed]);
    } catch (err) {
      stream?.abort('E_NET', 'send failed');
      throw asCwasiError(err, 'E_NET');
    } finally {
      watch.stop();
      clearTimeout(timer);
      if (stream !== undefined && this.sending.get(transfer) === stream) this.sending.delete(transfer);
    }
  }

  expect(transfer: string, from: string, dest: (totalBytes: number) => Uint8Array, deadline: number, hooks?: ExpectHooks): Promise<Uint8Array> {
    return this.inbox.expect(transfer, from, dest, deadline, hooks);
  }

  /** Receive the live stream `transfer` from `from` into `feed`'s ring as it arrives; resolves with its length. */
  expectLive(transfer: string, from: string, feed: LiveRingFeed, windowBytes: number, deadline: number): Promise<number> {
    return this.inbox.claim(transfer, from, deadline, (s) => receiveLive(s, feed, windowBytes, deadline));
  }

  cancel(transfer: string, reason: string): void {
    this.sending.get(transfer)?.abort('E_CHANNEL', `transfer cancelled: ${reason}`);
    this.inbox.cancel(transfer, reason);
  }

  async release(node: string, held: string[]): Promise<void> {
    if (node === this.self) {
      for (const id of held) this.dropHeld(id);
      return;
    }
    try {
      await this.request(node, { type: 'release', held }, 5000);
    } catch {
      // the node is gone: so is what it held
    }
  }

  // ── requesting ─────────────────────────────────────────────────────────

  private request<T>(node: string, body: ControlRequest, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    return this.control.request<T>(node, body, timeoutMs, signal);
  }

  async deployRemote(node: string, functions: RemoteFunctionConfig[]): Promise<FunctionRecord[]> {
    const reply = await this.request<DeployReply>(node, { type: 'deploy', functions }, 30_000);
    if (!reply.ok) throw CwasiError.fromRecord(reply.error);
    for (const f of reply.functions) await this.registry.putFunction(f);
    return reply.functions;
  }

  /** Run steps on `node`; resolves when they ran (outgoing streams may still flow). */
  async run(node: string, req: Omit<RunRequest, 'type' | 'coordinator' | 'coordinatorAddress'>, signal: AbortSignal): Promise<RunResultMeta> {
    const body: RunRequest = { type: 'run', coordinator: this.self, coordinatorAddress: this.address, ...req };
    const onAbort = () => {
      const cancel: CancelRequest = { type: 'cancel', coordinator: this.self, invocationId: req.invocationId, epoch: this.control.epochOf(node) };
      const subject = this.subject(node, 'cancel');
      this.registry.nc.publish(subject, this.signer.seal(subject, cancel).data);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      // Aborted here: the cancel is on its way to the node; do not wait for its reply.
      const reply = await untilAborted(this.request<RunReply>(node, body, req.deadline - Date.now() + REPLY_GRACE_MS, signal), signal);
      if (!reply.ok) throw CwasiError.fromRecord(reply.error as ErrorRecord);
      return reply.result;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  stats(): ClusterStats {
    return {
      node: this.self, address: this.address, liveNodes: this.registry.liveNodes().map((n) => n.name).sort(),
      held: this.held.size, heldBy: this.heldByOwner(), heldFreed: { ...this.heldFreed }, inputsHandedEarly: this.streamInputs.handedEarly, waiting: this.inbox.waiting, net: this.transport.stats(), nodesLost: { ...this.liveness.failures },
      refused: { control: this.signer.refused + this.staleRefused, records: this.registry.recordsRefused, replies: this.registry.repliesRefused, streams: this.inbox.refused },
      nats: { server: this.registry.server(), connected: this.registry.connected, reconnects: this.registry.reconnects },
      registry: { repairs: this.registry.guard.repairs, problem: this.registry.guard.problem ?? null },
    };
  }

  private heldByOwner(): ClusterStats['heldBy'] {
    const by: ClusterStats['heldBy'] = {};
    for (const h of this.held.values()) {
      const o = (by[h.owner] ??= { outputs: 0, bytes: 0 });
      o.outputs++;
      o.bytes += h.len;
    }
    return by;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const s of this.sending.values()) s.abort('E_CHANNEL', 'the node is closing');
    this.inbox.close('the node is closing');
    for (const id of [...this.held.keys()]) this.dropHeld(id);
    this.liveness.close();
    await this.registry.close();
    await this.transport.close();
  }
}
