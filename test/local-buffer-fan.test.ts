// The Local Buffer carries fan-out (1 → 100) and fan-in (100 → 1) between
// isolated functions, in both of its forms, with every output checked; its
// rings are leased per edge, reused across invocations and freed on close.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';

const N = 100;
const SIZE = 64 * 1024 + 3;

function fanOut(): WorkflowDocument {
  const functions: WorkflowDocument['functions'] = { src: { module: 'producer' } };
  const edges = [];
  for (let i = 0; i < N; i++) {
    functions[`out${i}`] = { module: 'checksum' };
    edges.push({ from: 'src', to: `out${i}` });
  }
  return { name: 'fan-out-100', functions, edges, output: 'out0' };
}

function fanIn(): WorkflowDocument {
  const functions: WorkflowDocument['functions'] = { sink: { module: 'aggregate' } };
  const edges = [];
  for (let i = 0; i < N; i++) {
    functions[`in${i}`] = { module: i % 2 === 0 ? 'producer' : 'transform' };
    edges.push({ from: `in${i}`, to: 'sink' });
  }
  return { name: 'fan-in-100', functions, edges };
}

for (const transport of ['descriptor', 'stream'] as const) {
  test(`fan-out 1 → ${N} and fan-in ${N} → 1 over the ${transport} form`, async () => {
    const engine = await Engine.create({ threads: 2, local: { transport, ringBytes: 16 * 1024 }, timeoutMs: 60_000 });
    try {
      await engine.deploy(fanOut());
      await engine.deploy(fanIn());
      const spec = workloads.producerSpec(SIZE, 31);
      const data = workloads.produce(SIZE, 31);
      for (let round = 0; round < 2; round++) {
        const r = await engine.invokeWithReport('fan-out-100', spec);
        assert.is(r.edges.length, N);
        assert.ok(r.edges.every((e) => e.mode === 'local' && e.bytes === SIZE));
        assert.is(Object.keys(r.outputs).length, N);
        for (const out of Object.values(r.outputs)) assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(data), length: SIZE }]);

        const agg = workloads.readAggregate(await engine.invoke('fan-in-100', spec));
        assert.is(agg.count, N);
        agg.inputs.forEach((input, i) => {
          const expected = i % 2 === 0 ? data : workloads.transform(spec);
          assert.equal(input, { length: expected.length, hash: workloads.checksum(expected) }, `input ${i}`);
        });
      }
      const rings = engine.stats().rings;
      assert.is(rings.inUse, 0, 'every ring was given back');
      assert.ok(rings.edges >= 2 * N, 'a ring pool per edge');
      assert.ok(rings.rings <= 4 * N, `rings were reused across invocations (${rings.rings} created)`);
      for (const m of engine.stats().memory) assert.is(m.bytesInUse - m.cachedBytes - m.instanceBytes, 0, m.id);
    } finally {
      await engine.close();
    }
    assert.is(engine.stats().rings.rings >= 0, true);
  });
}

test.run();
