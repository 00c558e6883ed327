// `networked` (Networked Buffer): caller and callee on different engine
// nodes. The bytes go straight from the producer's memory into a TCP stream
// (engine/net/transport.ts) and from the socket into the consumer's memory:
// the kernel copies, nothing else does. Control (which node runs what) goes
// over NATS (engine/cluster/); bulk data never does.
//
// Four cases, by where the producer and the consumer run relative to the node
// that coordinates the invocation ("here"):
//   producer here  → consumer there   here streams the kept output to there
//   producer there → consumer here    there streams to here; here receives
//                                     straight into the consumer's memory,
//                                     registered before the producer runs
//   producer there → consumer other   there streams directly to other; the
//                                     consumer's run is sent early and waits
//   producer here  → consumer here    never: selection only picks networked
//                                     across hosts
// The producer's bytes are freed when every consumer has finished.

import { CwasiError } from '../errors.js';
import { releaseKept, type CallContext, type CallTransfer, type Channel, type EdgeContext, type Produced, type Transfer } from './channel.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import { randomBytes } from 'node:crypto';
import { whenUnlocked } from '../memory/heap.js';
import type { LiveRingDrain, LiveRingFeed } from './live-bridge.js';
import { openNetworkedLive } from './networked-live.js';
import type { RingPools } from '../ring/pools.js';

/** A transfer id: the coordinating node's name and 128 random bits (base64url). */
export function newTransferId(self: string): string {
  return `${self}/${randomBytes(16).toString('base64url')}`;
}

/** What a receiver may learn of a stream it expects (NetworkPeer.expect). */
export interface ExpectHooks {
  /** `then` runs once at most `bytes` of the stream are left to land (IncomingStream.whenRemaining). */
  early?: { bytes: number; then: () => void };
  /**
   * Once the stream is received into its destination: `landed` settles when no
   * socket read can target that destination any more (whatever the claim's
   * own promise did first), `abort` gives up on the stream.
   */
  receiving?: (landed: Promise<void>, abort: (reason: string) => void) => void;
}

/** What the Networked Buffer needs from the cluster member (engine/cluster/member.ts). */
export interface NetworkPeer {
  /** This node's name. */
  readonly self: string;
  /** The Networked Buffer address of a live node. */
  addressOf(node: string): Promise<string>;
  /** Stream `bytes` to `node` under `transfer` (carrying the invocation's traceparent, if any); resolves when the peer has them. */
  send(node: string, transfer: string, bytes: Uint8Array, deadline: number, traceparent?: string): Promise<void>;
  /**
   * Receive the stream `transfer` from node `from` (a stream under that id from
   * any other peer is refused); `dest` picks where its bytes land once the size
   * is known; `hooks` tell when little is left and when the destination is free again.
   */
  expect(transfer: string, from: string, dest: (totalBytes: number) => Uint8Array, deadline: number, hooks?: ExpectHooks): Promise<Uint8Array>;
  /** Stream what a producer writes into `drain`'s ring to `node` while it writes it (networked-live.ts). */
  sendLive(node: string, transfer: string, drain: LiveRingDrain, deadline: number, traceparent?: string): Promise<void>;
  /** Receive the live stream `transfer` from `from` into `feed`'s ring as it arrives; resolves with its length. */
  expectLive(transfer: string, from: string, feed: LiveRingFeed, windowBytes: number, deadline: number): Promise<number>;
  /** Give up on a transfer: abort its stream or its waiter. */
  cancel(transfer: string, reason: string): void;
  /** Free an output held on another node. */
  release(node: string, held: string[]): Promise<void>;
}

