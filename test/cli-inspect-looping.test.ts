// `cwasi inspect` never runs a module's code on its main thread: a module
// whose start section loops is reported from its bytes alone (not a cwasi
// guest: E_WASM_INVALID, exit 1), and one whose cwasi_abi_version loops is
// called in a worker that is stopped at its time bound (E_TIMEOUT, exit 1).
// Both within 5 s.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawnCwasi } from './helpers/cli.js';
import { LOOP_FOREVER, abiModule, i32c } from './helpers/wasm-builder.js';

/** What the Done-when of the issue allows, CLI start-up included. */
const LIMIT_MS = 5000;
/** Past this the CLI is killed: a hang fails the test instead of the suite. */
const KILL_MS = 30_000;
const dir = mkdtempSync(join(tmpdir(), 'cwasi-inspect-looping-'));

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

function inspect(file: string): Promise<Run> {
  const t0 = performance.now();
  const child = spawnCwasi(['inspect', file]);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => { stdout += b.toString('utf8'); });
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_MS);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

test('a looping start section: not a cwasi guest, E_WASM_INVALID and exit 1, nothing run', async () => {
  const file = join(dir, 'looping-start.wasm');
  writeFileSync(file, abiModule({ start: LOOP_FOREVER }));
  const r = await inspect(file);
  assert.is(r.signal, null, `killed after ${KILL_MS} ms: ${r.stderr}`);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stdout, /cwasi guest {4}NO: .*start section/);
  assert.match(r.stderr, /^error E_WASM_INVALID: .*looping-start\.wasm is not a safe cwasi module: .*start section/m);
  assert.ok(r.ms < LIMIT_MS, `took ${r.ms.toFixed(0)} ms`);
});

test('a looping cwasi_abi_version: E_TIMEOUT and exit 1 at the bound of the worker that calls it', async () => {
  const file = join(dir, 'looping-abi.wasm');
  writeFileSync(file, abiModule({ abiVersionBody: [...LOOP_FOREVER, ...i32c(2)] }));
  const r = await inspect(file);
  assert.is(r.signal, null, `killed after ${KILL_MS} ms: ${r.stderr}`);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /^error E_TIMEOUT: .*cwasi_abi_version did not return within \d+ ms/m);
  assert.ok(r.ms < LIMIT_MS, `took ${r.ms.toFixed(0)} ms`);
});

test('a well-formed hand-built guest still reports its ABI version (exit 0)', async () => {
  const file = join(dir, 'fine.wasm');
  writeFileSync(file, abiModule());
  const r = await inspect(file);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /abi version {4}2/);
  assert.match(r.stdout, /cwasi guest {4}yes/);
});

test.run();
