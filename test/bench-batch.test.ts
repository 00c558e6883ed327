// cwasi-test: exclusive (runs a benchmark beside a Piscina reference)
// `cwasi bench batch` at a tiny size: every row is there with its throughput,
// latency and peak RSS, the Piscina reference computes the same results (the
// bench checks them and throws otherwise), and the report says schemaVersion 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batch } from '../bench/batch.js';

test('rows, goals and notes of a tiny run', async () => {
  const report = await batch({ sizes: [16 * 1024], executions: 6, quick: true, command: 'test', log: () => {} });
  assert.is(report.schemaVersion, 1);
  assert.equal(report.results.map((r) => r.mode), ['piscina-postMessage', 'piscina-transfer', 'cwasi', 'cwasi-threads-1', 'cwasi-4n']);
  assert.equal(report.results.map((r) => r.executions), [18, 18, 18, 18, 24]);
  for (const r of report.results) {
    assert.ok(r.throughputRps > 0 && r.latencyMs.p50Ms > 0 && r.latencyMs.p99Ms >= r.latencyMs.p50Ms, r.mode);
    assert.ok((r.peakRssBytes as number) > 0, r.mode);
  }
  assert.is(report.goals.length, 3);
  assert.is(report.meta.threads, 2);
});

test.run();
