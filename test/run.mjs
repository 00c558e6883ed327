#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own Node
// process, so each stays runnable alone and a crash in one cannot hide
// another's results. Files run side by side, as many at a time as the machine
// has cores; a file whose source opens with the line
//   // cwasi-test: exclusive (why)
// (it measures timing or throughput, or makes network namespaces) runs alone,
// after the others. Prints uvu's output per file, then the wall time and one
// summary line:
//   N passed, N failed
//
//   node test/run.mjs                 all tests
//   node test/run.mjs ring heap       only files whose name contains "ring" or "heap"
//   CWASI_TEST_JOBS=1 node test/run.mjs   one file at a time (default: os.availableParallelism())
//
// Flake hunting:
//   node test/run.mjs --repeat 20 [filter...]   run the selection 20 times (or CWASI_TEST_REPEAT=20)
//   node test/run.mjs --stress [filter...]      beside CPU and memory pressure (or CWASI_TEST_STRESS=1)
// Round r of a repeat runs with CWASI_SEED = base + r (base: CWASI_SEED or the
// tests' default), so repeats explore different seeds; every failure is listed
// at the end with its file, round, seed and time, and replays with
//   CWASI_SEED=<seed> node test/run.mjs <file>
// The pressure is child processes started here and stopped by pid when the run
// ends (also on SIGINT/SIGTERM); each also exits by itself after
// CWASI_STRESS_MAX_S seconds (default 1800), so none outlives a killed runner;
// under --repeat the pressure is restarted at the start of every round.
//   CWASI_STRESS_CPU    busy-looping processes (default: number of cores)
//   CWASI_STRESS_MEM_MB MiB one process keeps re-touching (default 256; 0 for none)

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const testDir = join(root, 'dist', 'test');
/** Makes uvu print the error of a failing before/after hook (test/hook-errors.mjs). */
const hookErrors = new URL('./hook-errors.mjs', import.meta.url).href;

