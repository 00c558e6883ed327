// An attacker who can subscribe on NATS records the sealed deploy and run
// requests sent to node b, waits for b to restart (its replay cache then
// empty) and sends them again within the replay window. Every request names
// the incarnation of the node it is for, so the restarted b refuses both:
// nothing is deployed or run, the refusals are counted, and the coordinator's
// own next invocation still redeploys and succeeds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Engine } from '../engine/index.js';
import { NATS_URL } from './helpers/env.js';
import { deployFlow, describe, newCluster, node, runFlow } from './helpers/cluster-attack.js';

const { cluster, secret } = newCluster('replay');
let b: Engine;
let coord: Engine;
let attacker: NatsConnection;
const captured = new Map<string, Uint8Array>();
const decoder = new TextDecoder();

test.before(async () => {
  attacker = await connect({ servers: NATS_URL });
  for (const verb of ['deploy', 'run']) {
    attacker.subscribe(`cwasi.${cluster}.node.b.${verb}`, {
      callback: (_err, msg) => {
        if (!captured.has(verb)) captured.set(verb, msg.data.slice());
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

/** The body of a sealed message: the JSON after the header line. */
function body(data: Uint8Array): { ok?: boolean; error?: { code?: string; details?: { reason?: string } } } {
  const text = decoder.decode(data);
  return JSON.parse(text.slice(text.indexOf('\n') + 1)) as ReturnType<typeof body>;
}

test('deploy and run requests captured before a restart are refused after it', async () => {
  await deployFlow(coord);
  const first = await runFlow(coord, 3, 10_000);
  assert.is(first.ok, first.total, describe(first));
  assert.ok(captured.has('deploy') && captured.has('run'), `captured ${[...captured.keys()].join(', ')}`);

  await b.close();
  b = await node(cluster, secret, 'b');
  const refusedBefore = b.clusterStats()!.refused.control;
  for (const verb of ['deploy', 'run']) {
    const reply = await attacker.request(`cwasi.${cluster}.node.b.${verb}`, captured.get(verb)!, { timeout: 5000 });
    const r = body(reply.data);
    assert.is(r.ok, false, `${verb}: ${JSON.stringify(r)}`);
    assert.is(r.error?.code, 'E_NET', JSON.stringify(r));
    assert.is(r.error?.details?.reason, 'epoch', JSON.stringify(r));
  }
  assert.is(b.clusterStats()!.refused.control - refusedBefore, 2, 'both replays counted');
  assert.equal(b.functions().filter((f) => f.host === 'b'), [], 'the replayed deploy deployed nothing');

  // The coordinator's own requests reach the new incarnation.
  const after = await runFlow(coord, 10, 15_000);
  assert.is(after.ok, after.total, describe(after));
});

test.run();
