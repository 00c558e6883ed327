// NATS or Redis down or restarting: the invocations that need them fail with
// typed errors in bounded time, the others carry on, and everything works
// again when the server is back. Private servers, so the shared ones stay up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { NATS_BIN, REDIS_BIN, privateNats, privateRedis, type PrivateServer } from './helpers/servers.js';

const NATS_PORT = 14222 + (process.pid % 500);
const REDIS_PORT = 16379 + (process.pid % 500);

let nats: PrivateServer;
let redis: PrivateServer;
let harness: Harness;
let engine: Engine;

async function failsWith(p: Promise<unknown>, codes: string[], withinMs: number): Promise<CwasiError> {
  const t0 = Date.now();
  try {
    await p;
  } catch (e) {
    assert.instance(e, CwasiError);
    assert.ok(codes.includes((e as CwasiError).code), `expected ${codes.join('/')}, got ${(e as CwasiError).code}: ${(e as Error).message}`);
    assert.ok(Date.now() - t0 < withinMs, `took ${Date.now() - t0} ms`);
    return e as CwasiError;
  }
  assert.unreachable('expected a failure');
  throw new Error('unreachable');
}

test.before(async () => {
  if (NATS_BIN === undefined || REDIS_BIN === undefined) throw new Error('nats-server and redis-server are needed (see .ci/run)');
  nats = privateNats(NATS_PORT);
  redis = privateRedis(REDIS_PORT);
  await Promise.all([nats.start(), redis.start()]);
  harness = await startCluster({ nats: nats.url, nodes: [{ name: 'remote', host: '127.0.0.2' }] });
  engine = await Engine.create({
    threads: 2, timeoutMs: 15_000, redis: { url: redis.url },
    cluster: { nats: nats.url, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile, heartbeatMs: 300 },
  });
  await engine.deploy({ name: 'across', functions: { rp: { module: 'producer', host: 'remote' }, lc: { module: 'checksum' } }, edges: [{ from: 'rp', to: 'lc' }] });
  await engine.deploy({ name: 'via-redis', functions: { p: { module: 'producer' }, c: { module: 'checksum' } }, edges: [{ from: 'p', to: 'c', mode: 'remote-kv' }] });
  await engine.deploy({ name: 'here', functions: { hp: { module: 'producer' }, hc: { module: 'checksum' } }, edges: [{ from: 'hp', to: 'hc' }] });
});
test.after(async () => {
  await engine?.close();
  await harness?.close();
  await nats?.stop();
  await redis?.stop();
});

const check = (out: Uint8Array, size: number, seed: number) =>
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(size, seed)), length: size }]);

test('everything works while the servers are up', async () => {
  check(await engine.invoke('across', workloads.producerSpec(100_000, 1)), 100_000, 1);
  check(await engine.invoke('via-redis', workloads.producerSpec(100_000, 1)), 100_000, 1);
});

test('Redis down: remote-kv invocations fail with E_REDIS quickly; local ones carry on', async () => {
  await redis.stop();
  await failsWith(engine.invoke('via-redis', workloads.producerSpec(100_000, 2)), ['E_REDIS'], 8000);
  check(await engine.invoke('here', workloads.producerSpec(100_000, 2)), 100_000, 2);
});

test('Redis back: remote-kv works again', async () => {
  await redis.start();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      check(await engine.invoke('via-redis', workloads.producerSpec(100_000, 3)), 100_000, 3);
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

test('NATS down: invocations that need another node fail with a typed error in bounded time; local ones carry on', async () => {
  await nats.stop();
  await failsWith(engine.invoke('across', workloads.producerSpec(100_000, 4)), ['E_NATS', 'E_NET', 'E_TIMEOUT'], 12_000);
  check(await engine.invoke('here', workloads.producerSpec(100_000, 4)), 100_000, 4);
});

test('NATS back: the nodes reconnect and cross-node invocations work again', async () => {
  await nats.start();
  const deadline = Date.now() + 20_000;
  let last: unknown;
  for (;;) {
    try {
      check(await engine.invoke('across', workloads.producerSpec(100_000, 5)), 100_000, 5);
      break;
    } catch (e) {
      last = e;
      if (Date.now() > deadline) throw new Error(`no recovery: ${String(last)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
});

test.run();
