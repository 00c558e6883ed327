// A producer's streamWindowBytes sets the ring its live stream flows
// through: while a stream runs, stats().rings shows one ring of that window
// (rounded up to a power of two) leased, or of the engine's local.ringBytes
// without one; the output is the same either way. Out-of-range windows are
// refused at deploy with E_CONFIG.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { SEED } from './helpers/env.js';
import { closeEngine, until } from './helpers/settle.js';

const MiB = 2 ** 20;
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2, local: { ringBytes: 2 * MiB } });
  await engine.deploy({
    name: 'narrow',
    functions: { 'narrow-p': { module: 'stream-producer', streamWindowBytes: 100_000 }, 'narrow-c': { module: 'stream-checksum' } },
    edges: [{ from: 'narrow-p', to: 'narrow-c' }],
  });
  await engine.deploy({
    name: 'default-window',
    functions: { 'dw-p': { module: 'stream-producer' }, 'dw-c': { module: 'stream-checksum' } },
    edges: [{ from: 'dw-p', to: 'dw-c' }],
  });
});
test.after(async () => {
  await closeEngine(engine);
});

async function windowWhileStreaming(name: string, size: number): Promise<{ bytes: number; out: Uint8Array }> {
  let bytes = 0;
  const running = engine.invoke(name, workloads.producerSpec(size, SEED), { timeoutMs: 60_000 });
  let done = false;
  void running.finally(() => (done = true)).catch(() => {});
  await until(() => {
    const r = engine.stats().rings;
    if (r.inUse > 0) bytes = r.inUseBytes;
    return bytes > 0 || done;
  }, 30_000, `${name}: a ring leased`, 1);
  return { bytes, out: await running };
}

test('a producer window of 100 000 bytes streams through a 128 KiB ring', async () => {
  const size = 256 * MiB;
  const { bytes, out } = await windowWhileStreaming('narrow', size);
  assert.is(bytes, 128 * 1024);
  assert.equal(workloads.readChecksums(out), [workloads.streamedChecksum(size, SEED, 0)]);
});

test('without one, the engine\'s local.ringBytes', async () => {
  const size = 256 * MiB;
  const { bytes, out } = await windowWhileStreaming('default-window', size);
  assert.is(bytes, 2 * MiB);
  assert.equal(workloads.readChecksums(out), [workloads.streamedChecksum(size, SEED, 0)]);
});

test('windows out of range are refused at deploy', async () => {
  for (const w of [1000, 2 ** 29, 1.5 * MiB + 0.5]) {
    await rejectsWith(engine.deploy({ name: `bad-window-${w}`, module: 'stream-producer', streamWindowBytes: w }), 'E_CONFIG', /streamWindowBytes must be a whole number from 65536 to 268435456/);
  }
});

test.run();
