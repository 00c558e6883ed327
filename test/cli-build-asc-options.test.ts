// `cwasi build` passes a project's asc options through (--enable, --use,
// --transform resolved from the project's node_modules, -O, an explicit
// --config), refuses the ones cwasi sets (E_CONFIG, exit 2, naming the
// option) as flags and inside a --config file, never reads an asconfig.json
// it was not given (nor lets its `entries` add modules), and reports code
// that does not compile as E_BUILD (exit 1) with asc's diagnostics. Builds
// that succeed use -O0: the option under test is what matters, not binaryen.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFunction, SET_BY_CWASI, TRANSFORM } from '../engine/build/asc.js';
import { CwasiError } from '../engine/errors.js';
import { USER_STATIC_BASE } from '../engine/memory/layout.js';
import { taggingSource } from './helpers/user-functions.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'cwasi.js');
const tmp = mkdtempSync(join(tmpdir(), 'cwasi-asc-options-'));

/** `cwasi args...` run in `cwd` (a project folder under tmp). */
function cwasiIn(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
const cwasi = (...args: string[]) => cwasiIn(tmp, ...args);

function exportsOf(file: string): Map<string, string> {
  return new Map(WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(file))).map((e) => [e.name, e.kind]));
}

/** A function over v128: output the input's length doubled, as text. */
const SIMD = `import { Bytes, Inputs, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  const v = i32x4.splat(inputs.first().length);
  return Bytes.fromString(i32x4.extract_lane(i32x4.add(v, v), 2).toString());
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
`;

/** FLAG comes only from --use FLAG=N: output FLAG plus the input's length. */
const USES_FLAG = `import { Bytes, Inputs, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  return Bytes.fromString(\`\${FLAG + inputs.first().length}\`);
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
`;

const TYPE_ERROR = 'export function cwasi_main(table: usize, count: u32): i32 { const n: i32 = "text"; return n; }\n';

/** A transform published as a package of the project: it adds an exported global to every module. */
const MARK_TRANSFORM = `import { Transform } from 'assemblyscript/transform';

export default class Mark extends Transform {
  afterCompile(module) {
    module.addGlobal('mark', this.binaryen.i32, false, module.i32.const(7));
    module.addGlobalExport('mark', 'transform_ran');
  }
}
`;

test.before(() => {
  writeFileSync(join(tmp, 'simd.ts'), SIMD);
  writeFileSync(join(tmp, 'use.ts'), USES_FLAG);
  writeFileSync(join(tmp, 'typo.ts'), TYPE_ERROR);
  writeFileSync(join(tmp, 'plain.ts'), taggingSource('p'));
  // The project's node_modules: assemblyscript (which the transform imports) and the transform's package.
  mkdirSync(join(tmp, 'node_modules', 'mark-transform'), { recursive: true });
  symlinkSync(join(root, 'node_modules', 'assemblyscript'), join(tmp, 'node_modules', 'assemblyscript'), 'dir');
  writeFileSync(join(tmp, 'node_modules', 'mark-transform', 'package.json'), JSON.stringify({ name: 'mark-transform', type: 'module', main: 'index.mjs' }));
  writeFileSync(join(tmp, 'node_modules', 'mark-transform', 'index.mjs'), MARK_TRANSFORM);
});

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

test('--enable simd lets a function over v128 compile; without it the build is E_BUILD, exit 1, with the asc diagnostic', async () => {
  const without = await cwasi('build', 'simd.ts', '--out', 'no-simd');
  assert.is(without.code, 1, without.stderr);
  assert.match(without.stderr, /^error E_BUILD: asc could not compile simd\.ts:\nERROR AS103: Feature 'simd' is not enabled\./);
  assert.match(without.stderr, /in simd\.ts\(5,13\)/);
  const ok = await cwasi('build', 'simd.ts', '--enable', 'simd', '-O0', '--out', 'simd');
  assert.is(ok.code, 0, ok.stderr);
  const run = await cwasi('run', join('simd', 'simd.wasm'), '--text', 'hello', '--out', 'simd.out');
  assert.is(run.code, 0, run.stderr);
  assert.is(readFileSync(join(tmp, 'simd.out'), 'utf8'), '10');
});

test('--use NAME=VALUE defines the constant the function reads; a value without = is E_CONFIG', async () => {
  const r = await cwasi('build', 'use.ts', '--use', 'FLAG=40', '-O0', '--out', 'use');
  assert.is(r.code, 0, r.stderr);
  const run = await cwasi('run', join('use', 'use.wasm'), '--text', 'hi', '--out', 'use.out');
  assert.is(run.code, 0, run.stderr);
  assert.is(readFileSync(join(tmp, 'use.out'), 'utf8'), '42');
  const bad = await cwasi('build', 'use.ts', '--use', 'FLAG');
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /error E_CONFIG: --use FLAG: expected NAME=VALUE/);
});

test('--transform names a package of the project: it resolves from the project\'s node_modules and runs', async () => {
  const r = await cwasi('build', 'plain.ts', '--transform', 'mark-transform', '-O0', '--out', 'marked');
  assert.is(r.code, 0, r.stderr);
  const exported = exportsOf(join(tmp, 'marked', 'plain.wasm'));
  assert.is(exported.get('transform_ran'), 'global');
  // The cwasi transform ran too (the build's guest check needs it).
  assert.is(exported.get('__stack_pointer'), 'global');
  const missing = await cwasi('build', 'plain.ts', '--transform', 'no-such-transform');
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /error E_CONFIG: --transform no-such-transform: not found from /);
});

