// cwasi-test: exclusive (makes a network namespace with a shaped link)
// A slow, distant node is not a dead one. The node runs in a network
// namespace whose link is shaped with `tc` (200 Mbit/s with tbf, and 100 ms
// each way with netem where the kernel has it; the output says what applied):
// a 4 MiB input streams to it and its checksum comes back, nothing is counted
// lost, and the transfer took at least what the shaped link allows (proof
// the shaping applied). Needs root, iproute2 and nats-server; says why it
// did not run otherwise.
import { test } from 'uvu';
import { execFileSync } from 'node:child_process';
import * as assert from 'uvu/assert';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { startCluster, type Harness } from '../bench/cluster-harness.js';
import { MiB } from './helpers/env.js';
import { openNetns, type Netns, type Shaped } from './helpers/netns.js';

const DELAY_MS = 100;
const RATE_MBIT = 200;
const SIZE = 4 * MiB;

function hasTc(): boolean {
  try {
    execFileSync('tc', ['-V'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

const ns: Netns | { unavailable: string } = hasTc() ? await openNetns() : { unavailable: 'no tc (iproute2)' };
if ('unavailable' in ns) {
  test(`slow link: not run (${ns.unavailable})`, () => {
    console.log(`# slow link: not run (${ns.unavailable})`);
  });
} else {
  const netns: Netns = ns;
  let harness: Harness | undefined;
  let engine: Engine | undefined;
  let shaped: Shaped | undefined;
  test.before(async () => {
    harness = await startCluster({ nats: netns.nats, nodes: [{ name: 'far', host: netns.nsIp }], wrapFor: () => netns.wrap });
    engine = await Engine.create({
      threads: 2, timeoutMs: 60_000,
      cluster: { nats: harness.nats, cluster: harness.cluster, name: 'coord', secretFile: harness.secretFile, listen: `${netns.hostIp}:0` },
    });
    await engine.deploy({ name: 'on-far', module: 'checksum', host: 'far' });
    shaped = netns.shape(RATE_MBIT, DELAY_MS);
  });
  test.after(async () => {
    try { netns.shape(0); } catch { /* the namespace goes anyway */ }
    await engine?.close();
    await harness?.close();
    await netns.close();
  });

  test(`a ${SIZE / MiB} MiB input to a node behind a ${RATE_MBIT} Mbit/s link completes, and the node is never judged lost`, async () => {
    const before = engine!.clusterStats()!.nodesLost;
    const input = workloads.produce(SIZE, 21);
    const t0 = Date.now();
    const out = await engine!.invoke('on-far', input);
    const tookMs = Date.now() - t0;
    assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(input), length: SIZE }]);
    assert.equal(engine!.clusterStats()!.nodesLost, before, 'no node counted lost');
    assert.ok(engine!.clusterStats()!.liveNodes.includes('far'));
    // A lower bound set by the link, never an upper one: the bytes alone need SIZE*8/RATE.
    const floorMs = (SIZE * 8) / (RATE_MBIT * 1e6) * 1000 + shaped!.delayMs;
    assert.ok(tookMs >= floorMs, `took ${tookMs} ms, under the shaped link's floor of ${floorMs.toFixed(0)} ms: shaping did not apply`);
    console.log(`# slow link (${shaped!.rateMbit} Mbit/s, ${shaped!.delayMs} ms each way${shaped!.noDelay ? `; no delay: ${shaped!.noDelay}` : ''}): ${SIZE / MiB} MiB checksummed on the far node in ${tookMs} ms (floor ${floorMs.toFixed(0)} ms)`);
  });
}

test.run();
