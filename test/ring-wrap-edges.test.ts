// The ring's exact edges, in one thread: exactly full and exactly empty, a
// frame header or a descriptor split across the end of the data area, frames
// refused without a trace when they do not fit, bad frames refused with
// E_BAD_DESCRIPTOR, HEAD/TAIL crossing 2^31 (int32 sign) and 2^32 (u32 wrap),
// indices that are corrupt,
// and the checks of Ring.create and the constructor.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DESC_BYTES, FRAME, FRAME_DATA, FRAME_DESC, FRAME_HEADER_BYTES, FRAME_MAGIC, RING, RING_HEADER_BYTES, RING_MAGIC, Ring,
  STATE_ABORTED, STATE_OPEN, type FrameHeader,
} from '../engine/ring/ring.js';
import { SEED, bytesEqual, prng } from './helpers/env.js';
import { indices, setIndices } from './helpers/ring-threads.js';

const CAPACITIES = [64, 128, 256, 1024, 4096, 65536];
const U32 = 2 ** 32;
/** Blocking calls below only ever find their bytes already in the ring; the deadline just bounds a mistake. */
const soon = () => Date.now() + 1000;

function randomBytes(rnd: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rnd() * 256) | 0;
  return b;
}

/** A fresh ring whose stream position (HEAD = TAIL) is `pos`. */
function ringAt(capacity: number, pos: number): Ring {
  const ring = Ring.create(capacity);
  setIndices(ring, pos, pos);
  return ring;
}

