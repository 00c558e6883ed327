// cwasi-test: exclusive (asserts wake-up and deadline latencies to a few milliseconds)
// Ending a transfer: abort() from either side wakes the other side promptly
// (a writer blocked on a full ring, a reader blocked on an empty one, in real
// worker threads; main-thread writeAsync/readAsync too); a deadline ends a
// wait with 'timeout'; close() lets a reader drain the ring and then see
// 'closed', never earlier; reset() makes a used ring carry a fresh transfer.
//
// The aborting thread acts only once it sees the other side asleep in the
// ring (its WAITING flag raised), so each measurement covers a real wake-up.
// Latencies are measured across threads with performance.timeOrigin + now().

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_DATA, FRAME_HEADER_BYTES, RING, Ring, STATE_ABORTED, STATE_CLOSED, STATE_OPEN } from '../engine/ring/ring.js';
import { SEED } from './helpers/env.js';
import {
  actWhenWaiting, closeRoundsConsumer, indices, keepAlive, now, setIndices, spawnRole, within,
} from './helpers/ring-threads.js';

/** A woken side must return within this long of the abort/close. */
const PROMPT_MS = 500;
/**
 * ...and typically within this: a sleeper that was never woken still returns
 * when its 100 ms sleep slice ends, so only a median well under 100 ms shows
 * that abort() really wakes it.
 */
const MEDIAN_MS = 50;
const REPEATS = 6;
const LONG_MS = 10_000;

function summary(what: string, latencies: number[]): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  console.log(`  ${what}: median ${median.toFixed(2)} ms, max ${sorted[sorted.length - 1]!.toFixed(2)} ms over ${sorted.length}`);
  assert.ok(median < MEDIAN_MS, `${what}: median ${median.toFixed(1)} ms`);
}

// ── abort wakes the other side ───────────────────────────────────────────

test('abort by the consumer wakes a writer blocked on a full ring (worker threads)', async () => {
  const latencies: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const ring = Ring.create(4096);
    const writer = spawnRole('blockedWrite', { sab: ring.buffer, timeoutMs: LONG_MS });
    const consumer = spawnRole('actWhenWaiting', { sab: ring.buffer, sleeper: 'producer', act: 'abort', timeoutMs: LONG_MS });
    const [w, c] = await Promise.all([writer.result, consumer.result]);
    assert.is(w.outcome, 'aborted');
    assert.is(w.bytes, 0, 'nothing fitted');
    const latency = w.returnedAt - c.at;
    assert.ok(latency < PROMPT_MS, `writer returned ${latency.toFixed(1)} ms after the abort`);
    latencies.push(latency);
    assert.is(ring.state, STATE_ABORTED);
  }
  summary('blocked writer woken by abort', latencies);
});

test('abort by the producer wakes a reader blocked on an empty ring (worker threads)', async () => {
  const latencies: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const ring = Ring.create(4096);
    const reader = spawnRole('blockedRead', { sab: ring.buffer, timeoutMs: LONG_MS });
    const producer = spawnRole('actWhenWaiting', { sab: ring.buffer, sleeper: 'consumer', act: 'abort', timeoutMs: LONG_MS });
    const [r, p] = await Promise.all([reader.result, producer.result]);
    assert.is(r.outcome, 'aborted');
    assert.is(r.bytes, 0);
    const latency = r.returnedAt - p.at;
    assert.ok(latency < PROMPT_MS, `reader returned ${latency.toFixed(1)} ms after the abort`);
    latencies.push(latency);
  }
  summary('blocked reader woken by abort', latencies);
});

test('abort mid-transfer: a reader that got part of the bytes returns the count and \'aborted\'', async () => {
  const ring = Ring.create(256);
  ring.tryWrite(new Uint8Array(100).fill(9));
  const reader = spawnRole('blockedRead', { sab: ring.buffer, timeoutMs: LONG_MS, bytes: 1000 });
  const producer = spawnRole('actWhenWaiting', { sab: ring.buffer, sleeper: 'consumer', act: 'abort', timeoutMs: LONG_MS });
  const [r, p] = await Promise.all([reader.result, producer.result]);
  assert.equal([r.outcome, r.bytes], ['aborted', 100]);
  assert.ok(r.returnedAt - p.at < PROMPT_MS);
});

