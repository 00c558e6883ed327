// engine.map over thousands of small inputs: every result matches the JS
// mirror of the pipeline, in input order (ordered) or each exactly once
// (unordered), from sync and async sources, keys kept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type MapResult } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { SEED, prng } from './helpers/env.js';
import { PIPELINE, expectedFor, specFor } from './helpers/batch.js';
import { closeEngine } from './helpers/settle.js';

const N = 3000;
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(PIPELINE);
});

test.after(async () => {
  await closeEngine(engine);
});

function inputs(seed: number): Array<{ spec: Uint8Array; length: number; seed: number }> {
  const rand = prng(seed);
  return Array.from({ length: N }, (_, i) => specFor(i, rand));
}

test(`ordered: ${N} inputs come back in input order, each equal to the JS mirror`, async () => {
  const items = inputs(SEED);
  let next = 0;
  for await (const r of engine.map(PIPELINE.name, items.map((x) => x.spec), { concurrency: 16 })) {
    assert.is(r.index, next, 'results in input order');
    assert.is(r.error, undefined, r.error?.message);
    const x = items[r.index]!;
    assert.equal(workloads.readChecksums(r.output!), expectedFor(x.length, x.seed), `input ${r.index}`);
    next++;
  }
  assert.is(next, N);
});

test(`unordered: ${N} inputs from an async source, each result exactly once and correct, keys kept`, async () => {
  const items = inputs(SEED + 1);
  async function* source() {
    for (let i = 0; i < items.length; i++) yield { key: `k${i}`, bytes: items[i]!.spec };
  }
  const seen = new Uint8Array(N);
  let outOfOrder = 0;
  let last = -1;
  for await (const r of engine.map(PIPELINE.name, source(), { ordered: false, concurrency: 16 })) {
    assert.is(r.error, undefined, r.error?.message);
    assert.is(r.key, `k${r.index}`);
    assert.is(seen[r.index], 0, `index ${r.index} twice`);
    seen[r.index] = 1;
    if (r.index < last) outOfOrder++;
    last = r.index;
    const x = items[r.index]!;
    assert.equal(workloads.readChecksums(r.output!), expectedFor(x.length, x.seed), `input ${r.index}`);
  }
  assert.ok(seen.every((s) => s === 1), 'every input has a result');
  // Not asserted: how many came out of order (it depends on scheduling).
  void outOfOrder;
});

test('an empty source ends at once; the default concurrency keeps every worker busy', async () => {
  const none: MapResult[] = [];
  for await (const r of engine.map(PIPELINE.name, [])) none.push(r);
  assert.is(none.length, 0);
  const few: number[] = [];
  for await (const r of engine.map(PIPELINE.name, [workloads.producerSpec(10, 1), workloads.producerSpec(20, 2)])) few.push(workloads.readChecksums(r.output!)[0]!.length);
  assert.equal(few, [10, 20]);
  assert.is(engine.stats().invocations.inFlight, 0);
});

test.run();
