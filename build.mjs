#!/usr/bin/env node
// Builds cwasi: the TypeScript projects (tsc -b → dist/engine, dist/bench,
// dist/test; tsconfig.json lists them) and every AssemblyScript function
// (asc → dist/functions/*.wasm plus manifest.json).
//
// Functions are compiled exactly as `cwasi build` compiles a user's
// (engine/build/asc.ts: flags, runtime, transform). Each gets its own static
// region (--memoryBase), packed one after the other from STATIC_BASE, so
// that any set of bundled functions can be embedded in one memory; all of
// them stay below USER_STATIC_BASE, where user builds start.
//
//   node build.mjs             build everything
//   node build.mjs --if-stale  build only when a source is newer than the last build

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const stamp = join(dist, '.build-stamp');
const functionDirs = ['asm-functions/functions', 'asm-functions/test-functions'];
const sourceDirs = ['engine', 'asm-functions', 'sdk', 'bench', 'test'];
const sourceFiles = ['tsconfig.json', 'tsconfig.base.json', 'build.mjs', 'package.json'];

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function isStale() {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const inputs = [...sourceDirs, ...sourceFiles].map((p) => join(root, p)).filter(existsSync);
  return inputs.some((p) => newestMtime(p) > built);
}

/**
 * The engine, then the benchmarks (which import it by its package name), then
 * the tests. tsc -b rebuilds a project only when its inputs or a project it
 * references changed (dist/.tsbuildinfo/ records them).
 */
function buildTypeScript() {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const res = spawnSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (res.status !== 0) throw new Error('TypeScript compilation failed');
}

/**
 * Remove compiled files whose TypeScript source is gone (a renamed or deleted
 * module), so that a stale test is not run and `npm pack` ships no orphan.
 */
function pruneOrphans(dir = dist) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (p !== join(dist, 'functions')) pruneOrphans(p);
      continue;
    }
    const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(entry.name);
    if (m === null) continue;
    const source = join(root, relative(dist, dir), `${m[1]}.ts`);
    if (!existsSync(source)) rmSync(p);
  }
}

async function buildBundled() {
  // The asc flags, the runtime and the region scheme live in one place, shared with `cwasi build`.
  const { buildFunctions } = await import('./dist/engine/build/asc.js');
  const { STATIC_BASE, USER_STATIC_BASE, LAYOUT_VERSION } = await import('./dist/engine/memory/layout.js');
  const sources = [];
  for (const dir of functionDirs) {
    for (const file of readdirSync(join(root, dir)).sort()) {
      if (file.endsWith('.ts')) sources.push({ source: `${dir}/${file}`, testOnly: dir.endsWith('test-functions') });
    }
  }
  // Bundled regions stay below USER_STATIC_BASE, so a user's module never overlaps one of them.
  const built = await buildFunctions(sources.map((s) => s.source), { base: STATIC_BASE, limit: USER_STATIC_BASE, baseDir: root });
  // The engine's test fixtures (spin, trap, hog, ...) go to functions/test/ with a
  // manifest of their own: the engine resolves them by name where that folder
  // exists (a checkout), and the package does not ship it.
  const outDir = join(dist, 'functions');
  const testDir = join(outDir, 'test');
  mkdirSync(testDir, { recursive: true });
  const entries = built.map((b, i) => {
    const testOnly = sources[i].testOnly;
    writeFileSync(join(testOnly ? testDir : outDir, `${b.name}.wasm`), b.wasm);
    return { name: b.name, file: `${b.name}.wasm`, source: b.source, testOnly, memoryBase: b.memoryBase, staticEnd: b.staticEnd, sha256: b.sha256 };
  });
  const manifest = (list) => JSON.stringify({ layoutVersion: LAYOUT_VERSION, abiVersion: 2, functions: Object.fromEntries(list.map((e) => [e.name, e])) }, null, 2) + '\n';
  writeFileSync(join(outDir, 'manifest.json'), manifest(entries.filter((e) => !e.testOnly)));
  writeFileSync(join(testDir, 'manifest.json'), manifest(entries.filter((e) => e.testOnly)));
  // A fixture built into functions/ by an older build would still be shipped.
  for (const e of entries) if (e.testOnly) rmSync(join(outDir, e.file), { force: true });
  return entries;
}

async function main() {
  const ifStale = process.argv.includes('--if-stale');
  if (ifStale && !isStale()) return;
  const t0 = performance.now();
  buildTypeScript();
  pruneOrphans();
  const built = await buildBundled();
  writeFileSync(stamp, new Date().toISOString() + '\n');
  const ms = Math.round(performance.now() - t0);
  process.stderr.write(`cwasi build: engine and ${built.length} functions in ${ms} ms (${relative(root, dist)}/)\n`);
}

main().catch((err) => {
  process.stderr.write(`cwasi build failed: ${err.message}\n`);
  process.exit(1);
});
