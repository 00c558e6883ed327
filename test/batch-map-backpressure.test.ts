// engine.map pulls an input only when its window has room: a consumer that
// stops reading stops the intake at `concurrency` inputs beyond what it took,
// counted at the source and in the engine's invocation counter (not timed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type MapResult } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { PIPELINE, expectedFor } from './helpers/batch.js';
import { closeEngine } from './helpers/settle.js';

const TOTAL = 400;
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(PIPELINE);
});

test.after(async () => {
  await closeEngine(engine);
});

for (const ordered of [true, false]) {
  test(`${ordered ? 'ordered' : 'unordered'}: a paused consumer holds the intake at taken + concurrency`, async () => {
    const concurrency = 6;
    const taken = 25;
    let pulled = 0;
    function* source() {
      for (let i = 0; i < TOTAL; i++) {
        pulled++;
        yield workloads.producerSpec(256 + i, i);
      }
    }
    let settled = 0;
    let allSettled!: () => void;
    const quiet = new Promise<void>((resolve) => (allSettled = resolve));
    const startedBefore = engine.stats().invocations.started;
    const it = engine.map(PIPELINE.name, source(), {
      concurrency, ordered,
      onSettled: () => {
        if (++settled === taken + concurrency) allSettled();
      },
    });
    const got: MapResult[] = [];
    for (let i = 0; i < taken; i++) {
      const r = await it.next();
      assert.not.ok(r.done);
      got.push(r.value as MapResult);
    }
    // The consumer stops reading. Everything the window allowed settles, then nothing more is pulled or started.
    await quiet;
    assert.is(pulled, taken + concurrency, `pulled ${pulled} inputs with ${taken} taken and a window of ${concurrency}`);
    assert.is(engine.stats().invocations.started - startedBefore, taken + concurrency, 'invocations started');
    assert.is(engine.stats().invocations.inFlight, 0);
    // Reading on drains the rest, one window at a time, all correct.
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      got.push(r.value);
      assert.ok(pulled <= got.length + concurrency, `pulled ${pulled} with ${got.length} taken`);
    }
    assert.is(got.length, TOTAL);
    const byIndex = new Map(got.map((r) => [r.index, r]));
    for (let i = 0; i < TOTAL; i++) assert.equal(workloads.readChecksums(byIndex.get(i)!.output!), expectedFor(256 + i, i), `input ${i}`);
  });
}

test('breaking out of the loop stops the intake and leaves nothing running', async () => {
  let pulled = 0;
  function* source() {
    for (let i = 0; i < TOTAL; i++) {
      pulled++;
      yield workloads.producerSpec(64, i);
    }
  }
  let n = 0;
  for await (const r of engine.map(PIPELINE.name, source(), { concurrency: 4 })) {
    assert.is(r.error, undefined);
    if (++n === 10) break;
  }
  assert.ok(pulled <= 10 + 4, `pulled ${pulled}`);
  assert.is(engine.stats().invocations.inFlight, 0, 'nothing of the run in flight after the loop');
});

test.run();
