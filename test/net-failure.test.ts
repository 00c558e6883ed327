// cwasi-test: exclusive (asserts failure detection within 1 s)
// Networked Buffer failures: when a listener closes, a peer process dies, a
// sender goes away, or a connection goes silent (half-open), every stream on
// that connection fails with E_NET on both sides within a bounded time, other
// connections keep working, and the next use of the peer dials again.
// Listeners bind distinct 127.0.12.x addresses (a block no other test uses).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CwasiError } from '../engine/errors.js';
import { ClientHandshake } from '../engine/net/auth.js';
import { FrameParser, decodeControl, encodeMessage } from '../engine/net/frames.js';
import type { HandshakeMessage } from '../engine/net/protocol.js';
import { NetTransport, type IncomingStream } from '../engine/net/transport.js';
import { rejectsWith } from './helpers/assert-error.js';
import { within } from './helpers/settle.js';
import { socketClosed } from './helpers/sockets.js';
import { MiB, SEED, bytesEqual, prng } from './helpers/env.js';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 41 + 7) & 0xff);
/** A stream must fail this soon after its connection's socket closed. */
const FAIL_WITHIN_MS = 1000;
const WAIT_MS = 10_000;

function addr(t: NetTransport): string {
  return `${t.address.host}:${t.address.port}`;
}

function payloadOf(n: number, seed: number): Uint8Array {
  const rnd = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4096) out[i] = Math.floor(rnd() * 256);
  return out;
}

/** Resolves with the next stream `t` receives, already receiving into a fresh buffer. */
function nextStream(t: NetTransport): Promise<{ s: IncomingStream; dest: Uint8Array; landed: Promise<void> }> {
  return new Promise((resolve) => {
    t.once('stream', (s) => {
      const dest = new Uint8Array(s.totalBytes);
      const landed = s.receiveInto(dest);
      landed.catch(() => {});
      resolve({ s, dest, landed });
    });
  });
}

/** Milliseconds from `since` until `p` rejects with E_NET (fails the test otherwise). */
async function msUntilNetError(p: Promise<unknown>, since: () => number, what: string): Promise<number> {
  const e = await rejectsWith(within(p, WAIT_MS, what), 'E_NET');
  assert.instance(e, CwasiError);
  return performance.now() - since();
}

test('the listener closes mid-transfer: both sides fail with E_NET at once; a new listener on the port takes the reconnect', async () => {
  const server = await NetTransport.listen({ secret: SECRET, nodeName: 'server', host: '127.0.12.1' });
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'client', host: '127.0.12.2' });
  const port = server.address.port;
  let server2: NetTransport | null = null;
  try {
    const size = 64 * MiB;
    const payload = payloadOf(size, SEED);
    const incoming = nextStream(server);
    const out = await client.openStream(addr(server), { n: 1 }, size);
    await within(out.write(payload.subarray(0, 16 * MiB)), WAIT_MS, 'first quarter');
    const { landed } = await within(incoming, WAIT_MS, 'stream');
    const rest = out.write(payload.subarray(16 * MiB));
    rest.catch(() => {});
    let closedAt = 0;
    const closing = server.close();
    closedAt = performance.now();
    const receiverMs = await msUntilNetError(landed, () => closedAt, 'receiver');
    const senderMs = await msUntilNetError(out.delivered, () => closedAt, 'sender');
    await rejectsWith(rest, 'E_NET');
    assert.ok(receiverMs <= FAIL_WITHIN_MS, `receiver failed after ${receiverMs.toFixed(0)} ms`);
    assert.ok(senderMs <= FAIL_WITHIN_MS, `sender failed after ${senderMs.toFixed(0)} ms`);
    await within(closing, WAIT_MS, 'close()');
    assert.is(server.stats().connectionsActive, 0);

    // A new transport on the same address; the client dials again on next use.
    server2 = await NetTransport.listen({ secret: SECRET, nodeName: 'server-2', host: '127.0.12.1', port });
    const again = nextStream(server2);
    const small = payloadOf(3 * MiB + 1, SEED + 1);
    const out2 = await within(client.openStream(`127.0.12.1:${port}`, { n: 2 }, small.length), WAIT_MS, 'reconnect');
    await out2.write(small);
    const got = await within(again, WAIT_MS, 'stream after reconnect');
    await within(got.landed, WAIT_MS, 'receive after reconnect');
    await within(out2.end(), WAIT_MS, 'end after reconnect');
    assert.ok(bytesEqual(got.dest, small));
    assert.is(got.s.peer, 'client');
    assert.is(client.stats().connectionsOpened, 2);
  } finally {
    await client.close();
    await server.close();
    await server2?.close();
  }
});

