// `cwasi bench --threads`: a list of pool sizes is for the benches that sweep
// them (paper, batch); any other bench and any bad entry is a usage error,
// reported before a benchmark module loads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'cwasi.js');

function cwasi(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('a --threads list on a bench that does not sweep is refused', async () => {
  const r = await cwasi('bench', 'overhead', '--threads', '1,2');
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /cwasi bench overhead takes one --threads value, got "1,2"/);
  assert.is(r.stdout, '');
});

test('a bad entry in a --threads list is refused', async () => {
  const r = await cwasi('bench', 'paper', '--threads', '1,x');
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /--threads must be a positive integer, got "x"/);
});

test.run();
