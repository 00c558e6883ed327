// A whole payload streamed to a step on another node is handed to that
// step's worker before its last bytes land (engine/cluster/stream-input.ts):
// once at most EARLY_START_BYTES are left, or at once for a shorter stream.
// The worker waits on the input's landing gate before the function runs, so
// the function still sees every byte: checked against the payload computed
// here, for streams longer and shorter than the early start, several at once.
// The receiving node is an engine in this process, so its stats show that
// the inputs went out early; the producer runs in a `cwasi node` process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { EARLY_START_BYTES } from '../engine/cluster/stream-input.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { MiB, NATS_URL, SEED } from './helpers/env.js';

let harness: Harness;
let coord: Engine;
let far: Engine;

test.before(async () => {
  harness = await startCluster({ nats: NATS_URL, nodes: [{ name: 'src', host: '127.0.0.2' }], threads: 1 });
  const cluster = { nats: harness.nats, cluster: harness.cluster, secretFile: harness.secretFile };
  far = await Engine.create({ threads: 2, timeoutMs: 30_000, cluster: { ...cluster, name: 'far' } });
  coord = await Engine.create({ threads: 1, timeoutMs: 30_000, cluster: { ...cluster, name: 'coord' } });
  await coord.deploy({
    name: 'across',
    functions: { p: { module: 'producer', host: 'src' }, c: { module: 'checksum', host: 'far' } },
    edges: [{ from: 'p', to: 'c' }],
  });
});

test.after(async () => {
  await coord?.close();
  await far?.close();
  await harness?.close();
});

async function checked(size: number, seed: number): Promise<void> {
  const out = await coord.invoke('across', workloads.producerSpec(size, seed), { modes: { '*': 'networked' } });
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(size, seed)), length: size }], `${size} bytes, seed ${seed}`);
}

test('streams longer and shorter than the early start arrive whole, handed to the worker early', async () => {
  const before = far.clusterStats()!.inputsHandedEarly;
  const sizes = [EARLY_START_BYTES + 20 * MiB + 3, EARLY_START_BYTES - 1, 1, 3 * MiB + 7];
  for (const [i, size] of sizes.entries()) await checked(size, SEED + i);
  assert.is(far.clusterStats()!.inputsHandedEarly - before, sizes.length);
});

test('several at once, each landing in its own place', async () => {
  const sizes = [9 * MiB + 1, 6 * MiB, 12 * MiB + 5, 2 * MiB];
  await Promise.all(sizes.map((size, i) => checked(size, SEED + 100 + i)));
  // Nothing is left waiting for a stream on the receiving node.
  assert.is(far.clusterStats()!.waiting, 0);
});

test.run();
