// The test runner's preload (test/hook-errors.mjs, test/uvu-format.mjs) makes a
// test that throws something other than an Error, or an Error uvu cannot
// format (a name that is not a string; a CwasiError with details, which uvu
// took for its own assertion diff and called split on), fail visibly: uvu
// alone printed "(0 / N)", no failure and exited 0, and the file's later
// tests never ran. Run through a child process with the same preload.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const preload = new URL('../../test/hook-errors.mjs', import.meta.url).href;
// Inside the package, so that 'uvu' resolves to its node_modules.
const dir = mkdtempSync(join(root, 'test', '.tmp-runner-'));

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a plain object, or an Error uvu cannot format, thrown by a test is reported; the exit code is 1 and the next test still runs', async () => {
  const file = join(dir, 'throws.mjs');
  writeFileSync(file, `import { test } from 'uvu';
import { CwasiError } from '../../dist/engine/index.js';
test('throws a CwasiError with details', () => { throw new CwasiError('E_NET', 'the node b was lost', { node: 'b', reason: 'not-alive' }); });
test('throws a record', () => { throw { code: 'E_SOMETHING', message: 'a plain record' }; });
test('throws an Error whose name is not a string', () => { const e = new Error('oddly named'); e.name = 42; throw e; });
test('runs after them', () => {});
test.run();
`);
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(process.execPath, ['--import', preload, file], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
  assert.is(r.code, 1, r.out);
  assert.match(r.out, /FAIL\s+"throws a record"/);
  assert.match(r.out, /not an Error: \{"code":"E_SOMETHING","message":"a plain record"\}/);
  assert.match(r.out, /FAIL\s+"throws a CwasiError with details"\n\s+E_NET: the node b was lost\n\s+details: \{"node":"b","reason":"not-alive"\}/);
  assert.match(r.out, /FAIL\s+"throws an Error whose name is not a string"\n\s+oddly named/);
  assert.match(r.out, /Passed:\s+1/);
});

test.run();
