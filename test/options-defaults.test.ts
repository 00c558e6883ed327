// The options' defaults are one deep-frozen object: an engine cannot change
// another's defaults by writing to it, and every part of the engine that
// needs a default (the guest-call limits of the dispatcher and of a worker,
// the transport's pre-auth limits that a cluster uses) reads that one object.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OPTION_DEFAULTS, filled, resolveEngineOptions } from '../engine/options/index.js';
import { DEFAULT_CALL_LIMITS } from '../engine/worker/context.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../engine/index.js';

function* objects(o: object): Generator<object> {
  yield o;
  for (const v of Object.values(o)) if (v !== null && typeof v === 'object') yield* objects(v as object);
}

test('OPTION_DEFAULTS is frozen to the leaves', () => {
  let n = 0;
  for (const o of objects(OPTION_DEFAULTS)) {
    assert.ok(Object.isFrozen(o), `not frozen: ${JSON.stringify(o)}`);
    n++;
  }
  assert.ok(n >= 9, `walked ${n} objects`);
  // ESM is strict: a write throws rather than being dropped.
  assert.throws(() => { (OPTION_DEFAULTS.engine.guestCalls as { maxDepth: number }).maxDepth = 1; }, TypeError);
  assert.is(OPTION_DEFAULTS.engine.guestCalls.maxDepth, 16);
});

test('the defaults the engine applies are those of OPTION_DEFAULTS', () => {
  const r = resolveEngineOptions({ threads: 2, local: { ringBytes: undefined }, guestCalls: { maxDepth: 4 } });
  const d = OPTION_DEFAULTS.engine;
  assert.equal([r.minThreads, r.maxThreads], [2, 2]);
  assert.is(r.maxQueue, d.maxQueue);
  assert.is(r.timeoutMs, d.timeoutMs);
  // A key given as undefined keeps its default.
  assert.equal(r.local, { ...d.local });
  assert.equal(r.guestCalls, { ...d.guestCalls, maxDepth: 4 });
  assert.is(DEFAULT_MAX_PAYLOAD_BYTES, d.maxPayloadBytes);
  // The worker's limits (before a task says otherwise) are the same numbers, not a copy of them.
  assert.is(DEFAULT_CALL_LIMITS, d.guestCalls);
  assert.equal(OPTION_DEFAULTS.engine.cluster.preAuth, {
    perAddress: OPTION_DEFAULTS.net.maxPendingPerAddress, total: OPTION_DEFAULTS.net.maxPendingHandshakes, timeoutMs: OPTION_DEFAULTS.net.preAuthTimeoutMs,
  });
});

test('filled() returns a new object and leaves the defaults alone', () => {
  const out = filled(OPTION_DEFAULTS.map, { retries: 3 });
  out.retries = 9;
  assert.is(OPTION_DEFAULTS.map.retries, 0);
});

test.run();
