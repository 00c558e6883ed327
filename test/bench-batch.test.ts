// cwasi-test: exclusive (runs a benchmark beside a Piscina reference)
// `cwasi bench batch` at a tiny size: every row (compute-only and compute-and-copy first) is there with its throughput,
// latency and peak RSS, the Piscina reference computes the same results (the
// bench checks them and throws otherwise), and the report says schemaVersion 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batch } from '../bench/batch.js';

test('rows, goals and notes of a tiny run', async () => {
  const report = await batch({ sizes: [16 * 1024], executions: 6, quick: true, command: 'test', log: () => {} });
  assert.is(report.schemaVersion, 1);
  assert.equal(report.results.map((r) => r.mode), ['compute-only', 'compute-and-copy', 'piscina-postMessage', 'piscina-transfer', 'cwasi', 'cwasi-threads-1', 'cwasi-4n']);
  assert.equal(report.results.map((r) => r.executions), [18, 18, 18, 18, 18, 18, 24]);
  for (const r of report.results) {
    assert.ok(r.throughputRps > 0 && r.latencyMs.p50Ms > 0 && r.latencyMs.p99Ms >= r.latencyMs.p50Ms, r.mode);
    assert.ok((r.peakRssBytes as number) > 0, r.mode);
  }
  const names = report.goals.map((g) => g.name);
  assert.is(names.length, 4, names.join('; '));
  assert.match(names[0]!, /^cwasi vs the faster Piscina pipeline \(piscina-(postMessage|transfer)\) at 16 KiB$/);
  assert.is(names[1], 'cwasi vs compute-only (the kernels alone, no IFC) at 16 KiB');
  assert.match(report.goals[1]!.measured, /compute-and-copy [0-9.]+× of compute-only, cwasi [0-9.]+× of compute-and-copy/);
  assert.is(names[2], 'threads 2 vs threads 1 at 16 KiB');
  assert.is(names[3], 'peak RSS with 24 vs 6 inputs at 16 KiB');
  assert.is(report.meta.threads, 2);
});

test.run();
