// Live streams carried through the main thread (engine/channels/live-bridge.ts)
// by the `copy` channel (ring to ring) and the `remote-kv` channel (chunk keys
// in the real Redis at REDIS_URL): a seeded stream many windows long goes
// through stream-producer → stream-transform → stream-checksum with every
// stage running at once and the checksum plain JS gives; a failure mid-way
// ends with one typed error and leaves no ring, arena or key behind (a
// producer that traps, a consumer that stalls, an abort, a consumer that
// reads only the head); with one thread the producer keeps the rest of its
// stream and the result is the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import type { IfcMode } from '../engine/selection.js';
import { redisClient } from '../engine/channels/remote-kv.js';
import { rejectsWith } from './helpers/assert-error.js';
import { REDIS_URL, SEED } from './helpers/env.js';
import { closeEngine, until } from './helpers/settle.js';

const RING = 256 * 1024;
const MODES = (process.env.CWASI_TEST_MODES?.split(',') ?? ['copy', 'remote-kv']) as IfcMode[];
let engine: Engine;

/** `bounded`: each stage's memory capped at 4 MiB (a producer that must keep its stream needs more). */
function chain(name: string, mode: IfcMode, modules: string[], bounded = true): WorkflowDocument {
  const functions: WorkflowDocument['functions'] = {};
  modules.forEach((m, i) => (functions[`${name}-${i}`] = { module: m, ...(bounded ? { memoryMaxBytes: 4 * 2 ** 20 } : {}) }));
  return { name, functions, edges: modules.slice(1).map((_, i) => ({ from: `${name}-${i}`, to: `${name}-${i + 1}`, mode })) };
}

function expected(size: number, seed: number): Array<{ hash: number; length: number }> {
  return [{ hash: workloads.checksum(workloads.transform(workloads.produce(size, seed))), length: size }];
}

/** Keys of live streams of this process still in Redis (the engine's key prefix starts `cwasi:<pid>:`). */
async function liveKeys(): Promise<string[]> {
  return (await redisClient(REDIS_URL)).keys(`cwasi:${process.pid}:*:live*`);
}

async function nothingLeft(what: string, e: Engine = engine): Promise<void> {
  const clean = (): boolean => e.stats().rings.inUse === 0 && e.stats().memory.every((m) => m.liveArenas <= 1);
  await until(clean, 5000, `${what}: rings and arenas given back`).catch(() => {});
  const s = e.stats();
  assert.ok(clean(), `${what}: rings in use ${s.rings.inUse}; arenas ${s.memory.map((m) => `${m.members}: ${m.liveArenas}`).join(', ')}`);
  let keys: string[] = [];
  for (let i = 0; i < 100 && (keys = await liveKeys()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(keys, [], `${what}: no chunk keys left in Redis`);
}

test.before(async () => {
  engine = await Engine.create({ threads: 3, local: { ringBytes: RING }, redis: { url: REDIS_URL } });
  for (const mode of MODES) {
    await engine.deploy(chain(`${mode}-live`, mode, ['stream-producer', 'stream-transform', 'stream-checksum']));
    await engine.deploy(chain(`${mode}-trap`, mode, ['stream-probe', 'stream-checksum']));
    await engine.deploy(chain(`${mode}-stall`, mode, ['stream-producer', 'stream-stall']));
    await engine.deploy(chain(`${mode}-head`, mode, ['stream-producer', 'stream-head']));
  }
});
test.after(async () => {
  await closeEngine(engine);
});

for (const mode of MODES) {
  test(`${mode}: three streaming stages at once on a stream 24 windows long, 10x a stage's memory`, async () => {
    const name = `${mode}-live`;
    assert.equal(engine.plan(name).segments, [[`${name}-0`], [`${name}-1`], [`${name}-2`]], 'live edges are not chained');
    const size = 40 * 2 ** 20 + 13;
    const r = await engine.invokeWithReport(name, workloads.producerSpec(size, SEED));
    assert.equal(workloads.readChecksums(r.output), expected(size, SEED));
    const [p, t, c] = [0, 1, 2].map((i) => r.steps.find((s) => s.fn === `${name}-${i}`)!);
    assert.ok(t!.inputReady < p!.done && c!.inputReady < t!.done, `stages overlap: ${JSON.stringify(r.steps.map((s) => [s.fn, s.inputReady, s.done]))}`);
    for (let i = 0; i < 3; i++) {
      const g = engine.stats().memory.find((m) => m.members.includes(`${name}-${i}`))!;
      assert.ok(g.peakInUse < 2 * 2 ** 20, `${name}-${i}: peak in use ${g.peakInUse}`);
    }
    await nothingLeft(name);
  });

  test(`${mode}: a producer that traps mid-stream ends with E_FUNCTION_TRAP well before the deadline`, async () => {
    const t = Date.now();
    await rejectsWith(engine.invoke(`${mode}-trap`, Uint8Array.of(8), { timeoutMs: 20_000 }), 'E_FUNCTION_TRAP');
    assert.ok(Date.now() - t < 5000, `ended in ${Date.now() - t} ms`);
    await nothingLeft('trap');
  });

  test(`${mode}: a consumer that stalls ends with E_TIMEOUT; an abort mid-stream with E_ABORTED`, async () => {
    await rejectsWith(engine.invoke(`${mode}-stall`, workloads.producerSpec(64 * RING, SEED), { timeoutMs: 300 }), 'E_TIMEOUT');
    await nothingLeft('stall');
    const ac = new AbortController();
    const p = engine.invoke(`${mode}-stall`, workloads.producerSpec(64 * RING, SEED), { signal: ac.signal, timeoutMs: 20_000 });
    await until(() => engine.stats().rings.inUse > 0, 5000, 'the stream started');
    ac.abort();
    await rejectsWith(p, 'E_ABORTED');
    await nothingLeft('abort');
  });

  test(`${mode}: a consumer that reads only the head succeeds`, async () => {
    const size = 64 * RING;
    const r = await engine.invokeWithReport(`${mode}-head`, workloads.producerSpec(size, SEED + 1));
    const head = workloads.produce(size, SEED + 1).subarray(0, 64 * 1024);
    assert.equal(workloads.readChecksums(r.output), [{ hash: workloads.checksum(head), length: head.length }]);
    await nothingLeft('head');
  });

  test(`${mode}: one thread, no worker for the consumer: the producer keeps the rest, the result is the same`, async () => {
    const one = await Engine.create({ threads: 1, local: { ringBytes: RING }, redis: { url: REDIS_URL } });
    try {
      await one.deploy(chain('solo', mode, ['stream-producer', 'stream-transform', 'stream-checksum'], false));
      const size = 6 * RING + 3;
      const r = await one.invokeWithReport('solo', workloads.producerSpec(size, SEED + 3));
      assert.equal(workloads.readChecksums(r.output), expected(size, SEED + 3));
      await nothingLeft('solo', one);
    } finally {
      await closeEngine(one);
    }
  });
}

test.run();
