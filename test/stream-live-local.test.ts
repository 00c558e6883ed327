// Live streams between workers (engine/channels/local-live.ts): two
// streaming functions joined by a local edge run at once in two workers, the
// stream flowing through a ring while it is written. A seeded payload many
// times the ring's size goes through stream-producer → stream-transform →
// stream-checksum with the checksum plain JS gives; each stage overlaps the
// one before it; every memory stays small (bounded by the window, not the
// payload) and a stream larger than any stage's memory limit gets through
// where the whole-payload chain is refused; with one thread (no worker free
// for the consumer) the producer keeps the rest in its memory and the result
// is the same; a whole-payload function between streaming ones still works.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { SEED } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';

const MiB = 2 ** 20;
const RING = 256 * 1024;
let engine: Engine;

function chain(name: string, modules: string[], extra: { memoryMaxBytes?: number } = {}): WorkflowDocument {
  const functions: WorkflowDocument['functions'] = {};
  modules.forEach((m, i) => (functions[`${name}-${i}`] = { module: m, ...extra }));
  return { name, functions, edges: modules.slice(1).map((_, i) => ({ from: `${name}-${i}`, to: `${name}-${i + 1}` })) };
}

function expected(size: number, seed: number, inverts = 1): Array<{ hash: number; length: number }> {
  let data = workloads.produce(size, seed);
  for (let i = 0; i < inverts; i++) data = workloads.transform(data);
  return [{ hash: workloads.checksum(data), length: size }];
}

test.before(async () => {
  engine = await Engine.create({ threads: 3, local: { ringBytes: RING } });
  await engine.deploy(chain('live', ['stream-producer', 'stream-transform', 'stream-checksum'], { memoryMaxBytes: 4 * MiB }));
  await engine.deploy(chain('whole', ['producer', 'transform', 'checksum'], { memoryMaxBytes: 4 * MiB }));
  await engine.deploy(chain('mixed', ['stream-producer', 'transform', 'stream-checksum']));
});
test.after(async () => {
  await closeEngine(engine);
});

test('three streaming stages run at once, one per worker, on a stream many rings long', async () => {
  const plan = engine.plan('live');
  assert.equal(plan.segments, [['live-0'], ['live-1'], ['live-2']], 'live edges are not chained into one task');
  const size = 24 * RING + 13;
  const r = await engine.invokeWithReport('live', workloads.producerSpec(size, SEED));
  assert.equal(workloads.readChecksums(r.output), expected(size, SEED));
  assert.equal(new Set(r.steps.map((s) => s.threadId)).size, 3, 'each stage in a worker of its own');
  const [p, t, c] = ['live-0', 'live-1', 'live-2'].map((fn) => r.steps.find((s) => s.fn === fn)!);
  // Overlap: every consumer started before its producer finished.
  assert.ok(t!.inputReady < p!.done && c!.inputReady < t!.done, `stages overlap: ${JSON.stringify(r.steps.map((s) => [s.fn, s.inputReady, s.done]))}`);
  assert.is(engine.stats().rings.inUse, 0, 'rings given back');
});

test('memory is bounded by the window: a stream 10x a stage memory limit gets through, the whole-payload chain does not', async () => {
  const size = 40 * MiB;
  const r = await engine.invokeWithReport('live', workloads.producerSpec(size, SEED + 1));
  assert.equal(workloads.readChecksums(r.output), expected(size, SEED + 1));
  for (const fn of ['live-0', 'live-1', 'live-2']) {
    const g = engine.stats().memory.find((m) => m.members.includes(fn))!;
    assert.ok(g.memoryBytes <= 4 * MiB && g.peakInUse < 2 * MiB, `${fn}: memory ${g.memoryBytes}, peak in use ${g.peakInUse}`);
  }
  await rejectsWith(engine.invoke('whole', workloads.producerSpec(size, SEED + 1)), 'E_MEMORY_LIMIT');
});

test('a whole-payload function between two streaming ones', async () => {
  const size = 5 * RING + 7;
  // transform neither reads nor writes a stream: both its edges are ordinary local ones, chained into one task.
  assert.equal(engine.plan('mixed').segments, [['mixed-0', 'mixed-1', 'mixed-2']]);
  assert.equal(workloads.readChecksums(await engine.invoke('mixed', workloads.producerSpec(size, SEED + 2))), expected(size, SEED + 2));
});

test('one thread: the consumer cannot start early, the producer keeps the rest, the result is the same', async () => {
  const one = await Engine.create({ threads: 1, local: { ringBytes: RING } });
  try {
    await one.deploy(chain('solo', ['stream-producer', 'stream-transform', 'stream-checksum']));
    const size = 6 * RING + 3;
    const r = await one.invokeWithReport('solo', workloads.producerSpec(size, SEED + 3));
    assert.equal(workloads.readChecksums(r.output), expected(size, SEED + 3));
    assert.is(one.stats().rings.inUse, 0);
    // Each instance keeps one arena of its own (its stack and pin table); nothing of the call is left.
    for (const m of one.stats().memory) assert.is(m.liveArenas, 1, `${m.members}: no arena of the call left`);
  } finally {
    await closeEngine(one);
  }
});

test.run();
