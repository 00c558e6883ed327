// Guest traps and failures: unreachable and abort are E_FUNCTION_TRAP (abort
// carries the guest's message), a reported failure is E_FUNCTION_FAILED with
// the guest's code. Good invocations running at the same time are unaffected,
// the trapping function serves its next good input, and nothing leaks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type ErrorCode } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';
import { closeEngine, expectFulfilled, expectRejected, memoryInUse, settleAll, within } from './helpers/settle.js';

let engine: Engine;
/** A one-thread engine for the leak check: every invocation runs on the same worker. */
let single: Engine | undefined;
const rnd = prng(SEED ^ 0x7a9);

const BAD: Array<{ op: number; code: ErrorCode; message: RegExp }> = [
  { op: 1, code: 'E_FUNCTION_TRAP', message: /trap trapped: unreachable/ },
  { op: 2, code: 'E_FUNCTION_TRAP', message: /trap trapped: .*trap fixture asked to throw/ },
  { op: 3, code: 'E_FUNCTION_FAILED', message: /trap failed \(code 7\): trap fixture refused its input/ },
];

/** A good input for `trap`: first byte 0 (or >3), echoed back. */
function goodTrapInput(len: number): Uint8Array {
  const d = workloads.produce(len, Math.floor(rnd() * 2 ** 32));
  if (len > 0) d[0] = 4 + (d[0]! % 200);
  return d;
}

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy(['trap', 'checksum', 'identity'].map((m) => ({ name: m, module: m })));
});

test.after(async () => {
  await closeEngine(single);
  await closeEngine(engine);
});

test('unreachable is E_FUNCTION_TRAP', async () => {
  const e = await rejectsWith(engine.invoke('trap', Uint8Array.of(1, 0, 0)), 'E_FUNCTION_TRAP', /trap trapped: unreachable/);
  assert.is(e.details?.function, 'trap');
});

test('abort (throw) is E_FUNCTION_TRAP carrying the guest message', async () => {
  await rejectsWith(engine.invoke('trap', Uint8Array.of(2)), 'E_FUNCTION_TRAP', /trap fixture asked to throw/);
});

test('a guest failure is E_FUNCTION_FAILED with the guest code and message', async () => {
  const e = await rejectsWith(engine.invoke('trap', Uint8Array.of(3, 9)), 'E_FUNCTION_FAILED', /trap failed \(code 7\): trap fixture refused its input/);
  assert.is(e.details?.guestCode, 7);
});

test('the trapping function serves its next good input after each kind of failure', async () => {
  for (let round = 0; round < 3; round++) {
    for (const b of BAD) {
      await rejectsWith(engine.invoke('trap', Uint8Array.of(b.op)), b.code, b.message);
      const good = goodTrapInput(1 + Math.floor(rnd() * 5000));
      assert.ok(bytesEqual(await engine.invoke('trap', good), good), `good input after op ${b.op}`);
    }
  }
  assert.ok(bytesEqual(await engine.invoke('trap', new Uint8Array(0)), new Uint8Array(0)), 'empty input echoes');
});

test('20 good invocations running alongside traps all succeed with correct output', async () => {
  const goods = Array.from({ length: 20 }, (_, i) => workloads.produce(1 + Math.floor(rnd() * 50000), 1000 + i));
  const runs: Array<Promise<Uint8Array>> = [];
  const expect: Array<{ good: Uint8Array } | { bad: (typeof BAD)[number] }> = [];
  goods.forEach((d, i) => {
    runs.push(engine.invoke(i % 2 === 0 ? 'checksum' : 'identity', d));
    expect.push({ good: d });
    if (i % 2 === 0) {
      const b = BAD[(i / 2) % BAD.length]!;
      runs.push(engine.invoke('trap', Uint8Array.of(b.op)));
      expect.push({ bad: b });
    }
  });
  const results = await settleAll(runs, 15_000, 'good and trapping invocations');
  let goodIndex = 0;
  results.forEach((r, k) => {
    const x = expect[k]!;
    if ('bad' in x) {
      expectRejected(r, x.bad.code, x.bad.message, `trap op ${x.bad.op} (#${k})`);
      return;
    }
    const i = goodIndex++;
    const out = expectFulfilled(r, `good #${i}`);
    if (i % 2 === 0) assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(x.good), length: x.good.length }], `checksum #${i}`);
    else assert.ok(bytesEqual(out, x.good), `identity #${i}`);
  });
  assert.is(engine.stats().invocations.inFlight, 0);
});

