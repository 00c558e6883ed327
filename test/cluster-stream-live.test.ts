// Live streams between nodes (engine/channels/networked-live.ts): `cwasi
// node` processes on 127.0.0.2-4 and this process coordinating, with the
// real NATS registry. A stream 10x each stage's memory goes from here
// through two other nodes and back, every edge one open-ended stream (the
// whole-payload form of the same chain is refused for memory); a failure
// mid-way ends with one typed error and leaves no ring leased here: a
// producer that traps on another node, a consumer here that stalls
// (deadline) or is aborted, a consumer that reads only the head (it
// succeeds), a producing node killed mid-stream and a
// consuming node killed mid-stream (E_NET, within the detection bound).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { rejectsWith } from './helpers/assert-error.js';
import { failureBoundMs, untilBytes } from './helpers/cluster-failure.js';
import { MiB, NATS_URL, SEED } from './helpers/env.js';

let harness: Harness;
let engine: Engine;
const CAP = { memoryMaxBytes: 4 * MiB };

test.before(async () => {
  harness = await startCluster({ nats: NATS_URL, nodes: [{ name: 'b', host: '127.0.0.2' }, { name: 'c', host: '127.0.0.3' }, { name: 'victim', host: '127.0.0.4' }] });
  engine = await Engine.create({
    threads: 2, timeoutMs: 60_000,
    cluster: { nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile, heartbeatMs: 300 },
  });
});
test.after(async () => {
  await engine?.close();
  await harness?.close();
});

async function noRingsLeased(what: string): Promise<void> {
  let inUse = engine.stats().rings.inUse;
  for (let i = 0; i < 250 && inUse > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    inUse = engine.stats().rings.inUse;
  }
  assert.is(inUse, 0, `${what}: every ring given back here`);
}

test('a stream 10x each stage memory goes here → b → c → here live, every edge one open-ended stream', async () => {
  await engine.deploy({
    name: 'x-live',
    functions: {
      sp: { module: 'stream-producer', ...CAP },
      st: { module: 'stream-transform', host: 'b', ...CAP },
      st2: { module: 'stream-transform', host: 'c', ...CAP },
      sk: { module: 'stream-checksum', ...CAP },
    },
    edges: [{ from: 'sp', to: 'st' }, { from: 'st', to: 'st2' }, { from: 'st2', to: 'sk' }],
  });
  const plan = engine.plan('x-live');
  assert.equal(plan.edges.map((e) => e.mode), ['networked', 'networked', 'networked']);
  const size = 40 * MiB + 13;
  const before = engine.clusterStats()!.net;
  const out = await engine.invoke('x-live', workloads.producerSpec(size, SEED));
  assert.equal(workloads.readChecksums(out), [workloads.streamedChecksum(size, SEED, 2)]);
  const after = engine.clusterStats()!.net;
  assert.ok(after.bytesSent - before.bytesSent >= size && after.bytesReceived - before.bytesReceived >= size, 'the stream left and came back');
  // The last edge's reads land in its ring here (the credit follows the ring's room), not copied from the read buffer.
  const landed = after.bytesLandedDirect - before.bytesLandedDirect;
  assert.ok(landed >= 0.99 * size, `${landed} of ${size} bytes read straight into the ring`);
  for (const small of [0, 1, 64 * 1024 + 3]) {
    assert.equal(workloads.readChecksums(await engine.invoke('x-live', workloads.producerSpec(small, SEED + small))), [workloads.streamedChecksum(small, SEED + small, 2)], `${small} bytes`);
  }
  await noRingsLeased('x-live');
  // The same chain of whole-payload functions needs the payload in each memory.
  await engine.deploy({
    name: 'x-whole',
    functions: { wp: { module: 'producer', ...CAP }, wt: { module: 'transform', host: 'b', ...CAP }, wk: { module: 'checksum', ...CAP } },
    edges: [{ from: 'wp', to: 'wt' }, { from: 'wt', to: 'wk' }],
  });
  await rejectsWith(engine.invoke('x-whole', workloads.producerSpec(size, SEED)), 'E_MEMORY_LIMIT');
});

test('a producer that traps mid-stream on b: E_FUNCTION_TRAP well before the deadline', async () => {
  await engine.deploy({ name: 'x-trap', functions: { tp: { module: 'stream-probe', host: 'b' }, tk: { module: 'stream-checksum' } }, edges: [{ from: 'tp', to: 'tk' }] });
  const t = Date.now();
  await rejectsWith(engine.invoke('x-trap', Uint8Array.of(8), { timeoutMs: 20_000 }), 'E_FUNCTION_TRAP');
  assert.ok(Date.now() - t < 5000, `ended in ${Date.now() - t} ms`);
  await noRingsLeased('trap');
});

