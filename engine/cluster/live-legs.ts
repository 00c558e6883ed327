// The live streams of a run served on this node (ClusterMember.serveRun): an
// input read as the first step's input stream while it arrives from another
// node, and outputs streamed to other nodes while the last step writes them,
// each through a ring of this node's pools (engine/channels/networked-live.ts).

import { LiveRingDrain, LiveRingFeed } from '../channels/live-bridge.js';
import type { GroupRef } from '../channels/channel.js';
import type { InputSpec, OutputSpec } from '../specs.js';
import type { RemoteInput, RunRequest } from './protocol.js';
import { traceparentOf } from '../trace/channels.js';

/** A ring of this node's pools leased for one live stream. */
export interface RingLease {
  id: number;
  buffer: SharedArrayBuffer;
  capacity: number;
  /** Back to the pool once the stream settled (reused when clean). */
  giveBack(clean: boolean): void;
}

/** What the live streams of a run need of the cluster member. */
export interface LiveLegHost {
  leaseRing(windowBytes?: number): RingLease;
  groupOf(fn: string): GroupRef;
  sendLive(node: string, transfer: string, drain: LiveRingDrain, deadline: number, traceparent?: string): Promise<void>;
  expectLive(transfer: string, from: string, feed: LiveRingFeed, windowBytes: number, deadline: number): Promise<number>;
}

/** One live stream of a run on this node, through a leased ring. */
export interface LiveLeg {
  /** 'in': a live input of the run; 'out': a live output. */
  direction: 'in' | 'out';
  lease: RingLease;
  /** Settles when the stream ended here (all sent and acknowledged, or all fed to the ring) or failed. */
  done: Promise<unknown>;
  /** End it now (its ring is aborted; both sides stop). */
  abort(): void;
}

/** A live input: the stream is fed into a ring here as it arrives; the first step reads it from there. */
export function openLiveInput(host: LiveLegHost, input: Extract<RemoteInput, { kind: 'stream' }>, deadline: number, legs: LiveLeg[]): InputSpec {
  const lease = host.leaseRing(input.windowBytes);
  const stop = new AbortController();
  const feed = new LiveRingFeed(lease.buffer, deadline, stop.signal);
  const done = host.expectLive(input.transfer, input.from, feed, lease.capacity, deadline);
  done.catch(() => {});
  legs.push({ direction: 'in', lease, done, abort: () => stop.abort() });
  return { kind: 'ring', ringId: lease.id, sources: [], live: true };
}

/** Live outputs: the last step writes its stream into a ring here, which streams to the consumer's node as it fills. */
export function openLiveOutputs(host: LiveLegHost, req: RunRequest, output: OutputSpec, signal: AbortSignal, legs: LiveLeg[]): void {
  for (const dest of req.output.sendTo) {
    if (dest.live === undefined) continue;
    const lease = host.leaseRing(dest.live.windowBytes);
    const producer = host.groupOf(req.steps[req.steps.length - 1]!);
    const drain = new LiveRingDrain(lease.buffer, () => producer.heap, producer.generation, req.deadline, signal);
    (output.rings ??= []).push({ ringId: lease.id, stream: true, live: true, consumerStarting: dest.live.consumerStarting });
    const done = host.sendLive(dest.node, dest.transfer, drain, req.deadline, traceparentOf(req));
    done.catch(() => {});
    legs.push({ direction: 'out', lease, done, abort: () => drain.ring.abort() });
  }
}

/**
 * The run ended: a failed one ends its live streams at once (the other side
 * stops too), and an input its first step did not read to the end is given
 * up (its producer stops); an output goes on streaming what the run kept.
 * Rings go back as the streams settle.
 */
export function settleLiveLegs(legs: readonly LiveLeg[], ran: boolean): void {
  for (const l of legs) {
    if (!ran || l.direction === 'in') l.abort();
    void l.done.then(() => l.lease.giveBack(true), () => l.lease.giveBack(false));
  }
}
