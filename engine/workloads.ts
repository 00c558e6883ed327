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

/** The most bytes the bundled producer makes (asm-functions/functions/producer.ts checks the same bound). */
export const PRODUCER_MAX_BYTES = 0x7fff0000;

/** The producer's 8-byte input: u32 LE length, u32 LE seed. */
export function producerSpec(length: number, seed: number): Uint8Array {
  const spec = new Uint8Array(8);
  const dv = new DataView(spec.buffer);
  dv.setUint32(0, length, true);
  dv.setUint32(4, seed >>> 0, true);
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
