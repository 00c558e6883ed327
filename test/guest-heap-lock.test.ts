// A guest can write every byte of its memory, the header included. Writing
// the word where the heap lock used to live, or forging the free list, must
// never make the main thread wait: engine.stats() answers at once and never
// throws, large inputs (which the main thread writes into the memory) still
// go in, and a heap whose metadata fails validation is reported, discarded
// once, and replaced by a fresh memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { MiB, SEED, bytesEqual, prng } from './helpers/env.js';
import { I32, guestModule, call, i32c, i32load, i32store, localGet, type ImportFunc, RT_STUBS } from './helpers/wasm-builder.js';
import { closeEngine, within } from './helpers/settle.js';

const OUTPUT: ImportFunc = { module: 'cwasi', name: 'output', params: [I32, I32], results: [] };

/** Stores `value` at header offset `at`, then echoes its first input. */
function scribbler(at: number, value: number): Uint8Array {
  return guestModule({
    memory: { min: 1, max: 65536, shared: true },
    imports: [OUTPUT],
    funcs: [
      {
        name: 'cwasi_main', params: [I32, I32], results: [I32],
        body: [
          ...i32c(at), ...i32c(value), ...i32store(),
          ...localGet(0), ...i32load(0), ...localGet(0), ...i32load(4), ...call(0), ...i32c(0),
        ],
      },
      { name: 'cwasi_abi_version', params: [], results: [I32], body: i32c(2) },
      ...RT_STUBS,
    ],
  });
}

let engine: Engine;
const rnd = prng(SEED ^ 0x10c4);
const HEAP_LOCK_WORD = 8;
const FREE_HEAD = 24;

test.before(async () => {
  // directInputBytes: inputs from 1 MiB are written into the memory by the main thread.
  engine = await Engine.create({ threads: 2, directInputBytes: MiB });
  await engine.deploy([
    { name: 'locker', module: scribbler(HEAP_LOCK_WORD, 1) },
    { name: 'forger', module: scribbler(FREE_HEAD, HEAP_LOCK_WORD) },
    { name: 'checksum', module: 'checksum' },
  ]);
});
test.after(() => closeEngine(engine));

const group = (fn: string) => engine.stats().memory.find((m) => m.members.includes(fn))!;

test('a guest that sets the old lock word stalls nothing: stats and large inputs go on', async () => {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const small = workloads.produce(1000, 1);
  assert.ok(bytesEqual(await engine.invoke('locker', small), small));
  for (let i = 0; i < 4; i++) {
    const stats = group('locker');
    assert.is(stats.state, 'ok', `stats #${i}: ${stats.problem ?? ''}`);
    const big = workloads.produce(MiB + Math.floor(rnd() * 4096), 10 + i);
    assert.ok(bytesEqual(await within(engine.invoke('locker', big), 20_000, `large input #${i}`), big), `echo #${i}`);
  }
  delay.disable();
  console.log(`   event loop delay max ${(delay.max / 1e6).toFixed(1)} ms over 4 large inputs to a lock-scribbling guest`);
  assert.is(group('locker').discards, 0, 'nothing there to discard: the lock is not in the memory');
});

test('stats() reports a forged free list instead of throwing, and the memory is discarded once', async () => {
  const before = group('forger');
  // Inputs up to 4 KiB share the host's chunk, so the worker itself does not walk the forged list.
  await engine.invoke('forger', workloads.produce(100, 2));
  let stats: ReturnType<Engine['stats']> | undefined;
  try {
    stats = engine.stats();
  } catch (err) {
    assert.unreachable(`stats() threw: ${(err as Error).message}`);
  }
  const g = stats!.memory.find((m) => m.members.includes('forger'))!;
  // The worker may already have found the forgery (then the memory is fresh); otherwise stats reports it.
  if (g.generation === before.generation) assert.is(g.state, 'corrupt', 'a forged free list is reported');
  const after = group('forger');
  assert.is(after.generation, before.generation + 1, 'discarded once');
  assert.is(after.state, 'ok');
  const d = workloads.produce(3000, 3);
  assert.ok(bytesEqual(await engine.invoke('forger', d), d), 'the next invocation runs on a fresh memory');
  assert.equal(workloads.readChecksums(await engine.invoke('checksum', d)), [{ hash: workloads.checksum(d), length: d.length }]);
});

test.run();
