// The Networked Buffer frame parser under arbitrary input: every message
// survives encode → split anywhere → parse; malformed input is refused with
// E_BAD_DESCRIPTOR as soon as its header is read (before any payload is
// buffered), truncated input waits for more bytes, and nothing else is ever
// thrown. Seeded with SEED (CWASI_SEED replays a failure).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { CwasiError } from '../engine/errors.js';
import { FrameParser, decodeControl, encodeFrame, encodeMessage, writeHeader, type FrameHandler } from '../engine/net/frames.js';
import {
  FLAG_END_OF_STREAM,
  FRAME_HEADER_BYTES,
  FRAME_TYPE,
  HEADER,
  MAX_CONTROL_PAYLOAD,
  MAX_DATA_PAYLOAD,
  NET_VERSION,
  PAYLOAD_LIMITS,
  type FrameHeader,
  type FrameType,
  type NetMessage,
} from '../engine/net/protocol.js';
import { SEED, prng } from './helpers/env.js';

const RUNS = 300;
const fcOptions = { seed: SEED, numRuns: RUNS };

/** Parses into messages; DATA pieces are joined per frame. Optionally places DATA bytes "directly" (like a socket read into a destination). */
class Collector implements FrameHandler {
  readonly messages: NetMessage[] = [];
  /** Payload bytes handed out so far (never more than were pushed). */
  dataBytesSeen = 0;
  private pieces: Uint8Array[] = [];
  private dataStream = 0;
  private dataFlags = 0;
  private dataLength = 0;

  control(header: FrameHeader, payload: Uint8Array): void {
    this.messages.push(decodeControl(header, payload));
  }
  dataStart(streamId: number, flags: number, length: number): void {
    this.dataStream = streamId;
    this.dataFlags = flags;
    this.dataLength = length;
    this.pieces = [];
  }
  data(bytes: Uint8Array): void {
    this.dataBytesSeen += bytes.length;
    this.pieces.push(new Uint8Array(bytes)); // the view is only valid now
  }
  direct(bytes: Uint8Array): void {
    this.dataBytesSeen += bytes.length;
    this.pieces.push(new Uint8Array(bytes));
  }
  dataEnd(): void {
    const bytes = new Uint8Array(this.dataLength);
    let at = 0;
    for (const p of this.pieces) {
      bytes.set(p, at);
      at += p.length;
    }
    assert.is(at, this.dataLength, 'DATA pieces add up to the frame length');
    this.messages.push({ type: 'data', streamId: this.dataStream, bytes, endOfStream: (this.dataFlags & FLAG_END_OF_STREAM) !== 0 });
  }
}

/** Plain values for deep comparison (Buffers and Uint8Arrays as arrays). */
function plain(m: NetMessage): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)));
}

const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 255);
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const streamId = fc.integer({ min: 1, max: 0xffffffff });
const jsonValue = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);

const message: fc.Arbitrary<NetMessage> = fc.oneof(
  fc.record({ type: fc.constant('hello' as const), nonce: bytes(32), nodeName: name }),
  fc.record({ type: fc.constant('challenge' as const), nonce: bytes(32), nodeName: name }),
  fc.record({ type: fc.constant('proof' as const), mac: bytes(32) }),
  fc.record({ type: fc.constant('welcome' as const), mac: bytes(32) }),
  fc.record({
    type: fc.constant('open' as const),
    streamId,
    totalBytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 40 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    meta: fc.dictionary(fc.string({ maxLength: 8 }), jsonValue, { maxKeys: 4 }),
    openEnded: fc.boolean(),
  }).map((m) => (m.openEnded
    // An open-ended stream's OPEN carries no length: it decodes as MAX_TOTAL_BYTES.
    ? { ...m, totalBytes: Number.MAX_SAFE_INTEGER, endOfStream: false }
    : { ...m, endOfStream: m.totalBytes === 0 })),
  fc.record({ type: fc.constant('data' as const), streamId, bytes: fc.uint8Array({ maxLength: 3000 }), endOfStream: fc.boolean() }),
  fc.record({ type: fc.constant('end' as const), streamId }),
  fc.record({ type: fc.constant('credit' as const), streamId, limit: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 40 }), fc.constant(Number.MAX_SAFE_INTEGER)) }),
  fc.record({
    type: fc.constant('abort' as const),
    streamId: fc.integer({ min: 0, max: 0xffffffff }),
    code: fc.stringMatching(/^[A-Z_]{1,20}$/),
    message: fc.string({ unit: 'grapheme', maxLength: 100 }),
  }),
  fc.record({ type: fc.constant('ping' as const), token: bytes(8) }),
  fc.record({ type: fc.constant('pong' as const), token: bytes(8) }),
);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Split `wire` at the (sorted, deduplicated) cut points. */
function split(wire: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(wire.subarray(prev, p));
    prev = p;
  }
  out.push(wire.subarray(prev));
  return out;
}

