// Small CLI options: --version, --out - (the output bytes on stdout, the
// report on stderr), and `functions` listing workloads only unless --all.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as workloads from '../engine/workloads.js';
import { cwasi, root } from './helpers/cli.js';

const FIXTURES = ['trap', 'spin', 'hog', 'statics-a', 'statics-b'];

test('--version prints the package version', async () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const flag of ['--version', '-V']) {
    const r = await cwasi(flag);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.trim(), pkg.version);
  }
});

test('--out - writes exactly the output bytes to stdout; the report goes to stderr', async () => {
  const input = workloads.produce(3000, 11);
  const r = await cwasi('run', 'producer', '--size', '3000', '--seed', '11', '--out', '-');
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.stdoutBytes.equals(Buffer.from(input)), `stdout holds ${r.stdoutBytes.length} bytes`);
  assert.match(r.stderr, /result\n\s+producer \(output\): 3000 bytes/);
  const both = await cwasi('run', 'producer', '--out', '-', '--json');
  assert.is(both.code, 2);
  assert.match(both.stderr, /^error E_CONFIG: --out - and --json both write to stdout/);
});

test('functions lists the workloads; the test fixtures only with --all', async () => {
  const plain = await cwasi('functions');
  assert.is(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /\bproducer\b/);
  for (const f of FIXTURES) assert.not.match(plain.stdout, new RegExp(`^${f}\\b`, 'm'), f);
  const json = JSON.parse((await cwasi('functions', '--json')).stdout);
  for (const f of FIXTURES) assert.not.ok(f in json.functions, f);
  const all = await cwasi('functions', '--all');
  for (const f of FIXTURES) assert.match(all.stdout, new RegExp(`^${f}\\b.*test fixture`, 'm'), f);
});

test.run();
