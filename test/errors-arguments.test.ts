// Wrong arguments get their own code, and a misspelt option is refused by
// name. Before: `Engine.create({ thread: 2 })` was accepted (the default
// thread count silently kept) and `invoke('identity', 'hello')` was E_CONFIG.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type EngineOptions } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine } from './helpers/settle.js';

const create = (o: unknown) => Engine.create(o as EngineOptions);

test('an unknown option is E_CONFIG naming the nearest known one', async () => {
  const err = await rejectsWith(create({ thread: 2 }), 'E_CONFIG', /unknown option thread; did you mean threads\?/);
  assert.equal(err.details, { option: 'thread', nearest: 'threads' });
  await rejectsWith(create({ local: { ringbytes: 4096 } }), 'E_CONFIG', /unknown option local\.ringbytes; did you mean local\.ringBytes\?/);
  await rejectsWith(create({ threads: { min: 1, mx: 2 } }), 'E_CONFIG', /unknown option threads\.mx; did you mean threads\.max\?/);
  // Refused before anything connects: the NATS URL is never dialled.
  await rejectsWith(create({ cluster: { nats: 'nats://127.0.0.1:1', secrt: 'x' } }), 'E_CONFIG', /cluster\.secrt; did you mean cluster\.secret\?/);
  await rejectsWith(create({ frobnicate: true }), 'E_CONFIG', /unknown option frobnicate \(the options: threads,/);
});

test('a wrong input or target is E_INVALID_ARG', async () => {
  const engine = await Engine.create({ threads: 1 });
  try {
    await engine.deploy({ name: 'identity', module: 'identity' });
    const invoke = engine.invoke.bind(engine) as (t: unknown, i: unknown) => Promise<Uint8Array>;
    await rejectsWith(invoke('identity', 'hello'), 'E_INVALID_ARG', /must be a Uint8Array .*got a string: encode text with new TextEncoder/);
    await rejectsWith(invoke('identity', undefined), 'E_INVALID_ARG', /got undefined/);
    await rejectsWith(invoke('identity', [1, 2]), 'E_INVALID_ARG', /got Array/);
    await rejectsWith(invoke(42, new Uint8Array(1)), 'E_INVALID_ARG', /target must be .* got number/);
    // A Buffer is a Uint8Array.
    assert.equal([...await engine.invoke('identity', Buffer.from([3, 4]))], [3, 4]);
  } finally {
    await closeEngine(engine);
  }
});

test.run();
