#!/usr/bin/env node
// Builds cwasi: the TypeScript engine (tsc → dist/) and every AssemblyScript
// function (asc → dist/functions/*.wasm plus manifest.json).
//
// Functions are compiled against an imported shared memory with the cwasi
// runtime (asm-functions/rt/cwasi-rt.ts). Each gets its own static region
// (--memoryBase) so that any set of bundled functions can be embedded in one
// memory: a first pass measures every module's static data, then bases are
// handed out one after the other and each module is compiled again at its base.
//
//   node build.mjs             build everything
//   node build.mjs --if-stale  build only when a source is newer than the last build

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const stamp = join(dist, '.build-stamp');
const functionDirs = ['asm-functions/functions', 'asm-functions/test-functions'];
const sourceDirs = ['engine', 'asm-functions', 'bench', 'test'];
const sourceFiles = ['tsconfig.json', 'build.mjs', 'package.json'];

/** Alignment of each static region (bytes). */
const REGION_ALIGN = 64;
/** Every imported memory is declared with the wasm32 maximum; the engine sets the real one. */
const DECLARED_MAX_PAGES = 65536;

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

function buildTypeScript() {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const res = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (res.status !== 0) throw new Error('TypeScript compilation failed');
}

async function compileFunction(asc, source, memoryBase) {
  let wasm;
  const args = [
    source,
    '--outFile', 'out.wasm',
    '--importMemory', '--sharedMemory',
    '--maximumMemory', String(DECLARED_MAX_PAGES),
    '--enable', 'threads',
    '--memoryBase', String(memoryBase),
    '--runtime', './asm-functions/rt/cwasi-rt',
    '--exportStart', '_start',
    '--transform', './asm-functions/rt/export-stack-pointer.mjs',
    '-O3', '--noAssert',
  ];
  const stderr = [];
  const { error } = await asc.main(args, {
    baseDir: root,
    stdout: { write: () => true },
    stderr: { write: (chunk) => { stderr.push(String(chunk)); return true; } },
    writeFile: (name, contents) => { if (name.endsWith('.wasm')) wasm = contents; },
  });
  if (error) throw new Error(`asc failed for ${source}:\n${stderr.join('')}${error.message}`);
  if (!wasm) throw new Error(`asc produced no wasm for ${source}`);
  return wasm;
}

async function buildFunctions() {
  const asc = (await import('assemblyscript/asc')).default;
  const { inspectModule } = await import('./dist/engine/memory/inspect.js');
  const { STATIC_BASE, LAYOUT_VERSION } = await import('./dist/engine/memory/layout.js');
  const sources = [];
  for (const dir of functionDirs) {
    for (const file of readdirSync(join(root, dir)).sort()) {
      if (file.endsWith('.ts')) sources.push({ name: file.slice(0, -3), source: `${dir}/${file}`, testOnly: dir.endsWith('test-functions') });
    }
  }
  const staticOf = (bytes) => inspectModule(bytes, new WebAssembly.Module(bytes)).staticRegion;

  // Pass 1: measure each module's static data at the lowest base.
  const measured = await mapLimit(sources, 2, async (f) => {
    const r = staticOf(await compileFunction(asc, f.source, STATIC_BASE));
    return r.end === 0 ? 0 : r.end - STATIC_BASE;
  });

  // Hand out disjoint regions, then pass 2 at the final bases.
  let next = STATIC_BASE;
  const bases = measured.map((size) => {
    const base = next;
    next = Math.ceil((base + Math.max(size, 1)) / REGION_ALIGN) * REGION_ALIGN;
    return base;
  });
  const outDir = join(dist, 'functions');
  mkdirSync(outDir, { recursive: true });
  const built = await mapLimit(sources, 2, async (f, i) => {
    const wasm = await compileFunction(asc, f.source, bases[i]);
    const region = staticOf(wasm);
    const end = region.end === 0 ? bases[i] : region.end;
    if (end - bases[i] !== measured[i]) throw new Error(`static size of ${f.name} changed between passes`);
    writeFileSync(join(outDir, `${f.name}.wasm`), wasm);
    return {
      name: f.name,
      file: `${f.name}.wasm`,
      source: f.source,
      testOnly: f.testOnly,
      memoryBase: bases[i],
      staticEnd: end,
      sha256: createHash('sha256').update(wasm).digest('hex'),
    };
  });
  const manifest = { layoutVersion: LAYOUT_VERSION, abiVersion: 1, functions: Object.fromEntries(built.map((b) => [b.name, b])) };
  writeFileSync(join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return built;
}

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

async function main() {
  const ifStale = process.argv.includes('--if-stale');
  if (ifStale && !isStale()) return;
  const t0 = performance.now();
  buildTypeScript();
  const built = await buildFunctions();
  writeFileSync(stamp, new Date().toISOString() + '\n');
  const ms = Math.round(performance.now() - t0);
  process.stderr.write(`cwasi build: engine and ${built.length} functions in ${ms} ms (${relative(root, dist)}/)\n`);
}

main().catch((err) => {
  process.stderr.write(`cwasi build failed: ${err.message}\n`);
  process.exit(1);
});