/** Run `fn`; it may only throw a CwasiError E_BAD_DESCRIPTOR. Returns the error or null. */
function badOrNothing(fn: () => void): CwasiError | null {
  try {
    fn();
    return null;
  } catch (err) {
    assert.instance(err, CwasiError, `expected a CwasiError, got ${String(err)}`);
    assert.is((err as CwasiError).code, 'E_BAD_DESCRIPTOR', (err as Error).message);
    return err as CwasiError;
  }
}

function header(type: number, flags: number, stream: number, length: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_BYTES);
  writeHeader(h, 0, type as FrameType, flags, stream, length);
  return h;
}

test('random frames round-trip when split at random points', () => {
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (msgs, cuts) => {
      const wire = concat(msgs.map(encodeMessage));
      const c = new Collector();
      const p = new FrameParser(c);
      for (const chunk of split(wire, cuts)) p.push(chunk);
      assert.equal(c.messages.map(plain), msgs.map(plain));
      assert.is(p.headerBytesMissing, FRAME_HEADER_BYTES, 'parser ends on a frame boundary');
      assert.is(p.frames, msgs.length);
    }),
    fcOptions,
  );
});

test('DATA bytes placed directly by the reader (deliveredDirect) round-trip too', () => {
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 0x7fffffff }), (msgs, seed) => {
      const rnd = prng(seed);
      const wire = concat(msgs.map(encodeMessage));
      const c = new Collector();
      const p = new FrameParser(c);
      let at = 0;
      // Bound: every step consumes at least one byte.
      while (at < wire.length) {
        const remaining = p.dataRemaining;
        if (remaining > 0 && rnd() < 0.7) {
          // A read into the destination: at most the rest of the frame.
          const n = 1 + Math.floor(rnd() * Math.min(remaining, wire.length - at));
          c.direct(wire.subarray(at, at + n));
          p.deliveredDirect(n);
          at += n;
        } else {
          const n = 1 + Math.floor(rnd() * Math.min(64, wire.length - at));
          p.push(wire.subarray(at, at + n));
          at += n;
        }
      }
      assert.equal(c.messages.map(plain), msgs.map(plain));
    }),
    fcOptions,
  );
});

test('truncated frames wait for more bytes, then complete', () => {
  fc.assert(
    fc.property(message, fc.nat(), (msg, cut) => {
      const wire = encodeMessage(msg);
      const at = cut % wire.length; // strictly short of the whole frame
      const c = new Collector();
      const p = new FrameParser(c);
      p.push(wire.subarray(0, at));
      assert.is(c.messages.length, 0, `no message from ${at} of ${wire.length} bytes`);
      p.push(wire.subarray(at));
      assert.is(c.messages.length, 1);
    }),
    fcOptions,
  );
});

test('random garbage: E_BAD_DESCRIPTOR or a wait for more bytes, never another failure', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), fc.array(fc.nat(), { maxLength: 10 }), (garbage, cuts) => {
      const c = new Collector();
      const p = new FrameParser(c);
      let err: CwasiError | null = null;
      for (const chunk of split(garbage, cuts)) {
        err = badOrNothing(() => p.push(chunk));
        if (err !== null) break;
      }
      // Nothing handed out beyond what was pushed.
      assert.ok(c.dataBytesSeen <= garbage.length);
      if (err !== null) {
        // Once failed, it stays failed with the same error.
        assert.is(badOrNothing(() => p.push(new Uint8Array(1))), err);
        assert.is(p.failed, err);
      }
    }),
    fcOptions,
  );
});

test('garbage that starts with a valid magic word is still refused or awaited, never crashes', () => {
  const magic = encodeMessage({ type: 'end', streamId: 1 }).subarray(0, 4);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 12, maxLength: 2048 }), (tail) => {
      const p = new FrameParser(new Collector());
      badOrNothing(() => p.push(concat([magic, tail])));
    }),
    fcOptions,
  );
});

test('mutated valid frames: decoded, refused with E_BAD_DESCRIPTOR, or awaited', () => {
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (msgs, flips) => {
      const wire = new Uint8Array(concat(msgs.map(encodeMessage)));
      for (const [at, xor] of flips) wire[at % wire.length]! ^= xor;
      const p = new FrameParser(new Collector());
      badOrNothing(() => p.push(wire));
    }),
    fcOptions,
  );
});

