// The old spellings of renamed flags keep working, each with one warning line
// on stderr naming the new spelling: run --output (now --out), run --inputs
// (now --batch), bench --executions (now --repeat) and bench --json <file>
// (--json is a switch now; the report file goes under --out <dir>). Giving
// an old and a new spelling together is a usage error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as workloads from '../engine/workloads.js';
import { cwasi } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cwasi-deprecated-'));

/** The warning lines of stderr. */
function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('warning:'));
}

test('run --output <file> writes the output, as --out does, and warns once', async () => {
  const file = join(tmp, 'out.bin');
  const r = await cwasi('run', 'transform', '--text', 'hello', '--output', file);
  assert.is(r.code, 0, r.stderr);
  assert.equal(warnings(r.stderr), ['warning: --output is deprecated; use --out']);
  assert.equal(new Uint8Array(readFileSync(file)), workloads.transform(new TextEncoder().encode('hello')));
});

test('run --output - still puts the output bytes on stdout', async () => {
  const r = await cwasi('run', 'transform', '--text', 'hey', '--output', '-');
  assert.is(r.code, 0, r.stderr);
  assert.equal(new Uint8Array(r.stdoutBytes), workloads.transform(new TextEncoder().encode('hey')));
  assert.equal(warnings(r.stderr), ['warning: --output is deprecated; use --out']);
});

test('run --inputs <dir> runs the batch, as --batch does, and warns once', async () => {
  const inputs = join(tmp, 'inputs');
  mkdirSync(inputs);
  writeFileSync(join(inputs, 'a'), 'one');
  writeFileSync(join(inputs, 'b'), 'two');
  const r = await cwasi('run', 'checksum', '--inputs', inputs, '--json');
  assert.is(r.code, 0, r.stderr);
  assert.equal(warnings(r.stderr), ['warning: --inputs is deprecated; use --batch']);
  const doc = JSON.parse(r.stdout) as { done: number; results: Array<{ key: string }> };
  assert.is(doc.done, 2);
  assert.equal(doc.results.map((x) => x.key), ['a', 'b']);
});

test('bench --executions <n> and --json <file>: the report is written, the table printed, two warnings', async () => {
  const file = join(tmp, 'overhead.json');
  const r = await cwasi('bench', 'overhead', '--quick', '--executions', '50', '--json', file);
  assert.is(r.code, 0, r.stderr);
  assert.equal(warnings(r.stderr).sort(), [
    'warning: --executions is deprecated; use --repeat',
    'warning: --json <file> is deprecated; use --json > <file> (the report on stdout) or --out <dir>',
  ]);
  assert.match(r.stdout, /^cwasi bench overhead — Node /, 'the table on stdout, as before');
  assert.match(r.stdout, new RegExp(`wrote ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { schemaVersion: number; results: unknown[] };
  assert.is(doc.schemaVersion, 1);
  assert.ok(doc.results.length > 0);
});

test('bench --executions passes its value on as --repeat', async () => {
  const r = await cwasi('bench', 'overhead', '--executions', '0');
  assert.is(r.code, 2, r.stderr);
  assert.equal(warnings(r.stderr), ['warning: --executions is deprecated; use --repeat']);
  assert.match(r.stderr, /^error E_CONFIG: --repeat /m);
});

test('bench --json=<file>, the other old form, writes the file too', async () => {
  const file = join(tmp, 'eq.json');
  const r = await cwasi('bench', 'overhead', '--quick', '--repeat', '20', `--json=${file}`);
  assert.is(r.code, 0, r.stderr);
  assert.is(warnings(r.stderr).length, 1, r.stderr);
  assert.is(JSON.parse(readFileSync(file, 'utf8')).schemaVersion, 1);
});

test('an old and a new spelling together: one usage error', async () => {
  for (const args of [
    ['run', 'transform', '--text', 'x', '--output', join(tmp, 'a'), '--out', join(tmp, 'b')],
    ['bench', 'overhead', '--executions', '5', '--repeat', '5'],
  ]) {
    const r = await cwasi(...args);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error E_CONFIG: --(output|executions) is the old spelling of --(out|repeat): give --(out|repeat) only$/m);
    assert.is(r.stdout, '');
  }
});

test.run();
