// The package is the product: `npm pack` of this checkout, installed into an
// empty project, gives a working `import { Engine } from 'cwasi'` (with
// types under moduleResolution nodenext) and its subpath exports
// `cwasi/primitives` and `cwasi/workloads`, a working `cwasi` binary on the
// bundled demo, and a `cwasi build` that compiles a function written in that
// project against "cwasi/sdk", which then runs embedded beside a bundled one;
// and `cwasi init` makes a project whose npm install, test and start pass.
// Uses npm's cache (--prefer-offline); removes everything it made.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as workloads from '../engine/workloads.js';
import { taggingSource } from './helpers/user-functions.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'cwasi-pack-'));
const app = join(tmp, 'app');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Result { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: 120_000, maxBuffer: 32 << 20, env: { ...process.env, FORCE_COLOR: '0' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const node = (args: string[]): Promise<Result> => run(process.execPath, args, app);
const cwasi = (...args: string[]): Promise<Result> => node([join(app, 'node_modules', 'cwasi', 'bin', 'cwasi.js'), ...args]);

let files: string[] = [];

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

test('npm pack ships the engine, the functions, the SDK and the runtime, and no tests or CI files', async () => {
  assert.ok(existsSync(join(root, 'dist', 'functions', 'manifest.json')), 'the checkout is built');
  const r = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root);
  assert.is(r.code, 0, r.stderr);
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = info!.files.map((f) => f.path);
  for (const f of ['package.json', 'LICENSE', 'README.md', 'bin/cwasi.js', 'dist/engine/index.js', 'dist/engine/index.d.ts', 'dist/engine/cli/main.js',
    'dist/engine/primitives.js', 'dist/engine/primitives.d.ts', 'dist/engine/workloads.js', 'dist/engine/workloads.d.ts',
    'dist/functions/manifest.json', 'dist/functions/producer.wasm', 'sdk/index.ts', 'sdk/abi.ts', 'asm-functions/rt/cwasi-rt.ts',
    'asm-functions/rt/export-stack-pointer.mjs', 'asm-functions/ABI.md', 'examples/demo.json', 'bench/reference/cwasi-paper.csv',
    'dist/engine/cli/bench.js', 'dist/bench/overhead.js', 'dist/bench/paper/index.js', 'dist/bench/paper/reference.js']) {
    assert.ok(files.includes(f), `tarball has ${f}`);
  }
  const unwanted = files.filter((f) => /^(test|\.ci|dist\/test|dist\/\.tsbuildinfo)\//.test(f) || f === 'build.mjs' || f.endsWith('.map') || f.startsWith('asm-functions/test-functions/')
    || f.startsWith('dist/functions/test/'));
  assert.equal(unwanted, [], 'no tests, CI files, build script or source maps');
  writeFileSync(join(tmp, 'tarball'), info!.filename);
});

test('the tarball installs into an empty project; Engine imports and runs there, with types', async () => {
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  const tgz = join(tmp, readFileSync(join(tmp, 'tarball'), 'utf8'));
  const inst = await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tgz], app);
  assert.is(inst.code, 0, inst.stderr);
  // The engine's test fixtures are not shipped, nor offered as bundled functions.
  const nosuch = await cwasi('run', 'nosuchfn');
  assert.is(nosuch.code, 1, nosuch.stderr);
  assert.match(nosuch.stderr, /bundled: .*\bproducer\b/);
  assert.not.match(nosuch.stderr, /\b(spin|hog|trap|deep|chain|statics-a|statics-b|gc-corrupt)\b/, nosuch.stderr);
  // No install-time script in the shipped manifest (npm warns about each; `prepare` needed build.mjs, not shipped).
  const shipped = JSON.parse(readFileSync(join(app, 'node_modules', 'cwasi', 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) assert.is(shipped.scripts?.[s], undefined, `shipped script ${s}`);
  assert.not.match(inst.stderr, /install-scripts|prepare/, inst.stderr);

  writeFileSync(join(app, 'main.ts'), [
    "import { Engine, CwasiError, type WorkflowDocument } from 'cwasi';",
    "import { Ring, type WaitOutcome } from 'cwasi/primitives';",
    "import * as workloads from 'cwasi/workloads';",
    "const doc: WorkflowDocument = { name: 'w', functions: { p: { module: 'producer', trusted: true, domain: 'd' }, c: { module: 'checksum', trusted: true, domain: 'd' } }, edges: [{ from: 'p', to: 'c' }] };",
    'const engine: Engine = await Engine.create({ threads: 1 });',
    'await engine.deploy(doc);',
    'const out: Uint8Array = await engine.invoke(doc.name, workloads.producerSpec(65536, 3));',
    'console.log(JSON.stringify(workloads.readChecksums(out)));',
    'await engine.close();',
    'export const isError = (e: unknown): boolean => e instanceof CwasiError;',
    "export const outcome: WaitOutcome = Ring.create(64).tryWrite(new Uint8Array(1)) === 1 ? 'ok' : 'closed';",
    '',
  ].join('\n'));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: false, outDir: 'out',
      types: ['node'], typeRoots: [join(root, 'node_modules', '@types')],
    },
    files: ['main.ts'],
  }));
  const tsc = await node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app]);
  assert.is(tsc.code, 0, tsc.stdout + tsc.stderr);
  const r = await node([join(app, 'out', 'main.js')]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), [{ hash: workloads.checksum(workloads.produce(65536, 3)), length: 65536 }]);
});

