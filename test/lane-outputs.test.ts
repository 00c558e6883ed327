// Outputs of calls through the lanes, checked against plain-JS
// reimplementations (engine/workloads.ts): inputs and outputs on both sides
// of the inline limit (in the slot, or as a message on the lane port), up
// to directInputBytes, 64 calls in flight across two workers, seeded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { LANE_INLINE_BYTES } from '../engine/lane/layout.js';
import { SEED } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';
import { lanesReady } from './helpers/lanes.js';

let engine: Engine;
const MiB = 2 ** 20;

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(['identity', 'transform', 'checksum'].map((m) => ({ name: m, module: m })));
  await lanesReady(engine, 2);
});
test.after(async () => {
  await closeEngine(engine);
});

/** Sizes at the edges of the slot and of the lane path, then seeded ones. */
function sizes(seed: number, n: number): number[] {
  const edges = [0, 1, LANE_INLINE_BYTES - 1, LANE_INLINE_BYTES, LANE_INLINE_BYTES + 1, 65_536, MiB - 1];
  let x = seed >>> 0;
  const next = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  const out = [...edges];
  while (out.length < n) out.push(next() % (next() % 2 ? 3 * LANE_INLINE_BYTES : 300_000));
  return out;
}

test('identity, transform and checksum through the lanes match plain JS, 64 in flight', async () => {
  const before = engine.stats().lanes.calls;
  const cases = sizes(SEED, 64).map((len, i) => ({ fn: ['identity', 'transform', 'checksum'][i % 3]!, input: workloads.produce(len, SEED + i) }));
  const outs = await Promise.all(cases.map((c) => engine.invoke(c.fn, c.input)));
  cases.forEach((c, i) => {
    const what = `${c.fn} of ${c.input.length} bytes (seed ${SEED})`;
    if (c.fn === 'identity') assert.equal(outs[i], c.input, what);
    else if (c.fn === 'transform') assert.equal(outs[i], workloads.transform(c.input), what);
    else assert.equal(workloads.readChecksums(outs[i]!), [{ hash: workloads.checksum(c.input), length: c.input.length }], what);
  });
  assert.ok(engine.stats().lanes.calls - before >= 32, `most calls went through lanes (${engine.stats().lanes.calls - before})`);
});

test('one call at a time: each output matches', async () => {
  for (const [i, len] of sizes(SEED + 1, 24).entries()) {
    const input = workloads.produce(len, SEED + 100 + i);
    assert.equal(await engine.invoke('transform', input), workloads.transform(input), `transform of ${len} bytes`);
  }
});

test.run();
