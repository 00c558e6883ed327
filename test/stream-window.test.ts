// A producer's streamWindowBytes sets the window its live stream flows
// through on an embedded or local edge: eight chunks in the producer's own
// memory, each handed to the consumer whole (stream-pieces reports the
// largest piece Reader.next gave it: an eighth of the window, in whole
// 16-byte blocks), with only a 4 KiB ring of frames leased beside it; without
// one, 4 MiB (512 KiB chunks). The output is the same either way, trusted
// (read in place: the pieces lie at the window's eight chunks) or not
// (copied across once: they lie in one buffer). Out-of-range windows are
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
  for (const trusted of [true, false]) {
    const t = trusted ? { trusted: true, domain: 'narrow' } : {};
    const u = trusted ? '-t' : '';
    await engine.deploy({
      name: `narrow${u}`,
      functions: { [`narrow-p${u}`]: { module: 'stream-producer', streamWindowBytes: 100_000, ...t }, [`narrow-c${u}`]: { module: 'stream-checksum', ...t } },
      edges: [{ from: `narrow-p${u}`, to: `narrow-c${u}` }],
    });
    await engine.deploy({
      name: `pieces${u}`,
      functions: { [`pieces-p${u}`]: { module: 'stream-producer', streamWindowBytes: 100_000, ...t }, [`pieces-c${u}`]: { module: 'stream-pieces', ...t } },
      edges: [{ from: `pieces-p${u}`, to: `pieces-c${u}` }],
    });
    await engine.deploy({
      name: `default-pieces${u}`,
      functions: { [`dp-p${u}`]: { module: 'stream-producer', ...t }, [`dp-c${u}`]: { module: 'stream-pieces', ...t } },
      edges: [{ from: `dp-p${u}`, to: `dp-c${u}` }],
    });
  }
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

for (const u of ['', '-t']) {
  const what = u === '' ? 'local' : 'embedded';
  test(`${what}: a producer window of 100 000 bytes: chunks of 12 496 bytes, a 4 KiB ring of frames, the right checksum`, async () => {
    const size = 64 * MiB + 9;
    const { bytes, out } = await windowWhileStreaming(`narrow${u}`, size);
    assert.is(bytes, 4096);
    assert.equal(workloads.readChecksums(out), [workloads.streamedChecksum(size, SEED, 0)]);
    const p = new DataView((await engine.invoke(`pieces${u}`, workloads.producerSpec(size, SEED))).buffer);
    assert.is(p.getUint32(4, true), 12_496, 'largest piece');
    assert.is(p.getUint32(8, true), size, 'bytes');
    assert.ok(p.getUint32(0, true) >= Math.ceil(size / 12_496), 'pieces');
    // In place: the consumer reads the window's eight chunks where they lie; copied: always into one buffer.
    assert.is(p.getUint32(12, true), u === '-t' ? 8 : 1, 'places the pieces lay at');
  });

  test(`${what}: without one, chunks of 512 KiB`, async () => {
    const size = 16 * MiB + 1;
    const p = new DataView((await engine.invoke(`default-pieces${u}`, workloads.producerSpec(size, SEED))).buffer);
    assert.is(p.getUint32(4, true), 512 * 1024);
    assert.is(p.getUint32(8, true), size);
  });
}

test('windows out of range are refused at deploy', async () => {
  for (const w of [1000, 2 ** 29, 1.5 * MiB + 0.5]) {
    await rejectsWith(engine.deploy({ name: `bad-window-${w}`, module: 'stream-producer', streamWindowBytes: w }), 'E_CONFIG', /streamWindowBytes must be a whole number from 65536 to 268435456/);
  }
});

test.run();
