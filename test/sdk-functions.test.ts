// The bundled functions compute exactly what their JavaScript mirrors say,
// for awkward sizes (0, 1, around the 4- and 16-byte blocks) and random seeds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';

const SIZES = [0, 1, 3, 4, 5, 15, 16, 17, 31, 33, 4095, 4096, 4097, 65536 + 7];
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(['producer', 'checksum', 'transform', 'wordcount', 'aggregate', 'identity'].map((m) => ({ name: m, module: m })));
});

test.after(async () => {
  await engine.close();
});

test('producer makes the mirror bytes for every size and seed', async () => {
  const rnd = prng(SEED);
  for (const size of SIZES) {
    const seed = Math.floor(rnd() * 2 ** 32);
    const out = await engine.invoke('producer', workloads.producerSpec(size, seed));
    assert.ok(bytesEqual(out, workloads.produce(size, seed)), `producer(${size}, ${seed})`);
  }
});

test('producer refuses a short spec with a guest failure', async () => {
  try {
    await engine.invoke('producer', new Uint8Array(3));
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'E_FUNCTION_FAILED');
    assert.match((e as Error).message, /expects 8 bytes/);
  }
});

test('checksum reads every byte: one flipped bit changes the sum', async () => {
  const rnd = prng(SEED + 1);
  for (const size of SIZES.filter((s) => s > 0)) {
    const data = workloads.produce(size, size);
    const [rec] = workloads.readChecksums(await engine.invoke('checksum', data));
    assert.equal(rec, { hash: workloads.checksum(data), length: size });
    const at = Math.floor(rnd() * size);
    data[at] ^= 1 << Math.floor(rnd() * 8);
    const [flipped] = workloads.readChecksums(await engine.invoke('checksum', data));
    assert.is.not(flipped!.hash, rec!.hash, `flip at ${at} of ${size}`);
  }
});

test('transform writes an output as large as its input: every bit inverted', async () => {
  for (const size of SIZES) {
    const data = workloads.produce(size, 7);
    const out = await engine.invoke('transform', data);
    assert.ok(bytesEqual(out, workloads.transform(data)), `transform(${size})`);
  }
});

test('wordcount matches the mirror on generated and edge-case text', async () => {
  const texts = ['', ' ', 'one', 'a b a', '  lead and trail  ', 'tab\tsep\nnew line\r\nmore', 'b a b a c c c'];
  const rnd = prng(SEED + 2);
  const words = ['x', 'yy', 'zzz', 'wasm', 'ring'];
  let long = '';
  for (let i = 0; i < 5000; i++) long += words[Math.floor(rnd() * words.length)] + (rnd() < 0.1 ? '\n' : ' ');
  texts.push(long);
  for (const t of texts) {
    const out = new TextDecoder().decode(await engine.invoke('wordcount', new TextEncoder().encode(t)));
    assert.is(out, workloads.wordcount(t), JSON.stringify(t.slice(0, 30)));
  }
});

test('identity returns its input unchanged', async () => {
  for (const size of [0, 1, 100, 70000]) {
    const data = workloads.produce(size, 3);
    assert.ok(bytesEqual(await engine.invoke('identity', data), data));
  }
});

test.run();
