// The code in the docs runs. Every fenced block of README.md, CONTRIBUTING.md,
// SECURITY.md and docs/*.md whose info string is a shell (sh, bash, shell,
// console) or JavaScript/TypeScript (js, javascript, mjs, ts) is executed here
// and must exit 0, unless the line before it is
//   <!-- not-run: the reason -->
// (the reason may not be empty; skipped blocks are listed in the output).
//
// Each block runs in a temp folder of its own, set up as a project that
// installed this checkout: node_modules/cwasi links to the repository root,
// node_modules/.bin/cwasi to bin/cwasi.js (and is first on PATH), and
// examples/ links to the repository's examples.
// - js, javascript, mjs: written to block.mjs and run with node.
// - ts importing "cwasi/sdk": an AssemblyScript function, compiled with
//   `cwasi build` (with --transform for a library that is imported and has
//   one, json-as). Other ts is transpiled with TypeScript and run as js.
// - sh, bash, shell: run with `bash -euo pipefail`; console: the lines that
//   start with "$ " are the commands, the rest is their output.
// A block must also print no deprecation warning (`warning: --old is
// deprecated; use --new`, from a renamed CLI flag): the docs use the current
// spellings, and a block that drifts back to an old one fails, naming itself
// and the warning.
// Blocks run CWASI_DOCS_JOBS at a time (default 2), each bounded by
// CWASI_DOCS_BLOCK_TIMEOUT_MS (default 60 s); a block's process group is
// killed when it ends, so a server a block starts in the background goes too.
// CWASI_DOCS_VERBOSE=1 prints each block's output and time.
// Every other block needs an info string (text, json, conf, ...), so a
// command cannot hide in an unlabelled one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { root } from './helpers/cli.js';

const SHELL = new Set(['sh', 'bash', 'shell', 'console']);
const SCRIPT = new Set(['js', 'javascript', 'mjs', 'ts']);
const JOBS = Math.max(1, Number(process.env.CWASI_DOCS_JOBS ?? 2));
const BLOCK_TIMEOUT_MS = Number(process.env.CWASI_DOCS_BLOCK_TIMEOUT_MS ?? 60_000);
/** asc transforms of libraries a function may import: `cwasi build --transform` this package. */
const TRANSFORMS: Record<string, string> = { 'json-as': 'json-as' };

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
  /** The reason of a `<!-- not-run: reason -->` marker before the block; '' when the marker has none. */
  notRun?: string;
}

const docFiles = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md',
  ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)]
  .filter((f) => existsSync(join(root, f)));

/** Every fenced block of a markdown file, with its 1-based line and the marker before it. */
function parse(file: string): Block[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!);
    if (open === null) continue;
    const [, indent, fence, lang] = open as unknown as [string, string, string, string];
    let end = i + 1;
    while (end < lines.length && !new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(lines[end]!)) end++;
    const code = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart())).join('\n');
    let prev = i - 1;
    while (prev >= 0 && lines[prev]!.trim() === '') prev--;
    const marker = prev >= 0 ? /^\s*<!--\s*not-run\b:?(.*?)-->\s*$/.exec(lines[prev]!) : null;
    out.push({ file, line: i + 1, lang: lang.toLowerCase(), code, ...(marker ? { notRun: marker[1]!.trim() } : {}) });
    i = end;
  }
  return out;
}

const all = docFiles.flatMap(parse);
const runnable = (b: Block) => SHELL.has(b.lang) || SCRIPT.has(b.lang);
const name = (b: Block) => `${b.file}:${b.line} (${b.lang})`;

/** A temp folder where `cwasi` is this checkout, as a project that installed it would have it. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-docs-'));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'cwasi'), 'dir');
  symlinkSync(join(root, 'bin', 'cwasi.js'), join(dir, 'node_modules', '.bin', 'cwasi'));
  symlinkSync(join(root, 'examples'), join(dir, 'examples'), 'dir');
  return dir;
}

/** Links a package of this checkout's node_modules, and the packages it depends on, into `dir`'s node_modules. */
function link(pkg: string, dir: string): void {
  const to = join(dir, 'node_modules', pkg);
  if (existsSync(to)) return;
  const from = join(root, 'node_modules', pkg);
  mkdirSync(dirname(to), { recursive: true });
  symlinkSync(from, to, 'dir');
  const deps = (JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
  for (const dep of Object.keys(deps)) link(dep, dir);
}

interface Run {
  code: number | null;
  signal: string | null;
  output: string;
  ms: number;
  /** The deprecation warnings the block printed (a renamed flag's old spelling), at most 20. */
  deprecations: string[];
}

/** What the CLI prints for an old flag spelling (engine/cli/deprecated.ts). */
const DEPRECATION = /is deprecated; use /;

/**
 * Collects the deprecation warnings of a stream, line by line (a line may come
 * in several chunks). On stderr any line saying `is deprecated; use` counts;
 * on stdout only one that starts with `warning:` (stderr sent there with 2>&1).
 */
function deprecationScanner(stream: 'stdout' | 'stderr', found: string[]): { data(d: Buffer): void; end(): void } {
  let partial = '';
  const check = (line: string) => {
    if (found.length < 20 && DEPRECATION.test(line) && (stream === 'stderr' || /^\s*warning:/.test(line))) found.push(line.trim());
  };
  return {
    data(d) {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop()!;
      // A line too long to be a warning is not kept whole.
      if (partial.length > 4096) partial = partial.slice(-4096);
      lines.forEach(check);
    },
    end() {
      check(partial);
      partial = '';
    },
  };
}

function exec(cmd: string, args: string[], cwd: string): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const env = { ...process.env, PATH: `${join(cwd, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`, FORCE_COLOR: '0', NO_COLOR: '1' };
    // Its own process group, so that whatever the block leaves running is ended with it.
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => { output = (output + d.toString('utf8')).slice(-8000); };
    const deprecations: string[] = [];
    const scanOut = deprecationScanner('stdout', deprecations);
    const scanErr = deprecationScanner('stderr', deprecations);
    child.stdout.on('data', (d: Buffer) => { keep(d); scanOut.data(d); });
    child.stderr.on('data', (d: Buffer) => { keep(d); scanErr.data(d); });
    const killGroup = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
    const timer = setTimeout(() => { output += `\n[killed after ${BLOCK_TIMEOUT_MS} ms]`; killGroup(); }, BLOCK_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      killGroup();
      scanOut.end();
      scanErr.end();
      resolve({ code, signal, output, ms: Date.now() - started, deprecations });
    });
  });
}

