// engine/memory/copy.ts: copies into and out of shared memories give the same
// bytes as Uint8Array#set and #slice (the plain JS reference) at every size
// around the Buffer#fill threshold, between memories, within one memory
// (overlapping ranges included) and from unshared buffers; a range outside the
// destination throws before writing; copyOut's result is unshared and
// transferable. Seeded: sizes, offsets and bytes come from SEED.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MessageChannel } from 'node:worker_threads';
import { COPY_FILL_BYTES, copyInto, copyOut } from '../engine/memory/copy.js';
import { scenarioRandom, SEED } from './helpers/differential.js';

const PAGE = 65536;

function sharedMemory(pages: number): Uint8Array {
  return new Uint8Array(new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer);
}

function fillRandom(v: Uint8Array, rnd: () => number): void {
  for (let i = 0; i < v.length; i++) v[i] = (rnd() * 256) | 0;
}

const SIZES = [0, 1, 7, COPY_FILL_BYTES - 1, COPY_FILL_BYTES, COPY_FILL_BYTES + 1, 4096, 65536 + 3, 3 * PAGE];

test('between two memories, any size and offset, the same bytes as set()', () => {
  const rnd = scenarioRandom(SEED, 'copy/between');
  const src = sharedMemory(8);
  const dst = sharedMemory(8);
  const ref = new Uint8Array(dst.length);
  fillRandom(src, rnd);
  for (let round = 0; round < 60; round++) {
    const n = round < SIZES.length ? SIZES[round]! : Math.floor(rnd() * 2 * PAGE);
    const from = Math.floor(rnd() * (src.length - n));
    const at = Math.floor(rnd() * (dst.length - n));
    copyInto(dst, at, src.subarray(from, from + n));
    ref.set(src.subarray(from, from + n), at);
    assert.ok(Buffer.compare(dst, ref) === 0, `round ${round}: ${n} bytes ${from} → ${at}`);
  }
});

test('within one memory, overlapping or not, the same bytes as set()', () => {
  const rnd = scenarioRandom(SEED, 'copy/within');
  const mem = sharedMemory(4);
  fillRandom(mem, rnd);
  const ref = new Uint8Array(mem);
  for (let round = 0; round < 60; round++) {
    const n = round < SIZES.length - 1 ? SIZES[round]! : Math.floor(rnd() * PAGE);
    const from = Math.floor(rnd() * (mem.length - n));
    // Half the rounds overlap the source.
    const at = round % 2 === 0 ? Math.max(0, Math.min(mem.length - n, from + Math.floor((rnd() - 0.5) * n))) : Math.floor(rnd() * (mem.length - n));
    copyInto(mem, at, mem.subarray(from, from + n));
    ref.set(ref.subarray(from, from + n), at);
    assert.ok(Buffer.compare(mem, ref) === 0, `round ${round}: ${n} bytes ${from} → ${at}`);
  }
});

test('from an unshared buffer into a view with an offset of its own', () => {
  const rnd = scenarioRandom(SEED, 'copy/unshared');
  const mem = sharedMemory(2);
  const view = mem.subarray(1000, 1000 + PAGE);
  const src = new Uint8Array(20_000);
  fillRandom(src, rnd);
  copyInto(view, 123, src);
  assert.ok(Buffer.compare(mem.subarray(1123, 1123 + src.length), src) === 0);
  assert.is(mem[1122], 0);
  assert.is(mem[1123 + src.length], 0);
});

test('a range outside the destination throws and writes nothing', () => {
  const mem = sharedMemory(1);
  const src = new Uint8Array(4096).fill(7);
  assert.throws(() => copyInto(mem, PAGE - 100, src), (e: Error) => e instanceof RangeError);
  assert.throws(() => copyInto(mem, -1, src), (e: Error) => e instanceof RangeError);
  assert.throws(() => copyInto(mem.subarray(0, 4000), 0, src), (e: Error) => e instanceof RangeError);
  assert.ok(mem.every((b) => b === 0));
});

test('copyOut: the same bytes as slice(), unshared, and its buffer can be transferred', () => {
  const rnd = scenarioRandom(SEED, 'copy/out');
  const mem = sharedMemory(4);
  fillRandom(mem, rnd);
  for (const n of SIZES) {
    const from = Math.floor(rnd() * (mem.length - n));
    const out = copyOut(mem.subarray(from, from + n));
    assert.ok(out.buffer instanceof ArrayBuffer, `${n}: unshared`);
    assert.is(out.byteLength, n);
    assert.is(out.byteOffset, 0);
    assert.is(out.buffer.byteLength, n);
    assert.ok(Buffer.compare(out, mem.slice(from, from + n)) === 0, `${n} bytes from ${from}`);
    assert.is(Object.getPrototypeOf(out), Uint8Array.prototype);
  }
  const out = copyOut(mem.subarray(0, 10_000));
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(out, [out.buffer]);
  assert.is(out.byteLength, 0, 'transferred');
  port1.close();
  port2.close();
});

test.run();
