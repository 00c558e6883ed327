// The bundled functions' kernels as a plain wasm module (its own memory, no
// cwasi ABI) for the Piscina reference of `cwasi bench batch`: the same code a
// Node user would run on a worker pool without cwasi.
import { checksum as sum32, produce as fill } from "../../sdk/workloads";

/** Start of the scratch region (after static data and the stack). */
// @ts-ignore: decorator
@inline const SCRATCH: usize = 65536;

/** Make room for `bytes` at the scratch region; returns its address. */
export function reserve(bytes: usize): usize {
  let need = <i32>((SCRATCH + bytes + 0xffff) >>> 16);
  let have = memory.size();
  if (need > have && memory.grow(need - have) < 0) unreachable();
  return SCRATCH;
}

export function produce(ptr: usize, len: usize, seed: u32): void {
  fill(ptr, len, seed);
}

/** Every bit inverted, `src` → `dst` (the transform function's loop). */
export function transform(src: usize, dst: usize, len: usize): void {
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

export function checksum(ptr: usize, len: usize): u32 {
  return sum32(ptr, len);
}
