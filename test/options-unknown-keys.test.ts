// A misspelt option key is refused by name, at every level and in every
// options object of the API, with the nearest valid name: before, a nested
// key such as `cluster: { listn }` or a map() option such as `concurency` was
// ignored without a word and the default the caller meant to change was kept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, type EngineOptions, type MapOptions } from '../engine/index.js';
import { NetTransport } from '../engine/net/transport.js';
import { rejectsWith, throwsWith } from './helpers/assert-error.js';
import { closeEngine } from './helpers/settle.js';

const create = (o: unknown) => Engine.create(o as EngineOptions);
/** Nothing listens here: a check that dialled it would fail differently. */
const DEAD_NATS = 'nats://127.0.0.1:1';

test('Engine.create({ thread: 2 }) is refused naming threads', async () => {
  const err = await rejectsWith(create({ thread: 2 }), 'E_CONFIG', /^unknown option thread; did you mean threads\?/);
  assert.equal(err.details, { option: 'thread', nearest: 'threads' });
});

test('a nested unknown key names the nearest option by its whole path, before NATS is dialled', async () => {
  const err = await rejectsWith(create({ threads: 1, cluster: { nats: DEAD_NATS, listn: '127.0.0.1:0' } }), 'E_CONFIG',
    /^unknown option cluster\.listn; did you mean cluster\.listen\?/);
  assert.is(err.details?.option, 'cluster.listn');
  await rejectsWith(create({ threads: 1, cluster: { nats: DEAD_NATS, preAuth: { totl: 3 } } }), 'E_CONFIG', /did you mean cluster\.preAuth\.total\?/);
  await rejectsWith(create({ threads: 1, cluster: { nats: DEAD_NATS, natsAuth: { tls: { cafile: 'x' } } } }), 'E_CONFIG', /did you mean cluster\.natsAuth\.tls\.caFile\?/);
  await rejectsWith(create({ threads: 1, guestCalls: { maxDepht: 3 } }), 'E_CONFIG', /did you mean guestCalls\.maxDepth\?/);
});

test('a key given at the wrong level names where it belongs', async () => {
  await rejectsWith(create({ threads: 1, ringBytes: 4096 }), 'E_CONFIG', /^unknown option ringBytes; did you mean local\.ringBytes\?/);
});

test('engine.map(…, { concurency: 4 }) is refused with the nearest name', async () => {
  const engine = await Engine.create({ threads: 1 });
  try {
    await engine.deploy({ name: 'identity', module: 'identity' });
    const err = throwsWith(() => engine.map('identity', [], { concurency: 4 } as MapOptions), 'E_CONFIG', /^unknown option map\.concurency; did you mean map\.concurrency\?/);
    assert.equal(err.details, { option: 'map.concurency', nearest: 'concurrency' });
    throwsWith(() => engine.map('identity', [], { retries: -1 }), 'E_CONFIG', /^map\.retries must be a whole number from 0/);
    await rejectsWith(engine.close({ timeoutMS: 5 } as never), 'E_CONFIG', /^unknown option close\.timeoutMS; did you mean close\.timeoutMs\?/);
  } finally {
    await closeEngine(engine);
  }
});

test('the Networked Buffer transport refuses unknown keys too', async () => {
  const secret = new Uint8Array(32).fill(7);
  await rejectsWith(NetTransport.listen({ secret, nodeName: 'x', keepaliveIntervallMs: 10 } as never), 'E_CONFIG', /did you mean keepaliveIntervalMs\?/);
});

test('options that are not an object are E_INVALID_ARG', async () => {
  await rejectsWith(create(42), 'E_INVALID_ARG', /options must be an object, got number/);
});

test.run();
