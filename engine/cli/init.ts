// `cwasi init <dir>`: a new project that builds one function with `cwasi
// build`, runs it in a workflow beside a bundled function (`npm start`) and
// tests it through the engine (`npm test`, node:test, no other dependency).

import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { PACKAGE_ROOT, pinnedAscVersion } from '../build/asc.js';
import { CwasiError } from '../errors.js';

export interface InitOptions {
  /** What package.json depends on for cwasi (default: ^ this version). */
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

export function cmdInit(dir: string, o: InitOptions, out: (s: string) => void): void {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new CwasiError('E_CONFIG', `${dir} exists and is not empty; cwasi init makes a new project in an empty or new folder`);
  }
  const version = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
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
    dependencies: { cwasi: o.dependency ?? `^${version}` },
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
  out(`next: cd ${dir} && npm install && npm test && npm start`);
}
