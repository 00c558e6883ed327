// A live stream that fails mid-way ends every stage with one typed error and
// leaves nothing behind (no ring leased, no arena live): a producer that
// traps after writing 4 MiB (E_FUNCTION_TRAP, the producer's own, even when
// its consumer's failure on the aborted stream reaches the dispatcher first;
// the consumer stops at once rather than at the deadline), a consumer that stops reading and never
// returns (E_TIMEOUT at the deadline), an abort mid-stream (E_ABORTED). A
// consumer that returns after reading only the head of the stream succeeds,
// and its producer is told to stop writing. Each case runs on a local edge
// (two memories: chunks copied across) and on an embedded one (one memory:
// chunks read in place).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type WorkflowDocument } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { SEED } from './helpers/env.js';
import { closeEngine, until } from './helpers/settle.js';

const RING = 256 * 1024;
let engine: Engine;

const MODES = [{ mode: 'local', suffix: '', trust: {} }, { mode: 'embedded', suffix: '-t', trust: { trusted: true } }] as const;

function pair(name: string, producer: string, consumer: string, trust: { trusted?: boolean }): WorkflowDocument {
  const t = trust.trusted === true ? { trusted: true, domain: name } : {};
  return { name, functions: { [`${name}-p`]: { module: producer, ...t }, [`${name}-c`]: { module: consumer, ...t } }, edges: [{ from: `${name}-p`, to: `${name}-c` }] };
}

test.before(async () => {
  engine = await Engine.create({ threads: 3, local: { ringBytes: RING } });
  for (const m of MODES) {
    await engine.deploy(pair(`trap${m.suffix}`, 'stream-probe', 'stream-checksum', m.trust));
    await engine.deploy(pair(`stall${m.suffix}`, 'stream-producer', 'stream-stall', m.trust));
    await engine.deploy(pair(`head${m.suffix}`, 'stream-producer', 'stream-head', m.trust));
  }
});
test.after(async () => {
  await closeEngine(engine);
});

async function nothingLeft(what: string): Promise<void> {
  // The workers hand rings and arenas back as their tasks settle.
  // At most each instance's own arena (stack and pin table) stays: one per function of a memory.
  const clean = (): boolean => engine.stats().rings.inUse === 0 && engine.stats().memory.every((m) => m.liveArenas <= m.members.length);
  const t0 = Date.now();
  while (!clean() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
  const s = engine.stats();
  assert.ok(clean(), `${what}: rings and arenas given back (rings in use ${s.rings.inUse}; arenas ${s.memory.map((m) => `${m.members}: ${m.liveArenas}`).join(', ')})`);
}

for (const { mode, suffix } of MODES) {
  test(`${mode}: a producer that traps mid-stream: E_FUNCTION_TRAP, well before the deadline`, async () => {
    const t = Date.now();
    await rejectsWith(engine.invoke(`trap${suffix}`, Uint8Array.of(8), { timeoutMs: 20_000 }), 'E_FUNCTION_TRAP');
    assert.ok(Date.now() - t < 5000, `ended in ${Date.now() - t} ms`);
    await nothingLeft(`${mode} trap`);
  });

  test(`${mode}: a consumer that stops reading and never returns: E_TIMEOUT`, async () => {
    await rejectsWith(engine.invoke(`stall${suffix}`, workloads.producerSpec(64 * RING, SEED), { timeoutMs: 300 }), 'E_TIMEOUT');
    await nothingLeft(`${mode} stall`);
  });

  test(`${mode}: an abort mid-stream: E_ABORTED`, async () => {
    const ac = new AbortController();
    const p = engine.invoke(`stall${suffix}`, workloads.producerSpec(64 * RING, SEED), { signal: ac.signal, timeoutMs: 20_000 });
    // The stall consumer spins once it read its chunk: abort once both stages run.
    await until(() => engine.stats().pool.utilization > 0 || engine.stats().rings.inUse > 0, 5000, 'the stream started');
    ac.abort();
    await rejectsWith(p, 'E_ABORTED');
    await nothingLeft(`${mode} abort`);
  });

  test(`${mode}: a consumer that reads only the head succeeds, and its producer stops writing`, async () => {
    const size = 64 * RING;
    const r = await engine.invokeWithReport(`head${suffix}`, workloads.producerSpec(size, SEED + 1));
    const head = workloads.produce(size, SEED + 1).subarray(0, 64 * 1024);
    assert.equal(workloads.readChecksums(r.output), [{ hash: workloads.checksum(head), length: head.length }]);
    await nothingLeft(`${mode} head`);
  });
}

test.run();