test('a peer process killed mid-transfer: its streams fail with E_NET within 1 s; another connection keeps working', async () => {
  const transportUrl = new URL('../engine/net/transport.js', import.meta.url).href;
  const childCode = `
    const [url, secretHex] = process.argv.slice(1);
    const { NetTransport } = await import(url);
    const t = await NetTransport.listen({ secret: Buffer.from(secretHex, 'hex'), nodeName: 'doomed', host: '127.0.12.3' });
    t.on('stream', (s) => {
      s.receiveInto(new Uint8Array(s.totalBytes)).catch(() => {});
      process.stdout.write('stream\\n');
    });
    process.stdout.write(JSON.stringify({ port: t.address.port }) + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', childCode, transportUrl, Buffer.from(SECRET).toString('hex')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const nextLine = async (what: string): Promise<string> => {
    const r = await within(lines.next(), WAIT_MS, what);
    assert.not.ok(r.done, `${what}: the child ended its output`);
    return r.value as string;
  };
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'survivor', host: '127.0.12.2' });
  const bystander = await NetTransport.listen({ secret: SECRET, nodeName: 'bystander', host: '127.0.12.4' });
  try {
    const { port } = JSON.parse(await nextLine('child listening')) as { port: number };
    // A stream to the bystander, in flight across the death of the other peer.
    const calm = payloadOf(8 * MiB, SEED + 2);
    const calmIncoming = nextStream(bystander);
    const calmOut = await client.openStream(addr(bystander), {}, calm.length);
    await calmOut.write(calm.subarray(0, 4 * MiB));

    const out = await client.openStream(`127.0.12.3:${port}`, {}, 64 * MiB);
    const firstPart = out.write(payloadOf(8 * MiB, SEED + 3));
    firstPart.catch(() => {});
    assert.is(await nextLine('child got the stream'), 'stream');
    child.kill('SIGKILL');
    await within(exited, WAIT_MS, 'child exit');
    const diedAt = performance.now();
    const ms = await msUntilNetError(out.delivered, () => diedAt, 'stream to the dead peer');
    assert.ok(ms <= FAIL_WITHIN_MS, `failed ${ms.toFixed(0)} ms after the peer died`);
    await rejectsWith(out.write(new Uint8Array(1)), 'E_NET');

    await calmOut.write(calm.subarray(4 * MiB));
    const got = await within(calmIncoming, WAIT_MS, 'bystander stream');
    await within(got.landed, WAIT_MS, 'bystander receive');
    await within(calmOut.end(), WAIT_MS, 'bystander end');
    assert.ok(bytesEqual(got.dest, calm), 'the other connection was unaffected');
    assert.is(client.stats().connectionsActive, 1);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await client.close();
    await bystander.close();
  }
});

test('the sender goes away mid-transfer: the receiver fails with E_NET at once', async () => {
  const server = await NetTransport.listen({ secret: SECRET, nodeName: 'server', host: '127.0.12.1' });
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'client', host: '127.0.12.2' });
  try {
    const incoming = nextStream(server);
    const out = await client.openStream(addr(server), {}, 32 * MiB);
    await out.write(payloadOf(4 * MiB, SEED + 4));
    const { landed } = await within(incoming, WAIT_MS, 'stream');
    const closing = client.close();
    const closedAt = performance.now();
    const ms = await msUntilNetError(landed, () => closedAt, 'receiver');
    assert.ok(ms <= FAIL_WITHIN_MS, `receiver failed after ${ms.toFixed(0)} ms`);
    await rejectsWith(out.delivered, 'E_NET');
    await within(closing, WAIT_MS, 'close()');
  } finally {
    await client.close();
    await server.close();
  }
});

test('a connection that goes silent (half-open) is failed by the keepalive on both sides', async () => {
  const keepalive = { keepaliveIntervalMs: 40, keepaliveTimeoutMs: 250 };
  const server = await NetTransport.listen({ secret: SECRET, nodeName: 'server', host: '127.0.12.1', ...keepalive });
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'client', host: '127.0.12.2', ...keepalive });
  // A relay that forwards both ways until told to drop everything, keeping both sockets open.
  let blackhole = false;
  const relaySockets: net.Socket[] = [];
  const relay = net.createServer((a) => {
    const b = net.connect({ host: server.address.host, port: server.address.port });
    for (const s of [a, b]) {
      s.on('error', () => {});
      relaySockets.push(s);
    }
    a.on('data', (d: Buffer) => {
      if (!blackhole) b.write(d);
    });
    b.on('data', (d: Buffer) => {
      if (!blackhole) a.write(d);
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.12.5', resolve));
  try {
    const relayAddr = `127.0.12.5:${(relay.address() as net.AddressInfo).port}`;
    const incoming = nextStream(server);
    const out = await client.openStream(relayAddr, {}, 8 * MiB);
    await out.write(payloadOf(1 * MiB, SEED + 5));
    const { landed } = await within(incoming, WAIT_MS, 'stream through the relay');
    blackhole = true;
    const cut = performance.now();
    const [r1, r2] = await Promise.allSettled([within(landed, WAIT_MS, 'receiver'), within(out.delivered, WAIT_MS, 'sender')]);
    const elapsed = performance.now() - cut;
    for (const [r, side] of [[r1, 'receiver'], [r2, 'sender']] as const) {
      assert.is(r.status, 'rejected', side);
      const e = (r as PromiseRejectedResult).reason as CwasiError;
      assert.is(e.code, 'E_NET', `${side}: ${e.message}`);
      assert.is(e.details?.reason, 'keepalive', `${side}: ${e.message}`);
    }
    // Bound: the timeout plus a few timer ticks (generous for a loaded machine).
    assert.ok(elapsed < keepalive.keepaliveTimeoutMs + 2000, `detected after ${elapsed.toFixed(0)} ms`);
    assert.ok(client.stats().keepaliveTimeouts >= 1 && server.stats().keepaliveTimeouts >= 1);
    assert.is(client.stats().connectionsActive, 0);
  } finally {
    for (const s of relaySockets) s.destroy();
    await new Promise<void>((resolve) => relay.close(() => resolve()));
    await client.close();
    await server.close();
  }
});

test('an idle connection survives many keepalive intervals', async () => {
  const keepalive = { keepaliveIntervalMs: 20, keepaliveTimeoutMs: 100 };
  const server = await NetTransport.listen({ secret: SECRET, nodeName: 'server', host: '127.0.12.1', ...keepalive });
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'client', host: '127.0.12.2', ...keepalive });
  try {
    const conn = await client.connect(addr(server));
    // The behaviour under test is idleness itself: let 10 timeouts' worth of time pass.
    await new Promise((resolve) => setTimeout(resolve, 10 * keepalive.keepaliveTimeoutMs));
    assert.not.ok(conn.closed, 'the idle connection is still up');
    assert.ok((await client.connect(addr(server))) === conn);
    const incoming = nextStream(server);
    const out = await client.openStream(addr(server), {}, 1000);
    await out.write(payloadOf(1000, SEED + 6));
    await within((await incoming).landed, WAIT_MS, 'receive after idling');
    assert.is(client.stats().keepaliveTimeouts + server.stats().keepaliveTimeouts, 0);
  } finally {
    await client.close();
    await server.close();
  }
});

test('dialling where nothing listens fails with E_NET; the next use dials again', async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.12.6', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'client', host: '127.0.12.2' });
  let late: NetTransport | null = null;
  try {
    await rejectsWith(within(client.connect(`127.0.12.6:${port}`), WAIT_MS, 'refused dial'), 'E_NET');
    await rejectsWith(within(client.openStream(`127.0.12.6:${port}`, {}, 1), WAIT_MS, 'refused open'), 'E_NET');
    late = await NetTransport.listen({ secret: SECRET, nodeName: 'late', host: '127.0.12.6', port });
    const conn = await within(client.connect(`127.0.12.6:${port}`), WAIT_MS, 'dial once it listens');
    assert.is(conn.peer, 'late');
  } finally {
    await client.close();
    await late?.close();
  }
});

/** A raw socket that completed the client handshake with `server` (so it can then misbehave). */
async function authenticatedSocket(server: NetTransport, nodeName: string): Promise<net.Socket> {
  const sock = net.connect({ host: server.address.host, port: server.address.port });
  sock.on('error', () => {});
  const hs = new ClientHandshake(SECRET, nodeName);
  const welcomed = new Promise<void>((resolve, reject) => {
    const parser = new FrameParser({
      control: (h, payload) => {
        if (hs.done) return; // after the handshake: ignore whatever the server says
        const reply = hs.receive(decodeControl(h, payload) as HandshakeMessage);
        if (reply !== null) sock.write(encodeMessage(reply));
        if (hs.done) resolve();
      },
      dataStart: () => {},
      data: () => {},
      dataEnd: () => {},
    });
    sock.on('data', (d: Buffer) => {
      try {
        parser.push(d);
      } catch (err) {
        reject(err);
      }
    });
    sock.on('close', () => reject(new Error('closed during the handshake')));
  });
  sock.write(encodeMessage(hs.hello()));
  await within(welcomed, WAIT_MS, 'raw handshake');
  return sock;
}

test('an authenticated peer that breaks the protocol loses its connection; its streams fail with E_NET, others carry on', async () => {
  const server = await NetTransport.listen({ secret: SECRET, nodeName: 'server', host: '127.0.12.1' });
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'client', host: '127.0.12.2' });
  try {
    await client.connect(addr(server));
    const open = (id: number, total: number) => encodeMessage({ type: 'open', streamId: id, totalBytes: total, meta: { id }, endOfStream: total === 0 });
    const data = (id: number, n: number, eos: boolean) => encodeMessage({ type: 'data', streamId: id, bytes: new Uint8Array(n), endOfStream: eos });
    const violations: Array<[string, Buffer[], boolean]> = [
      // [what, frames, a stream is open when the violation comes]
      ['DATA overrunning the declared length', [open(1, 10), data(1, 20, false)], true],
      ['END_OF_STREAM on a frame that does not complete the stream', [open(1, 10), data(1, 4, true)], true],
      ['DATA for a stream never opened', [data(5, 4, false)], false],
      ['OPEN with the listener\'s parity', [open(2, 10)], false],
      ['OPEN reusing an id', [open(3, 10), open(3, 10)], true],
      ['END for a stream the listener never opened', [encodeMessage({ type: 'end', streamId: 2 })], false],
      ['a second HELLO', [encodeMessage({ type: 'hello', nonce: new Uint8Array(32), nodeName: 'again' })], false],
      ['a malformed header', [Buffer.alloc(16, 0xee)], false],
    ];
    for (const [label, frames, streamOpen] of violations) {
      const before = server.stats().protocolErrors;
      const sock = await authenticatedSocket(server, 'rogue');
      sock.resume();
      const incoming = streamOpen ? nextStream(server) : null;
      const closed = socketClosed(sock);
      sock.write(Buffer.concat(frames));
      await within(closed, WAIT_MS, `${label}: connection closed`);
      if (incoming !== null) {
        const { landed } = await within(incoming, WAIT_MS, `${label}: stream`);
        await rejectsWith(within(landed, WAIT_MS, `${label}: stream fails`), 'E_NET');
      }
      assert.is(server.stats().protocolErrors - before, 1, label);
    }
    // The well-behaved client's connection never noticed.
    const incoming = nextStream(server);
    const payload = payloadOf(100_000, SEED + 7);
    const out = await client.openStream(addr(server), {}, payload.length);
    await out.write(payload);
    const got = await within(incoming, WAIT_MS, 'good stream');
    await within(got.landed, WAIT_MS, 'good receive');
    assert.ok(bytesEqual(got.dest, payload));
    assert.is(client.stats().connectionsOpened, 1);
  } finally {
    await client.close();
    await server.close();
  }
});

test('close() is idempotent; a closed transport refuses new work with E_CLOSED', async () => {
  const t = await NetTransport.listen({ secret: SECRET, nodeName: 'closing', host: '127.0.12.1' });
  const first = t.close();
  assert.ok(t.close() === first, 'the same promise');
  await within(first, WAIT_MS, 'close');
  await within(t.close(), WAIT_MS, 'close again');
  await rejectsWith(t.connect('127.0.12.1:1'), 'E_CLOSED');
  await rejectsWith(t.openStream('127.0.12.1:1', {}, 1), 'E_CLOSED');
});

test.run();
