// The cluster registry on NATS JetStream: which engine nodes are alive (and
// where their Networked Buffer listens) and which functions they host.
//
// Every node puts its NodeRecord into the nodes bucket once a heartbeat; the
// bucket's TTL removes the record of a node that stopped, and readers also
// treat a record whose heartbeat is older than `staleMs` as dead (the NATS
// server in use may not announce TTL expiry to watchers). A watcher keeps a
// local view fresh so lookups on the call path never wait for NATS.
//
// Every record is sealed with the cluster secret (engine/cluster/signing.ts,
// context kv:<bucket>/<key>) and verified before it is used: a record put by
// anyone without the secret, altered, or copied under another key is ignored
// (and counted in `recordsRefused`). The view only moves forward: a sealed
// record older than the one in view (an earlier incarnation, an earlier
// heartbeat put back by someone who copied it) is ignored, and delete or purge
// markers, which need no secret, are ignored too (and counted): a node leaves
// the view when its own sealed tombstone (`leftAt`) says so, or when its
// heartbeat ages out. A node missing from the view is unknown, not dead:
// `requireNode` waits up to a liveness window for its next heartbeat.
//
// On a NATS cluster (engine/cluster/nats-cluster.ts) the buckets are created
// with `replicas` copies, so a record survives the loss of a server, and the
// connection fails over to a surviving server of the pool.

import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import { CwasiError } from '../errors.js';
import type { FunctionRecord, NodeRecord } from './protocol.js';
import { recordContext, type ControlSigner } from './signing.js';
import { ViewClock } from './view-clock.js';
import { BucketGuard, createBucket } from './bucket-guard.js';
import type { ConnectionOptions } from '@nats-io/transport-node';
import {
  FAILOVER_GRACE_MS, NO_RESPONDERS_GRACE_MS, NO_RESPONDERS_RETRY_MS, failoverOptions, isReplicaConfigError, kvReplicas, natsServerList,
} from './nats-cluster.js';

export interface RegistryOptions {
  /** One server URL, a comma-separated list, or an array of them. */
  nats: string | string[];
  /** Copies of each KV bucket on a JetStream cluster (default 1). */
  replicas?: number;
  cluster: string;
  node: string;
  heartbeatMs: number;
  /** A node silent for longer than this is dead. */
  staleMs: number;
  /** Seals and verifies records with the cluster secret. */
  signer: ControlSigner;
  /** NATS credentials and TLS (engine/cluster/nats-auth.ts). */
  connection?: Partial<ConnectionOptions>;
}

/** A node is alive while its last heartbeat is younger than this many of ITS periods (and `staleMs`). */
export const LIVENESS_BEATS = 3;
/** The longest period a record may claim (a peer's record is input: it cannot buy itself eternal life). */
export const MAX_HEARTBEAT_MS = 60_000;

export function natsError(what: string, err: unknown): CwasiError {
  return new CwasiError('E_NATS', `${what}: ${err instanceof Error ? err.message : String(err)}`);
}

export function bucketNames(cluster: string): { nodes: string; functions: string } {
  const safe = cluster.replace(/[^A-Za-z0-9_-]/g, '_');
  return { nodes: `cwasi_${safe}_nodes`, functions: `cwasi_${safe}_functions` };
}

/** The longest one pass over the node bucket may take (refresh); junk keys cannot make it longer. */
const SCAN_MAX_MS = 2000;
/** The buckets' stream configuration is checked every this many heartbeats (and whenever a put fails). */
const GUARD_EVERY_BEATS = 5;
/** Tries of one bucket read or put when it fails while connected, a guard check between tries. */
const REPAIR_TRIES = 3;

