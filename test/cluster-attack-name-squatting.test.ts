// An attacker who can subscribe on NATS but lacks the cluster secret squats
// the names: a passive monitor on `cwasi.<cluster>.>` and an answerer that
// replies to every node's ping with an unsealed "I hold this name". A name is
// held only by a node that meets the sealed ping challenge (or whose sealed
// record keeps beating), so a restarted node and a new coordinator start
// within 5 s, the workflow keeps running, and the squatter's answers are
// counted in clusterStats().refused.replies. A real live holder still keeps
// its name (test/cluster-node-identity.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Engine } from '../engine/index.js';
import { NATS_URL } from './helpers/env.js';
import { deployFlow, describe, newCluster, node, runFlow, timed } from './helpers/cluster-attack.js';

const { cluster, secret } = newCluster('squat');
let b: Engine;
let coord: Engine;
let late: Engine | undefined;
let attacker: NatsConnection;
let pings = 0;
let seen = 0;
const claim = new TextEncoder().encode(JSON.stringify({ ok: true, node: 'b', pid: 1, startedAt: 0 }));

test.before(async () => {
  attacker = await connect({ servers: NATS_URL });
  attacker.subscribe(`cwasi.${cluster}.>`, { callback: () => { seen++; } });
  attacker.subscribe(`cwasi.${cluster}.node.*.ping`, {
    callback: (_err, msg) => {
      if (msg.reply) {
        pings++;
        msg.respond(claim);
      }
    },
  });
  await attacker.flush();
  b = await node(cluster, secret, 'b');
  coord = await node(cluster, secret, 'coord');
});

test.after(async () => {
  await attacker?.close();
  await late?.close();
  await coord?.close();
  await b?.close();
});


test('a squatter on every ping and a passive monitor: a restarted node and a new coordinator start within 5 s', async () => {
  await deployFlow(coord);
  const before = await runFlow(coord, 20, 10_000);
  assert.is(before.ok, before.total, describe(before));

  await b.close();
  const [restarted, restartMs] = await timed(() => node(cluster, secret, 'b'));
  b = restarted;
  const [fresh, joinMs] = await timed(() => node(cluster, secret, 'late'));
  late = fresh;
  console.log(`# with a squatter: node b restarted in ${restartMs} ms, a new coordinator joined in ${joinMs} ms`);
  assert.ok(restartMs < 5000, `restart took ${restartMs} ms`);
  assert.ok(joinMs < 5000, `join took ${joinMs} ms`);

  // The workflow runs on the restarted node, from the old coordinator and the new one.
  const after = await runFlow(coord, 40, 15_000);
  assert.is(after.wrong, 0, describe(after));
  assert.ok(after.ok >= 0.99 * after.total, describe(after));
  await deployFlow(late);
  const fromLate = await runFlow(late, 20, 10_000);
  assert.is(fromLate.ok, fromLate.total, describe(fromLate));

  assert.ok(pings >= 3, `the squatter answered ${pings} pings`);
  assert.ok(seen > 0, 'the monitor saw the cluster subjects');
  assert.ok(b.clusterStats()!.refused.replies >= 1, 'the restarted node counted the fake claim');
  assert.ok(late.clusterStats()!.refused.replies >= 1, 'the new coordinator counted the fake claim');
});

test.run();
