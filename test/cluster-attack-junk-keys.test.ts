// An attacker who may write the registry's buckets (but lacks the cluster
// secret) fills the node bucket with 50 000 junk keys while a two-node
// workflow runs. A join reads the bucket in one streamed pass bounded in
// time, and a lookup of one node reads one key, so a restarted node and a
// new coordinator start within 5 s, the workflow keeps ≥ 99% right (none
// wrong), and what a node read of the junk is counted as refused records.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Engine } from '../engine/index.js';
import { NATS_URL } from './helpers/env.js';
import { deployFlow, describe, newCluster, node, runFlow, timed } from './helpers/cluster-attack.js';

const JUNK = 50_000;
const { cluster, secret } = newCluster('junk');
const bucket = `cwasi_${cluster}_nodes`;
let b: Engine;
let coord: Engine;
let late: Engine | undefined;
let attacker: NatsConnection;

test.before(async () => {
  attacker = await connect({ servers: NATS_URL });
  b = await node(cluster, secret, 'b');
  coord = await node(cluster, secret, 'coord');
});

test.after(async () => {
  await late?.close();
  await coord?.close();
  await b?.close();
  const jsm = await jetstreamManager(attacker);
  for (const s of [`KV_${bucket}`, `KV_cwasi_${cluster}_functions`]) await jsm.streams.delete(s).catch(() => {});
  await attacker?.close();
});

/** 50 000 junk values under distinct keys of the node bucket, 2 000 publishes in flight at a time. */
async function fillWithJunk(): Promise<void> {
  const js = jetstream(attacker);
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < JUNK; i++) {
    pending.push(js.publish(`$KV.${bucket}.junk-${i}`, new TextEncoder().encode(`{"name":"junk-${i}","address":"127.0.0.1:1"}`)));
    if (pending.length >= 2000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
}


test('50 000 junk keys: the workflow keeps running, a restarted node and a new coordinator join within 5 s', async () => {
  await deployFlow(coord);
  const [, fillMs] = await timed(() => fillWithJunk());
  const during = await runFlow(coord, 2000, 4000);
  await b.close();
  const [restarted, restartMs] = await timed(() => node(cluster, secret, 'b'));
  b = restarted;
  const [fresh, joinMs] = await timed(() => node(cluster, secret, 'late'));
  late = fresh;
  await deployFlow(late);
  const after = await runFlow(coord, 200, 8000);
  const fromLate = await runFlow(late, 200, 8000);
  const refused = late.clusterStats()!.refused.records;
  console.log(`# ${JUNK} junk keys put in ${fillMs} ms; node b restarted in ${restartMs} ms, a new coordinator joined in ${joinMs} ms; `
    + `it refused ${refused} records; ${describe(during)} / ${describe(after)} / ${describe(fromLate)}`);
  assert.ok(restartMs < 5000, `restart took ${restartMs} ms`);
  assert.ok(joinMs < 5000, `join took ${joinMs} ms`);
  for (const t of [during, after, fromLate]) {
    assert.is(t.wrong, 0, describe(t));
    assert.ok(t.total >= 20 && t.ok >= 0.99 * t.total, describe(t));
  }
  assert.ok(refused > 0, 'the junk read is counted');
});

test.run();