test('a consumer here that stalls: E_TIMEOUT; aborted mid-stream: E_ABORTED', async () => {
  await engine.deploy({ name: 'x-stall', functions: { sp2: { module: 'stream-producer', host: 'c' }, ss: { module: 'stream-stall' } }, edges: [{ from: 'sp2', to: 'ss' }] });
  await rejectsWith(engine.invoke('x-stall', workloads.producerSpec(64 * MiB, SEED), { timeoutMs: 500 }), 'E_TIMEOUT');
  await noRingsLeased('stall');
  const ac = new AbortController();
  const p = engine.invoke('x-stall', workloads.producerSpec(64 * MiB, SEED), { signal: ac.signal, timeoutMs: 20_000 });
  await untilBytes(() => engine.stats().rings.inUse, 1, 10_000);
  ac.abort();
  await rejectsWith(p, 'E_ABORTED');
  await noRingsLeased('abort');
});

test('a consumer that reads only the head succeeds, and its producer on the other node stops', async () => {
  await engine.deploy({ name: 'x-head', functions: { hp: { module: 'stream-producer', host: 'c' }, hk: { module: 'stream-head' } }, edges: [{ from: 'hp', to: 'hk' }] });
  const size = 256 * MiB;
  const out = await engine.invoke('x-head', workloads.producerSpec(size, SEED + 1), { timeoutMs: 20_000 });
  const head = workloads.produce(size, SEED + 1).subarray(0, 64 * 1024);
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(head), length: head.length }]);
  await noRingsLeased('head');
  assert.is(engine.clusterStats()!.waiting, 0, 'no stream left waiting here');
  // And the other way: the producer here stops once the consumer on b returned (not at the deadline).
  await engine.deploy({ name: 'x-head-far', functions: { fp: { module: 'stream-producer' }, fk: { module: 'stream-head', host: 'b' } }, edges: [{ from: 'fp', to: 'fk' }] });
  const t = Date.now();
  const far = await engine.invoke('x-head-far', workloads.producerSpec(size, SEED + 1), { timeoutMs: 20_000 });
  assert.equal(workloads.readChecksums(far), [{ hash: workloads.checksum(head), length: head.length }]);
  assert.ok(Date.now() - t < 5000, `ended in ${Date.now() - t} ms`);
  await noRingsLeased('head, consumer on b');
});

for (const side of ['producing', 'consuming'] as const) {
  test(`the ${side} node killed mid-stream: E_NET within the detection bound`, async () => {
    if (harness.nodes.get('victim') === undefined) await harness.start('victim', '127.0.0.4');
    const name = `x-kill-${side}`;
    await engine.deploy(side === 'producing'
      ? { name, functions: { [`${name}-p`]: { module: 'stream-producer', host: 'victim' }, [`${name}-k`]: { module: 'stream-checksum' } }, edges: [{ from: `${name}-p`, to: `${name}-k` }] }
      : { name, functions: { [`${name}-p`]: { module: 'stream-producer' }, [`${name}-k`]: { module: 'stream-checksum', host: 'victim' } }, edges: [{ from: `${name}-p`, to: `${name}-k` }] });
    const net = () => engine.clusterStats()!.net;
    const moved = () => (side === 'producing' ? net().bytesReceived : net().bytesSent);
    const before = moved();
    // 3 GiB: far more than moves before the kill.
    const doomed = engine.invoke(name, workloads.producerSpec(3 * 1024 * MiB, SEED));
    doomed.catch(() => {});
    assert.ok(await untilBytes(() => moved() - before, 16 * MiB, 20_000), 'the stream started');
    const killedAt = Date.now();
    await harness.stop('victim', true);
    let err: unknown;
    try {
      await doomed;
    } catch (e) {
      err = e;
    }
    const tookMs = Date.now() - killedAt;
    assert.instance(err, CwasiError, `the invocation must fail, got ${String(err)}`);
    assert.is((err as CwasiError).code, 'E_NET', (err as Error).message);
    assert.ok(tookMs < failureBoundMs(1000) + 2000, `failed after ${tookMs} ms`);
    await noRingsLeased(`${side} node killed`);
    harness.nodes.delete('victim');
  });
}

test.run();