test('abort from a worker wakes main-thread writeAsync (ring full) and readAsync (ring empty)', async () => {
  const release = keepAlive();
  try {
    const full = Ring.create(1024);
    full.tryWrite(new Uint8Array(1024));
    const aborter1 = spawnRole('actWhenWaiting', { sab: full.buffer, sleeper: 'producer', act: 'abort', timeoutMs: LONG_MS });
    const w = await full.writeAsync(new Uint8Array(10), Date.now() + LONG_MS);
    const wroteAt = now();
    assert.is(w, 'aborted');
    assert.ok(wroteAt - (await aborter1.result).at < PROMPT_MS, 'writeAsync woke promptly');

    const empty = Ring.create(1024);
    const aborter2 = spawnRole('actWhenWaiting', { sab: empty.buffer, sleeper: 'consumer', act: 'abort', timeoutMs: LONG_MS });
    const r = await empty.readAsync(new Uint8Array(10), Date.now() + LONG_MS);
    const readAt = now();
    assert.equal(r, { read: 0, outcome: 'aborted' });
    assert.ok(readAt - (await aborter2.result).at < PROMPT_MS, 'readAsync woke promptly');
  } finally {
    release();
  }
});

// ── deadlines ────────────────────────────────────────────────────────────

test('a blocked write and a blocked read return \'timeout\' once the deadline passes (worker threads)', async () => {
  const DEADLINE_MS = 150;
  const full = Ring.create(1024);
  const empty = Ring.create(1024);
  const writer = spawnRole('blockedWrite', { sab: full.buffer, timeoutMs: DEADLINE_MS });
  const reader = spawnRole('blockedRead', { sab: empty.buffer, timeoutMs: DEADLINE_MS });
  const [w, r] = await within(Promise.all([writer.result, reader.result]), 3000, 'blocked write and read with a 150 ms deadline', () => {
    void writer.worker.terminate();
    void reader.worker.terminate();
  });
  for (const [name, x] of [['write', w], ['read', r]] as const) {
    assert.is(x.outcome, 'timeout', name);
    assert.is(x.bytes, 0, name);
    const took = x.returnedAt - x.startedAt;
    assert.ok(took >= DEADLINE_MS - 2 && took < DEADLINE_MS + PROMPT_MS, `${name} took ${took.toFixed(1)} ms for a ${DEADLINE_MS} ms deadline`);
  }
  assert.is(full.state, STATE_OPEN, 'a timeout does not abort the ring');
  assert.is(empty.state, STATE_OPEN);
});

test('writeAsync and readAsync return \'timeout\' once the deadline passes (main thread)', async () => {
  const release = keepAlive();
  try {
    const full = Ring.create(64);
    full.tryWrite(new Uint8Array(64));
    const empty = Ring.create(64);
    const t0 = now();
    const [w, r] = await Promise.all([full.writeAsync(new Uint8Array(1), Date.now() + 120), empty.readAsync(new Uint8Array(1), Date.now() + 120)]);
    const took = now() - t0;
    assert.is(w, 'timeout');
    assert.equal(r, { read: 0, outcome: 'timeout' });
    assert.ok(took >= 118 && took < 120 + PROMPT_MS, `took ${took.toFixed(1)} ms`);
  } finally {
    release();
  }
});

test('a deadline already past: a write or read that must wait returns \'timeout\' at once, one that need not wait succeeds', () => {
  const ring = Ring.create(64);
  const past = Date.now() - 1;
  assert.equal(ring.write(new Uint8Array(64), past), { written: 64, outcome: 'ok' });
  assert.equal(ring.write(new Uint8Array(1), past), { written: 0, outcome: 'timeout' });
  assert.equal(ring.read(new Uint8Array(64), past), { read: 64, outcome: 'ok' });
  assert.equal(ring.read(new Uint8Array(1), past), { read: 0, outcome: 'timeout' });
  assert.is(ring.waitForSpace(64, past), 'ok');
  ring.tryWrite(new Uint8Array(1));
  assert.is(ring.waitForSpace(64, past), 'timeout');
});

// ── close ────────────────────────────────────────────────────────────────

test('close(): a reader blocked after draining the ring returns its bytes and \'closed\' (worker threads)', async () => {
  const latencies: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const ring = Ring.create(256);
    ring.tryWrite(new Uint8Array(300).fill(4)); // 256 fit
    const reader = spawnRole('blockedRead', { sab: ring.buffer, timeoutMs: LONG_MS, bytes: 1000 });
    const closer = spawnRole('actWhenWaiting', { sab: ring.buffer, sleeper: 'consumer', act: 'close', timeoutMs: LONG_MS });
    const [r, c] = await Promise.all([reader.result, closer.result]);
    assert.equal([r.outcome, r.bytes], ['closed', 256]);
    const latency = r.returnedAt - c.at;
    assert.ok(latency < PROMPT_MS, `reader returned ${latency.toFixed(1)} ms after close()`);
    latencies.push(latency);
    assert.is(ring.state, STATE_CLOSED);
  }
  summary('drained reader woken by close', latencies);
});

