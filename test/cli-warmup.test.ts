// `cwasi run --warmup N`: N unmeasured invocations first; the cold first call
// is reported apart (coldMs) and never enters the steady-state summary, which
// has the shared latency shape.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cwasi } from './helpers/cli.js';

test('--warmup runs unmeasured invocations; the summary covers --repeat, cold call apart', async () => {
  const r = await cwasi('run', 'examples/sequential.json', '--size', '16KiB', '--warmup', '3', '--repeat', '7', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.schemaVersion, 1);
  assert.is(j.warmup, 3);
  assert.is(j.invocations, 7);
  assert.ok(j.coldMs > 0);
  assert.equal(Object.keys(j.latencyMs), ['count', 'meanMs', 'p50Ms', 'p90Ms', 'p99Ms', 'maxMs']);
  assert.is(j.latencyMs.count, 7);
});

test('without --warmup the cold first call is kept out of the steady-state figures', async () => {
  const r = await cwasi('run', 'examples/sequential.json', '--size', '16KiB', '--repeat', '6', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.warmup, 0);
  assert.is(j.latencyMs.count, 5);
  assert.ok(j.coldMs > 0);
  const text = await cwasi('run', 'examples/sequential.json', '--size', '16KiB', '--repeat', '4', '--warmup', '2');
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /time: cold first call .+; 4 measured after 2 warm-up, concurrency 1, 4 steady-state: p50 .+, p90 .+, p99 .+, max .+, mean .+; [\d.]+ invocations\/s/);
  const bad = await cwasi('run', 'identity', '--warmup', '-1');
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--warmup must be a non-negative integer/);
});

test.run();
