// Assert that a promise rejects, or a call throws, with a CwasiError of a given code.
import * as assert from 'uvu/assert';
import { CwasiError, type ErrorCode } from '../../engine/index.js';

function expectCode(err: unknown, code: ErrorCode, message?: RegExp): CwasiError {
  assert.instance(err, CwasiError, `expected a CwasiError, got ${String(err)}`);
  const e = err as CwasiError;
  assert.is(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
  if (message) assert.match(e.message, message);
  return e;
}

export async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<CwasiError> {
  try {
    await p;
  } catch (err) {
    return expectCode(err, code, message);
  }
  assert.unreachable(`expected a rejection with ${code}`);
  throw new Error('unreachable');
}

export function throwsWith(fn: () => unknown, code: ErrorCode, message?: RegExp): CwasiError {
  try {
    fn();
  } catch (err) {
    return expectCode(err, code, message);
  }
  assert.unreachable(`expected a throw with ${code}`);
  throw new Error('unreachable');
}
