// Function Embedding, fan-out: one consumer that did not start early (no
// worker was free for it) runs as its producer's continuation, in the
// producer's own task right after it, reading the output in place: one pool
// task fewer, no wake of another thread. Its failure, a trap (which discards
// the shared memory) or an abort while it runs, ends the invocation with one
// typed error, and nothing stays held.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Piscina } from 'piscina';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { whenRunning } from './helpers/running.js';
import { closeEngine, memoryInUse, within } from './helpers/settle.js';
import { MiB } from './helpers/env.js';
import { until } from './helpers/lanes.js';

let one: Engine;
let two: Engine;

const fanOut = (name: string, producer: string, first: string) => ({
  name,
  functions: {
    [`${name}-p`]: { module: producer, trusted: true, domain: name },
    [`${name}-c1`]: { module: first, trusted: true, domain: name },
    [`${name}-c2`]: { module: 'checksum', trusted: true, domain: name },
  },
  edges: [{ from: `${name}-p`, to: `${name}-c1` }, { from: `${name}-p`, to: `${name}-c2` }],
  output: `${name}-c2`,
});

/** Pool tasks an engine has completed (Piscina's own count). */
const tasks = (e: Engine): number => (e as unknown as { pool: Piscina }).pool.completed;

test.before(async () => {
  // One worker: no consumer can start early, so the first becomes the continuation.
  one = await Engine.create({ threads: 1, timeoutMs: 60_000 });
  await one.deploy(fanOut('cp', 'producer', 'checksum'));
  await one.deploy(fanOut('ct', 'identity', 'trap'));
  await one.deploy(fanOut('cs', 'identity', 'spin'));
  // Two workers: one consumer starts early on the free one, the other continues the producer's task.
  two = await Engine.create({ threads: 2, timeoutMs: 60_000 });
  await two.deploy(fanOut('cp', 'producer', 'checksum'));
});
test.after(async () => {
  await closeEngine(one);
  await closeEngine(two);
});

for (const size of [0, 1, 2 * MiB + 3]) {
  test(`both consumers read the producer's ${size} bytes, in two pool tasks instead of three`, async () => {
    for (const engine of [one, two]) {
      const before = tasks(engine);
      const r = await engine.invokeWithReport('cp', workloads.producerSpec(size, 31));
      const expected = [{ hash: workloads.checksum(workloads.produce(size, 31)), length: size }];
      for (const c of ['cp-c1', 'cp-c2']) assert.equal(workloads.readChecksums(r.outputs[c]!), expected, c);
      assert.ok(r.edges.every((e) => e.mode === 'embedded' && e.bytes === size));
      assert.is(tasks(engine) - before, 2, 'the producer and its continuation are one task');
      assert.is(engine.stats().rings.inUse, 0, 'no ring stays leased');
    }
  });
}

test('the continuation runs on the producer\'s worker, after the producer returned', async () => {
  const r = await one.invokeWithReport('cp', workloads.producerSpec(4096, 5));
  const p = r.steps.find((s) => s.fn === 'cp-p')!;
  const c = r.steps.find((s) => s.fn === 'cp-c1')!;
  assert.is(c.threadId, p.threadId);
  assert.ok(c.inputReady >= p.done, 'the consumer started after its producer returned');
});

test('a continuation that traps ends the invocation with the trap; the memory is discarded and the next one works', async () => {
  const input = Uint8Array.of(9, 8, 7);
  await one.invoke('ct', input);
  const held = memoryInUse(one, 'ct-p').liveArenas;
  await rejectsWith(within(one.invoke('ct', Uint8Array.of(1)), 10_000, 'trapping continuation'), 'E_FUNCTION_TRAP');
  const r = await within(one.invokeWithReport('ct', input), 10_000, 'after the trap');
  assert.equal(r.outputs['ct-c1'], input);
  assert.equal(workloads.readChecksums(r.outputs['ct-c2']!), [{ hash: workloads.checksum(input), length: 3 }]);
  assert.ok(memoryInUse(one, 'ct-p').liveArenas <= held, 'nothing more held in the shared memory than before');
});

test('aborting a fan-out whose continuation loops is E_ABORTED; the fan-out runs again and nothing stays held', async () => {
  await one.invoke('cs', Uint8Array.of(5));
  const held = memoryInUse(one, 'cs-p').liveArenas;
  const ac = new AbortController();
  const p = one.invoke('cs', Uint8Array.of(1), { signal: ac.signal });
  // The task's first function is the producer; it returns at once and its continuation loops.
  await whenRunning(one, 'cs-p');
  ac.abort(new Error('stop the continuation'));
  await rejectsWith(within(p, 10_000, 'aborted continuation'), 'E_ABORTED', /stop the continuation/);
  const input = Uint8Array.of(5, 6);
  const r = await within(one.invokeWithReport('cs', input), 10_000, 'after the abort');
  assert.equal(r.outputs['cs-c1'], input);
  assert.is(one.stats().invocations.inFlight, 0);
  assert.is(one.stats().rings.inUse, 0);
  // The killed worker's journal gives back what the task held.
  await until(() => memoryInUse(one, 'cs-p').liveArenas <= held, `no more arenas held than before (${held})`);
});

test.run();
