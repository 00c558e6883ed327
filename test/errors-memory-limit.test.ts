// Memory limits: a function whose memory may grow to 32 MiB asked (hog) for
// 64 MiB fails with E_MEMORY_LIMIT; smaller requests afterwards work, the
// failed one's memory is given back, other functions are not affected.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { MiB, bytesEqual } from './helpers/env.js';
import { closeEngine, expectFulfilled, expectRejected, memoryInUse, settleAll, within } from './helpers/settle.js';

let engine: Engine;
let capped: Engine | undefined;
let single: Engine | undefined;

/** hog's input: u32 LE mebibytes. */
const ask = (mib: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, mib, true);
  return b;
};

/** hog's output for `mib`: u32 mib, u32 sum of the touched bytes (0..255 per MiB). */
const hogResult = (mib: number): Uint8Array => {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, mib, true);
  dv.setUint32(4, mib * ((255 * 256) / 2), true);
  return b;
};

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy([
    { name: 'hog', module: 'hog', memoryMaxBytes: 32 * MiB },
    { name: 'hog-free', module: 'hog' },
    { name: 'identity', module: 'identity' },
    { name: 'checksum', module: 'checksum' },
  ]);
});

test.after(async () => {
  await closeEngine(capped);
  await closeEngine(single);
  await closeEngine(engine);
});

test('64 MiB asked of a 32 MiB function is E_MEMORY_LIMIT naming the maximum', async () => {
  const e = await rejectsWith(within(engine.invoke('hog', ask(64)), 10_000, 'hog 64'), 'E_MEMORY_LIMIT', /hog: cannot allocate \d+ bytes: memory maximum of 33554432 bytes reached/);
  assert.ok(e.message.length < 500, 'a short message');
  // Just over what fits fails the same way.
  await rejectsWith(within(engine.invoke('hog', ask(32)), 10_000, 'hog 32'), 'E_MEMORY_LIMIT', /memory maximum/);
});

test('a smaller request afterwards works', async () => {
  for (const mib of [4, 16, 1]) {
    assert.ok(bytesEqual(await within(engine.invoke('hog', ask(mib)), 10_000, `hog ${mib}`), hogResult(mib)), `hog ${mib} MiB`);
  }
});

test('the memory of a failed request is given back', async () => {
  // One worker, so that the number of live instances (each holds a shadow stack) stays put.
  single = await Engine.create({ threads: 1 });
  await single.deploy({ name: 'hog', module: 'hog', memoryMaxBytes: 32 * MiB });
  assert.ok(bytesEqual(await single.invoke('hog', ask(2)), hogResult(2)));
  // Held now: the instance's heap with what the call left (garbage until the
  // next collection). A failed request's blocks are collected when it fails
  // and the regions left empty go back to the memory.
  const before = memoryInUse(single, 'hog');
  for (let round = 0; round < 3; round++) {
    await rejectsWith(within(single.invoke('hog', ask(48)), 10_000, 'hog 48'), 'E_MEMORY_LIMIT', /memory maximum/);
    const after = memoryInUse(single, 'hog');
    assert.ok(after.inUse <= before.inUse, `hog memory after failed request ${round}: ${after.inUse} > ${before.inUse}`);
    assert.is(after.liveArenas, before.liveArenas, `arenas after failed request ${round}`);
  }
  assert.ok(bytesEqual(await single.invoke('hog', ask(24)), hogResult(24)), 'most of the memory is usable again');
  await rejectsWith(within(single.invoke('hog', ask(48)), 10_000, 'hog 48'), 'E_MEMORY_LIMIT', /memory maximum/);
  assert.ok(memoryInUse(single, 'hog').inUse <= before.inUse, 'hog memory after a good request, then a failed one');
  await single.close();
});

test('the limit is per function: the same module without it may grow further; others run alongside', async () => {
  const data = workloads.produce(100_000, 11);
  const results = await settleAll([
    engine.invoke('hog', ask(64)),
    engine.invoke('hog-free', ask(40)),
    engine.invoke('identity', data),
    engine.invoke('checksum', data),
  ], 15_000, 'hogs and others');
  expectRejected(results[0], 'E_MEMORY_LIMIT', /memory maximum of 33554432 bytes/, 'hog 64');
  assert.ok(bytesEqual(expectFulfilled(results[1], 'hog-free 40'), hogResult(40)), 'hog-free 40 MiB');
  assert.ok(bytesEqual(expectFulfilled(results[2], 'identity'), data));
  assert.equal(workloads.readChecksums(expectFulfilled(results[3], 'checksum')), [{ hash: workloads.checksum(data), length: data.length }]);
});

test('a memory limit too small for the function to start is refused at deploy; nothing is deployed', async () => {
  await rejectsWith(engine.deploy({ name: 'tiny', module: 'hog', memoryMaxBytes: 1 * MiB }), 'E_MEMORY_LIMIT', /needs \d+ pages to start but may grow to 16/);
  assert.not.ok(engine.functions().some((f) => f.name === 'tiny'));
  await rejectsWith(engine.invoke('tiny', ask(1)), 'E_UNKNOWN_FUNCTION');
  await engine.deploy({ name: 'tiny', module: 'hog', memoryMaxBytes: 8 * MiB });
  assert.ok(bytesEqual(await engine.invoke('tiny', ask(2)), hogResult(2)));
  await rejectsWith(engine.invoke('tiny', ask(8)), 'E_MEMORY_LIMIT', /memory maximum of 8388608 bytes/);
});

test('the engine-wide memoryMaxBytes limits every function', async () => {
  capped = await Engine.create({ threads: 1, memoryMaxBytes: 32 * MiB });
  await capped.deploy({ name: 'hog', module: 'hog' });
  await rejectsWith(within(capped.invoke('hog', ask(64)), 10_000, 'capped hog 64'), 'E_MEMORY_LIMIT', /memory maximum of 33554432 bytes/);
  assert.ok(bytesEqual(await capped.invoke('hog', ask(3)), hogResult(3)));
  await capped.close();
});

test.run();
