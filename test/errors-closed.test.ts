// close(): waits for the invocations in flight (they settle, the good ones with
// correct output), refuses new work with E_CLOSED from the moment it is
// called, and may be called more than once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';
import { closeEngine, expectFulfilled, expectRejected, settleAll, within } from './helpers/settle.js';

let engine: Engine;
let idle: Engine | undefined;
let dir: string;
const rnd = prng(SEED ^ 0xc105e);

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cwasi-errors-closed-'));
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(['identity', 'checksum', 'spin', 'scatter', 'producer'].map((m) => ({ name: m, module: m })));
  await engine.deploy({ name: 'chain', functions: { p: { module: 'producer' }, c: { module: 'checksum' } }, edges: [{ from: 'p', to: 'c' }] });
});

test.after(async () => {
  await closeEngine(idle);
  await closeEngine(engine);
  rmSync(dir, { recursive: true, force: true });
});

test('close() waits for in-flight invocations, which settle correctly; new work is refused while it waits', async () => {
  const inputs = Array.from({ length: 8 }, (_, i) => workloads.produce(1 + Math.floor(rnd() * 200_000), 60 + i));
  const settled = new Set<number>();
  const track = <T>(p: Promise<T>, i: number): Promise<T> => {
    p.then(() => settled.add(i), () => settled.add(i));
    return p;
  };
  const runs: Array<Promise<Uint8Array>> = inputs.map((d, i) => track(engine.invoke(i % 2 === 0 ? 'checksum' : 'identity', d), i));
  // Slower ones: a workflow, a guest call, and a spin that only ends at its deadline.
  runs.push(track(engine.invoke('chain', workloads.producerSpec(300_000, 1)), runs.length));
  runs.push(track(engine.invoke('scatter', workloads.scatterSpec(5000, 2, 3, 'identity')), runs.length));
  runs.push(track(engine.invoke('spin', Uint8Array.of(1), { timeoutMs: 300 }), runs.length));
  const total = runs.length;

  const closing = engine.close();
  let closedWith = -1;
  void closing.then(() => (closedWith = settled.size));
  // Refused from the moment close() was called, while the others still run.
  await rejectsWith(engine.invoke('identity', Uint8Array.of(1)), 'E_CLOSED', /closed/);
  await rejectsWith(engine.invokeWithReport('checksum', Uint8Array.of(1)), 'E_CLOSED', /closed/);
  await rejectsWith(engine.deploy({ name: 'late', module: 'identity' }), 'E_CLOSED', /closed/);

  const results = await settleAll(runs, 15_000, 'in-flight invocations');
  await within(closing, 15_000, 'close()');
  assert.is(closedWith, total, 'close() resolved only after every in-flight invocation settled');
  inputs.forEach((d, i) => {
    const out = expectFulfilled(results[i], `#${i}`);
    if (i % 2 === 0) assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(d), length: d.length }], `checksum #${i}`);
    else assert.ok(bytesEqual(out, d), `identity #${i}`);
  });
  assert.equal(workloads.readChecksums(expectFulfilled(results[inputs.length], 'chain')), [{ hash: workloads.checksum(workloads.produce(300_000, 1)), length: 300_000 }]);
  const scattered = expectFulfilled(results[inputs.length + 1], 'scatter');
  const one = workloads.produce(5000, 2);
  for (let i = 0; i < 3; i++) assert.ok(bytesEqual(scattered.subarray(i * 5000, (i + 1) * 5000), one), `scatter call ${i}`);
  expectRejected(results[inputs.length + 2], 'E_TIMEOUT', /deadline of 300 ms/, 'spin');
});

test('after close(), invoke and deploy are E_CLOSED', async () => {
  await rejectsWith(engine.invoke('identity', Uint8Array.of(1)), 'E_CLOSED', /the engine is closed/);
  await rejectsWith(engine.invoke('chain', workloads.producerSpec(10, 1)), 'E_CLOSED');
  await rejectsWith(engine.invoke('not-deployed', Uint8Array.of(1)), 'E_CLOSED');
  await rejectsWith(engine.deploy({ name: 'late', module: 'identity' }), 'E_CLOSED', /the engine is closed/);
  await rejectsWith(engine.deploy({ name: 'late-wf', functions: { a: { module: 'identity' } } }), 'E_CLOSED');
  const file = join(dir, 'flow.json');
  writeFileSync(file, JSON.stringify({ name: 'from-file', functions: { a: { module: 'identity' } } }));
  await rejectsWith(engine.deployFile(file), 'E_CLOSED');
  assert.not.ok(engine.functions().some((f) => f.name === 'late' || f.name === 'late-wf'));
});

test('close() twice (and concurrently) is fine', async () => {
  await within(engine.close(), 5000, 'second close()');
  await within(Promise.all([engine.close(), engine.close()]), 5000, 'concurrent close()');
  idle = await Engine.create({ threads: 2 });
  await idle.deploy({ name: 'identity', module: 'identity' });
  assert.ok(bytesEqual(await idle.invoke('identity', Uint8Array.of(4, 2)), Uint8Array.of(4, 2)));
  await within(Promise.all([idle.close(), idle.close()]), 5000, 'close() of an idle engine, twice at once');
  await within(idle.close(), 5000, 'close() again');
  await rejectsWith(idle.invoke('identity', Uint8Array.of(1)), 'E_CLOSED');
});

test.run();