test('close(): bytes still in the ring are read before \'closed\'; abort after close wins; close ends reads only', () => {
  const ring = Ring.create(64);
  assert.equal(ring.write(new Uint8Array(10).fill(1), Date.now() + 1000), { written: 10, outcome: 'ok' });
  ring.close();
  assert.is(ring.state, STATE_CLOSED);
  const dst = new Uint8Array(20);
  assert.equal(ring.read(dst.subarray(0, 4), Date.now() + 1000), { read: 4, outcome: 'ok' });
  assert.equal(ring.read(dst.subarray(4), Date.now() + 1000), { read: 6, outcome: 'closed' });
  assert.ok(dst.subarray(0, 10).every((b) => b === 1));
  ring.close();
  assert.is(ring.state, STATE_CLOSED, 'close twice');
  ring.abort();
  assert.is(ring.state, STATE_ABORTED);
  ring.close();
  assert.is(ring.state, STATE_ABORTED, 'close does not undo an abort');

  // close() ends reads only: a writer waiting for space on a closed ring waits on (its deadline here is past).
  const full = Ring.create(64);
  full.tryWrite(new Uint8Array(64));
  full.close();
  assert.equal(full.write(new Uint8Array(1), Date.now() - 1), { written: 0, outcome: 'timeout' });
  assert.is(full.waitForSpace(1, Date.now() - 1), 'timeout');
});

// Regression: waitOn checked ready() (HEAD) before loading STATE, so a
// producer that published its last bytes and closed between those two loads
// made read() return 'closed' with the bytes still in the ring (seen in
// 0.5–20% of rounds on a 2-core machine).
test('close(): read() never reports \'closed\' while bytes written before close() remain (worker threads, 20 000 rounds)', async () => {
  const ring = Ring.create(4096);
  const ctl = new SharedArrayBuffer(4);
  const args = { sab: ring.buffer, ctl, rounds: 20_000, timeoutMs: 20_000 };
  const [p, c] = await Promise.all([spawnRole('closeRoundsProducer', args).result, spawnRole('closeRoundsConsumer', { ...args, mode: 'blocking' }).result]);
  assert.is(p.rounds, args.rounds);
  assert.is(c.short, 0, `${c.short} of ${c.rounds} rounds lost bytes; first: ${c.firstShort}`);
});

test('close(): readAsync never reports \'closed\' while bytes written before close() remain (main thread, 5 000 rounds)', async () => {
  const ring = Ring.create(4096);
  const ctl = new SharedArrayBuffer(4);
  const args = { sab: ring.buffer, ctl, rounds: 5_000, timeoutMs: 20_000 };
  const release = keepAlive();
  try {
    const producer = spawnRole('closeRoundsProducer', args);
    const c = await closeRoundsConsumer({ ...args, mode: 'async' });
    await producer.result;
    assert.is(c.short, 0, `${c.short} of ${c.rounds} rounds lost bytes; first: ${c.firstShort}`);
  } finally {
    release();
  }
});

// ── AbortSignal of the async methods ─────────────────────────────────────

// Regression: readAsync/writeAsync looked at the signal only between chunks;
// waitAsyncFor loops in 100 ms slices until data, STATE or the deadline, so a
// signal aborted during a wait was ignored until the deadline.
test('an AbortSignal aborted while readAsync / writeAsync waits ends the wait with \'aborted\'', async () => {
  const release = keepAlive();
  try {
    const empty = Ring.create(64);
    const full = Ring.create(64);
    full.tryWrite(new Uint8Array(64));
    const ac = new AbortController();
    const t0 = now();
    const pending = Promise.all([
      empty.readAsync(new Uint8Array(8), Date.now() + 1500, ac.signal),
      full.writeAsync(new Uint8Array(8), Date.now() + 1500, ac.signal),
    ]);
    // Both calls are now parked in Atomics.waitAsync; abort on the next turn of the event loop.
    setImmediate(() => ac.abort());
    const [r, w] = await pending;
    const took = now() - t0;
    assert.equal(r, { read: 0, outcome: 'aborted' }, `readAsync after ${took.toFixed(0)} ms`);
    assert.is(w, 'aborted', `writeAsync after ${took.toFixed(0)} ms`);
    assert.ok(took < PROMPT_MS, `took ${took.toFixed(0)} ms`);
  } finally {
    release();
  }
});

