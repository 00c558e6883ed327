// A peer that holds the cluster secret but is not the node a stream was
// promised from cannot fill that stream. The impostor reads the run requests
// on NATS (open here) to learn the transfer id, and races the real producer
// with its own bytes of the same length over an already authenticated
// connection; the invocation must still return what the functions computed.
// Two shapes: the stream comes back to the coordinator, and it goes from one
// other node to a third. Real NATS and three in-process engines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { NetTransport } from '../engine/net/transport.js';
import { MiB, NATS_URL } from './helpers/env.js';

const cluster = `imp${randomBytes(4).toString('hex')}`;
const secret = randomBytes(24);
const SIZE = 24 * MiB;
let b: Engine;
let c: Engine;
let coord: Engine;
let nc: NatsConnection;
let mallory: NetTransport;
const dec = new TextDecoder();

interface Sent {
  to: string;
  settled: Promise<'delivered' | 'refused'>;
}

/** On each run request for `node`, push same-sized garbage under every transfer id it names. */
function impersonate(node: string, addresses: Record<string, string>, sent: Sent[]): () => void {
  const sub = nc.subscribe(`cwasi.${cluster}.node.${node}.run`, {
    callback: (_e: Error | null, m: Msg) => {
      const text = dec.decode(m.data);
      const req = JSON.parse(text.slice(text.indexOf('\n') + 1)) as {
        coordinator: string; inputs: Array<{ kind: string; transfer?: string }>; output: { sendTo: Array<{ node: string; transfer: string }> };
      };
      const targets = [
        ...req.output.sendTo.map((s) => ({ to: s.node, transfer: s.transfer })),
        ...req.inputs.filter((i) => i.kind === 'stream').map((i) => ({ to: node, transfer: i.transfer! })),
      ];
      for (const t of targets) {
        const settled = (async () => {
          const s = await mallory.openStream(addresses[t.to]!, { transfer: t.transfer, deadline: Date.now() + 10_000 }, SIZE);
          await s.write(new Uint8Array(SIZE).fill(0x5a));
          await s.end();
          return 'delivered' as const;
        })().catch(() => 'refused' as const);
        sent.push({ to: t.to, settled });
      }
    },
  });
  return () => sub.unsubscribe();
}

test.before(async () => {
  const opts = (name: string) => ({ threads: 1, timeoutMs: 20_000, cluster: { nats: NATS_URL, cluster, name, secret } });
  // Kept one by one, so the after hook closes the engines that did start when another failed.
  const made = await Promise.allSettled([Engine.create(opts('b')), Engine.create(opts('c')), Engine.create(opts('coord'))]);
  [b, c, coord] = made.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as Engine[];
  const failed = made.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  nc = await connect({ servers: NATS_URL });
  mallory = await NetTransport.listen({ secret, nodeName: 'mallory' });
  // Authenticated ahead of time, so its stream needs one frame to arrive.
  await Promise.all([mallory.connect(coord.clusterStats()!.address), mallory.connect(c.clusterStats()!.address)]);
  await coord.deploy({
    name: 'back-here',
    functions: { p: { module: 'producer', host: 'b' }, k: { module: 'checksum' } },
    edges: [{ from: 'p', to: 'k' }],
  });
  await coord.deploy({
    name: 'b-to-c',
    functions: { p2: { module: 'producer', host: 'b' }, k2: { module: 'checksum', host: 'c' } },
    edges: [{ from: 'p2', to: 'k2' }],
  });
});
test.after(async () => {
  await mallory?.close();
  await nc?.close();
  await Promise.all([coord?.close(), b?.close(), c?.close()]);
});

async function check(target: string, watched: string, seed: number): Promise<void> {
  const addresses = { coord: coord.clusterStats()!.address, c: c.clusterStats()!.address };
  const sent: Sent[] = [];
  const stop = impersonate(watched, addresses, sent);
  await nc.flush();
  try {
    const out = await coord.invoke(target, workloads.producerSpec(SIZE, seed));
    assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(SIZE, seed)), length: SIZE }]);
  } finally {
    stop();
  }
  assert.ok(sent.length >= 1, 'the impostor saw no transfer id');
  // Refused at once, or left unclaimed until the node closes: never delivered.
  const outcome = await Promise.race([Promise.all(sent.map((s) => s.settled)), new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
  if (outcome !== 'pending') assert.not.ok(outcome.includes('delivered'), 'an impostor stream was delivered');
}

test('a stream back to the coordinator is taken only from the producer\'s node', async () => {
  const refused0 = coord.clusterStats()!.refused.streams;
  await check('back-here', 'b', 3);
  assert.ok(coord.clusterStats()!.refused.streams > refused0, 'the impostor\'s stream was not refused');
});

test('a stream from one node to another is taken only from the producer\'s node', async () => {
  await check('b-to-c', 'b', 4);
  await check('b-to-c', 'c', 5);
});

test.run();
