// The control plane admits only holders of the cluster secret: an attacker who
// can reach NATS (no NATS auth here) but lacks the secret cannot deploy into a
// node, run a node's functions, replay or alter a captured message, or slip a
// forged record into the registry. Real NATS, two real engines in-process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { Engine } from '../engine/index.js';
import * as workloads from '../engine/workloads.js';
import { ControlSigner, recordContext } from '../engine/cluster/signing.js';
import { bucketNames } from '../engine/cluster/registry.js';
import { MiB, NATS_URL } from './helpers/env.js';
import { rejectsWith } from './helpers/assert-error.js';

const cluster = `auth${randomBytes(4).toString('hex')}`;
const secret = randomBytes(24);
let victim: Engine;
let coord: Engine;
let attacker: NatsConnection;
const subject = (node: string, verb: string) => `cwasi.${cluster}.node.${node}.${verb}`;
const enc = new TextEncoder();
const dec = new TextDecoder();

async function ask(subj: string, data: Uint8Array): Promise<{ ok: boolean; error?: { code: string; message: string } }> {
  const reply = await attacker.request(subj, data, { timeout: 5000 });
  return JSON.parse(dec.decode(reply.data)) as { ok: boolean; error?: { code: string; message: string } };
}

test.before(async () => {
  victim = await Engine.create({ threads: 1, timeoutMs: 20_000, cluster: { nats: NATS_URL, cluster, name: 'b', secret } });
  coord = await Engine.create({ threads: 1, timeoutMs: 20_000, cluster: { nats: NATS_URL, cluster, name: 'coord', secret } });
  attacker = await connect({ servers: NATS_URL });
  await coord.deploy({
    name: 'victim-flow',
    functions: {
      p: { module: 'producer', host: 'b', trusted: true, domain: 'victim' },
      k: { module: 'checksum' },
    },
    edges: [{ from: 'p', to: 'k' }],
  });
});
test.after(async () => {
  await attacker?.close();
  await coord?.close();
  await victim?.close();
});

test('an unauthenticated deploy is refused with E_AUTH and deploys nothing', async () => {
  const before = victim.clusterStats()!.refused.control;
  const deploy = { type: 'deploy', functions: [{ name: 'spy', module: 'identity', trusted: true, domain: 'victim' }] };
  const r = await ask(subject('b', 'deploy'), enc.encode(JSON.stringify(deploy)));
  assert.is(r.ok, false);
  assert.is(r.error!.code, 'E_AUTH');
  assert.is(victim.clusterStats()!.refused.control, before + 1);
  await rejectsWith(victim.invoke('spy', new Uint8Array(4)), 'E_UNKNOWN_FUNCTION');
});

test('an unauthenticated run of the victim\'s function is refused: nothing runs, nothing is returned', async () => {
  const stats0 = victim.stats();
  const run = {
    type: 'run', coordinator: 'mallory', coordinatorAddress: '127.0.0.1:9', invocationId: 1, deadline: Date.now() + 5000,
    steps: ['p'], inputs: [{ kind: 'inline', base64: Buffer.from(workloads.producerSpec(MiB, 1)).toString('base64') }],
    output: { hold: false, sendTo: [], returnTransfer: 'mallory/out' },
  };
  const r = await ask(subject('b', 'run'), enc.encode(JSON.stringify(run)));
  assert.is(r.error?.code, 'E_AUTH');
  assert.is(victim.stats().pool.completed, stats0.pool.completed, 'the victim ran something');
});

test('a message sealed with another secret is refused', async () => {
  const wrong = new ControlSigner(randomBytes(24), 'coord');
  const deploy = { type: 'deploy', functions: [{ name: 'spy', module: 'identity' }] };
  const r = await ask(subject('b', 'deploy'), wrong.seal(subject('b', 'deploy'), deploy).data);
  assert.is(r.error?.code, 'E_AUTH');
  assert.match(r.error!.message, /bad MAC/);
});

test('a captured signed run, replayed, altered or sent to another subject, is refused', async () => {
  const captured: Uint8Array[] = [];
  const sub = attacker.subscribe(subject('b', 'run'), {
    callback: (_e: Error | null, m: Msg) => {
      captured.push(m.data.slice());
    },
  });
  await attacker.flush();
  const out = await coord.invoke('victim-flow', workloads.producerSpec(2 * MiB, 7));
  assert.equal(workloads.readChecksums(out), [{ hash: workloads.checksum(workloads.produce(2 * MiB, 7)), length: 2 * MiB }]);
  sub.unsubscribe();
  assert.ok(captured.length >= 1, 'no run request seen');
  const msg = captured[0]!;
  // The transfer ids in it are unguessable: the coordinator's name and 128 random bits.
  const text = dec.decode(msg);
  const ids = [...text.matchAll(/"(?:transfer|returnTransfer)":"([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(ids.length >= 1, text.slice(0, 300));
  for (const id of ids) assert.match(id, /^coord\/[A-Za-z0-9_-]{22}$/);

  const started = victim.stats().pool.completed;
  const replay = await ask(subject('b', 'run'), msg);
  assert.is(replay.error?.code, 'E_AUTH');
  assert.match(replay.error!.message, /replayed/);

  const nl = msg.indexOf(0x0a);
  const body = JSON.parse(dec.decode(msg.subarray(nl + 1))) as { deadline: number; steps: string[] };
  body.deadline += 1;
  const altered = new Uint8Array([...msg.subarray(0, nl + 1), ...enc.encode(JSON.stringify(body))]);
  const tampered = await ask(subject('b', 'run'), altered);
  assert.is(tampered.error?.code, 'E_AUTH');
  assert.match(tampered.error!.message, /bad MAC/);

  const elsewhere = await ask(subject('b', 'deploy'), msg);
  assert.is(elsewhere.error?.code, 'E_AUTH');
  assert.is(victim.stats().pool.completed, started, 'a refused message ran something');
});

test('a forged node record is ignored: no deploy goes to the node it names', async () => {
  const kv = await new Kvm(attacker).open(bucketNames(cluster).nodes);
  const forged = { name: 'evil', address: '127.0.0.1:9', pid: 1, startedAt: Date.now(), heartbeatAt: Date.now() + 60_000, functions: [] };
  await kv.put('evil', enc.encode(JSON.stringify(forged)));
  // The forger answers deploys for "evil" as a node would, to take the functions placed there.
  let deploys = 0;
  const sub = attacker.subscribe(subject('evil', '*'), {
    callback: (_e: Error | null, m: Msg) => {
      deploys++;
      m.respond(enc.encode(JSON.stringify({ ok: true, functions: [{ name: 'q', host: 'evil', group: 'evil/q', trusted: false, domain: 'default' }] })));
    },
  });
  await attacker.flush();
  const refused0 = coord.clusterStats()!.refused.records;
  await rejectsWith(coord.deploy({ name: 'to-evil', functions: { q: { module: 'identity', host: 'evil' } } }), 'E_NET', /not alive/);
  sub.unsubscribe();
  assert.is(deploys, 0);
  assert.ok(coord.clusterStats()!.refused.records > refused0);
  assert.not.ok(coord.clusterStats()!.liveNodes.includes('evil'));

  // A record sealed for one key does not pass under another.
  const signer = new ControlSigner(secret, 'b');
  const ctx = recordContext(bucketNames(cluster).nodes, 'b');
  await kv.put('evil2', signer.seal(ctx, { ...forged, name: 'evil2' }).data);
  await rejectsWith(coord.deploy({ name: 'to-evil2', functions: { q2: { module: 'identity', host: 'evil2' } } }), 'E_NET', /not alive/);
});

test.run();
