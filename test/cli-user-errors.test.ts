// Mistakes a user makes on the command line get one line, `error E_CODE:
// message`, and exit 1; never a Node stack trace unless --verbose asks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cwasi, hasStack } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cwasi-usererr-'));

function oneLine(r: { code: number; stderr: string; stdout: string }, code: string, message: RegExp, label: string): void {
  assert.is(r.code, 1, `${label}: exit code (${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(lines.length, 1, `${label}: one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^error ${code}: `), label);
  assert.match(lines[0]!, message, label);
  assert.not.ok(hasStack(r.stderr), `${label}: no stack`);
}

test('a missing --input file', async () => {
  const r = await cwasi('run', 'transform', '--input', join(tmp, 'nope.bin'));
  oneLine(r, 'E_IO', /--input .*nope\.bin: no such file or directory/, 'missing input');
});

test('a directory given as --input', async () => {
  const r = await cwasi('run', 'transform', '--input', tmp);
  oneLine(r, 'E_IO', /is a directory, not a file/, 'directory input');
});

test('an --out whose folder does not exist fails before running', async () => {
  const r = await cwasi('run', 'transform', '--text', 'x', '--out', join(tmp, 'no', 'such', 'dir', 'out.bin'));
  oneLine(r, 'E_IO', /--out .*out\.bin: no such file or directory/, 'unwritable output');
  assert.not.match(r.stdout, /result/, 'nothing ran');
});

test('an --out that is a directory', async () => {
  const dir = join(tmp, 'outdir');
  mkdirSync(dir);
  const r = await cwasi('run', 'transform', '--text', 'x', '--out', dir);
  oneLine(r, 'E_IO', /is a directory/, 'directory output');
});

test('a missing workflow file and a workflow that is a directory', async () => {
  oneLine(await cwasi('run', join(tmp, 'absent.json')), 'E_IO', /workflow file .*absent\.json: no such file/, 'missing workflow');
  const dir = join(tmp, 'wf.json');
  mkdirSync(dir);
  oneLine(await cwasi('plan', dir), 'E_IO', /is a directory/, 'directory workflow');
  oneLine(await cwasi('validate', dir), 'E_IO', /is a directory/, 'validate directory');
});

test('--verbose adds the stack', async () => {
  const r = await cwasi('run', 'transform', '--input', join(tmp, 'nope.bin'), '--verbose');
  assert.is(r.code, 1);
  assert.match(r.stderr, /^error E_IO: /);
  assert.ok(hasStack(r.stderr), r.stderr);
});

test('an invalid workflow is one line per problem list, no stack', async () => {
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, '{ "name": ');
  const r = await cwasi('run', bad);
  assert.is(r.code, 1);
  assert.match(r.stderr, /^error E_WORKFLOW_INVALID: .*bad\.json is not valid JSON/);
  assert.not.ok(hasStack(r.stderr));
});

test.run();
