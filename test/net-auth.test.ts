// Networked Buffer authentication: only peers that prove the cluster secret
// get a connection. A wrong secret (either side), silence, garbage and
// out-of-order frames each get that one connection closed; an authenticated
// connection beside them keeps working. Listeners bind 127.0.10.x only (a
// block no other test uses).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CwasiError } from '../engine/errors.js';
import { ClientHandshake, ServerHandshake, computeProof } from '../engine/net/auth.js';
import { FrameParser, decodeControl, encodeMessage } from '../engine/net/frames.js';
import { NetTransport, type IncomingStream, type NetTlsOptions } from '../engine/net/transport.js';
import { FRAME_TYPE, type HandshakeMessage, type NetMessage } from '../engine/net/protocol.js';
import { rejectsWith } from './helpers/assert-error.js';
import { within } from './helpers/settle.js';
import { socketClosed } from './helpers/sockets.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const OTHER_SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 5) & 0xff);
/** Long enough that a connection closed well before it was closed for its input, not by the deadline. */
const PATIENT_MS = 10_000;
const WAIT_MS = 3000;

let server: NetTransport;
const arrivals: IncomingStream[] = [];
const arrived: Array<(s: IncomingStream) => void> = [];

function nextStream(): Promise<IncomingStream> {
  const s = arrivals.shift();
  if (s !== undefined) return Promise.resolve(s);
  return new Promise((resolve) => arrived.push(resolve));
}

function addr(t: NetTransport): string {
  return `${t.address.host}:${t.address.port}`;
}

function randomPayload(n: number, seed: number): Uint8Array {
  const rnd = prng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
}

/** Send `payload` from `client` to the shared server and check it arrives intact from `peerName`. */
async function roundTrip(client: NetTransport, payload: Uint8Array, peerName: string): Promise<void> {
  const out = await client.openStream(addr(server), { tag: payload.length }, payload.length);
  const incoming = nextStream();
  await out.write(payload);
  const s = await within(incoming, WAIT_MS, 'the stream reaches the server');
  assert.is(s.peer, peerName);
  assert.equal(s.meta, { tag: payload.length });
  const dest = new Uint8Array(s.totalBytes);
  await within(s.receiveInto(dest), WAIT_MS, 'receiveInto');
  await within(out.end(), WAIT_MS, 'end');
  assert.ok(bytesEqual(dest, payload));
}

/** A raw TCP socket to the server. */
async function rawSocket(): Promise<net.Socket> {
  const sock = net.connect({ host: server.address.host, port: server.address.port });
  sock.on('error', () => {});
  sock.resume(); // read (and drop) what the server says, so its FIN is seen
  await once(sock, 'connect');
  return sock;
}

/** Resolve when `sock` is closed by the other end. */
async function closedByPeer(sock: net.Socket, what: string): Promise<void> {
  await within(socketClosed(sock), WAIT_MS, what);
}

test.before(async () => {
  server = await NetTransport.listen({ secret: SECRET, nodeName: 'server', host: '127.0.10.1', handshakeTimeoutMs: PATIENT_MS });
  server.on('stream', (s) => {
    const waiter = arrived.shift();
    if (waiter) waiter(s);
    else arrivals.push(s);
  });
});

test.after(async () => {
  await server.close();
});

test('handshake state machines: matching secrets authenticate both sides and learn each other\'s name', () => {
  const c = new ClientHandshake(SECRET, 'alpha');
  const s = new ServerHandshake(SECRET, 'beta');
  const challenge = s.receive(c.hello());
  const proof = c.receive(challenge);
  assert.ok(proof !== null && proof.type === 'proof');
  const welcome = s.receive(proof!);
  assert.is(welcome.type, 'welcome');
  assert.is(c.receive(welcome), null);
  assert.ok(c.done && s.done);
  assert.is(c.peer, 'beta');
  assert.is(s.peer, 'alpha');
});

