// Ties every remote step (a control request to a node, a stream expected
// from or sent to it) to that node's liveness, so a node that dies or is cut
// off fails the steps that depend on it with E_NET in bounded time instead of
// at their deadline.
//
// A watched node is judged dead when
//   - an authenticated Networked Buffer connection to it fails or the node
//     closes it (NetTransport 'peerLost': at once for a killed process, whose
//     kernel closes its sockets; within the transport's keepalive timeout for
//     a silent link), or
//   - its registry record is gone, or its last heartbeat is older than its
//     liveness window (LIVENESS_BEATS of its own period, ClusterRegistry.node),
//     judged every LIVENESS_CHECK_MS, or
//   - its record names another incarnation (startedAt changed): a node that
//     restarted lost whatever the step had asked of the old one.
// Steps on other nodes are not affected. A watch only covers failures seen
// while it exists, so an invocation started after the node returned is
// judged on the new incarnation alone.

import { CwasiError } from '../errors.js';
import type { NetTransport } from '../net/transport.js';
import { LIVENESS_BEATS, type ClusterRegistry } from './registry.js';

/** How often watched nodes' heartbeat ages are judged. */
export const LIVENESS_CHECK_MS = 250;

/**
 * The longest a step on a silent node waits before failing with E_NET: its
 * liveness window plus one check (a closed connection fails it at once).
 * `heartbeatMs` is the node's period, `staleMs` the reader's own floor.
 */
export function failureDetectionBoundMs(heartbeatMs: number, staleMs = 0): number {
  return Math.max(staleMs, LIVENESS_BEATS * heartbeatMs) + LIVENESS_CHECK_MS;
}

/** One step's tie to one node; `failed` rejects with E_NET when the node is lost. */
export class NodeWatch {
  readonly failed: Promise<never>;
  private rejectFailed!: (err: CwasiError) => void;
  private done = false;

  constructor(readonly node: string, readonly what: string, readonly startedAt: number | undefined, private readonly owner: NodeLiveness, readonly counted = true) {
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => {}); // a step that already finished does not care
  }

  /** @internal */
  fail(reason: string, cause?: CwasiError): void {
    if (this.done) return;
    this.done = true;
    this.rejectFailed(new CwasiError('E_NET', `node "${this.node}" was lost during ${this.what}: ${reason}`, { node: this.node, reason }, cause ? { cause } : undefined));
    this.owner.unwatch(this);
  }

  /** The step is over: stop watching. */
  stop(): void {
    if (this.done) return;
    this.done = true;
    this.owner.unwatch(this);
  }
}

export class NodeLiveness {
  private readonly watches = new Map<string, Set<NodeWatch>>();
  private timer: NodeJS.Timeout | undefined;
  /** Steps failed because their node was lost, by cause. */
  readonly failures = { connection: 0, heartbeat: 0, restarted: 0 };

  private disconnectedAt = 0;
  private lastCheck = 0;

  /** `reconnectGraceMs`: how long after a NATS outage heartbeat ages are not judged (a liveness window). */
  constructor(private readonly self: string, private readonly registry: ClusterRegistry, transport: NetTransport, private readonly reconnectGraceMs: number) {
    transport.on('peerLost', ({ peer, error }) => this.lose(peer, `its connection failed (${error.message})`, 'connection', error));
  }

  /**
   * Watch `node` for the duration of one step (`what` names it in the error).
   * `counted`: a failure counts in `failures` (false for what is not a step,
   * such as an output held for the node).
   */
  watch(node: string, what: string, counted = true): NodeWatch {
    const w = new NodeWatch(node, what, this.registry.node(node)?.startedAt, this, counted);
    // This node cannot lose itself.
    if (node === this.self) return w;
    let set = this.watches.get(node);
    if (set === undefined) this.watches.set(node, (set = new Set()));
    set.add(w);
    if (this.timer === undefined) {
      this.lastCheck = Date.now();
      this.timer = setInterval(() => this.check(), LIVENESS_CHECK_MS);
      this.timer.unref();
    }
    return w;
  }

  /** Run `step` tied to `node`: it rejects with E_NET as soon as the node is lost. */
  async during<T>(node: string, what: string, step: Promise<T>): Promise<T> {
    const w = this.watch(node, what);
    try {
      return await Promise.race([step, w.failed]);
    } finally {
      w.stop();
    }
  }

  /** @internal */
  unwatch(w: NodeWatch): void {
    const set = this.watches.get(w.node);
    if (set === undefined) return;
    set.delete(w);
    if (set.size === 0) this.watches.delete(w.node);
    if (this.watches.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Watches open now (diagnostics). */
  get watching(): number {
    let n = 0;
    for (const set of this.watches.values()) n += set.size;
    return n;
  }

  private lose(node: string, reason: string, cause: keyof NodeLiveness['failures'], error?: CwasiError): void {
    const set = this.watches.get(node);
    if (set === undefined) return;
    for (const w of [...set]) {
      if (w.counted) this.failures[cause]++;
      w.fail(reason, error);
    }
  }

  private check(): void {
    // Heartbeats cannot be seen while NATS is down, nor until the view catches
    // up after it returns: judge ages only after a window of connected time
    // (the connection state still fails steps at once).
    const now = Date.now();
    // A late tick means this event loop was blocked: heartbeats that arrived meanwhile
    // are not read yet (timers run before I/O), so judge on a later tick.
    const late = now - this.lastCheck > 3 * LIVENESS_CHECK_MS;
    this.lastCheck = now;
    if (late) return;
    if (!this.registry.connected) this.disconnectedAt = now;
    if (now - this.disconnectedAt <= this.reconnectGraceMs) return;
    for (const [node, set] of [...this.watches]) {
      const rec = this.registry.node(node);
      if (rec === undefined) {
        this.lose(node, 'its heartbeat stopped (no live registry record)', 'heartbeat');
        continue;
      }
      for (const w of [...set]) {
        if (w.startedAt !== undefined && rec.startedAt !== w.startedAt) {
          if (w.counted) this.failures.restarted++;
          w.fail(`it restarted (up since ${new Date(rec.startedAt).toISOString()})`);
        }
      }
    }
  }

  close(): void {
    for (const set of [...this.watches.values()]) for (const w of [...set]) w.fail('this node is closing');
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
