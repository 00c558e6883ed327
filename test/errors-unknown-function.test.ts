// Unknown names: invoking one is E_UNKNOWN_FUNCTION; a guest-initiated call to
// one gets status -1 (the caller decides; scatter fails with E_FUNCTION_FAILED);
// deploying a module that is neither bundled nor a file is E_WASM_MISSING.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith, throwsWith } from './helpers/assert-error.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';
import { closeEngine, expectFulfilled, expectRejected, settleAll } from './helpers/settle.js';

let engine: Engine;
const rnd = prng(SEED ^ 0x5ca7);

/** What scatter returns when every call to identity succeeds: the payload n times. */
function scattered(length: number, seed: number, n: number): Uint8Array {
  const one = workloads.produce(length, seed);
  const out = new Uint8Array(length * n);
  for (let i = 0; i < n; i++) out.set(one, i * length);
  return out;
}

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(['identity', 'scatter', 'checksum'].map((m) => ({ name: m, module: m })));
  // One caller at a time: two callers blocked in guest calls would hold both
  // workers, and the engine refuses such calls (status -5) to avoid a deadlock.
  await engine.deploy({ name: 'scatter-1', module: 'scatter', replicas: 1 });
  // An embedding group: calls between members run inline, calls to other names leave it.
  await engine.deploy([{ name: 't-scatter', module: 'scatter', trusted: true, domain: 'u' }, { name: 't-identity', module: 'identity', trusted: true, domain: 'u' }]);
});

test.after(async () => {
  await closeEngine(engine);
});

test('invoking an unknown name is E_UNKNOWN_FUNCTION naming it, and is not counted as accepted', async () => {
  const before = engine.stats().invocations;
  await rejectsWith(engine.invoke('nope', new Uint8Array(4)), 'E_UNKNOWN_FUNCTION', /no function named "nope" is deployed/);
  await rejectsWith(engine.invokeWithReport('Identity', new Uint8Array(4)), 'E_UNKNOWN_FUNCTION', /"Identity"/);
  await rejectsWith(engine.invoke('', new Uint8Array(0)), 'E_UNKNOWN_FUNCTION');
  throwsWith(() => engine.plan('nope'), 'E_UNKNOWN_FUNCTION', /"nope"/);
  const after = engine.stats().invocations;
  assert.is(after.started, before.started);
  assert.is(after.inFlight, 0);
});

test('an unknown invoke among good ones: the good ones complete with correct output', async () => {
  const inputs = Array.from({ length: 10 }, (_, i) => workloads.produce(1 + Math.floor(rnd() * 4000), i + 1));
  const runs: Array<Promise<Uint8Array>> = [];
  for (let i = 0; i < inputs.length; i++) {
    runs.push(engine.invoke('checksum', inputs[i]!));
    runs.push(engine.invoke(`ghost-${i}`, inputs[i]!));
  }
  const results = await settleAll(runs, 10_000, 'checksum and unknown invocations');
  for (let i = 0; i < inputs.length; i++) {
    const out = expectFulfilled(results[2 * i], `checksum #${i}`);
    assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(inputs[i]!), length: inputs[i]!.length }]);
    expectRejected(results[2 * i + 1], 'E_UNKNOWN_FUNCTION', new RegExp(`"ghost-${i}"`), `ghost #${i}`);
  }
});

test('a guest call to an unknown name gets status -1: scatter fails with E_FUNCTION_FAILED mentioning it', async () => {
  for (const n of [1, 4]) {
    const e = await rejectsWith(engine.invoke('scatter', workloads.scatterSpec(256, 9, n, 'ghost')), 'E_FUNCTION_FAILED', /call to ghost failed with status -1/);
    assert.is(e.details?.guestCode, 3, e.message);
    assert.match(e.message, /^scatter failed \(code 3\)/);
  }
  // A name longer than the ABI allows is unknown too, not a crash.
  await rejectsWith(engine.invoke('scatter', workloads.scatterSpec(16, 9, 1, 'x'.repeat(300))), 'E_FUNCTION_FAILED', /status -1/);
});

