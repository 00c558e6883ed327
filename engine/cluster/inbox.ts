// Incoming Networked Buffer streams of a cluster member, matched to the
// steps that expect them.
//
// A stream is claimed by its transfer id, and only from the authenticated
// connection of the node the (sealed) request named as its sender. One that
// arrives before its consumer asked (the consumer's run is on its way) is kept
// under its sender's name, bounded in number and time. A waiter is tied to its
// sender's liveness (engine/cluster/liveness.ts): a sender lost before or
// while its stream arrives fails the waiter with E_NET.

import { CwasiError, asCwasiError } from '../errors.js';
import type { IncomingStream } from '../net/transport.js';
import { whenUnlocked } from '../memory/heap.js';
import type { NodeLiveness, NodeWatch } from './liveness.js';
import type { EdgeSpan } from '../trace/channels.js';
import type { ExpectHooks } from '../channels/networked.js';

interface Waiter {
  /** The only node this stream may come from. */
  from: string;
  accept(s: IncomingStream): void;
  reject(err: CwasiError): void;
  timer: NodeJS.Timeout;
  /** Fails the waiter when the sender is lost before its stream arrives. */
  watch: NodeWatch;
}

/** An incoming stream nobody asked for is aborted after this long. */
const UNCLAIMED_STREAM_MS = 30_000;
/** Streams nobody asked for yet, at most (beyond, new ones are aborted). */
const MAX_UNCLAIMED_STREAMS = 1024;

export class StreamInbox {
  private readonly waiters = new Map<string, Waiter>();
  /** Early streams by transfer id, then by the authenticated peer that sent them. */
  private readonly unclaimed = new Map<string, Map<string, { stream: IncomingStream; timer: NodeJS.Timeout }>>();
  private unclaimedCount = 0;
  /** Incoming streams refused: from a peer other than the named sender, or over the unclaimed bound. */
  refused = 0;

  /** `traced`: a span for a stream being received (`cwasi:edge`, kind 'stream'), or undefined when nobody observes. */
  constructor(private readonly liveness: NodeLiveness, private readonly traced: (s: IncomingStream) => EdgeSpan | undefined = () => undefined) {}

  /** Waiters and unclaimed streams now. */
  get waiting(): number {
    return this.waiters.size + this.unclaimedCount;
  }

  /** Receive the stream `transfer` from `from` into the buffer `dest` gives once its length is known (`hooks`: ExpectHooks). */
  expect(transfer: string, from: string, dest: (totalBytes: number) => Uint8Array, deadline: number, hooks?: ExpectHooks): Promise<Uint8Array> {
    return this.claim(transfer, from, deadline, (s) => new Promise<Uint8Array>((resolve, reject) => {
      // `dest` allocates in a heap other threads share: while a worker holds
      // its lock, retry on later turns (bytes that arrive meanwhile are buffered).
      whenUnlocked(() => {
        const view = dest(s.totalBytes);
        const landed = s.receiveInto(view);
        landed.then(() => resolve(view), reject);
        hooks?.receiving?.(landed.catch(() => {}), (reason) => s.abort('E_ABORTED', reason));
        if (hooks?.early !== undefined) s.whenRemaining(hooks.early.bytes, hooks.early.then);
      }, (err) => {
        s.abort('E_MEMORY_LIMIT', 'the receiver could not place the stream');
        reject(err);
      });
    }));
  }

