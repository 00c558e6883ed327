// File inputs of engine.map land in the first function's memory with one
// read each: the engine's fileInputs counters count the read calls and where
// they landed, and the results match the JS mirror of the bytes on disk. A
// file that disappears fails with E_INPUT and the others carry on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type MapResult } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { listFiles } from '../engine/batch/files.js';
import { SEED, prng } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';

const dir = mkdtempSync(join(tmpdir(), 'cwasi-files-'));
const rand = prng(SEED);
const files = Array.from({ length: 40 }, (_, i) => {
  const bytes = workloads.produce(1 + Math.floor(rand() * 300_000), i);
  const name = `in-${String(i).padStart(3, '0')}.bin`;
  writeFileSync(join(dir, name), bytes);
  return { name, bytes };
});
writeFileSync(join(dir, 'empty.bin'), new Uint8Array(0));
let engine: Engine;

test.before(async () => {
  engine = await Engine.create({ threads: 2 });
  await engine.deploy({
    name: 'files',
    functions: { transform: { module: 'transform', trusted: true, domain: 'f' }, checksum: { module: 'checksum', trusted: true, domain: 'f' } },
    edges: [{ from: 'transform', to: 'checksum' }],
  });
  await engine.deploy([{ name: 'checksum-alone', module: 'checksum' }]);
});

test.after(async () => {
  await closeEngine(engine);
  rmSync(dir, { recursive: true, force: true });
});

test('every file goes from disk into the entry function memory in one read', async () => {
  const items = await listFiles(dir);
  assert.equal(items.map((x) => x.key), [...files.map((f) => f.name), 'empty.bin'].sort());
  const before = engine.stats().fileInputs;
  const results: MapResult[] = [];
  for await (const r of engine.map('files', items, { concurrency: 6 })) results.push(r);
  const after = engine.stats().fileInputs;
  const byKey = new Map(files.map((f) => [f.name, f.bytes]));
  for (const r of results) {
    assert.is(r.error, undefined, r.error?.message);
    const bytes = byKey.get(r.key!) ?? new Uint8Array(0);
    assert.equal(workloads.readChecksums(r.output!), [{ hash: workloads.checksum(workloads.transform(bytes)), length: bytes.length }], r.key);
  }
  const n = items.length;
  const total = files.reduce((a, f) => a + f.bytes.length, 0);
  assert.is(after.files - before.files, n);
  assert.is(after.intoMemory - before.intoMemory, n, 'read straight into a function memory');
  assert.is(after.viaBuffer - before.viaBuffer, 0, 'never through a buffer');
  assert.is(after.bytes - before.bytes, total);
  // One read per non-empty file; an empty file needs none.
  assert.is(after.reads - before.reads, n - 1);
});

test('an untrusted single function gets its files in its own memory too', async () => {
  const before = engine.stats().fileInputs;
  const items = (await listFiles(join(dir, 'in-00*.bin'))).slice(0, 5);
  assert.is(items.length, 5);
  for await (const r of engine.map('checksum-alone', items)) {
    const f = files.find((x) => r.key === x.name)!;
    assert.equal(workloads.readChecksums(r.output!), [{ hash: workloads.checksum(f.bytes), length: f.bytes.length }]);
  }
  const after = engine.stats().fileInputs;
  assert.is(after.intoMemory - before.intoMemory, 5);
  assert.is(after.reads - before.reads, 5);
});

test('a missing file fails with E_INPUT; the others complete', async () => {
  const items = [{ key: 'a', file: join(dir, files[0]!.name) }, { key: 'gone', file: join(dir, 'no-such-file') }, { key: 'b', file: join(dir, files[1]!.name) }];
  const results: MapResult[] = [];
  for await (const r of engine.map('files', items)) results.push(r);
  assert.is(results[1]!.error?.code, 'E_INPUT');
  assert.match(results[1]!.error!.message, /ENOENT/);
  assert.ok(results[0]!.output !== undefined && results[2]!.output !== undefined);
});

test.run();
