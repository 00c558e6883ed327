// The bundled streaming functions (stream-transform, stream-checksum,
// stream-wordcount) give what the plain-JS mirrors (engine/workloads.ts)
// give for the same bytes, at sizes around their 64 KiB read and the
// checksum's 16-byte blocks, through the call lanes and through pool tasks;
// Sum32 read in pieces of every size from 1 to 40 bytes (and seeded larger
// ones) agrees with the one-shot checksum.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { SEED, prng } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';

let engine: Engine;
const rnd = prng(SEED ^ 0x57ea);
const K = 64 * 1024;
const SIZES = [0, 1, 15, 16, 17, K - 1, K, K + 1, 2 * K + 5, 1_000_003];

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(['stream-transform', 'stream-checksum', 'stream-wordcount', 'stream-probe'].map((m) => ({ name: m, module: m })));
});
test.after(async () => {
  await closeEngine(engine);
});

function record(data: Uint8Array): Array<{ hash: number; length: number }> {
  return [{ hash: workloads.checksum(data), length: data.length }];
}

test('stream-transform and stream-checksum match plain JS at every size, by invoke and with a report', async () => {
  for (const [i, len] of SIZES.entries()) {
    const data = workloads.produce(len, SEED + i);
    assert.equal(await engine.invoke('stream-transform', data), workloads.transform(data), `transform of ${len} bytes (invoke)`);
    assert.equal(workloads.readChecksums(await engine.invoke('stream-checksum', data)), record(data), `checksum of ${len} bytes (invoke)`);
    // invokeWithReport() takes the pool path (it builds a report): the same bytes.
    assert.equal((await engine.invokeWithReport('stream-transform', data)).output, workloads.transform(data), `transform of ${len} bytes (report)`);
    assert.equal(workloads.readChecksums((await engine.invokeWithReport('stream-checksum', data)).output), record(data), `checksum of ${len} bytes (report)`);
  }
});

test('stream-wordcount matches plain JS, words cut by the 64 KiB reads included', async () => {
  const words = ['wasm', 'ring', 'x', 'héllo', '中文', 'emoji😀', 'a-b'];
  const seps = [' ', '  ', '\n', '\t', '\r\n'];
  for (let t = 0; t < 6; t++) {
    let text = t % 2 === 0 ? '' : '  ';
    const target = [0, 10, K - 3, K + 7, 3 * K, 200_000][t]!;
    while (text.length < target) text += words[Math.floor(rnd() * words.length)]! + seps[Math.floor(rnd() * seps.length)]!;
    // A word of its own across the first 64 KiB boundary.
    if (t === 3) text = text.slice(0, K - 4) + 'ACROSSBOUNDARY' + text.slice(K - 4);
    const bytes = new TextEncoder().encode(text);
    const out = new TextDecoder().decode(await engine.invoke('stream-wordcount', bytes));
    assert.is(out, workloads.wordcount(text), `text of ${bytes.length} bytes`);
  }
});

test('Sum32 over pieces of 1 to 40 bytes, and seeded larger pieces, is the one-shot checksum', async () => {
  const piece = (n: number, data: Uint8Array): Uint8Array => {
    const input = new Uint8Array(5 + data.length);
    input[0] = 5;
    new DataView(input.buffer).setUint32(1, n, true);
    input.set(data, 5);
    return input;
  };
  const data = workloads.produce(1000 + 37, SEED);
  const calls = [];
  for (let n = 1; n <= 40; n++) calls.push({ n, data: data.subarray(0, 100 + n) });
  for (let k = 0; k < 10; k++) {
    const n = 1 + Math.floor(rnd() * 5000);
    calls.push({ n, data: workloads.produce(Math.floor(rnd() * 40_000), SEED + k) });
  }
  const outs = await Promise.all(calls.map((c) => engine.invoke('stream-probe', piece(c.n, c.data))));
  calls.forEach((c, i) => assert.equal(workloads.readChecksums(outs[i]!), record(c.data), `pieces of ${c.n} over ${c.data.length} bytes`));
});

test.run();