  /**
   * Claim the stream `transfer` from `from` (when it arrives, or at once if it
   * did) and `use` it; a sender lost before or during it fails the claim.
   */
  claim<T>(transfer: string, from: string, deadline: number, use: (s: IncomingStream) => Promise<T>): Promise<T> {
    const watch = this.liveness.watch(from, `the stream ${transfer} from it`);
    const received = new Promise<T>((resolve, reject) => {
      const accept = (s: IncomingStream) => {
        // A sender lost mid-stream: stop waiting for the rest of its bytes.
        watch.failed.catch((err: CwasiError) => s.abort('E_NET', err.message));
        const span = this.traced(s);
        use(s).then((v) => {
          span?.settle();
          resolve(v);
        }, (err: unknown) => {
          const e = asCwasiError(err, 'E_NET');
          span?.settle(e);
          reject(e);
        });
      };
      const early = this.takeUnclaimed(transfer, from);
      if (early !== undefined) {
        accept(early);
        return;
      }
      const timer = setTimeout(() => {
        this.waiters.delete(transfer);
        reject(new CwasiError('E_TIMEOUT', `no stream ${transfer} arrived from ${from} before the deadline`));
      }, Math.max(0, deadline - Date.now()));
      timer.unref();
      this.waiters.set(transfer, { from, accept, reject, timer, watch });
      watch.failed.catch(() => {
        const w = this.waiters.get(transfer);
        if (w?.watch !== watch) return;
        this.waiters.delete(transfer);
        clearTimeout(w.timer);
      });
    });
    return Promise.race([received, watch.failed]).finally(() => watch.stop());
  }

  cancel(transfer: string, reason: string): void {
    const w = this.waiters.get(transfer);
    if (w !== undefined) {
      this.waiters.delete(transfer);
      clearTimeout(w.timer);
      w.reject(new CwasiError('E_CHANNEL', `transfer ${transfer} cancelled: ${reason}`));
    }
    const byPeer = this.unclaimed.get(transfer);
    if (byPeer !== undefined) {
      for (const peer of [...byPeer.keys()]) this.takeUnclaimed(transfer, peer)?.abort('E_CHANNEL', reason);
    }
  }

  private takeUnclaimed(transfer: string, peer: string): IncomingStream | undefined {
    const byPeer = this.unclaimed.get(transfer);
    const u = byPeer?.get(peer);
    if (u === undefined) return undefined;
    byPeer!.delete(peer);
    if (byPeer!.size === 0) this.unclaimed.delete(transfer);
    this.unclaimedCount--;
    clearTimeout(u.timer);
    return u.stream;
  }

  private refuseStream(s: IncomingStream, message: string): void {
    this.refused++;
    s.abort('E_AUTH', message);
  }

  onStream(s: IncomingStream): void {
    const transfer = typeof s.meta.transfer === 'string' ? s.meta.transfer : undefined;
    if (transfer === undefined) {
      s.abort('E_BAD_DESCRIPTOR', 'stream without a transfer id');
      return;
    }
    const w = this.waiters.get(transfer);
    if (w !== undefined) {
      // Only the named sender's authenticated connection may fill it; anyone else's
      // stream is refused and the waiter keeps waiting for the real one.
      if (s.peer !== w.from) {
        this.refuseStream(s, `stream ${transfer} is expected from ${w.from}, not ${s.peer}`);
        return;
      }
      this.waiters.delete(transfer);
      clearTimeout(w.timer);
      w.accept(s);
      return;
    }
    // Nobody asked yet (the consumer's run is on its way): keep it, bounded in time and
    // number, under its sender's name, so only a request naming that sender claims it.
    // The transport holds a bounded number of its bytes and pauses the sender beyond.
    let byPeer = this.unclaimed.get(transfer);
    if (byPeer?.has(s.peer) === true || this.unclaimedCount >= MAX_UNCLAIMED_STREAMS) {
      this.refuseStream(s, byPeer?.has(s.peer) === true ? `a second stream ${transfer} from ${s.peer}` : 'too many unclaimed streams');
      return;
    }
    if (byPeer === undefined) this.unclaimed.set(transfer, (byPeer = new Map()));
    const timer = setTimeout(() => {
      if (this.takeUnclaimed(transfer, s.peer) !== undefined) s.abort('E_TIMEOUT', 'nobody claimed the stream');
    }, UNCLAIMED_STREAM_MS);
    timer.unref();
    byPeer.set(s.peer, { stream: s, timer });
    this.unclaimedCount++;
  }

  /** Fail every waiter and abort every unclaimed stream. */
  close(reason: string): void {
    for (const [t] of [...this.waiters]) this.cancel(t, reason);
    for (const [t] of [...this.unclaimed]) this.cancel(t, reason);
  }
}