test('the subpath exports resolve from the installed package; the internals are no longer on cwasi', async () => {
  writeFileSync(join(app, 'subpaths.mjs'), [
    "const cwasi = await import('cwasi');",
    "const primitives = await import('cwasi/primitives');",
    "const workloads = await import('cwasi/workloads');",
    'console.log(JSON.stringify({',
    "  onCwasi: ['Ring', 'Heap', 'selectMode', 'buildGraph', 'summarize', 'listFiles', 'workloads'].filter((n) => n in cwasi),",
    "  primitives: ['Ring', 'Heap', 'selectMode', 'embedRefusal', 'buildGraph', 'summarize', 'listFiles'].filter((n) => typeof primitives[n] === 'function'),",
    '  checksum: workloads.checksum(new Uint8Array([1, 2, 3])),',
    "  engine: typeof cwasi.Engine.create,",
    '}));',
    '',
  ].join('\n'));
  const r = await node([join(app, 'subpaths.mjs')]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), {
    onCwasi: [],
    primitives: ['Ring', 'Heap', 'selectMode', 'embedRefusal', 'buildGraph', 'summarize', 'listFiles'],
    checksum: workloads.checksum(new Uint8Array([1, 2, 3])),
    engine: 'function',
  });
});

test('the installed cwasi binary runs the bundled demo', async () => {
  const r = await cwasi('run', join(app, 'node_modules', 'cwasi', 'examples', 'demo.json'), '--size', '64KiB', '--seed', '4');
  assert.is(r.code, 0, r.stderr);
  const hex = `0x${workloads.checksum(workloads.transform(workloads.produce(65536, 4))).toString(16).padStart(8, '0')}`;
  assert.match(r.stdout, new RegExp(`checksum-embedded \\(output\\): cwasi-sum32 ${hex} over 65536 bytes`));
});

test('without the optional compiler, cwasi build says what to install; the engine needs none', async () => {
  assert.not.ok(existsSync(join(app, 'node_modules', 'assemblyscript')), 'the tarball alone brings no compiler');
  writeFileSync(join(app, 'tag.ts'), taggingSource('tagged'));
  const b = await cwasi('build', 'tag.ts', '--out', 'fns');
  assert.is(b.code, 1, b.stdout + b.stderr);
  assert.match(b.stderr, /error E_DEPENDENCY_MISSING: .*npm install --save-dev assemblyscript@\d+\.\d+\.\d+/);
});

test('cwasi build compiles a function of the project, which runs embedded beside a bundled one', async () => {
  const pinned = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> }).peerDependencies['assemblyscript'];
  const inst = await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--save-dev', `assemblyscript@${pinned}`], app);
  assert.is(inst.code, 0, inst.stderr);
  const b = await cwasi('build', 'tag.ts', '--out', 'fns');
  assert.is(b.code, 0, b.stderr);
  assert.match(b.stdout, /tag\.wasm\s+tag\.ts\s+\[262144, \d+\)/);
  writeFileSync(join(app, 'flow.json'), JSON.stringify({
    name: 'flow',
    functions: { t: { module: 'fns/tag.wasm', trusted: true, domain: 'x' }, i: { module: 'identity', trusted: true, domain: 'x' } },
    edges: [{ from: 't', to: 'i' }],
    input: { kind: 'text' },
  }));
  const r = await cwasi('run', 'flow.json', '--text', 'hi', '--out', 'out.bin');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /t → i\s+embedded/);
  assert.is(readFileSync(join(app, 'out.bin'), 'utf8'), 'tagged:hi');
});

test('cwasi init makes a project where npm install, npm test and npm start pass', async () => {
  // No --dependency: the new project depends on cwasi the way this one installed it (the tarball).
  const init = await cwasi('init', join(tmp, 'new-app'));
  assert.is(init.code, 0, init.stderr);
  const tgz = join(tmp, readFileSync(join(tmp, 'tarball'), 'utf8'));
  assert.match(init.stdout, new RegExp(`cwasi dependency: file:${tgz.replace(/[/.]/g, '\\$&')} \\(.*package-lock\\.json installed cwasi from file:`));
  const project = join(tmp, 'new-app');
  assert.is((JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies: { cwasi: string } }).dependencies.cwasi, `file:${tgz}`);
  const inst = await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], project);
  assert.is(inst.code, 0, inst.stderr);
  const t = await run(npm, ['test'], project);
  assert.is(t.code, 0, t.stdout + t.stderr);
  // TAP (`# pass 2`) on Node 20 and 22 without a terminal, the spec reporter (`ℹ pass 2`) on 24.
  assert.match(t.stdout, /^(# |ℹ )pass 2$/m);
  const s = await run(npm, ['start'], project);
  assert.is(s.code, 0, s.stdout + s.stderr);
  assert.match(s.stdout, /shout → count\s+embedded/);
  assert.match(s.stdout, /count \(output\): words 3 \| distinct 2 \| HELLO 2 \| CWASI 1/);
  // A second init into the same folder refuses to overwrite it.
  const again = await cwasi('init', project);
  assert.is(again.code, 2);
  assert.match(again.stderr, /error E_CONFIG: .*new-app exists and is not empty/);
});

test.run();