/** The `networked` channel over a cluster member. (Long only as an object literal of short methods; `open` covers the four cases above.) */
export function createNetworkedChannel(peer: NetworkPeer, pools: RingPools): Channel {
  return {
    mode: 'networked',
    // Streaming functions on two nodes stream live, as one open-ended stream (networked-live.ts).
    carriesLiveStreams: 'across-hosts',
    // Memory to socket to memory: only the kernel copies.
    copies: 0,
    chainsInOneTask: 'never',
    crossesHosts: true,
    // A consumer on another node waits for its stream there, not in a worker of this pool.
    startsConsumerEarly: 'always',
    callsRunInline: false,
    openCall(call: CallContext): CallTransfer {
      // The payload streams from the caller's memory to the callee's node (the remote runner
      // reads it in place); the result streams back.
      return { input: { kind: 'foreign', ...call.payload }, output: { keep: false, bytes: true }, finish() {} };
    },
    open(edge: EdgeContext): Transfer {
      const self = peer.self;
      const from = edge.producerGroup.host;
      const to = edge.consumerGroup.host;
      if (from === to) throw new CwasiError('E_INTERNAL', `networked edge ${edge.from} → ${edge.to} within one host`);
      // 128 random bits: no peer can guess the id of a stream it was not told about.
      const transfer = newTransferId(self);
      if (edge.live === true) return openNetworkedLive(peer, pools, edge, transfer);
      let received: Promise<{ ptr: number; len: number; arena: { id: number; head: number } }> | undefined;
      let sending: Promise<void> | undefined;
      let settled = false;
      let abortStream: ((reason: string) => void) | undefined;

      if (to === self) {
        // Receive into the consumer's memory as soon as the producer's stream arrives.
        const g = edge.consumerGroup;
        const heap = g.heap;
        if (heap === undefined) throw new CwasiError('E_INTERNAL', `consumer memory ${g.id} is not on this node`);
        const arena = heap.newArena();
        let ptr = 0;
        // A failed claim may settle before the last socket read into the arena returned: free it after that read.
        let readsDone: Promise<void> = Promise.resolve();
        received = peer.expect(transfer, from, (n) => {
          ptr = heap.allocIn(arena, n);
          return heap.bytes().subarray(ptr, ptr + n);
        }, edge.deadline, {
          receiving: (reads, abort) => {
            readsDone = reads;
            abortStream = abort;
          },
        }).then((bytes) => ({ ptr, len: bytes.length, arena }), (err) => {
          void readsDone.then(() => whenUnlocked(() => heap.release(arena), () => {}));
          throw err;
        });
        received.catch(() => {});
      }

      return {
        prepareOutput(output: OutputSpec): void {
          if (from === self) {
            output.keep = true;
          } else {
            // The producer's node streams to the consumer's node directly.
            const dest = { node: to, address: '', transfer };
            (output.net ??= []).push(dest);
          }
        },
        earlyInput(): InputSpec | undefined {
          // A consumer on another node can be asked to run now: it waits for the stream.
          return to !== self && from !== self ? { kind: 'net', transfer, from } : undefined;
        },
        async inputFor(produced: Produced): Promise<InputSpec> {
          if (from === self) {
            const kept = produced.result.kept;
            const heap = produced.group.heap;
            if (kept === undefined || heap === undefined) throw new CwasiError('E_INTERNAL', 'networked edge: the producer kept no output');
            // Stream straight from the producer's memory; it stays kept until the consumer finished.
            sending = peer.send(to, transfer, heap.bytes().subarray(kept.ptr, kept.ptr + kept.len), edge.deadline, edge.traceparent);
            sending.catch(() => {});
            return { kind: 'net', transfer, from: self };
          }
          if (to === self) {
            const r = await received!;
            const g = edge.consumerGroup;
            return { kind: 'shared', groupId: g.id, generation: g.generation, ptr: r.ptr, len: r.len };
          }
          return { kind: 'net', transfer, from };
        },
        finish(ok: boolean): void {
          if (settled) return;
          settled = true;
          if (!ok) {
            peer.cancel(transfer, 'the invocation failed');
            // A stream already landing here stops too (its arena is freed once it settled).
            abortStream?.('the invocation failed');
          }
          if (received !== undefined) {
            const heap = edge.consumerGroup.heap!;
            void received.then((r) => {
              whenUnlocked(() => {
                if (heap.generation === edge.consumerGroup.generation) heap.release(r.arena);
              }, () => {});
            }, () => {});
          }
        },
      };
    },
    async release(produced: Produced): Promise<void> {
      if (produced.result.held !== undefined) {
        await peer.release(produced.group.host, [produced.result.held]).catch(() => {});
        return;
      }
      releaseKept(produced);
    },
  };
}

/** Edges between two steps on the same other node: the output stays held there (no bytes move here). */
export function createHeldChannel(peer: Pick<NetworkPeer, 'release'>, mode: Channel['mode']): Channel {
  return {
    mode,
    // The holding node hands it over in place within one memory, else its worker copies it across once.
    copies: mode === 'embedded' ? 0 : 1,
    chainsInOneTask: 'never',
    crossesHosts: false,
    startsConsumerEarly: 'never',
    callsRunInline: false,
    open(): Transfer {
      return {
        prepareOutput(output: OutputSpec): void {
          output.hold = true;
        },
        inputFor(produced: Produced): InputSpec {
          const held = produced.result.held;
          if (held === undefined) throw new CwasiError('E_INTERNAL', 'the remote producer holds no output');
          return { kind: 'held', host: produced.group.host, held };
        },
        finish(): void {
          // released with the produced output
        },
      };
    },
    async release(produced: Produced): Promise<void> {
      if (produced.result.held !== undefined) await peer.release(produced.group.host, [produced.result.held]).catch(() => {});
    },
  };
}
