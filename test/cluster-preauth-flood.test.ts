// A flood of silent connections from 16 loopback addresses holds node b's
// pre-auth slots (8 per address, the documented limit) for the whole test.
// A fresh coordinator's invocation with a streamed input must end within
// 5 s, never at its deadline: the slots kept for known peers let a cluster
// member in (a result); a member whose own address is flooded too gets E_NET
// at once, and b stops waiting for the input stream that will not come.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { CwasiError, type Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { newCluster, node } from './helpers/cluster-attack.js';
import { within, until } from './helpers/settle.js';
import { MiB } from './helpers/env.js';

const { cluster, secret } = newCluster('flood');
const DEADLINE_MS = 30_000;
const floods: net.Socket[] = [];
let b: Engine;
let port: number;
const engines: Engine[] = [];


/** `n` silent sockets to b from `from`; resolves once each connected or was refused. */
async function flood(from: string, n: number): Promise<void> {
  const opened: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect({ host: '127.0.0.2', port, localAddress: from });
    s.on('error', () => {});
    floods.push(s);
    opened.push(Promise.race([once(s, 'connect'), once(s, 'close')]));
  }
  await within(Promise.all(opened), 5000, `the sockets from ${from} open`);
}

async function coordinator(name: string, host: string): Promise<Engine> {
  const e = await node(cluster, secret, name, { timeoutMs: DEADLINE_MS }, `${host}:0`);
  engines.push(e);
  await e.deploy({ name: 'k', module: 'checksum', host: 'b' });
  return e;
}

test.before(async () => {
  b = await node(cluster, secret, 'b', {}, '127.0.0.2:0', { timeoutMs: 20_000 });
  port = Number(b.clusterStats()!.address.split(':')[1]);
  for (let a = 10; a < 26; a++) await flood(`127.0.0.${a}`, 8);
  const net0 = () => b.clusterStats()!.net;
  // Every flood socket is judged: held in a slot or refused on arrival.
  await until(() => net0().preAuthPending + net0().preAuthRefusedPerAddress + net0().preAuthRefusedGlobal >= 128, 5000, 'the flood is judged');
});

test.after(async () => {
  for (const s of floods) s.destroy();
  for (const e of engines) await e.close();
  await b?.close();
});

function invoke(e: Engine, seed: number): { input: Uint8Array; done: Promise<Uint8Array>; t0: number } {
  const input = workloads.produce(1 * MiB, seed);
  return { input, done: e.invoke('k', input), t0: Date.now() };
}

test('the flood holds every slot open to strangers; a fresh member coordinator still gets its result within 5 s', async () => {
  const st = b.clusterStats()!.net;
  assert.is(st.preAuthPending, 48, 'three quarters of the 64 slots, the rest kept for peers');
  const coord = await coordinator('c1', '127.0.0.3');
  const call = invoke(coord, 1);
  const out = await within(call.done, 5000, 'the invocation under the flood');
  const took = Date.now() - call.t0;
  console.log(`# under a flood of ${st.preAuthPending} held slots: a result in ${took} ms`);
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(call.input), length: call.input.length }]);
});

test("a member whose own address is flooded too: E_NET within 5 s, and b stops waiting for the input stream", async () => {
  const coord = await coordinator('c2', '127.0.0.4');
  // Once b knows c2, its address may take the kept slots: the flood takes them first.
  await until(() => b.clusterStats()!.liveNodes.includes('c2'), 5000, 'b sees c2');
  await flood('127.0.0.4', 8);
  await until(() => b.clusterStats()!.net.preAuthPending === 56, 5000, "the member's address fills its 8 slots");
  const call = invoke(coord, 2);
  let err: unknown;
  try {
    await within(call.done, 5000, 'the invocation from a flooded address');
  } catch (e) {
    err = e;
  }
  const took = Date.now() - call.t0;
  console.log(`# from a flooded address: ${String((err as Error)?.message)} after ${took} ms`);
  assert.instance(err, CwasiError, String(err));
  assert.is((err as CwasiError).code, 'E_NET', (err as Error).message);
  await until(() => b.clusterStats()!.waiting === 0, 3000, 'b gives up the input stream');
});

test.run();
