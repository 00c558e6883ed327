// `cwasi run --batch DIR --out DIR` when a result cannot be written: the run
// stops with E_IO naming the result's path (no stack, no untyped error),
// leaves no partial file, keeps every result it had written, and `--resume`
// once the obstacle is gone computes exactly the missing ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as workloads from '../engine/workloads.js';
import { cwasi, hasStack } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cwasi-write-error-'));
const inputs = join(tmp, 'in');
const out = join(tmp, 'out');
mkdirSync(inputs);
mkdirSync(out);
const N = 12;
const LENGTH = 4096;
const keys = Array.from({ length: N }, (_, i) => `in-${String(i).padStart(2, '0')}`);
keys.forEach((k, i) => writeFileSync(join(inputs, k), workloads.producerSpec(LENGTH, i)));
// A folder where one result must go: renaming a file onto it fails (EISDIR), whoever runs the test.
const blocked = join(out, `${keys[5]}.out`);
mkdirSync(join(blocked, 'keep'), { recursive: true });

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

test('a result that cannot be written stops the run with E_IO naming its path', async () => {
  const r = await cwasi('run', 'examples/sequential.json', '--batch', inputs, '--out', out, '--threads', '1');
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /E_IO/);
  assert.ok(r.stderr.includes(blocked), r.stderr);
  assert.not.ok(hasStack(r.stderr), r.stderr);
  const files = readdirSync(out);
  assert.equal(files.filter((f) => f.startsWith('.cwasi-partial-')), [], 'no partial file is left');
  // Whatever was written before the failure is complete.
  for (const f of files.filter((x) => x.endsWith('.out') && join(out, x) !== blocked)) {
    const i = keys.indexOf(f.slice(0, -'.out'.length));
    assert.equal(workloads.readChecksums(readFileSync(join(out, f))), [{ hash: workloads.checksum(workloads.produce(LENGTH, i)), length: LENGTH }], f);
  }
});

test('--resume after the obstacle is removed writes every missing result', async () => {
  rmSync(blocked, { recursive: true });
  const r = await cwasi('run', 'examples/sequential.json', '--batch', inputs, '--out', out, '--threads', '1', '--resume', '--json');
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.done + report.skipped, N);
  assert.is(report.failed, 0);
  keys.forEach((k, i) => {
    assert.equal(workloads.readChecksums(readFileSync(join(out, `${k}.out`))), [{ hash: workloads.checksum(workloads.produce(LENGTH, i)), length: LENGTH }], k);
  });
});

test.run();