test('a guest call to an unknown name from an embedding group gets status -1 too', async () => {
  await rejectsWith(engine.invoke('t-scatter', workloads.scatterSpec(128, 3, 2, 'ghost')), 'E_FUNCTION_FAILED', /call to ghost failed with status -1/);
  // The group still works, inline and across groups.
  assert.ok(bytesEqual(await engine.invoke('t-scatter', workloads.scatterSpec(128, 3, 2, 't-identity')), scattered(128, 3, 2)));
  assert.ok(bytesEqual(await engine.invoke('t-scatter', workloads.scatterSpec(100, 4, 3, 'identity')), scattered(100, 4, 3)));
});

test('failing guest calls alongside good ones: every invocation settles, the good ones are correct', async () => {
  const cases: Array<{ target: string; length: number; seed: number; n: number }> = [];
  for (let i = 0; i < 12; i++) {
    cases.push({ target: i % 3 === 0 ? `missing-${i}` : 'identity', length: 1 + Math.floor(rnd() * 3000), seed: Math.floor(rnd() * 2 ** 32), n: 1 + (i % 4) });
  }
  const results = await settleAll(cases.map((c) => engine.invoke('scatter-1', workloads.scatterSpec(c.length, c.seed, c.n, c.target))), 10_000, 'scatter invocations');
  cases.forEach((c, i) => {
    if (c.target === 'identity') {
      assert.ok(bytesEqual(expectFulfilled(results[i], `scatter #${i}`), scattered(c.length, c.seed, c.n)), `scatter #${i} output`);
    } else {
      expectRejected(results[i], 'E_FUNCTION_FAILED', new RegExp(`scatter-1 failed \\(code 3\\): call to ${c.target} failed with status -1`), `scatter #${i}`);
    }
  });
  const s = engine.stats().invocations;
  assert.is(s.inFlight, 0);
});

test('deploying a module that is neither bundled nor a file is E_WASM_MISSING, listing the bundled ones', async () => {
  const e = await rejectsWith(engine.deploy({ name: 'm1', module: 'no-such-function' }), 'E_WASM_MISSING', /m1: cannot read module "no-such-function" \(ENOENT\)/);
  assert.match(e.message, /bundled functions: .*\bidentity\b/);
  // The engine's test fixtures resolve in a checkout but are not offered as bundled functions.
  assert.not.match(e.message, /\b(spin|trap|hog)\b/);
  await rejectsWith(engine.deploy({ name: 'm2', module: './nowhere/fn.wasm' }), 'E_WASM_MISSING', /cannot read module "\.\/nowhere\/fn\.wasm"/);
  await rejectsWith(engine.deploy({ name: 'm3', module: '/definitely/not/here.wasm' }), 'E_WASM_MISSING', /"\/definitely\/not\/here\.wasm"/);
  // A directory is not a module either.
  await rejectsWith(engine.deploy({ name: 'm4', module: '.' }), 'E_WASM_MISSING', /EISDIR/);
  for (const n of ['m1', 'm2', 'm3', 'm4']) await rejectsWith(engine.invoke(n, new Uint8Array(1)), 'E_UNKNOWN_FUNCTION');
});

test('a list deploy with one missing module deploys none of it; the names deploy cleanly afterwards', async () => {
  await rejectsWith(engine.deploy([{ name: 'pair-a', module: 'identity' }, { name: 'pair-b', module: 'checksum-v9' }]), 'E_WASM_MISSING', /pair-b/);
  assert.not.ok(engine.functions().some((f) => f.name === 'pair-a' || f.name === 'pair-b'));
  await rejectsWith(engine.invoke('pair-a', new Uint8Array(1)), 'E_UNKNOWN_FUNCTION');
  // Different modules under the same names: nothing of the refused deploy is in the way.
  await engine.deploy([{ name: 'pair-a', module: 'checksum' }, { name: 'pair-b', module: 'identity' }]);
  const data = workloads.produce(999, 1);
  assert.equal(workloads.readChecksums(await engine.invoke('pair-a', data)), [{ hash: workloads.checksum(data), length: 999 }]);
  assert.ok(bytesEqual(await engine.invoke('pair-b', data), data));
});

test('afterwards the engine serves guest calls and plain invocations', async () => {
  assert.ok(bytesEqual(await engine.invoke('scatter', workloads.scatterSpec(4096, 77, 3, 'identity')), scattered(4096, 77, 3)));
  const data = workloads.produce(70000, 8);
  assert.equal(workloads.readChecksums(await engine.invoke('checksum', data)), [{ hash: workloads.checksum(data), length: 70000 }]);
  assert.is(engine.stats().invocations.inFlight, 0);
});

test.run();