test('every header field is checked before the payload is read', () => {
  const cases: Array<[string, Uint8Array]> = [];
  const bad = (label: string, h: Uint8Array): void => {
    cases.push([label, h]);
  };
  const ping = header(FRAME_TYPE.PING, 0, 0, 8);
  const magic = new Uint8Array(ping);
  magic[HEADER.MAGIC + 3] ^= 0xff;
  bad('bad magic', magic);
  const version = new Uint8Array(ping);
  version[HEADER.MAGIC] = NET_VERSION + 1;
  bad('unknown version', version);
  bad('unknown type 0', header(0, 0, 0, 0));
  bad('unknown type 5', header(5, 0, 0, 0));
  bad('unknown type 255', header(255, 0, 1, 0));
  bad('unknown flag', header(FRAME_TYPE.DATA, 0x02, 1, 0));
  bad('END_OF_STREAM on PING', header(FRAME_TYPE.PING, FLAG_END_OF_STREAM, 0, 8));
  const reserved = new Uint8Array(ping);
  reserved[HEADER.RESERVED + 1] = 1;
  bad('reserved field set', reserved);
  bad('DATA on stream 0', header(FRAME_TYPE.DATA, 0, 0, 10));
  bad('OPEN on stream 0', header(FRAME_TYPE.OPEN, 0, 0, 10));
  bad('HELLO on a stream', header(FRAME_TYPE.HELLO, 0, 3, 40));
  bad('PING on a stream', header(FRAME_TYPE.PING, 0, 3, 8));
  for (const [typeName, type] of Object.entries(FRAME_TYPE)) {
    const { min, max } = PAYLOAD_LIMITS[type];
    const stream = type === FRAME_TYPE.OPEN || type === FRAME_TYPE.DATA || type === FRAME_TYPE.END || type === FRAME_TYPE.CREDIT ? 1 : 0;
    bad(`${typeName} over its limit`, header(type, 0, stream, max + 1));
    bad(`${typeName} with a 4 GiB length`, header(type, 0, stream, 0xffffffff));
    if (min > 0) bad(`${typeName} under its minimum`, header(type, 0, stream, min - 1));
  }
  for (const [label, h] of cases) {
    const c = new Collector();
    const p = new FrameParser(c);
    const err = badOrNothing(() => p.push(h));
    assert.ok(err !== null, `${label}: refused on the header alone`);
    assert.is(c.messages.length + c.dataBytesSeen, 0, `${label}: nothing delivered`);
  }
  // The limits themselves are what the constants say.
  assert.is(PAYLOAD_LIMITS[FRAME_TYPE.DATA].max, MAX_DATA_PAYLOAD);
  assert.is(PAYLOAD_LIMITS[FRAME_TYPE.OPEN].max, MAX_CONTROL_PAYLOAD);
});

test('a lowered control limit refuses larger control frames on the header (handshake bound), not DATA', () => {
  const p = new FrameParser(new Collector());
  p.controlLimit = PAYLOAD_LIMITS[FRAME_TYPE.HELLO].max;
  assert.ok(badOrNothing(() => p.push(header(FRAME_TYPE.OPEN, 0, 1, 1000))) !== null, 'a 1000-byte OPEN');
  const q = new FrameParser(new Collector());
  q.controlLimit = PAYLOAD_LIMITS[FRAME_TYPE.HELLO].max;
  assert.is(badOrNothing(() => q.push(header(FRAME_TYPE.DATA, 0, 1, 1000))), null, 'DATA is bounded by its own limit');
  assert.is(q.dataRemaining, 1000);
});

test('largest legal frames parse (1 MiB DATA, 64 KiB metadata) when split byte by byte at the edges', () => {
  const data = encodeFrame(FRAME_TYPE.DATA, FLAG_END_OF_STREAM, 7, new Uint8Array(MAX_DATA_PAYLOAD).fill(9));
  const open = encodeMessage({ type: 'open', streamId: 9, totalBytes: 5, meta: { k: 'x'.repeat(64 * 1024 - 10) }, endOfStream: false });
  const wire = concat([open, data]);
  const c = new Collector();
  const p = new FrameParser(c);
  for (let i = 0; i < 40; i++) p.push(wire.subarray(i, i + 1));
  p.push(wire.subarray(40, wire.length - 40));
  for (let i = wire.length - 40; i < wire.length; i++) p.push(wire.subarray(i, i + 1));
  assert.is(c.messages.length, 2);
  assert.is(c.messages[0]!.type, 'open');
  const d = c.messages[1]!;
  assert.ok(d.type === 'data' && d.bytes.length === MAX_DATA_PAYLOAD && d.bytes.every((b) => b === 9) && d.endOfStream);
});

