// `engine.close()` waits for calls in flight; `close({ timeoutMs })` waits at
// most that long, then ends what is still running with E_CLOSED (a guest
// stuck in a loop has its worker terminated); `close({ force: true })` ends
// them at once. `await using` closes an engine when its scope ends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import { rejectsWith } from './helpers/assert-error.js';

/** First byte 1: the spin fixture loops until stopped. */
const LOOP = new Uint8Array([1]);

async function spinning(): Promise<{ engine: Engine; call: Promise<unknown> }> {
  const engine = await Engine.create({ threads: 1, timeoutMs: 60_000 });
  await engine.deploy({ name: 'spin', module: 'spin' });
  const call = engine.invoke('spin', LOOP);
  call.catch(() => {});
  return { engine, call };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof CwasiError ? err.code : String(err);
  }
  return 'resolved';
}

test('close({ timeoutMs }) returns within its bound with a call stuck in a guest loop; the call ends E_CLOSED', async () => {
  const { engine, call } = await spinning();
  const t0 = Date.now();
  await engine.close({ timeoutMs: 300 });
  const took = Date.now() - t0;
  console.log(`# close({ timeoutMs: 300 }) returned after ${took} ms`);
  assert.ok(took >= 300 && took < 300 + 5000, `close took ${took} ms`);
  assert.is(await code(call), 'E_CLOSED');
});

test('close({ force: true }) ends calls in flight at once', async () => {
  const { engine, call } = await spinning();
  const t0 = Date.now();
  await engine.close({ force: true });
  assert.ok(Date.now() - t0 < 5000, `close took ${Date.now() - t0} ms`);
  assert.is(await code(call), 'E_CLOSED');
});

test('a second close with force ends a first close that waits', async () => {
  const { engine, call } = await spinning();
  const waiting = engine.close();
  await engine.close({ force: true });
  await waiting;
  assert.is(await code(call), 'E_CLOSED');
});

test('await using closes the engine when the scope ends', async () => {
  let kept: Engine;
  {
    await using engine = await Engine.create({ threads: 1 });
    await engine.deploy({ name: 'identity', module: 'identity' });
    assert.equal([...await engine.invoke('identity', Uint8Array.of(5))], [5]);
    kept = engine;
  }
  await rejectsWith(kept.invoke('identity', Uint8Array.of(5)), 'E_CLOSED');
});

test('bad close options are E_CONFIG', async () => {
  const engine = await Engine.create({ threads: 1 });
  await rejectsWith(engine.close({ timeoutMs: -1 }), 'E_CONFIG', /timeoutMs/);
  await rejectsWith(engine.close({ forse: true } as never), 'E_CONFIG', /did you mean close\.force/);
  await engine.close();
});

test.run();
