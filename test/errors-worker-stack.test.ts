// An error raised in a worker keeps, on the main thread, where it was thrown
// (the worker's frames, then this thread's below "<thread boundary>") and
// its cause: a guest trap's RuntimeError with the wasm frames it unwound.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import { isCwasiError } from '../engine/errors.js';

let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 1, timeoutMs: 30_000 });
  await engine.deploy([{ name: 'trap', module: 'trap' }, { name: 'hog', module: 'hog', memoryMaxBytes: 64 * 1024 * 1024 }]);
});
test.after(async () => {
  await engine?.close();
});

async function failure(p: Promise<unknown>): Promise<CwasiError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, CwasiError);
    return err as CwasiError;
  }
  throw new Error('expected a failure');
}

test('a guest trap: the worker frames, the boundary, the RuntimeError as cause with its wasm frames', async () => {
  const e = await failure(engine.invoke('trap', Uint8Array.of(1)));
  assert.is(e.code, 'E_FUNCTION_TRAP');
  const stack = e.stack ?? '';
  assert.match(stack, /^CwasiError: trap trapped: unreachable/);
  const [worker, main] = stack.split('\n    at <thread boundary>');
  assert.ok(main !== undefined, stack);
  assert.match(worker!, /worker\/host\.js/, 'thrown in the worker host');
  assert.not.match(main!, /worker\/host\.js/);
  const cause = e.cause as Error;
  assert.instance(cause, Error);
  assert.is(cause.name, 'RuntimeError');
  assert.is(cause.message, 'unreachable');
  assert.match(cause.stack ?? '', /wasm:\/\/wasm\//, 'the wasm frames of the trap');
  assert.ok(isCwasiError(e, 'E_FUNCTION_TRAP') && e.details?.function === 'trap');
});

test('a host-side failure in the worker keeps the worker frames too', async () => {
  const spec = new Uint8Array(4);
  new DataView(spec.buffer).setUint32(0, 512, true); // 512 MiB against a 64 MiB memory
  const e = await failure(engine.invoke('hog', spec));
  assert.is(e.code, 'E_MEMORY_LIMIT');
  assert.match(e.stack ?? '', /\n {4}at <thread boundary>/);
});

test('a record without a stack (an older peer, another node) rebuilds as before', () => {
  const e = CwasiError.fromRecord({ code: 'E_NET', message: 'gone', details: { node: 'b' } });
  assert.not.match(e.stack ?? '', /thread boundary/);
  assert.is(e.cause, undefined);
  assert.ok(isCwasiError(e, 'E_NET') && e.details?.node === 'b');
  assert.not.ok(isCwasiError(e, 'E_IO'));
});

test.run();
