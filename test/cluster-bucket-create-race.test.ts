// Nodes of a new cluster that start together all create its registry buckets.
// A JetStream server (2.9) checks a new stream's name and its subjects under
// separate locks, so the loser of a create race was told "subjects overlap
// with an existing stream" and the node failed to join (seen in CI: three
// engines created together, E_NATS). The registry now asks again and finds
// the winner's bucket. The race needs a narrow window; many nodes of several
// fresh clusters open at once here to give it every chance. A stream that
// truly holds a bucket's subjects is reported as a configuration error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { ClusterRegistry, bucketNames } from '../engine/cluster/registry.js';
import { ControlSigner } from '../engine/cluster/signing.js';
import { CwasiError } from '../engine/index.js';
import { NATS_URL } from './helpers/env.js';

const CLUSTERS = 6;
const NODES = 12;
const secret = randomBytes(32);
let nc: NatsConnection;
let jsm: JetStreamManager;
const streams: string[] = [];

function open(cluster: string, node: string): Promise<ClusterRegistry> {
  return ClusterRegistry.open({ nats: NATS_URL, cluster, node, heartbeatMs: 1000, staleMs: 3000, signer: new ControlSigner(secret, node) });
}

test.before(async () => {
  nc = await connect({ servers: NATS_URL });
  jsm = await jetstreamManager(nc);
});
test.after(async () => {
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await nc?.close();
});

test('nodes of new clusters that open together all join, each cluster with one pair of buckets', async () => {
  const clusters = Array.from({ length: CLUSTERS }, () => `race-${randomBytes(4).toString('hex')}`);
  for (const c of clusters) streams.push(`KV_${bucketNames(c).nodes}`, `KV_${bucketNames(c).functions}`);
  const opened = await Promise.allSettled(clusters.flatMap((c) => Array.from({ length: NODES }, (_, i) => open(c, `n${i}`))));
  const failed = opened.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
  for (const r of opened) if (r.status === 'fulfilled') await r.value.close();
  assert.equal(failed, [], 'a node failed to open the registry');
  for (const c of clusters) {
    const names = bucketNames(c);
    for (const b of [names.nodes, names.functions]) assert.is((await jsm.streams.info(`KV_${b}`)).config.name, `KV_${b}`);
  }
});

test('a foreign stream on a bucket\'s subjects is a configuration error, and is left alone', async () => {
  const cluster = `taken-${randomBytes(4).toString('hex')}`;
  const { nodes } = bucketNames(cluster);
  const foreign = `FOREIGN_${randomBytes(4).toString('hex')}`;
  streams.push(foreign, `KV_${bucketNames(cluster).functions}`);
  await jsm.streams.add({ name: foreign, subjects: [`$KV.${nodes}.>`] });
  const err = await open(cluster, 'a').then(() => null, (e: unknown) => e);
  assert.instance(err, CwasiError);
  assert.is((err as CwasiError).code, 'E_CONFIG');
  assert.match((err as Error).message, `$KV.${nodes}.>`);
  assert.is((await jsm.streams.info(foreign)).config.name, foreign);
  const made = await jsm.streams.info(`KV_${nodes}`).then(() => true, () => false);
  assert.not.ok(made, 'a bucket stream was made beside the foreign one');
});

test.run();