test('handshake state machines: a proof under another secret is refused, both ways', () => {
  // The server refuses the client.
  const c = new ClientHandshake(OTHER_SECRET, 'alpha');
  const s = new ServerHandshake(SECRET, 'beta');
  const proof = c.receive(s.receive(c.hello()))!;
  assert.throws(() => s.receive(proof), (e: unknown) => e instanceof CwasiError && e.code === 'E_AUTH');
  // The client refuses a server whose WELCOME was made with another secret.
  const c2 = new ClientHandshake(SECRET, 'alpha');
  const hello = c2.hello();
  const challenge = { type: 'challenge' as const, nonce: randomBytes(32), nodeName: 'impostor' };
  c2.receive(challenge);
  const mac = computeProof(OTHER_SECRET, 'server', { clientNonce: hello.nonce, serverNonce: challenge.nonce, clientName: 'alpha', serverName: 'impostor' });
  assert.throws(() => c2.receive({ type: 'welcome', mac }), (e: unknown) => e instanceof CwasiError && e.code === 'E_AUTH');
  // Nor is a client's proof accepted as a server's (role labels differ).
  const c3 = new ClientHandshake(SECRET, 'alpha');
  const h3 = c3.hello();
  const ch3 = { type: 'challenge' as const, nonce: randomBytes(32), nodeName: 'beta' };
  c3.receive(ch3);
  const reflected = computeProof(SECRET, 'client', { clientNonce: h3.nonce, serverNonce: ch3.nonce, clientName: 'alpha', serverName: 'beta' });
  assert.throws(() => c3.receive({ type: 'welcome', mac: reflected }), (e: unknown) => e instanceof CwasiError && e.code === 'E_AUTH');
});

test('handshake state machines: a recorded proof does not authenticate a new session; steps out of order are refused', () => {
  const c = new ClientHandshake(SECRET, 'alpha');
  const s1 = new ServerHandshake(SECRET, 'beta');
  const hello = c.hello();
  const proof = c.receive(s1.receive(hello))!;
  const s2 = new ServerHandshake(SECRET, 'beta');
  s2.receive(hello); // the replayer repeats the HELLO; s2 picks a fresh nonce
  assert.throws(() => s2.receive(proof), (e: unknown) => e instanceof CwasiError && e.code === 'E_AUTH');
  const s3 = new ServerHandshake(SECRET, 'beta');
  assert.throws(() => s3.receive(proof as HandshakeMessage), (e: unknown) => e instanceof CwasiError && e.code === 'E_AUTH');
});

test('a secret shorter than 16 bytes is refused at listen', async () => {
  try {
    await NetTransport.listen({ secret: new Uint8Array(8), nodeName: 'x', host: '127.0.10.1' });
    assert.unreachable('listen accepted a short secret');
  } catch (err) {
    assert.instance(err, CwasiError);
    assert.is((err as CwasiError).code, 'E_CONFIG');
  }
});

test('the right secret is admitted: one connection per peer, reused across calls', async () => {
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'good-client', host: '127.0.10.2' });
  try {
    const [c1, c2] = await Promise.all([client.connect(addr(server)), client.connect(addr(server))]);
    assert.ok(c1 === c2, 'concurrent connects share one dial');
    assert.is(c1.peer, 'server');
    assert.is(c1.role, 'client');
    assert.ok(c1 === (await client.connect(addr(server))), 'later connects reuse it');
    await roundTrip(client, randomPayload(100_000, SEED), 'good-client');
    await roundTrip(client, randomPayload(17, SEED + 1), 'good-client');
    assert.is(client.stats().connectionsOpened, 1);
  } finally {
    await client.close();
  }
});

test('a wrong secret is refused with E_AUTH and counted; nothing else happens', async () => {
  const before = server.stats();
  const intruder = await NetTransport.listen({ secret: OTHER_SECRET, nodeName: 'intruder', host: '127.0.10.2' });
  try {
    await rejectsWith(within(intruder.connect(addr(server)), WAIT_MS, 'connect'), 'E_AUTH');
    await rejectsWith(within(intruder.openStream(addr(server), {}, 10), WAIT_MS, 'openStream'), 'E_AUTH');
  } finally {
    await intruder.close();
  }
  const after = server.stats();
  assert.is(after.authFailures - before.authFailures, 2);
  assert.is(after.streamsAccepted, before.streamsAccepted, 'no stream was accepted');
  assert.is(after.connectionsOpened, before.connectionsOpened, 'no connection was admitted');
});

test('a listener that cannot prove the secret is refused by the dialler', async () => {
  // An impostor that answers every step but cannot make the WELCOME proof.
  const impostor = net.createServer((sock) => {
    sock.on('error', () => {});
    const parser = new FrameParser({
      control: (h, payload) => {
        const m: NetMessage = decodeControl(h, payload);
        if (m.type === 'hello') sock.write(encodeMessage({ type: 'challenge', nonce: randomBytes(32), nodeName: 'impostor' }));
        if (m.type === 'proof') sock.write(encodeMessage({ type: 'welcome', mac: randomBytes(32) }));
      },
      dataStart: () => {},
      data: () => {},
      dataEnd: () => {},
    });
    sock.on('data', (d: Buffer) => parser.push(d));
  });
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.10.2', resolve));
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'careful-client', host: '127.0.10.2' });
  try {
    const port = (impostor.address() as net.AddressInfo).port;
    const err = await rejectsWith(within(client.connect(`127.0.10.2:${port}`), WAIT_MS, 'connect'), 'E_AUTH');
    assert.match(err.message, /impostor/);
    assert.is(client.stats().authFailures, 1);
  } finally {
    await client.close();
    await new Promise<void>((resolve) => impostor.close(() => resolve()));
  }
});

