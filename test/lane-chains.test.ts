// A chain the planner puts into one task (producer → transform embedded,
// transform → checksum local, run in one worker) goes through a call lane as
// one call: the steps run back to back in the worker as a pool task's would.
// Outputs match an independent computation (engine/workloads.ts), a trap in
// a middle step fails the call and discards that step's memory (the next
// call runs on a fresh one), and nothing stays held.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine, memoryInUse, within } from './helpers/settle.js';
import { lanesReady } from './helpers/lanes.js';
import { PIPELINE, expectedFor } from './helpers/batch.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2, timeoutMs: 60_000 });
  await engine.deploy(PIPELINE);
  await engine.deploy({
    name: 'trapchain',
    functions: {
      'tc-first': { module: 'identity', trusted: true, domain: 'tc' },
      'tc-trap': { module: 'trap', trusted: true, domain: 'tc' },
    },
    edges: [{ from: 'tc-first', to: 'tc-trap' }],
    output: 'tc-trap',
  });
  await lanesReady(engine, 2);
});
test.after(async () => {
  await closeEngine(engine);
});

test('the pipeline is one task of three chained steps, and takes a lane', async () => {
  const plan = engine.plan(PIPELINE.name);
  assert.is(plan.segments.length, 1);
  assert.ok(plan.edges.every((e) => e.chained));
  const before = engine.stats().lanes.calls;
  const out = await engine.invoke(PIPELINE.name, workloads.producerSpec(1000, 3));
  assert.equal(workloads.readChecksums(out), expectedFor(1000, 3));
  assert.is(engine.stats().lanes.calls, before + 1);
});

test('sizes and seeds: every output matches the independent computation', async () => {
  const cases = [0, 1, 4095, 65_536, 2 * 2 ** 20 + 7].flatMap((size) => [size, size].map((s, i) => ({ size: s, seed: 100 + size % 97 + i })));
  const outs = await Promise.all(cases.map((c) => engine.invoke(PIPELINE.name, workloads.producerSpec(c.size, c.seed))));
  outs.forEach((out, i) => assert.equal(workloads.readChecksums(out), expectedFor(cases[i]!.size, cases[i]!.seed), JSON.stringify(cases[i])));
  assert.is(engine.stats().lanes.inFlight, 0);
});

test('a trap in the second step fails the call and discards its memory; the next call works', async () => {
  assert.equal(await engine.invoke('trapchain', Uint8Array.of(9, 9)), Uint8Array.of(9, 9));
  const held = memoryInUse(engine, 'tc-first').liveArenas;
  const calls = engine.stats().lanes.calls;
  await rejectsWith(within(engine.invoke('trapchain', Uint8Array.of(1)), 10_000, 'trapping chain'), 'E_FUNCTION_TRAP');
  assert.is(engine.stats().lanes.calls, calls + 1, 'the trapping call went through a lane');
  const g = engine.stats().memory.find((m) => m.members.includes('tc-trap'))!;
  assert.ok(g.discards >= 1, 'the shared memory was discarded');
  assert.equal(await within(engine.invoke('trapchain', Uint8Array.of(4, 5)), 10_000, 'after the trap'), Uint8Array.of(4, 5));
  assert.is(engine.stats().lanes.calls, calls + 2, 'the fresh memory takes lane calls too');
  assert.ok(memoryInUse(engine, 'tc-first').liveArenas <= held, 'nothing more held than before');
});

test.run();
