// A coordinator in its own process, for tests that kill one mid-invocation
// (test/cluster-held-owner-lost.test.ts). It joins the cluster, deploys a
// workflow whose first step's output stays held on node b for a later step
// there, and invokes it with an input that makes the middle step (on this
// coordinator) spin until the deadline: b holds the output until someone
// releases it or this process dies. Prints "invoking" once the call is on its
// way; the parent kills it.
//
//   node dist/test/helpers/held-coordinator.js <nats> <cluster> <secret-hex> <name>
import { Engine } from '../../engine/index.js';
import * as workloads from '../../engine/workloads.js';

const [nats, cluster, secretHex, name] = process.argv.slice(2) as [string, string, string, string];
const PAYLOAD = 256 * 1024;

/** A producer seed whose output starts with byte 1: the spin fixture then loops. */
function spinningSeed(): number {
  for (let seed = 0; seed < 1_000_000; seed++) if (workloads.produce(16, seed)[0] === 1) return seed;
  throw new Error('no seed found');
}

const engine = await Engine.create({
  threads: 1, timeoutMs: 120_000,
  cluster: { nats, cluster, name, secret: Buffer.from(secretHex, 'hex'), heartbeatMs: 500 },
});
await engine.deploy({
  name: 'held-flow',
  functions: { p: { module: 'producer', host: 'b' }, s: { module: 'spin' }, k: { module: 'checksum', host: 'b' } },
  edges: [{ from: 'p', to: 's' }, { from: 's', to: 'k' }, { from: 'p', to: 'k' }],
});
engine.invoke('held-flow', workloads.producerSpec(PAYLOAD, spinningSeed())).catch(() => {});
console.log('invoking');
