// Deterministic kernels shared by the bundled functions. The engine carries a
// JavaScript mirror of each (engine/workloads.ts) so tests and the CLI can
// check results; the two must stay bit-for-bit identical.

/** Multiplier of the checksum's lane mix (2^32 / golden ratio). */
// @ts-ignore: decorator
@inline const PRIME: u32 = 0x9E3779B1;

// @ts-ignore: decorator
@inline function mix(h: u32, w: u32): u32 {
  return rotl<u32>(h ^ w, 13) * PRIME;
}

function fmix(h: u32): u32 {
  h ^= h >>> 16;
  h *= 0x85EBCA6B;
  h ^= h >>> 13;
  h *= 0xC2B2AE35;
  h ^= h >>> 16;
  return h;
}

/**
 * cwasi-sum32: a 4-lane 32-bit hash that reads every byte once. Not
 * cryptographic; it proves the callee saw the exact bytes the caller sent.
 */
export function checksum(ptr: usize, len: usize): u32 {
  let a: u32 = 0x01000193, b: u32 = 0x811C9DC5, c: u32 = 0x2545F491, d: u32 = 0x6C8E9CF5;
  let p = ptr;
  let blocks = ptr + (len & ~<usize>15);
  while (p < blocks) {
    a = mix(a, load<u32>(p));
    b = mix(b, load<u32>(p, 4));
    c = mix(c, load<u32>(p, 8));
    d = mix(d, load<u32>(p, 12));
    p += 16;
  }
  let words = ptr + (len & ~<usize>3);
  while (p < words) {
    a = mix(a, load<u32>(p));
    p += 4;
  }
  let endp = ptr + len;
  while (p < endp) {
    b = mix(b, <u32>load<u8>(p));
    p++;
  }
  return fmix(a ^ rotl<u32>(b, 7) ^ rotl<u32>(c, 15) ^ rotl<u32>(d, 23) ^ <u32>len);
}

/**
 * cwasi-sum32 over bytes that arrive in pieces: `update` with each piece in
 * order, then `finish` gives what `checksum` gives for all of them at once.
 */
export class Sum32 {
  private a: u32 = 0x01000193;
  private b: u32 = 0x811C9DC5;
  private c: u32 = 0x2545F491;
  private d: u32 = 0x6C8E9CF5;
  /** Bytes seen so far. */
  length: u64 = 0;
  /** The last (length mod 16) bytes, not yet part of a whole block. */
  private readonly tail: ArrayBuffer = new ArrayBuffer(16);
  private tailLen: usize = 0;

  update(ptr: usize, len: usize): void {
    this.length += <u64>len;
    let t = changetype<usize>(this.tail);
    if (this.tailLen > 0) {
      let take = min<usize>(16 - this.tailLen, len);
      memory.copy(t + this.tailLen, ptr, take);
      this.tailLen += take;
      ptr += take;
      len -= take;
      if (this.tailLen < 16) return;
      this.blocks(t, 16);
      this.tailLen = 0;
    }
    let whole = len & ~<usize>15;
    this.blocks(ptr, whole);
    this.tailLen = len - whole;
    if (this.tailLen > 0) memory.copy(t, ptr + whole, this.tailLen);
  }

  private blocks(ptr: usize, len: usize): void {
    let a = this.a, b = this.b, c = this.c, d = this.d;
    let p = ptr;
    let end = ptr + len;
    while (p < end) {
      a = mix(a, load<u32>(p));
      b = mix(b, load<u32>(p, 4));
      c = mix(c, load<u32>(p, 8));
      d = mix(d, load<u32>(p, 12));
      p += 16;
    }
    this.a = a; this.b = b; this.c = c; this.d = d;
  }

  finish(): u32 {
    let a = this.a, b = this.b;
    let p = changetype<usize>(this.tail);
    let words = p + (this.tailLen & ~<usize>3);
    let end = p + this.tailLen;
    while (p < words) {
      a = mix(a, load<u32>(p));
      p += 4;
    }
    while (p < end) {
      b = mix(b, <u32>load<u8>(p));
      p++;
    }
    return fmix(a ^ rotl<u32>(b, 7) ^ rotl<u32>(this.c, 15) ^ rotl<u32>(this.d, 23) ^ <u32>this.length);
  }
}

