// A library error names the option as the library's caller writes it
// (`cluster.listen must be "host:port"`), never a CLI flag; the CLI shows the
// same mistake with the flag the value came from (`--listen`). Before, the
// library's message said `--listen` to callers that had never used the CLI.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CwasiError, Engine, type EngineOptions } from '../engine/index.js';
import { buildProgram } from '../engine/cli/main.js';
import { OPTION_FLAGS, withOptionFlags } from '../engine/cli/option-flags.js';
import { ENGINE_OPTIONS, readSecret } from '../engine/options/index.js';
import { rejectsWith, throwsWith } from './helpers/assert-error.js';
import { cwasi } from './helpers/cli.js';

const DEAD_NATS = 'nats://127.0.0.1:1';
const secret = 'a-cluster-secret-of-32-bytes-abc';

const bad: Array<[string, EngineOptions, RegExp]> = [
  ['cluster.listen', { cluster: { nats: DEAD_NATS, secret, listen: 'nope' } }, /^cluster\.listen must be "host:port" \(port 0 to 65535\), got "nope"$/],
  ['cluster.listen', { cluster: { nats: DEAD_NATS, secret, listen: '127.0.0.1:70000' } }, /^cluster\.listen must be "host:port"/],
  ['cluster.name', { cluster: { nats: DEAD_NATS, secret, name: 'a b' } }, /^cluster\.name must be 1-64 letters, digits, _ \. -, got "a b"$/],
  ['cluster.preAuth.total', { cluster: { nats: DEAD_NATS, secret, preAuth: { total: 0 } } }, /^cluster\.preAuth\.total must be a positive number, got 0$/],
  ['cluster.natsReplicas', { cluster: { nats: DEAD_NATS, secret, natsReplicas: 7 } }, /^cluster\.natsReplicas must be an integer from 1 to 5, got 7$/],
  ['cluster.heartbeatMs', { cluster: { nats: DEAD_NATS, secret, heartbeatMs: -1 } }, /^cluster\.heartbeatMs must be a positive number/],
  ['guestCalls.maxInFlight', { guestCalls: { maxInFlight: 1.5 } }, /^guestCalls\.maxInFlight must be a positive integer, got 1\.5$/],
  ['threads', { threads: { min: 4, max: 2 } }, /^threads must be whole numbers with 1 <= min <= max <= 1024, got min 4, max 2/],
];

for (const [option, options, message] of bad) {
  test(`${option}: E_CONFIG naming the option path, not a flag, before anything starts`, async () => {
    const err = await rejectsWith(Engine.create({ threads: 1, ...options }), 'E_CONFIG', message);
    assert.is(err.details?.option, option);
    assert.not.match(err.message, /--/);
  });
}

test('the cluster secret: a missing or short one names the option it came from', () => {
  const saved = process.env.CWASI_SECRET;
  delete process.env.CWASI_SECRET;
  try {
    throwsWith(() => readSecret({ nats: DEAD_NATS }), 'E_CONFIG', /^cluster\.secret is missing/);
    const dir = mkdtempSync(join(tmpdir(), 'cwasi-secret-'));
    writeFileSync(join(dir, 's'), 'short\n');
    const err = throwsWith(() => readSecret({ nats: DEAD_NATS, secretFile: join(dir, 's') }), 'E_CONFIG', /^cluster\.secretFile must be a secret of at least 16 bytes/);
    assert.is(err.details?.option, 'cluster.secretFile');
  } finally {
    if (saved !== undefined) process.env.CWASI_SECRET = saved;
  }
});

test('the CLI shows the flag for the same mistake, exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-flags-'));
  const file = join(dir, 'secret');
  writeFileSync(file, secret, { mode: 0o600 });
  const r = await cwasi('node', '--nats', DEAD_NATS, '--listen', 'nope', '--secret-file', file, '--threads', '1');
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /^error E_CONFIG: --listen must be "host:port" \(port 0 to 65535\), got "nope"$/m);
  assert.not.match(r.stderr, /cluster\.listen/);
  const named = await cwasi('node', '--nats', DEAD_NATS, '--name', 'a b', '--secret-file', file, '--threads', '1');
  assert.is(named.code, 2, named.stderr);
  assert.match(named.stderr, /error E_CONFIG: --name must be 1-64 letters/);
});

test('every flag the CLI maps an option to is a flag of the CLI, for an option that exists', () => {
  const flags = new Set(buildProgram().commands.flatMap((c) => c.options.map((o) => o.long)));
  const paths = new Set(ENGINE_OPTIONS.map((s) => s.path));
  for (const [path, flag] of Object.entries(OPTION_FLAGS)) {
    assert.ok(flags.has(flag), `${flag} (for ${path}) is not a CLI flag`);
    assert.ok(paths.has(path), `${path} is not an option`);
  }
});

test('withOptionFlags rewrites only errors about options the CLI sets from a flag', () => {
  const ring = new CwasiError('E_CONFIG', 'local.ringBytes must be …', { option: 'local.ringBytes' });
  assert.is(withOptionFlags(ring), ring);
  const plain = new Error('cluster.listen');
  assert.is(withOptionFlags(plain), plain);
  const listen = withOptionFlags(new CwasiError('E_CONFIG', 'cluster.listen must be "host:port", got "x"', { option: 'cluster.listen' })) as CwasiError;
  assert.is(listen.message, '--listen must be "host:port", got "x"');
  assert.equal(listen.details, { option: 'cluster.listen', flag: '--listen' });
});

test.run();
