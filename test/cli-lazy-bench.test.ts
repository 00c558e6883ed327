// The CLI loads benchmark code only for `cwasi bench`, and then only the
// benchmark asked for: `cwasi --help`, `cwasi run` and `cwasi node` never import
// a module under dist/bench/. Each command runs the real binary with a module
// loader hook (`--import`) that appends every module URL Node loads to a file;
// `cwasi bench overhead` is the control that the hook sees benchmark modules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bin, root } from './helpers/cli.js';
import { NATS_URL } from './helpers/env.js';

const dir = mkdtempSync(join(tmpdir(), 'cwasi-lazy-bench-'));
const benchUrl = pathToFileURL(join(root, 'dist', 'bench')).href + '/';
let runs = 0;

writeFileSync(join(dir, 'hooks.mjs'), [
  "import { appendFileSync } from 'node:fs';",
  'let log;',
  'export function initialize(data) { log = data.log; }',
  'export async function load(url, context, next) { appendFileSync(log, url + "\\n"); return next(url, context); }',
  '',
].join('\n'));
writeFileSync(join(dir, 'record.mjs'), [
  "import { register } from 'node:module';",
  "register('./hooks.mjs', import.meta.url, { data: { log: process.env.CWASI_LOAD_LOG } });",
  '',
].join('\n'));

interface Recorded { code: number | null; output: string; loaded: string[] }

/**
 * Runs `cwasi args...` with the recording hook; `until`, when given, is a line the
 * command prints once it is up, after which it is stopped with SIGTERM.
 */
function recorded(args: string[], until?: RegExp): Promise<Recorded> {
  const log = join(dir, `loaded-${++runs}.txt`);
  writeFileSync(log, '');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(join(dir, 'record.mjs')).href, bin, ...args],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CWASI_LOAD_LOG: log } });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cwasi ${args.join(' ')} did not finish within 60 s:\n${output}`));
    }, 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (until !== undefined && until.test(output)) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, loaded: readFileSync(log, 'utf8').split('\n').filter(Boolean) });
    });
  });
}

const underBench = (r: Recorded) => r.loaded.filter((u) => u.startsWith(benchUrl));

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('cwasi --help loads the CLI and no benchmark module', async () => {
  const r = await recorded(['--help']);
  assert.is(r.code, 0, r.output);
  assert.ok(r.loaded.some((u) => u.endsWith('/dist/engine/cli/main.js')), 'the hook records the CLI itself');
  assert.equal(underBench(r), []);
});

test('cwasi bench --help lists every benchmark without loading one', async () => {
  const r = await recorded(['bench', '--help']);
  assert.is(r.code, 0, r.output);
  for (const name of ['overhead', 'local-buffer', 'embedding', 'networked', 'batch', 'stack-check', 'paper']) {
    assert.match(r.output, new RegExp(`^  ${name} +\\S`, 'm'));
  }
  assert.equal(underBench(r), []);
});

test('cwasi run of the demo workflow loads no benchmark module', async () => {
  const r = await recorded(['run', 'examples/demo.json', '--size', '64KiB', '--seed', '2']);
  assert.is(r.code, 0, r.output);
  assert.match(r.output, /cwasi-sum32 0x[0-9a-f]{8} over 65536 bytes/);
  assert.ok(r.loaded.some((u) => u.endsWith('/dist/engine/engine.js')), 'the engine was loaded');
  assert.equal(underBench(r), []);
});

test('cwasi node, up and serving a cluster, loads no benchmark module', async () => {
  const secret = join(dir, 'secret');
  writeFileSync(secret, randomBytes(24).toString('hex'), { mode: 0o600 });
  const r = await recorded(['node', '--nats', NATS_URL, '--listen', '127.0.0.1:0', '--name', 'lazy', '--threads', '1',
    '--cluster', `lazy${randomBytes(4).toString('hex')}`, '--secret-file', secret], /ready: .* networked buffer on \S+,/);
  assert.match(r.output, /ready: /, 'the node came up before it was stopped');
  assert.ok(r.loaded.some((u) => u.includes('/dist/engine/cluster/')), 'the cluster code was loaded');
  assert.equal(underBench(r), []);
});

test('cwasi bench overhead loads that benchmark and not the others', async () => {
  const json = join(dir, 'report', 'overhead.json');
  const r = await recorded(['bench', 'overhead', '--quick', '--repeat', '100', '--out', join(dir, 'report')]);
  assert.is(r.code, 0, r.output);
  assert.match(r.output, /engine throughput vs raw Piscina/);
  assert.ok(existsSync(json), 'the JSON report was written');
  const loaded = underBench(r).map((u) => u.slice(benchUrl.length));
  assert.ok(loaded.includes('overhead.js'), `loaded: ${loaded.join(', ')}`);
  for (const other of ['paper.js', 'paper/index.js', 'networked.js', 'local-buffer.js', 'batch.js', 'cluster-harness.js']) {
    assert.not.ok(loaded.includes(other), `${other} stays unloaded`);
  }
});

test.run();