test('payload checks: OPEN metadata and lengths, greeting names, ABORT codes', () => {
  const enc = new TextEncoder();
  const frame = (type: FrameType, flags: number, stream: number, payload: Uint8Array) => concat([header(type, flags, stream, payload.length), payload]);
  const open = (flags: number, lo: number, hi: number, meta: Uint8Array) => {
    const p = new Uint8Array(8 + meta.length);
    new DataView(p.buffer).setUint32(0, lo, true);
    new DataView(p.buffer).setUint32(4, hi, true);
    p.set(meta, 8);
    return frame(FRAME_TYPE.OPEN, flags, 1, p);
  };
  const greeting = (nameLength: number, nameBytes: Uint8Array) => {
    const p = new Uint8Array(33 + nameBytes.length);
    p[32] = nameLength;
    p.set(nameBytes, 33);
    return frame(FRAME_TYPE.HELLO, 0, 0, p);
  };
  const abort = (code: Uint8Array, declared = code.length) => frame(FRAME_TYPE.ABORT, 0, 1, concat([Uint8Array.of(declared), code, enc.encode('why')]));
  const cases: Array<[string, Uint8Array]> = [
    ['OPEN metadata not JSON', open(0, 5, 0, enc.encode('{nope'))],
    ['OPEN metadata an array', open(0, 5, 0, enc.encode('[1,2]'))],
    ['OPEN metadata null', open(0, 5, 0, enc.encode('null'))],
    ['OPEN metadata invalid UTF-8', open(0, 5, 0, Uint8Array.of(0x7b, 0xff, 0x7d))],
    ['OPEN length beyond 2^53', open(0, 0, 0x200000, enc.encode('{}'))],
    ['OPEN of 0 bytes without END_OF_STREAM', open(0, 0, 0, enc.encode('{}'))],
    ['OPEN of 5 bytes with END_OF_STREAM', open(FLAG_END_OF_STREAM, 5, 0, enc.encode('{}'))],
    ['HELLO name length 0', greeting(0, enc.encode('a'))],
    ['HELLO name length too long for the payload', greeting(5, enc.encode('abc'))],
    ['HELLO name not UTF-8', greeting(2, Uint8Array.of(0xc3, 0x28))],
    ['ABORT code length 0', abort(enc.encode('E_NET'), 0)],
    ['ABORT code overruns the payload', abort(enc.encode('E_NET'), 200)],
    ['ABORT code not an identifier', abort(enc.encode('E NET'))],
  ];
  for (const [label, wire] of cases) {
    const p = new FrameParser(new Collector());
    assert.ok(badOrNothing(() => p.push(wire)) !== null, label);
  }
  // And the well-formed neighbours decode.
  const ok = new Collector();
  const p = new FrameParser(ok);
  p.push(open(0, 5, 1, enc.encode('{"a":1}')));
  p.push(greeting(3, enc.encode('héy'.slice(0, 2))));
  p.push(abort(enc.encode('E_NET')));
  assert.equal(ok.messages.map((m) => m.type), ['open', 'hello', 'abort']);
  const first = ok.messages[0]!;
  assert.ok(first.type === 'open' && first.totalBytes === 2 ** 32 + 5);
});

test('encoders refuse what the parser would refuse', () => {
  const throwsCode = (fn: () => unknown, code: string, label: string) => {
    try {
      fn();
      assert.unreachable(label);
    } catch (err) {
      assert.instance(err, CwasiError, label);
      assert.is((err as CwasiError).code, code, label);
    }
  };
  throwsCode(() => encodeMessage({ type: 'open', streamId: 1, totalBytes: 1, meta: { k: 'x'.repeat(70_000) }, endOfStream: false }), 'E_PAYLOAD_TOO_LARGE', 'metadata over 64 KiB');
  throwsCode(() => encodeMessage({ type: 'open', streamId: 0, totalBytes: 1, meta: {}, endOfStream: false }), 'E_BAD_DESCRIPTOR', 'stream id 0');
  throwsCode(() => encodeMessage({ type: 'open', streamId: 1, totalBytes: -1, meta: {}, endOfStream: false }), 'E_BAD_DESCRIPTOR', 'negative length');
  throwsCode(() => encodeMessage({ type: 'hello', nonce: new Uint8Array(32), nodeName: 'x'.repeat(256) }), 'E_CONFIG', 'long node name');
  throwsCode(() => encodeMessage({ type: 'data', streamId: 1, bytes: new Uint8Array(MAX_DATA_PAYLOAD + 1), endOfStream: false }), 'E_BAD_DESCRIPTOR', 'DATA over 1 MiB');
  throwsCode(() => encodeMessage({ type: 'abort', streamId: 1, code: 'bad code', message: '' }), 'E_BAD_DESCRIPTOR', 'abort code with a space');
  // An overlong abort message is cut, not refused, and still parses.
  const long = encodeMessage({ type: 'abort', streamId: 1, code: 'E_NET', message: 'é'.repeat(10_000) });
  const c = new Collector();
  new FrameParser(c).push(long);
  const m = c.messages[0]!;
  assert.ok(m.type === 'abort' && m.code === 'E_NET' && m.message.length > 1000 && !m.message.includes('\ufffd'));
});

test.run();
