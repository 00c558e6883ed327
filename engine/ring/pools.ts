// Ring pools (main thread): the SharedArrayBuffer rings (ring.ts) that Local
// Buffer and embedded edges lease per transfer, grouped per caller → callee
// edge and capacity, reset and reused after a clean finish, dropped (aborted)
// otherwise. Workers find a ring they have not seen by its id (byId, through a
// share request).

import { Ring } from './ring.js';

/**
 * Bytes of idle rings one pool keeps for reuse. With the count limit
 * (keepPerEdge, 16) small rings are kept by count; big ones by bytes: 8 MiB
 * stream rings keep 4, not 16 (128 MiB per edge after a burst of transfers).
 */
export const KEEP_BYTES_PER_POOL = 32 * 1024 * 1024;

/** A ring with the id workers know it by. */
export interface PooledRing {
  id: number;
  ring: Ring;
}

/** Rings of one capacity, leased per transfer and reused after a clean finish. */
export class RingPool {
  private readonly free: PooledRing[] = [];
  private leased = 0;
  created = 0;

  private readonly keep: number;

  constructor(readonly capacity: number, keepAtMost: number, private readonly registry: Map<number, PooledRing>, private readonly nextId: () => number) {
    this.keep = Math.max(1, Math.min(keepAtMost, Math.floor(KEEP_BYTES_PER_POOL / capacity)));
  }

  acquire(): PooledRing {
    this.leased++;
    const ring = this.free.pop();
    if (ring !== undefined) return ring;
    this.created++;
    const fresh = { id: this.nextId(), ring: Ring.create(this.capacity) };
    this.registry.set(fresh.id, fresh);
    return fresh;
  }

  /** A ring whose transfer ended cleanly is reset and reused; any other is dropped. */
  giveBack(r: PooledRing, clean: boolean): void {
    this.leased--;
    if (!clean || this.free.length >= this.keep) {
      r.ring.abort();
      this.registry.delete(r.id);
      return;
    }
    r.ring.reset();
    this.free.push(r);
  }

  get inUse(): number {
    return this.leased;
  }

  /** Rings kept for reuse now. */
  get idle(): number {
    return this.free.length;
  }

  close(): void {
    for (const r of this.free) {
      r.ring.abort();
      this.registry.delete(r.id);
    }
    this.free.length = 0;
  }
}

/** Ring pools per caller → callee edge, set up by the Function Coordinator. */
export class RingPools {
  private readonly pools = new Map<string, RingPool>();
  private readonly registry = new Map<number, PooledRing>();
  private lastId = 0;

  /** `streamRingBytes`: the capacity of streaming rings (the `local.ringBytes` option). */
  constructor(readonly streamRingBytes: number, private readonly keepPerEdge = 16) {}

  /** The pool of rings of `capacity` bytes for the edge from → to. */
  forEdge(from: string, to: string, capacity: number): RingPool {
    const key = `${from}\u0000${to}\u0000${capacity}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new RingPool(capacity, this.keepPerEdge, this.registry, () => ++this.lastId);
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** A live ring by id (workers ask for rings they have not seen). */
  byId(id: number): Ring | undefined {
    return this.registry.get(id)?.ring;
  }

  /**
   * Edges with a pool, rings made, rings leased now and their data bytes (a
   * live embedded or local stream's window lies in its producer's memory, not
   * here: only its 4 KiB ring of frames), and rings kept for reuse and theirs.
   */
  stats(): { edges: number; rings: number; inUse: number; inUseBytes: number; idle: number; idleBytes: number } {
    const s = { edges: this.pools.size, rings: 0, inUse: 0, inUseBytes: 0, idle: 0, idleBytes: 0 };
    for (const p of this.pools.values()) {
      const bytes = 2 ** Math.ceil(Math.log2(p.capacity));
      s.rings += p.created;
      s.inUse += p.inUse;
      s.inUseBytes += p.inUse * bytes;
      s.idle += p.idle;
      s.idleBytes += p.idle * bytes;
    }
    return s;
  }

  close(): void {
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }
}
