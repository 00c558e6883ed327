// cwasi-test: exclusive (runs a benchmark: pool sizes swept against each other)
// `cwasi bench batch --threads 1,2,3`: one cwasi row per pool size (the largest
// is the `cwasi` row, beside the Piscina rows), the 2-vs-1 goal, and a scaling
// line that names every size. No figure is asserted, only that each is there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batch } from '../bench/batch.js';

test('a pool-size sweep measures every size in the same rounds and reports the scaling', async () => {
  const report = await batch({ sizes: [16 * 1024], executions: 4, quick: true, command: 'test', log: () => {}, threads: 1, threadSweep: [1, 2, 3] });
  assert.equal(report.results.map((r) => r.mode), ['compute-only', 'compute-and-copy', 'piscina-postMessage', 'piscina-transfer', 'cwasi', 'cwasi-threads-1', 'cwasi-threads-2', 'cwasi-4n']);
  assert.equal(report.results.map((r) => r.threads), [3, 3, 3, 3, 3, 1, 2, 3]);
  for (const r of report.results) assert.ok(r.throughputRps > 0, r.mode);
  const names = report.goals.map((g) => g.name);
  assert.ok(names.some((n) => n.startsWith('threads 2 vs threads 1')), names.join('; '));
  const scaling = report.goals.find((g) => g.name.startsWith('scaling over threads 1'));
  assert.ok(scaling, names.join('; '));
  assert.match(scaling!.measured, /^1: 1\.00×, 2: \d+\.\d\d×, 3: \d+\.\d\d×$/);
  assert.equal(report.meta.threadSweep, [1, 2, 3]);
});

test.run();
