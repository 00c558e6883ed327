// More live chains in flight than workers: 24 inputs through
// stream-producer → stream-transform → stream-checksum with 8 in flight on
// two threads. Most consumers cannot start beside their producers; those
// producers keep what nobody reads in their memory and hand it over as a
// descriptor, so nothing waits for a worker that will not come. Every output
// matches plain JS, and no ring or call arena is left.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { SEED } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2, local: { ringBytes: 256 * 1024 } });
  const mods = ['stream-producer', 'stream-transform', 'stream-checksum'];
  await engine.deploy({
    name: 'sat',
    functions: Object.fromEntries(mods.map((m, i) => [`sat-${i}`, { module: m }])),
    edges: [{ from: 'sat-0', to: 'sat-1' }, { from: 'sat-1', to: 'sat-2' }],
  });
});
test.after(async () => {
  await closeEngine(engine);
});

test('24 live chains, 8 in flight on two workers: every output right, nothing left', async () => {
  const size = 4 * 2 ** 20 + 3;
  const inputs = Array.from({ length: 24 }, (_, i) => workloads.producerSpec(size, SEED + i));
  const seen = new Set<number>();
  for await (const r of engine.map('sat', inputs, { concurrency: 8, timeoutMs: 60_000 })) {
    if (r.error) throw r.error;
    assert.equal(workloads.readChecksums(r.output!), [workloads.streamedChecksum(size, SEED + r.index)], `input ${r.index}`);
    seen.add(r.index);
  }
  assert.is(seen.size, 24);
  const s = engine.stats();
  assert.is(s.rings.inUse, 0, 'rings given back');
  // Two workers: each memory holds at most one instance arena per worker.
  for (const m of s.memory) assert.ok(m.liveArenas <= 2, `${m.members}: ${m.liveArenas} arenas`);
});

test.run();