test('an AbortSignal already aborted: readAsync / writeAsync return \'aborted\' without moving bytes', async () => {
  const ring = Ring.create(64);
  ring.tryWrite(new Uint8Array(5));
  const signal = AbortSignal.abort();
  assert.equal(await ring.readAsync(new Uint8Array(5), Date.now() + 1000, signal), { read: 0, outcome: 'aborted' });
  assert.is(await ring.writeAsync(new Uint8Array(5), Date.now() + 1000, signal), 'aborted');
  assert.is(ring.used, 5);
});

// ── corrupt indices ──────────────────────────────────────────────────────

// Regression: tryRead aborts on indices claiming more than capacity bytes and
// returns 0, but waitOn/waitAsyncFor test ready() (used > 0: true) before
// STATE, so read() spun forever between them, past its deadline (readAsync:
// a microtask loop that starves the event loop).
for (const mode of ['blocking', 'async'] as const) {
  test(`${mode} read on a ring whose indices are corrupt ends ('aborted') instead of spinning past its deadline`, async () => {
    const ring = Ring.create(64);
    setIndices(ring, 65, 0);
    const run = spawnRole('readWithDeadline', { sab: ring.buffer, timeoutMs: 200, mode });
    const r = await within(run.result, 2000, `${mode} read on corrupt indices`, () => void run.worker.terminate());
    assert.is(r.outcome, 'aborted');
    assert.is(r.bytes, 0);
    assert.ok(r.returnedAt - r.startedAt < PROMPT_MS);
  });
}

// ── reset ────────────────────────────────────────────────────────────────

test('reset(): after an aborted transfer left the ring mid-stream, it carries a fresh transfer of frames', async () => {
  const ring = Ring.create(4096);
  const i32 = new Int32Array(ring.buffer);
  // A transfer that dies half way: frames written, some read, a consumer attached, then an abort.
  setIndices(ring, 2 ** 32 - 1000, 2 ** 32 - 1000);
  for (let i = 0; i < 50; i++) ring.writeFrame(FRAME_DATA, 123, new Uint8Array(40).fill(i));
  ring.attachConsumer();
  assert.equal(ring.readHeader(Date.now() + 1000), { type: FRAME_DATA, length: 40, seq: 0, aux: 123 });
  ring.read(new Uint8Array(40), Date.now() + 1000);
  ring.abort();
  assert.is(ring.state, STATE_ABORTED);
  const resets = i32[RING.RESETS >> 2]!;

  ring.reset();
  assert.is(ring.state, STATE_OPEN);
  assert.is(ring.used, 0);
  assert.equal(indices(ring), { head: 0, tail: 0 });
  assert.not.ok(ring.consumerAttached);
  assert.is(i32[RING.PRODUCER_WAITING >> 2], 0);
  assert.is(i32[RING.CONSUMER_WAITING >> 2], 0);
  assert.is(i32[RING.RESETS >> 2], resets + 1);

  // The owner's own view numbers frames from 0 again, for writing and for reading.
  assert.ok(ring.writeFrame(FRAME_DATA, 7, Uint8Array.of(1, 2, 3)));
  assert.equal(ring.readHeader(Date.now() + 1000), { type: FRAME_DATA, length: 3, seq: 0, aux: 7 });
  ring.read(new Uint8Array(3), Date.now() + 1000);
  ring.reset();

  // Fresh views in two workers: a full transfer of frames, every field and byte checked.
  const args = { sab: ring.buffer, seed: SEED + 99, count: 3000, maxPayload: 4096 - FRAME_HEADER_BYTES, timeoutMs: LONG_MS };
  const [w, r] = await Promise.all([spawnRole('writeFrames', args).result, spawnRole('readFrames', args).result]);
  assert.is(w.firstError, null);
  assert.is(r.firstError, null);
  assert.is(r.outcome, 'ok');
  assert.is(r.frames, args.count);
  assert.is(ring.used, 0);

  // And once more after that clean transfer, as the pool does between leases.
  ring.reset();
  const [w2, r2] = await Promise.all([spawnRole('writeFrames', { ...args, seed: SEED + 100 }).result, spawnRole('readFrames', { ...args, seed: SEED + 100 }).result]);
  assert.is(w2.firstError, null);
  assert.is(r2.firstError, null);
  assert.is(r2.frames, args.count);
});

test('actWhenWaiting refuses to act when nobody sleeps (the fixture cannot pass vacuously)', () => {
  const ring = Ring.create(64);
  try {
    actWhenWaiting({ sab: ring.buffer, sleeper: 'consumer', act: 'abort', timeoutMs: 20 });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /never slept/);
  }
  assert.is(ring.state, STATE_OPEN);
});

test.run();
