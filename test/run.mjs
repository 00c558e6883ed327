#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own Node
// process, so each stays runnable alone and a crash in one cannot hide
// another's results. Prints uvu's output per file, then one summary line:
//   N passed, N failed
//
//   node test/run.mjs                 all tests
//   node test/run.mjs ring heap       only files whose name contains "ring" or "heap"
//   CWASI_TEST_JOBS=2 node test/run.mjs   two files at a time (default 1)

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const testDir = join(root, 'dist', 'test');
const filters = process.argv.slice(2);
const jobs = Math.max(1, Number(process.env.CWASI_TEST_JOBS ?? 1));
/** A test file that has not finished after this long is killed and counted as failed. */
const FILE_TIMEOUT_MS = Number(process.env.CWASI_TEST_FILE_TIMEOUT_MS ?? 180_000);

function list(dir) {
  const out = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...list(p));
    else if (e.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = list(testDir).filter((f) => filters.length === 0 || filters.some((x) => relative(testDir, f).includes(x)));
let passed = 0;
let failed = 0;
const failures = [];

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [file], { cwd: root, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n(killed after ${FILE_TIMEOUT_MS} ms)\n`;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
      const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
      let p = 0;
      let f = 0;
      if (Number.isFinite(total) && Number.isFinite(ok)) {
        p = ok;
        f = total - ok - skipped;
        if (code !== 0 && f === 0) f = 1;
      } else {
        f = 1;
      }
      const name = relative(testDir, file);
      process.stdout.write(`── ${name} (${((Date.now() - started) / 1000).toFixed(1)} s): ${p} passed, ${f} failed\n`);
      if (f > 0 || code !== 0) process.stdout.write(out.replace(/^/gm, '   ') + '\n');
      passed += p;
      failed += f;
      if (f > 0) failures.push(name);
      resolve();
    });
  });
}

const queue = [...files];
await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
  while (queue.length > 0) await runFile(queue.shift());
}));
if (failures.length > 0) process.stdout.write(`failed files: ${failures.join(', ')}\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
