// An attacker with JetStream API rights (but not the cluster secret) deletes
// the registry's two streams, again and again, while a two-node workflow
// runs. A node whose put fails checks the streams, makes a deleted one again
// and puts back the records it had put (its heartbeat; the function records
// it recorded at deploy): ≥ 99% of invocations stay right (none wrong), the
// recreations are counted, and the function records are back afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Engine } from '../engine/index.js';
import { deployFlow, describe, newCluster, node, runFlow } from './helpers/cluster-attack.js';
import { NATS_URL } from './helpers/env.js';

const { cluster, secret } = newCluster('del');
const streams = [`KV_cwasi_${cluster}_nodes`, `KV_cwasi_${cluster}_functions`];
let b: Engine;
let coord: Engine;
let attacker: NatsConnection;
let jsm: JetStreamManager;

test.before(async () => {
  attacker = await connect({ servers: NATS_URL });
  jsm = await jetstreamManager(attacker);
  b = await node(cluster, secret, 'b');
  coord = await node(cluster, secret, 'coord');
});

test.after(async () => {
  await coord?.close();
  await b?.close();
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await attacker?.close();
});

test('the registry streams deleted every second: ≥ 99% right, the streams and records come back', async () => {
  await deployFlow(coord);
  let stopped = false;
  let deleted = 0;
  const attack = (async () => {
    for (let i = 0; i < 20 && !stopped; i++) {
      for (const s of streams) {
        if (await jsm.streams.delete(s).catch(() => false)) deleted++;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const tally = await runFlow(coord, 5000, 6000);
  stopped = true;
  await attack;
  // After the last deletion, the next heartbeats make the streams again.
  const repairs = () => b.clusterStats()!.registry.repairs + coord.clusterStats()!.registry.repairs;
  const until = Date.now() + 5000;
  let record = null;
  while (Date.now() < until) {
    const kv = await new Kvm(attacker).open(`cwasi_${cluster}_functions`).catch(() => undefined);
    record = kv === undefined ? null : await kv.get('p').catch(() => null);
    if (record !== null && record.operation === 'PUT') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`# ${deleted} stream deletions: ${describe(tally)}; ${repairs()} repairs`);
  assert.ok(deleted >= 4, `${deleted} deletions`);
  assert.is(tally.wrong, 0, describe(tally));
  assert.ok(tally.total >= 50 && tally.ok >= 0.99 * tally.total, describe(tally));
  assert.ok(repairs() > 0, 'recreations counted');
  assert.ok(record !== null && record.operation === 'PUT', 'the function record of p is back');
  const after = await runFlow(coord, 20, 5000);
  assert.is(after.ok, after.total, describe(after));
});

test.run();