function expectHeader(h: FrameHeader | string, want: FrameHeader): void {
  if (typeof h === 'string') assert.unreachable(`readHeader returned ${h}`);
  else assert.equal(h, want);
}

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.is((e as { code?: string }).code, code, (e as Error).message);
    if (message) assert.match((e as Error).message, message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

function rawHeader(word: number, length: number, seq: number, aux: number): Uint8Array {
  const b = new Uint8Array(FRAME_HEADER_BYTES);
  const dv = new DataView(b.buffer);
  dv.setUint32(FRAME.TYPE, word >>> 0, true);
  dv.setUint32(FRAME.LENGTH, length, true);
  dv.setUint32(FRAME.SEQ, seq, true);
  dv.setUint32(FRAME.AUX, aux, true);
  return b;
}

// ── full and empty ───────────────────────────────────────────────────────

test('writing exactly capacity bytes fills the ring; reading exactly capacity empties it', () => {
  const rnd = prng(SEED);
  for (const cap of CAPACITIES) {
    for (const start of [0, 1, cap / 2, cap - 1, U32 - 1, U32 - cap, U32 - cap / 2 - 3, 2 ** 31 - 1, 2 ** 31 - cap / 2 - 3]) {
      const ring = ringAt(cap, start);
      const src = randomBytes(rnd, cap);
      assert.is(ring.tryWrite(src), cap, `cap ${cap} start ${start}: one write of capacity bytes`);
      assert.is(ring.used, cap);
      assert.is(ring.space(), 0);
      assert.is(ring.tryWrite(new Uint8Array(1)), 0, 'full: the next byte is refused');
      assert.is(ring.tryWrite(new Uint8Array(0)), 0);
      assert.is(indices(ring).head, (start + cap) >>> 0, 'HEAD moved by capacity');
      const dst = new Uint8Array(cap + 10).fill(0xee);
      assert.is(ring.tryRead(dst), cap, 'one read takes exactly capacity bytes');
      assert.ok(bytesEqual(dst.subarray(0, cap), src), 'bytes');
      assert.ok(dst.subarray(cap).every((b) => b === 0xee), 'read wrote nothing past the count');
      assert.is(ring.used, 0);
      assert.is(ring.space(), cap);
      assert.is(ring.tryRead(dst), 0, 'empty: nothing to read');
      // A write longer than the ring is cut at capacity.
      assert.is(ring.tryWrite(new Uint8Array(cap + 1)), cap);
      assert.is(ring.tryRead(new Uint8Array(cap - 1)), cap - 1);
      assert.is(ring.used, 1);
    }
  }
});

test('space frees byte by byte as the reader drains a full ring', () => {
  const ring = ringAt(64, U32 - 32);
  const src = randomBytes(prng(SEED + 1), 64);
  assert.is(ring.tryWrite(src), 64);
  const one = new Uint8Array(1);
  for (let i = 0; i < 64; i++) {
    assert.is(ring.tryWrite(one), 0, `full before read ${i}`);
    assert.is(ring.tryRead(one), 1);
    assert.is(one[0], src[i]);
    assert.is(ring.space(), 1);
    assert.is(ring.tryWrite(Uint8Array.of(src[i]!)), 1, 'refill the freed byte');
  }
  const back = new Uint8Array(64);
  assert.is(ring.tryRead(back), 64);
  assert.ok(bytesEqual(back, src), 'the refilled bytes came round in order');
});

// ── frames across the end of the data area ───────────────────────────────

test('a frame header starting at capacity-8 (split across the end) decodes, at every capacity', () => {
  const rnd = prng(SEED + 2);
  for (const cap of CAPACITIES) {
    // Reach position capacity-8 by real traffic (one write and read of filler), not by setting indices.
    const ring = Ring.create(cap);
    assert.is(ring.tryWrite(new Uint8Array(cap - 8)), cap - 8);
    assert.is(ring.tryRead(new Uint8Array(cap - 8)), cap - 8);
    const payload = randomBytes(rnd, Math.min(cap - FRAME_HEADER_BYTES, 40));
    assert.ok(ring.writeFrame(FRAME_DATA, 0xdeadbeef, payload));
    // The header's bytes sit at data[cap-8 .. cap) then data[0 .. 8), little endian.
    const data = new Uint8Array(ring.buffer, RING_HEADER_BYTES, cap);
    const raw = new Uint8Array(FRAME_HEADER_BYTES);
    raw.set(data.subarray(cap - 8), 0);
    raw.set(data.subarray(0, 8), 8);
    const dv = new DataView(raw.buffer);
    assert.is(dv.getUint32(FRAME.TYPE, true), (FRAME_MAGIC | FRAME_DATA) >>> 0, 'TYPE word');
    assert.is(dv.getUint32(FRAME.LENGTH, true), payload.length, 'LENGTH word');
    assert.is(dv.getUint32(FRAME.SEQ, true), 0, 'SEQ word');
    assert.is(dv.getUint32(FRAME.AUX, true), 0xdeadbeef, 'AUX word');
    expectHeader(ring.readHeader(soon()), { type: FRAME_DATA, length: payload.length, seq: 0, aux: 0xdeadbeef });
    const back = new Uint8Array(payload.length);
    assert.equal(ring.read(back, soon()), { read: payload.length, outcome: 'ok' });
    assert.ok(bytesEqual(back, payload));
  }
});

test('frames starting at every offset near the end of the data area (header or payload wraps)', () => {
  const rnd = prng(SEED + 3);
  for (const cap of [64, 256, 4096]) {
    for (let k = 1; k <= FRAME_HEADER_BYTES + 8; k++) {
      const ring = ringAt(cap, cap - k);
      let seq = 0;
      for (const len of [0, 1, 7, cap - FRAME_HEADER_BYTES]) {
        const payload = randomBytes(rnd, len);
        const aux = (rnd() * U32) >>> 0;
        assert.ok(ring.writeFrame(FRAME_DATA, aux, payload), `cap ${cap} k ${k} len ${len} fits an empty ring`);
        assert.is(ring.used, FRAME_HEADER_BYTES + len);
        expectHeader(ring.readHeader(soon()), { type: FRAME_DATA, length: len, seq: seq++, aux });
        const back = new Uint8Array(len);
        assert.is(ring.read(back, soon()).read, len);
        assert.ok(bytesEqual(back, payload), `cap ${cap} k ${k} len ${len} payload`);
      }
    }
  }
});

test('writeFrame fills an empty ring exactly with a capacity-16 payload, and refuses one byte more', () => {
  for (const cap of CAPACITIES) {
    const ring = ringAt(cap, U32 - 5);
    const payload = randomBytes(prng(SEED + cap), cap - FRAME_HEADER_BYTES);
    assert.not.ok(ring.writeFrame(FRAME_DATA, 1, new Uint8Array(cap - FRAME_HEADER_BYTES + 1)), 'never fits');
    assert.ok(ring.writeFrame(FRAME_DATA, 1, payload));
    assert.is(ring.space(), 0);
    expectHeader(ring.readHeader(soon()), { type: FRAME_DATA, length: payload.length, seq: 0, aux: 1 });
    const back = new Uint8Array(payload.length);
    ring.read(back, soon());
    assert.ok(bytesEqual(back, payload));
  }
});

test('writeFrame and tryWriteDescriptor refuse a frame that does not fit, writing nothing and using no sequence number', () => {
  for (const cap of [64, 256, 4096]) {
    const ring = ringAt(cap, cap - 3);
    const filler = new Uint8Array(cap - 40).fill(0x77);
    assert.is(ring.tryWrite(filler), filler.length);
    // 40 bytes free: a frame of 16 + 25 does not fit; nor does a DESC frame once 9 more are used.
    const before = new Uint8Array(ring.buffer).slice();
    assert.not.ok(ring.writeFrame(FRAME_DATA, 7, new Uint8Array(25).fill(1)));
    assert.ok(bytesEqual(new Uint8Array(ring.buffer), before), 'writeFrame refused: no byte of the buffer changed');
    assert.is(ring.tryWrite(new Uint8Array(9)), 9);
    const before2 = new Uint8Array(ring.buffer).slice();
    assert.not.ok(ring.tryWriteDescriptor({ source: 1, generation: 2, ptr: 3, len: 4 }, 4));
    assert.ok(bytesEqual(new Uint8Array(ring.buffer), before2), 'tryWriteDescriptor refused: no byte of the buffer changed');
    // Drain the filler; the next frames are numbered from 0 as if nothing had been refused.
    assert.is(ring.tryRead(new Uint8Array(cap)), filler.length + 9);
    assert.ok(ring.writeFrame(FRAME_DATA, 7, new Uint8Array(25).fill(1)));
    expectHeader(ring.readHeader(soon()), { type: FRAME_DATA, length: 25, seq: 0, aux: 7 });
    ring.read(new Uint8Array(25), soon());
    assert.ok(ring.tryWriteDescriptor({ source: 1, generation: 2, ptr: 3, len: 4 }, 4));
    expectHeader(ring.readHeader(soon()), { type: FRAME_DESC, length: DESC_BYTES, seq: 1, aux: 4 });
    assert.equal(ring.readDescriptor(soon()), { source: 1, generation: 2, ptr: 3, len: 4 });
  }
});

test('tryWriteDescriptor / readDescriptor round trip at every start offset, the header or the descriptor wrapping', () => {
  const rnd = prng(SEED + 4);
  const u32 = () => (rnd() * U32) >>> 0;
  for (const cap of [64, 128, 4096]) {
    for (let k = 1; k <= FRAME_HEADER_BYTES + DESC_BYTES; k++) {
      for (const base of [0, U32 - 2 * cap]) {
        const ring = ringAt(cap, (base + cap - k) >>> 0);
        const ds = [
          { source: 0, generation: 0, ptr: 0, len: 0 },
          { source: 0xffffffff, generation: 0xffffffff, ptr: 0xffffffff, len: 0xffffffff },
          { source: u32(), generation: u32(), ptr: u32(), len: u32() },
        ];
        ds.forEach((d, i) => {
          const total = u32();
          assert.ok(ring.tryWriteDescriptor(d, total), `cap ${cap} k ${k} #${i} fits`);
          assert.is(ring.used, FRAME_HEADER_BYTES + DESC_BYTES);
          expectHeader(ring.readHeader(soon()), { type: FRAME_DESC, length: DESC_BYTES, seq: i, aux: total });
          assert.equal(ring.readDescriptor(soon()), d, `cap ${cap} k ${k} #${i}`);
          assert.is(ring.used, 0);
        });
      }
    }
  }
});

test('a 64-byte ring holds exactly two DESC frames', () => {
  const ring = ringAt(64, 40);
  const d = { source: 9, generation: 8, ptr: 7, len: 6 };
  assert.ok(ring.tryWriteDescriptor(d, 6));
  assert.ok(ring.tryWriteDescriptor(d, 6));
  assert.not.ok(ring.tryWriteDescriptor(d, 6));
  for (let i = 0; i < 2; i++) {
    expectHeader(ring.readHeader(soon()), { type: FRAME_DESC, length: DESC_BYTES, seq: i, aux: 6 });
    assert.equal(ring.readDescriptor(soon()), d);
  }
});

// ── bad frames ───────────────────────────────────────────────────────────

test('a bad magic makes readHeader throw E_BAD_DESCRIPTOR and aborts the ring', () => {
  const words = [0, 0xc5a40001, 0x0001c5a5, (FRAME_MAGIC ^ 0x80000000) | FRAME_DATA, 0xffffffff];
  for (const word of words) {
    for (const pos of [0, 56]) {
      const ring = ringAt(64, pos);
      assert.is(ring.tryWrite(rawHeader(word, 0, 0, 0)), FRAME_HEADER_BYTES);
      expectCode(() => ring.readHeader(soon()), 'E_BAD_DESCRIPTOR', /bad magic/);
      assert.is(ring.state, STATE_ABORTED, `0x${word.toString(16)}: ring aborted`);
      // The other side now sees 'aborted' instead of waiting.
      assert.equal(ring.read(new Uint8Array(1), soon()), { read: 0, outcome: 'aborted' });
    }
  }
  // Any type bits with the right magic pass the ring (the channel checks the type).
  const ring = ringAt(64, 0);
  ring.tryWrite(rawHeader((FRAME_MAGIC | 0xffff) >>> 0, 3, 0, 9));
  expectHeader(ring.readHeader(soon()), { type: 0xffff, length: 3, seq: 0, aux: 9 });
  assert.is(ring.state, STATE_OPEN);
});

test('an out-of-sequence frame makes readHeader throw E_BAD_DESCRIPTOR and aborts the ring', () => {
  // A second producer view starts numbering at 0 again: the consumer expects 1.
  const ring = ringAt(256, 250);
  const producerA = new Ring(ring.buffer);
  const producerB = new Ring(ring.buffer);
  assert.ok(producerA.writeFrame(FRAME_DATA, 0, new Uint8Array(0)));
  assert.ok(producerB.writeFrame(FRAME_DATA, 0, new Uint8Array(0)));
  expectHeader(ring.readHeader(soon()), { type: FRAME_DATA, length: 0, seq: 0, aux: 0 });
  expectCode(() => ring.readHeader(soon()), 'E_BAD_DESCRIPTOR', /out of sequence \(got 0, expected 1\)/);
  assert.is(ring.state, STATE_ABORTED);

  // A first frame numbered 5.
  const fresh = ringAt(64, 60);
  fresh.tryWrite(rawHeader((FRAME_MAGIC | FRAME_DATA) >>> 0, 0, 5, 0));
  expectCode(() => fresh.readHeader(soon()), 'E_BAD_DESCRIPTOR', /got 5, expected 0/);
  assert.is(fresh.state, STATE_ABORTED);
});

// ── the u32 index wrap ───────────────────────────────────────────────────

// The indices live in an Int32Array: past 2^31 they read back negative, past
// 2^32 they wrap to 0. Both crossings with HEAD on the far side of TAIL.
test('used and space are right when HEAD has crossed 2^31 or 2^32 and TAIL has not', () => {
  for (const cap of [64, 4096]) {
    for (const [edge, below] of [[U32, 1], [U32, 10], [U32, cap / 2], [2 ** 31, 1], [2 ** 31, cap / 2]] as const) {
      const ring = Ring.create(cap);
      const tail = edge - below;
      const head = (tail + cap / 2 + 7) >>> 0;
      assert.ok(edge === U32 ? head < tail : (head | 0) < (tail | 0), 'HEAD is on the far side of the edge');
      setIndices(ring, head, tail);
      assert.is(ring.used, cap / 2 + 7);
      assert.is(ring.space(), cap / 2 - 7);
      // The unread bytes are at data[tail & mask ...], wrapping at the end of the data area.
      const data = new Uint8Array(ring.buffer, RING_HEADER_BYTES, cap);
      for (let i = 0; i < cap / 2 + 7; i++) data[(tail + i) & (cap - 1)] = (i * 31 + 1) & 0xff;
      const back = new Uint8Array(cap);
      assert.is(ring.tryRead(back), cap / 2 + 7);
      for (let i = 0; i < cap / 2 + 7; i++) assert.is(back[i], (i * 31 + 1) & 0xff, `byte ${i}`);
      assert.equal(indices(ring), { head, tail: head });
    }
  }
});

test('bytes and frames stream across 2^31 and the 2^32 wrap of HEAD and TAIL for many laps', () => {
  const rnd = prng(SEED + 5);
  for (const [cap, edge] of [[64, U32], [1024, U32], [65536, U32], [64, 2 ** 31], [65536, 2 ** 31]] as const) {
    const start = edge - 3 * cap - 11;
    const ring = ringAt(cap, start);
    let written = 0;
    let read = 0;
    let seq = 0;
    const laps = cap === 65536 ? 12 : 60;
    while (written < laps * cap) {
      // A burst of raw bytes, then a frame, each read straight back.
      const n = 1 + Math.floor(rnd() * (cap - 1));
      const src = randomBytes(rnd, n);
      assert.is(ring.tryWrite(src), n);
      const back = new Uint8Array(n);
      assert.is(ring.tryRead(back), n);
      assert.ok(bytesEqual(back, src), `cap ${cap} at ${written}: bytes`);
      const payload = randomBytes(rnd, Math.floor(rnd() * (cap - FRAME_HEADER_BYTES + 1)));
      assert.ok(ring.writeFrame(FRAME_DATA, n, payload));
      expectHeader(ring.readHeader(soon()), { type: FRAME_DATA, length: payload.length, seq: seq++, aux: n });
      const pb = new Uint8Array(payload.length);
      assert.is(ring.read(pb, soon()).read, payload.length);
      assert.ok(bytesEqual(pb, payload), `cap ${cap} at ${written}: frame payload`);
      written += n + FRAME_HEADER_BYTES + payload.length;
      read = written;
      assert.equal(indices(ring), { head: (start + written) >>> 0, tail: (start + read) >>> 0 });
      assert.is(ring.used, 0);
    }
    assert.ok(start + written > edge, `the stream crossed ${edge}`);
  }
});

// ── corrupt indices ──────────────────────────────────────────────────────

test('tryRead on indices claiming more than capacity bytes aborts and reads nothing', () => {
  const ring = Ring.create(64);
  setIndices(ring, 65, 0);
  const dst = new Uint8Array(100).fill(0xaa);
  assert.is(ring.tryRead(dst), 0);
  assert.ok(dst.every((b) => b === 0xaa));
  assert.is(ring.state, STATE_ABORTED);
  assert.equal(indices(ring), { head: 65, tail: 0 }, 'TAIL untouched');
});

// Regression: tryWrite computed its count as capacity - used without the
// tryRead check, so on such indices it returned -1 and moved HEAD backwards.
test('tryWrite on indices claiming more than capacity bytes writes nothing and never returns a negative count', () => {
  for (const [head, tail] of [[65, 0], [0, 1], [U32 - 1, 100]] as const) {
    const ring = Ring.create(64);
    setIndices(ring, head, tail);
    const n = ring.tryWrite(new Uint8Array(10).fill(1));
    assert.ok(n >= 0, `tryWrite returned ${n} on HEAD ${head} TAIL ${tail}`);
    assert.is(n, 0);
    assert.equal(indices(ring), { head, tail }, 'HEAD untouched');
  }
});

// ── construction ─────────────────────────────────────────────────────────

test('Ring.create rounds capacity up to a power of two and refuses sizes out of range', () => {
  assert.is(Ring.create(64).capacity, 64);
  assert.is(Ring.create(65).capacity, 128);
  assert.is(Ring.create(100).capacity, 128);
  assert.is(Ring.create(4097).capacity, 8192);
  assert.is(Ring.create(65536).capacity, 65536);
  const r = Ring.create(1000);
  assert.is(r.buffer.byteLength, RING_HEADER_BYTES + 1024);
  assert.is(new Int32Array(r.buffer)[RING.MAGIC >> 2], RING_MAGIC);
  assert.is(r.state, STATE_OPEN);
  assert.is(r.used, 0);
  for (const bad of [0, 63, 1.5, Number.NaN, -64, 2 ** 30 + 1]) expectCode(() => Ring.create(bad), 'E_CONFIG');
});

test('the constructor refuses a buffer that is not a ring', () => {
  expectCode(() => new Ring(new SharedArrayBuffer(RING_HEADER_BYTES + 32)), 'E_BAD_DESCRIPTOR', /too small/);
  expectCode(() => new Ring(new SharedArrayBuffer(RING_HEADER_BYTES + 64)), 'E_BAD_DESCRIPTOR', /bad magic/);
  const forged = Ring.create(128);
  const i32 = new Int32Array(forged.buffer);
  i32[RING.CAPACITY >> 2] = 64; // not the buffer's size
  expectCode(() => new Ring(forged.buffer), 'E_BAD_DESCRIPTOR', /does not match/);
  i32[RING.CAPACITY >> 2] = 96; // not a power of two
  expectCode(() => new Ring(forged.buffer), 'E_BAD_DESCRIPTOR', /does not match/);
  i32[RING.CAPACITY >> 2] = 128;
  assert.is(new Ring(forged.buffer).capacity, 128, 'a second view over a good buffer');
});

test.run();
