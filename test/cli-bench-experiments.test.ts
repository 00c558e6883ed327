// `cwasi bench paper --experiments`: only the named experiments run, in
// every requested mode; an unknown name, a bench without experiments, and a
// selection that leaves nothing to measure are usage errors with E_CONFIG.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'cwasi.js');

function cwasi(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('an unknown experiment is refused, naming the ones paper runs', async () => {
  const r = await cwasi('bench', 'paper', '--experiments', 'fan-out,fanout');
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /E_CONFIG/);
  assert.match(r.stderr, /no experiment "fanout"; it runs sequential, fan-out, fan-in, fan-out-by-size, sequential-cross-node/);
  assert.is(r.stdout, '');
});

test('a bench without experiments refuses the flag', async () => {
  const r = await cwasi('bench', 'overhead', '--experiments', 'fan-out');
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /cwasi bench overhead has no --experiments; it is for paper/);
});

test('experiments with no rows in the chosen modes are refused before measuring', async () => {
  const r = await cwasi('bench', 'paper', '--modes', 'embedded', '--experiments', 'sequential-cross-node');
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /E_CONFIG: nothing to measure/);
});

test('only the chosen experiment is measured', async () => {
  const r = await cwasi('bench', 'paper', '--quick', '--modes', 'embedded', '--experiments', 'fan-in', '--repeat', '1', '--json');
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { results: Array<{ experiment: string; mode: string; n: number }> };
  assert.equal([...new Set(report.results.map((x) => x.experiment))], ['fan-in']);
  assert.equal(report.results.map((x) => x.n).sort((a, b) => a - b), [10, 100]);
  assert.ok(report.results.every((x) => x.mode === 'embedded'));
});

test.run();
