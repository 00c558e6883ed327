// The cluster's `preAuth` options reach the node's Networked Buffer listener:
// with one pending connection allowed per address, the second and third
// silent sockets from one address are refused on arrival and counted in
// clusterStats().net; a bad value is a typed E_CONFIG before anything starts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Engine } from '../engine/index.js';
import { NATS_URL } from './helpers/env.js';
import { rejectsWith } from './helpers/assert-error.js';
import { socketClosed } from './helpers/sockets.js';
import { within } from './helpers/settle.js';

const secret = randomBytes(24).toString('hex');
const cluster = `p${randomBytes(4).toString('hex')}`;

test('cluster.preAuth limits pending connections per address on the node listener', async () => {
  const engine = await Engine.create({ threads: 1, cluster: { nats: NATS_URL, cluster, name: 'gate', secret, preAuth: { perAddress: 1, timeoutMs: 10_000 } } });
  const socks: net.Socket[] = [];
  try {
    const [host, port] = engine.clusterStats()!.address.split(':') as [string, string];
    for (let i = 0; i < 3; i++) {
      const s = net.connect({ host, port: Number(port), localAddress: '127.0.0.2' });
      s.on('error', () => {});
      s.resume();
      socks.push(s);
      await within(once(s, 'connect'), 5000, `socket ${i} connects`);
    }
    // The listener judges sockets in arrival order: the 2nd and 3rd are destroyed.
    await within(Promise.all(socks.slice(1).map(socketClosed)), 5000, 'the refused sockets close');
    const st = engine.clusterStats()!.net;
    assert.is(st.preAuthRefusedPerAddress, 2);
    assert.is(st.preAuthPending, 1);
    assert.not.ok(socks[0]!.closed, 'the admitted one waits for its proof');
  } finally {
    for (const s of socks) s.destroy();
    await engine.close();
  }
});

test('a bad preAuth value is E_CONFIG', async () => {
  await rejectsWith(Engine.create({ threads: 1, cluster: { nats: NATS_URL, cluster, name: 'bad', secret, preAuth: { total: 0 } } }), 'E_CONFIG');
});

test.run();