test('a client that sends nothing is disconnected after handshakeTimeoutMs', async () => {
  const strict = await NetTransport.listen({ secret: SECRET, nodeName: 'strict', host: '127.0.10.1', handshakeTimeoutMs: 200 });
  try {
    const sock = net.connect({ host: strict.address.host, port: strict.address.port });
    sock.on('error', () => {});
    sock.resume();
    await once(sock, 'connect');
    await closedByPeer(sock, 'the silent socket is closed');
    const st = strict.stats();
    assert.is(st.handshakeTimeouts, 1);
    assert.is(st.authFailures, 1);
  } finally {
    await strict.close();
  }
});

test('garbage bytes are disconnected at once, without waiting for the deadline', async () => {
  const before = server.stats().authFailures;
  const rnd = prng(SEED + 2);
  const inputs: Array<[string, Uint8Array]> = [
    ['random bytes', Uint8Array.from({ length: 64 }, () => Math.floor(rnd() * 256))],
    ['an HTTP request', new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['a header claiming a 4 GiB frame', (() => {
      const h = encodeMessage({ type: 'end', streamId: 1 });
      h.writeUInt8(FRAME_TYPE.DATA, 4);
      h.writeUInt32LE(0xffffffff, 12);
      return h;
    })()],
    ['HELLO then DATA before authentication', Buffer.concat([
      encodeMessage({ type: 'hello', nonce: randomBytes(32), nodeName: 'x' }),
      encodeMessage({ type: 'data', streamId: 1, bytes: new Uint8Array(4), endOfStream: false }),
    ])],
    ['a PING before authentication', encodeMessage({ type: 'ping', token: new Uint8Array(8) })],
    ['HELLO then a 64 KiB OPEN before authentication', Buffer.concat([
      encodeMessage({ type: 'hello', nonce: randomBytes(32), nodeName: 'x' }),
      encodeMessage({ type: 'open', streamId: 1, totalBytes: 1, meta: { pad: 'x'.repeat(60_000) }, endOfStream: false }),
    ])],
    ['a PROOF before HELLO', encodeMessage({ type: 'proof', mac: new Uint8Array(32) })],
  ];
  for (const [label, bytes] of inputs) {
    const sock = await rawSocket();
    sock.write(bytes);
    await closedByPeer(sock, label);
  }
  assert.is(server.stats().authFailures - before, inputs.length);
});

test('an authenticated connection keeps working while bad ones are refused beside it', async () => {
  const client = await NetTransport.listen({ secret: SECRET, nodeName: 'steady-client', host: '127.0.10.2' });
  const intruder = await NetTransport.listen({ secret: OTHER_SECRET, nodeName: 'intruder', host: '127.0.10.2' });
  try {
    await client.connect(addr(server));
    const payload = randomPayload(3 * 1024 * 1024 + 5, SEED + 3);
    const out = await client.openStream(addr(server), { tag: 'steady' }, payload.length);
    // The consumer claims the stream first (beyond one credit window, writes complete only once it has).
    const s = await within(nextStream(), WAIT_MS, 'stream');
    const dest = new Uint8Array(s.totalBytes);
    const landed = s.receiveInto(dest);
    // Half the stream, then a wave of bad connections, then the rest.
    await out.write(payload.subarray(0, payload.length >> 1));
    const bad: Array<Promise<unknown>> = [];
    for (let i = 0; i < 5; i++) {
      bad.push(rejectsWith(intruder.openStream(addr(server), {}, 1), 'E_AUTH'));
      const sock = await rawSocket();
      sock.write(randomBytes(100));
      bad.push(closedByPeer(sock, 'garbage socket'));
    }
    await out.write(payload.subarray(payload.length >> 1));
    await within(landed, WAIT_MS, 'receiveInto');
    await within(out.end(), WAIT_MS, 'end');
    assert.ok(bytesEqual(dest, payload), 'the stream beside the refusals arrived intact');
    await within(Promise.all(bad), WAIT_MS, 'every bad connection was refused');
    await roundTrip(client, randomPayload(1000, SEED + 4), 'steady-client');
    assert.is(client.stats().connectionsOpened, 1, 'the good connection was never dropped');
  } finally {
    await client.close();
    await intruder.close();
  }
});

test('unauthenticated connections are bounded by maxPendingHandshakes', async () => {
  const small = await NetTransport.listen({ secret: SECRET, nodeName: 'small', host: '127.0.10.1', maxPendingHandshakes: 3, handshakeTimeoutMs: PATIENT_MS });
  const socks: net.Socket[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const s = net.connect({ host: small.address.host, port: small.address.port });
      s.on('error', () => {});
      s.resume();
      await once(s, 'connect');
      socks.push(s);
    }
    const extra = net.connect({ host: small.address.host, port: small.address.port });
    extra.on('error', () => {});
    extra.resume();
    await closedByPeer(extra, 'the fourth pending connection is refused');
    assert.ok(socks.every((s) => !s.closed), 'the first three are still waiting');
    assert.is(small.stats().authFailures, 1);
  } finally {
    for (const s of socks) s.destroy();
    await small.close();
  }
});

