// A stream longer than any wasm32 memory can hold: 6 GiB through
// stream-producer → stream-transform → stream-checksum, three live local
// stages, gives the checksum record plain JS computes in 1 MiB pieces
// (workloads.streamedChecksum), while every stage's memory stays at a few
// MiB and this process's RSS grows by far less than the payload. The
// whole-payload chain is refused with a typed error that names streams.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { SEED } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const SIZE = 6 * GiB + 11;
let engine: Engine;

function chain(name: string, modules: string[]): WorkflowDocument {
  const functions: WorkflowDocument['functions'] = {};
  modules.forEach((m, i) => (functions[`${name}-${i}`] = { module: m, memoryMaxBytes: 16 * MiB }));
  return { name, functions, edges: modules.slice(1).map((_, i) => ({ from: `${name}-${i}`, to: `${name}-${i + 1}` })) };
}

test.before(async () => {
  engine = await Engine.create({ threads: 3 });
  await engine.deploy(chain('big', ['stream-producer', 'stream-transform', 'stream-checksum']));
  await engine.deploy(chain('bigwhole', ['producer', 'transform', 'checksum']));
});
test.after(async () => {
  await closeEngine(engine);
});

test('6 GiB through three live stages matches plain JS, in memories of at most 16 MiB', async () => {
  const rssBefore = process.memoryUsage.rss();
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  let out: Uint8Array;
  try {
    out = await engine.invoke('big', workloads.producerSpec(SIZE, SEED), { timeoutMs: 120_000 });
  } finally {
    clearInterval(sampler);
  }
  assert.equal(workloads.readChecksums(out), [workloads.streamedChecksum(SIZE, SEED)]);
  for (const m of engine.stats().memory.filter((g) => g.members.some((f) => f.startsWith('big-')))) {
    assert.ok(m.memoryBytes <= 16 * MiB, `${m.members}: memory ${m.memoryBytes}`);
  }
  assert.ok(peak - rssBefore < 512 * MiB, `RSS grew by ${((peak - rssBefore) / MiB).toFixed(0)} MiB for a 6 GiB stream`);
});

test('the whole-payload chain refuses 6 GiB, naming streams', async () => {
  await rejectsWith(engine.invoke('bigwhole', workloads.producerSpec(SIZE, SEED)), 'E_FUNCTION_FAILED', /do not fit in one payload; produce them as a stream \(stream-producer\)/);
});

test.run();
