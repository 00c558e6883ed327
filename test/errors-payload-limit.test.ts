// maxPayloadBytes: inputs over the limit are refused before anything runs,
// outputs and guest-call payloads over it fail with E_PAYLOAD_TOO_LARGE (or
// status -5 for the caller), payloads of exactly the limit work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';
import { closeEngine, expectFulfilled, expectRejected, settleAll } from './helpers/settle.js';

const LIMIT = 1024;
let engine: Engine;
const rnd = prng(SEED ^ 0x1024);

test.before(async () => {
  engine = await Engine.create({ threads: 2, maxPayloadBytes: LIMIT });
  await engine.deploy(['identity', 'checksum', 'producer', 'spin', 'scatter'].map((m) => ({ name: m, module: m })));
  await engine.deploy({ name: 'chain', functions: { p: { module: 'producer' }, c: { module: 'checksum' } }, edges: [{ from: 'p', to: 'c' }] });
});

test.after(async () => {
  await closeEngine(engine);
});

test('an input over the limit is refused with E_PAYLOAD_TOO_LARGE before running', async () => {
  const before = engine.stats();
  // spin loops forever on a first byte of 1: had it run, this would end in E_TIMEOUT instead.
  const looping = new Uint8Array(LIMIT + 1);
  looping[0] = 1;
  const started = Date.now();
  await rejectsWith(engine.invoke('spin', looping, { timeoutMs: 5000 }), 'E_PAYLOAD_TOO_LARGE', /input of 1025 bytes exceeds the limit of 1024/);
  assert.ok(Date.now() - started < 1000, 'refused at once');
  await rejectsWith(engine.invoke('identity', new Uint8Array(4 * 1024 * 1024)), 'E_PAYLOAD_TOO_LARGE', /input of 4194304 bytes exceeds the limit of 1024/);
  await rejectsWith(engine.invoke('chain', new Uint8Array(LIMIT + 1)), 'E_PAYLOAD_TOO_LARGE', /exceeds the limit of 1024/);
  const after = engine.stats();
  assert.is(after.pool.completed, before.pool.completed, 'no task ran');
  assert.is(after.invocations.inFlight, 0);
});

test('inputs of exactly the limit (and just under) work', async () => {
  for (const size of [LIMIT, LIMIT - 1]) {
    const data = workloads.produce(size, size);
    assert.ok(bytesEqual(await engine.invoke('identity', data), data), `identity(${size})`);
    assert.equal(workloads.readChecksums(await engine.invoke('checksum', data)), [{ hash: workloads.checksum(data), length: size }], `checksum(${size})`);
  }
  const spinEcho = new Uint8Array(LIMIT);
  spinEcho[0] = 0;
  assert.ok(bytesEqual(await engine.invoke('spin', spinEcho), spinEcho));
});

test('an output over the limit is E_PAYLOAD_TOO_LARGE', async () => {
  await rejectsWith(engine.invoke('producer', workloads.producerSpec(4096, 1)), 'E_PAYLOAD_TOO_LARGE', /producer: output of 4096 bytes exceeds the limit of 1024/);
  await rejectsWith(engine.invoke('producer', workloads.producerSpec(LIMIT + 1, 2)), 'E_PAYLOAD_TOO_LARGE', /output of 1025 bytes/);
  // Exactly the limit is fine.
  assert.ok(bytesEqual(await engine.invoke('producer', workloads.producerSpec(LIMIT, 3)), workloads.produce(LIMIT, 3)));
});

test('a workflow step whose output is over the limit fails the workflow with E_PAYLOAD_TOO_LARGE', async () => {
  await rejectsWith(engine.invoke('chain', workloads.producerSpec(4096, 4)), 'E_PAYLOAD_TOO_LARGE', /output of 4096 bytes exceeds the limit of 1024/);
  const out = await engine.invoke('chain', workloads.producerSpec(LIMIT, 4));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(LIMIT, 4)), length: LIMIT }]);
});

test('a guest-call payload over the limit gets status -5: scatter fails with E_FUNCTION_FAILED', async () => {
  const e = await rejectsWith(engine.invoke('scatter', workloads.scatterSpec(2048, 5, 1, 'identity')), 'E_FUNCTION_FAILED', /call to identity failed with status -5/);
  assert.is(e.details?.guestCode, 3);
  // At the limit the calls go through (4 × 256 bytes keeps the output at the limit too).
  const out = await engine.invoke('scatter', workloads.scatterSpec(256, 5, 4, 'identity'));
  const one = workloads.produce(256, 5);
  for (let i = 0; i < 4; i++) assert.ok(bytesEqual(out.subarray(i * 256, (i + 1) * 256), one), `call ${i}`);
  const sums = await engine.invoke('scatter', workloads.scatterSpec(LIMIT, 6, 2, 'checksum'));
  const rec = { hash: workloads.checksum(workloads.produce(LIMIT, 6)), length: LIMIT };
  assert.equal(workloads.readChecksums(sums), [rec, rec]);
});

test('oversized payloads alongside good invocations: every invocation settles, the good ones are correct', async () => {
  const runs: Array<Promise<Uint8Array>> = [];
  const kinds: Array<{ good: Uint8Array } | { bad: RegExp; code: 'E_PAYLOAD_TOO_LARGE' | 'E_FUNCTION_FAILED' }> = [];
  for (let i = 0; i < 16; i++) {
    const d = workloads.produce(Math.floor(rnd() * (LIMIT + 1)), 40 + i);
    runs.push(engine.invoke('checksum', d));
    kinds.push({ good: d });
    switch (i % 4) {
      case 0:
        runs.push(engine.invoke('identity', new Uint8Array(LIMIT + 1 + i)));
        kinds.push({ bad: /input of \d+ bytes exceeds/, code: 'E_PAYLOAD_TOO_LARGE' });
        break;
      case 1:
        runs.push(engine.invoke('producer', workloads.producerSpec(LIMIT + 100 * i, i)));
        kinds.push({ bad: /output of \d+ bytes exceeds/, code: 'E_PAYLOAD_TOO_LARGE' });
        break;
      case 2:
        runs.push(engine.invoke('scatter', workloads.scatterSpec(LIMIT + 1, i, 2, 'identity')));
        kinds.push({ bad: /status -5/, code: 'E_FUNCTION_FAILED' });
        break;
      default:
        runs.push(engine.invoke('chain', workloads.producerSpec(LIMIT * 2, i)));
        kinds.push({ bad: /exceeds the limit/, code: 'E_PAYLOAD_TOO_LARGE' });
    }
  }
  const results = await settleAll(runs, 10_000, 'mixed invocations');
  results.forEach((r, k) => {
    const x = kinds[k]!;
    if ('good' in x) {
      assert.equal(workloads.readChecksums(expectFulfilled(r, `checksum #${k}`)), [{ hash: workloads.checksum(x.good), length: x.good.length }]);
    } else {
      expectRejected(r, x.code, x.bad, `bad #${k}`);
    }
  });
  assert.is(engine.stats().invocations.inFlight, 0);
});

test.run();
