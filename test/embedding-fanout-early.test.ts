// Function Embedding, fan-out: a consumer that runs as its own task starts
// alongside its producer while a worker is free and waits on a descriptor
// ring; the producer's worker names the output there the moment it returns
// (worker to worker, no main-thread hop), and the consumer reads it in place.
// A failure or an abort while consumers wait wakes them, and every ring goes
// back to its pool.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { whenRunning } from './helpers/running.js';
import { MiB } from './helpers/env.js';

let engine: Engine;

const fanOut = (name: string, producer: string) => ({
  name,
  functions: {
    [`${name}-p`]: { module: producer, trusted: true, domain: name },
    [`${name}-c1`]: { module: 'checksum', trusted: true, domain: name },
    [`${name}-c2`]: { module: 'checksum', trusted: true, domain: name },
  },
  edges: [{ from: `${name}-p`, to: `${name}-c1` }, { from: `${name}-p`, to: `${name}-c2` }],
  output: `${name}-c1`,
});

test.before(async () => {
  // Three workers: the producer and both consumers each have one.
  engine = await Engine.create({ threads: 3, timeoutMs: 60_000 });
  await engine.deploy(fanOut('efp', 'producer'));
  await engine.deploy(fanOut('efs', 'spin'));
  await engine.deploy(fanOut('eft', 'trap'));
});
test.after(async () => {
  await engine.close();
});

test('the fan-out edges are embedded and dispatched (not chained)', () => {
  const plan = engine.plan('efp');
  assert.is(new Set(plan.functions.map((f) => f.group)).size, 1);
  assert.ok(plan.edges.every((e) => e.mode === 'embedded' && !e.chained));
  assert.is(plan.segments.length, 3);
});

test('both consumers start while their producer still runs', async () => {
  const ac = new AbortController();
  // spin with first byte 1 never returns: the consumers can only be running because they started early.
  const p = engine.invoke('efs', new Uint8Array([1]), { signal: ac.signal });
  await whenRunning(engine, 'efs-c1');
  await whenRunning(engine, 'efs-c2');
  ac.abort(new Error('test is done'));
  // The consumers waiting on their rings are woken: the invocation settles with the abort.
  await rejectsWith(p, 'E_ABORTED', /test is done/);
});

for (const size of [0, 1, 2 * MiB + 3]) {
  test(`early consumers read the producer's ${size} bytes in place`, async () => {
    const r = await engine.invokeWithReport('efp', workloads.producerSpec(size, 21));
    const expected = [{ hash: workloads.checksum(workloads.produce(size, 21)), length: size }];
    for (const c of ['efp-c1', 'efp-c2']) assert.equal(workloads.readChecksums(r.outputs[c]!), expected, c);
    assert.ok(r.edges.every((e) => e.mode === 'embedded' && e.bytes === size));
  });
}

test('a producer that traps ends the consumers waiting for it with the trap', async () => {
  await rejectsWith(engine.invoke('eft', new Uint8Array([1])), 'E_FUNCTION_TRAP');
  // The memory was discarded (one fate); the next invocation runs on a fresh one.
  const out = await engine.invoke('eft', new Uint8Array([9, 8, 7]));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(new Uint8Array([9, 8, 7])), length: 3 }]);
});

test('no ring stays leased, and the engine still serves the fan-out', async () => {
  const size = MiB + 1;
  for (let i = 0; i < 3; i++) {
    const r = await engine.invokeWithReport('efp', workloads.producerSpec(size, i));
    assert.equal(workloads.readChecksums(r.outputs['efp-c2']!), [{ hash: workloads.checksum(workloads.produce(size, i)), length: size }]);
  }
  assert.is(engine.stats().rings.inUse, 0);
});

test.run();