/** A CA and one node certificate for 127.0.10.3, made with the openssl CLI; null when it is missing. */
function makeCertificates(): { tls: NetTlsOptions; rogue: NetTlsOptions; cleanup: () => void } | null {
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-net-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.10.3,DNS:tls-server,DNS:tls-client,DNS:tls-intruder\nextendedKeyUsage=serverAuth,clientAuth\n');
    run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=cwasi-test-ca', '-days', '1');
    run('req', ...ec, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=cwasi-node');
    run('x509', '-req', '-in', 'node.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.crt', '-days', '1', '-extfile', 'ext.cnf');
    run('req', '-x509', ...ec, '-keyout', 'rogue.key', '-out', 'rogue.crt', '-subj', '/CN=rogue', '-days', '1', '-addext', 'subjectAltName=IP:127.0.10.3,DNS:rogue');
    const read = (f: string) => readFileSync(join(dir, f));
    return {
      tls: { key: read('node.key'), cert: read('node.crt'), ca: read('ca.crt') },
      rogue: { key: read('rogue.key'), cert: read('rogue.crt'), ca: read('ca.crt') },
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

test('with tls: a peer needs a CA-signed certificate and the secret', async () => {
  const certs = makeCertificates();
  if (certs === null) {
    console.log('  (openssl not available: TLS case skipped)');
    return;
  }
  const tlsServer = await NetTransport.listen({ secret: SECRET, nodeName: 'tls-server', host: '127.0.10.3', tls: certs.tls });
  const tlsClient = await NetTransport.listen({ secret: SECRET, nodeName: 'tls-client', host: '127.0.10.3', tls: certs.tls });
  const rogue = await NetTransport.listen({ secret: SECRET, nodeName: 'rogue', host: '127.0.10.3', tls: certs.rogue });
  const plain = await NetTransport.listen({ secret: SECRET, nodeName: 'plain', host: '127.0.10.3' });
  const tlsIntruder = await NetTransport.listen({ secret: OTHER_SECRET, nodeName: 'tls-intruder', host: '127.0.10.3', tls: certs.tls });
  try {
    const received = new Promise<Uint8Array>((resolve, reject) => {
      tlsServer.once('stream', (s) => {
        const dest = new Uint8Array(s.totalBytes);
        s.receiveInto(dest).then(() => resolve(dest), reject);
      });
    });
    const payload = randomPayload(2 * 1024 * 1024 + 3, SEED + 5);
    const out = await within(tlsClient.openStream(addr(tlsServer), { tls: true }, payload.length), WAIT_MS, 'open over tls');
    await out.write(payload);
    assert.ok(bytesEqual(await within(received, WAIT_MS, 'receive over tls'), payload));
    await within(out.end(), WAIT_MS, 'end over tls');
    assert.is(tlsServer.stats().dataEventConnections, 1, 'TLS connections are read with data events');
    // A certificate from outside the CA, no TLS at all, or TLS without the secret: refused.
    const e1 = await within(rogue.connect(addr(tlsServer)).then(() => null, (e: unknown) => e), WAIT_MS, 'rogue certificate');
    assert.instance(e1, CwasiError);
    const e2 = await within(plain.connect(addr(tlsServer)).then(() => null, (e: unknown) => e), WAIT_MS, 'plain TCP to a TLS listener');
    assert.instance(e2, CwasiError);
    await rejectsWith(within(tlsIntruder.connect(addr(tlsServer)), WAIT_MS, 'TLS with a wrong secret'), 'E_AUTH');
  } finally {
    await Promise.all([tlsServer.close(), tlsClient.close(), rogue.close(), plain.close(), tlsIntruder.close()]);
    certs.cleanup();
  }
});

test.run();
