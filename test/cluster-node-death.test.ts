// A node that dies mid-transfer fails the invocations it was part of with a
// typed error in bounded time; other invocations carry on; when the node
// comes back, its connection is re-established and its functions are
// deployed again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { MiB, NATS_URL } from './helpers/env.js';

let harness: Harness;
let engine: Engine;

test.before(async () => {
  harness = await startCluster({ nats: NATS_URL, nodes: [{ name: 'dying', host: '127.0.0.2' }, { name: 'steady', host: '127.0.0.3' }] });
  engine = await Engine.create({
    threads: 2, timeoutMs: 30_000,
    cluster: { nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile, heartbeatMs: 300 },
  });
  await engine.deploy({
    name: 'from-dying',
    functions: { big: { module: 'producer', host: 'dying' }, sum: { module: 'checksum' } },
    edges: [{ from: 'big', to: 'sum' }],
  });
  await engine.deploy({
    name: 'from-steady',
    functions: { small: { module: 'producer', host: 'steady' }, sum2: { module: 'checksum' } },
    edges: [{ from: 'small', to: 'sum2' }],
  });
});
test.after(async () => {
  await engine?.close();
  await harness?.close();
});

test('killing the producer node mid-stream fails that invocation with E_NET, quickly', async () => {
  // Warm both paths.
  await engine.invoke('from-dying', workloads.producerSpec(MiB, 1));
  await engine.invoke('from-steady', workloads.producerSpec(MiB, 1));
  const received = () => engine.clusterStats()!.net.bytesReceived;
  const before = received();
  const doomed = engine.invoke('from-dying', workloads.producerSpec(512 * MiB, 2));
  doomed.catch(() => {});
  // Wait until the stream is flowing, then kill the node that sends it.
  const deadline = Date.now() + 20_000;
  while (received() - before < 16 * MiB && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.ok(received() - before >= 16 * MiB, 'the stream started');
  const killedAt = Date.now();
  await harness.stop('dying', true);
  let err: unknown;
  try {
    await doomed;
  } catch (e) {
    err = e;
  }
  assert.instance(err, CwasiError);
  assert.ok(['E_NET', 'E_CHANNEL'].includes((err as CwasiError).code), `got ${(err as CwasiError).code}: ${(err as Error).message}`);
  assert.ok(Date.now() - killedAt < 5000, `failed after ${Date.now() - killedAt} ms`);
});

test('the other node keeps serving while one is dead', async () => {
  const out = await engine.invoke('from-steady', workloads.producerSpec(2 * MiB, 3));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(2 * MiB, 3)), length: 2 * MiB }]);
});

test('an invocation that needs the dead node fails fast with E_NET', async () => {
  const t0 = Date.now();
  let err: unknown;
  try {
    await engine.invoke('from-dying', workloads.producerSpec(1000, 4));
  } catch (e) {
    err = e;
  }
  assert.instance(err, CwasiError);
  assert.ok(['E_NET', 'E_TIMEOUT'].includes((err as CwasiError).code), (err as Error).message);
  assert.ok(Date.now() - t0 < 10_000);
});

test('when the node returns, it is reached again and its functions are deployed again', async () => {
  await harness.start('dying', '127.0.0.2');
  // The restarted node announced itself; the first invocation redeploys its functions.
  const deadline = Date.now() + 10_000;
  let out: Uint8Array | undefined;
  let last: unknown;
  while (out === undefined && Date.now() < deadline) {
    try {
      out = await engine.invoke('from-dying', workloads.producerSpec(3 * MiB, 5));
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  assert.ok(out !== undefined, `no success after the restart: ${String(last)}`);
  assert.equal(workloads.readChecksums(out!), [{ hash: workloads.checksum(workloads.produce(3 * MiB, 5)), length: 3 * MiB }]);
});

test.run();
