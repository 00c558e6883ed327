// Each member's static data stays intact while other members allocate and
// grow the shared memory, and every worker sees the grown memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { MiB } from './helpers/env.js';

const TABLE_A = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0x082efa98, 0xec4e6c89,
  0x452821e6, 0x38d01377, 0xbe5466cf, 0x34e90c6c, 0xc0ac29b7, 0xc97c50dd, 0x3f84d5b5, 0xb5470917];
const TABLE_B = [0x9216d5d9, 0x8979fb1b, ...TABLE_A.slice(2)];

function expected(table: number[], label: string): [number, number] {
  const t = new Uint8Array(new Uint32Array(table).buffer);
  const l = new Uint8Array(new Uint16Array([...label].map((c) => c.charCodeAt(0))).buffer);
  return [workloads.checksum(t), workloads.checksum(l)];
}

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy([
    { name: 'a', module: 'statics-a', trusted: true, domain: 's' },
    { name: 'b', module: 'statics-b', trusted: true, domain: 's' },
    { name: 'hog', module: 'hog', trusted: true, domain: 's' },
    { name: 'producer', module: 'producer', trusted: true, domain: 's' },
  ]);
});
test.after(async () => {
  await engine.close();
});

async function check(name: 'a' | 'b'): Promise<void> {
  const input = workloads.produce(1000, 3);
  const out = await engine.invoke(name, input);
  const dv = new DataView(out.buffer, out.byteOffset);
  const [t, l] = name === 'a' ? expected(TABLE_A, 'statics-a: static data intact') : expected(TABLE_B, 'statics-b: static data intact');
  assert.is(dv.getUint32(0, true), t, `${name}: static table`);
  assert.is(dv.getUint32(4, true), l, `${name}: static string`);
  assert.ok(Buffer.from(out.subarray(8)).equals(Buffer.from(input)), `${name}: echo`);
}

test('statics are right before anything else ran', async () => {
  await check('a');
  await check('b');
});

test('statics survive other members allocating, growing the memory and reusing chunks', async () => {
  const group = () => engine.stats().memory.find((m) => m.members.includes('hog'))!;
  const before = group().memoryBytes;
  const grow = new Uint8Array(4);
  new DataView(grow.buffer).setUint32(0, 96, true);
  await Promise.all([engine.invoke('hog', grow), engine.invoke('producer', workloads.producerSpec(40 * MiB, 1))]);
  assert.ok(group().memoryBytes > before, 'the memory grew');
  for (let i = 0; i < 6; i++) {
    await Promise.all([check('a'), check('b'), engine.invoke('producer', workloads.producerSpec(3 * MiB, i))]);
  }
});

test('after growth, every worker sees the new size (a large input lands above the old end)', async () => {
  const out = await Promise.all(Array.from({ length: 4 }, (_, i) => engine.invoke('producer', workloads.producerSpec(70 * MiB + i, i))));
  out.forEach((o, i) => assert.is(workloads.checksum(o), workloads.checksum(workloads.produce(70 * MiB + i, i))));
});

test.run();
