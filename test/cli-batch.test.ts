// `cwasi run --batch`: a folder, a glob or records on stdin through a
// workflow, one result file per input written atomically, or one line per
// result on stdout; the JSON summary; per-input failures under continue and
// stop; usage errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as workloads from '../engine/workloads.js';
import { cwasiWithStdin } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cwasi-batch-'));
const inputs = join(tmp, 'in');
mkdirSync(join(inputs, 'sub'), { recursive: true });
const N = 24;
const keys: string[] = [];
for (let i = 0; i < N; i++) {
  const key = i < 4 ? `sub/s${i}.spec` : `f${String(i).padStart(2, '0')}.spec`;
  writeFileSync(join(inputs, key), workloads.producerSpec(1000 + 37 * i, i));
  keys.push(key);
}
keys.sort();
const lengthOf = (key: string) => {
  const spec = readFileSync(join(inputs, key));
  return { length: spec.readUInt32LE(0), seed: spec.readUInt32LE(4) };
};
const expected = (key: string) => {
  const { length, seed } = lengthOf(key);
  return [{ hash: workloads.checksum(workloads.produce(length, seed)), length }];
};

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function listAll(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listAll(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`])).sort();
}

test('a folder: one complete result per input under --out, and a JSON summary', async () => {
  const out = join(tmp, 'out1');
  const r = await cwasiWithStdin(['run', 'examples/sequential.json', '--batch', inputs, '--out', out, '--json']);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.schemaVersion, 1);
  assert.equal([j.done, j.failed, j.skipped], [N, 0, 0]);
  assert.equal(Object.keys(j.latencyMs), ['count', 'meanMs', 'p50Ms', 'p90Ms', 'p99Ms', 'maxMs']);
  assert.is(j.latencyMs.count, N);
  // Each file went from disk into the producer's memory with one read.
  assert.equal(j.fileInputs, { files: N, reads: N, bytes: 8 * N, intoMemory: N, viaBuffer: 0 });
  assert.ok(j.latencyMs.p50Ms > 0 && j.latencyMs.p99Ms >= j.latencyMs.p50Ms && j.throughput.inputsPerSec > 0);
  assert.equal(listAll(out), keys.map((k) => `${k}.out`));
  for (const k of keys) assert.equal(workloads.readChecksums(new Uint8Array(readFileSync(join(out, `${k}.out`)))), expected(k), k);
});

test('a glob picks its files; without --out each result is a line on stdout, in input order', async () => {
  const r = await cwasiWithStdin(['run', 'examples/sequential.json', '--batch', join(inputs, 'f1*.spec')]);
  assert.is(r.code, 0, r.stderr);
  const picked = keys.filter((k) => /^f1.\.spec$/.test(k));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.map((l) => l.split('\t')[0]), picked);
  lines.forEach((l, i) => {
    const [{ hash, length }] = expected(picked[i]!);
    const record = new Uint8Array(8);
    new DataView(record.buffer).setUint32(0, hash!, true);
    new DataView(record.buffer).setUint32(4, length!, true);
    assert.is(l, `${picked[i]}\t8 bytes\tcwasi-sum32 0x${workloads.checksum(record).toString(16).padStart(8, '0')}`);
  });
  assert.match(r.stderr, new RegExp(`done ${picked.length}, failed 0, skipped 0`));
});

test('records on stdin: lines and u32 length-prefixed framing', async () => {
  const records = ['alpha', 'beta gamma', '', 'delta'].map((s) => new TextEncoder().encode(s));
  const lines = new TextEncoder().encode('alpha\nbeta gamma\r\n\ndelta');
  const byLine = await cwasiWithStdin(['run', 'checksum', '--batch', '-', '--json'], lines);
  assert.is(byLine.code, 0, byLine.stderr);
  const jl = JSON.parse(byLine.stdout);
  assert.is(jl.done, 4);
  const framed = Buffer.concat(records.flatMap((b) => {
    const h = Buffer.alloc(4);
    h.writeUInt32LE(b.length);
    return [h, Buffer.from(b)];
  }));
  const out = join(tmp, 'out-stdin');
  const byLength = await cwasiWithStdin(['run', 'checksum', '--batch', '-', '--framing', 'length', '--out', out], framed);
  assert.is(byLength.code, 0, byLength.stderr);
  assert.equal(listAll(out), ['00000000.out', '00000001.out', '00000002.out', '00000003.out']);
  records.forEach((b, i) => {
    const rec = workloads.readChecksums(new Uint8Array(readFileSync(join(out, `0000000${i}.out`))));
    assert.equal(rec, [{ hash: workloads.checksum(b), length: b.length }], `record ${i}`);
    const line = jl.results[i];
    assert.is(line.key, `0000000${i}`);
  });
  const truncated = await cwasiWithStdin(['run', 'checksum', '--batch', '-', '--framing', 'length'], framed.subarray(0, framed.length - 2));
  assert.is(truncated.code, 1);
  assert.match(truncated.stderr, /error E_INPUT: .*ended inside a record/);
});

test('a failing input: continue writes every other result and exits 1; stop ends the run', async () => {
  const bad = join(tmp, 'bad');
  mkdirSync(bad);
  for (let i = 0; i < 12; i++) writeFileSync(join(bad, `r${String(i).padStart(2, '0')}`), i === 5 ? Uint8Array.of(1, 2, 3) : workloads.producerSpec(500 + i, i));
  const out = join(tmp, 'out-bad');
  const r = await cwasiWithStdin(['run', 'examples/sequential.json', '--batch', bad, '--out', out, '--json']);
  assert.is(r.code, 1);
  const j = JSON.parse(r.stdout);
  assert.equal([j.done, j.failed], [11, 1]);
  assert.equal(j.failures.map((f: { key: string; code: string }) => [f.key, f.code]), [['r05', 'E_FUNCTION_FAILED']]);
  assert.match(j.failures[0].message, /producer expects 8 bytes/);
  assert.not.ok(existsSync(join(out, 'r05.out')));
  assert.is(listAll(out).length, 11);
  const outStop = join(tmp, 'out-stop');
  const s = await cwasiWithStdin(['run', 'examples/sequential.json', '--batch', bad, '--out', outStop, '--on-error', 'stop', '--concurrency', '1', '--json']);
  assert.is(s.code, 1);
  const js = JSON.parse(s.stdout);
  assert.equal([js.done, js.failed], [5, 1], 'one at a time: the five before it, then the failure, then nothing');
  assert.equal(listAll(outStop), ['r00.out', 'r01.out', 'r02.out', 'r03.out', 'r04.out']);
});

test('usage errors exit 2', async () => {
  const noOut = await cwasiWithStdin(['run', 'checksum', '--batch', inputs, '--resume']);
  assert.is(noOut.code, 2);
  assert.match(noOut.stderr, /--resume needs --out/);
  const framing = await cwasiWithStdin(['run', 'checksum', '--batch', inputs, '--framing', 'length']);
  assert.is(framing.code, 2);
  const policy = await cwasiWithStdin(['run', 'checksum', '--batch', inputs, '--on-error', 'maybe']);
  assert.is(policy.code, 2);
  const inside = await cwasiWithStdin(['run', 'checksum', '--batch', inputs, '--out', join(inputs, 'results')]);
  assert.is(inside.code, 2);
  assert.match(inside.stderr, /inside the inputs/);
  const missing = await cwasiWithStdin(['run', 'checksum', '--batch', join(tmp, 'nowhere')]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /error E_INPUT: --batch .*nowhere: ENOENT/);
});

test.run();
