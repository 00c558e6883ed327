// Preloaded into every test file by test/run.mjs (node --import). uvu drops
// the error of a failing before/after hook without a word (its runner returns
// from a `finally`), so a file whose set-up failed showed only "(0 / N)".
// This wraps the default suite's hooks so that such an error is printed, with
// its code and stack, before uvu swallows it. A test that throws something
// other than an Error is reported too (uvu-format.mjs).
import { register } from 'node:module';

// First: uvu itself, patched so that a test throwing a non-Error is reported (uvu-format.mjs).
register('./uvu-format.mjs', import.meta.url);
const { test } = await import('uvu');

function report(kind, err) {
  const code = err && typeof err === 'object' && 'code' in err ? ` ${err.code}` : '';
  process.stderr.write(`\n   FAIL  ${kind} hook${code}: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n\n`);
  process.exitCode = 1;
}

function wrap(register, kind) {
  const wrapped = (fn) => register(async (state) => {
    try {
      await fn(state);
    } catch (err) {
      report(kind, err);
      throw err;
    }
  });
  return wrapped;
}

for (const kind of ['before', 'after']) {
  const register = test[kind];
  const each = register.each;
  test[kind] = wrap(register, kind);
  test[kind].each = wrap(each, `${kind}.each`);
}
