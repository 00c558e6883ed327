// cwasi-test: exclusive (measures dispatch latency and a task busy for a set time)
// The embedding bench's dispatch-after-run reference (bench/dispatch-ref.ts):
// a raw Piscina task posted when one that wrote `bytes` and ran `runMs`
// returned. Each sample is the second task's start minus the first's end,
// both stamped in the workers on one clock, so it can never be negative (the
// second task is posted only after the first's result arrived); the first
// task really stays busy for `runMs`; bad arguments are refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Piscina } from 'piscina';
import { measureDispatchAfterRun } from '../bench/dispatch-ref.js';

test('one sample per round, each a causal gap between two worker stamps', async () => {
  const samples = await measureDispatchAfterRun(1 << 20, 2, 4);
  assert.is(samples.length, 4);
  for (const s of samples) {
    assert.ok(Number.isFinite(s), `sample ${s}`);
    assert.ok(s >= 0, `the second task started ${s} ms before the first ended`);
  }
});

test('the run task writes its bytes and stays busy for runMs', async () => {
  const pool = new Piscina({ filename: new URL('../bench/dispatch-worker.js', import.meta.url).href, minThreads: 1, maxThreads: 1 });
  try {
    const before = performance.timeOrigin + performance.now();
    const ended = (await pool.run({ kind: 'run', bytes: 4096, runMs: 20, seed: 7 })) as number;
    assert.ok(ended - before >= 20, `ended ${ended - before} ms after it was posted`);
    const started = (await pool.run({ kind: 'stamp' })) as number;
    assert.ok(started >= ended);
  } finally {
    await pool.destroy();
  }
});

test('bad arguments are a RangeError before any thread starts', async () => {
  for (const [bytes, runMs, count] of [[-1, 1, 1], [1.5, 1, 1], [1, -1, 1], [1, Number.NaN, 1], [1, 1, 0], [1, 1, 2.5]] as const) {
    try {
      await measureDispatchAfterRun(bytes, runMs, count);
      assert.unreachable(`accepted ${bytes}, ${runMs}, ${count}`);
    } catch (err) {
      assert.instance(err, RangeError, String(err));
    }
  }
});

test.run();
