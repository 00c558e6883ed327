// Live streams inside one trust domain: three trusted streaming functions
// sharing one memory are not chained into one task; they run at once in
// three workers, the stream passing through a ring, so the domain's memory
// holds their buffers and not the payload: 40 MiB through a memory capped at
// 8 MiB, checked against plain JS. A whole-payload function of the same
// domain between them still chains with its neighbours.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { SEED } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';

const MiB = 2 ** 20;
let engine: Engine;

function domain(name: string, modules: string[]): WorkflowDocument {
  const functions: WorkflowDocument['functions'] = {};
  modules.forEach((m, i) => (functions[`${name}-${i}`] = { module: m, trusted: true, domain: name, memoryMaxBytes: 8 * MiB }));
  return { name, functions, edges: modules.slice(1).map((_, i) => ({ from: `${name}-${i}`, to: `${name}-${i + 1}` })) };
}

test.before(async () => {
  engine = await Engine.create({ threads: 3 });
  await engine.deploy(domain('emlive', ['stream-producer', 'stream-transform', 'stream-checksum']));
  await engine.deploy(domain('emmixed', ['stream-producer', 'stream-transform', 'transform', 'stream-checksum']));
});
test.after(async () => {
  await closeEngine(engine);
});

test('40 MiB through three trusted streaming functions in one memory of at most 8 MiB', async () => {
  assert.equal(engine.plan('emlive').segments, [['emlive-0'], ['emlive-1'], ['emlive-2']]);
  const size = 40 * MiB + 5;
  const r = await engine.invokeWithReport('emlive', workloads.producerSpec(size, SEED));
  assert.equal(r.edges.map((e) => e.mode), ['embedded', 'embedded']);
  assert.equal(workloads.readChecksums(r.output), [{ hash: workloads.checksum(workloads.transform(workloads.produce(size, SEED))), length: size }]);
  assert.equal(new Set(r.steps.map((s) => s.threadId)).size, 3, 'three workers');
  const g = engine.stats().memory.find((m) => m.members.includes('emlive-0'))!;
  assert.ok(g.memoryBytes <= 8 * MiB, `domain memory ${g.memoryBytes}`);
  assert.is(engine.stats().rings.inUse, 0);
});

test('a whole-payload function between streaming ones chains with its neighbours', async () => {
  // stream-producer → stream-transform streams live; transform neither reads nor writes a stream.
  assert.equal(engine.plan('emmixed').segments, [['emmixed-0'], ['emmixed-1', 'emmixed-2', 'emmixed-3']]);
  const size = MiB + 3;
  const out = await engine.invoke('emmixed', workloads.producerSpec(size, SEED + 1));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(size, SEED + 1)), length: size }]);
});

test.run();