test('options cwasi sets are E_CONFIG, exit 2, naming the option: as flags and inside a --config file', async () => {
  const flags: Array<[string[], string]> = [
    [['--runtime', 'stub'], '--runtime'],
    [['--memoryBase', '0'], '--memoryBase'],
    [['--importMemory'], '--importMemory'],
    [['--enable', 'simd,threads'], '--enable threads'],
    [['--transform', TRANSFORM], `--transform ${TRANSFORM}`],
  ];
  // Refused before anything compiles: the runs are cheap, so they go side by side.
  const fromFlags = await Promise.all(flags.map(([args]) => cwasi('build', 'plain.ts', ...args)));
  flags.forEach(([args, named], i) => {
    const r = fromFlags[i]!;
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`error E_CONFIG: ${named}: cwasi sets this itself and it cannot be overridden`), r.stderr);
  });
  const configs: Array<[Record<string, unknown>, string]> = [
    [{ runtime: 'stub' }, 'options.runtime'],
    [{ memoryBase: 0 }, 'options.memoryBase'],
    [{ enable: ['threads'] }, 'options.enable threads'],
  ];
  const fromConfigs = await Promise.all(configs.map(([options], i) => {
    writeFileSync(join(tmp, `refused-${i}.json`), JSON.stringify({ options }));
    return cwasi('build', 'plain.ts', '--config', `refused-${i}.json`);
  }));
  configs.forEach(([, named], i) => {
    const r = fromConfigs[i]!;
    assert.is(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`error E_CONFIG: refused-${i}.json: ${named}: cwasi sets this itself`), r.stderr);
  });
  // Every refused option is named in cwasi build --help.
  const help = await cwasi('build', '--help');
  for (const asked of Object.keys(SET_BY_CWASI)) assert.ok(help.stdout.includes(asked), asked);
});

test('an asconfig.json in the current folder is ignored unless --config names it; its entries never add modules', async () => {
  const project = join(tmp, 'configured');
  mkdirSync(project);
  writeFileSync(join(project, 'simd.ts'), SIMD);
  writeFileSync(join(project, 'extra.ts'), 'export function extra_marker(): i32 { return 1; }\n');
  writeFileSync(join(project, 'asconfig.json'), JSON.stringify({ entries: ['extra.ts'], options: { enable: ['simd'] } }));
  const ignored = await cwasiIn(project, 'build', 'simd.ts');
  assert.is(ignored.code, 1, ignored.stderr);
  assert.match(ignored.stderr, /error E_BUILD: [\s\S]*Feature 'simd' is not enabled/);
  const given = await cwasiIn(project, 'build', 'simd.ts', '--config', 'asconfig.json', '-O0', '--json');
  assert.is(given.code, 0, given.stderr);
  const report = JSON.parse(given.stdout) as { modules: Array<{ name: string; file: string }> };
  assert.equal(report.modules.map((m) => m.name), ['simd']);
  assert.not.ok(exportsOf(report.modules[0]!.file).has('extra_marker'), 'the config\'s entries were compiled in');
  // A malformed asconfig.json that nobody named breaks nothing (asc used to read it: E_INTERNAL).
  const stray = join(tmp, 'stray');
  mkdirSync(stray);
  writeFileSync(join(stray, 'plain.ts'), taggingSource('s'));
  writeFileSync(join(stray, 'asconfig.json'), '{ "options": ');
  const r = await cwasiIn(stray, 'build', 'plain.ts', '-O0');
  assert.is(r.code, 0, r.stderr);
});

test('a malformed, missing or unsupported --config file is E_CONFIG', async () => {
  writeFileSync(join(tmp, 'broken.json'), '{ "options": { "enable": ["simd"] ');
  writeFileSync(join(tmp, 'unknown.json'), JSON.stringify({ options: { noAssert: false } }));
  writeFileSync(join(tmp, 'targets.json'), JSON.stringify({ targets: { release: { optimizeLevel: 3 } } }));
  const [malformed, missing, unknown, targets] = await Promise.all(['broken.json', 'nowhere.json', 'unknown.json', 'targets.json']
    .map((config) => cwasi('build', 'plain.ts', '--config', config)));
  for (const r of [malformed, missing, unknown, targets]) assert.is(r!.code, 2, r!.stderr);
  assert.match(malformed!.stderr, /error E_CONFIG: --config broken\.json: not valid JSON/);
  assert.match(missing!.stderr, /error E_CONFIG: --config nowhere\.json: cannot read it \(ENOENT\)/);
  assert.match(unknown!.stderr, /error E_CONFIG: unknown\.json: options\.noAssert: not an asc option cwasi build passes on/);
  assert.match(targets!.stderr, /error E_CONFIG: targets\.json: "targets": cwasi build applies only a config's "options"/);
});

test('a type error in the user\'s function is E_BUILD, exit 1, with the diagnostic (also in details.diagnostics)', async () => {
  const r = await cwasi('build', 'typo.ts');
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /^error E_BUILD: asc could not compile typo\.ts:\nERROR TS2322: Type '~lib\/string\/String' is not assignable to type 'i32'\./);
  let thrown: unknown;
  try {
    await compileFunction(join(tmp, 'typo.ts'), USER_STATIC_BASE, tmp);
  } catch (err) {
    thrown = err;
  }
  assert.instance(thrown, CwasiError);
  const e = thrown as CwasiError;
  assert.is(e.code, 'E_BUILD');
  assert.match(String(e.details?.['diagnostics']), /ERROR TS2322: [\s\S]*typo\.ts\(1,76\)/, String(e.details?.['diagnostics']));
});

test.run();
