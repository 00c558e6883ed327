// Open-ended Networked Buffer streams (protocol.ts, OPEN-ENDED STREAMS): a
// stream whose length is known only when its sender ends it arrives
// byte-exact chunk by chunk; the sender never passes the credit the
// receiver granted (a stream the receiver holds back stops at its window
// while a later stream on the same connection gets through); an empty one
// ends at 0; an abort on either side reaches the other; malformed OPENs are
// refused by the parser. Listeners bind 127.0.14.x only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { NetTransport, type IncomingStream } from '../engine/net/transport.js';
import { FLAG_END_OF_STREAM, FLAG_OPEN_ENDED, FRAME_TYPE, MAX_TOTAL_BYTES, OPEN, STREAM_INITIAL_WINDOW } from '../engine/net/protocol.js';
import { decodeControl, encodeFrame, encodeMeta } from '../engine/net/frames.js';
import { rejectsWith } from './helpers/assert-error.js';
import { within } from './helpers/settle.js';
import { MiB, SEED, prng } from './helpers/env.js';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 31 + 7) & 0xff);
const WAIT_MS = 30_000;

let sender: NetTransport;
let receiver: NetTransport;
let onStream: (s: IncomingStream) => void = (s) => s.abort('E_INTERNAL', 'no test is expecting a stream');
const nextStream = (): Promise<IncomingStream> => new Promise((resolve) => {
  onStream = resolve;
});

function addr(t: NetTransport): string {
  return `${t.address.host}:${t.address.port}`;
}

test.before(async () => {
  receiver = await NetTransport.listen({ secret: SECRET, nodeName: 'receiver', host: '127.0.14.1', maxStreamBytes: 1 * MiB });
  sender = await NetTransport.listen({ secret: SECRET, nodeName: 'sender', host: '127.0.14.2' });
  receiver.on('stream', (s) => onStream(s));
});

test.after(async () => {
  await sender.close();
  await receiver.close();
});

test('a seeded 48 MiB open-ended stream, longer than maxStreamBytes, arrives byte-exact while the receiver grants one window at a time', async () => {
  const rnd = prng(SEED);
  const window = 1 * MiB;
  const arriving = nextStream();
  const out = await sender.openStream(addr(receiver), { t: 'big' }, null);
  const s = await within(arriving, WAIT_MS, 'the stream opened');
  assert.ok(s.openEnded);
  assert.is(s.totalBytes, MAX_TOTAL_BYTES);
  const got = createHash('sha256');
  let taken = 0;
  let maxAhead = 0;
  const landed = s.receiveChunks((bytes) => {
    got.update(bytes);
    taken += bytes.length;
    // The consumer takes each chunk at once: let the sender run one window ahead.
    s.grant(taken + window);
  });
  s.grant(window);
  const sent = createHash('sha256');
  let written = 0;
  const total = 48 * MiB + 7;
  // Bound: each write takes at least one byte.
  while (written < total) {
    const n = Math.min(total - written, 1 + Math.floor(rnd() * 3 * MiB));
    const chunk = new Uint8Array(n);
    for (let i = 0; i < n; i += 4096) chunk[i] = (written + i) * 7 & 0xff;
    chunk[n - 1] = n & 0xff;
    sent.update(chunk);
    await out.write(chunk);
    written += n;
    maxAhead = Math.max(maxAhead, out.bytesWritten - taken);
  }
  assert.is(out.finalBytes, undefined, 'no length before end()');
  await within(out.end(), WAIT_MS, 'the receiver acknowledged the end');
  assert.is(out.finalBytes, total);
  assert.is(await within(landed, WAIT_MS, 'the receiver saw the end'), total);
  assert.is(got.digest('hex'), sent.digest('hex'));
  assert.is(receiver.stats().bufferedBytes, 0);
});

