// A node that is busy is not dead. Its process stopped (SIGSTOP) for less
// than its liveness window, then resumed, as a starved or swapping machine
// would do to it: the coordinator never counts it lost, an invocation sent
// to it during the pause completes after the resume, and nothing is failed
// with E_NET. (Stopped for longer than the window, the node is lost and its
// in-flight work fails with E_NET: test/cluster-partition.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { MiB, NATS_URL } from './helpers/env.js';
import { NODE_HEARTBEAT_MS, failureBoundMs } from './helpers/cluster-failure.js';

let harness: Harness;
let engine: Engine;
let pid: number | undefined;
let stopped = false;
/** Well inside the window: the last beat may be a period old when the pause starts. */
const PAUSE_MS = failureBoundMs() - 2 * NODE_HEARTBEAT_MS - 200;

test.before(async () => {
  harness = await startCluster({ nats: NATS_URL, nodes: [{ name: 'paused', host: '127.0.0.2' }] });
  pid = harness.nodes.get('paused')!.child.pid;
  engine = await Engine.create({
    threads: 2, timeoutMs: 30_000,
    cluster: { nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile },
  });
  await engine.deploy({ name: 'on-paused', module: 'checksum', host: 'paused' });
});
test.after(async () => {
  if (stopped) process.kill(pid!, 'SIGCONT');
  await engine?.close();
  await harness?.close();
});

test(`a node stopped for ${PAUSE_MS} ms (under its window) stays alive and finishes its work`, async () => {
  assert.ok(PAUSE_MS >= 300, `pause ${PAUSE_MS} ms`);
  const input = workloads.produce(4 * MiB, 11);
  const before = engine.clusterStats()!.nodesLost;
  assert.ok(engine.clusterStats()!.liveNodes.includes('paused'));

  process.kill(pid!, 'SIGSTOP');
  stopped = true;
  const started = Date.now();
  // Sent while the node is stopped: its bytes wait in the socket buffers.
  const run = engine.invoke('on-paused', input);
  let sawDead = false;
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (!engine.clusterStats()!.liveNodes.includes('paused')) sawDead = true;
      if (Date.now() - started >= PAUSE_MS) {
        resolve();
        return;
      }
      setTimeout(check, 25);
    };
    check();
  });
  process.kill(pid!, 'SIGCONT');
  stopped = false;

  const out = await run;
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(input), length: input.length }]);
  assert.not.ok(sawDead, 'the coordinator judged the paused node dead');
  assert.equal(engine.clusterStats()!.nodesLost, before, 'no node counted lost');
  console.log(`   paused ${Date.now() - started} ms total; window ${failureBoundMs()} ms; invocation ok`);
});

test.run();