/** How one block runs in its folder. */
function runBlock(b: Block): Promise<Run> {
  const dir = project();
  const done = (r: Run) => { rmSync(dir, { recursive: true, force: true }); return r; };
  if (SHELL.has(b.lang)) {
    const script = b.lang === 'console'
      ? b.code.split('\n').filter((l) => l.startsWith('$ ')).map((l) => l.slice(2)).join('\n')
      : b.code;
    writeFileSync(join(dir, 'block.sh'), `${script}\n`);
    return exec('bash', ['-euo', 'pipefail', 'block.sh'], dir).then(done);
  }
  if (b.lang === 'ts' && /from\s+["']cwasi\/sdk["']/.test(b.code)) {
    const path = /^\/\/\s*(\S+\.ts)\s*$/m.exec(b.code)?.[1] ?? 'functions/block.ts';
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), b.code);
    const args = [join(root, 'bin', 'cwasi.js'), 'build', path, '--out', 'build'];
    for (const [pkg, transform] of Object.entries(TRANSFORMS)) {
      if (!new RegExp(`from\\s+["']${pkg}["']`).test(b.code)) continue;
      link(pkg, dir);
      args.push('--transform', transform);
    }
    return exec(process.execPath, args, dir).then(done);
  }
  const js = b.lang === 'ts'
    ? ts.transpileModule(b.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
    : b.code;
  writeFileSync(join(dir, 'block.mjs'), js);
  return exec(process.execPath, ['block.mjs'], dir).then(done);
}

// Start every block at once through a queue of JOBS; each test awaits its own.
const queue: Array<() => void> = [];
let running = 0;
function limited<T>(f: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const start = () => {
      running++;
      Promise.resolve().then(f).then(resolve, reject).finally(() => {
        running--;
        queue.shift()?.();
      });
    };
    if (running < JOBS) start();
    else queue.push(start);
  });
}

test('the docs have fenced code', () => {
  assert.ok(docFiles.includes('README.md') && docFiles.includes('docs/api.md'), docFiles.join(', '));
  assert.ok(all.filter(runnable).length >= 10, `found ${all.filter(runnable).length} runnable blocks`);
});

test('every fenced block names its language (text for output listings)', () => {
  const bare = all.filter((b) => b.lang === '').map(name);
  assert.equal(bare, [], 'blocks without an info string');
});

test('every not-run marker gives a reason and stands before a runnable block', () => {
  const noReason = all.filter((b) => b.notRun === '').map(name);
  assert.equal(noReason, [], 'not-run markers without a reason');
  const needless = all.filter((b) => b.notRun !== undefined && !runnable(b)).map(name);
  assert.equal(needless, [], 'not-run markers before blocks that are never run');
  const skipped = all.filter((b) => runnable(b) && b.notRun);
  console.log(`  not run (${skipped.length}):\n${skipped.map((b) => `    ${name(b)}: ${b.notRun}`).join('\n')}`);
});

const toRun = all.filter((b) => runnable(b) && b.notRun === undefined);
const runs = new Map(toRun.map((b) => [b, limited(() => runBlock(b))]));

for (const b of toRun) {
  test(`${name(b)} runs`, async () => {
    const r = await runs.get(b)!;
    if (process.env.CWASI_DOCS_VERBOSE === '1') console.log(`\n== ${name(b)}: exit ${r.code} in ${r.ms} ms\n${r.output}`);
    assert.ok(r.code === 0, `${name(b)} exited ${r.code ?? r.signal} after ${r.ms} ms:\n${b.code}\n--- output ---\n${r.output}`);
    assert.equal(r.deprecations, [], `${name(b)} uses an old spelling; write the new one:\n${r.deprecations.join('\n')}\n--- block ---\n${b.code}`);
  });
}

test('a block that uses an old flag spelling is caught', async () => {
  // The check above, on blocks as the docs could have them: each runs, printing its warning on stderr or, with 2>&1, on stdout.
  const code = [
    'cwasi run transform --text hi --output out.bin',
    "printf 'x\\n' | cwasi run checksum --inputs - 2>&1 | cat   # the warning on stdout",
  ].join('\n');
  const old: Block = { file: 'docs/cli.md', line: 0, lang: 'sh', code };
  const r = await limited(() => runBlock(old));
  assert.is(r.code, 0, r.output);
  assert.equal(r.deprecations, ['warning: --output is deprecated; use --out', 'warning: --inputs is deprecated; use --batch']);
});

test.run();
