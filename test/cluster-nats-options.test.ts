// The NATS server list and the KV replica count, as the engine and the CLI
// take them: lists in every accepted form join, malformed lists and replica
// counts out of 1..5 are E_CONFIG, and a replica count the server cannot give
// (a lone server asked for R3, or an existing bucket with fewer copies) is
// E_CONFIG with the reason, not an E_NATS outage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../engine/index.js';
import { kvReplicas, natsServerList } from '../engine/cluster/nats-cluster.js';
import { rejectsWith, throwsWith } from './helpers/assert-error.js';
import { cwasi } from './helpers/cli.js';
import { NATS_URL } from './helpers/env.js';

const secret = randomBytes(24).toString('hex');
/** Nothing listens here (a port below 1024 nobody binds on these machines). */
const DEAD = 'nats://127.0.0.1:9';
const join_ = (cluster: Record<string, unknown>) => Engine.create({
  threads: 1, cluster: { nats: NATS_URL, cluster: `o${randomBytes(4).toString('hex')}`, name: 'x', secret, ...cluster },
});

test('server lists: one URL, comma-separated, arrays of either; blanks and duplicates dropped', () => {
  assert.equal(natsServerList('nats://a:1'), ['nats://a:1']);
  assert.equal(natsServerList(' nats://a:1, nats://b:2 ,,'), ['nats://a:1', 'nats://b:2']);
  assert.equal(natsServerList(['nats://a:1,tls://b:2', 'c:3', 'nats://a:1']), ['nats://a:1', 'tls://b:2', 'c:3']);
  assert.equal(natsServerList('nats://[::1]:4222'), ['nats://[::1]:4222']);
  throwsWith(() => natsServerList(''), 'E_CONFIG', /names no NATS server/);
  throwsWith(() => natsServerList([' , ']), 'E_CONFIG', /names no NATS server/);
  throwsWith(() => natsServerList('http://a:1'), 'E_CONFIG', /not a NATS server address/);
  throwsWith(() => natsServerList('nats://a b:1'), 'E_CONFIG', /not a NATS server address/);
  throwsWith(() => natsServerList(42 as unknown as string), 'E_CONFIG', /URL string/);
});

test('replica counts: 1 by default, integers 1..5, anything else E_CONFIG', () => {
  assert.is(kvReplicas(undefined), 1);
  assert.is(kvReplicas(3), 3);
  assert.is(kvReplicas(5), 5);
  for (const bad of [0, 6, 2.5, -1, Number.NaN, '3']) throwsWith(() => kvReplicas(bad), 'E_CONFIG', /1 to 5/);
});

test('the engine joins through a list whose first server is down, and reports the one it is on', async () => {
  const e = await join_({ nats: [DEAD, NATS_URL] });
  try {
    const s = e.clusterStats()!.nats;
    assert.ok(NATS_URL.endsWith(s.server), `on ${s.server}`);
    assert.ok(s.connected);
  } finally {
    await e.close();
  }
});

test('bad lists and replica counts are E_CONFIG before anything is created', async () => {
  await rejectsWith(join_({ nats: '' }), 'E_CONFIG', /names no NATS server/);
  await rejectsWith(join_({ natsReplicas: 0 }), 'E_CONFIG', /natsReplicas must be an integer from 1 to 5, got 0/);
  await rejectsWith(join_({ natsReplicas: 9 }), 'E_CONFIG', /from 1 to 5/);
});

test('R3 from a server that is not clustered is E_CONFIG, and so is an existing bucket with fewer copies', async () => {
  await rejectsWith(join_({ natsReplicas: 3 }), 'E_CONFIG', /with 3 replicas \(a JetStream cluster of at least 3 servers is needed\)/);
  const cluster = `o${randomBytes(4).toString('hex')}`;
  const first = await join_({ cluster });
  await first.close();
  await rejectsWith(join_({ cluster, natsReplicas: 2 }), 'E_CONFIG', /exists with 1 replica\(s\), fewer than the 2 asked for/);
});

test('the CLI: --nats repeated and comma-separated, --nats-replicas validated and needing --nats', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-opts-'));
  const file = join(dir, 'secret');
  writeFileSync(file, secret, { mode: 0o600 });
  const base = ['run', 'producer', '--size', '1KiB', '--cluster', `o${randomBytes(4).toString('hex')}`, '--secret-file', file, '--name', 'cli'];
  const ok = await cwasi(...base, '--nats', DEAD, '--nats', `${DEAD},${NATS_URL}`, '--nats-replicas', '1');
  assert.is(ok.code, 0, ok.stderr);
  const bad = await cwasi(...base, '--nats', NATS_URL, '--nats-replicas', 'three');
  assert.is.not(bad.code, 0);
  // The engine names the option (cluster.natsReplicas); the CLI shows the flag it came from.
  assert.match(bad.stderr, /E_CONFIG: --nats-replicas must be an integer from 1 to 5, got three/);
  const alone = await cwasi('run', 'producer', '--size', '1KiB', '--nats-replicas', '3');
  assert.is.not(alone.code, 0);
  assert.match(alone.stderr, /E_CONFIG: .*need --nats/);
  const node = await cwasi('node', '--nats', `${NATS_URL},`, '--nats-replicas', '6', '--secret-file', file);
  assert.is.not(node.code, 0);
  assert.match(node.stderr, /E_CONFIG: .*from 1 to 5, got 6/);
});

test.run();
