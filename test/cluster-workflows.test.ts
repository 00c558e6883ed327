// Workflows across engine nodes: three `cwasi node` processes on 127.0.0.2-4
// and this process coordinating, with the real NATS JetStream registry and
// the Networked Buffer between nodes. Sequential, fan-out and fan-in, steps
// on the coordinator and on other nodes, edges inside one other node,
// streaming functions across nodes, and calls from inside a function to a
// function on another node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { MiB, NATS_URL } from './helpers/env.js';

let harness: Harness;
let engine: Engine;

test.before(async () => {
  harness = await startCluster({ nats: NATS_URL, nodes: [{ name: 'b', host: '127.0.0.2' }, { name: 'c', host: '127.0.0.3' }, { name: 'd', host: '127.0.0.4' }] });
  engine = await Engine.create({
    threads: 2, timeoutMs: 60_000,
    cluster: { nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile },
  });
});
test.after(async () => {
  await engine?.close();
  await harness?.close();
});

test('the registry sees every node', () => {
  assert.equal(engine.clusterStats()!.liveNodes, ['b', 'c', 'coord', 'd']);
});

test('sequential across nodes: producer on b → transform on c → checksum here', async () => {
  await engine.deploy({
    name: 'x-seq',
    functions: {
      p: { module: 'producer', host: 'b' },
      t: { module: 'transform', host: 'c' },
      k: { module: 'checksum' },
    },
    edges: [{ from: 'p', to: 't' }, { from: 't', to: 'k' }],
  });
  const plan = engine.plan('x-seq');
  assert.equal(plan.edges.map((e) => e.mode), ['networked', 'networked']);
  assert.match(plan.edges[0]!.reason, /different hosts \(b → c\)/);
  for (const size of [0, 1, 64 * 1024 + 1, 3 * MiB]) {
    const out = await engine.invoke('x-seq', workloads.producerSpec(size, size + 1));
    assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.transform(workloads.produce(size, size + 1))), length: size }], `${size} bytes`);
  }
});

test('streaming functions across nodes: stream-producer on b → stream-transform on c → stream-checksum here', async () => {
  // Each networked edge between two streaming functions streams live (cluster-stream-live tests it further).
  await engine.deploy({
    name: 'x-stream',
    functions: {
      sp: { module: 'stream-producer', host: 'b' },
      st: { module: 'stream-transform', host: 'c' },
      sk: { module: 'stream-checksum' },
    },
    edges: [{ from: 'sp', to: 'st' }, { from: 'st', to: 'sk' }],
  });
  assert.equal(engine.plan('x-stream').edges.map((e) => e.mode), ['networked', 'networked']);
  for (const size of [0, 64 * 1024 + 1, 3 * MiB]) {
    const out = await engine.invoke('x-stream', workloads.producerSpec(size, size + 7));
    assert.equal(workloads.readChecksums(out), [workloads.streamedChecksum(size, size + 7)], `${size} bytes`);
  }
});

test('fan-out from b to functions on c, d and here; fan-in back to b', async () => {
  await engine.deploy({
    name: 'x-fan',
    functions: {
      src: { module: 'producer', host: 'b' },
      oc: { module: 'checksum', host: 'c' },
      od: { module: 'transform', host: 'd' },
      oh: { module: 'identity' },
      join: { module: 'aggregate', host: 'b' },
    },
    edges: [
      { from: 'src', to: 'oc' }, { from: 'src', to: 'od' }, { from: 'src', to: 'oh' },
      { from: 'oc', to: 'join' }, { from: 'od', to: 'join' }, { from: 'oh', to: 'join' },
    ],
  });
  const size = 2 * MiB + 7;
  const data = workloads.produce(size, 9);
  const rec = new Uint8Array(8);
  new DataView(rec.buffer).setUint32(0, workloads.checksum(data), true);
  new DataView(rec.buffer).setUint32(4, size, true);
  const r = await engine.invokeWithReport('x-fan', workloads.producerSpec(size, 9));
  assert.ok(r.edges.every((e) => e.mode === 'networked'), r.edges.map((e) => e.mode).join(','));
  const agg = workloads.readAggregate(r.output);
  assert.equal(agg.inputs, [
    { length: 8, hash: workloads.checksum(rec) },
    { length: size, hash: workloads.checksum(workloads.transform(data)) },
    { length: size, hash: workloads.checksum(data) },
  ]);
  const hosts = new Set(r.steps.map((s) => s.group.split('/')[0]));
  assert.equal([...hosts].sort(), ['b', 'c', 'coord', 'd']);
});

