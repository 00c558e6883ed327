// Aborts and deadlines: an AbortSignal aborted while `spin` loops ends the
// invocation with E_ABORTED (carrying the reason) within a bounded time, an
// already-aborted signal runs nothing, a deadline is E_TIMEOUT. Invocations
// running at the same time complete correctly, the killed worker is replaced,
// and the memory the killed worker held is given back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';
import { closeEngine, expectFulfilled, expectRejected, memoryInUse, settleAll, until, within } from './helpers/settle.js';
import { whenRunning } from './helpers/running.js';

let engine: Engine;
let single: Engine | undefined;
let defaults: Engine | undefined;
const rnd = prng(SEED ^ 0xab0);
/** Abort (or deadline) to rejection must take less than this. */
const BOUND_MS = 2000;
const LOOP = Uint8Array.of(1, 2, 3);

/** Start `spin` looping, abort it on the next tick (queued) or once its worker runs it; returns the error and how long the abort took to land. */
async function abortSpin(target: Engine, how: 'next-tick' | 'later', reason: unknown): Promise<{ code: string; message: string; ms: number }> {
  const ac = new AbortController();
  const p = target.invoke('spin', LOOP, { signal: ac.signal, timeoutMs: 30_000 });
  let abortedAt = 0;
  const abort = () => {
    abortedAt = Date.now();
    if (reason === undefined) ac.abort();
    else ac.abort(reason);
  };
  // The outcome is the same whether the task is still queued or already spinning.
  if (how === 'next-tick') setImmediate(abort);
  else void whenRunning(target, 'spin').then(abort);
  const e = await rejectsWith(within(p, 10_000, 'aborted spin'), 'E_ABORTED');
  return { code: e.code, message: e.message, ms: Date.now() - abortedAt };
}

/** Good invocations on other inputs, checked against the mirrors once settled. */
function goodBatch(target: Engine, count: number): { runs: Array<Promise<Uint8Array>>; check: (results: Array<PromiseSettledResult<Uint8Array>>) => void } {
  const inputs = Array.from({ length: count }, (_, i) => workloads.produce(Math.floor(rnd() * 40000), 300 + i));
  const runs = inputs.map((d, i) => target.invoke(i % 2 === 0 ? 'checksum' : 'identity', d));
  return {
    runs,
    check(results) {
      inputs.forEach((d, i) => {
        const out = expectFulfilled(results[i], `good #${i}`);
        if (i % 2 === 0) assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(d), length: d.length }], `checksum #${i}`);
        else assert.ok(bytesEqual(out, d), `identity #${i}`);
      });
    },
  };
}

async function spinEchoes(target: Engine): Promise<void> {
  const input = Uint8Array.of(0, 5, 6, 7);
  // An explicit deadline: a replacement worker may take a while to start on a loaded machine.
  assert.ok(bytesEqual(await within(target.invoke('spin', input, { timeoutMs: 10_000 }), 12_000, 'spin echo'), input), 'spin with a non-looping input echoes');
}

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(['spin', 'identity', 'checksum', 'scatter'].map((m) => ({ name: m, module: m })));
  await engine.deploy({ name: 'wf', functions: { first: { module: 'identity' }, then: { module: 'spin' } }, edges: [{ from: 'first', to: 'then' }] });
  await spinEchoes(engine);
});

test.after(async () => {
  await closeEngine(defaults);
  await closeEngine(single);
  await closeEngine(engine);
});

test('abort while spin loops is E_ABORTED within a bounded time, with the reason in the message', async () => {
  const withError = await abortSpin(engine, 'later', new Error('client went away'));
  assert.match(withError.message, /invocation aborted: client went away/);
  assert.ok(withError.ms < BOUND_MS, `abort took ${withError.ms} ms`);
  const withString = await abortSpin(engine, 'later', 'user pressed cancel');
  assert.match(withString.message, /user pressed cancel/);
  assert.ok(withString.ms < BOUND_MS, `abort took ${withString.ms} ms`);
  const bare = await abortSpin(engine, 'later', undefined);
  assert.match(bare.message, /aborted/i);
  assert.ok(bare.ms < BOUND_MS, `abort took ${bare.ms} ms`);
});

