// Several workers run members of one embedding group at once, on the same
// memory: concurrent invocations and the branches of a fan-out, every byte
// compared. The shared allocator and each instance's own shadow stack must
// keep them apart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 3, timeoutMs: 60_000 });
  await engine.deploy({
    name: 'cc',
    functions: {
      producer: { module: 'producer', trusted: true, domain: 'cc' },
      transform: { module: 'transform', trusted: true, domain: 'cc' },
      checksum: { module: 'checksum', trusted: true, domain: 'cc' },
      agg: { module: 'aggregate', trusted: true, domain: 'cc' },
    },
    edges: [
      { from: 'producer', to: 'transform' },
      { from: 'producer', to: 'checksum' },
      { from: 'transform', to: 'agg' },
      { from: 'checksum', to: 'agg' },
    ],
  });
});
test.after(async () => {
  await engine.close();
});

test('48 concurrent invocations of a fan-out/fan-in DAG in one memory, all exact', async () => {
  const threads = new Set<number>();
  const runs = Array.from({ length: 48 }, async (_, i) => {
    const size = 20_000 + i * 997;
    const r = await engine.invokeWithReport('cc', workloads.producerSpec(size, i));
    r.steps.forEach((s) => threads.add(s.threadId));
    const data = workloads.produce(size, i);
    const agg = workloads.readAggregate(r.output);
    const cs = workloads.checksum(data);
    const checksumRecord = new Uint8Array(8);
    new DataView(checksumRecord.buffer).setUint32(0, cs, true);
    new DataView(checksumRecord.buffer).setUint32(4, size, true);
    assert.equal(agg.inputs, [
      { length: size, hash: workloads.checksum(workloads.transform(data)) },
      { length: 8, hash: workloads.checksum(checksumRecord) },
    ], `invocation ${i}`);
  });
  await Promise.all(runs);
  assert.ok(threads.size >= 2, `members ran on ${threads.size} thread(s)`);
  assert.is(new Set(engine.stats().memory.filter((m) => m.members.includes('producer')).map((m) => m.id)).size, 1);
});

test('managed-object code (maps, strings) in one module on several threads at once', async () => {
  await engine.deploy([{ name: 'wc', module: 'wordcount', trusted: true, domain: 'cc' }]);
  const texts = Array.from({ length: 40 }, (_, i) => Array.from({ length: 300 + i * 7 }, (_, k) => `w${(k * 31 + i) % (17 + i)}`).join(i % 2 ? ' ' : '\n'));
  const threads = new Set<number>();
  const outs = await Promise.all(texts.map((t) => engine.invokeWithReport('wc', new TextEncoder().encode(t))));
  outs.forEach((r, i) => {
    r.steps.forEach((s) => threads.add(s.threadId));
    assert.is(new TextDecoder().decode(r.output), workloads.wordcount(texts[i]!), `text ${i}`);
  });
  assert.ok(threads.size >= 2, `ran on ${threads.size} thread(s)`);
});

test.run();
