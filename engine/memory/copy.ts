// Byte copies into and out of shared memories at memcpy speed.
//
// `Uint8Array.prototype.set` and `.slice()` copy word by word with relaxed
// atomic accesses when either side is a SharedArrayBuffer (every function
// memory and every ring is one), since the other side may be written
// concurrently: about 4 GB/s on data in cache and half of memcpy's rate on
// data that is not, on Node 20, 22 and 24 alike. `Buffer#fill` with a Buffer
// of the same length is a single C++ memcpy on every supported version, so
// copies from COPY_FILL_BYTES up go through it. A guest writing the source
// while it is copied gets torn bytes either way; nothing here reads a length
// or an offset from shared memory.

/** From this many bytes up a copy goes through Buffer#fill (below it the Buffer views cost more than they save). */
export const COPY_FILL_BYTES = 512;

function bufferOf(v: Uint8Array, offset: number, length: number): Buffer {
  // Buffer.from takes a SharedArrayBuffer too; its typings name ArrayBuffer only.
  return Buffer.from(v.buffer as ArrayBuffer, v.byteOffset + offset, length);
}

/**
 * Copy all of `src` into `dst` at `at`. The caller has bounds-checked both
 * (a range outside `dst` throws a RangeError here rather than writing).
 * Overlapping ranges of one buffer are copied as `set` does.
 */
export function copyInto(dst: Uint8Array, at: number, src: Uint8Array): void {
  const n = src.byteLength;
  if (n < COPY_FILL_BYTES || (dst.buffer === src.buffer && overlaps(dst.byteOffset + at, src.byteOffset, n))) {
    dst.set(src, at);
    return;
  }
  if (at < 0 || at + n > dst.byteLength) throw new RangeError(`copy of ${n} bytes at ${at} is outside a view of ${dst.byteLength}`);
  bufferOf(dst, at, n).fill(bufferOf(src, 0, n));
}

/** A new, unshared Uint8Array holding a copy of `src` (its buffer can be transferred). */
export function copyOut(src: Uint8Array): Uint8Array<ArrayBuffer> {
  const n = src.byteLength;
  if (n < COPY_FILL_BYTES) return src.slice() as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n);
  copyInto(out, 0, src);
  return out;
}

function overlaps(a: number, b: number, n: number): boolean {
  return a < b + n && b < a + n;
}
