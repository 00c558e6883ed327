// A guest that damages its own collector or allocator metadata (a block's
// size or class id, a free-list link: asm-functions/test-functions/gc-corrupt.ts)
// is contained like one that damages the engine's heap: the call fails
// (E_MEMORY_CORRUPT when the runtime's checks find the damage, E_FUNCTION_TRAP
// when the compiler's own code traps on it), never a result as success; the
// damaged memory is discarded, so the next call starts on a fresh instance
// whose answers are right; functions in other memories are untouched; and in
// a trust domain the neighbours' later calls are right too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine } from './helpers/settle.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1 });
  await engine.deploy([
    { name: 'gc', module: 'gc-corrupt' },
    { name: 'iso', module: 'checksum' },
    { name: 'gc-in', module: 'gc-corrupt', trusted: true, domain: 'd' },
    { name: 'neighbour', module: 'identity', trusted: true, domain: 'd' },
  ]);
});

test.after(async () => {
  await closeEngine(engine);
});

/** gc-corrupt's answer after `calls` undamaged calls on one instance: u32 length, u32 sum of 0..length-1. */
function answer(calls: number): Uint8Array {
  const n = 2000 * calls;
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true);
  dv.setUint32(4, ((n * (n - 1)) / 2) >>> 0, true);
  return out;
}

const generation = (fn: string): number => engine.stats().memory.find((m) => m.members.includes(fn))!.generation;

const ATTACKS: Array<{ op: number; what: string; code: 'E_MEMORY_CORRUPT' | 'E_FUNCTION_TRAP'; message: RegExp }> = [
  { op: 1, what: 'block size past its region', code: 'E_MEMORY_CORRUPT', message: /cwasi heap: corrupt block size/ },
  { op: 2, what: 'unknown class id', code: 'E_FUNCTION_TRAP', message: /trapped/ },
  { op: 3, what: 'free-list link into static data', code: 'E_MEMORY_CORRUPT', message: /cwasi heap: corrupt free block/ },
  { op: 4, what: 'block size of 0 inside a region', code: 'E_MEMORY_CORRUPT', message: /cwasi heap: corrupt block size/ },
];

for (const fn of ['gc', 'gc-in']) {
  test(`${fn}: each kind of damage fails its call and a fresh instance answers right afterwards`, async () => {
    for (const a of ATTACKS) {
      assert.equal(await engine.invoke(fn, new Uint8Array([0])), answer(1), `${a.what}: first call on a fresh instance`);
      assert.equal(await engine.invoke(fn, new Uint8Array([0])), answer(2), `${a.what}: module state kept between calls`);
      const gen = generation(fn);
      await rejectsWith(engine.invoke(fn, new Uint8Array([a.op])), a.code, a.message);
      // Damaged metadata takes its memory with it; a trap takes the instance (and an embedding group's memory).
      if (a.code === 'E_MEMORY_CORRUPT' || fn === 'gc-in') assert.ok(generation(fn) > gen, `${a.what}: memory discarded`);
    }
    assert.equal(await engine.invoke(fn, new Uint8Array([0])), answer(1), 'fresh instance after the last attack');
  });
}

test('functions in other memories and the domain neighbour answer right after all of it', async () => {
  const data = workloads.produce(50_000, 3);
  assert.equal(workloads.readChecksums(await engine.invoke('iso', data)), [{ hash: workloads.checksum(data), length: data.length }]);
  assert.equal(await engine.invoke('neighbour', data), data);
  const s = engine.stats();
  assert.is(s.memory.find((m) => m.members.includes('iso'))!.discards, 0, 'the untouched memory was never discarded');
});

test.run();
