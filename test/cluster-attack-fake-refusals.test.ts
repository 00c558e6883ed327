// An attacker who can subscribe on NATS but lacks the cluster secret answers
// every deploy, run and release request of the cluster at once with an
// unsealed refusal, faster than any node can. The coordinator waits for the
// reply the node it asked sealed for that request and ignores the rest:
// the workflow deploys, ≥ 99% of invocations are right (none wrong), and
// every fake reply is counted in clusterStats().refused.replies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Engine } from '../engine/index.js';
import { NATS_URL } from './helpers/env.js';
import { deployFlow, describe, newCluster, node, restartServes, runFlow } from './helpers/cluster-attack.js';

const { cluster, secret } = newCluster('fake');
let b: Engine;
let coord: Engine;
let attacker: NatsConnection;
let answered = 0;
const refusal = new TextEncoder().encode(JSON.stringify({ ok: false, error: { code: 'E_AUTH', message: 'refused' } }));

test.before(async () => {
  attacker = await connect({ servers: NATS_URL });
  for (const verb of ['run', 'deploy', 'release']) {
    attacker.subscribe(`cwasi.${cluster}.node.*.${verb}`, {
      callback: (_err, msg) => {
        if (msg.reply) {
          answered++;
          msg.respond(refusal);
        }
      },
    });
  }
  await attacker.flush();
  b = await node(cluster, secret, 'b');
  coord = await node(cluster, secret, 'coord');
});

test.after(async () => {
  await attacker?.close();
  await coord?.close();
  await b?.close();
});

test('fake refusals on every control subject: the workflow deploys and ≥ 99% of its invocations are right', async () => {
  await deployFlow(coord);
  const tally = await runFlow(coord, 150, 20_000);
  console.log(`# under the attack: ${describe(tally)}`);
  assert.ok(tally.total >= 100, `only ${tally.total} invocations ran`);
  assert.is(tally.wrong, 0, describe(tally));
  assert.ok(tally.ok >= 0.99 * tally.total, describe(tally));
  assert.ok(answered >= tally.total, `the attacker answered ${answered} requests`);
  // A fake reply that arrives after the authentic one finds the request's
  // inbox gone and is never received; every one received is counted.
  const refused = coord.clusterStats()!.refused.replies;
  assert.ok(refused > 0 && refused <= answered, `${refused} fake replies counted for ${answered} sent`);
});


test('under the fake refusals, node b restarted serves again and a new coordinator invokes, each within 5 s', async () => {
  const r = await restartServes(cluster, secret, b, 'b', coord);
  b = r.engine;
  assert.is(r.tally.ok, r.tally.total, describe(r.tally));
  const t0 = Date.now();
  const late = await node(cluster, secret, 'late');
  try {
    await deployFlow(late);
    const t = await runFlow(late, 5, 10_000);
    const joinMs = Date.now() - t0;
    console.log(`# under fake refusals: b serving again after ${r.ms} ms, a new coordinator's first results after ${joinMs} ms`);
    assert.is(t.ok, t.total, describe(t));
    assert.ok(r.ms < 5000 && joinMs < 5000, `restart ${r.ms} ms, join ${joinMs} ms`);
  } finally {
    await late.close();
  }
});

test.run();
