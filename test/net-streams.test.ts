// Networked Buffer streams: many concurrent streams multiplexed on one
// connection arrive byte-exact; a 100 MiB stream lands in a view of a shared
// WebAssembly.Memory; a consumer that calls receiveInto late stops the
// connection instead of making either side buffer without bound; the stream
// contract (declared length, aborts both ways, destination size, ownership
// of the destination) holds. Listeners bind 127.0.11.x only (a block no
// other test uses).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import { NetTransport, READ_BUFFER_BYTES, WRITE_HIGH_WATER, type IncomingStream, type OutgoingStream } from '../engine/net/transport.js';
import { FRAME_HEADER_BYTES, MAX_DATA_PAYLOAD, STREAM_INITIAL_WINDOW } from '../engine/net/protocol.js';
import { rejectsWith } from './helpers/assert-error.js';
import { settleAll, within } from './helpers/settle.js';
import { MiB, SEED, bytesEqual, prng } from './helpers/env.js';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 3) & 0xff);
const WAIT_MS = 30_000;
/** What a sender may hold beyond the kernel: the high-water mark, one DATA frame, and a few control frames. */
const SENDER_QUEUE_BOUND = WRITE_HIGH_WATER + MAX_DATA_PAYLOAD + 2 * FRAME_HEADER_BYTES + 4096;

let sender: NetTransport;
let receiver: NetTransport;
let onStream: (s: IncomingStream) => void = (s) => s.abort('E_INTERNAL', 'no test is expecting a stream');

function addr(t: NetTransport): string {
  return `${t.address.host}:${t.address.port}`;
}

/** Deterministic bytes from `seed`, fast enough for 100 MiB (xorshift32 per word). */
function fillPattern(view: Uint8Array, seed: number): void {
  let x = (seed | 1) >>> 0;
  const whole = view.length & ~3;
  const words = new Uint32Array(view.buffer, view.byteOffset, whole >> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = whole; i < view.length; i++) view[i] = (seed + i) & 0xff;
}

function pattern(n: number, seed: number): Uint8Array {
  const view = new Uint8Array((n + 3) & ~3).subarray(0, n);
  fillPattern(view, seed);
  return view;
}

/** Write `payload` in chunks of random sizes (each awaited), then end(). */
async function sendInChunks(out: OutgoingStream, payload: Uint8Array, rnd: () => number): Promise<void> {
  let at = 0;
  // Bound: each write takes at least one byte.
  while (at < payload.length) {
    const n = Math.min(payload.length - at, 1 + Math.floor(rnd() * 1.5 * MiB));
    await out.write(payload.subarray(at, at + n));
    at += n;
  }
  await out.end();
}

test.before(async () => {
  receiver = await NetTransport.listen({ secret: SECRET, nodeName: 'receiver', host: '127.0.11.1', maxStreamBytes: 200 * MiB });
  sender = await NetTransport.listen({ secret: SECRET, nodeName: 'sender', host: '127.0.11.2' });
  receiver.on('stream', (s) => onStream(s));
});

test.after(async () => {
  await sender.close();
  await receiver.close();
});

test('50 concurrent streams of 0..3 MiB multiplexed on one connection all arrive byte-exact', async () => {
  const rnd = prng(SEED);
  const sizes = Array.from({ length: 50 }, (_, i) => (i < 3 ? [0, 1, MAX_DATA_PAYLOAD][i]! : Math.floor(rnd() * 3 * MiB)));
  const payloads = sizes.map((n, i) => pattern(n, SEED + i));
  const received = new Map<number, Promise<Uint8Array>>();
  const allOpened = new Promise<void>((resolve) => {
    onStream = (s) => {
      const dest = new Uint8Array(s.totalBytes);
      received.set(s.meta.i as number, s.receiveInto(dest).then(() => dest));
      if (received.size === sizes.length) resolve();
    };
  });
  const conn = await sender.connect(addr(receiver));
  const before = sender.stats();
  const sends = payloads.map(async (p, i) => {
    const out = await sender.openStream(addr(receiver), { i }, p.length);
    await sendInChunks(out, p, prng(SEED + 100 + i));
  });
  const results = await settleAll(sends, WAIT_MS, 'senders');
  for (const [i, r] of results.entries()) assert.is(r.status, 'fulfilled', `stream ${i}: ${r.status === 'rejected' ? String(r.reason) : ''}`);
  await within(allOpened, WAIT_MS, 'every stream reached the receiver');
  for (const [i, p] of payloads.entries()) {
    const got = await within(received.get(i)!, WAIT_MS, `stream ${i}`);
    assert.ok(bytesEqual(got, p), `stream ${i} (${p.length} bytes) arrived intact`);
  }
  assert.ok((await sender.connect(addr(receiver))) === conn, 'still the same connection');
  const after = sender.stats();
  assert.is(after.connectionsOpened, 1, 'one connection carried every stream');
  assert.is(after.streamsCompleted - before.streamsCompleted, 50);
  assert.ok(after.peakQueuedBytes <= SENDER_QUEUE_BOUND, `sender queue peaked at ${after.peakQueuedBytes}`);
  assert.is(receiver.stats().bufferedBytes, 0);
});

