// Records from a byte stream (`cwasi run --batch -`): whatever the chunking, both
// framings give back exactly the records written; an oversized or truncated
// record fails with E_INPUT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readRecords, type Framing } from '../engine/batch/records.js';
import { CwasiError } from '../engine/index.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';

function* chunked(bytes: Uint8Array, rand: () => number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length;) {
    const n = 1 + Math.floor(rand() * (rand() < 0.5 ? 7 : 70_000));
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function all(stream: Iterable<Uint8Array>, framing: Framing, max = 1 << 20): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const r of readRecords((async function* () { yield* stream; })(), framing, max)) out.push(r.bytes);
  return out;
}

function frame(records: Uint8Array[]): Uint8Array {
  return Buffer.concat(records.flatMap((r) => {
    const h = Buffer.alloc(4);
    h.writeUInt32LE(r.length);
    return [h, Buffer.from(r)];
  }));
}

test('length framing: random records in random chunks come back exactly, keys in order', async () => {
  const rand = prng(SEED);
  for (let round = 0; round < 20; round++) {
    const records = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Uint8Array.from({ length: Math.floor(rand() * (rand() < 0.2 ? 200_000 : 50)) }, () => Math.floor(rand() * 256)));
    const got = await all(chunked(frame(records), rand), 'length');
    assert.is(got.length, records.length, `round ${round}`);
    got.forEach((g, i) => assert.ok(bytesEqual(g, records[i]!), `round ${round} record ${i}`));
  }
  const keys: string[] = [];
  for await (const r of readRecords([frame([Uint8Array.of(1), Uint8Array.of(2)])], 'length', 10)) keys.push(r.key);
  assert.equal(keys, ['00000000', '00000001']);
});

test('lines framing: \\n and \\r\\n end a record, empty lines are records, a last line without \\n counts', async () => {
  const rand = prng(SEED + 1);
  const text = 'alpha\nbeta\r\n\ngamma delta\nlast';
  for (let round = 0; round < 10; round++) {
    const got = await all(chunked(new TextEncoder().encode(text), rand), 'lines');
    assert.equal(got.map((g) => new TextDecoder().decode(g)), ['alpha', 'beta', '', 'gamma delta', 'last']);
  }
  assert.equal((await all([new TextEncoder().encode('a\n')], 'lines')).length, 1);
});

test('oversized and truncated records fail with E_INPUT', async () => {
  const isInput = (e: unknown) => e instanceof CwasiError && e.code === 'E_INPUT';
  await all([frame([new Uint8Array(100)])], 'length', 99).then(() => assert.unreachable('oversized'), (e) => assert.ok(isInput(e), String(e)));
  await all([frame([new Uint8Array(100)]).subarray(0, 50)], 'length').then(() => assert.unreachable('truncated'), (e) => assert.ok(isInput(e), String(e)));
  await all([new Uint8Array(3)], 'length').then(() => assert.unreachable('truncated header'), (e) => assert.ok(isInput(e), String(e)));
  await all(chunked(new Uint8Array(5000).fill(65), prng(1)), 'lines', 1000).then(() => assert.unreachable('long line'), (e) => assert.ok(isInput(e), String(e)));
});

test.run();