export class ClusterRegistry {
  readonly nc: NatsConnection;
  private readonly nodes: KV;
  private readonly functions: KV;
  private readonly view = new Map<string, NodeRecord>();
  private heartbeat: NodeJS.Timeout | undefined;
  private watching: Promise<void> | undefined;
  private watchStarting: Promise<void> | undefined;
  private stopped = false;
  /** False while the NATS connection is down; control requests then fail at once. */
  connected = true;
  /** Settles (and is replaced) each time the connection drops. */
  private dropped!: Promise<void>;
  private drop!: () => void;
  /** Settles (and is replaced) each time the connection comes back. */
  private restored!: Promise<void>;
  private restore!: () => void;
  /** Times the client reconnected (to the same or another server of the pool). */
  reconnects = 0;
  /** The time heartbeat ages are judged at: stops while this node's own beats do not round-trip (view-clock.ts). */
  private readonly clock: ViewClock;
  private readonly names: { nodes: string; functions: string };
  /** Records ignored because they were not sealed with the cluster secret for their key, and delete markers (only a sealed tombstone withdraws a node). */
  recordsRefused = 0;
  /** Replies ignored because they were not sealed by the node asked, for the request they answer. */
  repliesRefused = 0;

  private constructor(nc: NatsConnection, nodes: KV, functions: KV, readonly guard: BucketGuard, private readonly options: RegistryOptions) {
    this.nc = nc;
    this.nodes = nodes;
    this.functions = functions;
    this.names = bucketNames(options.cluster);
    this.clock = new ViewClock(options.heartbeatMs, () => this.longestWindow());
    this.armDrop();
    this.armRestore();
    void this.followStatus();
  }

  private armDrop(): void {
    this.dropped = new Promise<void>((resolve) => (this.drop = resolve));
  }

  private armRestore(): void {
    this.restored = new Promise<void>((resolve) => (this.restore = resolve));
  }