test('a trap in an embedding group discards its memory (one fate); the members keep working', async () => {
  await engine.deploy([{ name: 'g-trap', module: 'trap', trusted: true, domain: 'fate' }, { name: 'g-identity', module: 'identity', trusted: true, domain: 'fate' }]);
  const data = workloads.produce(2048, 3);
  assert.ok(bytesEqual(await engine.invoke('g-identity', data), data));
  const group = () => engine.stats().memory.find((m) => m.members.includes('g-trap'))!;
  const before = group();
  const [trapped, other] = await settleAll([engine.invoke('g-trap', Uint8Array.of(1)), engine.invoke('checksum', data)], 10_000, 'embedding group');
  expectRejected(trapped, 'E_FUNCTION_TRAP', /unreachable/, 'g-trap');
  assert.equal(workloads.readChecksums(expectFulfilled(other, 'checksum')), [{ hash: workloads.checksum(data), length: 2048 }]);
  const after = group();
  assert.ok(after.discards > before.discards, 'the group memory was discarded');
  assert.ok(after.generation > before.generation, 'a new generation started');
  for (let i = 0; i < 3; i++) assert.ok(bytesEqual(await engine.invoke('g-identity', data), data), 'g-identity after the discard');
  const good = goodTrapInput(100);
  assert.ok(bytesEqual(await engine.invoke('g-trap', good), good), 'g-trap after the discard');
});

test('a member invocation accepted before its group was discarded, started after: it runs or shares the fate (E_FUNCTION_TRAP)', async () => {
  // Worker order is forced with two spins: W1 spins, W2 traps and then spins,
  // so the member invocation (queued behind) runs on W1's replacement, a
  // worker that never saw the discarded memory.
  const two = await Engine.create({ threads: 2 });
  const a1 = new AbortController();
  const a2 = new AbortController();
  try {
    await two.deploy([
      { name: 'spin', module: 'spin' },
      { name: 'f-trap', module: 'trap', trusted: true, domain: 'fate2' },
      { name: 'f-identity', module: 'identity', trusted: true, domain: 'fate2' },
    ]);
    const s1 = two.invoke('spin', Uint8Array.of(1), { signal: a1.signal, timeoutMs: 20_000 });
    const trapped = two.invoke('f-trap', Uint8Array.of(1));
    const s2 = two.invoke('spin', Uint8Array.of(1), { signal: a2.signal, timeoutMs: 20_000 });
    const data = workloads.produce(512, 4);
    const member = two.invoke('f-identity', data);
    // Every outcome is collected from the start (none may go unhandled).
    const spins = settleAll([s1, s2], 25_000, 'spins');
    const memberDone = settleAll([member], 25_000, 'member invocation');
    spins.catch(() => undefined);
    memberDone.catch(() => undefined);
    await rejectsWith(within(trapped, 10_000, 'f-trap'), 'E_FUNCTION_TRAP', /unreachable/);
    a1.abort('free a worker');
    const [m] = await memberDone;
    if (m!.status === 'fulfilled') assert.ok(bytesEqual(m!.value, data), 'f-identity output');
    else expectRejected(m, 'E_FUNCTION_TRAP', /f-identity|discarded/, 'f-identity after the discard');
    a2.abort('done');
    const [r1, r2] = await spins;
    expectRejected(r1, 'E_ABORTED', /free a worker/, 'spin 1');
    expectRejected(r2, 'E_ABORTED', /done/, 'spin 2');
    assert.ok(bytesEqual(await within(two.invoke('f-identity', data), 5000, 'f-identity'), data));
  } finally {
    a1.abort('test over');
    a2.abort('test over');
    await closeEngine(two);
  }
});

test('memory of the trapping function is not leaked', async () => {
  single = await Engine.create({ threads: 1 });
  await single.deploy({ name: 'trap', module: 'trap' });
  const warm = goodTrapInput(300);
  assert.ok(bytesEqual(await single.invoke('trap', warm), warm));
  const before = memoryInUse(single, 'trap');
  for (let round = 0; round < 4; round++) {
    const runs: Array<Promise<Uint8Array>> = [];
    for (const b of BAD) runs.push(single.invoke('trap', Uint8Array.of(b.op, ...workloads.produce(3000, round))));
    const big = goodTrapInput(200_000);
    runs.push(single.invoke('trap', big));
    const results = await settleAll(runs, 10_000, `round ${round}`);
    BAD.forEach((b, i) => expectRejected(results[i], b.code, b.message, `op ${b.op}`));
    assert.ok(bytesEqual(expectFulfilled(results[BAD.length], 'good'), big));
    // The instance is re-created after a trap: count it in the steady state.
    const good = goodTrapInput(10);
    assert.ok(bytesEqual(await within(single.invoke('trap', good), 5000, 'trap after the round'), good));
    assert.equal(memoryInUse(single, 'trap'), before, `memory in use after round ${round}`);
  }
  assert.is(single.stats().invocations.inFlight, 0);
  await single.close();
});

test.run();
