// A mistyped option is answered in one line naming the nearest valid one,
// exit 2, not followed by the whole help (which for `run` was 60 lines).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cwasi } from './helpers/cli.js';

test('an unknown option: one line with the nearest valid option, exit 2', async () => {
  const r = await cwasi('run', '--inptu', 'x');
  assert.is(r.code, 2);
  assert.is(r.stderr.trimEnd(), "error: unknown option '--inptu' (did you mean --input?); see --help");
  assert.is(r.stdout, '');
});

test('an unknown option with nothing near: one line, exit 2', async () => {
  const r = await cwasi('inspect', '--zzzzzz', 'm.wasm');
  assert.is(r.code, 2);
  assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^error: unknown option '--zzzzzz'; see --help/);
});

test('an unknown command: one line with the nearest, exit 2', async () => {
  const r = await cwasi('rnu');
  assert.is(r.code, 2);
  assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /unknown command 'rnu' \(did you mean run\?\)/);
});
test.run();
