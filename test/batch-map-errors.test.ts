// Per-input failure policy of engine.map: under 'continue' a failing input is
// reported with its code and every other input still completes; under 'stop'
// the failure is the last result (ordered: after every input before it), no
// more inputs are read and nothing keeps running. An AbortSignal ends the run
// with E_ABORTED.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine, type MapResult } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { PIPELINE, expectedFor } from './helpers/batch.js';
import { closeEngine } from './helpers/settle.js';
import { rejectsWith } from './helpers/assert-error.js';

const LIMIT = 64 * 1024;
const N = 60;
const BAD = 23;
let engine: Engine;

// Input BAD asks the producer for more than the payload limit: E_PAYLOAD_TOO_LARGE from inside the pipeline.
const lengthOf = (i: number) => (i === BAD ? LIMIT + 1 : 100 + i);

test.before(async () => {
  engine = await Engine.create({ threads: 2, maxPayloadBytes: LIMIT });
  await engine.deploy(PIPELINE);
});

test.after(async () => {
  await closeEngine(engine);
});

function counted(): { pulled: () => number; source: Iterable<Uint8Array> } {
  let pulled = 0;
  return {
    pulled: () => pulled,
    source: (function* () {
      for (let i = 0; i < N; i++) {
        pulled++;
        yield workloads.producerSpec(lengthOf(i), i);
      }
    })(),
  };
}

for (const ordered of [true, false]) {
  test(`continue (${ordered ? 'ordered' : 'unordered'}): the failing input is reported, all others complete`, async () => {
    const results: MapResult[] = [];
    for await (const r of engine.map(PIPELINE.name, counted().source, { ordered, concurrency: 5 })) results.push(r);
    assert.is(results.length, N);
    for (const r of results) {
      if (r.index === BAD) {
        assert.instance(r.error, CwasiError);
        assert.is(r.error!.code, 'E_PAYLOAD_TOO_LARGE');
        assert.is(r.output, undefined);
        assert.is(r.attempts, 1, 'not a retryable code');
      } else {
        assert.equal(workloads.readChecksums(r.output!), expectedFor(lengthOf(r.index), r.index), `input ${r.index}`);
      }
    }
  });
}

test('stop (ordered): every input before the failure, then the failure, then nothing', async () => {
  const c = counted();
  const results: MapResult[] = [];
  for await (const r of engine.map(PIPELINE.name, c.source, { onError: 'stop', concurrency: 5 })) results.push(r);
  assert.equal(results.map((r) => r.index), Array.from({ length: BAD + 1 }, (_, i) => i));
  assert.is(results[BAD]!.error?.code, 'E_PAYLOAD_TOO_LARGE');
  results.slice(0, BAD).forEach((r) => assert.equal(workloads.readChecksums(r.output!), expectedFor(lengthOf(r.index), r.index)));
  assert.ok(c.pulled() <= BAD + 1 + 5, `pulled ${c.pulled()} inputs; the window is 5`);
  assert.is(engine.stats().invocations.inFlight, 0);
});

test('stop (unordered): the failure is the last result and each earlier one is correct', async () => {
  const c = counted();
  const results: MapResult[] = [];
  for await (const r of engine.map(PIPELINE.name, c.source, { onError: 'stop', ordered: false, concurrency: 5 })) results.push(r);
  const last = results[results.length - 1]!;
  assert.is(last.index, BAD);
  assert.is(last.error?.code, 'E_PAYLOAD_TOO_LARGE');
  assert.ok(results.slice(0, -1).every((r) => r.error === undefined));
  results.slice(0, -1).forEach((r) => assert.equal(workloads.readChecksums(r.output!), expectedFor(lengthOf(r.index), r.index)));
  // Unordered, later inputs may finish (and be replaced from the source) while
  // BAD still runs, so how many are read depends on timing; what cannot is
  // that, when the failure ends the run, at most the window (5, BAD included)
  // was read beyond the successes already delivered, and nothing after.
  assert.ok(c.pulled() <= results.length - 1 + 5, `pulled ${c.pulled()} inputs for ${results.length - 1} successes; the window is 5`);
  assert.is(engine.stats().invocations.inFlight, 0);
});

test('an AbortSignal ends the run with E_ABORTED and leaves nothing running', async () => {
  const ac = new AbortController();
  const run = (async () => {
    let n = 0;
    for await (const r of engine.map(PIPELINE.name, counted().source, { signal: ac.signal, concurrency: 4 })) {
      if (r.error === undefined && ++n === 5) ac.abort();
    }
  })();
  await rejectsWith(run, 'E_ABORTED');
  assert.is(engine.stats().invocations.inFlight, 0);
});

test('an engine closed under a run ends it with E_CLOSED after the results already made; the intake stops', async () => {
  const e = await Engine.create({ threads: 1 });
  await e.deploy(PIPELINE);
  let pulled = 0;
  function* many() {
    for (let i = 0; i < 10_000; i++) {
      pulled++;
      yield workloads.producerSpec(64, i);
    }
  }
  const seen: number[] = [];
  let closing: Promise<void> | undefined;
  await rejectsWith((async () => {
    for await (const r of e.map(PIPELINE.name, many(), { concurrency: 4 })) {
      assert.is(r.error, undefined, r.error?.message);
      seen.push(r.index);
      if (seen.length === 3) closing = e.close();
    }
  })(), 'E_CLOSED');
  await closing;
  assert.equal(seen.slice(0, 3), [0, 1, 2]);
  assert.ok(pulled < 3 + 4 + 4 + 2, `pulled ${pulled} inputs after the close`);
});

test('a source that fails: the inputs it gave are all reported, then the run rejects with E_INPUT', async () => {
  async function* failing() {
    for (let i = 0; i < 10; i++) yield workloads.producerSpec(100 + i, i);
    throw new Error('disk on fire');
  }
  const seen: number[] = [];
  const e = await rejectsWith((async () => {
    for await (const r of engine.map(PIPELINE.name, failing(), { concurrency: 4 })) {
      assert.equal(workloads.readChecksums(r.output!), expectedFor(100 + r.index, r.index));
      seen.push(r.index);
    }
  })(), 'E_INPUT', /disk on fire/);
  assert.ok(e);
  assert.equal(seen, Array.from({ length: 10 }, (_, i) => i));
  assert.is(engine.stats().invocations.inFlight, 0);
});

test('bad options and bad items get E_CONFIG; an unknown target E_UNKNOWN_FUNCTION at once', async () => {
  assert.throws(() => engine.map('nope', []), (e: unknown) => e instanceof CwasiError && e.code === 'E_UNKNOWN_FUNCTION');
  assert.throws(() => engine.map(PIPELINE.name, [], { concurrency: 0 }), (e: unknown) => e instanceof CwasiError && e.code === 'E_CONFIG' && /concurrency/.test(e.message));
  assert.throws(() => engine.map(PIPELINE.name, [], { onError: 'maybe' as never }), (e: unknown) => e instanceof CwasiError && e.code === 'E_CONFIG');
  const results: MapResult[] = [];
  for await (const r of engine.map(PIPELINE.name, [{ nope: 1 } as never, workloads.producerSpec(8, 1)])) results.push(r);
  assert.is(results[0]!.error?.code, 'E_CONFIG');
  assert.equal(workloads.readChecksums(results[1]!.output!), expectedFor(8, 1));
});

test.run();