test('two functions on the same other node: the edge stays there (embedded), the output is held', async () => {
  await engine.deploy({
    name: 'x-held',
    functions: {
      hp: { module: 'producer', host: 'c', trusted: true, domain: 'cc' },
      ht: { module: 'transform', host: 'c', trusted: true, domain: 'cc' },
      hk: { module: 'checksum', host: 'd' },
    },
    edges: [{ from: 'hp', to: 'ht' }, { from: 'ht', to: 'hk' }],
  });
  const plan = engine.plan('x-held');
  assert.equal(plan.edges.map((e) => e.mode), ['embedded', 'networked']);
  const out = await engine.invoke('x-held', workloads.producerSpec(MiB, 4));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.transform(workloads.produce(MiB, 4))), length: MiB }]);
});

test('a call from inside a function on b to a function on c goes over the network', async () => {
  await engine.deploy([
    { name: 'caller-b', module: 'scatter', host: 'b' },
    { name: 'callee-c', module: 'checksum', host: 'c' },
  ]);
  const out = await engine.invoke('caller-b', workloads.scatterSpec(MiB + 3, 6, 3, 'callee-c'));
  const hash = workloads.checksum(workloads.produce(MiB + 3, 6));
  assert.equal(workloads.readChecksums(out), [0, 1, 2].map(() => ({ hash, length: MiB + 3 })));
});

test('remote-kv forced between nodes goes through the real Redis', async () => {
  const out = await engine.invoke('x-seq', workloads.producerSpec(300_000, 2), { modes: { 'p->t': 'remote-kv' } });
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.transform(workloads.produce(300_000, 2))), length: 300_000 }]);
});

test('host "auto": the coordinator spreads functions over the live nodes, trusted ones of a domain together', async () => {
  const deployed = await engine.deploy({
    name: 'x-auto',
    functions: {
      ap: { module: 'producer', trusted: true, domain: 'auto', host: 'auto' },
      at: { module: 'transform', trusted: true, domain: 'auto', host: 'auto' },
      a1: { module: 'checksum', host: 'auto' },
      a2: { module: 'checksum', host: 'auto' },
      a3: { module: 'checksum', host: 'auto' },
    },
    edges: [{ from: 'ap', to: 'at' }, { from: 'at', to: 'a1' }, { from: 'at', to: 'a2' }, { from: 'at', to: 'a3' }],
    output: 'a1',
  });
  const host = Object.fromEntries(deployed.functions.map((f) => [f.name, f.host]));
  assert.is(host.ap, host.at, 'one domain, one node');
  assert.ok(new Set(Object.values(host)).size >= 3, `spread over ${JSON.stringify(host)}`);
  const r = await engine.invokeWithReport('x-auto', workloads.producerSpec(MiB, 8));
  const expected = workloads.checksum(workloads.transform(workloads.produce(MiB, 8)));
  for (const c of ['a1', 'a2', 'a3']) assert.equal(workloads.readChecksums(r.outputs[c]!), [{ hash: expected, length: MiB }]);
});

test('the CLI coordinates from inside the cluster', async () => {
  const { execFile } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const bin = fileURLToPath(new URL('../../bin/cwasi.js', import.meta.url));
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [bin, 'run', 'examples/cluster.json', '--size', '512KiB', '--nats', harness.nats, '--cluster', harness.cluster,
      '--secret-file', harness.secretFile, '--name', 'cli-coord', '--listen', '127.0.0.5:0'], { cwd: fileURLToPath(new URL('../../', import.meta.url)), timeout: 60_000 },
    (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  assert.match(out, /networked/);
  const sum = workloads.checksum(workloads.transform(workloads.produce(512 * 1024, 1))).toString(16).padStart(8, '0');
  assert.match(out, new RegExp(`checksum-a \\(output\\): cwasi-sum32 0x${sum}`));
});

test('concurrent invocations across nodes keep their data apart', async () => {
  const outs = await Promise.all(Array.from({ length: 12 }, (_, i) => engine.invoke('x-seq', workloads.producerSpec(100_000 + i, i))));
  outs.forEach((o, i) => assert.equal(workloads.readChecksums(o)[0]!.hash, workloads.checksum(workloads.transform(workloads.produce(100_000 + i, i)))));
});

test.run();
