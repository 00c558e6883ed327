// cwasi-test: exclusive (makes network namespaces)
// A node cut off mid-transfer (its process alive, its link down) fails the
// invocation streaming to it with E_NET within the stated bound: its
// heartbeat stops reaching the registry and its connection goes silent.
// Before, nothing watched either and the invocation waited out its deadline.
// Other nodes keep serving meanwhile, and once the link is back the next
// invocation on the node succeeds.
//
// With root and iproute2 the node runs in a network namespace joined by a
// veth pair and the link is taken down for real; elsewhere the node's process
// is stopped (SIGSTOP: alive, silent) on loopback. The output says which ran.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CwasiError, Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { MiB, NATS_URL } from './helpers/env.js';
import { failureBoundMs, untilBytes } from './helpers/cluster-failure.js';
import { openNetns, type Netns } from './helpers/netns.js';

let harness: Harness;
let engine: Engine;
let netns: Netns | undefined;
let cutoffPid: number | undefined;
const DEADLINE_MS = 60_000;

test.before(async () => {
  const ns = await openNetns();
  if ('unavailable' in ns) {
    console.log(`# partition by SIGSTOP on loopback (no network namespace: ${ns.unavailable})`);
  } else {
    netns = ns;
    console.log(`# partition by link down: node in network namespace ${ns.name} (${ns.nsIp}), NATS on ${ns.nats}`);
  }
  harness = await startCluster({
    nats: netns?.nats ?? NATS_URL,
    nodes: [{ name: 'cutoff', host: netns?.nsIp ?? '127.0.0.2' }, { name: 'bystander', host: '127.0.0.3' }],
    ...(netns ? { wrapFor: (name: string) => (name === 'cutoff' ? netns!.wrap : []) } : {}),
  });
  cutoffPid = harness.nodes.get('cutoff')!.child.pid;
  engine = await Engine.create({
    threads: 2, timeoutMs: DEADLINE_MS,
    cluster: {
      nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile, heartbeatMs: 300,
      ...(netns ? { listen: `${netns.hostIp}:0` } : {}),
    },
  });
  await engine.deploy([{ name: 'on-cutoff', module: 'checksum', host: 'cutoff' }, { name: 'on-bystander', module: 'checksum', host: 'bystander' }]);
});
test.after(async () => {
  restore();
  await engine?.close();
  await harness?.close();
  await netns?.close();
});

let cut = false;
function partition(): void {
  cut = true;
  if (netns) netns.cut();
  else process.kill(cutoffPid!, 'SIGSTOP');
}
function restore(): void {
  if (!cut) return;
  cut = false;
  if (netns) netns.restore();
  else process.kill(cutoffPid!, 'SIGCONT');
}

function expectedSum(bytes: Uint8Array): Array<{ hash: number; length: number }> {
  return [{ hash: workloads.checksum(bytes), length: bytes.length }];
}

test('a node cut off mid-transfer fails the invocation with E_NET within the bound', async () => {
  const small = workloads.produce(2 * MiB, 1);
  assert.equal(workloads.readChecksums(await engine.invoke('on-cutoff', small)), expectedSum(small));
  const big = workloads.produce(96 * MiB, 2);
  const sentBefore = engine.clusterStats()!.net.bytesSent;
  const doomed = engine.invoke('on-cutoff', big);
  doomed.catch(() => {});
  assert.ok(await untilBytes(() => engine.clusterStats()!.net.bytesSent - sentBefore, 16 * MiB, 20_000), 'the stream started');
  const cutAt = Date.now();
  partition();
  const other = workloads.produce(8 * MiB, 3);
  const bystander = engine.invoke('on-bystander', other);
  let err: unknown;
  try {
    await doomed;
  } catch (e) {
    err = e;
  }
  const tookMs = Date.now() - cutAt;
  assert.instance(err, CwasiError, `the invocation must fail, got ${String(err)}`);
  assert.is((err as CwasiError).code, 'E_NET', (err as Error).message);
  const bound = failureBoundMs();
  console.log(`# cut off mid-transfer: E_NET after ${tookMs} ms (bound ${bound} ms): ${(err as Error).message}`);
  assert.ok(tookMs < bound + 2000, `failed after ${tookMs} ms, bound ${bound} ms`);
  assert.equal(workloads.readChecksums(await bystander), expectedSum(other));
});

test('once the link is back, the next invocation on the node succeeds', async () => {
  restore();
  // The node is usable again once its heartbeat reaches the registry.
  const deadline = Date.now() + 15_000;
  while (!engine.clusterStats()!.liveNodes.includes('cutoff') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(engine.clusterStats()!.liveNodes.includes('cutoff'), 'the node is alive again');
  const input = workloads.produce(24 * MiB, 4);
  const t0 = Date.now();
  const out = await engine.invoke('on-cutoff', input);
  const tookMs = Date.now() - t0;
  console.log(`# first invocation after the link returned: ${tookMs} ms`);
  assert.equal(workloads.readChecksums(out), expectedSum(input));
  assert.ok(tookMs < 10_000, `took ${tookMs} ms`);
});

test.run();