test('the sender stops at the credit: a held-back stream stays at its window while a later stream on the connection completes', async () => {
  const arriving = nextStream();
  const out = await sender.openStream(addr(receiver), { t: 'held' }, null);
  const s = await within(arriving, WAIT_MS, 'the stream opened');
  let taken = 0;
  const landed = s.receiveChunks((bytes) => {
    taken += bytes.length;
  });
  const big = new Uint8Array(4 * STREAM_INITIAL_WINDOW);
  const writing = out.write(big);
  writing.catch(() => {});
  // A sized stream opened after it on the same connection: its bytes follow the held one's frames.
  const second = nextStream();
  const out2 = await sender.openStream(addr(receiver), { t: 'after' }, 1000);
  const s2 = await within(second, WAIT_MS, 'the second stream opened');
  const dest = new Uint8Array(1000);
  const done2 = s2.receiveInto(dest);
  await out2.write(new Uint8Array(1000).fill(9));
  await within(Promise.all([out2.end(), done2]), WAIT_MS, 'the second stream completed');
  assert.is(taken, STREAM_INITIAL_WINDOW, 'only the initial window arrived');
  // Granting the rest lets it finish.
  s.grant(big.length);
  await within(writing, WAIT_MS, 'the rest went out');
  await within(out.end(), WAIT_MS, 'delivered');
  assert.is(await landed, big.length);
});

test('an empty open-ended stream ends at 0 bytes', async () => {
  const arriving = nextStream();
  const out = await sender.openStream(addr(receiver), { t: 'empty' }, null);
  const s = await within(arriving, WAIT_MS, 'the stream opened');
  const landed = s.receiveChunks(() => assert.unreachable('no bytes'));
  await within(out.end(), WAIT_MS, 'delivered');
  assert.is(await landed, 0);
});

test('an abort on either side reaches the other, with its code', async () => {
  let arriving = nextStream();
  let out = await sender.openStream(addr(receiver), { t: 'abort-send' }, null);
  let s = await within(arriving, WAIT_MS, 'opened');
  const landed = s.receiveChunks(() => {});
  await out.write(new Uint8Array(1000));
  out.abort('E_FUNCTION_FAILED', 'the producer trapped');
  await rejectsWith(landed, 'E_FUNCTION_FAILED');

  arriving = nextStream();
  out = await sender.openStream(addr(receiver), { t: 'abort-receive' }, null);
  s = await within(arriving, WAIT_MS, 'opened');
  const landed2 = s.receiveChunks(() => {});
  landed2.catch(() => {});
  s.abort('E_ABORTED', 'the consumer stopped reading');
  await rejectsWith(out.delivered, 'E_ABORTED');
  await rejectsWith(out.write(new Uint8Array(10)), 'E_ABORTED');
});

test('receiveInto refuses an open-ended stream; the parser refuses an OPEN_ENDED OPEN with a length, with END_OF_STREAM, or the flag on DATA', async () => {
  const arriving = nextStream();
  const out = await sender.openStream(addr(receiver), { t: 'wrong-api' }, null);
  const s = await within(arriving, WAIT_MS, 'opened');
  await rejectsWith(s.receiveInto(new Uint8Array(10)), 'E_INTERNAL');
  s.abort('E_ABORTED', 'done');
  await rejectsWith(out.delivered, 'E_ABORTED');

  const meta = encodeMeta({ transfer: 'x' });
  const payload = new Uint8Array(OPEN.META + meta.length);
  payload.set(meta, OPEN.META);
  const header = (flags: number, type: number = FRAME_TYPE.OPEN) => ({ type: type as typeof FRAME_TYPE.OPEN, flags, streamId: 1, length: payload.length });
  const open = decodeControl(header(FLAG_OPEN_ENDED), payload);
  assert.ok(open.type === 'open' && open.openEnded && open.totalBytes === MAX_TOTAL_BYTES);
  payload[OPEN.TOTAL_LO] = 5;
  assert.throws(() => decodeControl(header(FLAG_OPEN_ENDED), payload), /length must be 0/);
  payload[OPEN.TOTAL_LO] = 0;
  assert.throws(() => decodeControl(header(FLAG_OPEN_ENDED | FLAG_END_OF_STREAM), payload), /length must be 0 and END_OF_STREAM clear/);
  // The flag belongs on OPEN only: a DATA frame carrying it fails the parse of the header.
  const { FrameParser } = await import('../engine/net/frames.js');
  const bad = encodeFrame(FRAME_TYPE.DATA, FLAG_OPEN_ENDED, 1, new Uint8Array(1));
  const parser = new FrameParser({ control() {}, dataStart() {}, data() {}, dataEnd() {} });
  assert.throws(() => parser.push(bad), /OPEN_ENDED on frame type/);
});

test.run();
