// Pre-auth limits: a flood of silent connections from one address does not
// keep another address from connecting. Before the per-address limit, 200
// silent sockets from 127.0.0.2 filled all 64 handshake slots for the whole
// handshake timeout and the listener destroyed an honest client's connection
// on arrival. The counters in stats() name each refusal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { NetTransport, type IncomingStream } from '../engine/net/transport.js';
import { addressKey } from '../engine/net/preauth.js';
import { rejectsWith } from './helpers/assert-error.js';
import { within } from './helpers/settle.js';
import { socketClosed } from './helpers/sockets.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 41 + 3) & 0xff);
const OTHER_SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 7) & 0xff);
const FLOOD = 200;
/** Long enough that the whole flood arrives before the first admitted sockets are cut. */
const PRE_AUTH_MS = 2000;
const WAIT_MS = 5000;

function addr(t: NetTransport): string {
  return `${t.address.host}:${t.address.port}`;
}

/** `n` silent TCP connections to `server` from `localAddress`, each resolved once the kernel connected it. */
async function silentSockets(server: NetTransport, localAddress: string, n: number): Promise<net.Socket[]> {
  const socks: net.Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect({ host: server.address.host, port: server.address.port, localAddress });
    s.on('error', () => {});
    s.resume(); // read (and drop) anything, so the server's FIN is seen
    socks.push(s);
  }
  await within(Promise.all(socks.map((s) => (s.connecting ? once(s, 'connect') : Promise.resolve()))), WAIT_MS, 'the flood connects');
  return socks;
}

test('a flood of silent connections from one address does not block another address', async () => {
  const server = await NetTransport.listen({ secret: SECRET, nodeName: 'server', host: '127.0.0.1', preAuthTimeoutMs: PRE_AUTH_MS });
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'honest', host: '127.0.0.3', localAddress: '127.0.0.3' });
  const intruder = await NetTransport.listen({ secret: OTHER_SECRET, nodeName: 'intruder', host: '127.0.0.4', localAddress: '127.0.0.4' });
  const arrivals: IncomingStream[] = [];
  server.on('stream', (s) => arrivals.push(s));
  let flood: net.Socket[] = [];
  try {
    flood = await silentSockets(server, '127.0.0.2', FLOOD);
    // The listener accepts in arrival order, so it has judged every flood socket before this one.
    const payload = Uint8Array.from({ length: 1 << 20 }, ((r) => () => Math.floor(r() * 256))(prng(SEED)));
    const opened = client.openStream(addr(server), { tag: 'honest' }, payload.length)
      .catch((err: Error) => assert.unreachable(`the honest client could not connect during the flood: ${err.message}`));
    const out = (await within(opened, WAIT_MS, 'the honest client connects during the flood'))!;
    const write = out.write(payload);
    const s = await within((async () => {
      while (arrivals.length === 0) await once(server, 'stream');
      return arrivals[0]!;
    })(), WAIT_MS, 'the stream arrives');
    assert.is(s.peer, 'honest');
    const dest = new Uint8Array(s.totalBytes);
    await within(Promise.all([s.receiveInto(dest), write, out.end()]), WAIT_MS, 'the stream completes');
    assert.ok(bytesEqual(dest, payload), 'the bytes arrived intact');

    let st = server.stats();
    // Normally exactly 8 (the per-address limit); on a machine so loaded that the
    // first admitted sockets were cut before the last ones arrived, a few more
    // took the freed slots. Either way far fewer than the 64 overall slots.
    const admitted = st.preAuthAccepted - 1;
    assert.ok(admitted >= 8 && admitted < 64, `flood sockets admitted: ${admitted}`);
    assert.is(st.preAuthRefusedPerAddress, FLOOD - admitted, 'all but the admitted ones were refused on arrival');
    assert.is(st.preAuthRefusedGlobal, 0, 'the flood never reached the overall limit');

    // A wrong secret is refused and counted as bad auth.
    await rejectsWith(intruder.connect(addr(server)), 'E_AUTH');

    // The admitted flood sockets are cut at the pre-auth deadline, not the 5 s handshake timeout.
    const held = flood.filter((f) => !f.closed);
    await within(Promise.all(held.map(socketClosed)), PRE_AUTH_MS + WAIT_MS, 'the held flood sockets are cut');
    st = server.stats();
    assert.is(st.preAuthTimeouts, admitted);
    assert.is(st.preAuthBadAuth, 1);
    assert.is(st.preAuthPending, 0);
    assert.is(st.connectionsActive, 1, 'the honest connection is still up');
  } finally {
    for (const f of flood) f.destroy();
    await Promise.all([client.close(), intruder.close(), server.close()]);
  }
});

test('the overall limit refuses connections beyond it from many addresses; a quarter of it is kept for known peers', async () => {
  const server = await NetTransport.listen({ secret: SECRET, nodeName: 'small', host: '127.0.0.1', maxPendingPerAddress: 2, maxPendingHandshakes: 4, preAuthTimeoutMs: 10_000 });
  server.preferPeers(() => ['127.0.0.8']);
  const socks: net.Socket[] = [];
  try {
    socks.push(...await silentSockets(server, '127.0.0.5', 2), ...await silentSockets(server, '127.0.0.6', 1));
    // Three of the four slots are open to strangers: the fourth stranger is refused.
    const extra = await silentSockets(server, '127.0.0.7', 1);
    socks.push(...extra);
    await within(socketClosed(extra[0]!), WAIT_MS, 'the fourth stranger is refused');
    assert.is(server.stats().preAuthPending, 3);
    // The kept slot admits a known peer's address, and then nobody.
    socks.push(...await silentSockets(server, '127.0.0.8', 1));
    const late = await silentSockets(server, '127.0.0.8', 1);
    socks.push(...late);
    await within(socketClosed(late[0]!), WAIT_MS, 'the fifth pending connection is refused');
    const st = server.stats();
    assert.is(st.preAuthRefusedGlobal, 2);
    assert.is(st.preAuthRefusedPerAddress, 0);
    assert.is(st.preAuthPending, 4);
  } finally {
    for (const s of socks) s.destroy();
    await server.close();
  }
});

test('addresses are limited as IPv4, unwrapped IPv4-mapped, or IPv6 /64', () => {
  assert.is(addressKey('127.0.0.2'), '127.0.0.2');
  assert.is(addressKey('::ffff:127.0.0.2'), '127.0.0.2');
  assert.is(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.is(addressKey('2001:db8:1:2::9'), '2001:db8:1:2::/64');
  assert.is(addressKey('::1'), '0:0:0:0::/64');
  assert.is(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
});

test('pre-auth options are checked', async () => {
  await rejectsWith(NetTransport.listen({ secret: SECRET, nodeName: 'x', maxPendingPerAddress: 0 }), 'E_CONFIG');
  await rejectsWith(NetTransport.listen({ secret: SECRET, nodeName: 'x', preAuthTimeoutMs: -1 }), 'E_CONFIG');
  await rejectsWith(NetTransport.listen({ secret: SECRET, nodeName: 'x', localAddress: 'not-an-ip' }), 'E_CONFIG');
});

test.run();