/** Seed of lane `i` of the producer's generator; never 0. */
function laneSeed(seed: u32, i: u32): u32 {
  let s = fmix(seed + i * 0x9E3779B9 + 1);
  return s == 0 ? 0x6C8E9CF5 : s;
}

// @ts-ignore: decorator
@inline function xorshift(x: u32): u32 {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x;
}

/** Fill `len` bytes at `ptr` from four interleaved xorshift32 generators seeded by `seed`. */
export function produce(ptr: usize, len: usize, seed: u32): void {
  let a = laneSeed(seed, 0), b = laneSeed(seed, 1), c = laneSeed(seed, 2), d = laneSeed(seed, 3);
  let p = ptr;
  let blocks = ptr + (len & ~<usize>15);
  while (p < blocks) {
    a = xorshift(a); b = xorshift(b); c = xorshift(c); d = xorshift(d);
    store<u32>(p, a);
    store<u32>(p, b, 4);
    store<u32>(p, c, 8);
    store<u32>(p, d, 12);
    p += 16;
  }
  let endp = ptr + len;
  while (p < endp) {
    a = xorshift(a);
    store<u8>(p, <u8>a);
    p++;
  }
}

/**
 * `produce` in pieces: `fill` each piece in order; the bytes are the ones
 * `produce(ptr, total, seed)` writes, provided every piece but the last is a
 * multiple of 16 bytes long.
 */
export class Producer {
  private a: u32;
  private b: u32;
  private c: u32;
  private d: u32;

  constructor(seed: u32) {
    this.a = laneSeed(seed, 0);
    this.b = laneSeed(seed, 1);
    this.c = laneSeed(seed, 2);
    this.d = laneSeed(seed, 3);
  }

  fill(ptr: usize, len: usize): void {
    let a = this.a, b = this.b, c = this.c, d = this.d;
    let p = ptr;
    let blocks = ptr + (len & ~<usize>15);
    while (p < blocks) {
      a = xorshift(a); b = xorshift(b); c = xorshift(c); d = xorshift(d);
      store<u32>(p, a);
      store<u32>(p, b, 4);
      store<u32>(p, c, 8);
      store<u32>(p, d, 12);
      p += 16;
    }
    let endp = ptr + len;
    while (p < endp) {
      a = xorshift(a);
      store<u8>(p, <u8>a);
      p++;
    }
    this.a = a; this.b = b; this.c = c; this.d = d;
  }
}

/** Every bit of `src` inverted into `dst`, `len` bytes (the transform functions' kernel). */
export function invert(src: usize, dst: usize, len: usize): void {
  let i: usize = 0;
  let words = len & ~<usize>7;
  while (i < words) {
    store<u64>(dst + i, ~load<u64>(src + i));
    i += 8;
  }
  while (i < len) {
    store<u8>(dst + i, ~load<u8>(src + i));
    i++;
  }
}

/**
 * The wordcount functions' report: `words <total>`, `distinct <n>`, then up
 * to 10 lines `<word> <count>`, most frequent first, ties by word.
 */
export function wordcountReport(counts: Map<string, i32>, total: i32): string {
  let words = counts.keys();
  // insertion of the top 10 by (count desc, word asc)
  let top = new Array<string>();
  for (let j = 0; j < words.length; j++) {
    let w = words[j];
    let c = counts.get(w);
    let pos = top.length;
    while (pos > 0) {
      let prev = top[pos - 1];
      let pc = counts.get(prev);
      if (pc > c || (pc == c && prev < w)) break;
      pos--;
    }
    if (pos < 10) {
      // insert w at pos, dropping the 11th entry
      if (top.length < 10) top.push(w);
      for (let m = top.length - 1; m > pos; m--) top[m] = top[m - 1];
      top[pos] = w;
    }
  }
  let out = "words " + total.toString() + "\ndistinct " + words.length.toString() + "\n";
  for (let j = 0; j < top.length; j++) out += top[j] + " " + counts.get(top[j]).toString() + "\n";
  return out;
}
