// The layering of the engine's sources: the main thread never loads the
// worker's guest host or the AssemblyScript loader (the ABI constants it needs
// live in engine/abi.ts), and the channels never reach into the worker. Read
// from the sources with the TypeScript compiler, following value imports
// (type-only imports load nothing). The scheduler and the worker ask a channel
// what it can do instead of comparing mode names. The benchmarks stand on the
// package's exports, as a user's code would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { root } from './helpers/cli.js';

/** Value imports of one source file: relative ones resolved to repo paths, bare ones as written. */
function valueImports(path: string): string[] {
  const sf = ts.createSourceFile(path, readFileSync(join(root, path), 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  for (const st of sf.statements) {
    let spec: ts.Expression | undefined;
    if (ts.isImportDeclaration(st)) {
      if (st.importClause?.isTypeOnly) continue;
      // `import { type A }` still loads the module in ESM: only `import type` is skipped.
      spec = st.moduleSpecifier;
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier !== undefined) {
      if (st.isTypeOnly) continue;
      spec = st.moduleSpecifier;
    }
    if (spec === undefined || !ts.isStringLiteral(spec)) continue;
    const name = spec.text;
    if (!name.startsWith('.')) {
      out.push(name);
      continue;
    }
    const resolved = relative(root, join(root, dirname(path), name.replace(/\.js$/, '.ts')));
    if (existsSync(join(root, resolved))) out.push(resolved);
  }
  return out;
}

/** Every file reachable from `entry` through value imports. */
function closure(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    if (f.endsWith('.ts')) for (const i of valueImports(f)) todo.push(i);
  }
  return seen;
}

test('the main thread never loads the guest host or the AssemblyScript loader', () => {
  for (const entry of ['engine/engine.ts', 'engine/index.ts', 'engine/cli/main.ts', 'engine/primitives.ts', 'engine/workloads.ts']) {
    const reach = closure(entry);
    assert.not.ok(reach.has('engine/worker/host.ts'), `${entry} reaches engine/worker/host.ts`);
    assert.not.ok(reach.has('engine/worker/worker.ts'), `${entry} reaches engine/worker/worker.ts`);
    assert.not.ok(reach.has('@assemblyscript/loader'), `${entry} reaches @assemblyscript/loader`);
    // The compiler is an optional peer: it is imported when a build runs, never when a module loads.
    assert.not.ok([...reach].some((f) => f.startsWith('assemblyscript')), `${entry} reaches the AssemblyScript compiler`);
  }
  // A check that could fail: the closure does follow imports.
  assert.ok(closure('engine/index.ts').has('engine/abi.ts'), 'engine/index.ts reaches engine/abi.ts');
  assert.ok(closure('engine/primitives.ts').has('engine/ring/ring.ts'), 'engine/primitives.ts reaches engine/ring/ring.ts');
});

test('the main thread never instantiates a module: the probe that does runs in its own worker', () => {
  for (const entry of ['engine/engine.ts', 'engine/index.ts', 'engine/cli/main.ts']) {
    const reach = closure(entry);
    assert.not.ok(reach.has('engine/memory/module-probe.ts'), `${entry} reaches engine/memory/module-probe.ts`);
    assert.not.ok(reach.has('engine/memory/probe-worker.ts'), `${entry} reaches engine/memory/probe-worker.ts`);
    assert.ok(reach.has('engine/memory/probe-runner.ts'), `${entry} reaches engine/memory/probe-runner.ts`);
    for (const f of [...reach].filter((x) => x.endsWith('.ts'))) {
      const code = readFileSync(join(root, f), 'utf8').replace(/^\s*(\/\/|\*).*$/gm, '');
      assert.not.match(code, /new WebAssembly\.Instance\b|WebAssembly\.instantiate\b|instantiateSync\b/, `${f} (loaded by ${entry}) instantiates a module`);
    }
  }
});

test('the worker takes only the defaults from the options module (not its checks, nor the NATS client they reach)', () => {
  const reach = closure('engine/worker/worker.ts');
  assert.ok(reach.has('engine/options/defaults.ts'), 'the worker reads OPTION_DEFAULTS');
  const options = [...reach].filter((f) => f.startsWith('engine/options/') && f !== 'engine/options/defaults.ts');
  assert.equal(options, [], `the worker loads ${options.join(', ')}`);
  assert.not.ok([...reach].some((f) => f.startsWith('@nats-io/')), 'the worker loads the NATS client');
});

test('channels do not import the worker', () => {
  for (const f of ['copy', 'embedded', 'local', 'networked', 'remote-kv', 'channel']) {
    const path = `engine/channels/${f}.ts`;
    const text = readFileSync(join(root, path), 'utf8');
    assert.not.match(text, /from '\.\.\/worker\//, `${path} imports from engine/worker/`);
  }
});

test('the dispatcher and the worker never compare mode names (each mode lives in its channel)', () => {
  const files = ['engine/dispatcher.ts', 'engine/worker/worker.ts', 'engine/worker/host.ts',
    ...readdirSync(join(root, 'engine/dispatch')).filter((f) => f.endsWith('.ts')).map((f) => `engine/dispatch/${f}`)];
  assert.ok(files.length > 5);
  for (const f of files) {
    const text = readFileSync(join(root, f), 'utf8');
    const hit = text.match(/'(embedded|local|networked|remote-kv|copy)'/);
    assert.is(hit, null, `${f} names the mode ${hit?.[0]}`);
  }
});

test('the benchmarks import the engine by its package name, never by path', () => {
  const walk = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : []));
  const files = walk('bench');
  assert.ok(files.length > 10);
  let byName = 0;
  for (const f of files) {
    const sf = ts.createSourceFile(f, readFileSync(join(root, f), 'utf8'), ts.ScriptTarget.ES2022, true);
    for (const st of sf.statements) {
      const spec = (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) ? st.moduleSpecifier : undefined;
      if (spec === undefined || !ts.isStringLiteral(spec)) continue;
      const target = relative(root, join(root, dirname(f), spec.text));
      assert.not.ok(spec.text.startsWith('.') && !target.startsWith('bench'), `${f} imports ${spec.text}`);
      if (/^cwasi(\/|$)/.test(spec.text)) byName++;
    }
  }
  assert.ok(byName > 10, `${byName} imports by package name`);
});

/** Files still over the limit, each being split on its own; this list may only shrink. */
const KNOWN_LONG = new Set<string>([]);

test('no engine source file is over 600 lines', () => {
  const walk = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : []));
  const long = walk('engine').map((f) => [f, readFileSync(join(root, f), 'utf8').split('\n').length] as const).filter(([f, n]) => n > 600 && !KNOWN_LONG.has(f));
  assert.equal(long, [], `over 600 lines: ${long.map(([f, n]) => `${f} (${n})`).join(', ')}`);
});

test.run();