test('a 100 MiB stream from shared memory lands byte-exact in a view of a shared WebAssembly.Memory', async () => {
  const size = 100 * MiB;
  const offset = 65536 + 8; // not page-aligned, inside the memory
  const pages = Math.ceil((offset + size) / 65536);
  const srcMemory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const dstMemory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const src = new Uint8Array(srcMemory.buffer, offset, size);
  fillPattern(src, SEED + 7);
  const dest = new Uint8Array(dstMemory.buffer, offset, size);
  const landed = new Promise<IncomingStream>((resolve, reject) => {
    onStream = (s) => s.receiveInto(dest).then(() => resolve(s), reject);
  });
  const out = await sender.openStream(addr(receiver), { big: true }, size);
  await within(out.write(src), WAIT_MS, 'write 100 MiB');
  await within(out.end(), WAIT_MS, 'end');
  const s = await within(landed, WAIT_MS, 'receiveInto');
  assert.is(s.bytesReceived, size);
  assert.ok(bytesEqual(dest, src), '100 MiB intact');
  // Nothing before or after the destination was touched.
  const whole = new Uint8Array(dstMemory.buffer);
  assert.ok(whole.subarray(0, offset).every((b) => b === 0) && whole.subarray(offset + size).every((b) => b === 0));
  assert.is(receiver.stats().bufferedBytes, 0);
});

test('backpressure: a late consumer holds its stream at one credit window; many unclaimed streams stop the connection; neither side buffers without bound', async () => {
  const maxBuffered = 1 * MiB;
  const slow = await NetTransport.listen({ secret: SECRET, nodeName: 'slow-receiver', host: '127.0.11.3', maxBufferedBytes: maxBuffered });
  const fast = await NetTransport.listen({ secret: SECRET, nodeName: 'fast-sender', host: '127.0.11.2' });
  try {
    // More unclaimed windows than maxBufferedBytes holds: the last-resort pause must engage.
    const count = Math.ceil((2 * maxBuffered) / STREAM_INITIAL_WINDOW);
    const size = 6 * MiB;
    const payloads = Array.from({ length: count }, (_, i) => pattern(size, SEED + 8 + i));
    const arrivals: IncomingStream[] = [];
    const dests = new Map<IncomingStream, Uint8Array>();
    const landed: Array<Promise<void>> = [];
    let consumersHere = false;
    const claim = (s: IncomingStream): void => {
      const dest = new Uint8Array(s.totalBytes);
      dests.set(s, dest);
      landed.push(s.receiveInto(dest));
    };
    const allArrived = new Promise<void>((resolve) => {
      slow.on('stream', (s) => {
        arrivals.push(s);
        if (consumersHere) claim(s);
        if (arrivals.length === count) resolve();
      });
    });
    const paused = once(slow, 'readPaused');
    const outs: OutgoingStream[] = [];
    let writesDone = 0;
    const written: Array<Promise<void>> = [];
    for (const payload of payloads) {
      const out = await fast.openStream(addr(slow), { slow: true }, size);
      outs.push(out);
      const w = out.write(payload).then(() => {
        writesDone++;
      });
      w.catch(() => {}); // awaited below; a failure before then is reported there
      written.push(w);
    }
    await within(paused, WAIT_MS, 'the receiver stops reading');
    assert.is(writesDone, 0, 'no sender got past its credit window');
    const sst = fast.stats();
    assert.ok(sst.bytesSent < count * size, `the senders have not pushed everything (${sst.bytesSent} of ${count * size})`);
    assert.ok(arrivals.length < count, 'streams opened behind the pause wait for it to end');
    for (const s of arrivals) assert.ok(s.bytesReceived <= STREAM_INITIAL_WINDOW, `an unclaimed stream received ${s.bytesReceived}, beyond its window`);
    // Now the consumers turn up: for the streams here, then for each as it arrives.
    consumersHere = true;
    for (const s of arrivals) claim(s);
    await within(allArrived, WAIT_MS, 'stream events');
    await within(Promise.all(landed), WAIT_MS, 'late receiveInto');
    await within(Promise.all(written), WAIT_MS, 'write');
    await within(Promise.all(outs.map((o) => o.end())), WAIT_MS, 'end');
    for (const s of arrivals) {
      const k = outs.findIndex((o) => o.id === s.id);
      assert.ok(bytesEqual(dests.get(s)!, payloads[k]!), `every byte of stream ${s.id} arrived`);
    }
    const st = slow.stats();
    assert.ok(st.readPauses >= 1);
    assert.ok(st.peakBufferedBytes <= maxBuffered + READ_BUFFER_BYTES, `receiver buffered at most ${st.peakBufferedBytes}`);
    const sent = fast.stats();
    assert.ok(sent.peakQueuedBytes <= SENDER_QUEUE_BOUND, `sender queue peaked at ${sent.peakQueuedBytes} (bound ${SENDER_QUEUE_BOUND})`);
  } finally {
    await fast.close();
    await slow.close();
  }
});

