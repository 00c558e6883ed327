// A landing gate (engine/channels/landing-gate.ts) holds a worker until the
// main thread says the input's bytes landed, fails it typed when they never
// will, and never blocks past the deadline. The worker is a real thread; it
// says it is about to wait through a second shared word, and the main thread
// opens the gate only then (no sleeps).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { GATE_BYTES, newGate, openGate, waitForGate } from '../engine/channels/landing-gate.js';
import { CwasiError } from '../engine/errors.js';

const gateUrl = new URL('../engine/channels/landing-gate.js', import.meta.url).href;

const source = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.gateUrl).then(({ waitForGate }) => {
  const ready = new Int32Array(workerData.ready);
  Atomics.store(ready, 0, 1);
  Atomics.notify(ready, 0);
  const t0 = Date.now();
  try {
    waitForGate(workerData.gate, Date.now() + workerData.deadlineMs);
    parentPort.postMessage({ ok: true, ms: Date.now() - t0 });
  } catch (err) {
    parentPort.postMessage({ ok: false, code: err.code, message: err.message, ms: Date.now() - t0 });
  }
});
`;

async function waiter(gate: Int32Array, deadlineMs: number, open?: (gate: Int32Array) => void): Promise<{ ok: boolean; code?: string; ms: number }> {
  const ready = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(source, { eval: true, workerData: { gateUrl, gate: gate.buffer, ready: ready.buffer, deadlineMs } });
  const result = new Promise<{ ok: boolean; code?: string; ms: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  // Wait (off the event loop's thread budget: a few ms at most) until the worker is about to block.
  while (Atomics.load(ready, 0) === 0) await Atomics.waitAsync(ready, 0, 0, 1000).value;
  open?.(gate);
  try {
    return await result;
  } finally {
    await w.terminate();
  }
}

test('a worker waits until the bytes landed', async () => {
  const r = await waiter(newGate(), 20_000, (g) => openGate(g, true));
  assert.ok(r.ok, JSON.stringify(r));
});

test('a stream that failed ends the wait with E_CHANNEL', async () => {
  const r = await waiter(newGate(), 20_000, (g) => openGate(g, false));
  assert.equal([r.ok, r.code], [false, 'E_CHANNEL']);
});

test('a gate that never opens ends at the deadline with E_TIMEOUT', async () => {
  const r = await waiter(newGate(), 150);
  assert.equal([r.ok, r.code], [false, 'E_TIMEOUT']);
  assert.ok(r.ms >= 140 && r.ms < 5_000, `${r.ms} ms`);
});

test('a gate is written once: a failure after the landing changes nothing', () => {
  const g = newGate();
  openGate(g, true);
  openGate(g, false);
  waitForGate(g.buffer, Date.now() + 1000);
});

test('anything but a gate is refused', () => {
  for (const bad of [new ArrayBuffer(GATE_BYTES), new SharedArrayBuffer(8), 'gate', undefined]) {
    try {
      waitForGate(bad, Date.now() + 1000);
      assert.unreachable('accepted');
    } catch (err) {
      assert.instance(err, CwasiError);
      assert.is((err as CwasiError).code, 'E_BAD_DESCRIPTOR');
    }
  }
});

test.run();
