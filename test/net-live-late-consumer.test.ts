// A live stream between two nodes whose consumer starts late (its node's
// pool was busy): the receiving side (engine/channels/networked-live.ts,
// receiveLive) holds the sender to the protocol's initial window until the
// consumer reads from the ring, then grants by the ring's room. Here the
// connection's reads are exact already (a long frame went before), so the
// initial window lands in the ring by direct socket reads, with no chunk
// handed over: the stream must still go on once the consumer attaches, and
// arrive byte-exact. Two transports in this process; the consumer is the
// main-thread ring reader (LiveRingDrain).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { NetTransport, type IncomingStream } from '../engine/net/transport.js';
import { STREAM_INITIAL_WINDOW } from '../engine/net/protocol.js';
import { Ring } from '../engine/ring/ring.js';
import { LiveRingDrain, LiveRingFeed } from '../engine/channels/live-bridge.js';
import { receiveLive } from '../engine/channels/networked-live.js';
import { until, within } from './helpers/settle.js';
import { MiB, SEED, prng } from './helpers/env.js';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 3) & 0xff);
const WAIT_MS = 30_000;
const RING = 4 * MiB;

let sender: NetTransport;
let receiver: NetTransport;
let onStream: (s: IncomingStream) => void = (s) => s.abort('E_INTERNAL', 'no test is expecting a stream');
const nextStream = (): Promise<IncomingStream> => new Promise((resolve) => {
  onStream = resolve;
});
const addr = (t: NetTransport): string => `${t.address.host}:${t.address.port}`;

test.before(async () => {
  receiver = await NetTransport.listen({ secret: SECRET, nodeName: 'receiver', host: '127.0.15.1' });
  sender = await NetTransport.listen({ secret: SECRET, nodeName: 'sender', host: '127.0.15.2' });
  receiver.on('stream', (s) => onStream(s));
});

test.after(async () => {
  await sender.close();
  await receiver.close();
});

test('a consumer that attaches after the initial window landed in the ring by direct reads still gets the whole stream', async () => {
  // A long fixed-length stream first: the connection then reads headers exactly, and payloads straight into place.
  const warm = new Uint8Array(1 * MiB).fill(5);
  const warmArriving = nextStream();
  const warmOut = await sender.openStream(addr(receiver), { t: 'warm' }, warm.length);
  const warmIn = await within(warmArriving, WAIT_MS, 'the first stream opened');
  const warmLanded = warmIn.receiveInto(new Uint8Array(warm.length));
  await warmOut.write(warm);
  await within(warmLanded, WAIT_MS, 'the first stream arrived');

  const deadline = Date.now() + WAIT_MS;
  const ring = Ring.create(RING);
  const feed = new LiveRingFeed(ring.buffer, deadline);
  const arriving = nextStream();
  const out = await sender.openStream(addr(receiver), { t: 'live' }, null);
  const s = await within(arriving, WAIT_MS, 'the live stream opened');
  const received = receiveLive(s, feed, RING, deadline);

  const rnd = prng(SEED);
  const total = 24 * MiB + 11;
  const sent = createHash('sha256');
  const writing = (async () => {
    // Bound: each write takes at least one byte.
    for (let written = 0; written < total;) {
      const n = Math.min(total - written, 1 + Math.floor(rnd() * MiB));
      const chunk = new Uint8Array(n);
      for (let i = 0; i < n; i += 512) chunk[i] = (written + i) * 13 & 0xff;
      sent.update(chunk);
      await out.write(chunk);
      written += n;
    }
    await out.end();
  })();

  // Nobody reads yet: the sender stops at its initial window, which is all in the ring.
  await until(() => feed.written >= STREAM_INITIAL_WINDOW, WAIT_MS, 'the initial window in the ring');
  assert.is(out.allowed, STREAM_INITIAL_WINDOW, 'no credit before the consumer reads');
  assert.is(receiver.stats().bytesLandedDirect >= STREAM_INITIAL_WINDOW, true, 'the initial window was read straight into the ring');

  // The consumer starts now.
  const drain = new LiveRingDrain(ring.buffer, () => undefined, 0, deadline);
  drain.attach();
  const got = createHash('sha256');
  const length = await within(drain.pump((piece) => {
    got.update(piece);
  }), WAIT_MS, 'the consumer read the stream to its end');
  await within(writing, WAIT_MS, 'the sender ended');
  assert.is(await within(received, WAIT_MS, 'the receiving side ended'), total);
  assert.is(length, total);
  assert.is(got.digest('hex'), sent.digest('hex'));
});

test.run();
