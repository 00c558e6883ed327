// Engine.create refuses numeric and enumerated options it cannot honour with
// E_CONFIG naming the option, before a thread starts: NaN once switched the
// deadline (timeoutMs) or the payload limit (maxPayloadBytes) off without a
// word, and a bad ring size or memory cap failed only at a later deploy or
// invocation. An invocation's own timeoutMs must be a number too; one already
// spent still fails that invocation with E_TIMEOUT, as before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type EngineOptions } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';

const bad: Array<[string, EngineOptions, RegExp]> = [
  ['timeoutMs NaN', { timeoutMs: Number.NaN }, /^timeoutMs must be a positive number/],
  ['timeoutMs 0', { timeoutMs: 0 }, /^timeoutMs must be a positive number/],
  ['timeoutMs -5', { timeoutMs: -5 }, /^timeoutMs must be a positive number/],
  ['timeoutMs "x"', { timeoutMs: 'x' as unknown as number }, /^timeoutMs must be a positive number/],
  ['maxPayloadBytes NaN', { maxPayloadBytes: Number.NaN }, /^maxPayloadBytes must be a whole number of bytes from 1 to 4294967296/],
  ['maxPayloadBytes 1.5', { maxPayloadBytes: 1.5 }, /^maxPayloadBytes must be/],
  ['maxPayloadBytes -1', { maxPayloadBytes: -1 }, /^maxPayloadBytes must be/],
  ['memoryMaxBytes 100', { memoryMaxBytes: 100 }, /^memoryMaxBytes must be a whole number of bytes from 1048576 to 4294967296/],
  ['memoryMaxBytes 8 GiB', { memoryMaxBytes: 8 * 2 ** 30 }, /^memoryMaxBytes must be/],
  ['directInputBytes -1', { directInputBytes: -1 }, /^directInputBytes must be/],
  ['directInputBytes NaN', { directInputBytes: Number.NaN }, /^directInputBytes must be/],
  ['local.ringBytes 1.5', { local: { ringBytes: 1.5 } }, /^local\.ringBytes must be a whole number of bytes from 64 to 1073741824/],
  ['local.ringBytes 0', { local: { ringBytes: 0 } }, /^local\.ringBytes must be/],
  ['local.ringBytes 2 GiB', { local: { ringBytes: 2 ** 31 } }, /^local\.ringBytes must be/],
  ['local.transport "fast"', { local: { transport: 'fast' as 'stream' } }, /^local\.transport must be 'descriptor' or 'stream'/],
  ['local.sameWorker "yes"', { local: { sameWorker: 'yes' as unknown as boolean } }, /^local\.sameWorker must be true or false/],
  ['redis.ttlSeconds 0', { redis: { ttlSeconds: 0 } }, /^redis\.ttlSeconds must be/],
  ['redis.chunkBytes 1 GiB', { redis: { chunkBytes: 2 ** 30 } }, /^redis\.chunkBytes must be a whole number of bytes from 1 to 536870912/],
];

for (const [label, options, message] of bad) {
  test(`${label} is E_CONFIG`, async () => {
    await rejectsWith(Engine.create({ threads: 1, ...options }), 'E_CONFIG', message);
  });
}

test('the edges of every range are accepted, and Infinity where it means none', async () => {
  const engine = await Engine.create({
    threads: 1, timeoutMs: Number.POSITIVE_INFINITY, maxPayloadBytes: 1, memoryMaxBytes: 1 << 20, directInputBytes: Number.POSITIVE_INFINITY,
    local: { transport: 'stream', ringBytes: 64, sameWorker: false }, redis: { ttlSeconds: 1, chunkBytes: 512 * (1 << 20) },
  });
  await engine.close();
});

test('an invocation timeoutMs that is not a number is E_CONFIG and starts nothing; a spent one is E_TIMEOUT', async () => {
  const engine = await Engine.create({ threads: 1 });
  try {
    await engine.deploy({ name: 'identity', module: 'identity' });
    const before = engine.stats().invocations.started;
    for (const timeoutMs of [Number.NaN, '5' as unknown as number]) {
      await rejectsWith(engine.invoke('identity', Uint8Array.of(1), { timeoutMs }), 'E_CONFIG', /^timeoutMs must be a number/);
    }
    assert.is(engine.stats().invocations.started, before, 'no invocation started');
    await rejectsWith(engine.invoke('identity', Uint8Array.of(1), { timeoutMs: -1 }), 'E_TIMEOUT');
    // Zero is spent too, however fast the call would have been (the engine is warm now).
    for (let i = 0; i < 20; i++) await rejectsWith(engine.invoke('identity', Uint8Array.of(1), { timeoutMs: 0 }), 'E_TIMEOUT');
    assert.equal(await engine.invoke('identity', Uint8Array.of(2), { timeoutMs: Number.POSITIVE_INFINITY }), Uint8Array.of(2));
  } finally {
    await engine.close();
  }
});

test.run();
