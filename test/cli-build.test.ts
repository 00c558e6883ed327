// `cwasi build`, `cwasi inspect` and bare .wasm targets, through the real
// binary: modules of one build get disjoint static regions in the user range,
// above every bundled region, so they embed with each other and with every
// bundled function; a second build placed at the printed --base embeds beside
// the first; bad bases fail with E_CONFIG, sources that do not compile with
// E_BUILD and asc's diagnostics.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../engine/index.js';
import { STATIC_LIMIT, USER_STATIC_BASE } from '../engine/memory/layout.js';
import { closeEngine } from './helpers/settle.js';
import { taggingSource } from './helpers/user-functions.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'cwasi.js');
const tmp = mkdtempSync(join(tmpdir(), 'cwasi-build-'));

function cwasi(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: tmp, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

interface BuildReport { nextBase: number; modules: Array<{ name: string; file: string; memoryBase: number; staticEnd: number }> }

let first: BuildReport;

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

test('one build places each module in its own region of the user range, above the bundled ones', async () => {
  for (const t of ['a', 'b', 'c']) writeFileSync(join(tmp, `${t}.ts`), taggingSource(t.repeat(40)));
  const r = await cwasi('build', 'a.ts', 'b.ts', 'c.ts', '--out', 'one', '--json');
  assert.is(r.code, 0, r.stderr);
  first = JSON.parse(r.stdout) as BuildReport;
  assert.equal(first.modules.map((m) => m.name), ['a', 'b', 'c']);
  const bundled = JSON.parse(readFileSync(join(root, 'dist', 'functions', 'manifest.json'), 'utf8')) as { functions: Record<string, { staticEnd: number }> };
  const bundledEnd = Math.max(...Object.values(bundled.functions).map((f) => f.staticEnd));
  assert.ok(bundledEnd <= USER_STATIC_BASE, `bundled regions end at ${bundledEnd}`);
  let prevEnd = USER_STATIC_BASE;
  for (const m of first.modules) {
    assert.ok(m.memoryBase >= prevEnd && m.staticEnd > m.memoryBase && m.staticEnd <= STATIC_LIMIT, `${m.name} [${m.memoryBase}, ${m.staticEnd})`);
    prevEnd = m.staticEnd;
  }
  assert.ok(first.nextBase >= prevEnd);
  const text = await cwasi('build', 'a.ts', '--out', 'text');
  assert.match(text.stdout, new RegExp(`a\\.wasm\\s+a\\.ts\\s+\\[${USER_STATIC_BASE}, \\d+\\)`));
  assert.match(text.stdout, /a separate build to embed beside these: --base \d+/);
});

test('modules of one build, a second build at the printed base and every bundled function share one memory', async () => {
  writeFileSync(join(tmp, 'd.ts'), taggingSource('d'));
  const r = await cwasi('build', 'd.ts', '--out', 'two', '--base', String(first.nextBase), '--json');
  assert.is(r.code, 0, r.stderr);
  const second = JSON.parse(r.stdout) as BuildReport;
  assert.is(second.modules[0]!.memoryBase, first.nextBase);
  const engine = await Engine.create({ threads: 1 });
  try {
    const trusted = { trusted: true, domain: 'users' };
    // Every bundled function joins the same memory first (deployed, not run).
    await engine.deploy(engine.bundledFunctions().map((n) => ({ name: `bundled-${n}`, module: n, ...trusted })));
    await engine.deploy({
      name: 'users',
      functions: {
        ...Object.fromEntries(first.modules.map((m) => [m.name, { module: m.file, ...trusted }])),
        d: { module: second.modules[0]!.file, ...trusted },
        id: { module: 'identity', ...trusted },
      },
      edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'd' }, { from: 'd', to: 'id' }],
    });
    const report = await engine.invokeWithReport('users', new TextEncoder().encode('x'));
    assert.is(new TextDecoder().decode(report.output), `d:${'c'.repeat(40)}:${'b'.repeat(40)}:${'a'.repeat(40)}:x`);
    assert.ok(report.edges.every((e) => e.mode === 'embedded'), JSON.stringify(report.edges));
  } finally {
    await closeEngine(engine);
  }
});

