// An attacker who may call the JetStream API (but lacks the cluster secret)
// edits the registry's streams while a two-node workflow runs: every 250 ms
// one of max_msg_size 16, max_bytes 64, max_msgs_per_subject 5, a 1 s
// max_age, other subjects. Each node compares the streams with what the
// registry needs and puts back what differs, at once when a put fails: ≥ 99%
// of invocations are right (none wrong), a new coordinator joins and a
// restarted node serves within 5 s,
// and the repairs are counted. A stream that cannot be repaired (sealed)
// stops a join with E_CONFIG naming the setting.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { Engine } from '../engine/index.js';
import { NATS_URL } from './helpers/env.js';
import { rejectsWith } from './helpers/assert-error.js';
import { until } from './helpers/settle.js';
import { deployFlow, describe, newCluster, node, restartServes, runFlow } from './helpers/cluster-attack.js';

const { cluster, secret } = newCluster('cfg');
const streams = [`KV_cwasi_${cluster}_nodes`, `KV_cwasi_${cluster}_functions`];
let b: Engine;
let coord: Engine;
let late: Engine | undefined;
let attacker: NatsConnection;
let jsm: JetStreamManager;

test.before(async () => {
  attacker = await connect({ servers: NATS_URL });
  jsm = await jetstreamManager(attacker);
  b = await node(cluster, secret, 'b');
  coord = await node(cluster, secret, 'coord');
});

test.after(async () => {
  await late?.close();
  await coord?.close();
  await b?.close();
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await attacker?.close();
});

const EDITS: Array<(name: string) => Record<string, unknown>> = [
  () => ({ max_msg_size: 16 }),
  () => ({ max_bytes: 64 }),
  () => ({ max_msgs_per_subject: 5 }),
  () => ({ max_age: 1_000_000_000 }),
  (name) => ({ subjects: [`elsewhere.${name}.>`] }),
];

/** Edit both streams every `everyMs` until `stop()`; resolves with how many edits the server took. */
function editLoop(everyMs: number): { stop: () => Promise<number> } {
  let stopped = false;
  let applied = 0;
  const loop = (async () => {
    for (let i = 0; !stopped && i < 400; i++) {
      for (const s of streams) {
        try {
          const config = (await jsm.streams.info(s)).config;
          await jsm.streams.update(s, { ...config, ...EDITS[i % EDITS.length]!(s) });
          applied++;
        } catch {
          // refused by the server (or a repair raced it): the next round tries again
        }
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return { stop: async () => { stopped = true; await loop; return applied; } };
}

test('stream edits every 250 ms: the workflow keeps ≥ 99% right, a new coordinator joins within 5 s', async () => {
  await deployFlow(coord);
  const edits = editLoop(250);
  const tally = await runFlow(coord, 5000, 6000);
  const t0 = Date.now();
  late = await node(cluster, secret, 'late');
  const joinMs = Date.now() - t0;
  await deployFlow(late);
  const fromLate = await runFlow(late, 20, 5000);
  // The restart replaces b and its counters: keep what the first b put back.
  const firstB = b.clusterStats()!.registry.repairs;
  const restart = await restartServes(cluster, secret, b, 'b', coord);
  b = restart.engine;
  const counted = () => firstB + [b, coord, late!].reduce((n, e) => n + e.clusterStats()!.registry.repairs, 0);
  // A fast run can end before a guard's periodic check (every 5 heartbeats) met an edit that left puts working.
  await until(() => counted() > 0, 10_000, 'a repair').catch(() => {});
  const applied = await edits.stop();
  const repairs = counted();
  console.log(`# ${applied} stream edits: ${describe(tally)}; a new coordinator joined in ${joinMs} ms; b restarted and served in ${restart.ms} ms; ${repairs} settings put back`);
  assert.ok(applied >= 20, `only ${applied} edits applied`);
  assert.ok(tally.total >= 50, `only ${tally.total} invocations ran`);
  assert.is(tally.wrong, 0, describe(tally));
  assert.ok(tally.ok >= 0.99 * tally.total, describe(tally));
  assert.ok(joinMs < 5000, `join took ${joinMs} ms`);
  assert.is(fromLate.wrong, 0, describe(fromLate));
  assert.ok(fromLate.ok >= 0.99 * fromLate.total, describe(fromLate));
  assert.ok(repairs > 0, 'repairs counted');
  assert.is(restart.tally.ok, restart.tally.total, describe(restart.tally));
  assert.ok(restart.ms < 5000, `node b restarted and served after ${restart.ms} ms`);
});

test('a sealed registry stream cannot be repaired: a join fails with E_CONFIG naming it', async () => {
  const other = newCluster('sealed');
  const first = await node(other.cluster, other.secret, 'x');
  await first.close();
  const name = `KV_cwasi_${other.cluster}_functions`;
  try {
    const config = (await jsm.streams.info(name)).config;
    await jsm.streams.update(name, { ...config, sealed: true } as typeof config);
    await rejectsWith(node(other.cluster, other.secret, 'y'), 'E_CONFIG', /sealed is true/);
  } finally {
    for (const s of [`KV_cwasi_${other.cluster}_nodes`, name]) await jsm.streams.delete(s).catch(() => {});
  }
});

test.run();
