// `cwasi/workloads`: JavaScript mirrors of the bundled functions' kernels
// (sdk/workloads.ts), bit-for-bit identical, so that tests, the CLI and
// benchmarks can produce inputs and check outputs without running wasm.

const PRIME = 0x9e3779b1;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

function mix(h: number, w: number): number {
  return Math.imul(rotl((h ^ w) >>> 0, 13), PRIME) >>> 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** cwasi-sum32 of `bytes` (what the checksum function computes). */
export function checksum(bytes: Uint8Array): number {
  let a = 0x01000193, b = 0x811c9dc5, c = 0x2545f491, d = 0x6c8e9cf5;
  const len = bytes.length;
  const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const blocks = len & ~15;
  while (p < blocks) {
    a = mix(a, words.getUint32(p, true));
    b = mix(b, words.getUint32(p + 4, true));
    c = mix(c, words.getUint32(p + 8, true));
    d = mix(d, words.getUint32(p + 12, true));
    p += 16;
  }
  const wordEnd = len & ~3;
  while (p < wordEnd) {
    a = mix(a, words.getUint32(p, true));
    p += 4;
  }
  while (p < len) {
    b = mix(b, bytes[p]!);
    p++;
  }
  return fmix((a ^ rotl(b, 7) ^ rotl(c, 15) ^ rotl(d, 23) ^ len) >>> 0);
}

function laneSeed(seed: number, i: number): number {
  const s = fmix((seed + Math.imul(i, 0x9e3779b9) + 1) >>> 0);
  return s === 0 ? 0x6c8e9cf5 : s;
}

function xorshift(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/** The `length` bytes the producer function makes from `seed`. */
export function produce(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  const dv = new DataView(out.buffer);
  let a = laneSeed(seed >>> 0, 0), b = laneSeed(seed >>> 0, 1), c = laneSeed(seed >>> 0, 2), d = laneSeed(seed >>> 0, 3);
  let p = 0;
  const blocks = length & ~15;
  while (p < blocks) {
    a = xorshift(a); b = xorshift(b); c = xorshift(c); d = xorshift(d);
    dv.setUint32(p, a, true);
    dv.setUint32(p + 4, b, true);
    dv.setUint32(p + 8, c, true);
    dv.setUint32(p + 12, d, true);
    p += 16;
  }
  while (p < length) {
    a = xorshift(a);
    out[p] = a & 0xff;
    p++;
  }
  return out;
}

/**
 * cwasi-sum32 over bytes that arrive in pieces (Sum32 of cwasi/sdk/workloads,
 * what the stream-checksum function computes): `update` with each piece in
 * order, then `finish` gives what `checksum` gives for all of them at once.
 * The length mixed in is the total's low 32 bits, as in the guest.
 */
export class Sum32 {
  private a = 0x01000193;
  private b = 0x811c9dc5;
  private c = 0x2545f491;
  private d = 0x6c8e9cf5;
  /** Bytes seen so far. */
  length = 0;
  private readonly tail = new Uint8Array(16);
  private readonly tailView = new DataView(this.tail.buffer);
  private tailLen = 0;

  update(bytes: Uint8Array): void {
    this.length += bytes.length;
    let off = 0;
    if (this.tailLen > 0) {
      const take = Math.min(16 - this.tailLen, bytes.length);
      this.tail.set(bytes.subarray(0, take), this.tailLen);
      this.tailLen += take;
      off = take;
      if (this.tailLen < 16) return;
      this.blocks(this.tailView, 0, 16);
      this.tailLen = 0;
    }
    const whole = (bytes.length - off) & ~15;
    this.blocks(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), off, whole);
    this.tailLen = bytes.length - off - whole;
    if (this.tailLen > 0) this.tail.set(bytes.subarray(off + whole), 0);
  }

  private blocks(dv: DataView, from: number, len: number): void {
    let a = this.a, b = this.b, c = this.c, d = this.d;
    const end = from + len;
    for (let p = from; p < end; p += 16) {
      a = mix(a, dv.getUint32(p, true));
      b = mix(b, dv.getUint32(p + 4, true));
      c = mix(c, dv.getUint32(p + 8, true));
      d = mix(d, dv.getUint32(p + 12, true));
    }
    this.a = a; this.b = b; this.c = c; this.d = d;
  }

  finish(): number {
    let a = this.a, b = this.b;
    let p = 0;
    const words = this.tailLen & ~3;
    for (; p < words; p += 4) a = mix(a, this.tailView.getUint32(p, true));
    for (; p < this.tailLen; p++) b = mix(b, this.tail[p]!);
    return fmix((a ^ rotl(b, 7) ^ rotl(this.c, 15) ^ rotl(this.d, 23) ^ (this.length >>> 0)) >>> 0);
  }
}

/**
 * `produce` in pieces (Producer of cwasi/sdk/workloads, what stream-producer
 * writes): `fill` each piece in order; the bytes are those `produce(total,
 * seed)` gives, provided every piece but the last is a multiple of 16 bytes.
 */
export class Producer {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = laneSeed(seed >>> 0, 0);
    this.b = laneSeed(seed >>> 0, 1);
    this.c = laneSeed(seed >>> 0, 2);
    this.d = laneSeed(seed >>> 0, 3);
  }

  fill(into: Uint8Array): void {
    const dv = new DataView(into.buffer, into.byteOffset, into.byteLength);
    let a = this.a, b = this.b, c = this.c, d = this.d;
    const len = into.length;
    const blocks = len & ~15;
    let p = 0;
    for (; p < blocks; p += 16) {
      a = xorshift(a); b = xorshift(b); c = xorshift(c); d = xorshift(d);
      dv.setUint32(p, a, true);
      dv.setUint32(p + 4, b, true);
      dv.setUint32(p + 8, c, true);
      dv.setUint32(p + 12, d, true);
    }
    for (; p < len; p++) {
      a = xorshift(a);
      into[p] = a & 0xff;
    }
    this.a = a; this.b = b; this.c = c; this.d = d;
  }
}