test('abort in the next tick after invoke is E_ABORTED too', async () => {
  const r = await abortSpin(engine, 'next-tick', new Error('changed my mind'));
  assert.match(r.message, /changed my mind/);
  assert.ok(r.ms < BOUND_MS, `abort took ${r.ms} ms`);
});

test('an already-aborted signal is E_ABORTED without running anything', async () => {
  const before = engine.stats();
  await rejectsWith(engine.invoke('spin', LOOP, { signal: AbortSignal.abort(new Error('too late')), timeoutMs: 5000 }), 'E_ABORTED', /too late/);
  await rejectsWith(engine.invoke('identity', Uint8Array.of(9), { signal: AbortSignal.abort('gone') }), 'E_ABORTED', /gone/);
  await rejectsWith(engine.invoke('wf', LOOP, { signal: AbortSignal.abort() }), 'E_ABORTED');
  const after = engine.stats();
  assert.is(after.pool.completed, before.pool.completed, 'no task ran');
  assert.is(after.invocations.inFlight, 0);
});

test('timeoutMs is E_TIMEOUT, not before the deadline and within a bounded time after it', async () => {
  const t0 = Date.now();
  await rejectsWith(within(engine.invoke('spin', LOOP, { timeoutMs: 200 }), 10_000, 'spin with a deadline'), 'E_TIMEOUT', /spin: deadline of 200 ms exceeded/);
  const ms = Date.now() - t0;
  assert.ok(ms >= 150, `timed out after ${ms} ms`);
  assert.ok(ms < 200 + BOUND_MS, `timed out after ${ms} ms`);
});

test('the engine-wide timeoutMs applies when the invocation sets none', async () => {
  defaults = await Engine.create({ threads: 1, timeoutMs: 250 });
  await defaults.deploy({ name: 'spin', module: 'spin' });
  await rejectsWith(within(defaults.invoke('spin', LOOP), 10_000, 'spin with the default deadline'), 'E_TIMEOUT', /deadline of 250 ms exceeded/);
  await spinEchoes(defaults);
  await defaults.close();
});

test('invocations running alongside an aborted and a timed-out spin complete correctly', async () => {
  // The worker killed by the deadline test above may still be starting: the
  // timed spin's deadline is for spinning, not for waiting for a worker.
  await until(() => engine.stats().lanes.lanes === 2, 10_000, 'both workers started');
  const ac = new AbortController();
  const aborted = engine.invoke('spin', LOOP, { signal: ac.signal });
  // Long enough to be claimed on a loaded machine (it must be running for whenRunning below).
  const timed = engine.invoke('spin', LOOP, { timeoutMs: 1000 });
  const batch = goodBatch(engine, 16);
  // Observed from now on: the timed spin may reject while whenRunning still waits.
  const settled = settleAll([aborted, timed, ...batch.runs], 15_000, 'spins and good invocations');
  settled.catch(() => {});
  // Both spins hold the two workers before the batch (queued after them) gets one.
  try {
    await whenRunning(engine, 'spin', 2);
  } finally {
    // Also when whenRunning fails: a spin left looping would hold a worker for the rest of the file.
    ac.abort(new Error('stop spinning'));
  }
  const results = await settled;
  expectRejected(results[0], 'E_ABORTED', /stop spinning/, 'aborted spin');
  expectRejected(results[1], 'E_TIMEOUT', /deadline of 1000 ms exceeded/, 'timed-out spin');
  batch.check(results.slice(2) as Array<PromiseSettledResult<Uint8Array>>);
  assert.is(engine.stats().invocations.inFlight, 0);
});

test('after every abort the killed worker is replaced: spin with a non-looping input works', async () => {
  for (let round = 0; round < 3; round++) {
    await abortSpin(engine, round % 2 === 0 ? 'later' : 'next-tick', `round ${round}`);
    await spinEchoes(engine);
  }
  assert.is(engine.stats().pool.threads, 2);
});

