// `cwasi init <dir>`: a new project that builds one function with `cwasi
// build`, runs it in a workflow beside a bundled function (`npm start`) and
// tests it through the engine (`npm test`, node:test, no other dependency).

import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { PACKAGE_ROOT, pinnedAscVersion } from '../build/asc.js';
import { CwasiError } from '../errors.js';

export interface InitOptions {
  /** What package.json depends on for cwasi (default: how the running cwasi was installed, installedSpec). */
  dependency?: string;
}

const FUNCTION = `// shout: the input text in upper case (ASCII letters; other bytes unchanged).
import { Bytes, Inputs, serve } from "cwasi/sdk";
export * from "cwasi/sdk/abi";

function handle(inputs: Inputs): Bytes {
  const input = inputs.first();                 // a read-only view: no copy
  const out = Bytes.alloc(input.length);        // freed when the output has been consumed
  for (let i = 0; i < input.length; i++) {
    const c = input.get(i);
    out.set(i, c >= 0x61 && c <= 0x7a ? c - 0x20 : c);
  }
  return out;
}

export function cwasi_main(table: usize, count: u32): i32 {
  return serve(table, count, handle);
}
`;

const WORKFLOW = {
  name: 'shout-and-count',
  functions: {
    shout: { module: 'build/shout.wasm', trusted: true, domain: 'app' },
    count: { module: 'wordcount', trusted: true, domain: 'app' },
  },
  edges: [{ from: 'shout', to: 'count' }],
  input: { kind: 'text' },
};

const TEST = `// Tests the function through the engine, alone and in the workflow.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Engine } from 'cwasi';

const engine = await Engine.create({ threads: 1 });
await engine.deployFile(fileURLToPath(new URL('../workflow.json', import.meta.url)));
after(() => engine.close());

const text = (s) => new TextEncoder().encode(s);
const str = (b) => new TextDecoder().decode(b);

test('shout upper-cases ASCII letters and leaves other bytes alone', async () => {
  assert.equal(str(await engine.invoke('shout', text('Hello, cwasi 42!'))), 'HELLO, CWASI 42!');
  assert.equal((await engine.invoke('shout', new Uint8Array(0))).length, 0);
});

test('the workflow counts the shouted words', async () => {
  const out = str(await engine.invoke('shout-and-count', text('hello cwasi hello')));
  assert.match(out, /^words 3\\ndistinct 2\\nHELLO 2\\nCWASI 1\\n/);
});
`;

const README = (name: string) => `# ${name}

A [cwasi](https://www.npmjs.com/package/cwasi) project: \`functions/shout.ts\`
is an AssemblyScript function; \`workflow.json\` runs it beside the bundled
\`wordcount\` function, both trusted in one domain, so they share one memory
and the count reads the shouted text where it lies.

    npm install
    npm test      # builds build/shout.wasm, tests it through the engine
    npm start     # runs the workflow on some text

Add functions under \`functions/\`; \`npm run build\` compiles all of them
(\`cwasi build\`, each at its own static region).
`;

/**
 * The dependency spec that gets the new project this very cwasi, and how it
 * was found. Installed from the registry: `^version`. Installed from a
 * tarball or a folder (the lockfile of the project that installed it, or its
 * package.json, says `file:`): that file, absolute. Run from a checkout: the
 * checkout. A `^version` that the registry does not have would fail the new
 * project's `npm install` with E404.
 */
export function installedSpec(packageRoot = PACKAGE_ROOT): { spec: string; why: string } {
  const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const parts = packageRoot.replace(/[\\/]+$/, '').split(sep);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return { spec: `file:${parts.join(sep)}`, why: 'this cwasi runs from a checkout' };
  const project = parts.slice(0, at).join(sep) || sep;
  const local = (spec: string | undefined): string | undefined => (spec?.startsWith('file:') ? `file:${resolve(project, spec.slice(5))}` : undefined);
  try {
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as { packages?: Record<string, { resolved?: string }> };
    const resolved = lock.packages?.[parts.slice(at).join('/')]?.resolved;
    const file = local(resolved);
    if (file !== undefined) return { spec: file, why: `${project}/package-lock.json installed cwasi from ${resolved}` };
    if (resolved !== undefined) return { spec: `^${version}`, why: `cwasi ${version} came from ${resolved}` };
  } catch {
    // no lockfile: the project's package.json may still say where cwasi came from
  }
  try {
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    const spec = pkg.dependencies?.['cwasi'] ?? pkg.devDependencies?.['cwasi'];
    const file = local(spec);
    if (file !== undefined) return { spec: file, why: `${project}/package.json depends on cwasi as ${spec}` };
  } catch {
    // not an npm project
  }
  return { spec: `^${version}`, why: `cwasi ${version} from the registry` };
}

export function cmdInit(dir: string, o: InitOptions, out: (s: string) => void): void {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new CwasiError('E_CONFIG', `${dir} exists and is not empty; cwasi init makes a new project in an empty or new folder`);
  }
  const dependency = o.dependency !== undefined ? { spec: o.dependency, why: '--dependency' } : installedSpec();
  const name = basename(target).toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[._-]+/, '') || 'cwasi-app';
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      build: 'cwasi build functions --out build',
      test: 'npm run build && node --test test/*.test.mjs',
      start: 'npm run build && cwasi run workflow.json --text "hello cwasi hello"',
    },
    dependencies: { cwasi: dependency.spec },
    // The compiler cwasi's runtime and SDK are written for (an optional peer of cwasi: only builds need it).
    devDependencies: { assemblyscript: pinnedAscVersion() },
  };
  mkdirSync(join(target, 'functions'), { recursive: true });
  mkdirSync(join(target, 'test'), { recursive: true });
  const files: Record<string, string> = {
    'package.json': JSON.stringify(pkg, null, 2) + '\n',
    'functions/shout.ts': FUNCTION,
    'workflow.json': JSON.stringify(WORKFLOW, null, 2) + '\n',
    'test/shout.test.mjs': TEST,
    'README.md': README(name),
    '.gitignore': 'node_modules/\nbuild/\n',
  };
  for (const [f, text] of Object.entries(files)) writeFileSync(join(target, f), text);
  out(`created ${dir}: ${Object.keys(files).join(', ')}`);
  out(`cwasi dependency: ${dependency.spec} (${dependency.why})`);
  out(`next: cd ${dir} && npm install && npm test && npm start`);
}
