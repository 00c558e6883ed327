// One fate: a trap in any member discards the group's instances and memory,
// invocations in flight on that memory fail with a typed error, and the next
// invocation gets a fresh group.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';

let engine: Engine;
const group = () => engine.stats().memory.find((m) => m.members.includes('trap'))!;

test.before(async () => {
  engine = await Engine.create({ threads: 2, timeoutMs: 30_000 });
  await engine.deploy([
    { name: 'trap', module: 'trap', trusted: true, domain: 'fate' },
    { name: 'hog', module: 'hog', trusted: true, domain: 'fate' },
    { name: 'identity', module: 'identity', trusted: true, domain: 'fate' },
    { name: 'outsider', module: 'identity' },
  ]);
});
test.after(async () => {
  await engine.close();
});

test('a trap discards the memory and the next invocation gets a fresh one', async () => {
  assert.equal(await engine.invoke('identity', new Uint8Array([5])), new Uint8Array([5]));
  const gen = group().generation;
  await rejectsWith(engine.invoke('trap', new Uint8Array([1])), 'E_FUNCTION_TRAP', /unreachable/);
  assert.is(group().generation, gen + 1, 'a new generation of the memory');
  assert.equal(await engine.invoke('identity', new Uint8Array([6])), new Uint8Array([6]));
  assert.equal(await engine.invoke('trap', new Uint8Array([9])), new Uint8Array([9]));
});

test('an invocation in flight on the discarded memory fails with E_FUNCTION_TRAP; outsiders are untouched', async () => {
  // hog touches 384 MiB page by page: long enough to still be running when
  // the trap lands. Wait until it is visibly allocating, then trap.
  const spec = new Uint8Array(4);
  new DataView(spec.buffer).setUint32(0, 384, true);
  const gen = group().generation;
  const before = group().bytesInUse;
  const inFlight = engine.invoke('hog', spec);
  const outsider = engine.invoke('outsider', new Uint8Array([7]));
  const deadline = Date.now() + 10_000;
  // hog's blocks come from its instance's heap regions, counted in bytesInUse.
  while (group().bytesInUse - before < 32 << 20 && Date.now() < deadline) {
    await new Promise((r) => setImmediate(r));
  }
  await rejectsWith(engine.invoke('trap', new Uint8Array([2])), 'E_FUNCTION_TRAP', /trap fixture asked to throw/);
  await rejectsWith(inFlight, 'E_FUNCTION_TRAP', /discarded while it ran/);
  assert.equal(await outsider, new Uint8Array([7]));
  assert.ok(group().generation >= gen + 1);
  assert.equal(await engine.invoke('identity', new Uint8Array([8])), new Uint8Array([8]));
});

test('a guest failure is not a trap: the memory is kept', async () => {
  const gen = group().generation;
  await rejectsWith(engine.invoke('trap', new Uint8Array([3])), 'E_FUNCTION_FAILED', /code 7/);
  assert.is(group().generation, gen);
});

test('an untrusted function that traps keeps its memory (it shares it with nobody else)', async () => {
  await engine.deploy([{ name: 'lonely-trap', module: 'trap' }]);
  const m = () => engine.stats().memory.find((x) => x.members.includes('lonely-trap'))!;
  await engine.invoke('lonely-trap', new Uint8Array([0]));
  const gen = m().generation;
  await rejectsWith(engine.invoke('lonely-trap', new Uint8Array([1])), 'E_FUNCTION_TRAP');
  assert.is(m().generation, gen);
  assert.equal(await engine.invoke('lonely-trap', new Uint8Array([4])), new Uint8Array([4]));
  assert.equal(workloads.checksum(new Uint8Array(0)), workloads.checksum(new Uint8Array(0)));
});

test.run();
