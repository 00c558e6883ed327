// Idle rings a pool keeps for reuse are bounded in bytes as well as in
// count: small rings up to 16 per edge, 8 MiB stream rings 4
// (KEEP_BYTES_PER_POOL), a ring above the budget one. Before, every pool
// kept 16 whatever their size: 128 MiB per Local Buffer stream edge after a
// burst of 16 transfers. engine.stats().rings reports what is kept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { LOCAL_STREAM_RING_BYTES } from '../engine/channels/local.js';
import { KEEP_BYTES_PER_POOL, RingPools, type PooledRing } from '../engine/ring/pools.js';

/** Lease `n` rings of `capacity` at once, give them all back cleanly: the pool's idle count and bytes. */
function burst(capacity: number, n: number): { idle: number; idleBytes: number; created: number } {
  const pools = new RingPools(1 << 20);
  const pool = pools.forEdge('a', 'b', capacity);
  const leased: PooledRing[] = [];
  for (let i = 0; i < n; i++) leased.push(pool.acquire());
  for (const r of leased) pool.giveBack(r, true);
  // A second burst reuses what was kept.
  const again: PooledRing[] = [];
  for (let i = 0; i < n; i++) again.push(pool.acquire());
  for (const r of again) pool.giveBack(r, true);
  const s = pools.stats();
  pools.close();
  return { idle: s.idle, idleBytes: s.idleBytes, created: s.rings };
}

test('small rings are kept by count, big ones by bytes, a ring above the budget alone', () => {
  const small = burst(64 * 1024, 20);
  assert.is(small.idle, 16);
  assert.is(small.created, 20 + 4, 'the second burst reused the 16 kept');
  const stream = burst(LOCAL_STREAM_RING_BYTES, 8);
  assert.is(stream.idle, KEEP_BYTES_PER_POOL / LOCAL_STREAM_RING_BYTES);
  assert.ok(stream.idleBytes <= KEEP_BYTES_PER_POOL, `${stream.idleBytes} bytes kept`);
  const huge = burst(64 * 1024 * 1024, 3);
  assert.is(huge.idle, 1);
  assert.is(huge.created, 3 + 2);
});

test('an engine reports the rings it keeps after concurrent Local Buffer stream transfers, within the budget', async () => {
  const engine = await Engine.create({ threads: 4, local: { transport: 'stream', sameWorker: false } });
  try {
    await engine.deploy({ name: 'flow', functions: { p: { module: 'producer' }, c: { module: 'checksum' } }, edges: [{ from: 'p', to: 'c' }] });
    const size = 3 * 1024 * 1024;
    const runs = Array.from({ length: 8 }, (_, i) => engine.invoke('flow', workloads.producerSpec(size, i)));
    const outs = await Promise.all(runs);
    outs.forEach((out, i) => assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(size, i)), length: size }]));
    const rings = engine.stats().rings;
    assert.is(rings.inUse, 0);
    assert.ok(rings.idle >= 1, 'a ring is kept for the next transfer');
    assert.ok(rings.idleBytes <= KEEP_BYTES_PER_POOL * rings.edges, `${rings.idleBytes} bytes kept over ${rings.edges} edge(s)`);
  } finally {
    await engine.close();
  }
});

test.run();
