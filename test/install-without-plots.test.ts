// vega and vega-lite are optional: an install without them runs every command
// (the engine, `cwasi run`, `--help`), and `cwasi bench paper --out` says what
// to install before it measures anything. The install is a copy of the built
// package whose node_modules holds every installed package except vega's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as workloads from '../engine/workloads.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const install = mkdtempSync(join(tmpdir(), 'cwasi-noplots-'));

function cwasi(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(install, 'bin', 'cwasi.js'), ...args], { cwd: install, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test.before(() => {
  for (const p of ['bin', 'dist', 'examples', 'package.json']) cpSync(join(root, p), join(install, p), { recursive: true });
  mkdirSync(join(install, 'node_modules'));
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name === 'vega' || name.startsWith('vega-') || name.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', name), join(install, 'node_modules', name));
  }
  assert.not.ok(existsSync(join(install, 'node_modules', 'vega')));
});

test.after(() => {
  rmSync(install, { recursive: true, force: true });
});

test('--help and cwasi run work without vega', async () => {
  const help = await cwasi('--help');
  assert.is(help.code, 0, help.stderr);
  assert.match(help.stdout, /\brun\b/);
  const r = await cwasi('run', 'examples/demo.json', '--size', '64KiB', '--seed', '3');
  assert.is(r.code, 0, r.stderr);
  const sum = workloads.checksum(workloads.transform(workloads.produce(64 * 1024, 3)));
  assert.match(r.stdout, new RegExp(`cwasi-sum32 0x${sum.toString(16).padStart(8, '0')} over 65536 bytes`));
});

test('bench paper --out explains what to install, before measuring', async () => {
  const out = join(install, 'report');
  const r = await cwasi('bench', 'paper', '--quick', '--modes', 'copy', '--out', out);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^error E_DEPENDENCY_MISSING: .*npm install vega@6\.4\.0 vega-lite@6\.4\.1/m);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  assert.not.ok(existsSync(out), 'nothing was written');
});

test('no source names vega or vega-lite as a module, so that building needs neither', () => {
  const sources: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.ts')) sources.push(p);
    }
  };
  for (const d of ['engine', 'bench', 'test']) walk(join(root, d));
  assert.ok(sources.length > 50);
  const naming = sources.filter((p) => /(from|import\()\s*['"]vega(-lite)?['"]/.test(readFileSync(p, 'utf8')));
  assert.equal(naming, [], 'only bench/paper/plot-renderer.ts loads them, by a name TypeScript does not resolve');
});

test.run();
