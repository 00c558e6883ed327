// A registry read or put that meets a stream whose subjects were edited away
// (anyone with JetStream rights can do it between two calls) puts the stream
// back and goes again, on a real registry and real NATS: reading the node
// bucket (as a join does right after announcing) and putting a function
// record. Before, the read failed with "consumer filter subject is
// not a valid subset of the interest subjects" and stopped the join.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { ClusterRegistry } from '../engine/cluster/registry.js';
import { ControlSigner } from '../engine/cluster/signing.js';
import type { NodeRecord } from '../engine/cluster/protocol.js';
import { NATS_URL } from './helpers/env.js';
import { rejectsWith } from './helpers/assert-error.js';

const cluster = `repair-${randomBytes(4).toString('hex')}`;
const secret = randomBytes(32);
const nodesStream = `KV_cwasi_${cluster}_nodes`;
const functionsStream = `KV_cwasi_${cluster}_functions`;
let registry: ClusterRegistry;
let attacker: NatsConnection;
let jsm: JetStreamManager;

const record = (): NodeRecord => ({
  name: 'a', address: '127.0.0.1:1', pid: process.pid, startedAt: 1, heartbeatAt: Date.now(), heartbeatMs: 60_000, functions: [],
});

test.before(async () => {
  attacker = await connect({ servers: NATS_URL });
  jsm = await jetstreamManager(attacker);
  // A long heartbeat: no periodic guard check runs during the test, only the repairs under test.
  registry = await ClusterRegistry.open({ nats: NATS_URL, cluster, node: 'a', heartbeatMs: 60_000, staleMs: 180_000, signer: new ControlSigner(secret, 'a') });
  await registry.announce(record);
});

test.after(async () => {
  await registry?.close();
  for (const s of [nodesStream, functionsStream]) await jsm.streams.delete(s).catch(() => {});
  await attacker?.close();
});

/** Move a stream's subjects elsewhere, as an attacker with JetStream rights can. */
async function moveSubjects(stream: string): Promise<string[]> {
  const config = (await jsm.streams.info(stream)).config;
  await jsm.streams.update(stream, { ...config, subjects: [`elsewhere.${stream}.>`] });
  return config.subjects ?? [];
}

test('reading the node bucket after its subjects were moved puts them back and reads the records', async () => {
  const before = registry.guard.repairs;
  const subjects = await moveSubjects(nodesStream);
  await registry.refresh();
  assert.ok(registry.node('a'), 'the node record was read');
  assert.equal((await jsm.streams.info(nodesStream)).config.subjects, subjects);
  assert.ok(registry.guard.repairs > before, 'the repair is counted');
});

test('putting and reading a function record after its stream\'s subjects were moved', async () => {
  const subjects = await moveSubjects(functionsStream);
  const rec = { name: 'f', host: 'a', group: 'g', trusted: false, domain: 'd' };
  await registry.putFunction(rec);
  assert.equal((await jsm.streams.info(functionsStream)).config.subjects, subjects);
  // A lookup by key reads the stream directly: it finds the record with the subjects moved or not.
  await moveSubjects(functionsStream);
  assert.equal(await registry.getFunction('f'), rec);
});

test('a stream that cannot be put back: the read fails with E_CONFIG naming the setting', async () => {
  const config = (await jsm.streams.info(nodesStream)).config;
  await jsm.streams.update(nodesStream, { ...config, subjects: [`elsewhere.${nodesStream}.>`], sealed: true } as typeof config);
  await rejectsWith(registry.refresh(), 'E_CONFIG', /sealed is true/);
});

test.run();
