// Fan-out consumers start on every free worker at once: no channel's
// dispatch runs them one after another. Four consumers that never return
// (spin, first input byte 1) can only all be running at the same time if
// each was started without waiting for another to finish; the test waits for
// that (the workers' journals), then aborts. Served serially, the second
// consumer would never start and the wait would fail at its bound.
//
// One deploy per channel: `local` and `embedded` start consumers alongside
// the producer while workers are free, `remote-kv` dispatches them all once
// the producer has returned.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type FunctionDecl } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { whenRunning } from './helpers/running.js';

const CONSUMERS = 4;
let engine: Engine;

/** The first producer seed whose first output byte is (or is not) 1: spin consumers loop on a 1, echo otherwise. */
function seedWhere(loops: boolean): number {
  for (let seed = 0; seed < 100_000; seed++) if ((workloads.produce(16, seed)[0] === 1) === loops) return seed;
  throw new Error('no such seed');
}

function fanOut(name: string, how: 'local' | 'embedded' | 'remote-kv') {
  const trusted = how === 'embedded' ? { trusted: true, domain: name } : {};
  const functions: Record<string, FunctionDecl> = { [`${name}-p`]: { module: 'producer', ...trusted } };
  const edges = [];
  for (let i = 1; i <= CONSUMERS; i++) {
    functions[`${name}-c${i}`] = { module: 'spin', ...trusted };
    edges.push({ from: `${name}-p`, to: `${name}-c${i}`, ...(how === 'remote-kv' ? { mode: how } : {}) });
  }
  return { name, functions, edges, output: `${name}-c1` };
}

test.before(async () => {
  // A worker for the producer and one for each consumer.
  engine = await Engine.create({ threads: CONSUMERS + 1, timeoutMs: 120_000 });
  for (const how of ['local', 'embedded', 'remote-kv'] as const) await engine.deploy(fanOut(`fo-${how}`, how));
});
test.after(async () => {
  await engine.close();
});

for (const how of ['local', 'embedded', 'remote-kv'] as const) {
  const name = `fo-${how}`;
  test(`${how}: all ${CONSUMERS} consumers run at the same time`, async () => {
    const plan = engine.plan(name);
    assert.ok(plan.edges.every((e) => e.mode === how && !e.chained), `every edge is ${how} and dispatched`);
    const ac = new AbortController();
    const p = engine.invoke(name, workloads.producerSpec(16, seedWhere(true)), { signal: ac.signal });
    // Each consumer spins until aborted, so once seen running it stays running.
    await Promise.all(Array.from({ length: CONSUMERS }, (_, i) => whenRunning(engine, `${name}-c${i + 1}`, 1, 60_000)));
    ac.abort(new Error('all started'));
    await rejectsWith(p, 'E_ABORTED', /all started/);
  });
}

test('the pool serves again once the spinning consumers are gone', async () => {
  const r = await engine.invokeWithReport('fo-local', workloads.producerSpec(16, seedWhere(false)));
  const expected = workloads.produce(16, seedWhere(false));
  for (let i = 1; i <= CONSUMERS; i++) assert.equal(r.outputs[`fo-local-c${i}`], expected, `consumer ${i} echoes the producer's bytes`);
});

test.run();
