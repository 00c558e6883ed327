// Retries in engine.map: with one worker and a queue of one, a window of 8
// overfills the engine, so inputs are refused with E_QUEUE_FULL (a code worth
// retrying). Without retries they fail; with retries every one completes,
// some after several attempts. A deterministic failure is not retried unless
// its code is named in retryOn, and then exactly `retries` more times.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, RETRYABLE_CODES, type MapResult } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { PIPELINE, expectedFor } from './helpers/batch.js';
import { closeEngine } from './helpers/settle.js';

const N = 40;
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1, maxQueue: 1, maxPayloadBytes: 1 << 20 });
  await engine.deploy(PIPELINE);
});

test.after(async () => {
  await closeEngine(engine);
});

const specs = Array.from({ length: N }, (_, i) => workloads.producerSpec(20_000 + i, i));

async function all(it: AsyncIterable<MapResult>): Promise<MapResult[]> {
  const out: MapResult[] = [];
  for await (const r of it) out.push(r);
  return out;
}

test('E_QUEUE_FULL is retryable; without retries the overflow fails', async () => {
  assert.ok(RETRYABLE_CODES.includes('E_QUEUE_FULL'));
  const results = await all(engine.map(PIPELINE.name, specs, { concurrency: 8 }));
  const refused = results.filter((r) => r.error?.code === 'E_QUEUE_FULL');
  assert.ok(refused.length > 0, 'a window of 8 over one worker and a queue of 1 is refused in part');
  assert.ok(refused.every((r) => r.attempts === 1));
});

test('with retries every input completes and is correct, some after several attempts', async () => {
  const results = await all(engine.map(PIPELINE.name, specs, { concurrency: 8, retries: 50, retryDelayMs: 5 }));
  assert.is(results.length, N);
  results.forEach((r, i) => {
    assert.is(r.error, undefined, r.error?.message);
    assert.equal(workloads.readChecksums(r.output!), expectedFor(20_000 + i, i));
  });
  assert.ok(results.some((r) => r.attempts > 1), 'some inputs needed another attempt');
});

test('a deterministic failure is tried once, or 1 + retries times when retryOn names its code', async () => {
  const started = () => engine.stats().invocations.started;
  const big = workloads.producerSpec(2 << 20, 1);
  let before = started();
  const [once] = await all(engine.map(PIPELINE.name, [big], { retries: 3 }));
  assert.is(once!.error?.code, 'E_PAYLOAD_TOO_LARGE');
  assert.is(once!.attempts, 1);
  assert.is(started() - before, 1);
  before = started();
  const [thrice] = await all(engine.map(PIPELINE.name, [big], { retries: 2, retryOn: ['E_PAYLOAD_TOO_LARGE'], retryDelayMs: 0 }));
  assert.is(thrice!.error?.code, 'E_PAYLOAD_TOO_LARGE');
  assert.is(thrice!.attempts, 3);
  assert.is(started() - before, 3, 'invocations started');
});

test.run();