  /**
   * A NATS request to `node`'s subject, answered by the first reply that
   * `accept` takes (the caller's check that `node` sealed it for this very
   * request). Every other reply is counted in `repliesRefused` and ignored:
   * anyone else subscribed on the subject (holding NATS credentials but not
   * the secret) cannot answer in the node's place, however fast. Rejects with
   * a "timeout" error when no accepted reply came within `timeoutMs` (`ignored`
   * says how many did), and "no responders" when nobody listens; while the
   * node's record is alive that is retried briefly (NO_RESPONDERS_GRACE_MS):
   * during a failover its subscription is on its way to another server.
   * `signal` abandons the request (the caller gave up on it): its inbox and
   * timer go at once instead of at the timeout.
   */
  request<T>(node: string, subject: string, data: Uint8Array, timeoutMs: number, accept: (reply: Uint8Array) => T | undefined, signal?: AbortSignal): Promise<T> {
    const start = Date.now();
    const inbox = createInbox();
    return new Promise<T>((resolve, reject) => {
      let done = false;
      let retry: NodeJS.Timeout | undefined;
      let ignored = 0;
      const finish = (err: Error | undefined, value?: T) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(retry);
        signal?.removeEventListener('abort', abandon);
        sub.unsubscribe();
        if (err !== undefined) reject(err);
        else resolve(value as T);
      };
      const publish = () => {
        try {
          this.nc.publish(subject, data, { reply: inbox });
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
        }
      };
      const sub = this.nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (done) return;
          if (err) return finish(err);
          if (msg.data.length === 0 && msg.headers?.code === 503) {
            const elapsed = Date.now() - start;
            if (this.stopped || elapsed >= NO_RESPONDERS_GRACE_MS || elapsed >= timeoutMs || this.node(node) === undefined) {
              return finish(new Error(`no responders on ${subject}`));
            }
            retry = setTimeout(publish, NO_RESPONDERS_RETRY_MS);
            return;
          }
          let value: T | undefined;
          try {
            value = accept(msg.data);
          } catch {
            value = undefined;
          }
          if (value === undefined) {
            ignored++;
            this.repliesRefused++;
            return;
          }
          finish(undefined, value);
        },
      });
      const timer = setTimeout(() => finish(Object.assign(new Error(`timeout: no authentic reply on ${subject} within ${timeoutMs} ms`), { ignored })), Math.max(1, timeoutMs));
      const abandon = () => finish(new Error(`request on ${subject} abandoned`));
      if (signal?.aborted) return abandon();
      signal?.addEventListener('abort', abandon, { once: true });
      publish();
    });
  }

  /** The server this node is connected to now (for stats and logs). */
  server(): string {
    return this.nc.getServer();
  }

  /**
   * Resolves at once while connected; while the client fails over to another
   * server, resolves when it is back, or fails with E_NATS after `graceMs`
   * (a lone server that is down stays a fast failure, not a hang).
   */
  async whenConnected(what: string, graceMs = FAILOVER_GRACE_MS): Promise<void> {
    if (this.connected) return;
    if (this.stopped || this.nc.isClosed()) throw new CwasiError('E_NATS', `NATS connection closed: cannot ${what}`);
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CwasiError('E_NATS', `NATS is unreachable (no server of the pool answered within ${graceMs} ms): cannot ${what}`)), graceMs);
      timer.unref();
    });
    try {
      await Promise.race([this.restored, gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when the connection to NATS next drops. */
  whenDisconnected(): Promise<void> {
    return this.dropped;
  }

  private async followStatus(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'close') {
          if (this.connected) {
            this.connected = false;
            this.drop();
            this.armDrop();
          }
        } else if (s.type === 'reconnect') {
          this.reconnects++;
          if (!this.connected) {
            this.connected = true;
            this.restore();
            this.armRestore();
          }
        }
      }
    } catch {
      // the connection closed
    }
  }

  static async open(options: RegistryOptions): Promise<ClusterRegistry> {
    const servers = natsServerList(options.nats);
    const replicas = kvReplicas(options.replicas);
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...options.connection,
        ...failoverOptions(servers),
        name: `cwasi-${options.cluster}-${options.node}`,
      });
    } catch (err) {
      throw natsError(`cannot connect to NATS at ${servers.join(',')}`, err);
    }
    let step = 'JetStream key-value buckets unavailable (is the server started with -js?)';
    try {
      const kvm = new Kvm(nc);
      const names = bucketNames(options.cluster);
      // The TTL only collects records of nodes gone for good: liveness is judged by
      // heartbeat age (alive()), so the TTL must not retire a node that is merely
      // a few beats late, whatever period it (not the bucket's creator) beats at.
      const nodesTtl = Math.max(options.staleMs * 4, 30_000);
      const nodes = await createBucket(kvm, names.nodes, { history: 1, replicas, ttl: nodesTtl });
      const functions = await createBucket(kvm, names.functions, { history: 1, replicas });
      step = 'cannot read the registry buckets\' status';
      for (const [name, kv] of [[names.nodes, nodes], [names.functions, functions]] as const) {
        // An existing bucket keeps the replica count it was made with: fewer
        // copies than asked for is a durability the operator did not get.
        const have = (await kv.status()).replicas;
        if (have < replicas) {
          throw new CwasiError('E_CONFIG', `registry bucket ${name} exists with ${have} replica(s), fewer than the ${replicas} asked for: `
            + `raise it (nats stream edit KV_${name} --replicas ${replicas}) or delete the cluster's buckets`);
        }
      }
      // The streams under the buckets, as the registry needs them (bucket-guard.ts): repaired now, or E_CONFIG.
      step = 'cannot check the registry streams\' configuration';
      let registry: ClusterRegistry | undefined;
      const guard = await BucketGuard.open(nc, [
        { bucket: names.nodes, history: 1, ttlMs: nodesTtl, replicas },
        { bucket: names.functions, history: 1, ttlMs: 0, replicas },
      ], async (n) => {
        await createBucket(kvm, n.bucket, { history: n.history, replicas: n.replicas, ...(n.ttlMs > 0 ? { ttl: n.ttlMs } : {}) });
      }, async (n) => {
        if (n.bucket === names.functions) await registry?.putFunctionsAgain();
      });
      await guard.check();
      registry = new ClusterRegistry(nc, nodes, functions, guard, options);
      return registry;
    } catch (err) {
      await nc.close().catch(() => {});
      if (err instanceof CwasiError) throw err;
      if (replicas > 1 && isReplicaConfigError(err)) {
        throw new CwasiError('E_CONFIG', `cannot create the registry buckets with ${replicas} replicas (a JetStream cluster of at least ${replicas} servers is needed): ${(err as Error).message}`);
      }
      throw natsError(step, err);
    }
  }

  /** Whether this node announced itself (and so has a record to withdraw). */
  private announced = false;

  /** Publish this node and keep publishing it every heartbeat. */
  async announce(record: () => NodeRecord): Promise<void> {
    this.announced = true;
    const put = async (retry: boolean) => {
      if (this.stopped) return;
      const r = record();
      try {
        await this.nodes.put(r.name, this.seal(this.names.nodes, r.name, r));
        this.clock.beatStored(r.heartbeatAt);
        this.view.set(r.name, r);
      } catch {
        // NATS is down or restarting (the next heartbeat retries), or the
        // stream was changed so that it refuses puts: put it back, beat again.
        if (retry && this.connected && !this.stopped) await this.guard.check().then(() => put(false), () => {});
      }
    };
    this.clock.begin();
    await put(true);
    let beats = 0;
    this.heartbeat = setInterval(() => {
      void put(true);
      if (++beats % GUARD_EVERY_BEATS === 0 && this.connected) void this.guard.check().catch(() => {});
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
    await this.refresh();
    this.watching = this.watch();
  }

  private async watch(): Promise<void> {
    let again = false;
    while (!this.stopped) {
      try {
        // After a reconnect: catch up with what was put meanwhile (bounded), then follow updates.
        if (again) await this.refresh();
        again = true;
        // close() waits for this: draining while a watch is being set up leaks the
        // library's heartbeat timer, which keeps the process alive. Updates
        // only: the existing records were read by refresh().
        const starting = this.nodes.watch({ include: KvWatchInclude.UpdatesOnly });
        this.watchStarting = starting.then(() => {}, () => {});
        const w = await starting;
        for await (const e of w) {
          if (this.stopped) break;
          this.take(e.key, e.operation, e.value);
        }
      } catch {
        // Reconnecting, or the stream was edited under the watch (its subjects
        // moved: the consumer is refused): put it back, watch again.
        if (this.connected && !this.stopped) await this.guard.check().catch(() => {});
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 250).unref());
    }
  }

  /** Take a verified record into the view, unless the view already has a later one of that node. */
  private see(rec: NodeRecord): void {
    if (typeof rec.startedAt !== 'number' || typeof rec.heartbeatAt !== 'number') return;
    const had = this.view.get(rec.name);
    if (had !== undefined && (rec.startedAt < had.startedAt || (rec.startedAt === had.startedAt && rec.heartbeatAt < had.heartbeatAt))) return;
    this.view.set(rec.name, rec);
    if (rec.name === this.options.node && rec.leftAt === undefined) this.clock.beatSeen(rec.heartbeatAt);
    if (rec.leftAt === undefined) {
      for (const w of this.seenWaiters.get(rec.name) ?? []) w();
    }
  }

  /**
   * Read the bucket's node records into the view (at start, and when the
   * watch starts again after a reconnect): one pass over the last value of
   * every key, streamed, each checked and the unsealed refused, stopped after
   * SCAN_MAX_MS whatever the bucket holds. Whoever may write the bucket can
   * fill it with junk keys; a pass cut short misses nothing for long, since
   * every live node puts its record again each heartbeat (seen by the watch).
   */
  async refresh(): Promise<void> {
    await this.repairing('cannot read the node registry', async () => {
      if ((await this.nodes.status()).values === 0) return;
      const w = await this.nodes.watch({ ignoreDeletes: false });
      const stop = setTimeout(() => w.stop(), SCAN_MAX_MS);
      try {
        for await (const e of w) {
          this.take(e.key, e.operation, e.value);
          if (e.delta === 0 || e.isUpdate) break;
        }
      } finally {
        clearTimeout(stop);
        w.stop();
      }
    });
  }

  /**
   * One read or put of a bucket. When it fails while NATS is connected, the
   * stream under it may have been edited (other subjects: the consumer a read
   * needs is refused; a smaller size: puts are): the guard puts the streams
   * back (or rejects with E_CONFIG naming the setting) and the operation goes
   * again, REPAIR_TRIES in all. Disconnected, the first failure is the answer.
   */
  private async repairing<T>(what: string, op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (attempt >= REPAIR_TRIES || !this.connected || this.stopped) throw natsError(what, err);
        await this.guard.check().catch((e: unknown) => { throw e instanceof CwasiError ? e : natsError(what, e); });
      }
    }
  }

  /** One entry of the node bucket: a sealed record goes into the view; a marker or anything unsealed is refused. */
  private take(key: string, operation: string, value: Uint8Array): void {
    if (operation !== 'PUT') {
      this.recordsRefused++;
      return;
    }
    const rec = this.verify<NodeRecord>(this.names.nodes, key, value);
    if (rec !== undefined) this.see(rec);
  }

  /** Read one node's record into the view: a single lookup, whatever else the bucket holds. */
  private async lookup(name: string): Promise<void> {
    const rec = await this.sealedRecord(name);
    if (rec !== undefined) this.see(rec);
  }

  /** A live node's record, or undefined when it is unknown, silent or gone. */
  node(name: string): NodeRecord | undefined {
    const r = this.view.get(name);
    if (r === undefined || r.leftAt !== undefined) return undefined;
    return this.alive(r) ? r : undefined;
  }

  /** The sealed record under `name` as the bucket holds it now (not the view), or undefined. */
  sealedRecord(name: string): Promise<NodeRecord | undefined> {
    return this.readSealed<NodeRecord>(this.nodes, this.names.nodes, name, 'node');
  }

  /** The record under `key` if it is a PUT sealed with the secret (a marker or anything else: undefined). */
  private async readSealed<T extends { name: string }>(kv: KV, bucket: string, key: string, what: string): Promise<T | undefined> {
    try {
      const e = await kv.get(key);
      return e === null || e.operation !== 'PUT' ? undefined : this.verify<T>(bucket, key, e.value);
    } catch (err) {
      throw natsError(`cannot read the ${what} registry`, err);
    }
  }

  /**
   * Alive: the heartbeat is younger than the window, which is LIVENESS_BEATS
   * of the SENDER's period (or this reader's staleMs, if longer). Judging a
   * node that beats every second against a reader's own 3 × 300 ms declared
   * it dead in the last tenth of every period, and under load far more often.
   */
  private alive(r: NodeRecord): boolean {
    return typeof r.heartbeatAt === 'number' && this.clock.now() - r.heartbeatAt <= this.windowOf(r);
  }

  private windowOf(r: NodeRecord): number {
    const claimed = r.heartbeatMs;
    const period = typeof claimed === 'number' && Number.isFinite(claimed) && claimed > 0 ? Math.min(claimed, MAX_HEARTBEAT_MS) : 0;
    return Math.max(this.options.staleMs, LIVENESS_BEATS * period);
  }

  /** The longest liveness window of any node in view (how long the clock catches up after an outage). */
  private longestWindow(): number {
    let w = Math.max(this.options.staleMs, LIVENESS_BEATS * this.options.heartbeatMs);
    for (const r of this.view.values()) w = Math.max(w, this.windowOf(r));
    return w;
  }

  /**
   * Like `node`, but asks NATS once more before concluding the node is gone,
   * and a node the view has never seen (its record may be hidden under a
   * delete marker) gets up to one liveness window for a heartbeat to show it.
   */
  async requireNode(name: string): Promise<NodeRecord> {
    let r = this.node(name);
    if (r === undefined) {
      await this.lookup(name);
      r = this.node(name);
    }
    if (r === undefined && !this.view.has(name) && !this.stopped) {
      await this.whenSeen(name, Math.max(this.options.staleMs, LIVENESS_BEATS * this.options.heartbeatMs));
      r = this.node(name);
    }
    if (r === undefined) throw await this.notAlive(name);
    return r;
  }

  /** Why `name` is not in view: a record that does not open with this node's secret is named as the likely cause. */
  private async notAlive(name: string): Promise<CwasiError> {
    const message = `node "${name}" is not alive in cluster "${this.options.cluster}"`;
    const e = this.stopped ? null : await this.nodes.get(name).catch(() => null);
    if (e === null || e.operation !== 'PUT' || this.view.has(name)) return new CwasiError('E_NET', message, { node: name, reason: 'not-alive' });
    return new CwasiError('E_NET', `${message}: a record under that name is there but is not sealed with this node's cluster secret `
      + '(does every node use the same secret? `--secret-file` / `cluster.secret`)', { node: name, reason: 'unverified-record' });
  }

  private readonly seenWaiters = new Map<string, Set<() => void>>();

  /** Resolves once the view holds incarnation `startedAt` of `name` (or a later one), or after `ms`. */
  async whenIncarnation(name: string, startedAt: number, ms: number): Promise<void> {
    const until = Date.now() + ms;
    const have = () => (this.view.get(name)?.startedAt ?? -Infinity) >= startedAt;
    if (!have()) await this.lookup(name);
    while (!have() && !this.stopped && Date.now() < until) await this.whenSeen(name, until - Date.now());
  }

  /** Resolves when a live record of `name` is seen, or after `ms`. */
  private whenSeen(name: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.seenWaiters.get(name);
      if (set === undefined) this.seenWaiters.set(name, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.seenWaiters.delete(name);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      set.add(done);
    });
  }

  liveNodes(): NodeRecord[] {
    return [...this.view.values()].filter((r) => r.leftAt === undefined && this.alive(r));
  }

  /** The function records this node put, to put back if the bucket is made again. */
  private readonly putFunctions = new Map<string, FunctionRecord>();

  /** After the functions bucket was deleted and made again: every record this node had put. */
  async putFunctionsAgain(): Promise<void> {
    for (const rec of this.putFunctions.values()) await this.storeFunction(rec);
  }

  private storeFunction(rec: FunctionRecord): Promise<number> {
    return this.functions.put(rec.name, this.seal(this.names.functions, rec.name, rec));
  }

  async putFunction(rec: FunctionRecord): Promise<void> {
    this.putFunctions.set(rec.name, rec);
    // A stream changed to refuse puts is put back (or E_CONFIG says which setting), then the put goes again.
    await this.repairing('cannot record a function in the registry', () => this.storeFunction(rec));
  }

  getFunction(name: string): Promise<FunctionRecord | undefined> {
    return this.readSealed<FunctionRecord>(this.functions, this.names.functions, name, 'function');
  }

  private seal(bucket: string, key: string, rec: unknown): Uint8Array {
    return this.options.signer.seal(recordContext(bucket, key), rec).data;
  }

  /** The record under `key` if it is sealed for that key with the cluster secret, else undefined. */
  private verify<T extends { name: string }>(bucket: string, key: string, value: Uint8Array): T | undefined {
    try {
      const rec = this.options.signer.open<T>(recordContext(bucket, key), value, false, false).body;
      if (rec !== null && typeof rec === 'object' && rec.name === key) return rec;
    } catch {
      // not sealed with the secret, or altered: counted below
    }
    this.recordsRefused++;
    return undefined;
  }

  /** Stop heartbeats, withdraw this node (a sealed tombstone), close the connection. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.watchStarting;
    const last = this.view.get(this.options.node);
    if (last !== undefined && this.announced) {
      const now = Date.now();
      const tombstone: NodeRecord = { ...last, heartbeatAt: Math.max(now, last.heartbeatAt), leftAt: now, functions: [] };
      try {
        await this.nodes.put(tombstone.name, this.seal(this.names.nodes, tombstone.name, tombstone));
      } catch {
        // NATS is down: the heartbeat ages out instead
      }
    }
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close().catch(() => {});
    }
    await this.watching?.catch(() => {});
  }
}
