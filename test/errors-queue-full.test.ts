// The bounded queue: with the only worker busy, maxQueue invocations wait and
// complete, the excess is refused at once with E_QUEUE_FULL, and every promise
// settles. A guest call that could never get a worker is refused, not
// deadlocked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { bytesEqual } from './helpers/env.js';
import { closeEngine, expectFulfilled, expectRejected, settleAll, within } from './helpers/settle.js';

const MAX_QUEUE = 2;
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1, maxQueue: MAX_QUEUE });
  await engine.deploy(['identity', 'spin', 'scatter', 'checksum'].map((m) => ({ name: m, module: m })));
  // The worker is up and idle: the next task goes straight to it.
  assert.ok(bytesEqual(await engine.invoke('identity', Uint8Array.of(7)), Uint8Array.of(7)));
});

test.after(async () => {
  await closeEngine(engine);
});

test('with the worker busy, invocations beyond maxQueue are refused with E_QUEUE_FULL; the queued ones complete', async () => {
  const order: string[] = [];
  const spin = engine.invoke('spin', Uint8Array.of(1), { timeoutMs: 600 });
  void spin.then(() => order.push('spin'), () => order.push('spin'));
  const inputs = Array.from({ length: MAX_QUEUE + 4 }, (_, i) => workloads.produce(32 + i, i));
  const runs = inputs.map((d, i) => {
    const p = engine.invoke('identity', d);
    p.then(() => order.push(`ok ${i}`), () => order.push(`refused ${i}`));
    return p;
  });
  const results = await settleAll([spin, ...runs], 10_000, 'spin and the burst behind it');
  expectRejected(results[0], 'E_TIMEOUT', /deadline of 600 ms/, 'spin');
  const rest = results.slice(1);
  const completed = rest.filter((r) => r.status === 'fulfilled').length;
  assert.is(completed, MAX_QUEUE, `expected ${MAX_QUEUE} queued invocations to complete and ${inputs.length - MAX_QUEUE} to be refused; ${completed} completed`);
  rest.forEach((r, i) => {
    if (i < MAX_QUEUE) assert.ok(bytesEqual(expectFulfilled(r, `queued #${i}`), inputs[i]!), `queued #${i} output`);
    else expectRejected(r, 'E_QUEUE_FULL', /queue is full/, `excess #${i}`);
  });
  // Refused at once, not after waiting for the worker.
  const spinAt = order.indexOf('spin');
  for (let i = MAX_QUEUE; i < inputs.length; i++) assert.ok(order.indexOf(`refused ${i}`) < spinAt, `excess #${i} was refused before the busy worker freed up (${order.join(', ')})`);
  assert.is(engine.stats().invocations.inFlight, 0);
});

test('once the queue drained, the engine accepts work again', async () => {
  const inputs = Array.from({ length: 3 }, (_, i) => workloads.produce(1000, 90 + i));
  const results = await settleAll(inputs.map((d) => engine.invoke('checksum', d)), 10_000, 'checksums');
  inputs.forEach((d, i) => assert.equal(workloads.readChecksums(expectFulfilled(results[i], `checksum #${i}`)), [{ hash: workloads.checksum(d), length: d.length }]));
  const s = engine.stats();
  assert.is(s.pool.queueSize, 0);
  assert.is(s.invocations.inFlight, 0);
});

test('a guest call while every worker waits on guest calls is refused (status -5), not deadlocked', async () => {
  // One thread: the caller holds the only worker, the callee could never run.
  const e = await rejectsWith(within(engine.invoke('scatter', workloads.scatterSpec(64, 1, 2, 'identity')), 10_000, 'scatter on one worker'), 'E_FUNCTION_FAILED', /call to identity failed with status -5/);
  assert.is(e.details?.guestCode, 3);
  assert.ok(bytesEqual(await within(engine.invoke('identity', Uint8Array.of(5)), 5000, 'identity afterwards'), Uint8Array.of(5)));
});

test.run();
