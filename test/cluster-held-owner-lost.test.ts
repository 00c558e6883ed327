// Outputs held on a node for a coordinator's later steps follow their owner:
// four coordinators, each in its own process, invoke a workflow whose first
// step's output stays held on node b while their middle step spins; they are
// killed (SIGKILL) mid-invocation. b frees every held output within the
// liveness bound, clusterStats() shows them gone (and counted as freed for a
// lost owner) and stats() shows their bytes back in b's memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../engine/index.js';
import { failureDetectionBoundMs } from '../engine/cluster/liveness.js';
import { NATS_URL } from './helpers/env.js';
import { newCluster, node } from './helpers/cluster-attack.js';
import { until } from './helpers/settle.js';

const { cluster, secret } = newCluster('held');
const script = fileURLToPath(new URL('./helpers/held-coordinator.js', import.meta.url));
const COORDINATORS = 4;
const children: ChildProcess[] = [];
let b: Engine;


/** Bytes in use in b's memories beyond what instances keep for their lifetime (and chunks parked in caches). */
const callBytes = () => b.stats().memory.reduce((n, m) => n + m.bytesInUse - m.instanceBytes - m.cachedBytes, 0);

test.before(async () => {
  b = await node(cluster, secret, 'b');
});

test.after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await b?.close();
});

test('coordinators killed mid-invocation: the outputs held for them are freed within the liveness bound', async () => {
  for (let i = 0; i < COORDINATORS; i++) {
    const child = spawn(process.execPath, [script, NATS_URL, cluster, Buffer.from(secret).toString('hex'), `c${i}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
  }
  await until(() => Object.keys(b.clusterStats()!.heldBy).length === COORDINATORS, 30_000, 'every coordinator has an output held on b');
  const held = b.clusterStats()!;
  assert.is(held.held, COORDINATORS);
  for (let i = 0; i < COORDINATORS; i++) assert.is(held.heldBy[`c${i}`]?.outputs, 1, JSON.stringify(held.heldBy));
  const heldBytes = callBytes();
  assert.ok(heldBytes > 0, 'the held outputs keep bytes in use');

  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
  const bound = failureDetectionBoundMs(500);
  const took = await until(() => b.clusterStats()!.held === 0, bound + 3000, 'the held outputs are freed');
  console.log(`# ${COORDINATORS} coordinators killed: their held outputs freed after ${took} ms (liveness bound ${bound} ms)`);
  const after = b.clusterStats()!;
  assert.equal(after.heldBy, {});
  assert.is(after.heldFreed.ownerLost, COORDINATORS);
  await until(() => callBytes() === 0, 3000, `b's memory gives back the ${heldBytes} held bytes`);
});

test.run();