test('streams whose consumer is late are buffered, not dropped, and copied in when it arrives', async () => {
  const rnd = prng(SEED + 9);
  const payloads = Array.from({ length: 20 }, (_, i) => pattern(Math.floor(rnd() * 200_000), SEED + 200 + i));
  const streams: IncomingStream[] = [];
  const allArrived = new Promise<void>((resolve) => {
    onStream = (s) => {
      streams.push(s);
      if (streams.length === payloads.length) resolve();
    };
  });
  const outs = await Promise.all(payloads.map((p, i) => sender.openStream(addr(receiver), { i }, p.length)));
  await Promise.all(outs.map((o, i) => o.write(payloads[i]!)));
  await within(allArrived, WAIT_MS, 'stream events');
  // Every stream's bytes were sent; take them in reverse order.
  for (const s of [...streams].reverse()) {
    const dest = new Uint8Array(s.totalBytes);
    await within(s.receiveInto(dest), WAIT_MS, `late receiveInto of ${s.meta.i}`);
    assert.ok(bytesEqual(dest, payloads[s.meta.i as number]!), `stream ${s.meta.i}`);
  }
  await within(Promise.all(outs.map((o) => o.end())), WAIT_MS, 'every end()');
  assert.is(receiver.stats().bufferedBytes, 0);
});

test('zero-length streams and metadata round-trip', async () => {
  const meta = { fn: 'wordcount', edge: 'a→b', n: [1, 2, 3], nested: { ok: true } };
  const got = new Promise<IncomingStream>((resolve) => {
    onStream = resolve;
  });
  const out = await sender.openStream(addr(receiver), meta, 0);
  const s = await within(got, WAIT_MS, 'stream');
  assert.equal(s.meta, meta);
  assert.is(s.totalBytes, 0);
  assert.is(s.peer, 'sender');
  await within(s.receiveInto(new Uint8Array(0)), WAIT_MS, 'empty receive');
  await within(out.end(), WAIT_MS, 'empty end');
});

