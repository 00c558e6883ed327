// Calls started from inside a function (CWASI's func_connect): the result
// comes back into the caller's memory, several calls may be in flight (fan-out
// from inside), and every mode that can carry them does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { REDIS_URL } from './helpers/env.js';

let engine: Engine;
const LEN = 200_003;

test.before(async () => {
  engine = await Engine.create({ threads: { min: 2, max: 4 }, redis: { url: REDIS_URL }, timeoutMs: 20_000 });
  await engine.deploy([
    { name: 'scatter', module: 'scatter', trusted: true, domain: 'calls' },
    { name: 'checksum', module: 'checksum', trusted: true, domain: 'calls' },
    { name: 'transform', module: 'transform', trusted: true, domain: 'calls' },
    { name: 'iso-checksum', module: 'checksum' },
  ]);
});
test.after(async () => {
  await engine.close();
});

function expectRecords(out: Uint8Array, n: number, seed: number): void {
  const hash = workloads.checksum(workloads.produce(LEN, seed));
  assert.equal(workloads.readChecksums(out), Array.from({ length: n }, () => ({ hash, length: LEN })));
}

test('an embedded callee runs inline and reads the payload in place', async () => {
  const r = await engine.invokeWithReport('scatter', workloads.scatterSpec(LEN, 3, 1, 'checksum'));
  expectRecords(r.output, 1, 3);
  assert.is(engine.stats().invocations.guestCalls, 0, 'no call left the worker');
});

test('fan-out from inside: 6 calls in flight, results in call order', async () => {
  expectRecords(await engine.invoke('scatter', workloads.scatterSpec(LEN, 4, 6, 'checksum')), 6, 4);
  expectRecords(await engine.invoke('scatter', workloads.scatterSpec(LEN, 5, 6, 'iso-checksum')), 6, 5);
});

test('an untrusted callee is reached through the dispatcher (local buffer)', async () => {
  const before = engine.stats().invocations.guestCalls;
  expectRecords(await engine.invoke('scatter', workloads.scatterSpec(LEN, 6, 2, 'iso-checksum')), 2, 6);
  assert.is(engine.stats().invocations.guestCalls - before, 2);
});

test('a result as large as the payload comes back intact (transform)', async () => {
  const out = await engine.invoke('scatter', workloads.scatterSpec(LEN, 7, 2, 'transform'), { guestCallMode: 'local' });
  const expected = workloads.transform(workloads.produce(LEN, 7));
  assert.is(out.length, 2 * LEN);
  assert.ok(Buffer.from(out.subarray(0, LEN)).equals(Buffer.from(expected)));
  assert.ok(Buffer.from(out.subarray(LEN)).equals(Buffer.from(expected)));
});

test('every mode that can carry a guest call does, with the same result', async () => {
  for (const mode of ['embedded', 'local', 'copy', 'remote-kv'] as const) {
    expectRecords(await engine.invoke('scatter', workloads.scatterSpec(LEN, 8, 3, 'checksum'), { guestCallMode: mode }), 3, 8);
  }
});

test('many callers at once on a small pool do not deadlock', async () => {
  // 8 scatter invocations, each waiting on 3 calls, on at most 4 workers: the
  // dispatcher refuses calls that could never run instead of hanging.
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) =>
    engine.invoke('scatter', workloads.scatterSpec(20_000, i, 3, 'iso-checksum'))));
  let ok = 0;
  for (const r of results) {
    if (r.status === 'fulfilled') ok++;
    else assert.match(String((r.reason as Error).message), /status -5|status -2/);
  }
  assert.ok(ok >= 1, 'at least one caller finished');
});

test('caller memory is freed after calls, whatever the mode', async () => {
  for (const m of engine.stats().memory) {
    const held = m.bytesInUse - m.cachedBytes - m.instanceBytes;
    assert.is(held, 0, `${m.id} still holds ${held} bytes`);
  }
});

test.run();