function parseArgs(argv) {
  const out = { filters: [], repeat: Number(process.env.CWASI_TEST_REPEAT ?? 1), stress: process.env.CWASI_TEST_STRESS === '1' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--repeat') out.repeat = Number(argv[++i]);
    else if (a.startsWith('--repeat=')) out.repeat = Number(a.slice('--repeat='.length));
    else if (a === '--stress') out.stress = true;
    else if (a === '--help' || a === '-h') {
      // The usage is the comment at the top of this file.
      const head = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
      process.stdout.write(`${head.slice(0, head.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
      process.exit(0);
    } else if (a.startsWith('-')) {
      process.stderr.write(`unknown option ${a} (see --help)\n`);
      process.exit(2);
    } else out.filters.push(a);
  }
  if (!Number.isInteger(out.repeat) || out.repeat < 1 || out.repeat > 10_000) {
    process.stderr.write(`--repeat wants a whole number from 1 to 10000 (got ${out.repeat})\n`);
    process.exit(2);
  }
  return out;
}

const { filters, repeat, stress } = parseArgs(process.argv.slice(2));
const jobs = Math.max(1, Number(process.env.CWASI_TEST_JOBS ?? availableParallelism()));
/** A test file that has not finished after this long is killed and counted as failed. */
const FILE_TIMEOUT_MS = Number(process.env.CWASI_TEST_FILE_TIMEOUT_MS ?? 180_000);
/** The tests' default seed (test/helpers/env.ts); rounds of a repeat add their index. */
const BASE_SEED = Number(process.env.CWASI_SEED ?? 20261126);

/** The marker line that makes a test file run alone. */
const EXCLUSIVE = /^\/\/ cwasi-test: exclusive\b/;

/**
 * Whether the source of compiled test `file` opens with the exclusive marker.
 * The source is read, not the output: tsc keeps the comment, but a source is
 * what a reader edits. A file without a source (built elsewhere) runs alone.
 */
function isExclusive(file) {
  const source = join(root, relative(join(root, 'dist'), file)).replace(/\.js$/, '.ts');
  if (!existsSync(source)) return true;
  return EXCLUSIVE.test(readFileSync(source, 'utf8').split('\n', 1)[0]);
}

function list(dir) {
  const out = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...list(p));
    else if (e.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// ── pressure ──────────────────────────────────────────────────────────────

const pressure = [];

function startPressure() {
  const maxS = Number(process.env.CWASI_STRESS_MAX_S ?? 1800);
  const cpu = Number(process.env.CWASI_STRESS_CPU ?? cpus().length);
  const memMb = Number(process.env.CWASI_STRESS_MEM_MB ?? 256);
  // Each hog checks the clock itself: it ends after maxS even if this runner is SIGKILLed.
  const cpuHog = `const end = Date.now() + ${maxS * 1000}; let x = 1; while (Date.now() < end) { for (let i = 0; i < 1e6; i++) x = (x * 1664525 + 1013904223) | 0; }`;
  const memHog = `const end = Date.now() + ${maxS * 1000}; const b = Buffer.alloc(${memMb} << 20);`
    + ' const tick = () => { if (Date.now() >= end) process.exit(0); for (let i = 0; i < b.length; i += 4096) b[i]++; setTimeout(tick, 5); }; tick();';
  const hogs = Array.from({ length: cpu }, () => cpuHog);
  if (memMb > 0) hogs.push(memHog);
  for (const src of hogs) {
    const child = spawn(process.execPath, ['-e', src], { stdio: 'ignore' });
    pressure.push(child);
  }
  process.stdout.write(`stress: ${cpu} CPU-bound processes, ${memMb} MiB re-touched, each ends by itself after ${maxS} s (pids ${pressure.map((c) => c.pid).join(' ')})\n`);
}

function stopPressure() {
  for (const child of pressure.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

// ── running ───────────────────────────────────────────────────────────────

const files = list(testDir).filter((f) => filters.length === 0 || filters.some((x) => relative(testDir, f).includes(x)));
const alone = files.filter(isExclusive);
const together = files.filter((f) => !alone.includes(f));
let passed = 0;
let failed = 0;
/** Every failure: { name, round, seed, seconds, excerpt }. */
const failures = [];
const children = new Set();

function runFile(file, round) {
  return new Promise((resolve) => {
    const started = Date.now();
    const env = { ...process.env, FORCE_COLOR: '0' };
    const seed = repeat > 1 ? BASE_SEED + round : BASE_SEED;
    if (repeat > 1) env.CWASI_SEED = String(seed);
    const child = spawn(process.execPath, ['--import', hookErrors, file], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n(killed after ${FILE_TIMEOUT_MS} ms)\n`;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      children.delete(child);
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
      const seconds = (Date.now() - started) / 1000;
      const tag = repeat > 1 ? ` [round ${round + 1}/${repeat}, seed ${seed}]` : '';
      process.stdout.write(`── ${name}${tag} (${seconds.toFixed(1)} s): ${p} passed, ${f} failed\n`);
      if (f > 0 || code !== 0) process.stdout.write(out.replace(/^/gm, '   ') + '\n');
      passed += p;
      failed += f;
      if (f > 0) {
        // The first lines naming a failed test (uvu prints "FAIL  <suite>  "<name>"") and its assertion.
        const excerpt = out.split('\n').filter((l) => /FAIL|Error|expected|killed after/i.test(l)).slice(0, 4).map((l) => l.trim());
        failures.push({ name, round, seed, seconds, excerpt });
      }
      resolve();
    });
  });
}

function onSignal(sig) {
  stopPressure();
  for (const c of children) c.kill('SIGKILL');
  process.stdout.write(`\n${sig}: stopped\n`);
  process.exit(130);
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

const runStarted = Date.now();
try {
  for (let round = 0; round < repeat; round++) {
    // Pressure restarts each round: a hog's own time limit then bounds one
    // round, and a long repeat never runs its later rounds without pressure.
    if (stress) {
      stopPressure();
      startPressure();
    }
    const before = { passed, failed, at: Date.now() };
    const queue = [...together];
    await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      while (queue.length > 0) await runFile(queue.shift(), round);
    }));
    // Timing and namespace tests, one at a time on an otherwise idle runner.
    for (const file of alone) await runFile(file, round);
    if (repeat > 1) {
      const s = ((Date.now() - before.at) / 1000).toFixed(0);
      process.stdout.write(`== round ${round + 1}/${repeat}: ${passed - before.passed} passed, ${failed - before.failed} failed in ${s} s\n`);
    }
  }
} finally {
  stopPressure();
}
if (failures.length > 0) {
  process.stdout.write(`failed files: ${[...new Set(failures.map((f) => f.name))].join(', ')}\n`);
  if (repeat > 1 || stress) {
    for (const f of failures) {
      process.stdout.write(`  ${f.name}: round ${f.round + 1}, CWASI_SEED=${f.seed}, ${f.seconds.toFixed(1)} s\n${f.excerpt.map((l) => `    ${l}\n`).join('')}`);
    }
  }
}
const wall = ((Date.now() - runStarted) / 1000).toFixed(1);
if (repeat > 1) process.stdout.write(`${repeat} rounds of ${files.length} files in ${wall} s${stress ? ' under stress' : ''}\n`);
else process.stdout.write(`${files.length} files in ${wall} s (${together.length} up to ${jobs} at a time, ${alone.length} alone)\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
