// A large invocation input is copied into the function's memory in slices,
// with the event loop turning between them: an abort between two slices stops
// the copy before any task is posted, and the bytes arrive whole.
// stats().eventLoop reports how late the loop ran.
import { randomFillSync } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';

const MiB = 2 ** 20;
let engine: Engine;
const big = randomFillSync(new Uint8Array(96 * MiB));

test.before(async () => {
  // Every call a pool task, so that pool.completed counts the small call too.
  engine = await Engine.create({ threads: 1, timeoutMs: 60_000, callLane: false });
  await engine.deploy([{ name: 'checksum', module: 'checksum', memoryMaxBytes: 512 * MiB }]);
  await engine.invoke('checksum', Uint8Array.of(1)); // instantiated
});
test.after(async () => {
  await engine?.close();
});

test('the bytes of a large input arrive whole', async () => {
  const out = await engine.invoke('checksum', big);
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(big), length: big.length }]);
});

test('an abort on the next turn stops the copy: no task reaches the pool', async () => {
  const before = engine.stats().pool.completed;
  const ac = new AbortController();
  const call = engine.invoke('checksum', big, { signal: ac.signal });
  // Runs between two slices of the copy (the first slice ran inside invoke()).
  setImmediate(() => ac.abort(new Error('not needed')));
  let err: unknown;
  try {
    await call;
  } catch (e) {
    err = e;
  }
  assert.instance(err, CwasiError);
  assert.is((err as CwasiError).code, 'E_ABORTED');
  // One worker takes tasks in order: had the aborted one been posted, it would complete first.
  assert.equal(workloads.readChecksums(await engine.invoke('checksum', Uint8Array.of(7))), [{ hash: workloads.checksum(Uint8Array.of(7)), length: 1 }]);
  assert.is(engine.stats().pool.completed, before + 1, 'only the second call ran');
});

test('stats().eventLoop: delays in milliseconds, p50 <= p99 <= max', () => {
  const e = engine.stats().eventLoop;
  assert.ok(e.delayP50Ms >= 0 && e.delayP50Ms <= e.delayP99Ms && e.delayP99Ms <= e.delayMaxMs, JSON.stringify(e));
});

test.run();
