// Regression: a node was judged against the READER's window (3 × the reader's
// own heartbeat period), not its own: a coordinator beating every 300 ms
// declared a node beating every 1000 ms dead in the last tenth of every period
// (cluster-node-death: `node "steady" is not alive`), and under load far more
// often. Now a node is alive while its heartbeat is younger than three of its
// own periods (capped, since a record is a peer's input) or the reader's
// staleMs. Records are stamped in the past here, so no test waits on a clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { ClusterRegistry, LIVENESS_BEATS, MAX_HEARTBEAT_MS } from '../engine/cluster/registry.js';
import { ControlSigner } from '../engine/cluster/signing.js';
import type { NodeRecord } from '../engine/cluster/protocol.js';
import { NATS_URL } from './helpers/env.js';

const cluster = `liveness-${randomBytes(4).toString('hex')}`;
const opened: ClusterRegistry[] = [];
/** Every node of the test cluster holds this secret (records are sealed with it). */
const secret = randomBytes(32);

async function open(node: string, heartbeatMs: number): Promise<ClusterRegistry> {
  const r = await ClusterRegistry.open({ nats: NATS_URL, cluster, node, heartbeatMs, staleMs: 3 * heartbeatMs, signer: new ControlSigner(secret, node) });
  opened.push(r);
  return r;
}

/** A node announcing records whose heartbeat is `ageMs` old, claiming `heartbeatMs` (every put re-stamps). */
async function announcer(name: string, ageMs: number, heartbeatMs: number | undefined): Promise<void> {
  const r = await open(name, 60_000);
  await r.announce((): NodeRecord => ({
    name, address: '127.0.0.1:1', pid: process.pid, startedAt: Date.now(), heartbeatAt: Date.now() - ageMs,
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}), functions: [],
  }));
}

test.after(async () => {
  for (const r of opened) await r.close().catch(() => {});
});

test('a node is judged against its own heartbeat period, not the reader\'s', async () => {
  const reader = await open('reader', 100); // its own window: 300 ms
  await announcer('slow', 600, 1000); // 0.6 of its 1 s period late: alive
  await announcer('silent', LIVENESS_BEATS * 1000 + 2000, 1000); // more than three periods: dead
  await announcer('old-format', 600, undefined); // no period: the reader's 300 ms window
  await announcer('liar', MAX_HEARTBEAT_MS * LIVENESS_BEATS + 5000, 1e12); // claims an endless period: capped
  await reader.refresh();
  assert.ok(reader.node('slow') !== undefined, 'slow is alive');
  assert.is((await reader.requireNode('slow')).name, 'slow');
  assert.is(reader.node('silent'), undefined, 'silent is dead');
  assert.is(reader.node('old-format'), undefined, 'a record without a period is judged by the reader\'s window');
  assert.is(reader.node('liar'), undefined, 'a claimed period is capped');
  try {
    await reader.requireNode('silent');
    assert.unreachable('requireNode of a dead node must fail');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'E_NET');
  }
  const live = reader.liveNodes().map((n) => n.name).sort();
  assert.equal(live, ['slow']);
});

test.run();
