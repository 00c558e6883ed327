// An attacker who can write to the registry's buckets but lacks the cluster
// secret puts delete and purge markers on every node record, 20 a second.
// A marker needs no secret, so it withdraws nothing: nodes stay in view on
// their sealed heartbeats, ≥ 99% of a two-node workflow's invocations are
// right (none wrong), a coordinator that joins during the attack invokes
// within 5 s, and every marker seen is counted in clusterStats().refused.records.
// A node that closes still leaves at once (its sealed tombstone).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import type { Engine } from '../engine/index.js';
import { bucketNames } from '../engine/cluster/registry.js';
import { NATS_URL } from './helpers/env.js';
import { deployFlow, describe, newCluster, node, restartServes, runFlow, PAYLOAD } from './helpers/cluster-attack.js';
import * as workloads from '../engine/workloads.js';

const { cluster, secret } = newCluster('del');
let b: Engine;
let coord: Engine;
let attacker: NatsConnection;
let markers = 0;
let attack: NodeJS.Timeout | undefined;

test.before(async () => {
  b = await node(cluster, secret, 'b');
  coord = await node(cluster, secret, 'coord');
  await deployFlow(coord);
  attacker = await connect({ servers: NATS_URL });
  const kv = await new Kvm(attacker).open(bucketNames(cluster).nodes);
  attack = setInterval(() => {
    for (const key of ['b', 'coord', 'late']) {
      const op = markers % 2 === 0 ? kv.delete(key) : kv.purge(key);
      markers++;
      op.catch(() => {});
    }
  }, 50);
});

test.after(async () => {
  clearInterval(attack);
  await attacker?.close();
  await coord?.close();
  await b?.close();
});

test('delete and purge markers at 20/s: ≥ 99% of invocations right, markers counted', async () => {
  // Five seconds of invocations: many heartbeat periods under the markers.
  const tally = await runFlow(coord, 5000, 5000);
  console.log(`# under the attack: ${describe(tally)}`);
  assert.ok(tally.total >= 100, `only ${tally.total} invocations ran`);
  assert.is(tally.wrong, 0, describe(tally));
  assert.ok(tally.ok >= 0.99 * tally.total, describe(tally));
  assert.ok(markers >= 100, `${markers} markers written`);
  assert.ok(coord.clusterStats()!.refused.records > 0, 'no marker counted');
  assert.ok(coord.clusterStats()!.liveNodes.includes('b'));
});

test('a coordinator joining during the attack invokes within 5 s', async () => {
  const start = Date.now();
  const late = await node(cluster, secret, 'late');
  try {
    await deployFlow(late);
    const out = await late.invoke('flow', workloads.producerSpec(PAYLOAD, 99));
    assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(PAYLOAD, 99)), length: PAYLOAD }]);
    assert.ok(Date.now() - start < 5000, `joined and invoked in ${Date.now() - start} ms`);
  } finally {
    await late.close();
  }
});

test('node b restarted during the attack serves again within 5 s', async () => {
  const r = await restartServes(cluster, secret, b, 'b', coord);
  b = r.engine;
  console.log(`# restarted under delete markers: serving after ${r.ms} ms`);
  assert.is(r.tally.ok, r.tally.total, describe(r.tally));
  assert.ok(r.ms < 5000, `serving after ${r.ms} ms`);
});

test('a node that closes leaves the view at once through its sealed tombstone', async () => {
  const c = await node(cluster, secret, 'c');
  const seen = async (want: boolean) => {
    const until = Date.now() + 5000;
    while (coord.clusterStats()!.liveNodes.includes('c') !== want && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return coord.clusterStats()!.liveNodes.includes('c') === want;
  };
  assert.ok(await seen(true), 'c never appeared');
  const closed = Date.now();
  await c.close();
  assert.ok(await seen(false), 'c is still in view');
  // Its heartbeat window is 1.5 s: leaving sooner is the tombstone's doing.
  assert.ok(Date.now() - closed < 1000, `c left the view ${Date.now() - closed} ms after closing`);
});

test.run();
