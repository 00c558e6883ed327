// Per-invocation arenas are reclaimed: thousands of invocations in one memory
// do not make it grow without bound, and afterwards it holds nothing but the
// instances' stacks and the threads' cached chunks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy({
    name: 'reclaim',
    functions: {
      producer: { module: 'producer', trusted: true, domain: 'r' },
      checksum: { module: 'checksum' },
    },
    edges: [{ from: 'producer', to: 'checksum' }],
  });
  await engine.deploy([{ name: 'wordcount', module: 'wordcount', trusted: true, domain: 'r' }]);
});
test.after(async () => {
  await engine.close();
});

test('3000 invocations (embedded, local, allocation-heavy) leave the memories where they were', async () => {
  const spec = workloads.producerSpec(100_000, 1);
  const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog '.repeat(50));
  const round = async (n: number) => {
    for (let i = 0; i < n; i += 8) {
      await Promise.all([
        ...Array.from({ length: 4 }, () => engine.invoke('reclaim', spec)),
        ...Array.from({ length: 4 }, () => engine.invoke('wordcount', text)),
      ]);
    }
  };
  await round(200);
  const size = () => engine.stats().memory.reduce((n, m) => n + m.memoryBytes, 0);
  const warm = size();
  await round(2800);
  assert.is(size(), warm, 'no memory grew after warm-up');
  for (const m of engine.stats().memory) {
    const held = m.bytesInUse - m.cachedBytes - m.instanceBytes;
    assert.is(held, 0, `${m.id} holds ${held} bytes after the invocations`);
    assert.ok(m.peakInUse < 16 << 20, `${m.id} peaked at ${m.peakInUse} bytes`);
  }
});

test.run();
