// An invocation ended by the caller's AbortSignal keeps the signal's reason
// as `cause`, and a timeout signal (AbortSignal.timeout) ends it with
// E_TIMEOUT, not E_ABORTED: before, the reason was dropped and every signal
// was E_ABORTED.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import { closeEngine } from './helpers/settle.js';

let engine: Engine;
test.before(async () => {
  engine = await Engine.create({ threads: 1, timeoutMs: 30_000 });
  await engine.deploy({ name: 'spin', module: 'spin' });
});
test.after(() => closeEngine(engine));

/** First byte 1: the spin fixture loops until stopped. */
const LOOP = new Uint8Array([1]);

async function failure(p: Promise<unknown>): Promise<CwasiError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, CwasiError, String(err));
    return err as CwasiError;
  }
  assert.unreachable('the invocation must fail');
  throw new Error('unreachable');
}

test('AbortSignal.timeout mid-call: E_TIMEOUT, the TimeoutError as cause', async () => {
  const err = await failure(engine.invoke('spin', LOOP, { signal: AbortSignal.timeout(50) }));
  assert.is(err.code, 'E_TIMEOUT', err.message);
  assert.is((err.cause as Error | undefined)?.name, 'TimeoutError');
});

test('an abort with a reason mid-call: E_ABORTED, that reason as cause', async () => {
  const ac = new AbortController();
  const reason = new Error('the client went away');
  const call = engine.invoke('spin', LOOP, { signal: ac.signal });
  setImmediate(() => ac.abort(reason));
  const err = await failure(call);
  assert.is(err.code, 'E_ABORTED', err.message);
  assert.is(err.cause, reason);
  assert.match(err.message, /the client went away/);
});

test('a signal aborted before the call: E_ABORTED with its reason, nothing runs', async () => {
  const reason = new Error('not needed any more');
  const err = await failure(engine.invoke('spin', LOOP, { signal: AbortSignal.abort(reason) }));
  assert.is(err.code, 'E_ABORTED');
  assert.is(err.cause, reason);
});

test('the engine still serves after the aborted calls', async () => {
  const out = await engine.invoke('spin', new Uint8Array([7, 8]));
  assert.equal([...out], [7, 8]);
});

test.run();
