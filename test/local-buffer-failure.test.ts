// When one side of a Local Buffer transfer dies or the invocation is aborted
// mid-transfer, both sides end with a typed error in bounded time, the ring
// is discarded, and the next invocation succeeds on a fresh channel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';

let engine: Engine;

test.before(async () => {
  // Stream form: the consumer runs alongside its producer and blocks on the ring.
  engine = await Engine.create({ threads: 3, local: { transport: 'stream', ringBytes: 64 * 1024 } });
  await engine.deploy({
    name: 'stuck',
    functions: { spin: { module: 'spin' }, sink: { module: 'checksum' } },
    edges: [{ from: 'spin', to: 'sink' }],
  });
  await engine.deploy({
    name: 'fine',
    functions: { p: { module: 'producer' }, c: { module: 'checksum' } },
    edges: [{ from: 'p', to: 'c' }],
  });
});
test.after(async () => {
  await engine.close();
});

test('abort while the consumer waits on the ring: E_ABORTED in bounded time, both workers released', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const p = engine.invoke('stuck', new Uint8Array([1]), { signal: ac.signal });
  // The consumer starts alongside the producer and attaches to the ring; abort once it is waiting.
  setImmediate(() => ac.abort(new Error('operator cancelled')));
  await rejectsWith(p, 'E_ABORTED', /operator cancelled/);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
});

test('a deadline while the consumer waits: E_TIMEOUT', async () => {
  const t0 = Date.now();
  await rejectsWith(engine.invoke('stuck', new Uint8Array([1]), { timeoutMs: 300 }), 'E_TIMEOUT');
  assert.ok(Date.now() - t0 < 3000);
});

test('the producer failing mid-stream ends the consumer too (E_CHANNEL inside, the cause outside)', async () => {
  await engine.deploy({
    name: 'breaks',
    functions: { t: { module: 'trap' }, sink2: { module: 'checksum' } },
    edges: [{ from: 't', to: 'sink2' }],
  });
  await rejectsWith(engine.invoke('breaks', new Uint8Array([1])), 'E_FUNCTION_TRAP');
});

test('the next invocations succeed on fresh channels, and no ring stays leased', async () => {
  // Ten DATA frames and more through the stream ring (at least LOCAL_STREAM_RING_BYTES, 2 MiB frames): it wraps.
  const size = 20 * 1024 * 1024 + 1;
  for (let i = 0; i < 3; i++) {
    const out = await engine.invoke('fine', workloads.producerSpec(size, i));
    assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(size, i)), length: size }]);
  }
  const stuckOk = await engine.invoke('stuck', new Uint8Array([0, 1, 2]));
  assert.equal(workloads.readChecksums(stuckOk), [{ hash: workloads.checksum(new Uint8Array([0, 1, 2])), length: 3 }]);
  assert.is(engine.stats().rings.inUse, 0);
});

test.run();
