// `cwasi run --batch DIR --out DIR --resume` after the CLI was killed
// halfway: every result left by the killed run is complete (results are
// renamed into place), a planted partial file is not trusted, and the resumed
// run computes exactly the missing results: no input twice, none left out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as workloads from '../engine/workloads.js';
import { cwasiWithStdin, spawnCwasi } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cwasi-resume-'));
const inputs = join(tmp, 'in');
const out = join(tmp, 'out');
mkdirSync(inputs);
const N = 300;
const KILL_AFTER = 40;
const LENGTH = 256 * 1024;
const keys = Array.from({ length: N }, (_, i) => `in-${String(i).padStart(4, '0')}`);
keys.forEach((k, i) => writeFileSync(join(inputs, k), workloads.producerSpec(LENGTH, i)));
const expected = (i: number) => [{ hash: workloads.checksum(workloads.produce(LENGTH, i)), length: LENGTH }];

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function results(): string[] {
  return readdirSync(out).sort();
}

test('a run killed halfway leaves only complete results; --resume computes exactly the missing ones', async () => {
  const child = spawnCwasi(['run', 'examples/sequential.json', '--batch', inputs, '--out', out, '--threads', '1', '--concurrency', '2', '--verbose']);
  const exited = once(child, 'exit');
  let done = 0;
  // "done <key>" is printed after the result was renamed into place.
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.startsWith('done ') && ++done === KILL_AFTER) {
      child.kill('SIGKILL');
      break;
    }
  }
  const [, signal] = await exited;
  assert.is(signal, 'SIGKILL', 'the CLI was killed, it did not finish');
  const left = results().filter((f) => f.endsWith('.out'));
  assert.ok(left.length >= KILL_AFTER && left.length < N, `killed halfway: ${left.length} of ${N} results`);
  // Whatever the kill interrupted is under a partial name; plant one more that looks like a result in progress.
  writeFileSync(join(out, '.cwasi-partial-999999-1'), new Uint8Array(3));
  for (const f of left) {
    const i = keys.indexOf(f.slice(0, -'.out'.length));
    assert.ok(i >= 0, f);
    assert.equal(workloads.readChecksums(new Uint8Array(readFileSync(join(out, f)))), expected(i), `${f} is complete`);
  }

  const r = await cwasiWithStdin(['run', 'examples/sequential.json', '--batch', inputs, '--out', out, '--resume', '--json']);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.skipped, left.length, 'every complete result skipped');
  assert.is(j.done, N - left.length, 'exactly the missing ones computed');
  assert.is(j.failed, 0);
  assert.equal(results(), keys.map((k) => `${k}.out`), 'one result per input, no partial files');
  keys.forEach((k, i) => assert.equal(workloads.readChecksums(new Uint8Array(readFileSync(join(out, `${k}.out`)))), expected(i), k));
});

test.run();
