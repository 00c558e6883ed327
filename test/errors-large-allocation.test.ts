// Allocations the runtime cannot satisfy fail typed, naming the size, never
// as a bare `unreachable`: above AssemblyScript's 1 GiB block limit (which the
// cwasi runtime does not have), above what any wasm32 memory holds, and the
// CLI refuses inputs and producer outputs over the payload limit before it
// generates or reads a byte of them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MAX_PAYLOAD_BYTES, Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { rejectsWith } from './helpers/assert-error.js';
import { MiB } from './helpers/env.js';
import { closeEngine } from './helpers/settle.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'cwasi.js');
const tmp = mkdtempSync(join(tmpdir(), 'cwasi-large-'));
let engine: Engine;

function cwasi(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test.before(async () => {
  engine = await Engine.create({ threads: 1 });
  // A 64 MiB memory: every request below is refused without touching gigabytes.
  await engine.deploy({ name: 'producer', module: 'producer', memoryMaxBytes: 64 * MiB });
});

test.after(async () => {
  await closeEngine(engine);
  rmSync(tmp, { recursive: true, force: true });
});

test('an allocation above 1 GiB reaches the host and is E_MEMORY_LIMIT naming its size', async () => {
  const size = 2 ** 30 + 4096;
  const e = await rejectsWith(engine.invoke('producer', workloads.producerSpec(size, 1)), 'E_MEMORY_LIMIT',
    new RegExp(`producer: cannot allocate \\d+ bytes: memory maximum of ${64 * MiB} bytes reached`));
  // The size asked of the host: the allocation plus the runtime's header and alignment.
  const asked = Number(/cannot allocate (\d+) bytes/.exec(e.message)![1]);
  assert.ok(asked >= size && asked < size + 256, `asked ${asked}`);
  // The producer's largest output is refused the same way.
  await rejectsWith(engine.invoke('producer', workloads.producerSpec(workloads.PRODUCER_MAX_BYTES, 1)), 'E_MEMORY_LIMIT', /cannot allocate \d+ bytes/);
  // What fits still works afterwards.
  const out = await engine.invoke('producer', workloads.producerSpec(8 * MiB, 3));
  assert.is(out.length, 8 * MiB);
});

test('the CLI refuses a producer size or a generated input over the limit before making it', async () => {
  const spec = await cwasi('run', 'producer', '--size', '3GiB');
  assert.is(spec.code, 1, spec.stdout);
  assert.match(spec.stderr, new RegExp(`error E_PAYLOAD_TOO_LARGE: --size 3GiB: the producer makes at most ${workloads.PRODUCER_MAX_BYTES} bytes, asked for ${3 * 2 ** 30}`));
  const over = await cwasi('run', 'producer', '--size', '1.5GiB');
  assert.match(over.stderr, new RegExp(`error E_PAYLOAD_TOO_LARGE: --size 1.5GiB: ${1.5 * 2 ** 30} bytes exceeds the payload limit of ${DEFAULT_MAX_PAYLOAD_BYTES} bytes`));
  const bytes = await cwasi('run', 'identity', '--size', '3GiB');
  assert.is(bytes.code, 1);
  assert.match(bytes.stderr, /error E_PAYLOAD_TOO_LARGE: --size 3GiB: \d+ bytes exceeds the payload limit/);
  assert.not.match(bytes.stdout, /placement/, 'refused before deploying');
});

test('the CLI refuses an input file over the limit before reading it', async () => {
  // A sparse file: its size is known without writing (or reading) its bytes.
  const big = join(tmp, 'big.bin');
  const fd = openSync(big, 'w');
  ftruncateSync(fd, DEFAULT_MAX_PAYLOAD_BYTES + 1);
  closeSync(fd);
  const r = await cwasi('run', 'identity', '--input', big);
  assert.is(r.code, 1);
  assert.match(r.stderr, new RegExp(`error E_PAYLOAD_TOO_LARGE: --input .*big\\.bin: ${DEFAULT_MAX_PAYLOAD_BYTES + 1} bytes exceeds the payload limit`));
});

test.run();