test('the stream contract: declared length, aborts both ways, destination size', async () => {
  let next: ((s: IncomingStream) => void) | null = null;
  onStream = (s) => next?.(s);
  const arrival = () => new Promise<IncomingStream>((resolve) => {
    next = resolve;
  });
  const peer = addr(receiver);
  const conn = await sender.connect(peer);

  // Writing past the declared length aborts the stream on both sides.
  let incoming = arrival();
  let out = await sender.openStream(peer, {}, 10);
  await rejectsWith(out.write(new Uint8Array(11)), 'E_BAD_DESCRIPTOR', /exceeds its declared 10/);
  await rejectsWith((await incoming).receiveInto(new Uint8Array(10)), 'E_BAD_DESCRIPTOR');
  await rejectsWith(out.end(), 'E_BAD_DESCRIPTOR');

  // end() before every byte was written.
  incoming = arrival();
  out = await sender.openStream(peer, {}, 10);
  await out.write(new Uint8Array(4));
  await rejectsWith(out.end(), 'E_BAD_DESCRIPTOR', /after 4 of 10/);
  await rejectsWith((await incoming).receiveInto(new Uint8Array(10)), 'E_BAD_DESCRIPTOR');

  // A stream larger than the receiver accepts is refused by it.
  out = await sender.openStream(peer, {}, 300 * MiB);
  await rejectsWith(within(out.delivered, WAIT_MS, 'refusal'), 'E_PAYLOAD_TOO_LARGE');
  await rejectsWith(out.write(new Uint8Array(1)), 'E_PAYLOAD_TOO_LARGE');

  // The receiver aborts: the sender learns its code.
  incoming = arrival();
  out = await sender.openStream(peer, {}, 1000);
  (await incoming).abort('E_MEMORY_LIMIT', 'no room for it');
  await rejectsWith(within(out.delivered, WAIT_MS, 'receiver abort'), 'E_MEMORY_LIMIT', /no room/);

  // The sender aborts: the receiver learns its code.
  incoming = arrival();
  out = await sender.openStream(peer, {}, 1000);
  await out.write(new Uint8Array(500));
  out.abort('E_FUNCTION_FAILED', 'producer trapped');
  const s = await incoming;
  await rejectsWith(within(s.receiveInto(new Uint8Array(1000)), WAIT_MS, 'sender abort'), 'E_FUNCTION_FAILED', /producer trapped/);
  await rejectsWith(out.end(), 'E_FUNCTION_FAILED');

  // A destination too small is refused before use; a right-sized one then works.
  incoming = arrival();
  out = await sender.openStream(peer, {}, 1000);
  const payload = pattern(1000, SEED + 10);
  await out.write(payload);
  const small = await incoming;
  await rejectsWith(small.receiveInto(new Uint8Array(999)), 'E_BAD_DESCRIPTOR', /cannot hold/);
  const dest = new Uint8Array(1200);
  await within(small.receiveInto(dest), WAIT_MS, 'receive after a refused destination');
  await within(out.end(), WAIT_MS, 'end');
  assert.ok(bytesEqual(dest.subarray(0, 1000), payload) && dest.subarray(1000).every((b) => b === 0));

  // Bad arguments.
  await rejectsWith(sender.openStream(peer, {}, -1), 'E_CONFIG');
  await rejectsWith(sender.openStream(peer, {}, 1.5), 'E_CONFIG');
  await rejectsWith(sender.openStream(peer, [] as unknown as Record<string, unknown>, 1), 'E_CONFIG');
  await rejectsWith(sender.openStream(peer, { big: 'x'.repeat(70_000) }, 1), 'E_PAYLOAD_TOO_LARGE');
  await rejectsWith(sender.openStream('no-port', {}, 1), 'E_CONFIG');

  // The connection survived all of that.
  assert.ok((await sender.connect(peer)) === conn, 'the same connection throughout');
});

test('refusals at OPEN: no consumer listening, or too many incoming streams open', async () => {
  const deaf = await NetTransport.listen({ secret: SECRET, nodeName: 'deaf', host: '127.0.11.3' });
  const busy = await NetTransport.listen({ secret: SECRET, nodeName: 'busy', host: '127.0.11.3', maxIncomingStreams: 2 });
  const held: IncomingStream[] = [];
  let nextHeld: ((s: IncomingStream) => void) | null = null;
  busy.on('stream', (s) => {
    held.push(s); // taken, but not received until the test says so
    nextHeld?.(s);
  });
  try {
    const unheard = await sender.openStream(addr(deaf), {}, 10);
    await rejectsWith(within(unheard.delivered, WAIT_MS, 'no consumer'), 'E_NET', /no consumer/);
    const outs = await Promise.all([0, 1, 2].map((i) => sender.openStream(addr(busy), { i }, 10)));
    await rejectsWith(within(outs[2]!.delivered, WAIT_MS, 'third stream'), 'E_QUEUE_FULL');
    assert.is(held.length, 2);
    // Once one finishes, there is room again.
    const dest = new Uint8Array(10);
    const landed = held[0]!.receiveInto(dest);
    await outs[0]!.write(pattern(10, 1));
    await within(landed, WAIT_MS, 'first stream');
    const fourth = new Promise<IncomingStream>((resolve) => {
      nextHeld = resolve;
    });
    const again = await sender.openStream(addr(busy), { i: 3 }, 0);
    await within((await within(fourth, WAIT_MS, 'fourth stream')).receiveInto(new Uint8Array(0)), WAIT_MS, 'empty receive');
    await within(again.end(), WAIT_MS, 'room again');
    for (const s of held.slice(1)) s.abort();
  } finally {
    await deaf.close();
    await busy.close();
  }
});

