// The liveness watch that ties a remote step to its node
// (engine/cluster/liveness.ts), on a real registry and real connections: a
// step on a node whose connection closes, whose heartbeat stops or that
// restarted fails with E_NET; a step on another node is not touched.
// Before, nothing watched a node during a step and the step waited for its
// deadline.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { ClusterRegistry } from '../engine/cluster/registry.js';
import { ControlSigner } from '../engine/cluster/signing.js';
import { NodeLiveness, failureDetectionBoundMs, type NodeWatch } from '../engine/cluster/liveness.js';
import type { NodeRecord } from '../engine/cluster/protocol.js';
import { CwasiError } from '../engine/errors.js';
import { NetTransport } from '../engine/net/transport.js';
import { NATS_URL } from './helpers/env.js';

const cluster = `watch-${randomBytes(4).toString('hex')}`;
const secret = randomBytes(32);
const HEARTBEAT_MS = 100;
const registries: ClusterRegistry[] = [];
const transports: NetTransport[] = [];

async function registry(node: string): Promise<ClusterRegistry> {
  const r = await ClusterRegistry.open({ nats: NATS_URL, cluster, node, heartbeatMs: HEARTBEAT_MS, staleMs: 3 * HEARTBEAT_MS, signer: new ControlSigner(secret, node) });
  registries.push(r);
  return r;
}

/** A node whose record can be frozen (heartbeat stops) or re-stamped as a new incarnation. */
async function node(name: string): Promise<{ freeze(): void; restart(): void }> {
  let startedAt = Date.now();
  let frozenAt: number | undefined;
  const r = await registry(name);
  await r.announce((): NodeRecord => ({
    name, address: '127.0.0.1:1', pid: process.pid, startedAt, heartbeatAt: frozenAt ?? Date.now(), heartbeatMs: HEARTBEAT_MS, functions: [],
  }));
  return { freeze: () => (frozenAt = Date.now()), restart: () => (startedAt = Date.now() + 1) };
}

async function listen(name: string, host: string): Promise<NetTransport> {
  const t = await NetTransport.listen({ secret, nodeName: name, host });
  transports.push(t);
  return t;
}

/** The E_NET a watch fails with, or a failure of the test after `withinMs`. */
async function lost(w: NodeWatch, withinMs: number): Promise<CwasiError> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not lost within ${withinMs} ms`)), withinMs)));
  try {
    await Promise.race([w.failed, late]);
    throw new Error('unreachable');
  } catch (err) {
    if (!(err instanceof CwasiError)) throw err;
    assert.is(err.code, 'E_NET', err.message);
    return err;
  } finally {
    clearTimeout(timer);
  }
}

let reader: ClusterRegistry;
let self: NetTransport;
let liveness: NodeLiveness;

test.before(async () => {
  reader = await registry('reader');
  await reader.announce((): NodeRecord => ({ name: 'reader', address: '127.0.0.1:1', pid: process.pid, startedAt: 0, heartbeatAt: Date.now(), heartbeatMs: HEARTBEAT_MS, functions: [] }));
  self = await listen('reader', '127.0.13.1');
  liveness = new NodeLiveness('reader', reader, self, 3 * HEARTBEAT_MS);
});
test.after(async () => {
  liveness?.close();
  for (const t of transports) await t.close();
  for (const r of registries) await r.close().catch(() => {});
});

test('a node whose heartbeat stops fails its steps within the bound; another node\'s steps carry on', async () => {
  const silent = await node('silent');
  await node('steady');
  await reader.refresh();
  const onSilent = liveness.watch('silent', 'a test step');
  const onSteady = liveness.watch('steady', 'a test step');
  silent.freeze();
  const frozenAt = Date.now();
  const err = await lost(onSilent, failureDetectionBoundMs(HEARTBEAT_MS, 3 * HEARTBEAT_MS) + 2000);
  assert.match(err.message, /heartbeat stopped/);
  assert.ok(Date.now() - frozenAt >= 3 * HEARTBEAT_MS - 50, 'not before the window passed');
  assert.is(liveness.watching, 1, 'the watch on the steady node is still open');
  onSteady.stop();
  assert.is(liveness.watching, 0);
});

test('a node that restarted fails the steps asked of its old incarnation', async () => {
  const n = await node('restarts');
  await reader.refresh();
  const before = liveness.watch('restarts', 'a test step');
  n.restart();
  const err = await lost(before, 5000);
  assert.match(err.message, /restarted/);
  // A step started on the new incarnation is not failed for the old one.
  const after = liveness.watch('restarts', 'a test step');
  await reader.refresh();
  assert.is(reader.node('restarts')?.startedAt, after.startedAt);
  after.stop();
});

test('a connection the peer closes fails the steps on that peer at once, and only on it', async () => {
  const peer = await listen('closer', '127.0.13.2');
  const other = await listen('other', '127.0.13.3');
  await node('closer');
  await node('other');
  await reader.refresh();
  await self.connect(`${peer.address.host}:${peer.address.port}`);
  await self.connect(`${other.address.host}:${other.address.port}`);
  const onCloser = liveness.watch('closer', 'a test step');
  const onOther = liveness.watch('other', 'a test step');
  await peer.close();
  const err = await lost(onCloser, 2000);
  // The cause, not a time, says it was the connection and not the heartbeat window.
  assert.match(err.message, /connection failed/);
  assert.ok(liveness.failures.connection >= 1);
  assert.is(liveness.watching, 1, 'the other peer\'s step is still watched');
  onOther.stop();
});

test.run();
