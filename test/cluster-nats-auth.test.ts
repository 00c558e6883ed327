// NATS's own security on the control-plane connection: a private nats-server
// that requires TLS (a CA made here with openssl) and credentials (a user with
// a password, and an NKey user). The engine joins with an NKey seed, a
// `cwasi node` process with a user and password file, `cwasi run --nats` with
// an NKey file; a client without credentials, with a wrong password or
// without the CA is refused with E_NATS.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createUser } from '@nats-io/nkeys';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { NATS_BIN, privateNatsWithConfig, type PrivateServer } from './helpers/servers.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { rejectsWith } from './helpers/assert-error.js';
import { MiB } from './helpers/env.js';

// Its own port range: cluster-services-down uses 14222 + pid % 500.
const PORT = 15222 + (process.pid % 500);
const bin = fileURLToPath(new URL('../../bin/cwasi.js', import.meta.url));
let pki: TestPki;
let nats: PrivateServer;
let harness: Harness;
let engine: Engine;
let seed: string;
let seedFile: string;
let passFile: string;

test.before(async () => {
  if (NATS_BIN === undefined) throw new Error('nats-server is needed (see .ci/run)');
  pki = makePki();
  const server = pki.issue('nats', 'nats-test', ['IP:127.0.0.1', 'DNS:localhost']);
  const user = createUser();
  seed = new TextDecoder().decode(user.getSeed());
  seedFile = join(pki.dir, 'user.nk');
  passFile = join(pki.dir, 'pass');
  writeFileSync(seedFile, `${seed}\n`, { mode: 0o600 });
  writeFileSync(passFile, 'node-password-1\n', { mode: 0o600 });
  nats = privateNatsWithConfig(PORT, (store) => `
jetstream { store_dir: "${store}" }
tls { cert_file: "${server.cert}", key_file: "${server.key}", timeout: 2 }
authorization {
  users = [
    { user: "node", password: "node-password-1" }
    { nkey: "${user.getPublicKey()}" }
  ]
}
`);
  await nats.start();
  harness = await startCluster({
    nats: nats.url, nodes: [{ name: 'b', host: '127.0.0.2' }],
    nodeArgs: ['--nats-user', 'node', '--nats-pass-file', passFile, '--nats-tls-ca', pki.ca],
  });
  engine = await Engine.create({
    threads: 1, timeoutMs: 20_000,
    cluster: { nats: nats.url, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile, natsAuth: { nkeySeed: seed, tls: { caFile: pki.ca } } },
  });
});
test.after(async () => {
  await engine?.close();
  await harness?.close();
  await nats?.stop();
});

test('nodes with credentials over TLS form a cluster and run across it', async () => {
  assert.equal(engine.clusterStats()!.liveNodes, ['b', 'coord']);
  await engine.deploy({
    name: 'auth-seq',
    functions: { p: { module: 'producer', host: 'b' }, k: { module: 'checksum' } },
    edges: [{ from: 'p', to: 'k' }],
  });
  const out = await engine.invoke('auth-seq', workloads.producerSpec(2 * MiB, 3));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(2 * MiB, 3)), length: 2 * MiB }]);
});

const join_ = (natsAuth: object | undefined) => Engine.create({
  threads: 1,
  cluster: { nats: nats.url, cluster: harness.cluster, name: 'x', secretFile: harness.secretFile, ...(natsAuth ? { natsAuth } : {}) },
});

test('without credentials, with a wrong password or without the CA, joining fails with E_NATS', async () => {
  await rejectsWith(join_({ tls: { caFile: pki.ca } }), 'E_NATS', /cannot connect/);
  await rejectsWith(join_({ user: 'node', pass: 'wrong', tls: { caFile: pki.ca } }), 'E_NATS', /cannot connect/);
  await rejectsWith(join_({ nkeySeed: seed }), 'E_NATS', /cannot connect/);
  await rejectsWith(join_(undefined), 'E_NATS', /cannot connect/);
});

test('contradictory credentials are E_CONFIG, an unreadable file E_IO', async () => {
  await rejectsWith(join_({ user: 'a', token: 't' }), 'E_CONFIG', /one of/);
  await rejectsWith(join_({ pass: 'p' }), 'E_CONFIG', /needs a user/);
  await rejectsWith(join_({ nkeySeed: 'not-a-seed' }), 'E_CONFIG', /user seed/);
  await rejectsWith(join_({ credsFile: join(pki.dir, 'missing.creds') }), 'E_IO', /cannot read/);
  await rejectsWith(join_({ tls: { certFile: pki.ca } }), 'E_CONFIG', /needs its key/);
});

test('cwasi run --nats joins with an NKey file and the CA', async () => {
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(process.execPath, [bin, 'run', 'producer', '--size', '1KiB', '--nats', nats.url, '--cluster', harness.cluster,
      '--secret-file', harness.secretFile, '--name', 'cli', '--nats-nkey-file', seedFile, '--nats-tls-ca', pki.ca],
    { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }));
  });
  assert.is(r.code, 0, r.out);
  const bad = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(process.execPath, [bin, 'run', 'producer', '--size', '1KiB', '--nats', nats.url, '--cluster', harness.cluster,
      '--secret-file', harness.secretFile, '--name', 'cli2', '--nats-tls-ca', pki.ca],
    { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }));
  });
  assert.is(bad.code, 1, bad.out);
  assert.match(bad.out, /E_NATS/);
});

test.run();