/**
 * The checksum record (hash, length's low 32 bits) of `length` bytes from
 * `seed`, inverted `inverts` times: what stream-producer → stream-transform
 * (× inverts) → stream-checksum gives, computed here in pieces of 1 MiB, so
 * lengths beyond one buffer (6 GiB) take memory for one piece only.
 */
export function streamedChecksum(length: number, seed: number, inverts = 1): { hash: number; length: number } {
  const piece = new Uint8Array(1 << 20);
  const words = new Uint32Array(piece.buffer);
  const gen = new Producer(seed);
  const sum = new Sum32();
  for (let left = length; left > 0;) {
    const n = Math.min(left, piece.length);
    const view = n === piece.length ? piece : piece.subarray(0, n);
    gen.fill(view);
    if (inverts % 2 === 1) {
      // Inverting every bit, word by word (the byte order does not matter to a bitwise not).
      const w = n >>> 2;
      for (let i = 0; i < w; i++) words[i] = ~words[i]!;
      for (let i = w << 2; i < n; i++) piece[i] = ~piece[i]! & 0xff;
    }
    sum.update(view);
    left -= n;
  }
  return { hash: sum.finish(), length: length % 2 ** 32 };
}

/** The most bytes the bundled producer makes (asm-functions/functions/producer.ts checks the same bound). */
export const PRODUCER_MAX_BYTES = 0x7fff0000;

/**
 * The producer's input: u32 LE length, u32 LE seed (8 bytes); from 4 GiB up
 * a third u32 LE, the length's high word (12 bytes, which stream-producer
 * reads and producer refuses, naming stream-producer).
 */
export function producerSpec(length: number, seed: number): Uint8Array {
  const wide = length > 0xffffffff;
  const spec = new Uint8Array(wide ? 12 : 8);
  const dv = new DataView(spec.buffer);
  dv.setUint32(0, length % 2 ** 32, true);
  dv.setUint32(4, seed >>> 0, true);
  if (wide) dv.setUint32(8, Math.floor(length / 2 ** 32), true);
  return spec;
}

/** The scatter function's input: u32 LE length, u32 LE seed, u32 LE n, target name. */
export function scatterSpec(length: number, seed: number, n: number, target: string): Uint8Array {
  const name = new TextEncoder().encode(target);
  const spec = new Uint8Array(12 + name.length);
  const dv = new DataView(spec.buffer);
  dv.setUint32(0, length, true);
  dv.setUint32(4, seed >>> 0, true);
  dv.setUint32(8, n, true);
  spec.set(name, 12);
  return spec;
}

/** What the transform function outputs for `bytes`: every bit inverted. */
export function transform(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = ~bytes[i]! & 0xff;
  return out;
}

/** Decode the checksum function's 8-byte records: [hash, length] per input. */
export function readChecksums(out: Uint8Array): Array<{ hash: number; length: number }> {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const records: Array<{ hash: number; length: number }> = [];
  for (let i = 0; i + 8 <= out.length; i += 8) records.push({ hash: dv.getUint32(i, true), length: dv.getUint32(i + 4, true) });
  return records;
}

/** Decode the aggregate function's output. */
export function readAggregate(out: Uint8Array): { count: number; totalLength: number; tableHash: number; inputs: Array<{ length: number; hash: number }> } {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const count = dv.getUint32(0, true);
  const inputs: Array<{ length: number; hash: number }> = [];
  for (let i = 0; i < count; i++) inputs.push({ length: dv.getUint32(16 + 8 * i, true), hash: dv.getUint32(20 + 8 * i, true) });
  return { count, totalLength: dv.getUint32(4, true) + dv.getUint32(8, true) * 2 ** 32, tableHash: dv.getUint32(12, true), inputs };
}

/** What the wordcount function reports for `text`. */
export function wordcount(text: string): string {
  const counts = new Map<string, number>();
  let total = 0;
  for (const w of text.split(/[\t\n\v\f\r ]+/)) {
    if (w === '') continue;
    counts.set(w, (counts.get(w) ?? 0) + 1);
    total++;
  }
  const top = [...counts.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).slice(0, 10);
  return `words ${total}\ndistinct ${counts.size}\n${top.map(([w, c]) => `${w} ${c}\n`).join('')}`;
}
