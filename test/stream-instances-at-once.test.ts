// Two instances of one streaming module in one memory stream at once: every
// worker has its own instance of stream-producer and of stream-checksum (an
// untrusted function's instances share its memory), and many small window
// chunks make each instance ask the host for thousands of pieces while the
// other does the same. Each stream's checksum matches plain JS: what the host
// tells one instance (where its next piece or reserved place is) never
// reaches the other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { SEED } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 4 });
  await engine.deploy({
    name: 'pair',
    functions: { 'pair-p': { module: 'stream-producer', streamWindowBytes: 65_536 }, 'pair-c': { module: 'stream-checksum' } },
    edges: [{ from: 'pair-p', to: 'pair-c' }],
  });
});
test.after(async () => {
  await closeEngine(engine);
});

test('24 streams of 8 KiB chunks, three at a time: every checksum right', async () => {
  const size = 4 * 2 ** 20 + 7;
  const seeds = Array.from({ length: 24 }, (_, i) => SEED + i);
  for await (const r of engine.map('pair', seeds.map((s) => workloads.producerSpec(size, s)), { concurrency: 3, timeoutMs: 60_000 })) {
    if (r.error) throw r.error;
    const want = { hash: workloads.checksum(workloads.produce(size, seeds[r.index]!)), length: size };
    assert.equal(workloads.readChecksums(r.output!), [want], `stream ${r.index}`);
  }
  assert.is(engine.stats().rings.inUse, 0);
});

test.run();
