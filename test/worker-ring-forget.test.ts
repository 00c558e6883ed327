// A worker forgets the rings the main thread dropped (aborted after a failed
// transfer): the buffers of failed Local Buffer transfers do not pile up in
// the workers that saw them. Before, each worker kept every ring it had ever
// been handed for as long as it lived (workerStats().rings only grew).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';

test('after many failed stream transfers, each worker holds a few rings, not one per failure', async () => {
  const engine = await Engine.create({ threads: 2, local: { transport: 'stream', sameWorker: false } });
  try {
    await engine.deploy({ name: 'breaks', functions: { t: { module: 'trap' }, sink: { module: 'checksum' } }, edges: [{ from: 't', to: 'sink' }] });
    await engine.deploy({ name: 'fine', functions: { p: { module: 'producer' }, c: { module: 'checksum' } }, edges: [{ from: 'p', to: 'c' }] });
    const FAILURES = 30;
    for (let i = 0; i < FAILURES; i++) await rejectsWith(engine.invoke('breaks', Uint8Array.of(1)), 'E_FUNCTION_TRAP');
    const size = 1024 * 1024;
    const out = await engine.invoke('fine', workloads.producerSpec(size, 7));
    assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(size, 7)), length: size }]);
    const rings = engine.stats().rings;
    assert.ok(rings.rings >= FAILURES, `each failed transfer had its own ring (${rings.rings} made)`);
    for (const w of await engine.workerStats()) {
      assert.ok(w.rings <= 3, `worker ${w.threadId} still holds ${w.rings} rings after ${FAILURES} failed transfers`);
    }
  } finally {
    await engine.close();
  }
});

test.run();