test('with every worker spinning, aborting both lets the queued invocations run', async () => {
  const a = new AbortController();
  const b = new AbortController();
  const spins = [engine.invoke('spin', LOOP, { signal: a.signal }), engine.invoke('spin', LOOP, { signal: b.signal })];
  const batch = goodBatch(engine, 6);
  await whenRunning(engine, 'spin', 2);
  a.abort('first');
  b.abort('second');
  const results = await settleAll([...spins, ...batch.runs], 15_000, 'two spins and queued invocations');
  expectRejected(results[0], 'E_ABORTED', /first/, 'spin a');
  expectRejected(results[1], 'E_ABORTED', /second/, 'spin b');
  batch.check(results.slice(2) as Array<PromiseSettledResult<Uint8Array>>);
  await spinEchoes(engine);
});

test('aborting a workflow whose second step loops is E_ABORTED; the workflow runs again', async () => {
  const ac = new AbortController();
  const p = engine.invoke('wf', LOOP, { signal: ac.signal });
  // The workflow's two steps run in one task (a local edge in one worker), first → then.
  await whenRunning(engine, 'first');
  ac.abort(new Error('workflow cancelled'));
  await rejectsWith(within(p, 10_000, 'aborted workflow'), 'E_ABORTED', /workflow cancelled/);
  await rejectsWith(within(engine.invoke('wf', LOOP, { timeoutMs: 200 }), 10_000, 'workflow with a deadline'), 'E_TIMEOUT', /deadline of 200 ms exceeded/);
  const good = Uint8Array.of(0, 1, 2, 3, 4);
  assert.ok(bytesEqual(await within(engine.invoke('wf', good), 5000, 'workflow'), good));
  assert.is(engine.stats().rings.inUse, 0, 'no ring stays leased');
});

test('aborting a caller blocked in a guest call to a looping function is E_ABORTED; guest calls work afterwards', async () => {
  // A seed whose produced payload starts with 1: the callee (spin) loops on it.
  let seed = 0;
  while (workloads.produce(16, seed)[0] !== 1 && seed < 100_000) seed++;
  assert.is(workloads.produce(16, seed)[0], 1);
  const ac = new AbortController();
  const p = engine.invoke('scatter', workloads.scatterSpec(16, seed, 1, 'spin'), { signal: ac.signal });
  // The callee runs (and loops) in a worker of its own.
  await whenRunning(engine, 'spin');
  ac.abort(new Error('nested cancel'));
  await rejectsWith(within(p, 10_000, 'aborted scatter'), 'E_ABORTED', /nested cancel/);
  const out = await within(engine.invoke('scatter', workloads.scatterSpec(64, seed + 1, 3, 'spin')), 5000, 'scatter → spin');
  const one = workloads.produce(64, seed + 1);
  assert.is.not(one[0], 1);
  for (let i = 0; i < 3; i++) assert.ok(bytesEqual(out.subarray(i * 64, (i + 1) * 64), one), `call ${i}`);
  assert.is(engine.stats().invocations.inFlight, 0);
});

test('a killed worker gives back the memory it held, in every function memory it used', async () => {
  single = await Engine.create({ threads: 1 });
  const one = single;
  await one.deploy(['spin', 'identity'].map((m) => ({ name: m, module: m })));
  /** Live bytes and arenas, and chunks parked in thread caches (a dead thread's cache can never be used again). */
  const held = () => Object.fromEntries(['spin', 'identity'].map((fn) => {
    const g = one.stats().memory.find((m) => m.members.includes(fn))!;
    return [fn, { ...memoryInUse(one, fn), cachedBytes: g.cachedBytes }];
  }));
  // Steady state: the one worker holds an instance of each function.
  await spinEchoes(one);
  assert.ok(bytesEqual(await one.invoke('identity', Uint8Array.of(1, 2)), Uint8Array.of(1, 2)));
  const before = held();
  for (let round = 0; round < 3; round++) {
    await abortSpin(one, 'later', `leak round ${round}`);
    // The replacement worker instantiates both again.
    await spinEchoes(one);
    assert.ok(bytesEqual(await one.invoke('identity', Uint8Array.of(3)), Uint8Array.of(3)));
  }
  assert.equal(held(), before, 'memory held after 3 killed workers');
});

test.run();
