// A SHA-256 written the way plain AssemblyScript often is (a new array per
// 64-byte block and a new message schedule per block: about 400 bytes of
// garbage per block, test/fixtures/guests/sha256-blocks.ts) hashes 100 MiB in
// one call: the digest equals node:crypto's, and the function's memory peaks
// within 2× what the same code needs under plain asc with its own runtime.
// Module state (a call counter) carries over between calls.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Engine } from '../engine/index.js';
import { compileCwasi, compilePlain, PlainInstance } from './helpers/differential.js';
import { MiB, prng, SEED } from './helpers/env.js';

const SOURCE = fileURLToPath(new URL('../../test/fixtures/guests/sha256-blocks.ts', import.meta.url));

/** `n` seeded bytes, filled a word at a time. */
function data(n: number): Uint8Array {
  const rnd = prng(SEED ^ 0x5a5);
  const words = new Uint32Array(Math.ceil(n / 4));
  for (let i = 0; i < words.length; i++) words[i] = (rnd() * 2 ** 32) >>> 0;
  return new Uint8Array(words.buffer, 0, n);
}

function expected(input: Uint8Array, calls: number): Uint8Array {
  const out = new Uint8Array(36);
  out.set(createHash('sha256').update(input).digest());
  new DataView(out.buffer).setUint32(32, calls, true);
  return out;
}

test('100 MiB hashed right, memory peak within 2× plain asc, state kept between calls', async () => {
  const [plainWasm, cwasiWasm] = [await compilePlain(SOURCE), await compileCwasi(SOURCE)];
  const input = data(100 * MiB + 13);
  const small = data(1000);

  const plain = PlainInstance.create('sha256-blocks', plainWasm);
  assert.equal(plain.invoke([input]), expected(input, 1), 'plain asc digest');
  const plainPeak = plain.memoryBytes();

  const engine = await Engine.create({ threads: 1 });
  try {
    await engine.deploy({ name: 'sha', module: cwasiWasm });
    assert.equal(await engine.invoke('sha', small), expected(small, 1));
    assert.equal(await engine.invoke('sha', input), expected(input, 2), 'cwasi digest of 100 MiB');
    assert.equal(await engine.invoke('sha', small), expected(small, 3));
    const g = engine.stats().memory.find((m) => m.members.includes('sha'))!;
    // The memory never shrinks: its size is its peak.
    const ratio = g.memoryBytes / plainPeak;
    console.log(`  memory peak: cwasi ${(g.memoryBytes / MiB).toFixed(1)} MiB (in use at peak ${(g.peakInUse / MiB).toFixed(1)} MiB), plain asc ${(plainPeak / MiB).toFixed(1)} MiB: ${ratio.toFixed(2)}×`);
    assert.ok(ratio <= 2, `cwasi memory ${g.memoryBytes} > 2 × plain asc ${plainPeak}`);
  } finally {
    await engine.close();
  }
});

test.run();
