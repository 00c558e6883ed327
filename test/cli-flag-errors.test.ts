// A CLI error names the flag to change, not the engine option the flag set:
// the values the CLI passes into the engine come back, when refused, as
// `--nats-replicas ...`, never `cluster.natsReplicas ...`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inFlagTerms } from '../engine/cli/flag-errors.js';
import { cwasiWithStdin, type CliResult } from './helpers/cli.js';
import { spawn } from 'node:child_process';
import { bin, root } from './helpers/cli.js';

/** Runs the CLI with `env` over this process's environment. */
function cwasiEnv(env: Record<string, string | undefined>, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr, stdoutBytes: Buffer.from(stdout) }));
  });
}

function usageError(r: CliResult, message: RegExp, what: string): void {
  assert.is(r.code, 2, `${what}: ${r.stderr}`);
  assert.is(r.stderr.trimEnd().split('\n').length, 1, `${what}: ${r.stderr}`);
  assert.match(r.stderr, message, what);
  assert.not.match(r.stderr, /cluster\.|secretFile|certFile|thread bounds/, what);
}

// No NATS server is needed: each value is refused before a connection is made.
const NATS = ['--nats', 'nats://127.0.0.1:1'];
const SECRET = { CWASI_SECRET: 'a-cluster-secret-of-enough-bytes' };

test('--nats-replicas out of range names the flag', async () => {
  usageError(await cwasiEnv(SECRET, 'run', 'identity', '--text', 'x', ...NATS, '--nats-replicas', '9'),
    /^error E_CONFIG: --nats-replicas must be an integer from 1 to 5, got 9$/m, 'run');
  usageError(await cwasiEnv(SECRET, 'node', ...NATS, '--nats-replicas', '0'), /^error E_CONFIG: --nats-replicas /m, 'node');
});

test('no cluster secret: the flag or the variable that gives one', async () => {
  usageError(await cwasiEnv({ CWASI_SECRET: undefined }, 'plan', 'identity', ...NATS),
    /^error E_CONFIG: a cluster needs a secret \(--secret-file or CWASI_SECRET\)$/m, 'plan');
});

test('--listen that is not host:port names the flag', async () => {
  usageError(await cwasiEnv(SECRET, 'node', ...NATS, '--listen', 'nowhere'), /^error E_CONFIG: --listen must be "host:port"/m, 'node');
});

test('cwasi node --memory-max that is not a size, or out of range, names the flag', async () => {
  usageError(await cwasiEnv(SECRET, 'node', ...NATS, '--memory-max', 'lots'), /^error E_CONFIG: "lots" is not a size/m, 'node');
  usageError(await cwasiEnv(SECRET, 'node', ...NATS, '--memory-max', '64GiB'), /^error E_CONFIG: --memory-max /m, 'node');
});

test('--threads above the pool limit names the flag', async () => {
  usageError(await cwasiWithStdin(['run', 'identity', '--text', 'x', '--threads', '5000']), /^error E_CONFIG: --threads must be a whole number from 1 to \d+, got 5000$/m, 'run');
});

test('a NATS client certificate without its key: the two flags', async () => {
  usageError(await cwasiEnv(SECRET, 'run', 'identity', ...NATS, '--nats-tls-cert', 'c.pem'), /^error E_CONFIG: --nats-tls-cert needs --nats-tls-key$/m, 'cert');
  usageError(await cwasiEnv(SECRET, 'node', ...NATS, '--nats-tls-key', 'k.pem'), /^error E_CONFIG: --nats-tls-key needs --nats-tls-cert$/m, 'key');
});

test('a --batch that names nothing: E_INPUT naming --batch', async () => {
  const r = await cwasiWithStdin(['run', 'checksum', '--batch', 'no/such/folder']);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /^error E_INPUT: --batch no\/such\/folder: ENOENT/m);
});

test('the renames: option keys become flags, prose stays', () => {
  assert.is(inFlagTerms('cluster.nats: "x" is not a NATS server address (nats://host:port)'), '--nats: "x" is not a NATS server address (nats://host:port)');
  assert.is(inFlagTerms('cluster.listen must be host:port, got "x"'), '--listen must be host:port, got "x"');
  assert.is(inFlagTerms('timeoutMs must be a positive number'), '--timeout must be a positive number');
  assert.is(inFlagTerms('threads must be a whole number of threads from 1 to 1024, got 0'), '--threads must be a whole number of threads from 1 to 1024, got 0');
  assert.is(inFlagTerms('the pool has 4 worker threads'), 'the pool has 4 worker threads');
  assert.is(inFlagTerms('cluster.natsReplicas must be an integer'), '--nats-replicas must be an integer');
});

test.run();