test('a source or destination detached by memory.grow fails its stream, not the connection', async () => {
  const size = 3 * MiB;
  const payload = pattern(size, SEED + 12);
  const peer = addr(receiver);
  const conn = await sender.connect(peer);
  // Destination: a non-shared memory grows after receiveInto, detaching the view.
  const dstMemory = new WebAssembly.Memory({ initial: 64 });
  const arrived = new Promise<IncomingStream>((resolve) => {
    onStream = resolve;
  });
  const out = await sender.openStream(peer, {}, size);
  const s = await within(arrived, WAIT_MS, 'stream');
  const receiving = s.receiveInto(new Uint8Array(dstMemory.buffer, 0, size));
  dstMemory.grow(1);
  out.write(payload).catch(() => {}); // may be refused once the receiver aborts
  await rejectsWith(within(receiving, WAIT_MS, 'detached destination'), 'E_BAD_DESCRIPTOR', /detached/);
  await rejectsWith(within(out.delivered, WAIT_MS, 'sender learns'), 'E_BAD_DESCRIPTOR');
  // Source: the pump sends one 1 MiB frame, waits for 'drain', then finds the rest detached.
  const srcMemory = new WebAssembly.Memory({ initial: 64 });
  const src = new Uint8Array(srcMemory.buffer, 0, size);
  const received = new Promise<{ landed: Promise<void> }>((resolve) => {
    onStream = (t) => resolve({ landed: t.receiveInto(new Uint8Array(size)) });
  });
  const out2 = await sender.openStream(peer, {}, size);
  const writing = out2.write(src);
  srcMemory.grow(1);
  await rejectsWith(within(writing, WAIT_MS, 'detached source'), 'E_BAD_DESCRIPTOR', /detached/);
  await rejectsWith(within((await received).landed, WAIT_MS, 'receiver learns'), 'E_BAD_DESCRIPTOR');
  // The connection carries on.
  const dest = new Uint8Array(size);
  const third = new Promise<void>((resolve, reject) => {
    onStream = (t) => t.receiveInto(dest).then(resolve, reject);
  });
  const out3 = await sender.openStream(peer, {}, size);
  await out3.write(payload);
  await within(third, WAIT_MS, 'next stream');
  assert.ok(bytesEqual(dest, payload));
  assert.ok((await sender.connect(peer)) === conn, 'the same connection throughout');
});

test('a destination is never written after its receiveInto settled (abort mid-stream)', async () => {
  const size = 32 * MiB;
  const payload = pattern(size, SEED + 11);
  const destA = new Uint8Array(size);
  const arrived = new Promise<IncomingStream>((resolve) => {
    onStream = resolve;
  });
  const out = await sender.openStream(addr(receiver), { a: true }, size);
  const s = await within(arrived, WAIT_MS, 'stream');
  const receiving = s.receiveInto(destA);
  await within(out.write(payload.subarray(0, 8 * MiB)), WAIT_MS, 'first part');
  s.abort('E_ABORTED', 'consumer gave up');
  await rejectsWith(within(receiving, WAIT_MS, 'aborted receive'), 'E_ABORTED');
  destA.fill(0xaa); // the consumer reuses its buffer at once
  await rejectsWith(within(out.delivered, WAIT_MS, 'sender learns of the abort'), 'E_ABORTED');
  // The connection carries on; the next stream uses another destination.
  const destB = new Uint8Array(size);
  const second = new Promise<void>((resolve, reject) => {
    onStream = (t) => t.receiveInto(destB).then(resolve, reject);
  });
  const out2 = await sender.openStream(addr(receiver), { b: true }, size);
  await within(out2.write(payload), WAIT_MS, 'second write');
  await within(second, WAIT_MS, 'second receive');
  assert.ok(bytesEqual(destB, payload), 'the next stream is intact');
  assert.ok(destA.every((b) => b === 0xaa), 'nothing landed in the handed-back destination');
});

test.run();
