// The bundled functions' kernels as a plain wasm module (its own memory, no
// cwasi ABI) for the Piscina reference of `cwasi bench batch`: the same code a
// Node user would run on a worker pool without cwasi.
import { checksum as sum32, invert, produce as fill } from "../../sdk/workloads";

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

/** Every bit inverted, `src` → `dst` (the transform function's kernel). */
export function transform(src: usize, dst: usize, len: usize): void {
  invert(src, dst, len);
}

export function checksum(ptr: usize, len: usize): u32 {
  return sum32(ptr, len);
}