test('a base below the user range, or past its end, is E_CONFIG', async () => {
  for (const base of ['1024', String(STATIC_LIMIT), 'lots']) {
    const r = await cwasi('build', 'a.ts', '--base', base);
    assert.is(r.code, 2, r.stdout);
    assert.match(r.stderr, new RegExp(`error E_CONFIG: --base ${base}: must be an integer in \\[${USER_STATIC_BASE}, ${STATIC_LIMIT}\\)`));
  }
});

test('a source that does not compile is E_BUILD (exit 1) with the compiler diagnostic', async () => {
  writeFileSync(join(tmp, 'broken.ts'), 'export function cwasi_main(table: usize, count: u32): i32 { return nope; }\n');
  const r = await cwasi('build', 'broken.ts');
  assert.is(r.code, 1);
  assert.match(r.stderr, /error E_BUILD: asc could not compile broken\.ts:[\s\S]*Cannot find name 'nope'/);
});

test('inspect: a built module is a guest embeddable beside the bundled ones, whole-payload; a streaming one says so; a bundled region clash is named', async () => {
  const ok = await cwasi('inspect', first.modules[0]!.file);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /abi version {4}2/);
  assert.match(ok.stdout, /cwasi guest {4}yes/);
  assert.match(ok.stdout, /embeddable {5}yes, beside every bundled function/);
  assert.match(ok.stdout, /streams {8}no \(whole payloads\)/);
  const j = JSON.parse((await cwasi('inspect', first.modules[0]!.file, '--json')).stdout) as { staticRegion: { start: number; end: number }; streams: { reads: boolean; writes: boolean } };
  assert.ok(j.staticRegion.start >= first.modules[0]!.memoryBase && j.staticRegion.end === first.modules[0]!.staticEnd);
  assert.equal(j.streams, { reads: false, writes: false });
  // A bundled streaming function says so.
  const streaming = await cwasi('inspect', join(root, 'dist', 'functions', 'stream-transform.wasm'));
  assert.match(streaming.stdout, /streams {8}reads its input as a stream, writes its output as a stream/);
  // The bundled checksum's source built by hand at the bundled producer's base.
  const manifest = JSON.parse(readFileSync(join(root, 'dist', 'functions', 'manifest.json'), 'utf8')) as { functions: Record<string, { memoryBase: number }> };
  const { compileFunction } = await import('../engine/build/asc.js');
  const clash = await compileFunction(join(root, 'asm-functions/functions/checksum.ts'), manifest.functions['producer']!.memoryBase, root);
  writeFileSync(join(tmp, 'clash.wasm'), clash);
  const bad = await cwasi('inspect', 'clash.wasm');
  assert.match(bad.stdout, /embeddable {5}NO: static data \[\d+, \d+\) overlaps the bundled producer/);
  const garbage = join(tmp, 'garbage.wasm');
  writeFileSync(garbage, 'not wasm');
  const g = await cwasi('inspect', garbage);
  assert.is(g.code, 1);
  assert.match(g.stderr, /error E_WASM_INVALID: .*garbage\.wasm is not valid WebAssembly/);
});

test('run and plan take a bare .wasm: one function, its bytes as input', async () => {
  const r = await cwasi('run', first.modules[1]!.file, '--text', 'hey', '--out', 'out.bin');
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(join(tmp, 'out.bin'), 'utf8'), `${'b'.repeat(40)}:hey`);
  const p = await cwasi('plan', first.modules[1]!.file);
  assert.is(p.code, 0, p.stderr);
  assert.match(p.stdout, /\bb\s+local\s+local\/fn:b\s+untrusted/);
  const missing = await cwasi('run', 'nowhere.wasm');
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /error E_IO: module file nowhere\.wasm: no such file or directory/);
});

test.run();
